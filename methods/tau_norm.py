"""τ-normalised classifier (Kang et al., ICLR 2020; docs/methods.md). Beyond the paper.

No training: takes the final plain-CE model and replaces each class vector by w_c/‖w_c‖^τ with the
bias dropped (set to 0). Where a held-out validation split exists (NTU), τ is chosen on it from
{0, 0.1, …, 2.0} by balanced accuracy (the engine calls :meth:`tune_on_validation` with pooled
validation features); elsewhere the fixed default τ = 1 is used. The chosen τ is recorded.
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from methods import register_method
from methods._base import Method
from methods._formulas import balanced_accuracy_of, classifier_linear, grid_search, load_stage1

NAME = "tau_norm"
VERSION = "2"
DESCRIPTION = "tau-normalised classifier weights of a CE model, bias dropped, tau tuned on validation (beyond the paper)"
PAPER = "Kang et al., Decoupling Representation and Classifier for Long-Tailed Recognition, ICLR 2020"
STAGE1 = "ce"

TAU_GRID = tuple(round(0.1 * i, 10) for i in range(21))     # 0, 0.1, …, 2.0


def tau_normalized(weight: torch.Tensor, tau: float) -> torch.Tensor:
    """w̃_c = w_c/‖w_c‖^τ (docs/methods.md)."""
    return weight / weight.norm(dim=1, keepdim=True).clamp_min(1e-12).pow(tau)


def tau_normalize_(linear: nn.Linear, tau: float) -> None:
    """w̃_c = w_c/‖w_c‖^τ, bias set to zero, in place (docs/methods.md)."""
    with torch.no_grad():
        linear.weight.copy_(tau_normalized(linear.weight, tau))
        if linear.bias is not None:
            linear.bias.zero_()


@register_method
class TauNorm(Method):
    DEFAULTS: Dict[str, Any] = {"tau": 1.0, "tune_tau": True}
    OFFICIAL_CODE: Dict[str, Any] = {}

    @classmethod
    def schedule(cls, runner_epochs: int, repeat: int) -> tuple:
        return 0, repeat

    def setup_model(self, model: nn.Module) -> None:
        load_stage1(model, self.ctx.stage1_state, self.NAME, self.STAGE1)
        fc = classifier_linear(model)
        self._stage1_weight = fc.weight.detach().clone()
        tau_normalize_(fc, float(self.options["tau"]))

    def tune_on_validation(self, model: nn.Module, feats: torch.Tensor, labels: np.ndarray) -> Dict[str, Any]:
        """Choose τ on validation features (N, K, d): balanced accuracy of the clip-averaged
        softmax of feats·w̃ᵀ (bias dropped); re-normalises the classifier with the chosen τ."""
        if not self.options["tune_tau"]:
            return {"tuned": False, "reason": "tune_tau = false", "tau": float(self.options["tau"])}
        w0 = self._stage1_weight.to(feats.device)
        y = torch.as_tensor(labels, device=feats.device)
        with torch.no_grad():
            def score(tau: float) -> float:
                p = F.softmax(feats @ tau_normalized(w0, tau).T, dim=-1).mean(dim=1)
                return balanced_accuracy_of(p, y)
            tau, scores = grid_search(TAU_GRID, score)
            fc = classifier_linear(model)
            fc.weight.copy_(tau_normalized(w0, tau))
            if fc.bias is not None:
                fc.bias.zero_()
        self.options["tau"] = tau
        return {"tuned": True, "option": "tau", "chosen": tau, "criterion": "validation balanced accuracy",
                "grid": scores}
