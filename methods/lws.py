"""Learnable weight scaling, LWS (Kang et al., ICLR 2020; docs/methods.md). Beyond the paper.

Stage 2 on the final plain-CE model: the backbone is frozen and in eval mode (BN statistics fixed)
[suite], the classifier W, b is frozen too, and only one scale per class is learnt:

    logit_c = f_c · (w_c·x + b_c),   f initialised to 1,

so LWS can only re-balance the classifier's per-class magnitudes (a learnt version of τ-norm's
fixed rescaling). 5 passes of the class-aware sampler (a class uniformly, then 4 of its samples in
a row) with CE; lr 0.2 at batch 512 scaled linearly, cosine over the stage-2 iterations, as cRT.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from methods import register_method
from methods._formulas import freeze_backbone_eval, load_stage1, stage2_schedule
from methods.crt import ClassifierRetraining

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
class LearnableWeightScaling(ClassifierRetraining):
    """cRT's stage 2 (class-aware sampler, lr, frozen backbone in eval mode) with the classifier kept
    and frozen, and only the per-class scales learnt."""

    @classmethod
    def schedule(cls, runner_epochs: int, repeat: int) -> tuple:
        return stage2_schedule(PASSES, repeat)

    def setup_model(self, model: nn.Module) -> None:
        load_stage1(model, self.ctx.stage1_state, self.NAME, self.STAGE1)
        freeze_backbone_eval(model)
        if not isinstance(model.head, ScaledHead):
            model.head = ScaledHead(model.head, self.ctx.num_classes).to(next(model.parameters()).device)
