"""Generic-format features: Many/Few thresholds, xyz+score coordinates, custom layouts, free
benchmark names, estimates for generic datasets."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmark.data.splits import (DEFAULT_GROUPS, GroupThresholds, SplitError, counts_table,
                                   groups_from_counts_csv, resolve_thresholds)

COUNTS = [30, 18, 11, 7, 4, 3]


# ----------------------------------------------------------------------------- thresholds

def test_default_thresholds_are_100_and_20():
    assert DEFAULT_GROUPS.shot(101) == "many" and DEFAULT_GROUPS.shot(100) == "medium"
    assert DEFAULT_GROUPS.shot(20) == "medium" and DEFAULT_GROUPS.shot(19) == "few"
    assert resolve_thresholds(None, COUNTS) == DEFAULT_GROUPS


def test_absolute_and_relative_thresholds():
    g = resolve_thresholds({"many": 10, "few": 5}, COUNTS)
    assert [g.shot(n) for n in COUNTS] == ["many", "many", "many", "medium", "few", "few"]
    g = resolve_thresholds({"many": 0.5, "few": 0.2, "relative": True}, COUNTS)      # of the largest, 30
    assert (g.many_above, g.few_below) == (15, 6)
    assert [g.shot(n) for n in COUNTS] == ["many", "many", "medium", "medium", "few", "few"]
    assert g.labels() == {"many": "Many (>15)", "medium": "Medium (6–15)", "few": "Few (<6)"}
    assert g.to_dict() == {"many_above": 15, "few_below": 6}


@pytest.mark.parametrize("spec, match", [
    ({"many": 5, "few": 10}, "above the Many threshold"),
    ({"many": 0.5, "few": 2, "relative": True}, "fractions"),
    ({"many": 50, "rare": 3}, "unknown key"),
    ({"many": "lots"}, "must be numbers"),
])
def test_bad_thresholds_are_named(spec, match):
    with pytest.raises(SplitError, match=match):
        resolve_thresholds(spec, COUNTS)


def test_thresholds_travel_with_the_counts_table(tmp_path):
    g = GroupThresholds(15, 6)
    labels = np.repeat(np.arange(6), COUNTS)
    df = counts_table(labels, 6, groups=g)
    assert df["shot"].tolist() == ["many", "many", "medium", "medium", "few", "few"]
    path = tmp_path / "x_counts.csv"
    df.to_csv(path, index=False)
    assert groups_from_counts_csv(path) == g
    df.drop(columns=["many_above", "few_below"]).to_csv(path, index=False)       # an older counts file
    assert groups_from_counts_csv(path) == DEFAULT_GROUPS
    assert groups_from_counts_csv(tmp_path / "absent.csv") == DEFAULT_GROUPS


def test_metrics_use_and_record_the_thresholds():
    """The worked metric example of docs/evaluation.md, regrouped with many > 50, few < 40."""
    from benchmark.metrics import compute_metrics

    probs = np.array([[.70, .10, .10, .10], [.90, .05, .03, .02], [.30, .50, .10, .10], [.20, .62, .09, .09],
                      [.55, .35, .05, .05], [.10, .10, .75, .05], [.05, .05, .85, .05], [.20, .10, .08, .62],
                      [.42, .30, .10, .18], [.45, .15, .10, .30]])
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 3, 3, 3])
    counts = np.array([150, 60, 30, 10])
    default = compute_metrics(probs, labels, counts)
    assert default["many"] == pytest.approx(2 / 3) and default["medium"] == pytest.approx(0.75)
    assert default["few"] == pytest.approx(1 / 3) and default["groups"] == {"many_above": 100, "few_below": 20}
    m = compute_metrics(probs, labels, counts, groups=GroupThresholds(50, 40))
    assert m["many"] == pytest.approx((2 / 3 + 0.5) / 2)         # classes 0, 1
    assert m["medium"] is None and m["n_medium"] == 0
    assert m["few"] == pytest.approx((1.0 + 1 / 3) / 2)          # classes 2, 3
    assert m["groups"] == {"many_above": 50, "few_below": 40}


def test_bootstrap_group_masks_follow_the_thresholds():
    from benchmark.stats import _group_mask

    t = np.array([150, 60, 30, 10])
    assert _group_mask("few", t, 4).tolist() == [False, False, False, True]
    assert _group_mask("few", t, 4, {"many_above": 50, "few_below": 40}).tolist() == [False, False, True, True]


# ----------------------------------------------------------------------------- xyz+score

def test_xyz_score_streams_keep_the_confidence_channel():
    import torch

    from benchmark.data import transforms as T
    from benchmark.graphs import layout_from_dict

    lay = layout_from_dict({"num_node": 3, "inward": [[1, 0], [2, 1]], "center": 0})
    x = torch.tensor([[[[0., 0., 0., 1.0], [1., 2., 3., 0.5], [2., 2., 2., 0.25]],
                       [[1., 1., 1., 0.8], [1., 1., 1., 0.6], [3., 3., 3., 0.4]]]])      # (M=1, T=2, V=3, C=4)
    b = T.modality(x, "b", lay, coords="xyz+score")
    assert b[0, 0, 1].tolist() == [1., 2., 3., 0.75]              # joint 1 − joint 0; mean confidence
    assert b[0, 0, 0].tolist() == [0., 0., 0., 1.0]               # the root's self pair keeps its own
    jm = T.modality(x, "jm", lay, coords="xyz+score")
    assert jm[0, 0, 2].tolist() == pytest.approx([1., 1., 1., (0.25 + 0.4) / 2])
    assert jm[0, 1].abs().sum() == 0                              # last frame: zero motion
    mats = torch.diag(torch.tensor([2., 3., 4.]))[None]
    out = T.apply_augmentation(x[None], (mats, torch.tensor([False])), lay, coords="xyz+score")
    assert out[0, 0, 0, 1].tolist() == [2., 6., 12., 0.5]         # coordinates scaled, confidence kept
    assert T.aug_mode("xyz+score") == "3d" and T.aug_mode("xy+score") == "2d"
    with pytest.raises(T.TransformError, match="needs C = 4"):
        T.modality(x[..., :3], "j", lay, coords="xyz+score")


def test_prenorm3d_moves_coordinates_only():
    from benchmark.data.normalize import prenorm3d
    from benchmark.graphs import get_layout

    lay = get_layout("nw_ucla20")
    rng = np.random.default_rng(0)
    xyz = rng.normal(size=(2, 6, 20, 3))
    xyz[0, :2] = 0                                                # person 0 absent in two frames
    xyz[1, 4:] = 0
    score = rng.uniform(size=(2, 6, 20, 1))
    with_score = prenorm3d(np.concatenate([xyz, score], -1), lay)
    plain = prenorm3d(xyz, lay)
    assert with_score.shape[-1] == 4
    np.testing.assert_allclose(with_score[..., :3], plain, atol=1e-6)
    np.testing.assert_allclose(with_score[0, :, :, 3], score[0, 2:, :, 0], atol=1e-6)   # same frames kept


# ----------------------------------------------------------------------------- layouts, names

def test_custom_layout_keys_are_checked():
    from benchmark.data.readers.generic import resolve_layout
    from benchmark.graphs import LayoutError

    ok = resolve_layout({"num_node": 3, "inward": [[1, 0], [2, 1]], "center": 0, "flip": [[1, 2]]})
    assert ok.flip == (0, 2, 1)
    with pytest.raises(LayoutError, match=r"unknown key\(s\) \['centre'\]"):
        resolve_layout({"num_node": 3, "inward": [[1, 0], [2, 1]], "centre": 0})
    with pytest.raises(LayoutError, match=r"missing key\(s\) \['center'\]"):
        resolve_layout({"num_node": 3, "inward": [[1, 0], [2, 1]]})


def _validate(cfg):
    from snakemake.utils import validate

    from conftest import REPO
    validate(cfg, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))


def _cfg(**dataset):
    d = {"source": "generic", "root": "x", "benchmarks": ["cross_room"], **dataset}
    return {"datasets": {"lab": d}, "backbones": ["stgcnpp"], "methods": ["ce"], "streams": ["j"], "seeds": [0],
            "schedule": {"runner_epochs": 1}}


def test_schema_accepts_free_benchmark_names_layout_mappings_and_thresholds():
    _validate(_cfg(layout={"num_node": 3, "inward": [[1, 0], [2, 1]], "center": 0},
                   thresholds={"many": 0.5, "few": 0.1, "relative": True}))
    _validate(_cfg(benchmarks=["fold-1.a", "Default2"], layout="ntu25"))
    for bad in (_cfg(benchmarks=["cross room"]), _cfg(thresholds={"many": 5, "rare": 1}),
                _cfg(layout={"num_node": 3, "inward": [], "center": 0, "centre": 0})):
        with pytest.raises(Exception):
            _validate(bad)


def test_layout_is_given_once():
    import benchmark.workflow as bw

    lay = {"num_node": 3, "inward": [[1, 0], [2, 1]], "center": 0}
    cfg = _cfg(layout=lay, options={"coords": "xyz+score"})
    assert bw.dataset_options(cfg, "lab") == {"coords": "xyz+score", "layout": lay}
    cfg = _cfg(layout=lay, options={"layout": "ntu25"})
    with pytest.raises(bw.WorkflowConfigError, match="layout is given twice"):
        bw.dataset_options(cfg, "lab")


def test_split_ids_and_thresholds_in_the_plan():
    import benchmark.workflow as bw

    cfg = _cfg(lt={"n_max": 30, "ratio": 10}, thresholds={"many": 0.5, "few": 0.2, "relative": True})
    sp = bw.splits(cfg)["lab_cross_room_lt10"]
    assert sp.benchmark == "cross_room"
    assert sp.thresholds == '{"few":0.2,"many":0.5,"relative":true}'


# ----------------------------------------------------------------------------- estimate

def test_estimate_covers_a_generic_dataset(tmp_path):
    from benchmark.estimate import estimate, throughput_table

    rows = [{"name": f"s{c}_{i}", "label": c, "fold": "train" if i < 30 else "test"} for c in range(6)
            for i in range(34)]
    pd.DataFrame(rows).to_csv(tmp_path / "labels.csv", index=False)
    cfg = _cfg(benchmarks=["fold"], root=str(tmp_path), lt={"n_max": 30, "ratio": 10},
               layout={"num_node": 3, "inward": [[1, 0], [2, 1]], "center": 0, "upper": [0, 1]})
    cfg["schedule"] = {"runner_epochs": 2, "repeat": 1, "batch_size": 16, "clip_len": 64, "test_clips": 10}
    cfg["methods"] = ["ce", "brl"]
    res = estimate(cfg, throughput_table(None))
    assert res["runs"] == 2 and res["skipped"] == []
    ce = next(r for r in res["rows"] if r["method"] == "ce")
    assert ce["train_clips"] == 2 * (30 + 18 + 11 + 7 + 4 + 3)       # two epochs of the LT list
    assert ce["test_clips"] == 6 * 4 * 10                            # 24 test samples x 10 clips
    cfg["datasets"]["lab"]["lt"] = {"ratio": "natural"}
    res = estimate(cfg, throughput_table(None))
    assert next(r for r in res["rows"] if r["method"] == "ce")["train_clips"] == 2 * 180
