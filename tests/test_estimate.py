"""Compute estimate: training volumes equal the spec's figures (docs/training.md)."""
from __future__ import annotations

import pytest
import yaml

import benchmark.workflow as bw
from benchmark.estimate import DATASET_FACTS, class_counts, estimate, run_volume, throughput_table
from conftest import REPO


@pytest.fixture(scope="module")
def paper():
    return yaml.safe_load((REPO / "config" / "paper.yaml").read_text())


def _run(cfg, split, method, stream="j"):
    for r in bw.runs(cfg):
        if r.split.split_id == split and r.method.id == method and r.stream == stream and r.seed == 0 \
                and r.backbone == "stgcnpp":
            return r
    raise AssertionError(f"no run {split} {method} {stream}")


@pytest.mark.parametrize("split,method,train,test", [
    ("ntu60_xsub_lt100", "brl", 2_354_544, 164_870),       # reverse sampler, 24 x 5
    ("ntu60_xsub_lt100", "ce", 947_040, 164_870),          # instance sampler, 24 x 5
    ("ntu60_xsub_lt100", "plain", 631_360, 164_870),       # plain recipe, 16 x 5
    ("ntu120_xsub_lt100", "brl", 4_686_168, 509_190),
    ("ntu120_xset_lt100", "brl", 3_122_472, 594_770),
    ("nw_ucla_default_lt10", "brl_b16", 89_280, 4_640),
])
def test_training_volume_matches_the_spec(paper, split, method, train, test):
    run = _run(paper, split, method)
    v = run_volume(run, paper, class_counts(run, DATASET_FACTS[run.split.dataset]))
    assert v["train_clips"] == train
    assert v["test_clips"] == test


def test_paper_grid_estimate_covers_every_run(paper):
    result = estimate(paper, throughput_table(None))
    assert result["runs"] == len(bw.runs(paper)) and not result["skipped"]
    assert result["gpu_hours"] > 0
