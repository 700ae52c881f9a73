"""Run identity: one hash over everything that can change a run's numbers.

A run is identified by

- its run spec (dataset, split, backbone, method and options, schedule, augmentation, seed,
  fidelity, the **resolved** precision, and the method / backbone / data / engine versions it
  carries; ``precision: auto`` never enters a hash, only the ``fp32`` or ``bf16`` it resolved to),
- the prepared data it reads: the SHA-256 of ``joints.npy`` and ``table.csv`` recorded in the
  dataset's ``meta.json`` (checked on load) and the hash of ``meta.json`` itself (layout, classes,
  coordinates, reader: everything but the checksums block),
- the content of its training list (the split file), and
- for two-stage and post-hoc methods, the identity of the stage-1 model it starts from: its
  ``run_id``, or the SHA-256 of the file when it carries none.

The hash (``run_id``) is written into the resumable checkpoint, ``model.pt`` and
``metrics.json``. A checkpoint is resumed only by a run with the same ``run_id``; anything else is
moved aside (``benchmark.engine.checkpoint``). Paths, thread counts and the device are not part of
the identity (moving a results folder never invalidates a run); they are recorded in
``metrics.json`` (``meta.execution``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

#: 2: resolved precision, meta.json and stage-1 content hashes joined the identity
IDENTITY_VERSION = 2
#: the key under which meta.json's own hash joins the data checksums
META_KEY = "meta.json"


def split_list_digest(split_file: Optional[Path]) -> str:
    """SHA-256 of the training list's names (whitespace-insensitive), or 'full' without a list."""
    if split_file is None:
        return "full"
    names = Path(split_file).read_text().split()
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def meta_digest(meta: Mapping[str, Any]) -> str:
    """SHA-256 of a dataset description (``meta.json`` as a dict) without its ``checksums`` block:
    the layout (edges, flip pairs), class count and names, coordinates and reader a run trains on."""
    body = {k: v for k, v in meta.items() if k != "checksums"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def data_identity(meta: Any) -> Dict[str, str]:
    """The prepared data's part of an identity: the recorded file checksums plus ``meta.json``'s
    own hash. ``meta``: a :class:`benchmark.data.canonical.DatasetMeta` or its dict."""
    d = dataclasses.asdict(meta) if dataclasses.is_dataclass(meta) else dict(meta)
    return {**dict(d.get("checksums") or {}), META_KEY: meta_digest(d)}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def stage1_identity(path: Path, state: Mapping[str, Any]) -> str:
    """The stage-1 model's part of an identity: its recorded ``run_id``, or, for a file without one
    (made by hand or elsewhere), ``sha256:<the file's hash>`` so that another file means another run."""
    rid = state.get("run_id") if isinstance(state, Mapping) else None
    return str(rid) if rid else f"sha256:{file_sha256(Path(path))}"


def resolved_spec(spec, device=None):
    """``spec`` with ``schedule.precision: auto`` replaced by what it resolves to on ``device``
    (benchmark.models.speed.resolve_precision); any other spec is returned as it is."""
    if spec.schedule.precision != "auto":
        return spec
    from benchmark.models.speed import resolve_precision

    schedule = dataclasses.replace(spec.schedule, precision=resolve_precision("auto", device))
    return dataclasses.replace(spec, schedule=schedule)


def run_identity(spec_json: str, data_checksums: Dict[str, str], split_digest: str,
                 stage1_id: Optional[str] = None) -> str:
    """The run's identity hash (hex, 20 characters) from its parts; pure and order-independent.
    ``data_checksums``: :func:`data_identity` of the prepared dataset."""
    spec = json.loads(spec_json)
    if (spec.get("schedule") or {}).get("precision") == "auto":
        raise ValueError("run identity: resolve precision 'auto' first (benchmark.engine.identity.resolved_spec)")
    payload = {
        "identity_version": IDENTITY_VERSION,
        "spec": spec,
        "data": dict(sorted(data_checksums.items())),
        "split": split_digest,
        "stage1": stage1_id,
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


@dataclasses.dataclass(frozen=True)
class RunIdentity:
    """A run's identity and the parts it was computed from (recorded in metrics.json)."""

    run_id: str
    data: Dict[str, str]
    split_digest: str
    stage1_id: Optional[str]

    def record(self) -> Dict[str, Any]:
        return {"data_checksums": dict(self.data), "split_list_sha256": self.split_digest,
                "stage1_run_id": self.stage1_id, "identity_version": IDENTITY_VERSION}


def identify(spec, dataset_meta: Any, split_file: Optional[Path], stage1_path: Optional[Path] = None,
             stage1_state: Optional[Mapping[str, Any]] = None) -> RunIdentity:
    """The identity of ``spec`` (already resolved, :func:`resolved_spec`) training on a dataset
    with ``dataset_meta`` and ``split_file``, starting from ``stage1_path`` (whose loaded content
    ``stage1_state`` may be given to avoid a second read). The one recipe every caller uses: the
    trainer, the packed-result check and the reference check."""
    stage1_id = None
    if stage1_path is not None:
        if stage1_state is None:
            from benchmark.engine.checkpoint import safe_torch_load
            stage1_state = safe_torch_load(Path(stage1_path), "cpu", what="stage-1 model")
        stage1_id = stage1_identity(Path(stage1_path), stage1_state)
    data = data_identity(dataset_meta)
    digest = split_list_digest(Path(split_file) if split_file else None)
    return RunIdentity(run_identity(spec.to_json(), data, digest, stage1_id), data, digest, stage1_id)
