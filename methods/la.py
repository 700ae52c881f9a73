"""Logit-adjusted loss, LA (Menon et al., ICLR 2021; docs/methods.md). Beyond the paper.

L = CE(z + τ·log π, y); test with plain z. τ is a training option, so it is tuned like WB's weight
decay: where the split has a held-out validation split (NTU), the workflow trains one run per τ of
``SWEEP["grid"]`` = {0.5, 1, 1.5, 2} and keeps the one whose final model has the best validation
balanced accuracy, recording the grid with its scores (``meta.stage1_selection``;
benchmark.engine.sweep). Elsewhere τ = 1 (then identical to Balanced Softmax).
"""
from __future__ import annotations

from typing import Any, Dict

import torch

from methods import register_method
from methods._base import Method, MethodContext, Targets
from methods._formulas import ce_per_sample, log_prior, mixed_reduce, per_sample_pair, resolve_counts, weights_tensor

NAME = "la"
VERSION = "2"
DESCRIPTION = "Logit-adjusted cross-entropy, CE(z + tau log pi), tau tuned on validation, else 1 (beyond the paper)"
PAPER = "Menon et al., Long-tail Learning via Logit Adjustment, ICLR 2021"
#: the validation sweep of τ (the workflow trains one candidate per value where a validation split exists)
SWEEP = {"option": "tau", "grid": [0.5, 1.0, 1.5, 2.0], "default": 1.0, "id_prefix": "tau"}


@register_method
class LogitAdjustedLoss(Method):
    DEFAULTS: Dict[str, Any] = {"tau": 1.0, "counts_source": "actual"}
    OFFICIAL_CODE: Dict[str, Any] = {}

    def __init__(self, ctx: MethodContext, **options: Any):
        super().__init__(ctx, **options)
        self.counts = resolve_counts(ctx, self.options["counts_source"], method=self.NAME, clamp_min=1)
        self.offset = float(self.options["tau"]) * log_prior(self.counts)

    def loss(self, logits: torch.Tensor, targets: Targets, step: int) -> torch.Tensor:
        la, lb = per_sample_pair(ce_per_sample, logits + weights_tensor(self.offset, logits), targets)
        return mixed_reduce(la, lb, targets)
