"""Readers on the real files beside the project (../shared/data): NW-UCLA (docs/datasets.md) and
the Kinetics-skeleton samples (docs/datasets.md). Skipped with a reason when the data is absent."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from benchmark.data.canonical import DatasetError
from benchmark.data.normalize import normalize_dataset
from benchmark.data.readers import read_dataset
from benchmark.data.readers.generic import training_order
from benchmark.data.splits import build_lt_split

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
UCLA = DATA / "nw_ucla"
KIN = DATA / "kinetics_skeleton_samples"

pytestmark = pytest.mark.realdata

#: sha256 of "\n".join(NW-UCLA-LT names): BRL protocol (legacy RandomState(0), classes in order,
#: per-class sub-lists in split_ctrgcn.csv training order), n_max = 100, r = 10 (docs/datasets.md).
NW_UCLA_LT10_SHA256 = "cf33b354a77e8f8493889ec2d207e25a2561a8bd002ff164b0f7bac058bf400f"


@pytest.fixture(scope="module")
def ucla():
    if not (UCLA / "all_sqe").is_dir():
        pytest.skip(f"NW-UCLA data not found at {UCLA} (developer data beside the project)")
    return read_dataset("nw_ucla_json", UCLA, "nw_ucla", checksums=False)


def test_nw_ucla_sizes_and_counts(ucla):
    t = ucla.table
    assert len(ucla.samples) == 1484 and ucla.layout == "nw_ucla20" and ucla.num_classes == 10
    train, test = t[t["default"] == "train"], t[t["default"] == "test"]
    assert len(train) == 1020 and len(test) == 464
    assert list(np.bincount(train["label"], minlength=10)) == [102, 102, 96, 124, 101, 102, 99, 99, 98, 97]
    assert list(np.bincount(test["label"], minlength=10)) == [48, 50, 45, 49, 47, 47, 43, 43, 47, 45]
    assert all(n.endswith(("_v01", "_v02")) for n in train["name"]) and all(n.endswith("_v03") for n in test["name"])
    # rows: training rows in split_ctrgcn.csv order first
    assert list(t["order"][:1020]) == list(range(1020)) and list(t["order"][1020:]) == list(range(464))
    assert training_order(t, "default") == list(train["name"])
    # labels follow the action ids: a08 -> 6, a12 -> 9
    lab = dict(zip(t["name"], t["label"]))
    assert lab["a08_s01_e00_v01"] == 6 and lab["a12_s01_e00_v01"] == 9
    lengths = {n: s.shape[1] for n, s in zip(t["name"], ucla.samples)}
    assert lengths["a02_s09_e04_v02"] == 1 and lengths["a02_s09_e04_v03"] == 1      # T = 1 kept
    assert min(lengths.values()) == 1 and max(lengths.values()) == 201
    assert all(s.shape[0] == 1 and s.shape[2:] == (20, 3) and s.dtype == np.float32 for s in ucla.samples)


def test_nw_ucla_lt_split_golden(ucla):
    t = ucla.table
    names = training_order(t, "default")
    labels = t.set_index("name").loc[names, "label"].to_numpy()
    kept = build_lt_split(names, labels, 10, n_max=100, ratio=10)
    assert kept == build_lt_split(names, labels, 10, n_max=100, ratio=10)
    label_of = dict(zip(names, labels))
    assert list(np.bincount([label_of[n] for n in kept], minlength=10)) == [100, 77, 59, 46, 35, 27, 21, 16, 12, 10]
    # independent re-statement of the protocol with numpy's legacy *global* RNG (docs/datasets.md)
    state = np.random.get_state()
    try:
        np.random.seed(0)
        ref = []
        for c, n_c in enumerate([100, 77, 59, 46, 35, 27, 21, 16, 12, 10]):
            sub = [n for n in names if label_of[n] == c]
            np.random.shuffle(sub)
            ref += sub[:n_c]
    finally:
        np.random.set_state(state)
    assert kept == ref
    assert hashlib.sha256("\n".join(kept).encode()).hexdigest() == NW_UCLA_LT10_SHA256
    assert "a02_s09_e04_v02" in kept        # the README: the 1-frame training sample is selected


def test_nw_ucla_normalises(ucla):
    small = type(ucla)(**{**ucla.__dict__, "samples": ucla.samples[:50], "table": ucla.table.iloc[:50]})
    out = normalize_dataset(small, "prenorm3d")
    for x in out.samples:
        np.testing.assert_allclose(x[0, 0, 1], 0, atol=1e-5)
        s = x[0, 0, 8] - x[0, 0, 4]
        assert s[0] > 0 and abs(s[1]) < 1e-5 and abs(s[2]) < 1e-5


def test_nw_ucla_bad_copy(tmp_path):
    if not (UCLA / "all_sqe").is_dir():
        pytest.skip(f"NW-UCLA data not found at {UCLA}")
    (tmp_path / "all_sqe").mkdir()
    rows = (UCLA / "split_ctrgcn.csv").read_text().splitlines()
    names = [r.split(",")[1] for r in rows[1:4]]
    for n in names:
        (tmp_path / "all_sqe" / f"{n}.json").write_bytes((UCLA / "all_sqe" / f"{n}.json").read_bytes())
    (tmp_path / "split_ctrgcn.csv").write_text("\n".join(rows[:5]) + "\n")     # lists a 4th, absent file
    with pytest.raises(DatasetError, match="no file"):
        read_dataset("nw_ucla_json", tmp_path, "nw_ucla", expect_count=None)
    (tmp_path / "split_ctrgcn.csv").write_text("\n".join(rows[:4]) + "\n")
    with pytest.raises(DatasetError, match="expected 1484"):
        read_dataset("nw_ucla_json", tmp_path, "nw_ucla")
    raw = read_dataset("nw_ucla_json", tmp_path, "nw_ucla", expect_count=None)
    assert list(raw.table["name"]) == names
    p = tmp_path / "all_sqe" / f"{names[0]}.json"
    p.write_text(p.read_text()[:-30])
    with pytest.raises(DatasetError, match=f"{names[0]}.json: not valid JSON"):
        read_dataset("nw_ucla_json", tmp_path, "nw_ucla", expect_count=None)
    p.write_text('{"file_name": "%s", "skeletons": [], "label": %d}' % (names[0], raw.table["label"][0] + 1))
    with pytest.raises(DatasetError, match="0 frames"):
        read_dataset("nw_ucla_json", tmp_path, "nw_ucla", expect_count=None)


def test_kinetics_samples():
    if not (KIN / "kinetics_val_label.json").exists():
        pytest.skip(f"Kinetics-skeleton samples not found at {KIN}")
    opts = dict(parts={"kinetics_train": "train", "kinetics_val_old": "test"},
                label_files={"kinetics_train": "kinetics_train_samples_label.json",
                             "kinetics_val_old": "kinetics_val_label.json"},
                class_label_file="kinetics_val_label.json", require_all=False)
    # the 5 training clips were re-indexed 0..4 by their source repository: the default check catches it
    with pytest.raises(DatasetError, match="re-indexed"):
        read_dataset("stgcn_openpose", KIN, "kinetics", **opts)
    raw = read_dataset("stgcn_openpose", KIN, "kinetics", check_label_index=False, **opts)
    t = raw.table
    assert (t["default"] == "train").sum() == 5 and (t["default"] == "test").sum() == 7
    assert len(raw.class_names) == 400 and raw.class_names[0] == "abseiling" and raw.class_names[399] == "zumba"
    lab = dict(zip(t["name"], t["label"]))
    # indices come from the class names through the real label file, not the re-indexed label_index
    assert raw.class_names[lab["___dTOdxzXY"]] == "jumping into pool"
    assert raw.class_names[lab["__6LvmReo3Y"]] == "pushing cart"
    for x in raw.samples:
        assert x.shape[0] == 2 and x.shape[2:] == (18, 3) and 1 <= x.shape[1] <= 300
        assert x[..., 2].max() <= 1.2 and x[..., :2].min() >= 0
        assert (x[0, ..., 2].sum(-1) >= x[1, ..., 2].sum(-1)).all()   # per-frame top-2 by summed score
    out = normalize_dataset(raw, "stgcn_center")
    x = out.samples[0]
    assert np.all(x[..., :2][x[..., 2] == 0] == 0) and x[..., :2].min() >= -0.6
