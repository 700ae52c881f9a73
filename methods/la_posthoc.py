"""Post-hoc logit adjustment (Menon et al., ICLR 2021; docs/methods.md). Beyond the paper.

No training: starts from the final plain-CE model and predicts with softmax(z − τ·log π), τ = 1.
(Choosing τ on a validation split is the workflow's job: pass ``tau`` as an option.)
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from methods import register_method
from methods._formulas import load_stage1, weights_tensor
from methods.la import LogitAdjustedLoss

NAME = "la_posthoc"
VERSION = "1"
DESCRIPTION = "Post-hoc logit adjustment of a CE model: softmax(z - tau log pi) (beyond the paper)"
PAPER = "Menon et al., Long-tail Learning via Logit Adjustment, ICLR 2021"
STAGE1 = "ce"


@register_method
class PosthocLogitAdjustment(LogitAdjustedLoss):
    """The same offset τ·log π as the LA loss, applied at test time to a CE model instead."""


    @classmethod
    def schedule(cls, runner_epochs: int, repeat: int) -> tuple:
        return 0, repeat

    def setup_model(self, model: nn.Module) -> None:
        load_stage1(model, self.ctx.stage1_state, self.NAME, self.STAGE1)

    def test_probs(self, logits: torch.Tensor) -> torch.Tensor:
        return F.softmax(logits - weights_tensor(self.offset, logits), dim=-1)
