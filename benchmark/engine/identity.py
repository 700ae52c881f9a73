"""Run identity: one hash over everything that can change a run's numbers.

A run is identified by

- its run spec (dataset, split, backbone, method and options, schedule, augmentation, seed,
  fidelity, and the method / backbone / data / engine versions it carries),
- the prepared data it reads (the SHA-256 of ``joints.npy`` and ``table.csv`` recorded in the
  dataset's ``meta.json`` and checked on load),
- the content of its training list (the split file), and
- for two-stage and post-hoc methods, the identity of the stage-1 model it starts from.

The hash (``run_id``) is written into the resumable checkpoint, ``model.pt`` and
``metrics.json``. A checkpoint is resumed only by a run with the same ``run_id``; anything else is
moved aside (``benchmark.engine.checkpoint``). Paths, thread counts and the device are not part of
the identity: moving a results folder or changing hardware never invalidates a run.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Dict, Optional

IDENTITY_VERSION = 1


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def split_list_digest(split_file: Optional[Path]) -> str:
    """SHA-256 of the training list's names (whitespace-insensitive), or 'full' without a list."""
    if split_file is None:
        return "full"
    names = Path(split_file).read_text().split()
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def run_identity(spec_json: str, data_checksums: Dict[str, str], split_digest: str,
                 stage1_id: Optional[str] = None) -> str:
    """The run's identity hash (hex, 20 characters) from its parts; pure and order-independent."""
    payload = {
        "identity_version": IDENTITY_VERSION,
        "spec": json.loads(spec_json),
        "data": dict(sorted(data_checksums.items())),
        "split": split_digest,
        "stage1": stage1_id,
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:20]
