"""GumbelCE / Gumbel optimised loss, classification part (Alexandridis et al., ECCV 2022; docs/methods.md).

η(z) = exp(−exp(−clamp(z, −4, 10))); L = (1/B)·Σ_i Σ_c BCE(η_ic, 1[c = y_i]) clamped to [0, 20]; the
head bias starts at −ln ln C so that η ≈ 1/C. Test probabilities η/Σ η. official_code: CE for runner
epochs < 20, then CE with η(ẑ) used as logits, clamped to [0, 20]; plain linear head; softmax(z) at test.
"""
from __future__ import annotations

from typing import Any, Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

from methods import register_method
from methods._base import LinearHead, Method, MethodContext, Targets
from methods._formulas import (ce_per_sample, check_choice, epoch_switch, gumbel_bce_per_sample, gumbel_bias_init,
                               gumbel_eta, mixed_reduce)

NAME = "gumbel_ce"
VERSION = "1"
DESCRIPTION = "Gumbel optimised loss: per-class binary CE on the Gumbel CDF of the logits"
PAPER = "Alexandridis et al., Long-tailed Instance Segmentation using Gumbel Optimized Loss, ECCV 2022"


@register_method
class GumbelCE(Method):
    DEFAULTS: Dict[str, Any] = {"form": "original", "reduction": "per_sample", "bias_init": "gumbel",
                                "switch_epoch": 20, "loss_clamp": 20.0}
    OFFICIAL_CODE: Dict[str, Any] = {"form": "official", "bias_init": "zero"}

    def __init__(self, ctx: MethodContext, **options: Any):
        super().__init__(ctx, **options)
        o = self.options
        check_choice(self.NAME, "form", o["form"], ("original", "official"))
        check_choice(self.NAME, "reduction", o["reduction"], ("per_sample", "per_element"))
        check_choice(self.NAME, "bias_init", o["bias_init"], ("gumbel", "zero"))
        self.t_s = epoch_switch(ctx, o["switch_epoch"]) if o["form"] == "official" else 0

    def build_head(self, in_dim: int) -> nn.Module:
        head = LinearHead(in_dim, self.ctx.num_classes)
        if self.options["bias_init"] == "gumbel":
            nn.init.constant_(head.fc.bias, gumbel_bias_init(self.ctx.num_classes))
        return head

    def loss(self, logits: torch.Tensor, targets: Targets, step: int) -> torch.Tensor:
        hi = float(self.options["loss_clamp"])
        if self.options["form"] == "original":
            per_el = self.options["reduction"] == "per_element"
            la = gumbel_bce_per_sample(logits, targets.y_a, per_el)
            lb = gumbel_bce_per_sample(logits, targets.y_b, per_el)
            return mixed_reduce(la, lb, targets).clamp(0.0, hi)
        if step < self.t_s:
            return mixed_reduce(ce_per_sample(logits, targets.y_a), ce_per_sample(logits, targets.y_b), targets)
        eta = gumbel_eta(logits)
        return mixed_reduce(ce_per_sample(eta, targets.y_a), ce_per_sample(eta, targets.y_b), targets).clamp(0.0, hi)

    def test_probs(self, logits: torch.Tensor) -> torch.Tensor:
        if self.options["form"] == "official":
            return F.softmax(logits, dim=-1)
        eta = gumbel_eta(logits)
        return eta / eta.sum(dim=-1, keepdim=True)
