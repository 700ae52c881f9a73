"""The method API: what a long-tailed method may contribute to a training run.

A method subclasses :class:`Method` and overrides only what it changes:

=====================  ===========================================================================
hook                   default
=====================  ===========================================================================
``build_head``         linear head, N(0, 0.01²) weights, zero bias (docs/methods.md)
``epoch_indices``      instance-balanced sampler: R passes of the training list, shuffled together
``transform_batch``    no mixing: targets (y, y, λ = 1)
``loss``               cross-entropy on the mixed targets, batch mean (BM)
``test_probs``         softmax of the logits
``setup_model``        nothing (stage-2 methods freeze or load weights here)
``param_groups``       one group, weight decay on every parameter
``after_step``         nothing (e.g. weight balancing's max-norm)
``metadata``           the options, so the run record names every flag
=====================  ===========================================================================

All randomness inside a method comes from the generators the engine passes in (seeded from the
run seed and the iteration), never from global RNGs, so a resumed run is bit-identical.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

#: this shared helper's version: part of the effective version of every method that imports it
#: (methods.effective_version), so bumping it redoes exactly those methods' runs
VERSION = "1"

FIDELITY_MODES = ("paper", "official_code")


class MethodConfigError(ValueError):
    pass


@dataclass(frozen=True)
class MethodContext:
    """Everything a method may know about the run it is part of."""

    num_classes: int
    class_counts: np.ndarray          # n_c of the training list actually used (paper mode, docs/methods.md)
    layout: Any                       # benchmark.graphs.Layout
    iters_per_epoch: int              # I: iterations per runner epoch
    runner_epochs: int                # E_run
    repeat: int                       # R: passes per runner epoch
    batch_size: int
    seed: int
    fidelity: str = "paper"
    lt_profile: Dict[str, float] = field(default_factory=dict)   # {"n_max":…, "ratio":…} for F7
    stream: str = "j"
    #: final model state_dict of the stage-1 run (same dataset/backbone/stream/seed) for methods
    #: that declare STAGE1 (cRT, τ-norm, WB stage 2, post-hoc LA); None otherwise.
    stage1_state: Optional[Dict[str, Any]] = None

    @property
    def total_iters(self) -> int:
        return self.runner_epochs * self.iters_per_epoch

    @property
    def effective_epochs(self) -> int:
        return self.runner_epochs * self.repeat

    def switch_iter(self, fraction: float) -> int:
        """t_s = floor(φ · T_tot) (docs/methods.md)."""
        return int(math.floor(fraction * self.total_iters))

    def epoch_of(self, step: int) -> int:
        return step // self.iters_per_epoch


def sized_context(cls, ctx: "MethodContext", train_labels: np.ndarray, options: Optional[Dict[str, Any]] = None):
    """``ctx`` with I = ⌈samples per runner epoch / B⌉, where the method's own sampler decides the
    samples (e.g. the reverse sampler adds tail copies: 98 106 on NTU60-LT, so 6 132 iterations at
    B = 16): probe an instance once on epoch 0. One rule for the engine, the fingerprints and the
    method tests."""
    from dataclasses import replace

    probe = cls(ctx, **(options or {}))
    n_epoch = len(probe.epoch_indices(train_labels, 0, np.random.default_rng([ctx.seed, 0])))
    iters = max(1, math.ceil(n_epoch / ctx.batch_size)) if ctx.runner_epochs > 0 else 1
    return replace(ctx, iters_per_epoch=iters)


@dataclass
class Targets:
    """Per-sample mixed targets: loss_i = lam_i·ℓ(z_i, y_a_i) + (1 − lam_i)·ℓ(z_i, y_b_i)."""

    y_a: torch.Tensor
    y_b: torch.Tensor
    lam: torch.Tensor

    @classmethod
    def plain(cls, y: torch.Tensor) -> "Targets":
        return cls(y, y, torch.ones(y.shape[0], dtype=torch.float32, device=y.device))


class LinearHead(nn.Module):
    """Linear classifier on pooled features; N(0, 0.01²) weights, zero bias (docs/methods.md)."""

    def __init__(self, in_dim: int, num_classes: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(in_dim, num_classes)
        nn.init.normal_(self.fc.weight, 0.0, 0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(feats))


def mixed_cross_entropy(logits: torch.Tensor, t: Targets, class_weights: Optional[torch.Tensor] = None,
                        reduction: str = "batch_mean") -> torch.Tensor:
    """ℓ_i = λ_i·w_{y_a}·CE(z_i, y_a) + (1 − λ_i)·w_{y_b}·CE(z_i, y_b).

    ``batch_mean`` (BM) divides by B; ``weighted_mean`` (WM) is λ·WM(y_a) + (1−λ)·WM(y_b) with
    each WM normalised by its own Σ w (docs/methods.md and F11)."""
    logp = F.log_softmax(logits, dim=1)
    ce_a = -logp.gather(1, t.y_a[:, None]).squeeze(1)
    ce_b = -logp.gather(1, t.y_b[:, None]).squeeze(1)
    if class_weights is None:
        w_a = w_b = torch.ones_like(ce_a)
    else:
        w_a, w_b = class_weights[t.y_a], class_weights[t.y_b]
    if reduction == "batch_mean":
        return (t.lam * w_a * ce_a + (1 - t.lam) * w_b * ce_b).mean()
    if reduction == "weighted_mean":
        lam = t.lam.mean()   # official code: one scalar λ per batch (F2); neutral for unmixed batches
        return lam * (w_a * ce_a).sum() / w_a.sum() + (1 - lam) * (w_b * ce_b).sum() / w_b.sum()
    raise MethodConfigError(f"unknown reduction '{reduction}'; use batch_mean or weighted_mean")


def instance_epoch_indices(num_samples: int, repeat: int, rng: np.random.Generator) -> np.ndarray:
    """R passes of the training list, shuffled together (pyskl RepeatDataset + shuffle)."""
    return rng.permutation(np.tile(np.arange(num_samples), repeat))


class Method:
    """Base class. Subclasses set NAME/VERSION/DESCRIPTION/PAPER and override hooks."""

    NAME: ClassVar[str] = ""
    VERSION: ClassVar[str] = "1"
    DESCRIPTION: ClassVar[str] = ""
    PAPER: ClassVar[str] = ""
    #: option name -> default; config overrides are checked against these keys.
    DEFAULTS: ClassVar[Dict[str, Any]] = {}
    #: option values that the ``official_code`` preset sets (fidelity flags, docs/fidelity.md).
    OFFICIAL_CODE: ClassVar[Dict[str, Any]] = {}
    #: name of the method whose final model this one starts from (two-stage and post-hoc
    #: methods). Declare it also as a module-level literal ``STAGE1 = "ce"`` so the workflow can
    #: wire the dependency without importing the module.
    STAGE1: ClassVar[Optional[str]] = None

    #: module-level literals a method module declares (read by the workflow without importing it)
    MODULE_LITERALS: ClassVar[tuple] = ("NAME", "VERSION", "DESCRIPTION", "PAPER", "STAGE1")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Take NAME, VERSION, DESCRIPTION, PAPER and STAGE1 from the module's literals unless the
        class sets them itself, so the one declaration the workflow reads is also the class's."""
        super().__init_subclass__(**kwargs)
        import sys

        module = sys.modules.get(cls.__module__)
        for key in cls.MODULE_LITERALS:
            if key not in cls.__dict__ and module is not None and hasattr(module, key):
                setattr(cls, key, getattr(module, key))

    def __init__(self, ctx: MethodContext, **options: Any):
        if ctx.fidelity not in FIDELITY_MODES:
            raise MethodConfigError(f"fidelity must be one of {FIDELITY_MODES}, got '{ctx.fidelity}'")
        unknown = sorted(set(options) - set(self.DEFAULTS))
        if unknown:
            raise MethodConfigError(f"method '{self.NAME}': unknown option(s) {unknown}; "
                                    f"known: {sorted(self.DEFAULTS)}")
        opts = dict(self.DEFAULTS)
        if ctx.fidelity == "official_code":
            opts.update(self.OFFICIAL_CODE)
        opts.update(options)
        self.ctx = ctx
        self.options = opts
        self.preset = dict(self.DEFAULTS, **(self.OFFICIAL_CODE if ctx.fidelity == "official_code" else {}))

    # ------------------------------------------------------------------ model
    def build_head(self, in_dim: int) -> nn.Module:
        return LinearHead(in_dim, self.ctx.num_classes)

    def setup_model(self, model: nn.Module) -> None:
        """Called once after the model is built (and before a checkpoint is restored)."""

    def param_groups(self, model: nn.Module, weight_decay: float) -> List[Dict[str, Any]]:
        return [{"params": [p for p in model.parameters() if p.requires_grad], "weight_decay": weight_decay}]

    def after_step(self, model: nn.Module, step: int) -> None:
        """Called after every optimiser step."""

    @classmethod
    def schedule(cls, runner_epochs: int, repeat: int) -> tuple:
        """(runner_epochs, repeat) this method trains for, given the config's schedule.

        Post-hoc methods return (0, repeat): the engine then only evaluates; stage-2 methods
        return their own short schedule. A classmethod: the engine calls it before it builds the
        MethodContext (whose iteration counts depend on the result)."""
        return runner_epochs, repeat

    # ------------------------------------------------------------------ data
    def epoch_indices(self, labels: np.ndarray, epoch: int, rng: np.random.Generator) -> np.ndarray:
        """Indices into the training list for runner epoch ``epoch`` (R passes)."""
        return instance_epoch_indices(len(labels), self.ctx.repeat, rng)

    def transform_batch(self, x: torch.Tensor, y: torch.Tensor, step: int,
                        gen: torch.Generator) -> tuple:
        """Batch-level mixing on the model-input tensor (B, M, T, V, C). Returns (x, Targets)."""
        return x, Targets.plain(y)

    # ------------------------------------------------------------------ objective
    def loss(self, logits: torch.Tensor, targets: Targets, step: int) -> torch.Tensor:
        return mixed_cross_entropy(logits, targets)

    def test_probs(self, logits: torch.Tensor) -> torch.Tensor:
        return F.softmax(logits, dim=-1)

    # ------------------------------------------------------------------ record
    def metadata(self) -> Dict[str, Any]:
        """Options, fidelity preset and every flag that differs from the preset (for the report)."""
        changed = {k: v for k, v in self.options.items() if self.preset.get(k) != v}
        import methods as registry

        try:
            effective = registry.effective_version(self.NAME)
        except registry.UnknownMethodError:       # a class registered outside methods/ (tests, notebooks)
            effective = self.VERSION
        return {"method": self.NAME, "version": self.VERSION, "effective_version": effective,
                "fidelity": self.ctx.fidelity,
                "options": _jsonable(self.options), "changed_from_preset": _jsonable(changed)}


def _jsonable(d: Dict[str, Any]) -> Dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, (np.floating, np.integer)):
            v = v.item()
        elif isinstance(v, tuple):
            v = list(v)
        out[k] = v
    return out
