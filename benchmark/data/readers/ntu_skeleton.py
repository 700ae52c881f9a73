"""NTU RGB+D names, splits and the raw ``.skeleton`` reader (docs/datasets.md).

Reader ``ntu_skeleton``: a folder of ``SsssCcccPpppRrrrAaaa.skeleton`` text files (searched
recursively, so NTU120's two download folders can sit side by side) → RawDataset with up to two
persons per sample, converted with the rules of pyskl's converter (docs/datasets.md, re-implemented
here from the spec). Names on the official missing-skeleton list are skipped; the list is built in
(``_NTU120_MISSING`` below: the 535 names published by the NTU authors in ``shahroudy/NTURGB-D``;
NTU60's 302 names are its setups 1–17) or given with the ``missing_list`` option.

Training-source order (used by the LT protocol, docs/datasets.md): BRL's standard lists take the
name-sorted available samples and concatenate them per training id in the order of the id list
(performer ids for xsub, cameras 2, 3 for xview, even setups for xset). Because xsub and xset give
different orders, the table carries one ``order_<benchmark>`` column per benchmark; rows are sorted
by the first benchmark's order (training rows first), then the remaining rows by name.
"""
from __future__ import annotations

import hashlib
import logging
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from benchmark.data.canonical import DatasetError
from benchmark.data.readers import RawDataset, register_reader
from benchmark.data.readers.generic import check_sample

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})$")

#: training performers of the cross-subject protocol (53 ids; NTU60 uses those <= 40)
TRAIN_SUBJECTS_120 = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38, 45, 46, 47,
                      49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91,
                      92, 93, 94, 95, 97, 98, 100, 103)
TRAIN_SUBJECTS_60 = tuple(s for s in TRAIN_SUBJECTS_120 if s <= 40)

NTU_VARIANTS = {
    # id: (benchmarks, num_classes, max setup, usable samples after the missing list)
    "ntu60": (("xsub", "xview"), 60, 17, 56578),
    "ntu120": (("xsub", "xset"), 120, 32, 113945),
}

#: docs/datasets.md constants of pyskl's converter
MIN_BODY_FRAMES = 11            # bodies with <= 11 frames are noise
SPREAD_RATIO = 0.8              # a frame is valid if x-extent <= 0.8 * y-extent
MAX_INVALID_SHARE = 0.69754     # bodies with >= this share of invalid frames are dropped
TRIM_EPS = 1e-3


def parse_ntu_name(name: str, where: str = "") -> Dict[str, int]:
    """``SsssCcccPpppRrrrAaaa`` → {setup, camera, performer, replication, action} (1-based ints)."""
    m = NAME_RE.match(name)
    if not m:
        raise DatasetError(f"{where or name}: sample name '{name}' does not match the NTU pattern "
                           "SsssCcccPpppRrrrAaaa (e.g. S001C001P001R001A001)")
    s, c, p, r, a = (int(g) for g in m.groups())
    return {"setup": s, "camera": c, "performer": p, "replication": r, "action": a}


def ntu_label(name: str) -> int:
    """0-based label: the A field minus one (docs/datasets.md)."""
    return parse_ntu_name(name)["action"] - 1


def _split_rule(benchmark: str, dataset: str):
    """(field, training ids in the order of BRL's standard-list generator)."""
    if benchmark == "xsub":
        return "performer", TRAIN_SUBJECTS_60 if dataset == "ntu60" else TRAIN_SUBJECTS_120
    if benchmark == "xview":
        return "camera", (2, 3)
    if benchmark == "xset":
        return "setup", tuple(range(2, 33, 2))
    raise DatasetError(f"unknown NTU benchmark '{benchmark}' (xsub, xview, xset)")


def ntu_split(name: str, benchmark: str, dataset: str = "ntu120") -> str:
    """'train' or 'test' for one sample under the standard protocols (docs/datasets.md)."""
    field, train_ids = _split_rule(benchmark, dataset)
    return "train" if parse_ntu_name(name)[field] in train_ids else "test"


def ntu_table(names: Sequence[str], dataset: str, benchmarks: Optional[Sequence[str]] = None,
              labels: Optional[Sequence[int]] = None) -> pd.DataFrame:
    """Table with name, label, one split column and one ``order_<b>`` column per benchmark.

    ``order_<b>`` is the position in the benchmark's training-source list (−1 for test rows):
    names sorted, then grouped by training id in the order of the id list (BRL's standard lists)."""
    if dataset not in NTU_VARIANTS:
        raise DatasetError(f"unknown NTU dataset id '{dataset}' (ntu60, ntu120)")
    benchmarks = list(benchmarks or NTU_VARIANTS[dataset][0])
    names = sorted(names)
    fields = [parse_ntu_name(n) for n in names]
    df = pd.DataFrame({"name": names,
                       "label": [f["action"] - 1 for f in fields] if labels is None else list(labels)})
    for b in benchmarks:
        field, train_ids = _split_rule(b, dataset)
        rank = {tid: i for i, tid in enumerate(train_ids)}
        vals = np.array([f[field] for f in fields])
        is_train = np.isin(vals, train_ids)
        df[b] = np.where(is_train, "train", "test")
        key = np.array([rank.get(int(v), len(rank)) for v in vals])
        order = np.full(len(names), -1, dtype=np.int64)
        train_idx = np.flatnonzero(is_train)
        # stable sort of the name-sorted training rows by the rank of their training id
        order[train_idx[np.argsort(key[train_idx], kind="stable")]] = np.arange(train_idx.size)
        df[f"order_{b}"] = order
    first = benchmarks[0]
    row_key = np.where(df[f"order_{first}"] >= 0, df[f"order_{first}"], len(df) + np.arange(len(df)))
    return df.iloc[np.argsort(row_key, kind="stable")].reset_index(drop=True)


def missing_names(dataset: str, path: Union[str, Path, None] = None) -> set:
    """The missing-skeleton list: from ``path`` (one name per line; the official files' two-line
    header is skipped) or built in (NTU120: 535 names; NTU60: its 302 names of setups 1–17)."""
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise DatasetError(f"missing-skeleton list '{path}' does not exist; check options.missing_list")
        names = [t for t in path.read_text().split() if NAME_RE.match(t)]
        if not names:
            raise DatasetError(f"{path}: no NTU sample name found in the missing-skeleton list")
        return set(names)
    names = _NTU120_MISSING.split()
    if dataset == "ntu60":
        names = [n for n in names if int(n[1:4]) <= 17]
    return set(names)


# --------------------------------------------------------------------------- .skeleton parsing

def parse_skeleton_text(text: str, where: str) -> Tuple[List[dict], int]:
    """Parse one ``.skeleton`` file (docs/datasets.md).

    Returns (bodies, n_frames): one dict per bodyID in order of first appearance with ``start``
    (index of its first frame) and ``joints`` (T_b, 25, 3) float64; frames with 0 bodies are
    skipped and not counted (docs/datasets.md). Truncated or malformed files raise DatasetError."""
    lines = text.splitlines()
    pos = 0

    def line(what: str) -> List[str]:
        nonlocal pos
        if pos >= len(lines):
            raise DatasetError(f"{where}: file ends early (truncated?) while reading {what} at line {pos + 1}; "
                               "download the file again")
        toks = lines[pos].split()
        pos += 1
        return toks

    def count(what: str) -> int:
        toks = line(what)
        if len(toks) != 1:
            raise DatasetError(f"{where}: line {pos}: expected one integer ({what}), got {len(toks)} values")
        try:
            return int(toks[0])
        except ValueError:
            raise DatasetError(f"{where}: line {pos}: expected an integer ({what}), got '{toks[0]}'") from None

    n_file_frames = count("the frame count")
    bodies: Dict[str, dict] = {}
    frame = 0
    for _ in range(n_file_frames):
        n_bodies = count("the body count")
        if n_bodies == 0:
            continue
        for _b in range(n_bodies):
            header = line("a body header")
            if len(header) != 10:
                raise DatasetError(f"{where}: line {pos}: body header has {len(header)} values, expected 10")
            n_joints = count("the joint count")
            if n_joints != 25:
                raise DatasetError(f"{where}: line {pos}: {n_joints} joints per body, expected 25 (NTU-25)")
            if pos + n_joints > len(lines):
                raise DatasetError(f"{where}: file ends early (truncated?) inside a body at line {pos + 1}; "
                                   "download the file again")
            rows = [l.split() for l in lines[pos: pos + n_joints]]
            for k, r in enumerate(rows):
                if len(r) != 12:
                    raise DatasetError(f"{where}: line {pos + k + 1}: joint record has {len(r)} values, expected 12")
            try:
                xyz = np.array([r[:3] for r in rows], dtype=np.float64)
            except ValueError as e:
                raise DatasetError(f"{where}: lines {pos + 1}-{pos + n_joints}: non-numeric coordinate ({e})") from None
            pos += n_joints
            body = bodies.setdefault(header[0], {"id": header[0], "start": frame, "joints": []})
            body["joints"].append(xyz)
        frame += 1
    if any(l.strip() for l in lines[pos:]):
        raise DatasetError(f"{where}: unexpected content after the {n_file_frames} declared frames "
                           f"(line {pos + 1}); the frame count in line 1 is wrong or the file is corrupt")
    out = []
    for b in bodies.values():
        j = np.stack(b["joints"])
        if not np.isfinite(j).all():
            idx = tuple(int(i) for i in np.argwhere(~np.isfinite(j))[0])
            raise DatasetError(f"{where}: NaN or inf coordinate in body {b['id']} at (frame, joint, axis) {idx}")
        out.append({"id": b["id"], "start": b["start"], "joints": j})
    return out, frame


def body_motion(joints: np.ndarray) -> float:
    """Sum over x, y, z of the variance of all positions (frames × joints pooled) (docs/datasets.md)."""
    return float(np.var(joints.reshape(-1, 3), axis=0).sum()) if joints.size else 0.0


def _spread_valid(joints: np.ndarray) -> np.ndarray:
    """Frames whose x-extent <= 0.8 × y-extent over the 25 joints (docs/datasets.md)."""
    ext = joints.max(axis=1) - joints.min(axis=1)          # (T, 3)
    return ext[:, 0] <= SPREAD_RATIO * ext[:, 1]


def _place(body: dict, n_frames: int) -> np.ndarray:
    out = np.zeros((n_frames, 25, 3))
    s = body["start"]
    out[s: s + len(body["joints"])] = body["joints"]
    return out


def _trim(x: np.ndarray) -> np.ndarray:
    """Drop leading/trailing frames whose total |value| over all slots is < 1e-3 (docs/datasets.md)."""
    keep = np.flatnonzero(np.abs(x).sum(axis=(0, 2, 3)) >= TRIM_EPS)
    return x[:, keep[0]: keep[-1] + 1] if keep.size else x[:, :0]


def bodies_to_array(bodies: List[dict], n_frames: int, where: str) -> np.ndarray:
    """Select and pack bodies into (1 or 2, T, 25, 3) with pyskl's converter rules (docs/datasets.md)."""
    if not bodies:
        raise DatasetError(f"{where}: no body in any frame (empty sequence); the sample should be on the "
                           "missing-skeleton list")
    if len(bodies) == 1:
        return bodies[0]["joints"][None]
    for b in bodies:
        b["motion"] = body_motion(b["joints"])
    bodies = [b for b in bodies if len(b["joints"]) > MIN_BODY_FRAMES]
    if not bodies:
        raise DatasetError(f"{where}: every body has <= {MIN_BODY_FRAMES} frames (all dropped as noise)")
    if len(bodies) > 1:
        kept = []
        for b in bodies:
            valid = _spread_valid(b["joints"])
            if 1.0 - valid.mean() >= MAX_INVALID_SHARE:
                continue
            if not valid.all():
                b["motion"] = min(b["motion"], body_motion(b["joints"][valid]))
            kept.append(b)
        if not kept:
            raise DatasetError(f"{where}: spread denoising dropped every body (x-extent > 0.8 × y-extent in "
                               f">= {MAX_INVALID_SHARE:.5f} of their frames)")
        bodies = kept
    bodies = sorted(bodies, key=lambda b: -b["motion"])     # stable: ties keep first appearance
    if len(bodies) == 1:
        return _trim(_place(bodies[0], n_frames)[None])
    out = np.zeros((2, n_frames, 25, 3))
    spans: List[Optional[Tuple[int, int]]] = [None, None]
    for b in bodies:
        s, e = b["start"], b["start"] + len(b["joints"])
        for slot in (0, 1):
            span = spans[slot]
            if span is None or e <= span[0] or s >= span[1]:
                out[slot, s:e] = b["joints"]
                spans[slot] = (s, e) if span is None else (min(s, span[0]), max(e, span[1]))
                break
    out = _trim(out)
    if out.shape[1] and not out[0, 0, 1].any() and out[1, 0, 1].any():
        out = out[::-1].copy()
    return out


def read_skeleton_file(path: Union[str, Path]) -> Tuple[np.ndarray, str]:
    """One ``.skeleton`` file → (float32 (M, T, 25, 3), sha256 of its bytes)."""
    path = Path(path)
    try:
        data = path.read_bytes()
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not a text file (binary or corrupt)") from None
    bodies, n_frames = parse_skeleton_text(text, str(path))
    x = bodies_to_array(bodies, n_frames, str(path))
    return check_sample(x, str(path), 25, 3), hashlib.sha256(data).hexdigest()


@register_reader("ntu_skeleton", version="1")
def read_ntu_skeleton(root: Path, dataset_id: str, variant: Optional[str] = None,
                      missing_list: Union[str, Path, None, bool] = None, expect_complete: bool = True,
                      benchmarks: Optional[Sequence[str]] = None, workers: int = 1,
                      pattern: str = "*.skeleton") -> RawDataset:
    """Read a folder of raw NTU ``.skeleton`` files.

    Options: ``variant`` (ntu60 / ntu120; default the dataset id), ``missing_list`` (path of the
    official missing-skeleton list; default the built-in one; ``false`` skips nothing),
    ``expect_complete`` (default true: the number of samples read must equal the published usable
    count 56,578 / 113,945, so a missing file is an error rather than a silently smaller set; set
    false for a subset), ``benchmarks`` (default xsub+xview / xsub+xset), ``workers`` (parallel
    parsing processes), ``pattern`` (file glob, searched recursively)."""
    variant = variant or dataset_id
    if variant not in NTU_VARIANTS:
        raise DatasetError(f"ntu_skeleton: unknown variant '{variant}'; set options.variant to ntu60 or ntu120")
    default_benchmarks, num_classes, max_setup, usable = NTU_VARIANTS[variant]
    root = Path(root)
    files: Dict[str, Path] = {}
    for f in sorted(root.rglob(pattern)):
        name = f.name[: -len(".skeleton")] if f.name.endswith(".skeleton") else f.stem
        info = parse_ntu_name(name, where=str(f))
        if info["setup"] > max_setup:
            continue        # an NTU120 folder read as NTU60: setups 18-32 are not part of NTU60
        if name in files:
            raise DatasetError(f"{f}: sample '{name}' also exists as {files[name]}; keep one copy")
        files[name] = f
    if not files:
        raise DatasetError(f"{root}: no '{pattern}' files found (point datasets.{dataset_id}.root at the "
                           "extracted nturgb+d_skeletons folder)")
    skip = set() if missing_list is False else missing_names(variant, None if missing_list in (None, True) else missing_list)
    names = [n for n in files if n not in skip]
    log.info("ntu_skeleton: %d files, %d skipped as missing-skeleton samples", len(files), len(files) - len(names))
    if expect_complete and len(names) != usable:
        raise DatasetError(f"{root}: found {len(names)} usable {variant} samples, expected {usable} "
                           f"({len(files)} files, {len(files) - len(names)} on the missing-skeleton list); "
                           "some files are missing or extra. Set options.expect_complete: false to read a subset")
    table = ntu_table(names, variant, benchmarks or default_benchmarks)
    paths = [files[n] for n in table["name"]]
    if workers and workers > 1:
        with ProcessPoolExecutor(max_workers=int(workers)) as ex:
            results = list(ex.map(read_skeleton_file, paths, chunksize=64))
    else:
        results = [read_skeleton_file(p) for p in paths]
    samples = [r[0] for r in results]
    digest = hashlib.sha256("\n".join(f"{p.name} {r[1]}" for p, r in zip(paths, results)).encode()).hexdigest()
    return RawDataset(dataset=dataset_id, layout="ntu25", num_classes=num_classes,
                      benchmarks=list(benchmarks or default_benchmarks), samples=samples, table=table, coords="xyz",
                      sources={f"{root}/{pattern}": f"sha256 of {len(paths)} files: {digest}"},
                      reader="ntu_skeleton", reader_version="1",
                      extra={"variant": variant, "skipped_missing": len(files) - len(names)})


# The official list of NTU RGB+D 120 samples with missing or incomplete skeletons (535 names;
# published by the dataset authors, shahroudy/NTURGB-D). The NTU60 list is its setups 1-17 (302 names).
_NTU120_MISSING = """
S001C002P005R002A008 S001C002P006R001A008 S001C003P002R001A055 S001C003P002R002A012 S001C003P005R002A004
S001C003P005R002A005 S001C003P005R002A006 S001C003P006R002A008 S002C002P011R002A030 S002C003P008R001A020
S002C003P010R002A010 S002C003P011R002A007 S002C003P011R002A011 S002C003P014R002A007 S003C001P019R001A055
S003C002P002R002A055 S003C002P018R002A055 S003C003P002R001A055 S003C003P016R001A055 S003C003P018R002A024
S004C002P003R001A013 S004C002P008R001A009 S004C002P020R001A003 S004C002P020R001A004 S004C002P020R001A012
S004C002P020R001A020 S004C002P020R001A021 S004C002P020R001A036 S005C002P004R001A001 S005C002P004R001A003
S005C002P010R001A016 S005C002P010R001A017 S005C002P010R001A048 S005C002P010R001A049 S005C002P016R001A009
S005C002P016R001A010 S005C002P018R001A003 S005C002P018R001A028 S005C002P018R001A029 S005C003P016R002A009
S005C003P018R002A013 S005C003P021R002A057 S006C001P001R002A055 S006C002P007R001A005 S006C002P007R001A006
S006C002P016R001A043 S006C002P016R001A051 S006C002P016R001A052 S006C002P022R001A012 S006C002P023R001A020
S006C002P023R001A021 S006C002P023R001A022 S006C002P023R001A023 S006C002P024R001A018 S006C002P024R001A019
S006C003P001R002A013 S006C003P007R002A009 S006C003P007R002A010 S006C003P007R002A025 S006C003P016R001A060
S006C003P017R001A055 S006C003P017R002A013 S006C003P017R002A014 S006C003P017R002A015 S006C003P022R002A013
S007C001P018R002A050 S007C001P025R002A051 S007C001P028R001A050 S007C001P028R001A051 S007C001P028R001A052
S007C002P008R002A008 S007C002P015R002A055 S007C002P026R001A008 S007C002P026R001A009 S007C002P026R001A010
S007C002P026R001A011 S007C002P026R001A012 S007C002P026R001A050 S007C002P027R001A011 S007C002P027R001A013
S007C002P028R002A055 S007C003P007R001A002 S007C003P007R001A004 S007C003P019R001A060 S007C003P027R002A001
S007C003P027R002A002 S007C003P027R002A003 S007C003P027R002A004 S007C003P027R002A005 S007C003P027R002A006
S007C003P027R002A007 S007C003P027R002A008 S007C003P027R002A009 S007C003P027R002A010 S007C003P027R002A011
S007C003P027R002A012 S007C003P027R002A013 S008C002P001R001A009 S008C002P001R001A010 S008C002P001R001A014
S008C002P001R001A015 S008C002P001R001A016 S008C002P001R001A018 S008C002P001R001A019 S008C002P008R002A059
S008C002P025R001A060 S008C002P029R001A004 S008C002P031R001A005 S008C002P031R001A006 S008C002P032R001A018
S008C002P034R001A018 S008C002P034R001A019 S008C002P035R001A059 S008C002P035R002A002 S008C002P035R002A005
S008C003P007R001A009 S008C003P007R001A016 S008C003P007R001A017 S008C003P007R001A018 S008C003P007R001A019
S008C003P007R001A020 S008C003P007R001A021 S008C003P007R001A022 S008C003P007R001A023 S008C003P007R001A025
S008C003P007R001A026 S008C003P007R001A028 S008C003P007R001A029 S008C003P007R002A003 S008C003P008R002A050
S008C003P025R002A002 S008C003P025R002A011 S008C003P025R002A012 S008C003P025R002A016 S008C003P025R002A020
S008C003P025R002A022 S008C003P025R002A023 S008C003P025R002A030 S008C003P025R002A031 S008C003P025R002A032
S008C003P025R002A033 S008C003P025R002A049 S008C003P025R002A060 S008C003P031R001A001 S008C003P031R002A004
S008C003P031R002A014 S008C003P031R002A015 S008C003P031R002A016 S008C003P031R002A017 S008C003P032R002A013
S008C003P033R002A001 S008C003P033R002A011 S008C003P033R002A012 S008C003P034R002A001 S008C003P034R002A012
S008C003P034R002A022 S008C003P034R002A023 S008C003P034R002A024 S008C003P034R002A044 S008C003P034R002A045
S008C003P035R002A016 S008C003P035R002A017 S008C003P035R002A018 S008C003P035R002A019 S008C003P035R002A020
S008C003P035R002A021 S009C002P007R001A001 S009C002P007R001A003 S009C002P007R001A014 S009C002P008R001A014
S009C002P015R002A050 S009C002P016R001A002 S009C002P017R001A028 S009C002P017R001A029 S009C003P017R002A030
S009C003P025R002A054 S010C001P007R002A020 S010C002P016R002A055 S010C002P017R001A005 S010C002P017R001A018
S010C002P017R001A019 S010C002P019R001A001 S010C002P025R001A012 S010C003P007R002A043 S010C003P008R002A003
S010C003P016R001A055 S010C003P017R002A055 S011C001P002R001A008 S011C001P018R002A050 S011C002P008R002A059
S011C002P016R002A055 S011C002P017R001A020 S011C002P017R001A021 S011C002P018R002A055 S011C002P027R001A009
S011C002P027R001A010 S011C002P027R001A037 S011C003P001R001A055 S011C003P002R001A055 S011C003P008R002A012
S011C003P015R001A055 S011C003P016R001A055 S011C003P019R001A055 S011C003P025R001A055 S011C003P028R002A055
S012C001P019R001A060 S012C001P019R002A060 S012C002P015R001A055 S012C002P017R002A012 S012C002P025R001A060
S012C003P008R001A057 S012C003P015R001A055 S012C003P015R002A055 S012C003P016R001A055 S012C003P017R002A055
S012C003P018R001A055 S012C003P018R001A057 S012C003P019R002A011 S012C003P019R002A012 S012C003P025R001A055
S012C003P027R001A055 S012C003P027R002A009 S012C003P028R001A035 S012C003P028R002A055 S013C001P015R001A054
S013C001P017R002A054 S013C001P018R001A016 S013C001P028R001A040 S013C002P015R001A054 S013C002P017R002A054
S013C002P028R001A040 S013C003P008R002A059 S013C003P015R001A054 S013C003P017R002A054 S013C003P025R002A022
S013C003P027R001A055 S013C003P028R001A040 S014C001P027R002A040 S014C002P015R001A003 S014C002P019R001A029
S014C002P025R002A059 S014C002P027R002A040 S014C002P039R001A050 S014C003P007R002A059 S014C003P015R002A055
S014C003P019R002A055 S014C003P025R001A048 S014C003P027R002A040 S015C001P008R002A040 S015C001P016R001A055
S015C001P017R001A055 S015C001P017R002A055 S015C002P007R001A059 S015C002P008R001A003 S015C002P008R001A004
S015C002P008R002A040 S015C002P015R001A002 S015C002P016R001A001 S015C002P016R002A055 S015C003P008R002A007
S015C003P008R002A011 S015C003P008R002A012 S015C003P008R002A028 S015C003P008R002A040 S015C003P025R002A012
S015C003P025R002A017 S015C003P025R002A020 S015C003P025R002A021 S015C003P025R002A030 S015C003P025R002A033
S015C003P025R002A034 S015C003P025R002A036 S015C003P025R002A037 S015C003P025R002A044 S016C001P019R002A040
S016C001P025R001A011 S016C001P025R001A012 S016C001P025R001A060 S016C001P040R001A055 S016C001P040R002A055
S016C002P008R001A011 S016C002P019R002A040 S016C002P025R002A012 S016C003P008R001A011 S016C003P008R002A002
S016C003P008R002A003 S016C003P008R002A004 S016C003P008R002A006 S016C003P008R002A009 S016C003P019R002A040
S016C003P039R002A016 S017C001P016R002A031 S017C002P007R001A013 S017C002P008R001A009 S017C002P015R001A042
S017C002P016R002A031 S017C002P016R002A055 S017C003P007R002A013 S017C003P008R001A059 S017C003P016R002A031
S017C003P017R001A055 S017C003P020R001A059 S019C001P046R001A075 S019C002P042R001A094 S019C002P042R001A095
S019C002P042R001A096 S019C002P042R001A097 S019C002P042R001A098 S019C002P042R001A099 S019C002P042R001A100
S019C002P042R001A101 S019C002P042R001A102 S019C002P049R002A074 S019C002P049R002A079 S019C002P051R001A061
S019C003P046R001A061 S019C003P046R002A061 S019C003P046R002A062 S020C002P041R001A063 S020C002P041R001A064
S020C002P044R001A063 S020C002P044R001A064 S020C002P044R001A066 S020C002P044R001A084 S020C002P054R001A081
S021C001P059R001A108 S021C002P055R001A065 S021C002P055R001A092 S021C002P055R001A093 S021C002P057R001A064
S021C002P058R001A063 S021C002P058R001A064 S021C002P059R001A074 S021C002P059R001A075 S021C002P059R001A076
S021C002P059R001A077 S021C002P059R001A078 S021C002P059R001A079 S021C003P057R002A078 S021C003P057R002A079
S021C003P057R002A094 S022C002P061R001A113 S022C003P061R002A061 S022C003P061R002A062 S022C003P063R002A061
S022C003P063R002A062 S022C003P063R002A063 S022C003P063R002A064 S022C003P063R002A078 S022C003P064R002A061
S022C003P064R002A062 S022C003P065R002A061 S022C003P065R002A062 S022C003P065R002A119 S022C003P067R002A064
S023C002P055R001A114 S023C002P055R002A092 S023C002P059R001A075 S023C002P063R001A075 S023C003P055R002A093
S023C003P055R002A094 S023C003P061R002A061 S023C003P064R001A092 S024C001P063R001A109 S024C002P062R002A074
S024C002P067R001A100 S024C002P067R001A101 S024C002P067R001A102 S024C002P067R001A103 S024C003P062R002A074
S024C003P063R002A061 S024C003P063R002A062 S025C001P055R002A119 S025C003P056R002A119 S025C003P059R002A115
S026C002P044R001A061 S026C002P044R001A062 S026C002P070R001A092 S026C003P069R002A075 S026C003P074R002A061
S026C003P074R002A062 S026C003P075R001A117 S026C003P075R001A118 S027C001P082R001A063 S027C002P044R002A092
S027C002P079R001A061 S027C002P079R001A062 S027C002P079R001A063 S027C002P079R001A064 S027C002P082R001A092
S027C002P084R001A061 S027C002P084R001A062 S027C002P086R001A061 S027C003P041R002A087 S027C003P080R002A061
S027C003P082R002A061 S027C003P082R002A062 S027C003P086R002A061 S027C003P086R002A062 S028C001P087R001A061
S028C002P041R001A091 S028C002P087R001A061 S028C003P042R002A064 S028C003P046R002A063 S028C003P046R002A066
S028C003P046R002A067 S028C003P046R002A068 S028C003P046R002A069 S028C003P046R002A070 S028C003P046R002A071
S028C003P046R002A072 S028C003P046R002A074 S028C003P046R002A075 S028C003P046R002A077 S028C003P046R002A081
S028C003P046R002A082 S028C003P046R002A083 S028C003P046R002A084 S028C003P048R002A061 S028C003P048R002A062
S028C003P048R002A073 S028C003P073R002A073 S028C003P087R001A061 S028C003P087R002A061 S028C003P087R002A062
S029C001P043R002A092 S029C001P044R002A092 S029C001P048R001A073 S029C001P089R001A063 S029C002P041R001A074
S029C002P041R001A084 S029C002P044R001A091 S029C002P048R001A075 S029C002P048R001A081 S029C002P074R001A081
S029C002P074R001A095 S029C002P074R001A096 S029C002P080R001A091 S029C002P088R001A066 S029C002P089R001A065
S029C002P090R001A067 S029C003P008R002A065 S029C003P008R002A067 S029C003P041R001A089 S029C003P043R001A080
S029C003P043R001A092 S029C003P043R001A105 S029C003P043R002A085 S029C003P043R002A086 S029C003P044R002A106
S029C003P048R001A065 S029C003P048R002A073 S029C003P048R002A074 S029C003P048R002A075 S029C003P048R002A076
S029C003P048R002A092 S029C003P048R002A094 S029C003P051R002A073 S029C003P051R002A074 S029C003P051R002A075
S029C003P051R002A076 S029C003P051R002A077 S029C003P051R002A078 S029C003P051R002A079 S029C003P051R002A080
S029C003P051R002A081 S029C003P051R002A082 S029C003P051R002A083 S029C003P051R002A084 S029C003P051R002A085
S029C003P051R002A086 S029C003P051R002A110 S029C003P067R001A098 S029C003P074R002A110 S029C003P080R002A066
S029C003P088R002A078 S029C003P089R001A075 S029C003P089R002A061 S029C003P089R002A062 S029C003P089R002A063
S029C003P090R002A092 S029C003P090R002A095 S030C002P091R002A091 S030C002P091R002A092 S030C002P091R002A093
S030C002P091R002A094 S030C002P091R002A095 S030C002P091R002A096 S030C002P091R002A097 S030C002P091R002A098
S030C002P091R002A099 S030C002P091R002A100 S030C002P091R002A101 S030C002P091R002A102 S030C002P091R002A103
S030C002P091R002A104 S030C002P091R002A105 S030C003P044R002A065 S030C003P044R002A081 S030C003P044R002A084
S031C002P042R001A111 S031C002P051R001A061 S031C002P051R001A062 S031C002P067R001A067 S031C002P067R001A068
S031C002P067R001A069 S031C002P067R001A070 S031C002P067R001A071 S031C002P067R001A072 S031C002P082R001A075
S031C002P082R002A117 S031C002P097R001A061 S031C002P097R001A062 S031C003P043R002A074 S031C003P043R002A075
S031C003P044R002A094 S031C003P082R002A067 S031C003P082R002A068 S031C003P082R002A069 S031C003P082R002A070
S031C003P082R002A071 S031C003P082R002A072 S031C003P082R002A073 S031C003P082R002A075 S031C003P082R002A076
S031C003P082R002A077 S031C003P082R002A084 S031C003P082R002A085 S031C003P082R002A086 S032C002P067R001A092
S032C003P067R002A066 S032C003P067R002A067 S032C003P067R002A075 S032C003P067R002A076 S032C003P067R002A077
"""
