"""Class-balanced loss, CB (Cui et al., CVPR 2019; docs/methods.md).

Paper mode: softmax CE weighted by w_c ∝ (1 − β)/(1 − β^{n_c}) with Σ w = C, β = 0.9999, always on,
batch-mean reduction (the original TensorFlow code). ``cb_loss = sigmoid | focal``: per-class binary
CE (focal: γ = 1), the sample weight multiplying all C terms, final bias initialised to −log(C − 1) and
excluded from weight decay. official_code: softmax CB with β = 0.999, deferred to runner epoch 19, WM.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List

import torch
import torch.nn as nn
import torch.nn.functional as F

from methods import register_method
from methods._base import LinearHead, Method, MethodContext, Targets
from methods._formulas import (DEFERRED_DEFAULTS, ce_per_sample, check_choice, class_balanced_weights,
                               classifier_linear, mixed_reduce, per_sample_pair, resolve_counts, stage2_start,
                               weights_tensor)

NAME = "cb"
VERSION = "1"
DESCRIPTION = "Class-balanced softmax cross-entropy (effective number, beta 0.9999)"
PAPER = "Cui et al., Class-Balanced Loss Based on Effective Number of Samples, CVPR 2019"


def sigmoid_terms(logits: torch.Tensor, y: torch.Tensor, gamma: float = 0.0) -> torch.Tensor:
    """Σ_c BCE(z_c, 1[c = y]), optionally with the focal modulator (1 − p_t)^γ (Cui et al. code)."""
    onehot = F.one_hot(y, logits.shape[1]).to(logits.dtype)
    bce = F.binary_cross_entropy_with_logits(logits, onehot, reduction="none")
    if gamma:
        # (1 − p_t)^γ = exp(−γ·t·z − γ·log(1 + e^{−z})), computed in log space
        bce = torch.exp(-gamma * onehot * logits - gamma * F.softplus(-logits)) * bce
    return bce.sum(dim=1)


@register_method
class ClassBalanced(Method):
    DEFAULTS: Dict[str, Any] = dict(DEFERRED_DEFAULTS, beta=0.9999, reduction="batch_mean", cb_loss="softmax",
                                    focal_gamma=1.0, counts_source="actual")
    OFFICIAL_CODE: Dict[str, Any] = {"beta": 0.999, "schedule": "deferred", "reduction": "weighted_mean",
                                     "counts_source": "formula"}

    def __init__(self, ctx: MethodContext, **options: Any):
        super().__init__(ctx, **options)
        check_choice(self.NAME, "cb_loss", self.options["cb_loss"], ("softmax", "sigmoid", "focal"))
        self.counts = resolve_counts(ctx, self.options["counts_source"], method=self.NAME)
        self.weights = class_balanced_weights(self.counts, float(self.options["beta"]))
        self.t_s = stage2_start(ctx, self.options, self.NAME)

    def build_head(self, in_dim: int) -> nn.Module:
        head = LinearHead(in_dim, self.ctx.num_classes)
        if self.options["cb_loss"] != "softmax":
            # start every sigmoid at prior 1/C (Cui et al., following focal loss)
            nn.init.constant_(head.fc.bias, -math.log(max(self.ctx.num_classes - 1, 1)))
        return head

    def param_groups(self, model: nn.Module, weight_decay: float) -> List[Dict[str, Any]]:
        if self.options["cb_loss"] == "softmax":
            return super().param_groups(model, weight_decay)
        bias = classifier_linear(model).bias
        rest = [p for p in model.parameters() if p.requires_grad and p is not bias]
        return [{"params": rest, "weight_decay": weight_decay}, {"params": [bias], "weight_decay": 0.0}]

    def loss(self, logits: torch.Tensor, targets: Targets, step: int) -> torch.Tensor:
        kind = self.options["cb_loss"]
        if kind == "softmax":
            fn, kw = ce_per_sample, {}
        else:
            fn, kw = sigmoid_terms, {"gamma": float(self.options["focal_gamma"]) if kind == "focal" else 0.0}
        la, lb = per_sample_pair(fn, logits, targets, **kw)
        w = None if step < self.t_s else weights_tensor(self.weights, logits)
        return mixed_reduce(la, lb, targets, w, self.options["reduction"])

    def metadata(self) -> Dict[str, Any]:
        md = super().metadata()
        md["resolved"] = {"weights": self.weights.tolist(), "switch_iter": self.t_s}
        return md
