"""Equalization loss, softmax version (SEQL; Tan et al., CVPR 2020; docs/methods.md).

Paper mode: for every sample and every non-target tail class k (frequency n_k/N < λ), drop logit k from
the softmax denominator with probability γ (= 0.9); λ = 0.005, or 0.05 on NW-UCLA where 0.005 flags no
class [suite]. official_code (BRL's variant, the mask inverted): tail = n_c < n at rank 2⌊C/3⌋, tail
logits always kept, each head/medium non-target logit kept only with probability γ = 1.76·10⁻³;
plain CE before runner epoch 19. Masked logits are set to −∞ with a masked fill.
"""
from __future__ import annotations

from typing import Any, Dict

import torch
import torch.nn.functional as F

from methods import register_method
from methods._base import Method, MethodContext, Targets
from methods._formulas import (device_array, DEFERRED_DEFAULTS, ce_per_sample, check_choice, eql_official_tail_mask,
                               eql_tail_mask, mixed_reduce, resolve_counts, stage2_start, step_generator)

NAME = "eql"
VERSION = "1"
DESCRIPTION = "Softmax equalization loss: randomly drop tail negatives from the softmax"
PAPER = "Tan et al., Equalization Loss for Long-Tailed Object Recognition, CVPR 2020"

_SALT = 0xE91   # separates EQL's per-step draws from other per-step generators


@register_method
class EqualizationLoss(Method):
    DEFAULTS: Dict[str, Any] = dict(DEFERRED_DEFAULTS, variant="seql", gamma=0.9, freq_threshold=None,
                                    counts_source="actual")
    OFFICIAL_CODE: Dict[str, Any] = {"variant": "official_inverted", "gamma": 1.76e-3, "schedule": "deferred",
                                     "counts_source": "formula"}

    def __init__(self, ctx: MethodContext, **options: Any):
        super().__init__(ctx, **options)
        o = self.options
        check_choice(self.NAME, "variant", o["variant"], ("seql", "official_inverted"))
        self.counts = resolve_counts(ctx, o["counts_source"], method=self.NAME)
        if o["variant"] == "seql":
            lam = o["freq_threshold"]
            if lam is None:
                lam = 0.05 if getattr(ctx.layout, "name", "") == "nw_ucla20" else 0.005
            self.lam = float(lam)
            #: classes whose non-target logits may be dropped
            self.droppable = eql_tail_mask(self.counts, self.lam)
            self.drop_prob = float(o["gamma"])
        else:
            self.lam = None
            self.droppable = ~eql_official_tail_mask(self.counts)
            self.drop_prob = 1.0 - float(o["gamma"])
        self.t_s = stage2_start(ctx, o, self.NAME)

    def masked_logits(self, logits: torch.Tensor, targets: Targets, step: int) -> torch.Tensor:
        """Logits with the dropped non-target entries set to −∞ (never the target(s))."""
        gen = step_generator(self.ctx.seed, step, _SALT, logits.device)
        u = torch.rand(logits.shape, generator=gen, device=logits.device)
        droppable = device_array(self.droppable, logits.device, torch.bool)[None, :]
        c = logits.shape[1]
        is_target = F.one_hot(targets.y_a, c).bool() | F.one_hot(targets.y_b, c).bool()
        drop = droppable & (u < self.drop_prob) & ~is_target
        return logits.masked_fill(drop, float("-inf"))

    def loss(self, logits: torch.Tensor, targets: Targets, step: int) -> torch.Tensor:
        z = logits if step < self.t_s else self.masked_logits(logits, targets, step)
        la, lb = ce_per_sample(z, targets.y_a), ce_per_sample(z, targets.y_b)
        return mixed_reduce(la, lb, targets)

    def metadata(self) -> Dict[str, Any]:
        md = super().metadata()
        md["resolved"] = {"lambda": self.lam, "droppable_classes": [int(i) for i in self.droppable.nonzero()[0]],
                          "drop_prob": self.drop_prob, "switch_iter": self.t_s}
        return md
