"""Remix (Chou et al., ECCV 2020 Workshops; docs/methods.md).

Mixup inputs with λ_x ~ Beta(α, α) per batch; per pair the label weight goes entirely to the minority
class when the count ratio is ≥ κ and its share of the input is < τ. κ = 3, τ = 0.5, α = 1.
No official_code variant exists.
"""
from __future__ import annotations

from typing import Any, Dict

import torch

from methods import register_method
from methods._base import Method, MethodContext
from methods._formulas import device_array, resolve_counts
from methods._mixing import remix_batch

NAME = "remix"
VERSION = "1"
DESCRIPTION = "Remix: mixup inputs, labels pushed to the minority class (kappa 3, tau 0.5)"
PAPER = "Chou et al., Remix: Rebalanced Mixup, ECCV 2020 Workshops"


@register_method
class Remix(Method):
    DEFAULTS: Dict[str, Any] = {"alpha": 1.0, "kappa": 3.0, "tau": 0.5, "counts_source": "actual"}
    OFFICIAL_CODE: Dict[str, Any] = {}

    def __init__(self, ctx: MethodContext, **options: Any):
        super().__init__(ctx, **options)
        self.counts = resolve_counts(ctx, self.options["counts_source"], method=self.NAME)

    def transform_batch(self, x: torch.Tensor, y: torch.Tensor, step: int, gen: torch.Generator) -> tuple:
        counts = device_array(self.counts, y.device)
        o = self.options
        return remix_batch(x, y, counts, float(o["alpha"]), float(o["kappa"]), float(o["tau"]), gen)
