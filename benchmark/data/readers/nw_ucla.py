"""NW-UCLA ``all_sqe`` JSON reader (docs/datasets.md), source name ``nw_ucla_json``.

``root`` holds ``all_sqe/`` (1,484 files ``aAA_sSS_eEE_vVV.json``) and ``split_ctrgcn.csv``
(``order,file_name,label,length,split``). The CSV fixes the split (v01+v02 train, v03 test) and,
crucially, the **order** of the training list, on which the LT protocol depends (docs/datasets.md): the
table's rows are the training rows sorted by ``order``, then the test rows sorted by ``order``.

One-frame sequences (``a02_s09_e04_v02`` train, ``a02_s09_e04_v03`` test) are valid samples and
kept as (1, 1, 20, 3); only an empty sequence (T = 0) is an error (docs/datasets.md).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import List, Optional, Union

import numpy as np
import pandas as pd

from benchmark.data.canonical import DatasetError, sha256_file
from benchmark.data.readers import RawDataset, register_reader
from benchmark.data.readers.generic import check_sample, folder_digest

NAME_RE = re.compile(r"^a(\d{2})_s(\d{2})_e(\d{2})_v(\d{2})$")
#: action id in the file name → 0-based label (a07 and a10 do not exist in this set)
ACTION_TO_LABEL = {1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5, 8: 6, 9: 7, 11: 8, 12: 9}
CLASS_NAMES = ["pick up with one hand", "pick up with two hands", "drop trash", "walk around", "sit down",
               "stand up", "donning", "doffing", "throw", "carry"]
NUM_FILES = 1484
#: verified per-class counts (docs/datasets.md)
TRAIN_COUNTS = (102, 102, 96, 124, 101, 102, 99, 99, 98, 97)
TEST_COUNTS = (48, 50, 45, 49, 47, 47, 43, 43, 47, 45)
SPLIT_COLUMNS = ("order", "file_name", "label", "length", "split")


def label_from_name(name: str, where: str = "") -> int:
    m = NAME_RE.match(name)
    if not m:
        raise DatasetError(f"{where or name}: name '{name}' does not match aAA_sSS_eEE_vVV")
    action = int(m.group(1))
    if action not in ACTION_TO_LABEL:
        raise DatasetError(f"{where or name}: action a{action:02d} is not one of the 10 NW-UCLA classes")
    return ACTION_TO_LABEL[action]


def read_split_csv(path: Path) -> pd.DataFrame:
    """``split_ctrgcn.csv`` → table sorted as train rows by order, then test rows by order."""
    if not path.exists():
        raise DatasetError(f"{path}: split file not found. NW-UCLA needs split_ctrgcn.csv (order,file_name,"
                           "label,length,split: the CTR-GCN feeder's train/test lists in their order); put it "
                           "in the dataset root or set options.split_file")
    df = pd.read_csv(path, dtype={"file_name": str}, keep_default_na=False)
    missing = [c for c in SPLIT_COLUMNS if c not in df.columns]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {missing}; expected {list(SPLIT_COLUMNS)}")
    bad = set(df["split"]) - {"train", "val", "test"}
    if bad:
        raise DatasetError(f"{path}: column 'split' holds {sorted(bad)}; expected train / val")
    if df["file_name"].duplicated().any():
        raise DatasetError(f"{path}: file '{df.loc[df['file_name'].duplicated(), 'file_name'].iloc[0]}' listed twice")
    df["part"] = np.where(df["split"] == "train", "train", "test")
    for part, sub in df.groupby("part"):
        if sub["order"].duplicated().any():
            raise DatasetError(f"{path}: duplicate 'order' values in the {part} rows")
    df["_p"] = (df["part"] == "test").astype(int)
    return df.sort_values(["_p", "order"], kind="stable").drop(columns="_p").reset_index(drop=True)


def read_sequence(path: Path, expected_label: Optional[int] = None) -> np.ndarray:
    """One JSON file → float32 (1, T, 20, 3) with the checks of docs/datasets.md."""
    try:
        with open(path) as f:
            d = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: not valid JSON (truncated or corrupt?): {e}") from None
    if not isinstance(d, dict) or not {"file_name", "skeletons", "label"} <= set(d):
        raise DatasetError(f"{path}: expected keys file_name, skeletons, label; "
                           f"found {sorted(d) if isinstance(d, dict) else type(d).__name__}")
    stem = path.name[: -len(".json")]
    if d["file_name"] != stem:
        raise DatasetError(f"{path}: file_name '{d['file_name']}' differs from the file's name '{stem}'")
    label = label_from_name(stem, str(path))
    if d["label"] != label + 1:
        raise DatasetError(f"{path}: JSON label {d['label']} disagrees with the action id in the name "
                           f"(expected {label + 1} for {stem[:3]})")
    if expected_label is not None and expected_label != label:
        raise DatasetError(f"{path}: split file label {expected_label + 1} disagrees with the JSON label {label + 1}")
    sk = d["skeletons"]
    if not isinstance(sk, list) or len(sk) == 0:
        raise DatasetError(f"{path}: 'skeletons' is empty (0 frames); the sample cannot be used")
    try:
        x = np.asarray(sk, dtype=np.float64)
    except (ValueError, TypeError):
        raise DatasetError(f"{path}: 'skeletons' is not a regular [T][20][3] list of numbers "
                           "(a frame with a wrong joint count?)") from None
    if x.ndim != 3 or x.shape[1:] != (20, 3):
        raise DatasetError(f"{path}: 'skeletons' has shape {x.shape}, expected (T, 20, 3)")
    return check_sample(x[None], str(path), 20, 3)


@register_reader("nw_ucla_json", version="1")
def read_nw_ucla(root: Path, dataset_id: str = "nw_ucla", split_file: Union[str, Path, None] = None,
                 data_dir: str = "all_sqe", expect_count: Optional[int] = NUM_FILES,
                 checksums: bool = True) -> RawDataset:
    """Read NW-UCLA.

    Options: ``split_file`` (default ``<root>/split_ctrgcn.csv``), ``data_dir`` (default all_sqe),
    ``expect_count`` (default 1484 and then the per-class counts of docs/datasets.md are checked too; set
    null to read a subset), ``checksums`` (record a digest of the JSON files in the metadata)."""
    root = Path(root)
    folder = root / data_dir
    if not folder.is_dir():
        raise DatasetError(f"{folder}: folder of NW-UCLA JSON files not found; point datasets.{dataset_id}.root "
                           "at the folder that holds all_sqe/ and split_ctrgcn.csv")
    split_path = Path(split_file) if split_file else root / "split_ctrgcn.csv"
    df = read_split_csv(split_path)
    files = {p.name[: -len(".json")]: p for p in folder.glob("*.json")}
    listed = set(df["file_name"])
    absent = [n for n in df["file_name"] if n not in files]
    if absent:
        raise DatasetError(f"{split_path}: {len(absent)} listed sample(s) have no file in {folder}, "
                           f"e.g. '{absent[0]}.json'")
    extra_files = sorted(set(files) - listed)
    if extra_files:
        raise DatasetError(f"{folder}: {len(extra_files)} file(s) not in {split_path.name}, e.g. "
                           f"'{extra_files[0]}.json'; add them to the split file or remove them")
    if expect_count is not None and len(df) != expect_count:
        raise DatasetError(f"{split_path}: {len(df)} samples, expected {expect_count} (the published protocol); "
                           "set options.expect_count: null to read a subset")
    samples: List[np.ndarray] = []
    for name, lab, length in zip(df["file_name"], df["label"], df["length"]):
        x = read_sequence(files[name], expected_label=int(lab) - 1)
        if int(length) != x.shape[1]:
            raise DatasetError(f"{files[name]}: {x.shape[1]} frames but {split_path.name} says length {length}")
        samples.append(x)
    table = pd.DataFrame({"name": df["file_name"], "label": df["label"].astype(np.int64) - 1,
                          "default": df["part"], "order": df["order"].astype(np.int64)})
    table["order_default"] = np.where(table["default"] == "train", table["order"], -1)
    if expect_count == NUM_FILES:
        for part, want in (("train", TRAIN_COUNTS), ("test", TEST_COUNTS)):
            got = tuple(np.bincount(table.loc[table["default"] == part, "label"], minlength=10))
            if got != want:
                raise DatasetError(f"{split_path}: {part} per-class counts {got} differ from the published {want}")
    sources = {str(split_path): sha256_file(split_path)}
    if checksums:
        sources[str(folder)] = f"sha256 of {len(files)} files: {folder_digest(files.values())}"
    return RawDataset(dataset=dataset_id, layout="nw_ucla20", num_classes=10, benchmarks=["default"],
                      samples=samples, table=table, coords="xyz", class_names=list(CLASS_NAMES),
                      sources=sources, reader="nw_ucla_json", reader_version="1")
