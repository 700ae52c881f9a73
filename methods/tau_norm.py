"""τ-normalised classifier (Kang et al., ICLR 2020; docs/methods.md). Beyond the paper.

No training: takes the final plain-CE model and replaces each class vector by w_c/‖w_c‖^τ with the
bias dropped (set to 0); τ = 1 by default (a validation grid is the workflow's job).
"""
from __future__ import annotations

from typing import Any, Dict

import torch
import torch.nn as nn

from methods import register_method
from methods._base import Method
from methods._formulas import classifier_linear, load_stage1

NAME = "tau_norm"
VERSION = "1"
DESCRIPTION = "tau-normalised classifier weights of a CE model, bias dropped (beyond the paper)"
PAPER = "Kang et al., Decoupling Representation and Classifier for Long-Tailed Recognition, ICLR 2020"
STAGE1 = "ce"


def tau_normalize_(linear: nn.Linear, tau: float) -> None:
    """w̃_c = w_c/‖w_c‖^τ, bias set to zero, in place (docs/methods.md)."""
    with torch.no_grad():
        norms = linear.weight.norm(dim=1, keepdim=True).clamp_min(1e-12)
        linear.weight.div_(norms.pow(tau))
        if linear.bias is not None:
            linear.bias.zero_()


@register_method
class TauNorm(Method):
    DEFAULTS: Dict[str, Any] = {"tau": 1.0}
    OFFICIAL_CODE: Dict[str, Any] = {}

    @classmethod
    def schedule(cls, runner_epochs: int, repeat: int) -> tuple:
        return 0, repeat

    def setup_model(self, model: nn.Module) -> None:
        load_stage1(model, self.ctx.stage1_state, self.NAME, self.STAGE1)
        tau_normalize_(classifier_linear(model), float(self.options["tau"]))
