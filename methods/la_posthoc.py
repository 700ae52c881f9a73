"""Post-hoc logit adjustment (Menon et al., ICLR 2021; docs/methods.md). Beyond the paper.

No training: starts from the final plain-CE model and predicts with softmax(z − τ·log π).
Where a held-out validation split exists (NTU), τ is chosen on it from {0, 0.25, …, 2.0} by
balanced accuracy (``tune_tau``, the engine calls :meth:`tune_on_validation`); elsewhere the fixed
default τ = 1 is used. The chosen τ and the grid's scores are recorded in metrics.json.
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from methods import register_method
from methods._formulas import balanced_accuracy_of, grid_search, load_stage1, log_prior, weights_tensor
from methods.la import LogitAdjustedLoss

NAME = "la_posthoc"
VERSION = "2"
DESCRIPTION = "Post-hoc logit adjustment of a CE model: softmax(z - tau log pi), tau tuned on validation (beyond the paper)"
PAPER = "Menon et al., Long-tail Learning via Logit Adjustment, ICLR 2021"
STAGE1 = "ce"

TAU_GRID = tuple(0.25 * i for i in range(9))          # 0, 0.25, …, 2.0


@register_method
class PosthocLogitAdjustment(LogitAdjustedLoss):
    """The same offset τ·log π as the LA loss, applied at test time to a CE model instead."""

    DEFAULTS: Dict[str, Any] = {**LogitAdjustedLoss.DEFAULTS, "tune_tau": True}

    @classmethod
    def schedule(cls, runner_epochs: int, repeat: int) -> tuple:
        return 0, repeat

    def setup_model(self, model: nn.Module) -> None:
        load_stage1(model, self.ctx.stage1_state, self.NAME, self.STAGE1)

    def test_probs(self, logits: torch.Tensor) -> torch.Tensor:
        return F.softmax(logits - weights_tensor(self.offset, logits), dim=-1)

    def tune_on_validation(self, model: nn.Module, feats: torch.Tensor, labels: np.ndarray) -> Dict[str, Any]:
        """Choose τ on validation features (N, K, d) by balanced accuracy of the clip-averaged
        softmax(z − τ log π); sets the offset used at test time and returns the record."""
        if not self.options["tune_tau"]:
            return {"tuned": False, "reason": "tune_tau = false", "tau": float(self.options["tau"])}
        prior = log_prior(self.counts)
        y = torch.as_tensor(labels, device=feats.device)
        with torch.no_grad():
            z = model.head(feats)                                        # (N, K, C)

            def score(tau: float) -> float:
                p = F.softmax(z - weights_tensor(tau * prior, z), dim=-1).mean(dim=1)
                return balanced_accuracy_of(p, y)
            tau, scores = grid_search(TAU_GRID, score)
        self.options["tau"] = tau
        self.offset = tau * prior
        return {"tuned": True, "option": "tau", "chosen": tau, "criterion": "validation balanced accuracy",
                "grid": scores}
