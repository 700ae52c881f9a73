"""LDAM-DRW (Cao et al., NeurIPS 2019; docs/methods.md).

Cosine head (NormedLinear). L = w_y·CE(s·(cos θ − Δ_y·e_y), y) with Δ_c = max_m·(n_min/n_c)^(1/4),
max_m = 0.5, s = 30; deferred re-weighting: w ≡ 1 before ⌊0.8·T_tot⌋, then CB weights (β = 0.9999,
Σ = C), weighted mean. official_code: linear head (margins on raw logits), DRW β = 0.999999 from
runner epoch 19. Test probabilities: softmax(s·cos θ) with the cosine head, softmax(z) otherwise.
"""
from __future__ import annotations

from typing import Any, Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

from methods import register_method
from methods._base import LinearHead, Method, MethodContext, Targets
from methods._formulas import (NormedLinear, ce_per_sample, check_choice, class_balanced_weights, ldam_margins,
                               margin_logits, mixed_reduce, resolve_counts, resolve_switch, weights_tensor)

NAME = "ldam_drw"
VERSION = "1"
DESCRIPTION = "LDAM margin loss on a cosine head with deferred class-balanced re-weighting"
PAPER = "Cao et al., Learning Imbalanced Datasets with Label-Distribution-Aware Margin Loss, NeurIPS 2019"


@register_method
class LDAMDRW(Method):
    DEFAULTS: Dict[str, Any] = {"head": "cosine", "max_m": 0.5, "s": 30.0, "drw_beta": 0.9999,
                                "switch": "fraction", "switch_fraction": 0.8, "switch_epoch": 19,
                                "reduction": "weighted_mean", "counts_source": "actual"}
    OFFICIAL_CODE: Dict[str, Any] = {"head": "linear", "drw_beta": 0.999999, "switch": "runner_epoch",
                                     "counts_source": "formula"}

    def __init__(self, ctx: MethodContext, **options: Any):
        super().__init__(ctx, **options)
        o = self.options
        check_choice(self.NAME, "head", o["head"], ("cosine", "linear"))
        self.counts = resolve_counts(ctx, o["counts_source"], method=self.NAME)
        self.margins = ldam_margins(self.counts, float(o["max_m"]))
        self.weights = class_balanced_weights(self.counts, float(o["drw_beta"]))
        self.t_s = resolve_switch(ctx, o["switch"], float(o["switch_fraction"]), int(o["switch_epoch"]), self.NAME)

    def build_head(self, in_dim: int) -> nn.Module:
        if self.options["head"] == "cosine":
            return NormedLinear(in_dim, self.ctx.num_classes)
        return LinearHead(in_dim, self.ctx.num_classes)

    def _per_sample(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ce_per_sample(float(self.options["s"]) * margin_logits(logits, y, weights_tensor(self.margins, logits)), y)

    def loss(self, logits: torch.Tensor, targets: Targets, step: int) -> torch.Tensor:
        la = self._per_sample(logits, targets.y_a)
        lb = la if targets.y_b is targets.y_a else self._per_sample(logits, targets.y_b)
        w = None if step < self.t_s else weights_tensor(self.weights, logits)
        return mixed_reduce(la, lb, targets, w, self.options["reduction"])

    def test_probs(self, logits: torch.Tensor) -> torch.Tensor:
        scale = float(self.options["s"]) if self.options["head"] == "cosine" else 1.0
        return F.softmax(scale * logits, dim=-1)

    def metadata(self) -> Dict[str, Any]:
        md = super().metadata()
        md["resolved"] = {"margins": self.margins.tolist(), "drw_weights": self.weights.tolist(),
                          "switch_iter": self.t_s}
        return md
