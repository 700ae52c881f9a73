"""Run configuration: everything that determines a training run's result, as dataclasses.

The workflow resolves one :class:`RunSpec` per (dataset, benchmark, backbone, method, stream,
seed) from the config and passes it to ``python -m benchmark train --spec JSON``. Its canonical
JSON (sorted keys, no paths, no thread counts, no device) is hashed into ``config_hash``: a
checkpoint is only resumed by a run with the same hash (docs/workflow.md).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, Optional, Sequence

STREAMS = ("j", "b", "k", "jm", "bm", "km")
PRECISIONS = ("fp32", "bf16", "auto")   # auto: bf16 where the device computes it natively
SPEED_DEFAULTS = {"precision": "fp32", "compile": False, "deterministic": False}


class ConfigError(ValueError):
    pass


TEST_SAMPLING = ("deterministic", "random")
FLIP_MODES = ("permute", "mirror", "image")
#: run-spec ``pipeline`` keys, applied when a run loads its prepared data (benchmark.engine.train)
PIPELINE_KEYS = ("center_joint", "normalize")


class NonFiniteLossError(ConfigError, FloatingPointError):
    """The training diverged (NaN or inf loss): a user-fixable setting, reported in one line."""

    def __init__(self, epoch: int, epochs: int, spec: "RunSpec", loss: float):
        sch = spec.schedule
        fp32 = "" if sch.precision == "fp32" else f"use schedule.precision: fp32 (now {sch.precision}); "
        super().__init__(
            f"non-finite loss (mean {loss}) in runner epoch {epoch}/{epochs} of {spec.method_id} seed {spec.seed}: "
            f"the training diverged. Usual fixes: lower schedule.base_lr (now {sch.base_lr:g}, so lr0 = "
            f"{sch.lr0:g} at batch size {sch.batch_size}); {fp32}or check the raw data for extreme coordinates")


@dataclass(frozen=True)
class Schedule:
    """Optimiser and schedule (docs/training.md): SGD + Nesterov, per-iteration cosine, no warm-up."""

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
    #: test clips: "deterministic" (fixed offsets, docs/evaluation.md) or "random" (training-mode
    #: uniform sampling seeded per sample: the official Kinetics test, whose sampler lacks test mode)
    test_sampling: str = "deterministic"
    #: also store the pooled test features (N, clips, d) in test_probs.npz (key ``features``)
    save_features: bool = False
    # Speed options (how the arithmetic runs, not what it computes; recorded in metrics.json).
    precision: str = "fp32"           # fp32 | bf16 (autocast; weights and optimizer state stay fp32) | auto
    compile: bool = False             # torch.compile the model (minutes of compilation up front)
    deterministic: bool = False       # bit-reproducible kernels (cuDNN autotuning off) on GPUs

    def __post_init__(self) -> None:
        if self.test_sampling not in TEST_SAMPLING:
            raise ConfigError(f"schedule.test_sampling must be one of {list(TEST_SAMPLING)}, "
                              f"got '{self.test_sampling}'")
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
    """lr_t = lr0 · ½ · (1 + cos(π t / T_tot)) (docs/training.md)."""
    if total <= 0:
        return lr0
    return lr0 * 0.5 * (1.0 + math.cos(math.pi * step / total))


@dataclass(frozen=True)
class AugmentSpec:
    enabled: bool = True
    scale: float = 0.1
    rotate: float = 0.3
    flip_p: float = 0.5
    #: "permute": swap left/right joint indices only, as the official code does; "mirror": also
    #: negate x of the flipped sample (an ablation: the paper only says "flip"). 3D data only.
    #: (2D data always mirror x: about the origin of the normalised coordinates with "permute".)
    #: "image": 2D pixel coordinates only, x ← W − x for x ≠ 0 with W the sample's image width,
    #: then the joint swap: the released Kinetics pipeline's flip (docs/fidelity.md F16).
    flip_mode: str = "permute"

    def __post_init__(self) -> None:
        if self.flip_mode not in FLIP_MODES:
            raise ConfigError(f"augment.flip_mode must be one of {list(FLIP_MODES)}, got '{self.flip_mode}'")


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
    #: the official recipe applied by the workflow (benchmark/recipes.py), e.g. "official_code:ntu"
    recipe: Optional[str] = None
    #: data-pipeline options applied at load time: ``center_joint`` = "last" or an index re-centres
    #: the prepared (PreNormalize3D) joints on that joint (the shipped transform's centring for
    #: non-NTU layouts, flag F18); ``normalize`` = "none" trains on pixel coordinates, mapping
    #: PreNormalize2D-prepared joints back with each video's image size (the released Kinetics
    #: pipeline, F16)
    pipeline: Dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> Dict[str, Any]:
        """asdict, minus options added after the first engine release while they are at their
        default: the identity (config_hash) of runs that do not use them does not change."""
        d = asdict(self)
        for path, default in _LATE_DEFAULTS:
            parent = d
            for key in path[:-1]:
                parent = parent[key]
            if parent.get(path[-1]) == default:
                del parent[path[-1]]
        return d

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
        missing = sorted({"dataset", "benchmark", "split_id", "backbone", "method", "method_id", "stream",
                          "seed"} - set(d))
        if missing:
            raise ConfigError(f"run spec: missing key(s) {missing}")
        spec = cls(**d)
        spec.validate()
        return spec

    def validate(self) -> None:
        """Refuse a spec that cannot give a meaningful result (the schema checks the config; this
        checks what reaches the engine, whoever wrote it)."""
        s = self.schedule
        checks = [
            ("schedule.runner_epochs", s.runner_epochs, 1, "an untrained model is not a result"),
            ("schedule.repeat", s.repeat, 1, "each runner epoch repeats the list at least once"),
            ("schedule.batch_size", s.batch_size, 1, "a batch holds at least one clip"),
            ("schedule.clip_len", s.clip_len, 1, "a clip holds at least one frame"),
            ("schedule.test_clips", s.test_clips, 1, "testing needs at least one clip per sample"),
            ("schedule.eval_batch_size", s.eval_batch_size, 1, "evaluation batches hold at least one clip"),
            ("schedule.lr_ref_batch", s.lr_ref_batch, 1, "the reference batch for lr scaling"),
            ("schedule.val_every", s.val_every, 0, "0 turns the monitor off"),
            ("seed", self.seed, 0, "seeds are non-negative integers"),
        ]
        for key, value, lo, why in checks:
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise ConfigError(f"run spec: {key} = {value!r} is invalid: it must be an integer >= {lo} ({why})")
        for key, value in (("schedule.base_lr", s.base_lr),):
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ConfigError(f"run spec: {key} = {value!r} is invalid: it must be a positive number")
        for key, value in (("schedule.momentum", s.momentum), ("schedule.weight_decay", s.weight_decay),
                           ("augment.scale", self.augment.scale), ("augment.rotate", self.augment.rotate)):
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"run spec: {key} = {value!r} is invalid: it must be a number >= 0")
        if not 0 <= self.augment.flip_p <= 1:
            raise ConfigError(f"run spec: augment.flip_p = {self.augment.flip_p!r} must lie in [0, 1]")
        if self.stream not in STREAMS:
            raise ConfigError(f"run spec: stream '{self.stream}' is unknown; one of {', '.join(STREAMS)}")
        if self.fidelity not in ("paper", "official_code"):
            raise ConfigError(f"run spec: fidelity '{self.fidelity}' is unknown; 'paper' or 'official_code'")
        width = self.backbone_options.get("base_channels")
        if width is not None and (isinstance(width, bool) or not isinstance(width, int) or width < 1):
            raise ConfigError(f"run spec: backbone base_channels = {width!r} must be a positive integer")

    @classmethod
    def from_json(cls, text: str) -> "RunSpec":
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise ConfigError(f"run spec is not valid JSON: {e}") from None

    @property
    def config_hash(self) -> str:
        """Hash of the canonical JSON (options at their late-added defaults left out, see to_dict)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


_LATE_DEFAULTS = ((("recipe",), None), (("pipeline",), {}), (("schedule", "test_sampling"), "deterministic"),
                  (("augment", "flip_mode"), "permute"), (("schedule", "save_features"), False),
                  # speed options: how the arithmetic runs (bf16 does change the numbers, so it counts when set)
                  *((("schedule", k), v) for k, v in SPEED_DEFAULTS.items()))


def _build(cls, d: Dict[str, Any], where: str):
    if isinstance(d, cls):
        return d
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    return cls(**d)


def selection_flag_value(rules: Sequence[str]) -> str:
    """F13's recorded value: the selection rules one run really produced, in order, ``best_test``
    with its label (``"last, best_val"``; ``"last, best_test (selected on test)"`` without a
    validation split in official_code mode)."""
    return ", ".join(r + (" (selected on test)" if r == "best_test" else "") for r in rules)


def fidelity_flags(spec: RunSpec, method: Any = None, rules: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, Any]]:
    """Every fidelity flag of a run with its option name and value (recorded in metrics.json).

    Method flags (F1–F12, F15) come from the method's ``FIDELITY_FLAGS`` and options; the recipe
    flags are the run spec's own settings: F13 the selection rules the run used (``rules``: the
    trainer's, which depend on whether a validation split exists; without them, the rules the
    fidelity mode allows), F14 batch and learning rate, F16 the Kinetics test clips, F17 seeds
    (always fixed), F18 the PreNormalize3D centre."""
    md = method.metadata() if method is not None else {}
    opts = md.get("options", {})
    flags: Dict[str, Dict[str, Any]] = {
        fid: {"option": opt, "value": opts.get(opt)} for fid, opt in (md.get("fidelity_flags") or {}).items()}
    sch = spec.schedule
    if rules is None:
        rules = ["last", "best_val"] + (["best_test"] if spec.fidelity == "official_code" else [])
    flags["F13"] = {"option": "selection", "value": selection_flag_value(rules)}
    flags["F14"] = {"option": "schedule.batch_size/base_lr", "value": {"batch_size": sch.batch_size, "lr0": sch.lr0,
                    "runner_epochs": sch.runner_epochs, "repeat": sch.repeat, "recipe": spec.recipe}}
    flags["F16"] = {"option": "schedule.test_sampling", "value": sch.test_sampling}
    flags["F17"] = {"option": "seed", "value": spec.seed}
    flags["F18"] = {"option": "pipeline.center_joint", "value": spec.pipeline.get("center_joint", "layout centre")}
    return dict(sorted(flags.items(), key=lambda kv: int(kv[0][1:])))
