"""Checkpoint lifecycle: safe loading, resume only with the same identity, nothing deleted silently.

- Every checkpoint and stage-1 model is read with ``torch.load(weights_only=True)``: tensors and
  plain containers only, so a crafted file cannot run code while it is being read.
- ``last.pt`` (resumable state) is resumed only when its ``run_id`` equals the current run's. A
  checkpoint of another identity (data, split, schedule or version changed) or an unreadable one is
  moved to ``<ckpt>/stale/<run_id or reason>.pt`` with a log line, and the run starts fresh.
- Leftover ``.<name>.*.tmp`` files of a write killed half-way are removed before a run starts.
- A finished run removes ``last.pt`` (unless asked to keep it), so a forced rerun trains again.
"""
from __future__ import annotations

import os
import pickle
import sys
import time
import zipfile
from pathlib import Path
from typing import Any, Dict, Optional

from benchmark.engine.config import ConfigError


class CheckpointError(ConfigError):
    """A checkpoint or model file that cannot be used; the message names the file and the fix."""


def safe_torch_load(path: Path, map_location: Any = "cpu", what: str = "checkpoint") -> Dict[str, Any]:
    """``torch.load`` restricted to tensors and plain containers, with one-line errors."""
    import torch

    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: {what} not found")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: refusing to load this {what}: it holds more than tensors and plain "
                              f"containers (it could run code when unpickled): {first}. Only use files written "
                              "by this suite.") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, AttributeError, KeyError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: cannot read this {what} (truncated or corrupt: {first}); "
                              "delete it and run the job that wrote it again") from None
    if not isinstance(obj, dict) or "model" not in obj:
        raise CheckpointError(f"{path}: not a {what} written by this suite (no 'model' entry)")
    return obj


def clean_partial_writes(*folders: Path) -> int:
    """Remove ``.<name>.*.tmp`` files (atomic writes interrupted before their rename)."""
    removed = 0
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for tmp in folder.glob(".*.tmp"):
            try:
                tmp.unlink()
                removed += 1
            except FileNotFoundError:
                pass
    return removed


def move_aside(path: Path, tag: str, reason: str) -> Path:
    """Move a checkpoint that cannot be resumed to ``stale/`` next to it and say so (never delete)."""
    path = Path(path)
    stale = path.parent / "stale"
    stale.mkdir(parents=True, exist_ok=True)
    target = stale / f"{tag}.pt"
    if target.exists():
        target = stale / f"{tag}.{time.strftime('%Y%m%dT%H%M%S')}.{os.getpid()}.pt"
    os.replace(path, target)
    print(f"[train] {path}: {reason}; moved it to {target} and starting from scratch", file=sys.stderr)
    return target


#: what :func:`load_resumable` hands back: every entry the trainer restores from
RESUME_KEYS = ("model", "optimizer", "epoch", "log")


def state_mismatch(expected: Dict[str, Any], found: Dict[str, Any]) -> Optional[str]:
    """Why the weights ``found`` cannot be loaded into a model whose ``state_dict()`` is
    ``expected`` (missing or unexpected entries, another shape), in a few words; None if they fit."""
    missing = [k for k in expected if k not in found]
    extra = [k for k in found if k not in expected]
    if missing or extra:
        parts = ([f"{len(missing)} entr{'y' if len(missing) == 1 else 'ies'} missing, e.g. '{missing[0]}'"]
                 if missing else []) + ([f"{len(extra)} unexpected, e.g. '{extra[0]}'"] if extra else [])
        return "; ".join(parts)
    for k, v in expected.items():
        a, b = tuple(getattr(v, "shape", ())), tuple(getattr(found[k], "shape", ()))
        if a != b:
            return f"'{k}' has shape {b} in the file, {a} in this run's model"
    return None


def load_resumable(path: Path, run_id: str, map_location: Any = "cpu",
                   model: Any = None) -> Optional[Dict[str, Any]]:
    """The resumable state at ``path`` if it belongs to ``run_id`` (and, given ``model``, fits its
    shapes); otherwise move it aside, None."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = safe_torch_load(path, map_location, what="checkpoint")
    except CheckpointError as e:
        if "refusing to load" in str(e):
            raise                      # never silently step over a file that may be hostile
        move_aside(path, "unreadable", str(e).split(": ", 1)[-1])
        return None
    old = state.get("run_id")
    if old != run_id:
        move_aside(path, str(old or "no-id"),
                   f"checkpoint belongs to another run identity ({old} != {run_id}: data, split list, "
                   "config or a version changed)")
        return None
    lacking = [k for k in RESUME_KEYS if k not in state]
    if lacking:
        move_aside(path, "incomplete", f"checkpoint of this run lacks {lacking} (not written by this suite's trainer)")
        return None
    why = state_mismatch(model.state_dict(), state["model"]) if model is not None else None
    if why:
        move_aside(path, f"{run_id}-shape",
                   f"checkpoint has this run's identity but does not fit its model ({why}): the model code "
                   "changed without a version bump (bump it in benchmark/versions.py)")
        return None
    return state
