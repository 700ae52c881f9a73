"""Mixup (Zhang et al., ICLR 2018; docs/methods.md).

λ ~ Beta(α, α) once per batch, X̃ = λX + (1 − λ)X_π on the whole model-input tensor,
L = mean_i[λ·CE(z_i, y_i) + (1 − λ)·CE(z_i, y_π(i))]. α = 1. No official_code variant exists.
"""
from __future__ import annotations

from typing import Any, Dict

import torch

from methods import register_method
from methods._base import Method
from methods._mixing import mixup_batch

NAME = "mixup"
VERSION = "1"
DESCRIPTION = "Mixup of whole skeleton tensors, lambda ~ Beta(1, 1) per batch"
PAPER = "Zhang et al., mixup: Beyond Empirical Risk Minimization, ICLR 2018"


@register_method
class Mixup(Method):
    DEFAULTS: Dict[str, Any] = {"alpha": 1.0}
    OFFICIAL_CODE: Dict[str, Any] = {}

    def transform_batch(self, x: torch.Tensor, y: torch.Tensor, step: int, gen: torch.Generator) -> tuple:
        return mixup_batch(x, y, float(self.options["alpha"]), gen)
