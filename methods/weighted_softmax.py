"""Weighted softmax loss with inverse class frequency (as cited by the BRL paper; docs/methods.md).

Paper mode: L = w_y·CE(z, y), w_c = C·(1/n_c)/Σ_k 1/n_k, always on, weighted mean (WM).
official_code: the released loss means w = N/n_c after the switch, but a bug resets the weights to 1,
so the run is plain CE (``fix_official_bug = False``); ``fix_official_bug = True`` gives the intended
deferred N/n_c variant.
"""
from __future__ import annotations

from typing import Any, Dict

import torch

from methods import register_method
from methods._base import Method, MethodContext, Targets
from methods._formulas import (DEFERRED_DEFAULTS, ce_per_sample, check_choice, inverse_frequency_weights,
                               mixed_reduce, per_sample_pair, resolve_counts, stage2_start, weights_tensor)

NAME = "weighted_softmax"
VERSION = "1"
DESCRIPTION = "Cross-entropy weighted by inverse class frequency (sum of weights = C)"
PAPER = "weighted softmax loss, inverse class frequency (as compared in the BRL paper, Table III)"


@register_method
class WeightedSoftmax(Method):
    DEFAULTS: Dict[str, Any] = dict(DEFERRED_DEFAULTS, weights="sum_to_C", reduction="weighted_mean",
                                    counts_source="actual", fix_official_bug=True)
    OFFICIAL_CODE: Dict[str, Any] = {"weights": "N_over_n", "schedule": "deferred", "counts_source": "formula",
                                     "fix_official_bug": False}

    def __init__(self, ctx: MethodContext, **options: Any):
        super().__init__(ctx, **options)
        check_choice(self.NAME, "weights", self.options["weights"], ("sum_to_C", "N_over_n"))
        self.counts = resolve_counts(ctx, self.options["counts_source"], method=self.NAME)
        self.weights = inverse_frequency_weights(self.counts, self.options["weights"])
        self.t_s = stage2_start(ctx, self.options, self.NAME)
        # the released bug: the stored weights are overwritten with 1 before they are ever used
        self.plain_ce = self.options["schedule"] == "deferred" and not self.options["fix_official_bug"]

    def loss(self, logits: torch.Tensor, targets: Targets, step: int) -> torch.Tensor:
        la, lb = per_sample_pair(ce_per_sample, logits, targets)
        w = None if (self.plain_ce or step < self.t_s) else weights_tensor(self.weights, logits)
        return mixed_reduce(la, lb, targets, w, self.options["reduction"])

    def metadata(self) -> Dict[str, Any]:
        md = super().metadata()
        md["resolved"] = {"weights": self.weights.tolist(), "switch_iter": self.t_s,
                          "equals_plain_ce": self.plain_ce}
        return md
