"""Run configuration: everything that determines a training run's result, as dataclasses.

The workflow resolves one :class:`RunSpec` per (dataset, benchmark, backbone, method, stream,
seed) from the config and passes it to ``python -m benchmark train --spec JSON``. Its canonical
JSON (sorted keys, no paths, no thread counts, no device) is hashed into ``config_hash``: a
checkpoint is only resumed by a run with the same hash (workflow.md §7–8).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict

ENGINE_VERSION = "1"
PRECISIONS = ("fp32", "bf16")
SPEED_DEFAULTS = {"precision": "fp32", "compile": False, "deterministic": False}


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Schedule:
    """Optimiser and schedule (training.md §3.1): SGD + Nesterov, per-iteration cosine, no warm-up."""

    runner_epochs: int = 24
    repeat: int = 5
    batch_size: int = 128
    base_lr: float = 0.1
    lr_ref_batch: int = 128           # linear scaling: lr0 = base_lr · B / lr_ref_batch
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    clip_len: int = 64
    test_clips: int = 10
    val_every: int = 1                # 1-clip monitoring pass every N runner epochs (0 = never)
    eval_batch_size: int = 64
    # Speed options (how the arithmetic runs, not what it computes; recorded in metrics.json).
    precision: str = "fp32"           # fp32 | bf16 (autocast; weights and optimizer state stay fp32)
    compile: bool = False             # torch.compile the model (minutes of compilation up front)
    deterministic: bool = False       # bit-reproducible kernels (cuDNN autotuning off) on GPUs

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"schedule.precision must be one of {list(PRECISIONS)}, got {self.precision!r} "
                              "(set it in the config's 'schedule' section)")
        for key in ("compile", "deterministic"):
            if not isinstance(getattr(self, key), bool):
                raise ConfigError(f"schedule.{key} must be true or false, got {getattr(self, key)!r}")

    @property
    def lr0(self) -> float:
        return self.base_lr * self.batch_size / self.lr_ref_batch


def cosine_lr(lr0: float, step: int, total: int) -> float:
    """lr_t = lr0 · ½ · (1 + cos(π t / T_tot)) (training.md §3.1)."""
    if total <= 0:
        return lr0
    return lr0 * 0.5 * (1.0 + math.cos(math.pi * step / total))


@dataclass(frozen=True)
class AugmentSpec:
    enabled: bool = True
    scale: float = 0.1
    rotate: float = 0.3
    flip_p: float = 0.5


@dataclass(frozen=True)
class RunSpec:
    dataset: str
    benchmark: str
    split_id: str                     # e.g. nw_ucla_default_lt10
    backbone: str
    method: str                       # registered method name
    method_id: str                    # label used in paths/reports (e.g. brl_official)
    stream: str
    seed: int
    fidelity: str = "paper"
    method_options: Dict[str, Any] = field(default_factory=dict)
    backbone_options: Dict[str, Any] = field(default_factory=dict)
    schedule: Schedule = field(default_factory=Schedule)
    augment: AugmentSpec = field(default_factory=AugmentSpec)
    lt_profile: Dict[str, Any] = field(default_factory=dict)
    versions: Dict[str, str] = field(default_factory=dict)   # method/backbone/data/engine versions

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "RunSpec":
        d = dict(d)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"run spec: unknown key(s) {unknown}")
        d["schedule"] = _build(Schedule, d.get("schedule", {}), "schedule")
        d["augment"] = _build(AugmentSpec, d.get("augment", {}), "augment")
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> "RunSpec":
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise ConfigError(f"run spec is not valid JSON: {e}") from None

    @property
    def config_hash(self) -> str:
        """Hash of the canonical JSON. The speed options enter only when they differ from their
        defaults, so that adding them left the identity of every existing fp32 run unchanged."""
        d = self.to_dict()
        for key, default in SPEED_DEFAULTS.items():
            if d["schedule"].get(key) == default:
                d["schedule"].pop(key)
        text = json.dumps(d, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _build(cls, d: Dict[str, Any], where: str):
    if isinstance(d, cls):
        return d
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    return cls(**d)
