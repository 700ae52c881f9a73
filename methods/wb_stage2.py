"""Weight balancing, stage 2 (Alshammari et al., CVPR 2022; docs/methods.md). Beyond the paper.

Starts from the final ``wb`` model: backbone frozen (eval mode), classifier weight and bias trained
for 10 passes with lr 0.01 (cosine), weight decay 0.1 and class-balanced softmax CE (β = 0.9999).
After every pass the classifier rows are projected onto the ball of radius
r = min_c‖w_c‖ + 0.1·(max_c‖w_c‖ − min_c‖w_c‖), computed once from the stage-1 weights (MaxNorm).
True CB-CE is used; the reference demo applies BCE to softmax outputs.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np
import torch
import torch.nn as nn

from methods import register_method
from methods._base import Method, MethodContext, Targets
from methods._formulas import (ce_per_sample, check_choice, class_balanced_weights, classifier_linear,
                               freeze_backbone_eval, load_stage1, lr_scale_for, mixed_reduce, resolve_counts,
                               stage2_schedule, weights_tensor)
from methods._samplers import class_aware_epoch_indices

NAME = "wb_stage2"
VERSION = "1"
DESCRIPTION = "Weight balancing stage 2: frozen backbone, CB classifier with weight decay and MaxNorm"
PAPER = "Alshammari et al., Long-Tailed Recognition via Weight Balancing, CVPR 2022"
STAGE1 = "wb"

PASSES = 10


def max_norm_radius(weight: torch.Tensor, thresh: float = 0.1) -> float:
    """r = min‖w_c‖ + thresh·(max‖w_c‖ − min‖w_c‖) (docs/methods.md)."""
    norms = weight.detach().norm(dim=1)
    return float(norms.min() + thresh * (norms.max() - norms.min()))


def project_rows_(weight: torch.Tensor, radius: float) -> None:
    """Rescale every row with ‖w_c‖ > r to norm r, in place (projected gradient step of MaxNorm)."""
    with torch.no_grad():
        norms = weight.norm(dim=1, keepdim=True)
        weight.mul_(torch.where(norms > radius, radius / norms.clamp_min(1e-12), torch.ones_like(norms)))


@register_method
class WeightBalancingStage2(Method):
    DEFAULTS: Dict[str, Any] = {"lr": 0.01, "weight_decay": 0.1, "beta": 0.9999, "max_norm_thresh": 0.1,
                                "sampler": "class_aware", "samples_per_class": 4, "counts_source": "actual",
                                "recipe_lr0": None}
    OFFICIAL_CODE: Dict[str, Any] = {}

    def __init__(self, ctx: MethodContext, **options: Any):
        super().__init__(ctx, **options)
        check_choice(self.NAME, "sampler", self.options["sampler"], ("class_aware", "instance"))
        self.counts = resolve_counts(ctx, self.options["counts_source"], method=self.NAME)
        self.weights = class_balanced_weights(self.counts, float(self.options["beta"]))
        self.radius: Optional[float] = None

    @classmethod
    def schedule(cls, runner_epochs: int, repeat: int) -> tuple:
        return stage2_schedule(PASSES, repeat)

    def setup_model(self, model: nn.Module) -> None:
        load_stage1(model, self.ctx.stage1_state, self.NAME, self.STAGE1)
        self.radius = max_norm_radius(classifier_linear(model).weight, float(self.options["max_norm_thresh"]))
        freeze_backbone_eval(model)

    def param_groups(self, model: nn.Module, weight_decay: float) -> List[Dict[str, Any]]:
        return [{"params": [p for p in model.parameters() if p.requires_grad],
                 "weight_decay": float(self.options["weight_decay"]), "lr": float(self.options["lr"]),
                 "lr_scale": lr_scale_for(float(self.options["lr"]), self.ctx, self.options["recipe_lr0"])}]

    def epoch_indices(self, labels: np.ndarray, epoch: int, rng: np.random.Generator) -> np.ndarray:
        if self.options["sampler"] == "instance":
            return super().epoch_indices(labels, epoch, rng)
        return class_aware_epoch_indices(labels, self.ctx.num_classes, self.ctx.repeat, rng,
                                         int(self.options["samples_per_class"]))

    def loss(self, logits: torch.Tensor, targets: Targets, step: int) -> torch.Tensor:
        w = weights_tensor(self.weights, logits)
        return mixed_reduce(ce_per_sample(logits, targets.y_a), ce_per_sample(logits, targets.y_b), targets, w)

    def after_step(self, model: nn.Module, step: int) -> None:
        """MaxNorm after every pass: R passes per runner epoch of I iterations."""
        i, r = self.ctx.iters_per_epoch, max(self.ctx.repeat, 1)
        if self.radius is None or i <= 0:
            return
        if ((step + 1) * r) // i > (step * r) // i:
            project_rows_(classifier_linear(model).weight, self.radius)

    def metadata(self) -> Dict[str, Any]:
        md = super().metadata()
        md["resolved"] = {"cb_weights": self.weights.tolist(), "max_norm_radius": self.radius}
        return md
