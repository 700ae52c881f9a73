"""Real data, end to end on CPU: NW-UCLA → canonical format → NW-UCLA-LT → a short CE run.

Skips when ../shared/data/nw_ucla is absent (a user's machine)."""
from __future__ import annotations

import pytest

from conftest import SHARED_DATA

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def nw_ucla_prepared(tmp_path_factory):
    root = SHARED_DATA / "nw_ucla"
    if not (root / "all_sqe").is_dir():
        pytest.skip(f"NW-UCLA data not found at {root} (it lives in ../shared/data beside the project)")
    from benchmark.data.prepare import build_split, prepare_dataset

    out = tmp_path_factory.mktemp("ucla")
    data = prepare_dataset("nw_ucla", "nw_ucla_json", root, out / "data", normalize="prenorm3d")
    split = out / "nw_ucla_default_lt10.txt"
    build_split(data, "default", 100, "10", None, split, out / "counts.csv")
    return data, split, out


def test_prepared_nw_ucla_has_the_official_sizes(nw_ucla_prepared):
    from benchmark.data.canonical import load_dataset

    data, split, _ = nw_ucla_prepared
    ds = load_dataset(data, verify=True)
    assert len(ds.split_indices("default", "train")) == 1020
    assert len(ds.split_indices("default", "test")) == 464
    assert ds.joints.shape[1:] [0] == 2 and ds.joints.shape[3:] == (20, 3)
    assert len(split.read_text().split()) == 403


def test_short_cpu_ce_run_on_nw_ucla_lt_is_well_above_chance(nw_ucla_prepared):
    from benchmark.engine.config import RunSpec
    from benchmark.engine.train import train_run

    data, split, out = nw_ucla_prepared
    spec = RunSpec.from_dict(dict(
        dataset="nw_ucla", benchmark="default", split_id="nw_ucla_default_lt10", backbone="stgcnpp", method="ce",
        method_id="ce", stream="j", seed=0, backbone_options={"base_channels": 8},
        schedule={"runner_epochs": 8, "repeat": 1, "batch_size": 16, "base_lr": 0.4, "clip_len": 16,
                  "test_clips": 2, "val_every": 0},
        lt_profile={"n_max": 100, "ratio": 10}))
    rec = train_run(spec, data, split, out / "run", out / "ckpt", progress=False)
    # 10 classes: chance is 10 %. A few epochs of a narrow ST-GCN++ on 16-frame clips get far beyond
    # it (this spec: 33.4 % with one thread; ten epochs of 24-frame clips gave 40.1 % at twice the cost).
    assert rec["metrics"]["top1"] > 0.25, rec["metrics"]["top1"]
    assert rec["meta"]["train_size"] == 403 and rec["meta"]["test_size"] == 464
