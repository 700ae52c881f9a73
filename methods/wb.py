"""Weight balancing, stage 1 (Alshammari et al., CVPR 2022; docs/methods.md). Beyond the paper.

Plain CE with a tuned, larger weight decay (5·10⁻³, the reference demo's value) on every parameter.
The second stage (frozen backbone, CB classifier, MaxNorm) is ``wb_stage2``.
"""
from __future__ import annotations

from typing import Any, Dict, List

import torch.nn as nn

from methods import register_method
from methods._base import Method

NAME = "wb"
VERSION = "1"
DESCRIPTION = "Weight balancing stage 1: CE with tuned weight decay 5e-3 (beyond the paper)"
PAPER = "Alshammari et al., Long-Tailed Recognition via Weight Balancing, CVPR 2022"


@register_method
class WeightBalancing(Method):
    DEFAULTS: Dict[str, Any] = {"weight_decay": 5e-3}
    OFFICIAL_CODE: Dict[str, Any] = {}

    def param_groups(self, model: nn.Module, weight_decay: float) -> List[Dict[str, Any]]:
        # the method's own weight decay replaces the recipe's 5e-4: tuning it is the method
        return super().param_groups(model, float(self.options["weight_decay"]))
