"""pyskl annotation pickles (docs/datasets.md): NTU 3D/2D inline keypoints and the Kinetics-400 HRNet
table of contents with its kpfiles. Every pickle is loaded with the restricted unpickler.

- ``pyskl_pickle``: ``{'split': {...}, 'annotations': [...]}`` with inline ``keypoint``
  (``ntu60_3danno.pkl``, ``ntu120_3danno.pkl``, ``ntu{60,120}_hrnet.pkl`` and look-alikes).
- ``pyskl_hrnet``: ``k400_hrnet.pkl`` (keypoints in separate kpfiles, decoded like pyskl's
  ``DecompressPose``, docs/datasets.md).

2D samples get the score appended as channel 2: (M, T, 17, 3) = (x, y, score), pixel coordinates.
The image shape goes into the table columns ``img_h`` / ``img_w`` (used by 'prenorm2d').
"""
from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from benchmark.data.canonical import DatasetError, sha256_file
from benchmark.data.readers import RawDataset, register_reader
from benchmark.data.readers.generic import check_sample, resolve_layout
from benchmark.data.readers.ntu_skeleton import NAME_RE, NTU_VARIANTS, ntu_label, ntu_table
from benchmark.data.readers.safe_pickle import safe_load

log = logging.getLogger(__name__)

_PARTS = {"train": "train", "val": "test", "test": "test"}


def _find_pickle(root: Path, candidates: Sequence[str], option: str) -> Path:
    if root.is_file():
        return root
    for c in candidates:
        if (root / c).exists():
            return root / c
    found = sorted(p.name for p in root.glob("*.pkl"))
    raise DatasetError(f"{root}: none of {list(candidates)} found (pickles here: {found or 'none'}); "
                       f"set options.{option} to the file name or point root at the file")


def split_benchmarks(split: Dict[str, Sequence[str]], where: str) -> Dict[str, Dict[str, str]]:
    """pyskl split keys → {benchmark: {sample id: 'train'|'test'}}.

    ``xsub_train`` / ``xsub_val`` → benchmark 'xsub'; plain ``train`` / ``val`` → 'default'."""
    out: Dict[str, Dict[str, str]] = defaultdict(dict)
    for key, ids in split.items():
        bench, _, part = key.rpartition("_")
        bench = bench or "default"
        if part not in _PARTS:
            raise DatasetError(f"{where}: split key '{key}' is not <benchmark>_train / <benchmark>_val")
        if not isinstance(ids, (list, tuple)):
            raise DatasetError(f"{where}: split '{key}' is not a list of sample ids")
        for i in ids:
            prev = out[bench].get(i)
            if prev is not None and prev != _PARTS[part]:
                raise DatasetError(f"{where}: sample '{i}' is in both the train and the test split of '{bench}'")
            out[bench][i] = _PARTS[part]
    return out


def _load_top(path: Path) -> Tuple[Dict[str, list], list]:
    data = safe_load(path)
    if not isinstance(data, dict) or set(data) != {"split", "annotations"}:
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise DatasetError(f"{path}: expected a dict with exactly the keys 'split' and 'annotations' "
                           f"(pyskl format), found {keys}")
    if not isinstance(data["split"], dict) or not isinstance(data["annotations"], list):
        raise DatasetError(f"{path}: 'split' must be a dict and 'annotations' a list")
    return data["split"], data["annotations"]


def _sample_id(ann: dict, where: str) -> str:
    if not isinstance(ann, dict):
        raise DatasetError(f"{where}: annotation is a {type(ann).__name__}, expected a dict")
    sid = ann.get("frame_dir", ann.get("filename"))
    if not isinstance(sid, str):
        raise DatasetError(f"{where}: annotation without a 'frame_dir' (or 'filename') string")
    return sid


def _build_table(ids: List[str], labels: List[int], bench_split: Dict[str, Dict[str, str]],
                 benchmarks: Sequence[str], dataset: str, where: str) -> Tuple[pd.DataFrame, np.ndarray]:
    """Table (in training-source order of the first benchmark) and the row → annotation index map."""
    id_set = set(ids)
    for b in benchmarks:
        if b not in bench_split:
            raise DatasetError(f"{where}: no split for benchmark '{b}' (splits present: {sorted(bench_split)})")
        unknown = [i for i in bench_split[b] if i not in id_set]
        if unknown:
            raise DatasetError(f"{where}: {len(unknown)} id(s) of split '{b}' have no annotation, "
                               f"e.g. '{unknown[0]}'")
    pos = {sid: k for k, sid in enumerate(ids)}
    if dataset in NTU_VARIANTS and all(NAME_RE.match(i) for i in ids):
        table = ntu_table(ids, dataset, benchmarks, labels=[labels[pos[n]] for n in sorted(ids)])
        for b in benchmarks:     # the pickle's split lists are authoritative; the name rule must agree
            got = table["name"].map(lambda n, b=b: bench_split[b].get(n, "")).to_numpy()
            mism = np.flatnonzero((got != table[b].to_numpy()) & (got != ""))
            if mism.size:
                n = table["name"].iloc[mism[0]]
                raise DatasetError(f"{where}: sample '{n}' is '{got[mism[0]]}' in split '{b}' of the pickle "
                                   f"but '{table[b].iloc[mism[0]]}' under the standard {dataset} protocol")
            table[b] = got
    else:
        table = pd.DataFrame({"name": ids, "label": labels})
        for b in benchmarks:
            table[b] = [bench_split[b].get(i, "") for i in ids]
            order = np.full(len(ids), -1, dtype=np.int64)
            train_ids = [i for i, p in bench_split[b].items() if p == "train"]   # split-list order
            order[[pos[i] for i in train_ids]] = np.arange(len(train_ids))
            table[f"order_{b}"] = order
        first = f"order_{benchmarks[0]}"
        key = np.where(table[first] >= 0, table[first], len(table) + np.arange(len(table)))
        table = table.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)
    return table, np.array([pos[n] for n in table["name"]])


@register_reader("pyskl_pickle", version="1")
def read_pyskl_pickle(root: Path, dataset_id: str, file: Optional[str] = None, layout: Optional[str] = None,
                      benchmarks: Optional[Sequence[str]] = None, num_classes: Optional[int] = None,
                      check_labels: bool = True) -> RawDataset:
    """Read a pyskl annotation pickle with inline keypoints (docs/datasets.md).

    Options: ``file`` (pickle name inside ``root``; default ``<dataset>_3danno.pkl``, then
    ``<dataset>_hrnet.pkl``; or point ``root`` at the file), ``layout`` (default ntu25 for 3D,
    coco17 for 2D; the joint and channel counts are checked against it), ``benchmarks`` (default
    the NTU pair, or every benchmark found in ``split``), ``num_classes`` (default 60 / 120 for NTU,
    else max label + 1), ``check_labels`` (NTU: label == action id − 1)."""
    root = Path(root)
    path = _find_pickle(root, [file] if file else [f"{dataset_id}_3danno.pkl", f"{dataset_id}_hrnet.pkl"], "file")
    split, anns = _load_top(path)
    bench_split = split_benchmarks(split, str(path))
    if benchmarks is None:
        benchmarks = list(NTU_VARIANTS[dataset_id][0]) if dataset_id in NTU_VARIANTS else sorted(bench_split)
    ids, labels = [], []
    for k, ann in enumerate(anns):
        sid = _sample_id(ann, f"{path}: annotation {k}")
        lab = ann.get("label")
        if not isinstance(lab, (int, np.integer)) or isinstance(lab, bool):
            raise DatasetError(f"{path}: sample '{sid}': 'label' must be an int, got {lab!r}")
        if check_labels and dataset_id in NTU_VARIANTS and NAME_RE.match(sid) and int(lab) != ntu_label(sid):
            raise DatasetError(f"{path}: sample '{sid}': label {lab} disagrees with its action id "
                               f"(expected {ntu_label(sid)} = A field − 1)")
        ids.append(sid)
        labels.append(int(lab))
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DatasetError(f"{path}: sample '{dup}' has two annotations")
    if not ids:
        raise DatasetError(f"{path}: no annotations")
    is_2d = "keypoint_score" in anns[0]
    lay = resolve_layout(layout, "coco17" if is_2d else "ntu25")
    n_cls = int(num_classes) if num_classes else (NTU_VARIANTS[dataset_id][1] if dataset_id in NTU_VARIANTS
                                                   else max(labels) + 1)
    if min(labels) < 0 or max(labels) >= n_cls:
        raise DatasetError(f"{path}: labels must lie in 0..{n_cls - 1}, found {min(labels)}..{max(labels)}")
    table, ann_index = _build_table(ids, labels, bench_split, benchmarks, dataset_id, str(path))

    samples, img_h, img_w = [], [], []
    for k in ann_index:
        ann = anns[k]
        where = f"{path}: sample '{ids[k]}'"
        kp = ann.get("keypoint")
        if not isinstance(kp, np.ndarray) or kp.ndim != 4:
            raise DatasetError(f"{where}: 'keypoint' must be an array (M, T, V, C)")
        if "total_frames" in ann and int(ann["total_frames"]) != kp.shape[1]:
            raise DatasetError(f"{where}: total_frames={ann['total_frames']} but keypoint has {kp.shape[1]} frames")
        if is_2d:
            score = ann.get("keypoint_score")
            if not isinstance(score, np.ndarray) or score.shape != kp.shape[:3]:
                raise DatasetError(f"{where}: 'keypoint_score' must have shape {kp.shape[:3]}")
            if kp.shape[-1] != 2:
                raise DatasetError(f"{where}: 2D keypoint must have 2 channels (x, y), got {kp.shape[-1]}")
            kp = np.concatenate([kp.astype(np.float32), score.astype(np.float32)[..., None]], axis=-1)
            h, w = ann.get("img_shape", (1080, 1920))
            img_h.append(int(h))
            img_w.append(int(w))
        elif "keypoint_score" in ann:
            raise DatasetError(f"{where}: mixes 2D and 3D annotations")
        samples.append(check_sample(kp, where, lay.num_node, 3))
    if is_2d:
        table["img_h"], table["img_w"] = img_h, img_w
    return RawDataset(dataset=dataset_id, layout=lay.name, num_classes=n_cls, benchmarks=list(benchmarks),
                      samples=samples, table=table, coords="xy+score" if is_2d else "xyz",
                      sources={str(path): sha256_file(path)}, reader="pyskl_pickle", reader_version="1")


# --------------------------------------------------------------------------- Kinetics-400 HRNet

def decompress_pose(keypoint: np.ndarray, frame_inds: np.ndarray, box_score: Optional[np.ndarray] = None,
                    box_thr: Optional[float] = None, max_skeletons: int = 10, where: str = "") -> np.ndarray:
    """pyskl ``DecompressPose`` semantics (docs/datasets.md): stored skeletons → (M, T, 17, 3).

    1. if ``box_thr`` is given, drop skeletons with box score < box_thr;
    2. squeeze: frames that keep at least one skeleton are renumbered 0..T−1;
    3. skeletons of one frame fill person slots in storage order; if a frame holds more than
       ``max_skeletons``, every frame's skeletons are first sorted by summed joint score (descending)
       and only ``max_skeletons`` are kept."""
    kp = np.asarray(keypoint, dtype=np.float32)
    inds = np.asarray(frame_inds).astype(np.int64).reshape(-1)
    if kp.ndim != 3 or kp.shape[0] != inds.size:
        raise DatasetError(f"{where}: keypoint {kp.shape} does not match {inds.size} frame_inds")
    if box_thr is not None:
        if box_score is None or np.asarray(box_score).size != inds.size:
            raise DatasetError(f"{where}: box_score missing or of the wrong length")
        keep = np.asarray(box_score).reshape(-1) >= box_thr
        kp, inds = kp[keep], inds[keep]
    if inds.size == 0:
        return np.zeros((1, 0) + kp.shape[1:], dtype=np.float32)
    order = np.argsort(inds, kind="stable")        # frame_inds are non-decreasing; be safe anyway
    kp, inds = kp[order], inds[order]
    _, t_index, counts = np.unique(inds, return_inverse=True, return_counts=True)
    m = int(counts.max())
    if m > max_skeletons:
        score = kp[..., 2].sum(axis=-1)
        order = np.lexsort((-score, t_index))       # by frame, then score descending (stable)
        kp, t_index = kp[order], t_index[order]
        m = max_skeletons
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(t_index.size) - first[t_index]
    keep = slot < m
    out = np.zeros((m, counts.size) + kp.shape[1:], dtype=np.float32)
    out[slot[keep], t_index[keep]] = kp[keep]
    return out


def _kpfile_path(raw_file: str, root: Path, kpfile_root: Optional[Path]) -> Path:
    p = Path(raw_file)
    candidates = [p] if p.is_absolute() else []
    bases = [kpfile_root] if kpfile_root else []
    bases += [root, root / "kpfiles"]
    for base in bases:
        candidates += [base / p, base / p.name]
    for c in candidates:
        if c.exists():
            return c
    raise DatasetError(f"kpfile '{raw_file}' not found (looked in {[str(b) for b in bases]}); set "
                       "options.kpfile_root to the folder holding the downloaded kpfiles")


@register_reader("pyskl_hrnet", version="1")
def read_pyskl_hrnet(root: Path, dataset_id: str, file: str = "k400_hrnet.pkl",
                     kpfile_root: Union[str, Path, None] = None, box_thr: float = 0.5, valid_ratio: float = 0.0,
                     apply_box_thr: Optional[bool] = None, max_skeletons: int = 10, max_persons: int = 2,
                     num_classes: int = 400, class_names: Union[str, Path, None] = None,
                     on_empty: str = "error") -> RawDataset:
    """Read the Kinetics-400 HRNet table of contents + kpfiles (docs/datasets.md).

    Options: ``file`` (default k400_hrnet.pkl), ``kpfile_root`` (folder of the kpfiles, relative to
    ``root`` unless absolute; default ``root`` and ``root/kpfiles``), ``box_thr`` (0.5), ``valid_ratio`` (0.0), ``apply_box_thr``
    (default: pyskl semantics, i.e. the box filter and the video filter
    ``valid[box_thr] / total_frames >= valid_ratio`` act only when valid_ratio > 0; BRL's config
    has valid_ratio = 0, so nothing is filtered), ``max_skeletons`` (10), ``max_persons`` (2: only
    the first two slots are used downstream), ``num_classes`` (400), ``class_names`` (optional
    text file, one class per line), ``on_empty`` ('error' or 'skip' a video without skeletons)."""
    root = Path(root)
    path = _find_pickle(root, [file], "file")
    base = root if root.is_dir() else root.parent
    split, anns = _load_top(path)
    bench_split = split_benchmarks(split, str(path))
    if "default" not in bench_split:
        raise DatasetError(f"{path}: expected split keys 'train' and 'val', found {sorted(split)}")
    if on_empty not in ("error", "skip"):
        raise DatasetError(f"pyskl_hrnet: on_empty must be 'error' or 'skip', got '{on_empty}'")
    filt = (valid_ratio > 0) if apply_box_thr is None else bool(apply_box_thr)
    by_file: Dict[str, List[int]] = defaultdict(list)
    ids = []
    for k, ann in enumerate(anns):
        sid = _sample_id(ann, f"{path}: annotation {k}")
        for key in ("label", "raw_file", "frame_inds", "total_frames"):
            if key not in ann:
                raise DatasetError(f"{path}: sample '{sid}': missing key '{key}' (not a k400_hrnet table of contents?)")
        ids.append(sid)
        by_file[ann["raw_file"]].append(k)
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{path}: duplicate frame_dir values")
    samples: Dict[int, np.ndarray] = {}
    dropped: List[str] = []
    kp_root = base / Path(kpfile_root) if kpfile_root else None     # a relative kpfile_root follows root
    for raw_file, idxs in by_file.items():          # one kpfile in memory at a time
        kpath = _kpfile_path(raw_file, base, kp_root)
        kpdata = safe_load(kpath)
        if not isinstance(kpdata, dict):
            raise DatasetError(f"{kpath}: expected a dict frame_dir -> {{'keypoint': array}}")
        for k in idxs:
            ann = anns[k]
            sid = ids[k]
            where = f"{kpath}: video '{sid}'"
            if filt and valid_ratio > 0:
                valid = ann.get("valid", {})
                n_valid = valid.get(box_thr)
                if n_valid is None:
                    raise DatasetError(f"{path}: sample '{sid}': no 'valid' entry for box_thr={box_thr}")
                if n_valid / max(int(ann["total_frames"]), 1) < valid_ratio:
                    dropped.append(sid)
                    continue
            entry = kpdata.get(sid)
            if not isinstance(entry, dict) or "keypoint" not in entry:
                raise DatasetError(f"{where}: not in its kpfile (the table of contents names {raw_file})")
            x = decompress_pose(entry["keypoint"], ann["frame_inds"], ann.get("box_score"),
                                box_thr if filt else None, max_skeletons, where)
            x = x[:max_persons]
            if x.shape[1] == 0 and on_empty == "skip":
                dropped.append(sid)
                continue
            samples[k] = check_sample(x, where, 17, 3)
        del kpdata
    keep = [k for k in range(len(anns)) if k in samples]
    labels = [int(anns[k]["label"]) for k in keep]
    if not keep:
        raise DatasetError(f"{path}: no video left after filtering")
    if min(labels) < 0 or max(labels) >= num_classes:
        raise DatasetError(f"{path}: labels must lie in 0..{num_classes - 1}")
    kept_ids = [ids[k] for k in keep]
    kept_set = set(kept_ids)
    sub_split = {"default": {i: p for i, p in bench_split["default"].items() if i in kept_set}}
    table, ann_index = _build_table(kept_ids, labels, sub_split, ["default"], dataset_id, str(path))
    h = [int(anns[keep[i]].get("img_shape", (0, 0))[0]) for i in ann_index]
    w = [int(anns[keep[i]].get("img_shape", (0, 0))[1]) for i in ann_index]
    table["img_h"], table["img_w"] = h, w
    names: List[str] = []
    if class_names:
        names = [l.strip() for l in Path(class_names).read_text().splitlines() if l.strip()]
        if len(names) != num_classes:
            raise DatasetError(f"{class_names}: {len(names)} class names for {num_classes} classes")
    if dropped:
        log.warning("pyskl_hrnet: %d video(s) dropped by the filters / as empty, e.g. %s", len(dropped), dropped[0])
    return RawDataset(dataset=dataset_id, layout="coco17", num_classes=num_classes, benchmarks=["default"],
                      samples=[samples[keep[i]] for i in ann_index], table=table, coords="xy+score",
                      class_names=names, sources={str(path): sha256_file(path)}, reader="pyskl_hrnet",
                      reader_version="1", extra={"dropped": len(dropped), "box_filter": filt})
