"""The canonical on-disk dataset format that every reader writes once.

A prepared dataset is a folder::

    joints.npy   float32 (N, M, T_max, V, C), memory-mappable (np.load(mmap_mode="r"))
    table.csv    one row per sample: name, label (0-based), frames, persons, and one column per
                 benchmark (e.g. ``xsub``) holding ``train`` / ``test`` / empty
    meta.json    dataset id, layout, num_classes, class names, benchmarks, reader + version,
                 source checksums, and the sha256 of joints.npy and table.csv

Frames beyond ``frames`` and persons beyond ``persons`` are zero. The folder is written into a
temporary sibling and renamed into place, so a present ``meta.json`` always means a complete
dataset (docs/datasets.md, docs/workflow.md).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
import pandas as pd

FORMAT_VERSION = 1
TABLE_COLUMNS = ("name", "label", "frames", "persons")


class DatasetError(ValueError):
    """Bad input data: the message names the file (or sample) and the problem."""


@dataclass
class DatasetMeta:
    dataset: str
    layout: str
    num_classes: int
    benchmarks: List[str]
    reader: str
    reader_version: str
    coords: str = "xyz"                      # "xyz" (3D) or "xy+score" (2D)
    class_names: List[str] = field(default_factory=list)
    sources: Dict[str, str] = field(default_factory=dict)   # input file -> sha256 (or a summary)
    normalized: str = "none"                 # normalisation applied at prepare time
    extra: Dict[str, object] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    checksums: Dict[str, str] = field(default_factory=dict)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def check_finite(array: np.ndarray, where: str) -> None:
    """Stop on NaN/inf coordinates, naming the sample and the first bad frame."""
    bad = ~np.isfinite(array)
    if bad.any():
        idx = np.argwhere(bad)[0]
        raise DatasetError(f"{where}: non-finite coordinate (NaN or inf) at index {tuple(int(i) for i in idx)}; "
                           "fix or drop this sample")


def pack_samples(samples: Sequence[np.ndarray], max_persons: int, where: Sequence[str]) -> tuple:
    """Pad a list of (M_i, T_i, V, C) arrays to one (N, M, T_max, V, C) float32 array.

    Returns (array, frames, persons). Persons beyond ``max_persons`` are dropped."""
    if not samples:
        raise DatasetError("no samples to write")
    v, c = samples[0].shape[2:]
    t_max = max(s.shape[1] for s in samples)
    out = np.zeros((len(samples), max_persons, t_max, v, c), dtype=np.float32)
    frames = np.zeros(len(samples), dtype=np.int64)
    persons = np.zeros(len(samples), dtype=np.int64)
    for i, (s, name) in enumerate(zip(samples, where)):
        if s.ndim != 4 or s.shape[2:] != (v, c):
            raise DatasetError(f"{name}: expected shape (M, T, {v}, {c}), got {tuple(s.shape)}")
        check_finite(s, name)
        m = min(s.shape[0], max_persons)
        out[i, :m, : s.shape[1]] = s[:m]
        frames[i] = s.shape[1]
        persons[i] = m
    return out, frames, persons


def _atomic_dir_write(target: Path, write) -> None:
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        write(tmp)
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_dataset(out_dir: Path, joints: np.ndarray, table: pd.DataFrame, meta: DatasetMeta) -> Path:
    """Write a canonical dataset atomically (temp folder + rename), with checksums."""
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise DatasetError(f"table is missing columns {missing}")
    if len(table) != joints.shape[0]:
        raise DatasetError(f"table has {len(table)} rows but the array holds {joints.shape[0]} samples")
    if table["name"].duplicated().any():
        dup = table.loc[table["name"].duplicated(), "name"].iloc[0]
        raise DatasetError(f"duplicate sample name '{dup}'")
    labels = table["label"].to_numpy()
    if labels.min() < 0 or labels.max() >= meta.num_classes:
        raise DatasetError(f"labels must lie in 0..{meta.num_classes - 1}, found {labels.min()}..{labels.max()}")
    for b in meta.benchmarks:
        if b not in table.columns:
            raise DatasetError(f"table has no split column for benchmark '{b}'")
    check_finite(joints, f"{meta.dataset} joints")

    def write(tmp: Path) -> None:
        np.save(tmp / "joints.npy", np.ascontiguousarray(joints, dtype=np.float32))
        table.to_csv(tmp / "table.csv", index=False)
        meta.checksums = {"joints.npy": sha256_file(tmp / "joints.npy"),
                          "table.csv": sha256_file(tmp / "table.csv")}
        with open(tmp / "meta.json", "w") as f:
            json.dump(meta.__dict__, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())

    _atomic_dir_write(Path(out_dir), write)
    return Path(out_dir)


@dataclass
class CanonicalDataset:
    root: Path
    joints: np.ndarray          # memory-mapped (N, M, T_max, V, C)
    table: pd.DataFrame
    meta: DatasetMeta

    @property
    def layout(self):
        from benchmark.graphs import get_layout, layout_from_dict
        spec = self.meta.extra.get("layout_spec")
        return layout_from_dict(spec) if spec else get_layout(self.meta.layout)

    def split_indices(self, benchmark: str, part: str) -> np.ndarray:
        if benchmark not in self.table.columns:
            raise DatasetError(f"{self.root}: no benchmark '{benchmark}'; available: {self.meta.benchmarks}")
        return np.flatnonzero(self.table[benchmark].fillna("").to_numpy() == part)

    def indices_of(self, names: Sequence[str], source: str = "split list") -> np.ndarray:
        pos = pd.Series(np.arange(len(self.table)), index=self.table["name"])
        missing = [n for n in names if n not in pos.index]
        if missing:
            raise DatasetError(f"{source}: {len(missing)} sample(s) not in the prepared dataset {self.root}, "
                               f"e.g. '{missing[0]}'")
        return pos.loc[list(names)].to_numpy()


VERIFIED_CACHE = ".verified.json"
#: the prepared files whose SHA-256 meta.json must record
REQUIRED_CHECKSUMS = ("joints.npy", "table.csv")


def verify_checksums(root: Path, meta: DatasetMeta) -> None:
    """Check each prepared file against the SHA-256 recorded in meta.json.

    Hashing a large ``joints.npy`` takes seconds, so a successful check is cached in
    ``.verified.json`` keyed by (size, mtime, inode, ctime): a rewrite, truncation or in-place edit
    changes one of them, even when the mtime is set back afterwards (that changes the ctime, which
    no user call can restore), and triggers a full re-hash. A dataset without the checksums of both
    files verifies nothing and is refused."""
    missing = [name for name in REQUIRED_CHECKSUMS if not (meta.checksums or {}).get(name)]
    if missing:
        raise DatasetError(f"{root / 'meta.json'}: no checksum for {', '.join(missing)} (the 'checksums' block is "
                           f"missing or incomplete), so the prepared files cannot be verified; delete {root} and run "
                           "the 'prepare' step again")
    cache_path = root / VERIFIED_CACHE
    try:
        cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    except (OSError, ValueError):
        cache = {}
    changed = False
    for name, digest in meta.checksums.items():
        path = root / name
        try:
            st = path.stat()
        except FileNotFoundError:
            raise DatasetError(f"{path}: missing from the prepared dataset; delete {root} and run the "
                               "'prepare' step again") from None
        key = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, digest]
        if cache.get(name) == key:
            continue
        if sha256_file(path) != digest:
            raise DatasetError(f"{path}: checksum mismatch with {root / 'meta.json'} (the file was changed or "
                               f"truncated after it was prepared); delete {root} and run the 'prepare' step again")
        cache[name] = key
        changed = True
    if changed:
        try:
            from benchmark.io import atomic_write_json
            atomic_write_json(cache_path, cache)
        except OSError:
            pass                        # a read-only dataset folder is fine: verify again next time


def load_dataset_meta(root: Path, verify: bool = True) -> DatasetMeta:
    """A prepared dataset's description (meta.json), its files checked against the recorded
    checksums when ``verify`` (cached, see :func:`verify_checksums`)."""
    root = Path(root)
    meta_path = root / "meta.json"
    if not meta_path.exists():
        raise DatasetError(f"{root}: not a prepared dataset (no meta.json); run the 'prepare' step first")
    try:
        with open(meta_path) as f:
            raw = json.load(f)
        meta = DatasetMeta(**raw)
    except (ValueError, TypeError) as e:
        raise DatasetError(f"{meta_path}: not a valid dataset description ({e}); delete {root} and run the "
                           "'prepare' step again") from None
    if verify:
        verify_checksums(root, meta)
    return meta


def load_dataset(root: Path, verify: bool = True) -> CanonicalDataset:
    """Open a prepared dataset (joints memory-mapped). ``verify`` checks the files against the
    checksums in meta.json (cached, so it is cheap after the first time)."""
    root = Path(root)
    meta = load_dataset_meta(root, verify)
    try:
        joints = np.load(root / "joints.npy", mmap_mode="r")
    except (ValueError, OSError, EOFError) as e:
        raise DatasetError(f"{root / 'joints.npy'}: cannot read the prepared array ({e}); delete {root} and run "
                           "the 'prepare' step again") from None
    try:
        table = pd.read_csv(root / "table.csv", dtype={"name": str}, keep_default_na=False)
    except (ValueError, OSError) as e:
        raise DatasetError(f"{root / 'table.csv'}: cannot read the sample table ({e}); delete {root} and run "
                           "the 'prepare' step again") from None
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise DatasetError(f"{root / 'table.csv'}: missing column(s) {missing}")
    if joints.ndim != 5 or joints.shape[0] != len(table):
        raise DatasetError(f"{root / 'joints.npy'}: shape {tuple(joints.shape)} does not match the {len(table)} "
                           f"rows of table.csv (expected (N, M, T, V, C) with N = {len(table)}); delete {root} and "
                           "run the 'prepare' step again")
    return CanonicalDataset(root=root, joints=joints, table=table, meta=meta)
