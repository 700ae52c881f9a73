"""KPS loss (Li, Cheung, Hu, TPAMI 2023; docs/methods.md).

Cosine head. Per-class scale s_c = 1 + ln(n_c/n_min)/ln 50 and mirrored margin m_c; logits
o_j = s_j·cos θ_j − m_y·1[j = y]. Stage 1: CE(s·o, y) with s = 15; from ⌊0.6·T_tot⌋ ("GA" stage):
CE(S_i·o, y) with S_i = clamp(s·s_{(C−1−r(y_i))}, s, 50). max_m = 0.2, plain mean, no class weights.
official_code: s = 1, max_m = 0.5, linear head, GA from runner epoch 16. Test: softmax(s·cos θ).
"""
from __future__ import annotations

from typing import Any, Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

from methods import register_method
from methods._base import LinearHead, Method, MethodContext, Targets
from methods._formulas import (NormedLinear, ce_per_sample, check_choice, kps_ga_scales, kps_margins, kps_scales,
                               mixed_reduce, resolve_counts, resolve_switch, weights_tensor)

NAME = "kps"
VERSION = "1"
DESCRIPTION = "Key point sensitive loss: per-class scales and margins, gradient-adjusted second stage"
PAPER = "Li, Cheung, Hu, Key Point Sensitive Loss for Long-Tailed Visual Recognition, TPAMI 2023"


@register_method
class KPS(Method):
    DEFAULTS: Dict[str, Any] = {"head": "cosine", "s": 15.0, "max_m": 0.2, "scale_cap": 50.0,
                                "switch": "fraction", "switch_fraction": 0.6, "switch_epoch": 16,
                                "reduction": "weighted_mean", "counts_source": "actual"}
    OFFICIAL_CODE: Dict[str, Any] = {"head": "linear", "s": 1.0, "max_m": 0.5, "switch": "runner_epoch",
                                     "counts_source": "formula"}

    def __init__(self, ctx: MethodContext, **options: Any):
        super().__init__(ctx, **options)
        o = self.options
        check_choice(self.NAME, "head", o["head"], ("cosine", "linear"))
        self.counts = resolve_counts(ctx, o["counts_source"], method=self.NAME)
        self.scales = kps_scales(self.counts)
        self.margins = kps_margins(self.counts, float(o["max_m"]))
        self.ga_scales = kps_ga_scales(self.counts, float(o["s"]), float(o["scale_cap"]))
        self.t_s = resolve_switch(ctx, o["switch"], float(o["switch_fraction"]), int(o["switch_epoch"]), self.NAME)

    def build_head(self, in_dim: int) -> nn.Module:
        if self.options["head"] == "cosine":
            return NormedLinear(in_dim, self.ctx.num_classes)
        return LinearHead(in_dim, self.ctx.num_classes)

    def _per_sample(self, logits: torch.Tensor, y: torch.Tensor, ga: bool) -> torch.Tensor:
        o = logits * weights_tensor(self.scales, logits)[None, :]
        o = o - F.one_hot(y, logits.shape[1]).to(logits.dtype) * weights_tensor(self.margins, logits)[y][:, None]
        scale = weights_tensor(self.ga_scales, logits)[y][:, None] if ga else float(self.options["s"])
        return ce_per_sample(scale * o, y)

    def loss(self, logits: torch.Tensor, targets: Targets, step: int) -> torch.Tensor:
        ga = step >= self.t_s
        la = self._per_sample(logits, targets.y_a, ga)
        lb = la if targets.y_b is targets.y_a else self._per_sample(logits, targets.y_b, ga)
        return mixed_reduce(la, lb, targets, None, self.options["reduction"])

    def test_probs(self, logits: torch.Tensor) -> torch.Tensor:
        return F.softmax(float(self.options["s"]) * logits, dim=-1)

    def metadata(self) -> Dict[str, Any]:
        md = super().metadata()
        md["resolved"] = {"scales": self.scales.tolist(), "margins": self.margins.tolist(), "switch_iter": self.t_s}
        return md
