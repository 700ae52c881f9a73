"""BRL: rebalanced partial mixup + reverse sampler + detached action-aware loss (docs/methods.md).

One configurable implementation. The Table VI ablation rows (``brl_rpm_only``, ``brl_trp_only``,
``brl_stae``, ``stae_*``) are subclasses that only change :attr:`BRL.DEFAULTS`; the BRL row itself
is "STAE + detached action-aware", so no separate ``stae_detached_action_aware`` is registered.

Option ↔ fidelity flag (docs/fidelity.md): F1 rpm_placement, F2 rpm_lambda_granularity, F3
rpm_lambda_x, F4 rpm_rule_boundary, F5 rpm_partner_pool, F6 rpm_batch_unit, F7 counts_source, F8
aa_switch (+ aa_switch_epoch), F9 aa_alternation, F10 aa_normalize, F11 aa_reduction, F12 aa_variant
(set ``cb_drw`` in configs for the official CTR-GCN/MS-G3D runs; the method is not told the
backbone), F15 sampler_tail_rule.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np
import torch

from methods import register_method
from methods._base import Method, MethodConfigError, MethodContext, Targets, instance_epoch_indices
from methods._formulas import (device_array, action_aware_weights, ce_per_sample, check_choice, class_balanced_weights,
                               detached_switch, epoch_switch, focal_per_sample, inverse_frequency_weights,
                               mixed_reduce, per_sample_pair, resolve_counts, weights_tensor)
from methods._mixing import RPMConfig, num_mixed, rebalanced_partial_mixup
from methods._samplers import reverse_epoch_indices

NAME = "brl"
VERSION = "1"
DESCRIPTION = "BRL: rebalanced partial mixup, reverse tail sampler, detached action-aware loss"
PAPER = "Liu et al., Balanced Representation Learning for Long-tailed Skeleton-based Action Recognition (BRL), 2023"

LOSS_VARIANTS = ("action_aware", "cb_drw", "focal", "weighted", "ce")

FIDELITY_FLAGS = {"F1": "rpm_placement", "F2": "rpm_lambda_granularity", "F3": "rpm_lambda_x",
                  "F4": "rpm_rule_boundary", "F5": "rpm_partner_pool", "F6": "rpm_batch_unit",
                  "F7": "counts_source", "F8": "aa_switch", "F9": "aa_alternation", "F10": "aa_normalize",
                  "F11": "aa_reduction", "F12": "aa_variant", "F15": "sampler_tail_rule"}


@register_method
class BRL(Method):

    DEFAULTS: Dict[str, Any] = {
        # sampler (docs/methods.md)
        "sampler": "reverse",               # reverse | instance
        "sampler_tail_rule": "rank",        # F15: rank | index
        "counts_source": "actual",          # F7: actual | formula
        # RPM (docs/methods.md)
        "rpm": True,
        "rpm_ratio": 1.0 / 16,
        "rpm_k": 3.0,
        "rpm_lambda_x": None,               # F3: None = |U|/V of the layout
        "rpm_placement": "inplace",         # F1
        "rpm_lambda_granularity": "per_sample",  # F2
        "rpm_rule_boundary": "inclusive",   # F4
        "rpm_partner_pool": "independent",  # F5
        "rpm_batch_unit": "global",         # F6
        "rpm_device_batch": 16,
        "rpm_rebalance": True,              # False: plain partial mixup
        "rpm_stage": "input",               # input: mix the model input (official) | joints: mix joints, then the stream
        # loss schedule (docs/methods.md)
        "aa_variant": "action_aware",       # F12 and the Table VI rows: action_aware|cb_drw|focal|weighted|ce
        "aa_schedule": "detached",          # detached | always (from t = 0)
        "aa_upsilon": 0.99,
        "aa_lambda": 0.0099,
        "aa_normalize": "sum_to_C",         # F10
        "aa_detached_epochs": 20,           # detached stage: last 20 …
        "aa_reference_epochs": 120,         # … of 120 effective epochs, t_s = ⌊T_tot·5/6⌋ (paper switch)
        "aa_switch": "fraction",            # F8: fraction (last aa_detached_epochs) | runner_epoch
        "aa_switch_epoch": 19,              # F8 official switch epoch
        "aa_alternation": "none",           # F9: none | parity
        "aa_reduction": "batch_mean",       # F11: batch_mean | weighted_mean (CE stage too)
        "cb_beta": 0.999,                   # F12 CB-DRW
        "focal_gamma": 2.0,
    }
    OFFICIAL_CODE: Dict[str, Any] = {
        "sampler_tail_rule": "index", "counts_source": "formula", "rpm_lambda_x": 0.64,
        "rpm_placement": "concat", "rpm_lambda_granularity": "batch_scalar", "rpm_rule_boundary": "strict",
        "rpm_partner_pool": "sequential", "rpm_batch_unit": "device", "aa_switch": "runner_epoch",
        "aa_alternation": "parity", "aa_reduction": "weighted_mean",
    }

    def __init__(self, ctx: MethodContext, **options: Any):
        super().__init__(ctx, **options)
        o = self.options
        check_choice(self.NAME, "sampler", o["sampler"], ("reverse", "instance"))
        check_choice(self.NAME, "aa_variant", o["aa_variant"], LOSS_VARIANTS)
        check_choice(self.NAME, "aa_schedule", o["aa_schedule"], ("detached", "always"))
        check_choice(self.NAME, "aa_switch", o["aa_switch"], ("fraction", "runner_epoch"))
        check_choice(self.NAME, "aa_alternation", o["aa_alternation"], ("none", "parity"))
        check_choice(self.NAME, "aa_reduction", o["aa_reduction"], ("batch_mean", "weighted_mean"))
        check_choice(self.NAME, "sampler_tail_rule", o["sampler_tail_rule"], ("rank", "index"))
        check_choice(self.NAME, "rpm_stage", o["rpm_stage"], ("input", "joints"))
        self.counts = resolve_counts(ctx, o["counts_source"], method=self.NAME)
        if (o["aa_switch"] == "runner_epoch" and o["aa_schedule"] == "detached" and o["aa_variant"] != "ce"
                and ctx.runner_epochs > 2 * int(o["aa_switch_epoch"]) + 1):
            # the official loss indexes a 2-entry list with ⌊(e+1)/(e_s+1)⌋ (F8)
            raise MethodConfigError(
                f"method '{self.NAME}': aa_switch=runner_epoch (official F8) supports at most "
                f"{2 * int(o['aa_switch_epoch']) + 1} runner epochs, got {ctx.runner_epochs}; use "
                "aa_switch=fraction for longer runs")
        self.rpm_cfg: Optional[RPMConfig] = None
        if o["rpm"]:
            if ctx.layout is None:
                raise MethodConfigError(f"method '{self.NAME}': RPM needs the dataset layout (upper/lower joints)")
            lam_x = o["rpm_lambda_x"] if o["rpm_lambda_x"] is not None else ctx.layout.lambda_x
            self.rpm_cfg = RPMConfig(ratio=float(o["rpm_ratio"]), k=float(o["rpm_k"]), lambda_x=float(lam_x),
                                     placement=o["rpm_placement"], granularity=o["rpm_lambda_granularity"],
                                     boundary=o["rpm_rule_boundary"], partner_pool=o["rpm_partner_pool"],
                                     batch_unit=o["rpm_batch_unit"], device_batch=int(o["rpm_device_batch"]),
                                     rebalance=bool(o["rpm_rebalance"]))
        self._stage2_weights = self._weights(flipped=False)
        self._alt_weights = self._weights(flipped=True)
        self._cache: Dict[Any, torch.Tensor] = {}

    @property
    def mix_stage(self) -> str:
        """Where the engine calls :meth:`transform_batch`: on the model input (``input``, what the
        official code does: bone/skip/motion vectors are mixed whole, so a boundary vector such as
        NTU bone 0→1 comes from the partner unchanged) or on the augmented joints before the
        stream is computed (``joints``: vectors across the cut are recomputed from mixed joints)."""
        return self.options["rpm_stage"] if self.rpm_cfg is not None else "input"

    # ------------------------------------------------------------------ schedule
    @property
    def switch_iter(self) -> int:
        """First iteration of the detached stage (0 when the loss runs from t = 0)."""
        o = self.options
        if o["aa_schedule"] == "always":
            return 0
        if o["aa_switch"] == "runner_epoch":
            return epoch_switch(self.ctx, o["aa_switch_epoch"])
        return detached_switch(self.ctx, o["aa_detached_epochs"], o["aa_reference_epochs"])

    def in_stage2(self, step: int) -> bool:
        return self.options["aa_variant"] != "ce" and step >= self.switch_iter

    def uses_flipped_weights(self, step: int) -> bool:
        """F9: the official AA loss alternates β ↔ 1 − β every runner epoch of the detached stage."""
        if self.options["aa_alternation"] != "parity" or self.options["aa_variant"] != "action_aware":
            return False
        i = max(self.ctx.iters_per_epoch, 1)
        return (step // i - self.switch_iter // i) % 2 == 1

    def _weights(self, flipped: bool) -> Optional[np.ndarray]:
        o = self.options
        v = o["aa_variant"]
        if v == "action_aware":
            return action_aware_weights(self.counts, o["aa_upsilon"], o["aa_lambda"], o["aa_normalize"], flipped)
        if v == "cb_drw":
            return class_balanced_weights(self.counts, o["cb_beta"])
        if v == "weighted":
            return inverse_frequency_weights(self.counts, "sum_to_C")
        return None

    def _device_weights(self, flipped: bool, like: torch.Tensor) -> Optional[torch.Tensor]:
        w = self._alt_weights if flipped else self._stage2_weights
        if w is None:
            return None
        key = (flipped, like.device, like.dtype)
        if key not in self._cache:
            self._cache[key] = weights_tensor(w, like)
        return self._cache[key]

    # ------------------------------------------------------------------ data
    def epoch_indices(self, labels: np.ndarray, epoch: int, rng: np.random.Generator) -> np.ndarray:
        if self.options["sampler"] == "reverse":
            return reverse_epoch_indices(labels, self.counts, self.ctx.repeat, rng,
                                         self.options["sampler_tail_rule"])
        return instance_epoch_indices(len(labels), self.ctx.repeat, rng)

    def transform_batch(self, x: torch.Tensor, y: torch.Tensor, step: int, gen: torch.Generator) -> tuple:
        if self.rpm_cfg is None:
            return x, Targets.plain(y)
        counts = device_array(self.counts, y.device)
        return rebalanced_partial_mixup(x, y, counts, self.ctx.layout.upper, self.ctx.layout.lower,
                                        self.rpm_cfg, gen)

    # ------------------------------------------------------------------ objective
    def loss(self, logits: torch.Tensor, targets: Targets, step: int) -> torch.Tensor:
        red = self.options["aa_reduction"]
        if not self.in_stage2(step):
            la, lb = per_sample_pair(ce_per_sample, logits, targets)
            return mixed_reduce(la, lb, targets, None, red)
        if self.options["aa_variant"] == "focal":
            la, lb = per_sample_pair(focal_per_sample, logits, targets, gamma=float(self.options["focal_gamma"]))
            return mixed_reduce(la, lb, targets, None, red)
        la, lb = per_sample_pair(ce_per_sample, logits, targets)
        w = self._device_weights(self.uses_flipped_weights(step), logits)
        return mixed_reduce(la, lb, targets, w, red)

    # ------------------------------------------------------------------ record
    def metadata(self) -> Dict[str, Any]:
        md = super().metadata()
        md["fidelity_flags"] = {k: v for k, v in FIDELITY_FLAGS.items() if v in self.options}
        md["resolved"] = {
            "counts": self.counts.tolist(),
            "rpm_lambda_x": None if self.rpm_cfg is None else self.rpm_cfg.lambda_x,
            "rpm_mixed_per_batch": None if self.rpm_cfg is None else num_mixed(
                self.ctx.batch_size if self.rpm_cfg.batch_unit == "global" else self.rpm_cfg.device_batch,
                self.rpm_cfg.ratio),
            "switch_iter": self.switch_iter if self.options["aa_variant"] != "ce" else None,
            "total_iters": self.ctx.total_iters,
        }
        return md
