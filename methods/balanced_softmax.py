"""Balanced Softmax (Ren et al., NeurIPS 2020; docs/methods.md).

L = CE(z + log n, y) with counts clamped to ≥ 1; test with plain z. Identical in official_code mode
except that the counts follow F7 (formula counts).
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np
import torch

from methods import register_method
from methods._base import Method, MethodContext, Targets
from methods._formulas import ce_per_sample, mixed_reduce, per_sample_pair, resolve_counts, weights_tensor

NAME = "balanced_softmax"
VERSION = "1"
DESCRIPTION = "Balanced Softmax: cross-entropy on logits + log class counts"
PAPER = "Ren et al., Balanced Meta-Softmax for Long-Tailed Visual Recognition, NeurIPS 2020"


@register_method
class BalancedSoftmax(Method):
    DEFAULTS: Dict[str, Any] = {"counts_source": "actual"}
    OFFICIAL_CODE: Dict[str, Any] = {"counts_source": "formula"}

    def __init__(self, ctx: MethodContext, **options: Any):
        super().__init__(ctx, **options)
        self.counts = resolve_counts(ctx, self.options["counts_source"], method=self.NAME, clamp_min=1)
        self.offset = np.log(self.counts.astype(np.float64))

    def loss(self, logits: torch.Tensor, targets: Targets, step: int) -> torch.Tensor:
        z = logits + weights_tensor(self.offset, logits)
        la, lb = per_sample_pair(ce_per_sample, z, targets)
        return mixed_reduce(la, lb, targets)
