"""Weight balancing, stage 1 (Alshammari et al., CVPR 2022; docs/methods.md). Beyond the paper.

Plain CE with a larger weight decay on every parameter, chosen on held-out data. Where the split
has a held-out validation split (NTU-LT: 20 unused training samples per class), the workflow trains
one stage-1 run per value of the grid {5e-4, 1e-3, 2e-3, 5e-3} under its own id (``wb_wd0.0005``, …)
and a selection step copies the run whose final model has the highest validation balanced accuracy
(ties: the smaller value) into the ``wb`` folder, recording the grid with its scores, the chosen
value and the criterion in ``meta.stage1_selection``; ``wb_stage2`` starts from that model. The
choice is made per stream and seed. Elsewhere (NW-UCLA, Kinetics, synthetic data) one run uses the
fixed default 5·10⁻³ (the reference demo's value), recorded as "no validation split: fixed
default". A ``weight_decay`` set in the config is kept and not swept. The second stage (frozen
backbone, CB classifier, MaxNorm) is ``wb_stage2``.
"""
from __future__ import annotations

from typing import Any, Dict, List

import torch.nn as nn

from methods import register_method
from methods._base import Method

NAME = "wb"
VERSION = "1"
DESCRIPTION = "Weight balancing stage 1: CE with a large weight decay, swept on validation where it exists (beyond the paper)"
PAPER = "Alshammari et al., Long-Tailed Recognition via Weight Balancing, CVPR 2022"


#: the hyper-parameter sweep the workflow runs where a held-out validation split exists (a literal:
#: the workflow reads it without importing torch). One stage-1 run per value, ids ``<id>_wd<value>``;
#: the run with the best validation balanced accuracy of its final model becomes the ``wb`` row.
SWEEP = {"option": "weight_decay", "grid": [0.0005, 0.001, 0.002, 0.005], "default": 0.005, "id_prefix": "wd"}
WD_GRID = tuple(SWEEP["grid"])
DEFAULT_WD = SWEEP["default"]


@register_method
class WeightBalancing(Method):
    DEFAULTS: Dict[str, Any] = {"weight_decay": DEFAULT_WD}
    OFFICIAL_CODE: Dict[str, Any] = {}

    def param_groups(self, model: nn.Module, weight_decay: float) -> List[Dict[str, Any]]:
        # the method's own weight decay replaces the recipe's 5e-4: tuning it is the method
        return super().param_groups(model, float(self.options["weight_decay"]))
