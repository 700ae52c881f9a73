"""The packaged official NTU60-LT / NTU120-LT lists (benchmark/resources/lt_splits)."""
from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.data import lt_lists
from benchmark.data.splits import SplitError, lt_profile, read_split_list

SHARED_LISTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "brl_lt_splits"
# (classes, n_max, ratio, samples) of each published list
PUBLISHED = {
    "NTU60_xsub_exp_100": (60, 600, 100, 7892), "NTU60_xsub_exp_50": (60, 600, 50, 9150),
    "NTU60_xsub_exp_10": (60, 600, 10, 14142), "NTU60_xview_exp_100": (60, 600, 100, 7892),
    "NTU60_xview_exp_50": (60, 600, 50, 9150), "NTU60_xview_exp_10": (60, 600, 10, 14142),
    "NTU120_xsub_exp_100": (120, 600, 100, 15600), "NTU120_xsub_exp_50": (120, 600, 50, 18137),
    "NTU120_xsub_exp_10": (120, 600, 10, 28182), "NTU120_xset_exp_100": (120, 400, 100, 10378),
    "NTU120_xset_exp_50": (120, 400, 50, 12069), "NTU120_xset_exp_10": (120, 400, 10, 18771),
}
# the published NTU60-LT (ratio 100) per-class training counts, head class first
NTU60_R100 = [600, 554, 513, 474, 439, 406, 375, 347, 321, 297, 274, 254, 235, 217, 201, 186, 172, 159, 147,
              136, 125, 116, 107, 99, 92, 85, 78, 72, 67, 62, 57, 53, 49, 45, 42, 39, 36, 33, 30, 28, 26, 24,
              22, 20, 19, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 8, 7, 7, 6, 6]


def test_twelve_lists_packaged_with_licence():
    assert lt_lists.available() == sorted(PUBLISHED)
    res = Path(lt_lists.__file__).resolve().parents[1] / "resources" / "lt_splits"
    assert "MIT License" in (res / "LICENSE.BRL").read_text()
    assert "firework8/BRL" in (res / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_packaged_list_has_published_profile(name):
    c, n_max, r, total = PUBLISHED[name]
    names = lt_lists.load_official_list(name)
    assert len(names) == total == len(set(names))
    labels = np.array([int(n[-3:]) - 1 for n in names])          # A field = label + 1
    assert list(np.bincount(labels, minlength=c)) == list(lt_profile(c, n_max, r))


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_packaged_list_equals_official_file(name):
    fam = name.split("_")[0]
    src = SHARED_LISTS / f"{fam}_LT" / f"{name}.txt"
    if not src.exists():
        pytest.skip(f"official lists not found at {SHARED_LISTS} (only present beside the developers' checkout)")
    official = src.read_bytes()
    assert lt_lists.load_official_bytes(name) == official
    assert lt_lists.manifest()[name] == hashlib.sha256(official).hexdigest()
    shared = {l.split()[1].removeprefix("./"): l.split()[0]
              for l in (SHARED_LISTS / "MANIFEST.sha256").read_text().splitlines() if l.strip()}
    assert shared[f"{fam}_LT/{name}.txt"] == lt_lists.manifest()[name]


def test_corrupt_copy_is_refused(monkeypatch):
    real = lt_lists.manifest()
    monkeypatch.setattr(lt_lists, "manifest", lambda: {**real, "NTU60_xsub_exp_100": "0" * 64})
    with pytest.raises(lt_lists.OfficialListError, match="does not match the manifest"):
        lt_lists.load_official_list("NTU60_xsub_exp_100")
    with pytest.raises(SplitError, match="does not match"):
        read_split_list("official:NTU60_xsub_exp_100")


def test_gzip_copies_are_reproducible():
    """Stored without a timestamp, so re-packaging gives the same bytes."""
    res = Path(lt_lists.__file__).resolve().parents[1] / "resources" / "lt_splits"
    raw = (res / "NTU60_xsub_exp_100.txt.gz").read_bytes()
    assert raw[4:8] == b"\0\0\0\0"                                # gzip MTIME field
    assert hashlib.sha256(gzip.decompress(raw)).hexdigest() == lt_lists.manifest()["NTU60_xsub_exp_100"]


@pytest.mark.parametrize("ds_id, d, bench, want", [
    ("ntu60", {"lt": {"ratio": 100, "split_list": "official"}}, "xsub", "official:NTU60_xsub_exp_100"),
    ("ntu60", {"lt": {"ratio": 10, "split_list": {"xview": "official"}}}, "xview", "official:NTU60_xview_exp_10"),
    ("ntu120", {"lt": {"ratio": 50.0, "split_list": "official"}}, "xset", "official:NTU120_xset_exp_50"),
    ("mydata", {"options": {"file": "ntu120_3danno.pkl"}, "lt": {"ratio": 100, "split_list": "official"}},
     "xsub", "official:NTU120_xsub_exp_100"),
    ("x", {"lt": {"split_list": "official:NTU60_xview_exp_50"}}, "xview", "official:NTU60_xview_exp_50"),
    ("x", {"lt": {"split_list": {"xsub": "lists/my.txt"}}}, "xsub", "lists/my.txt"),
    ("x", {"lt": {"split_list": {"xsub": "lists/my.txt"}}}, "xview", None),
    ("x", {"lt": {"ratio": 10}}, "default", None),
])
def test_resolve_split_list(ds_id, d, bench, want):
    assert lt_lists.resolve_split_list(ds_id, d, bench) == want


@pytest.mark.parametrize("ds_id, d, bench, match", [
    ("nw_ucla", {"lt": {"ratio": 10, "split_list": "official"}}, "default", "NTU60 or NTU120"),
    ("ntu60", {"lt": {"ratio": 20, "split_list": "official"}}, "xsub", "ratio 20"),
    ("ntu60", {"lt": {"ratio": 100, "split_list": "official"}}, "xset", "xset"),
    ("x", {"lt": {"split_list": "official:NTU61_xsub_exp_100"}}, "xsub", "no such packaged list"),
])
def test_resolve_split_list_errors(ds_id, d, bench, match):
    with pytest.raises(lt_lists.OfficialListError, match=match):
        lt_lists.resolve_split_list(ds_id, d, bench)


def _fake_ntu60_xsub(tmp_path: Path) -> Path:
    """A canonical NTU60 stand-in: the official list's names plus extra X-Sub training and test samples."""
    from benchmark.data.canonical import DatasetMeta, write_dataset

    names = lt_lists.load_official_list("NTU60_xsub_exp_100")
    extra = [f"S032C003P099R002A{c + 1:03d}" for c in range(60)]        # not in the list: must not be kept
    test = [f"S001C001P003R001A{c + 1:03d}" for c in range(60)]         # P003 is a test subject
    rng = np.random.default_rng(0)
    train = names + extra
    order = rng.permutation(len(train))                                  # source order unrelated to the list
    all_names = [train[i] for i in order] + test
    table = pd.DataFrame({"name": all_names, "label": [int(n[-3:]) - 1 for n in all_names],
                          "frames": 1, "persons": 1,
                          "xsub": ["train"] * len(train) + ["test"] * len(test)})
    joints = np.zeros((len(all_names), 1, 1, 25, 3), np.float32)
    meta = DatasetMeta(dataset="ntu60", layout="ntu25", num_classes=60, benchmarks=["xsub"], reader="test",
                       reader_version="1")
    return write_dataset(tmp_path / "ntu60", joints, table, meta)


def test_ntu60_xsub_split_from_packaged_list(tmp_path):
    from benchmark.data.prepare import build_split

    data = _fake_ntu60_xsub(tmp_path)
    kept = build_split(data, "xsub", n_max=600, ratio="100", split_list=Path("official:NTU60_xsub_exp_100"),
                       out=tmp_path / "split.txt", counts_out=tmp_path / "counts.csv")
    assert kept == lt_lists.load_official_list("NTU60_xsub_exp_100")          # used as is, order kept
    counts = pd.read_csv(tmp_path / "counts.csv")
    assert counts["count"].tolist() == NTU60_R100
    assert counts["count"].sum() == 7892 and counts["count"].iloc[0] == 600 and counts["count"].iloc[-1] == 6
    assert (tmp_path / "split.txt").read_text().split() == kept


def test_workflow_resolves_official(tmp_path):
    import benchmark.workflow as bw

    cfg = {"datasets": {"ntu60": {"source": "pyskl_pickle", "benchmarks": ["xsub", "xview"],
                                  "lt": {"n_max": 600, "ratio": 100, "split_list": "official"}}}}
    sp = bw.splits(cfg)
    assert sp["ntu60_xsub_lt100"].split_list == "official:NTU60_xsub_exp_100"
    assert sp["ntu60_xview_lt100"].split_list == "official:NTU60_xview_exp_100"
    cfg["datasets"]["ntu60"]["lt"]["ratio"] = 20
    with pytest.raises(bw.WorkflowConfigError, match="ratio 20"):
        bw.splits(cfg)
