"""Learnable weight scaling, LWS (Kang et al., ICLR 2020; docs/methods.md). Beyond the paper.

Stage 2 on the final plain-CE model: the backbone is frozen and in eval mode (BN statistics fixed)
[suite], the classifier W, b is frozen too, and only one scale per class is learnt:

    logit_c = f_c · (w_c·x + b_c),   f initialised to 1,

so LWS can only re-balance the classifier's per-class magnitudes (a learnt version of τ-norm's
fixed rescaling). 5 passes of the class-aware sampler (a class uniformly, then 4 of its samples in
a row) with CE; lr 0.2 at batch 512 scaled linearly, cosine over the stage-2 iterations, as cRT.
"""
from __future__ import annotations

from typing import Any, Dict, List

import numpy as np
import torch
import torch.nn as nn

from methods import register_method
from methods._base import Method
from methods._formulas import freeze_backbone_eval, load_stage1, lr_scale_for, stage2_schedule
from methods._samplers import class_aware_epoch_indices

NAME = "lws"
VERSION = "1"
DESCRIPTION = "Learnable per-class weight scaling of a frozen CE classifier, class-aware sampler (beyond the paper)"
PAPER = "Kang et al., Decoupling Representation and Classifier for Long-Tailed Recognition, ICLR 2020"
STAGE1 = "ce"

PASSES = 5


class ScaledHead(nn.Module):
    """logit = f ⊙ head(x): the wrapped head is frozen, only ``scale`` (C,) is trainable."""

    def __init__(self, head: nn.Module, num_classes: int):
        super().__init__()
        self.base = head
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.scale = nn.Parameter(torch.ones(num_classes))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.base(feats) * self.scale


@register_method
class LearnableWeightScaling(Method):
    DEFAULTS: Dict[str, Any] = {"lr_at_512": 0.2, "samples_per_class": 4, "sampler": "class_aware",
                                "recipe_lr0": None}
    OFFICIAL_CODE: Dict[str, Any] = {}

    @classmethod
    def schedule(cls, runner_epochs: int, repeat: int) -> tuple:
        return stage2_schedule(PASSES, repeat)

    def setup_model(self, model: nn.Module) -> None:
        load_stage1(model, self.ctx.stage1_state, self.NAME, self.STAGE1)
        freeze_backbone_eval(model)
        if not isinstance(model.head, ScaledHead):
            model.head = ScaledHead(model.head, self.ctx.num_classes).to(next(model.parameters()).device)

    def param_groups(self, model: nn.Module, weight_decay: float) -> List[Dict[str, Any]]:
        lr = float(self.options["lr_at_512"]) * self.ctx.batch_size / 512.0
        scale = lr_scale_for(lr, self.ctx, self.options["recipe_lr0"])
        return [{"params": [p for p in model.parameters() if p.requires_grad], "weight_decay": weight_decay,
                 "lr": lr, "lr_scale": scale}]

    def epoch_indices(self, labels: np.ndarray, epoch: int, rng: np.random.Generator) -> np.ndarray:
        if self.options["sampler"] == "instance":
            return super().epoch_indices(labels, epoch, rng)
        return class_aware_epoch_indices(labels, self.ctx.num_classes, self.ctx.repeat, rng,
                                         int(self.options["samples_per_class"]))
