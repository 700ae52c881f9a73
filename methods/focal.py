"""Focal loss, softmax form (Lin et al., ICCV 2017; docs/methods.md).

Paper mode: −(1 − p_y)^γ·log p_y from the first iteration, γ = 2, batch mean. official_code: plain CE
until the F8 switch (runner epoch 19), focal afterwards.
"""
from __future__ import annotations

from typing import Any, Dict

import torch

from methods import register_method
from methods._base import Method, MethodContext, Targets
from methods._formulas import (DEFERRED_DEFAULTS, ce_per_sample, focal_per_sample, mixed_reduce,
                               per_sample_pair, stage2_start)

NAME = "focal"
VERSION = "1"
DESCRIPTION = "Softmax focal loss (gamma 2), no class weights"
PAPER = "Lin et al., Focal Loss for Dense Object Detection, ICCV 2017"


@register_method
class Focal(Method):
    DEFAULTS: Dict[str, Any] = dict(DEFERRED_DEFAULTS, gamma=2.0, reduction="batch_mean")
    OFFICIAL_CODE: Dict[str, Any] = {"schedule": "deferred"}

    def __init__(self, ctx: MethodContext, **options: Any):
        super().__init__(ctx, **options)
        stage2_start(ctx, self.options, self.NAME)    # validate now, not at the first step

    def loss(self, logits: torch.Tensor, targets: Targets, step: int) -> torch.Tensor:
        if step < stage2_start(self.ctx, self.options, self.NAME):
            la, lb = per_sample_pair(ce_per_sample, logits, targets)
        else:
            la, lb = per_sample_pair(focal_per_sample, logits, targets, gamma=float(self.options["gamma"]))
        return mixed_reduce(la, lb, targets, None, self.options["reduction"])
