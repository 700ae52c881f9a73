"""The documented generic dataset format, plus checks shared by every reader (docs/datasets.md).

Generic format: a folder (the dataset's ``root``) holding

- ``joints.npy``: float array ``(N, M, T, V, C)``, zero-padded (frames beyond a sample's length and
  persons that are absent are all zero), **or** ``joints.npz``: one array ``(M, T_i, V, C)`` per
  sample, keyed by the sample name (ragged lengths; loaded with ``allow_pickle=False``);
- ``labels.csv``: columns ``name``, ``label`` (0-based int), one column per benchmark holding
  ``train`` / ``test`` / empty, and optionally ``frames`` (valid length; default: trailing all-zero
  frames are dropped) and ``order_<benchmark>`` (position in the benchmark's source training list;
  default: row order);
- optionally ``classes.txt``: one class name per line, line i = class i.

The joint layout is declared once, as the dataset's ``layout`` in the config: a built-in name
(``layout: ntu25``) or a custom mapping (``layout: {num_node: ..., inward: [...], center: ...}``;
the keys are documented in docs/datasets.md, "Custom joint layouts"). The workflow hands it to this
reader as the ``layout`` option.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from benchmark.data.canonical import DatasetError, sha256_file
from benchmark.data.readers import RawDataset, register_reader
from benchmark.graphs import Layout, LayoutError, get_layout, layout_from_dict

SPLIT_VALUES = ("train", "test", "")
#: channels per joint of each ``coords`` value (the last channel of "+score" formats is a confidence)
COORD_CHANNELS = {"xyz": 3, "xyz+score": 4, "xy+score": 3, "xy": 2}
#: keys of a custom layout mapping (docs/datasets.md, "Custom joint layouts")
LAYOUT_KEYS = {"name", "num_node", "inward", "center", "bone_parent", "flip", "upper", "lower", "spine",
               "shoulders", "norm_center", "joint_names"}
_RESERVED = {"name", "label", "frames", "persons", "order"}


# --------------------------------------------------------------------------- shared checks

def check_sample(x: np.ndarray, where: str, num_node: int, channels: Optional[int] = None) -> np.ndarray:
    """Return ``x`` as float32 (M, T, V, C) after the checks of docs/datasets.md.

    Errors name ``where`` (file and sample): wrong rank, wrong joint or channel count, no person,
    an empty sequence (T = 0; T = 1 is valid), NaN or ±inf coordinates."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise DatasetError(f"{where}: expected an array (persons, frames, joints, channels), got shape {x.shape}")
    m, t, v, c = x.shape
    if v != num_node:
        raise DatasetError(f"{where}: {v} joints per frame, but the layout has {num_node}; "
                           "check the dataset's layout setting (e.g. a 2D COCO-17 file given to a 3D NTU-25 config)")
    if channels is not None and c != channels:
        raise DatasetError(f"{where}: {c} channels per joint, expected {channels}")
    if m == 0:
        raise DatasetError(f"{where}: no person in this sample")
    if t == 0:
        raise DatasetError(f"{where}: empty sequence (0 frames after cleaning); remove the sample or fix the file")
    x = x.astype(np.float32, copy=False)
    bad = ~np.isfinite(x)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DatasetError(f"{where}: NaN or inf coordinate at (person, frame, joint, channel) = {idx}; "
                           "fix or drop this sample")
    return x


def resolve_layout(layout: Union[str, Mapping, Layout, None], default: Optional[str] = None) -> Layout:
    """A built-in layout name, a custom layout dict (docs/datasets.md), or a Layout."""
    if isinstance(layout, Layout):
        return layout
    if layout is None:
        if default is None:
            raise DatasetError("no layout given: set 'layout' in the dataset config (a built-in name such as "
                               "ntu25 / nw_ucla20 / coco17 / openpose18, or a custom layout mapping)")
        layout = default
    if isinstance(layout, str):
        return get_layout(layout)
    if not isinstance(layout, Mapping):
        raise LayoutError(f"layout must be a built-in name or a mapping, got {type(layout).__name__}")
    unknown = sorted(set(layout) - LAYOUT_KEYS)
    if unknown:
        raise LayoutError(f"custom layout: unknown key(s) {unknown}; allowed: {sorted(LAYOUT_KEYS)} "
                          "(see docs/datasets.md, 'Custom joint layouts')")
    missing = sorted({"num_node", "inward", "center"} - set(layout))
    if missing:
        raise LayoutError(f"custom layout: missing key(s) {missing} (see docs/datasets.md, 'Custom joint layouts')")
    try:
        return layout_from_dict(dict(layout))
    except (KeyError, TypeError, ValueError) as e:
        raise LayoutError(f"custom layout: {type(e).__name__}: {e}; a custom layout needs num_node, inward "
                          "(list of [child, parent]) and center (see docs/datasets.md)") from e


def training_order(table: pd.DataFrame, benchmark: str) -> List[str]:
    """Names of ``benchmark``'s training split in its official source order.

    Uses column ``order_<benchmark>`` when present (NTU: the BRL standard-list order differs between
    xsub and xset, so one row order cannot serve both), else the table's row order."""
    train = table[table[benchmark].fillna("") == "train"]
    col = f"order_{benchmark}"
    if col in table.columns:
        train = train.sort_values(col, kind="stable")
    return list(train["name"])


def folder_digest(files: Iterable[Path]) -> str:
    """One sha256 for many input files: sha256 over the sorted 'name sha256' lines."""
    import hashlib
    lines = sorted(f"{Path(f).name} {sha256_file(Path(f))}" for f in files)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def trim_trailing_zero_frames(x: np.ndarray) -> np.ndarray:
    """Drop trailing frames in which every person and joint is exactly zero (padding)."""
    nz = np.flatnonzero(np.any(x != 0, axis=(0, 2, 3)))
    return x[:, : (nz[-1] + 1 if nz.size else 0)]


# --------------------------------------------------------------------------- generic reader

def _read_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DatasetError(f"{path}: label table not found (the generic format needs name,label columns)")
    table = pd.read_csv(path, dtype={"name": str}, keep_default_na=False)
    for col in ("name", "label"):
        if col not in table.columns:
            raise DatasetError(f"{path}: missing column '{col}' (found {list(table.columns)})")
    if table["name"].duplicated().any():
        dup = table.loc[table["name"].duplicated(), "name"].iloc[0]
        raise DatasetError(f"{path}: sample name '{dup}' appears twice")
    try:
        table["label"] = table["label"].astype(np.int64)
    except ValueError as e:
        raise DatasetError(f"{path}: column 'label' must hold integers: {e}") from e
    return table


def _check_dense_labels(labels: np.ndarray, where: Path) -> None:
    """With ``num_classes`` left to default (max label + 1) and no class file, every class must
    have a sample: a stray label far above the rest (99 among 0..4) would otherwise make a
    100-class dataset whose 95 empty classes score 0."""
    present = np.unique(labels.astype(np.int64))
    if len(present) == 0 or present.min() < 0:
        return                                      # the range check below reports it
    missing = np.setdiff1d(np.arange(int(present.max()) + 1), present)
    if len(missing):
        top = present[-2] if len(present) > 1 else -1
        raise DatasetError(f"{where}: labels run up to {present.max()}, but {len(missing)} of the classes "
                           f"0..{present.max()} have no sample (e.g. {', '.join(str(int(c)) for c in missing[:5])}; the "
                           f"next largest label is {top}); fix the labels, or set the dataset's options.num_classes "
                           "(or a classes.txt) if those classes really have no sample")


@register_reader("generic", version="1")
def read_generic(root: Path, dataset_id: str, layout=None, num_classes: Optional[int] = None,
                 benchmarks: Optional[Sequence[str]] = None, coords: str = "xyz",
                 array_file: Optional[str] = None, label_file: str = "labels.csv",
                 class_file: str = "classes.txt", **unknown) -> RawDataset:
    """Read the generic format described in the module docstring and docs/datasets.md.

    Options: ``layout`` (name or custom dict; required), ``num_classes`` (default max label + 1),
    ``benchmarks`` (default every column other than name/label/frames/persons/order*),
    ``coords`` ('xyz' → C = 3; 'xyz+score' → C = 4, the last channel a confidence; 'xy+score' → C = 3
    with a score channel; 'xy' → C = 2),
    ``array_file`` (default joints.npy, else joints.npz), ``label_file``, ``class_file``."""
    if unknown:
        raise DatasetError(f"generic reader: unknown option(s) {sorted(unknown)}")
    root = Path(root)
    lay = resolve_layout(layout)
    channels = COORD_CHANNELS.get(coords)
    if channels is None:
        raise DatasetError(f"generic reader: coords must be one of {', '.join(COORD_CHANNELS)}, got '{coords}'")
    table = _read_table(root / label_file)
    if benchmarks is None:
        benchmarks = [c for c in table.columns if c not in _RESERVED and not c.startswith("order")]
    benchmarks = list(benchmarks)
    if not benchmarks:
        raise DatasetError(f"{root / label_file}: no benchmark column (add e.g. a 'default' column with train/test)")
    for b in benchmarks:
        if b not in table.columns:
            raise DatasetError(f"{root / label_file}: no column for benchmark '{b}'")
        bad = set(table[b].astype(str)) - set(SPLIT_VALUES)
        if bad:
            raise DatasetError(f"{root / label_file}: column '{b}' holds {sorted(bad)}; allowed: train, test, empty")
    n_cls = int(num_classes) if num_classes is not None else int(table["label"].max()) + 1
    if num_classes is None and not (root / class_file).exists():
        _check_dense_labels(table["label"].to_numpy(), root / label_file)
    if table["label"].min() < 0 or table["label"].max() >= n_cls:
        raise DatasetError(f"{root / label_file}: labels must lie in 0..{n_cls - 1} (0-based), "
                           f"found {table['label'].min()}..{table['label'].max()}")

    if array_file is None:
        array_file = "joints.npy" if (root / "joints.npy").exists() else "joints.npz"
    apath = root / array_file
    if not apath.exists():
        raise DatasetError(f"{apath}: array file not found (expected joints.npy or joints.npz in {root})")
    names = list(table["name"])
    samples: List[np.ndarray] = []
    try:
        if apath.suffix == ".npz":
            with np.load(apath, allow_pickle=False) as z:
                missing = [n for n in names if n not in z.files]
                if missing:
                    raise DatasetError(f"{apath}: {len(missing)} sample(s) of {label_file} have no array, "
                                       f"e.g. '{missing[0]}'")
                raw_arrays = [z[n] for n in names]
        else:
            arr = np.load(apath, mmap_mode="r", allow_pickle=False)
            if arr.ndim != 5 or arr.shape[0] != len(names):
                raise DatasetError(f"{apath}: expected shape (N={len(names)}, M, T, V, C), got {arr.shape}")
            raw_arrays = [np.asarray(arr[i]) for i in range(len(names))]
    except (ValueError, OSError, EOFError) as e:
        raise DatasetError(f"{apath}: cannot read ({type(e).__name__}: {e}); a truncated or "
                           "pickled-object file? save with numpy.save / numpy.savez") from e
    has_frames = "frames" in table.columns
    for i, (name, x) in enumerate(zip(names, raw_arrays)):
        where = f"{apath}: sample '{name}'"
        x = np.asarray(x)
        if x.ndim == 4:
            if has_frames:
                t = int(table["frames"].iloc[i])
                if not 0 <= t <= x.shape[1]:
                    raise DatasetError(f"{where}: frames={t} outside 0..{x.shape[1]}")
                x = x[:, :t]
            else:
                x = trim_trailing_zero_frames(x)
        samples.append(check_sample(x, where, lay.num_node, channels))

    classes: List[str] = []
    if (root / class_file).exists():
        classes = [l.strip() for l in (root / class_file).read_text().splitlines() if l.strip()]
        if len(classes) != n_cls:
            raise DatasetError(f"{root / class_file}: {len(classes)} class names for {n_cls} classes")
    keep = ["name", "label"] + benchmarks + [c for c in table.columns if c.startswith("order")]
    out = table[keep].reset_index(drop=True)
    extra: Dict[str, object] = {}
    if not isinstance(layout, str):
        extra["layout_spec"] = dict(layout) if isinstance(layout, Mapping) else None
    return RawDataset(dataset=dataset_id, layout=lay.name, num_classes=n_cls, benchmarks=benchmarks,
                      samples=samples, table=out, coords=coords, class_names=classes,
                      sources={str(apath): sha256_file(apath), str(root / label_file): sha256_file(root / label_file)},
                      reader="generic", reader_version="1", extra=extra)

