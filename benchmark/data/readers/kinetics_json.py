"""ST-GCN Kinetics-skeleton JSON reader (OpenPose-18), source name ``stgcn_openpose`` (docs/datasets.md).

``root`` holds ``kinetics_train/<id>.json``, ``kinetics_val/<id>.json`` and the label files
``kinetics_train_label.json`` / ``kinetics_val_label.json``. Canonical conversion (docs/datasets.md):
t = frame_index − 1; per frame the first ``num_person_in`` (5) skeletons in file order, then the
top ``max_persons`` (2) by summed score, **per frame** (a slot may change identity between frames);
channels (x, y, score) in raw [0, 1] frame coordinates (centring is the 'stgcn_center'
normalisation); trailing frames without any skeleton are trimmed, interior empty frames stay zero.

Class indices: ``label_index`` of the ST-GCN files is the position of the class name in
alphabetical order. The reader maps every clip's class *name* to its index through a reference label
file (default: the test part's label file, which holds all 400 classes) and checks that the
clip's own ``label_index`` agrees (``check_label_index``; turn it off for re-indexed copies such as
the 5 training samples beside the project).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
import pandas as pd

from benchmark.data.canonical import DatasetError, sha256_file
from benchmark.data.readers import RawDataset, register_reader
from benchmark.data.readers.generic import check_sample, folder_digest

log = logging.getLogger(__name__)

NUM_JOINTS = 18
DEFAULT_PARTS = {"kinetics_train": "train", "kinetics_val": "test"}


def _load_json(path: Path, what: str):
    if not path.exists():
        raise DatasetError(f"{path}: {what} not found")
    try:
        with open(path) as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: not valid JSON (truncated or corrupt?): {e}") from None


def class_index(label_file: Path, num_classes: int = 400) -> Dict[str, int]:
    """class name → index from an ST-GCN label file; names must map to one index each."""
    d = _load_json(label_file, "label file")
    out: Dict[str, int] = {}
    for vid, e in d.items():
        name, idx = e.get("label"), e.get("label_index")
        if not isinstance(name, str) or not isinstance(idx, int):
            raise DatasetError(f"{label_file}: entry '{vid}' needs 'label' (str) and 'label_index' (int)")
        if not 0 <= idx < num_classes:
            raise DatasetError(f"{label_file}: entry '{vid}': label_index {idx} outside 0..{num_classes - 1}")
        if out.setdefault(name, idx) != idx:
            raise DatasetError(f"{label_file}: class '{name}' has two indices ({out[name]} and {idx})")
    return out


def clip_to_array(clip: dict, where: str, num_person_in: int = 5, max_persons: int = 2) -> np.ndarray:
    """One clip's ``data`` → float32 (max_persons, T, 18, 3) per docs/datasets.md (may have T = 0)."""
    frames = clip.get("data")
    if not isinstance(frames, list):
        raise DatasetError(f"{where}: no 'data' list of frame records")
    recs: List[Tuple[int, int, np.ndarray]] = []       # (t, slot, (18, 3))
    t_max = 0
    for k, fr in enumerate(frames):
        try:
            t = int(fr["frame_index"]) - 1
            skels = fr["skeleton"]
        except (KeyError, TypeError, ValueError):
            raise DatasetError(f"{where}: frame record {k} lacks 'frame_index' / 'skeleton'") from None
        if t < 0:
            raise DatasetError(f"{where}: frame record {k}: frame_index {t + 1} < 1")
        for slot, s in enumerate(skels[:num_person_in]):
            pose, score = s.get("pose"), s.get("score")
            if not isinstance(pose, list) or len(pose) != 2 * NUM_JOINTS:
                raise DatasetError(f"{where}: frame_index {t + 1}, skeleton {slot}: 'pose' must have 36 values, "
                                   f"got {len(pose) if isinstance(pose, list) else type(pose).__name__}")
            if not isinstance(score, list) or len(score) != NUM_JOINTS:
                raise DatasetError(f"{where}: frame_index {t + 1}, skeleton {slot}: 'score' must have 18 values")
            try:
                p = np.asarray(pose, dtype=np.float32).reshape(NUM_JOINTS, 2)
                sc = np.asarray(score, dtype=np.float32)
            except (TypeError, ValueError):
                raise DatasetError(f"{where}: frame_index {t + 1}: non-numeric pose/score") from None
            recs.append((t, slot, np.concatenate([p, sc[:, None]], axis=1)))
        t_max = max(t_max, t + 1)
    buf = np.zeros((num_person_in, t_max, NUM_JOINTS, 3), dtype=np.float32)
    for t, slot, v in recs:
        buf[slot, t] = v
    # per frame: sort slots by summed score, descending (stable), keep the top max_persons
    order = np.argsort(-buf[..., 2].sum(axis=-1), axis=0, kind="stable")      # (num_person_in, T)
    buf = np.take_along_axis(buf, order[:, :, None, None], axis=0)[:max_persons]
    occupied = np.flatnonzero(buf.any(axis=(0, 2, 3)))
    return buf[:, : (occupied[-1] + 1 if occupied.size else 0)]


@register_reader("stgcn_openpose", version="1")
def read_kinetics_json(root: Path, dataset_id: str = "kinetics", parts: Optional[Mapping[str, str]] = None,
                       label_files: Optional[Mapping[str, Union[str, Path]]] = None,
                       class_label_file: Union[str, Path, None] = None, num_classes: int = 400,
                       check_label_index: bool = True, require_all: bool = True, num_person_in: int = 5,
                       max_persons: int = 2, on_empty: str = "error") -> RawDataset:
    """Read the ST-GCN Kinetics-skeleton release.

    Options: ``parts`` (folder → 'train'/'test'; default kinetics_train → train, kinetics_val → test),
    ``label_files`` (folder → label JSON; default ``<root>/<folder>_label.json``),
    ``class_label_file`` (label file defining name → index; default the test part's label file),
    ``num_classes`` (400), ``check_label_index`` (clip and label-file indices must equal the
    reference index of the class name), ``require_all`` (every label-file entry with
    has_skeleton = true must have its JSON file; false for a partial copy), ``num_person_in`` (5),
    ``max_persons`` (2), ``on_empty`` ('error' or 'skip' clips whose frames hold no skeleton)."""
    root = Path(root)
    parts = dict(parts or DEFAULT_PARTS)
    if on_empty not in ("error", "skip"):
        raise DatasetError(f"stgcn_openpose: on_empty must be 'error' or 'skip', got '{on_empty}'")
    bad = {v for v in parts.values()} - {"train", "test"}
    if bad:
        raise DatasetError(f"stgcn_openpose: parts must map folders to 'train' or 'test', got {sorted(bad)}")
    lfiles = {f: Path(label_files[f]) if label_files and f in label_files else root / f"{f}_label.json"
              for f in parts}
    lfiles = {f: (p if p.is_absolute() or p.exists() else root / p) for f, p in lfiles.items()}
    ref_file = Path(class_label_file) if class_label_file else lfiles[next(
        (f for f, r in parts.items() if r == "test"), next(iter(parts)))]
    if not ref_file.is_absolute() and not ref_file.exists():
        ref_file = root / ref_file
    cls = class_index(ref_file, num_classes)
    names_sorted = [n for n, _ in sorted(cls.items(), key=lambda kv: kv[1])]

    rows, samples, files_read = [], [], []
    skipped_empty = 0
    for folder, role in parts.items():
        fdir = root / folder
        if not fdir.is_dir():
            raise DatasetError(f"{fdir}: clip folder not found (set options.parts to the folder names)")
        labels = _load_json(lfiles[folder], "label file")
        on_disk = {p.stem: p for p in fdir.glob("*.json")}
        unknown = sorted(set(on_disk) - set(labels))
        if unknown:
            raise DatasetError(f"{fdir / (unknown[0] + '.json')}: clip not in {lfiles[folder].name}")
        for vid in sorted(labels):
            entry = labels[vid]
            if not entry.get("has_skeleton", False):
                continue
            path = on_disk.get(vid)
            if path is None:
                if require_all:
                    raise DatasetError(f"{lfiles[folder]}: clip '{vid}' (has_skeleton: true) has no file "
                                       f"{fdir / (vid + '.json')}; set options.require_all: false for a partial copy")
                continue
            clip = _load_json(path, "clip")
            name = clip.get("label")
            if name not in cls:
                raise DatasetError(f"{path}: class '{name}' is not in the reference label file {ref_file.name}")
            idx = cls[name]
            if entry.get("label") != name:
                raise DatasetError(f"{path}: class '{name}' differs from its label-file entry '{entry.get('label')}'")
            if check_label_index:
                for src, val in (("clip", clip.get("label_index")), (lfiles[folder].name, entry.get("label_index"))):
                    if val != idx:
                        raise DatasetError(f"{path}: label_index {val} in the {src} differs from index {idx} of "
                                           f"'{name}' in {ref_file.name} (re-indexed copy? set "
                                           "options.check_label_index: false)")
            x = clip_to_array(clip, str(path), num_person_in, max_persons)
            if x.shape[1] == 0 and on_empty == "skip":
                skipped_empty += 1
                continue
            samples.append(check_sample(x, str(path), NUM_JOINTS, 3))
            rows.append((vid, idx, role))
            files_read.append(path)
    if not rows:
        raise DatasetError(f"{root}: no clip read")
    table = pd.DataFrame(rows, columns=["name", "label", "default"])
    if table["name"].duplicated().any():
        raise DatasetError(f"{root}: clip '{table.loc[table['name'].duplicated(), 'name'].iloc[0]}' in two parts")
    # training rows first (file-name order, the natural order of the release), then the test rows
    order = np.argsort((table["default"] != "train").to_numpy(), kind="stable")
    table = table.iloc[order].reset_index(drop=True)
    samples = [samples[i] for i in order]
    table["order_default"] = np.where(table["default"] == "train", np.arange(len(table)), -1)
    if skipped_empty:
        log.warning("stgcn_openpose: skipped %d clip(s) without any skeleton", skipped_empty)
    sources = {str(p): sha256_file(p) for p in set(lfiles.values())}
    sources[str(root) + "/<parts>/*.json"] = f"sha256 of {len(files_read)} files: {folder_digest(files_read)}"
    return RawDataset(dataset=dataset_id, layout="openpose18", num_classes=num_classes, benchmarks=["default"],
                      samples=samples, table=table, coords="xy+score", class_names=names_sorted if len(names_sorted) == num_classes else [],
                      sources=sources, reader="stgcn_openpose", reader_version="1",
                      extra={"skipped_empty": skipped_empty})
