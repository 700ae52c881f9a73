"""Fidelity: official-code recipes, model selection, the held-out validation split, F16/F18."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmark.engine.config import RunSpec
from helpers import REPO, SHARED_DATA, tiny_spec

LT_LISTS = SHARED_DATA / "brl_lt_splits"
NTU60_XSUB = LT_LISTS / "NTU60_LT" / "NTU60_xsub_exp_100.txt"


def _paper_config() -> dict:
    return yaml.safe_load((REPO / "config" / "paper.yaml").read_text())


def _spec_of(config, split, method, stream="j", backbone="stgcnpp") -> RunSpec:
    from benchmark.workflow import run_spec

    return RunSpec.from_json(run_spec(config, split, backbone, method, stream, 0))


# ----------------------------------------------------------------------------------- recipes
def test_official_ntu_recipe_is_batch16_and_paper_mode_is_unchanged():
    cfg = _paper_config()
    off = _spec_of(cfg, "ntu60_xsub_lt100", "brl_official")
    assert off.fidelity == "official_code" and off.recipe == "official_code:ntu"
    assert off.schedule.batch_size == 16 and off.schedule.lr0 == pytest.approx(0.0125)
    assert (off.schedule.runner_epochs, off.schedule.repeat, off.schedule.clip_len) == (24, 5, 64)
    paper = _spec_of(cfg, "ntu60_xsub_lt100", "brl")
    assert paper.schedule.batch_size == 128 and paper.schedule.lr0 == pytest.approx(0.1)
    assert paper.recipe is None and paper.pipeline == {}
    # options added later stay out of a paper-mode run's identity
    assert "recipe" not in json.loads(paper.to_json()) and "test_sampling" not in json.loads(paper.to_json())["schedule"]


def test_method_entry_schedule_still_wins_over_the_official_recipe():
    cfg = _paper_config()
    cfg["methods"].append({"name": "brl", "fidelity": "official_code", "id": "brl_off_short",
                           "schedule": {"runner_epochs": 2}})
    s = _spec_of(cfg, "ntu60_xsub_lt100", "brl_off_short")
    assert s.schedule.runner_epochs == 2 and s.schedule.batch_size == 16


def _ntu60_labels() -> np.ndarray:
    """NTU60-LT IF100 class counts (docs/methods.md), as a label vector."""
    from benchmark.data.splits import lt_profile

    counts = lt_profile(60, 600, 100)
    assert counts.sum() == 7892
    return np.repeat(np.arange(60), counts)


def test_official_ntu60_brl_plans_6132_iterations_per_runner_epoch():
    from benchmark.engine.train import plan_context
    from benchmark.graphs import get_layout

    spec = _spec_of(_paper_config(), "ntu60_xsub_lt100", "brl_official")
    cls, ctx = plan_context(spec, _ntu60_labels(), get_layout("ntu25"), 60)
    # 98 106 samples per runner epoch (reverse sampler, R = 5) → ⌈98 106/16⌉ = 6 132; T_tot = 147 168
    assert ctx.iters_per_epoch == 6132 and ctx.total_iters == 147168
    method = cls(ctx, **spec.method_options)
    assert method.switch_iter == 116508                   # official t_s = 19 · I (docs/methods.md)
    paper = _spec_of(_paper_config(), "ntu60_xsub_lt100", "brl")
    _, pctx = plan_context(paper, _ntu60_labels(), get_layout("ntu25"), 60)
    assert pctx.iters_per_epoch == 767 and pctx.total_iters == 18408


def test_official_brl_draws_one_lambda_per_batch():
    import torch

    from benchmark.engine.train import _step_generator, plan_context
    from benchmark.graphs import get_layout

    spec = _spec_of(_paper_config(), "ntu60_xsub_lt100", "brl_official")
    cls, ctx = plan_context(spec, _ntu60_labels(), get_layout("ntu25"), 60)
    method = cls(ctx, **spec.method_options)
    rng = np.random.default_rng(0)
    seen = set()
    for step in range(12):
        y = torch.as_tensor(rng.integers(0, 60, size=16))
        x = torch.randn(16, 2, 4, 25, 3)
        x_out, t = method.transform_batch(x, y, step, _step_generator(0, step, torch.device("cpu")))
        mixed = (x_out != x).flatten(1).any(1)
        assert int(mixed.sum()) <= 1                        # ⌊16/16⌋ = 1 sample mixed per batch
        assert torch.unique(t.lam).numel() == 1              # one λ for the whole batch (F2 at B = 16)
        seen.add(round(float(t.lam[0]), 4))
    assert seen <= {0.0, 1.0, 0.64}


def _kinetics_config() -> dict:
    cfg = yaml.safe_load((REPO / "config" / "kinetics.yaml").read_text())
    cfg["methods"] = ["ce", "brl", {"name": "brl", "fidelity": "official_code"},
                      {"name": "ce", "fidelity": "official_code"}]
    return cfg


def test_official_kinetics_recipe():
    cfg = _kinetics_config()
    s = _spec_of(cfg, "kinetics_default_natural", "brl_official")
    assert (s.schedule.batch_size, s.schedule.runner_epochs, s.schedule.repeat, s.schedule.clip_len) == (64, 150, 1, 100)
    assert s.schedule.lr0 == pytest.approx(0.1) and s.schedule.test_sampling == "random"
    assert s.method_options == {"aa_switch_epoch": 129} and s.recipe.startswith("official_code:kinetics")
    assert s.augment.scale == 0 and s.augment.rotate == 0
    assert _spec_of(cfg, "kinetics_default_natural", "ce_official").method_options == {}
    assert _spec_of(cfg, "kinetics_default_natural", "brl").schedule.batch_size == 32


def test_official_kinetics_coordinates_are_pixels_and_the_paper_preset_keeps_prenorm2d():
    """F16: the released K400 pipeline has no PreNormalize2D and flips about the image width; the
    new values enter the run spec (so the run identity) of official Kinetics runs only."""
    cfg = _kinetics_config()
    off = _spec_of(cfg, "kinetics_default_natural", "brl_official")
    assert off.pipeline == {"normalize": "none"} and off.augment.flip_mode == "image"
    assert off.to_dict()["augment"]["flip_mode"] == "image" and off.to_dict()["pipeline"] == {"normalize": "none"}
    paper = _spec_of(cfg, "kinetics_default_natural", "brl")
    assert paper.pipeline == {} and paper.augment.flip_mode == "permute" and paper.recipe is None
    assert "pipeline" not in paper.to_dict() and "flip_mode" not in paper.to_dict()["augment"]
    assert paper.versions["normalize"] == off.versions["normalize"] == "prenorm2d"    # one prepared dataset
    # a method entry's own augment still wins over the recipe
    cfg["methods"].append({"name": "ce", "fidelity": "official_code", "id": "ce_off_origin",
                           "augment": {"flip_mode": "permute"}})
    assert _spec_of(cfg, "kinetics_default_natural", "ce_off_origin").augment.flip_mode == "permute"
    # data prepared without normalisation are pixels already: only the flip changes
    cfg["datasets"]["kinetics"]["normalize"] = "none"
    raw = _spec_of(cfg, "kinetics_default_natural", "brl_official")
    assert raw.pipeline == {} and raw.augment.flip_mode == "image"
    # the ST-GCN OpenPose release has no released pipeline and no image size: extrapolated as before
    cfg["datasets"]["kinetics"].update(source="stgcn_openpose", layout="openpose18", normalize="stgcn_center")
    op = _spec_of(cfg, "kinetics_default_natural", "brl_official")
    assert op.pipeline == {} and op.augment.flip_mode == "permute" and "extrapolated" in op.recipe


def test_official_ntu_and_nw_ucla_specs_do_not_change():
    """The Kinetics coordinate options are not applied to any other dataset family."""
    cfg = _paper_config()
    for split, method in (("ntu60_xsub_lt100", "brl_official"), ("ntu60_xsub_lt100", "brl"),
                          ("nw_ucla_default_lt10", "brl_b16")):
        s = _spec_of(cfg, split, method)
        assert "normalize" not in s.pipeline and s.augment.flip_mode == "permute", (split, method)


def test_official_kinetics_baselines_switch_at_the_kinetics_epoch():
    """The released runner's one switch epoch is 129 in its Kinetics config: the baselines' deferred
    stages start there too (not at their NTU runner epoch 19 of 24); paper mode keeps its own."""
    from benchmark.recipes import KINETICS_SWITCH_EPOCH

    cfg = _kinetics_config()
    cfg["methods"] = [{"name": m, "fidelity": "official_code"} for m in ("focal", "ldam_drw", "kps", "gumbel_ce")] \
        + ["focal"]
    for m in ("focal", "ldam_drw", "kps", "gumbel_ce"):
        s = _spec_of(cfg, "kinetics_default_natural", f"{m}_official")
        assert s.method_options == {"switch_epoch": KINETICS_SWITCH_EPOCH} == {"switch_epoch": 129}, m
    assert _spec_of(cfg, "kinetics_default_natural", "focal").method_options == {}
    # and the method accepts it: the switch lands at 0-based runner epoch 129 of 150
    import methods
    from methods._formulas import resolve_switch

    opts = {**methods.get_method("focal").DEFAULTS, **methods.get_method("focal").OFFICIAL_CODE,
            "switch_epoch": KINETICS_SWITCH_EPOCH}
    ctx = type("Ctx", (), {"iters_per_epoch": 10, "runner_epochs": 150, "repeat": 1})()
    assert resolve_switch(ctx, opts["switch"], opts["switch_fraction"], opts["switch_epoch"], "focal") == 1290


@pytest.fixture
def tiny_coco(tmp_path) -> Path:
    """A small 2D (x, y, score) COCO-17 dataset with a natural long tail."""
    from benchmark.data.canonical import DatasetMeta, write_dataset

    rng = np.random.default_rng(1)
    c = 4
    train_counts, n_test = [12, 8, 5, 3], 3
    labels = np.concatenate([np.repeat(np.arange(c), train_counts), np.repeat(np.arange(c), n_test)])
    n, n_train = len(labels), sum(train_counts)
    frames = rng.integers(10, 24, size=n)
    joints = np.zeros((n, 2, 24, 17, 3), np.float32)
    t = np.arange(24)[:, None]
    for i in range(n):
        joints[i, 0, : frames[i], :, :2] = (rng.normal(0, 0.3, (1, 17, 2))
                                             + 0.4 * np.sin(t * (labels[i] + 1) * 0.3)[:, :, None])[: frames[i]]
        joints[i, 0, : frames[i], :, 2] = 0.9
    # each video's own image size, as the pyskl_hrnet reader records it (pixels = official_code, F16)
    odd = np.arange(n) % 2 == 1
    table = pd.DataFrame({"name": [f"k{i:03d}" for i in range(n)], "label": labels, "frames": frames,
                          "persons": 1, "default": ["train"] * n_train + ["test"] * (n - n_train),
                          "img_h": np.where(odd, 480, 720), "img_w": np.where(odd, 640, 1280)})
    meta = DatasetMeta(dataset="kin", layout="coco17", num_classes=c, benchmarks=["default"], reader="test",
                       reader_version="1", coords="xy+score", normalized="prenorm2d")
    return write_dataset(tmp_path / "kin", joints, table, meta)


def test_official_kinetics_plans_and_trains_a_tiny_run(tiny_coco, tmp_path, single_torch_thread):
    from benchmark.engine.train import train_run

    s = _spec_of(_kinetics_config(), "kinetics_default_natural", "brl_official").to_dict()
    s.update(backbone_options={"base_channels": 8})
    s["schedule"].update(runner_epochs=2, batch_size=16, clip_len=8, test_clips=2, eval_batch_size=16)
    spec = RunSpec.from_dict(s)
    rec = train_run(spec, tiny_coco, None, tmp_path / "out", tmp_path / "ckpt", progress=False)
    assert rec["run"]["fidelity"] == "official_code"
    assert rec["meta"]["fidelity_flags"]["F16"]["value"] == "random"
    assert rec["meta"]["pipeline"] == {"normalize": "none"} and rec["meta"]["augment"]["flip_mode"] == "image"
    assert rec["meta"]["method_meta"]["resolved"]["counts"] == [12, 8, 5, 3]    # natural tail: actual counts
    assert set(rec["selections"]) == {"best_test"}           # no validation split on a natural tail
    assert rec["selections"]["best_test"]["label"] == "selected on test (optimistic)"
    # random test clips are seeded: a second test of the same model gives the same probabilities
    again = train_run(spec, tiny_coco, None, tmp_path / "out2", tmp_path / "ckpt", progress=False)
    assert again["metrics"]["top1"] == rec["metrics"]["top1"]


def _kinetics_trainer(root, tmp_path, flip_p, fidelity="official_code"):
    from benchmark.engine.train import RunTrainer

    method = "ce_official" if fidelity == "official_code" else "ce"
    s = _spec_of(_kinetics_config(), "kinetics_default_natural", method).to_dict()
    s.update(backbone_options={"base_channels": 8})
    s["schedule"].update(runner_epochs=1, batch_size=8, clip_len=6, test_clips=2, eval_batch_size=16)
    s["augment"]["flip_p"] = flip_p
    return RunTrainer(RunSpec.from_dict(s), root, None, tmp_path / f"out{flip_p}{fidelity}",
                      tmp_path / f"ckpt{flip_p}{fidelity}", progress=False)


def test_official_kinetics_batches_are_pixels_flipped_about_each_width(tiny_coco, tmp_path, single_torch_thread):
    """The trainer's batches in official mode: pixel coordinates (x = x′·w/2 + w/2 of the prepared
    prenorm2d data) and, when flipped, x ← W − x with the sample's own W, joints swapped."""
    import torch

    from benchmark.data.canonical import load_dataset
    from benchmark.graphs import get_layout

    plain = _kinetics_trainer(tiny_coco, tmp_path, 0.0)
    flipped = _kinetics_trainer(tiny_coco, tmp_path, 1.0)
    ds = load_dataset(tiny_coco)
    i = int(plain.train.indices[0])
    w, h = float(ds.table["img_w"][i]), float(ds.table["img_h"][i])
    expect = ds.joints[i, 0, 0, :, 0] * (w / 2) + w / 2                    # every joint has score 0.9
    np.testing.assert_allclose(plain.train.joints[0, 0, 0, :, 0].numpy(), expect, rtol=1e-5)
    np.testing.assert_allclose(plain.train.joints[0, 0, 0, :, 1].numpy(), ds.joints[i, 0, 0, :, 1] * (h / 2) + h / 2,
                               rtol=1e-5)
    assert float(plain.test.joints[..., 0].max()) > 2                      # the test split is in pixels too
    order = plain.epoch_order(0)
    x0, _ = plain.batch(order, 0, 0)                                       # same step: same frames drawn
    x1, _ = flipped.batch(order, 0, 0)
    widths = plain.train.widths_t                                          # kept even at flip_p = 0
    wb = widths[order[:8]][:, None, None, None]
    perm = list(get_layout("coco17").flip)
    mirrored = torch.where(x0[..., perm, 0] != 0, wb - x0[..., perm, 0], x0[..., perm, 0])
    torch.testing.assert_close(x1[..., 0], mirrored, rtol=0, atol=1e-3)
    torch.testing.assert_close(x1[..., 1:], x0[..., perm, 1:], rtol=0, atol=0)
    assert set(widths.tolist()) == {640.0, 1280.0}
    # paper mode on the same prepared data: normalised coordinates, no widths kept
    paper = _kinetics_trainer(tiny_coco, tmp_path, 1.0, fidelity="paper")
    assert paper.train.widths_t is None and float(paper.train.joints[..., 0].abs().max()) < 2


def test_official_kinetics_without_an_image_width_names_the_sample(tiny_coco, tmp_path):
    from benchmark.data.canonical import DatasetError, load_dataset, write_dataset
    from benchmark.engine.train import SplitTensors

    ds = load_dataset(tiny_coco)
    table = ds.table.copy()
    table.loc[3, "img_w"] = 0                                              # the reader's "no img_shape"
    bad = write_dataset(tmp_path / "bad", np.asarray(ds.joints), table, ds.meta)
    with pytest.raises(DatasetError, match=r"table\.csv: sample 'k003' has no valid image size"):
        _kinetics_trainer(bad, tmp_path, 0.5)
    with pytest.raises(DatasetError, match="no img_w column"):
        SplitTensors(load_dataset(write_dataset(tmp_path / "nocol", np.asarray(ds.joints), table.drop(columns="img_w"),
                                                ds.meta)), np.arange(3), "cpu", to_pixels=True)


def test_pixel_options_refuse_data_they_cannot_apply_to(tiny_coco, tmp_path):
    from benchmark.data.canonical import load_dataset
    from benchmark.engine.config import ConfigError
    from benchmark.engine.train import _flips_about_width, _to_pixels, augment_config

    ds = load_dataset(tiny_coco)
    off = _spec_of(_kinetics_config(), "kinetics_default_natural", "brl_official")
    assert _to_pixels(off, ds) and _flips_about_width(off, ds)
    assert augment_config(off, "xy+score").mode == "2d"
    with pytest.raises(ConfigError, match="flip_mode = image.*'xyz'"):
        augment_config(off, "xyz")                              # 3D skeletons have no image width
    no_restore = RunSpec.from_dict({**off.to_dict(), "pipeline": {}})
    with pytest.raises(ConfigError, match="flip_mode = image.*pipeline.normalize: none"):
        _flips_about_width(no_restore, ds)                      # would mirror normalised data about W
    ds.meta.normalized = "stgcn_center"
    with pytest.raises(ConfigError, match="can only undo PreNormalize2D"):
        _to_pixels(off, ds)
    with pytest.raises(ConfigError, match="only 'none'"):
        _to_pixels(RunSpec.from_dict({**off.to_dict(), "pipeline": {"normalize": "prenorm2d"}}), ds)
    with pytest.raises(ConfigError, match="unknown key"):
        _to_pixels(RunSpec.from_dict({**off.to_dict(), "pipeline": {"normalise": "none"}}), ds)


def test_random_test_clips_differ_from_the_deterministic_ones(tiny_coco):
    from benchmark.data import transforms as T

    det = T.test_frame_indices(20, 8, 2)
    rnd = T.train_frame_indices(np.full(2, 20), 8, np.random.default_rng([255, 0]))
    assert rnd.shape == det.shape and not np.array_equal(rnd, det)


# ----------------------------------------------------------------------------------- F18
def test_recenter_equals_prenorm3d_with_another_centre():
    from benchmark.data.normalize import prenorm3d, recenter
    from benchmark.graphs import get_layout

    lay = get_layout("nw_ucla20")
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (2, 6, 20, 3))
    x[1, 3:] = 0.0                                        # second person leaves: zeros must stay zero
    paper = prenorm3d(x, lay)                             # centre joint 1 (spine) [suite]
    official = prenorm3d(x, lay, center_joint=19)         # shipped transform: last joint (F18)
    np.testing.assert_allclose(recenter(paper[None], 19)[0], official, atol=1e-5)
    assert np.allclose(paper[0, 0, 1], 0) and not np.allclose(paper[0, 0, 19], 0)
    assert np.allclose(official[0, 0, 19], 0) and not np.allclose(official[0, 0, 1], 0)
    assert (official[1, 3:] == 0).all()


def test_official_nw_ucla_spec_recentres_on_the_last_joint(tmp_path):
    from benchmark.engine.train import _center_joint
    from benchmark.data.canonical import DatasetMeta, write_dataset, load_dataset

    cfg = _paper_config()
    cfg["methods"].append({"name": "brl", "fidelity": "official_code", "id": "brl_ucla_official"})
    s = _spec_of(cfg, "nw_ucla_default_lt10", "brl_ucla_official")
    assert s.pipeline == {"center_joint": "last"} and "extrapolated" in s.recipe
    assert s.schedule.batch_size == 16
    assert _spec_of(cfg, "nw_ucla_default_lt10", "brl_b16").pipeline == {}
    table = pd.DataFrame({"name": ["a"], "label": [0], "frames": [2], "persons": [1], "default": ["train"]})
    meta = DatasetMeta(dataset="u", layout="nw_ucla20", num_classes=1, benchmarks=["default"], reader="t",
                       reader_version="1", normalized="prenorm3d")
    ds = load_dataset(write_dataset(tmp_path / "u", np.ones((1, 2, 2, 20, 3), np.float32), table, meta))
    assert _center_joint(s, ds) == 19
    assert _center_joint(_spec_of(cfg, "nw_ucla_default_lt10", "brl_b16"), ds) is None


# ----------------------------------------------------------------------------------- validation split
NTU60_XSUB_TRAIN_SUBJECTS = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)


def _ntu60_name_pool(train: bool):
    """Every name S001–S017 × C1–3 × P × R1–2 × A1–60 of the X-Sub training (or test) subjects: a
    superset of the real split (the skeletons are not shipped), which is all the rule needs."""
    subj = [p for p in range(1, 41) if (p in NTU60_XSUB_TRAIN_SUBJECTS) == train]
    names, labels = [], []
    for a in range(1, 61):
        for s in range(1, 18):
            for c in range(1, 4):
                for p in subj:
                    for r in (1, 2):
                        names.append(f"S{s:03d}C{c:03d}P{p:03d}R{r:03d}A{a:03d}")
                        labels.append(a - 1)
    return names, labels


@pytest.mark.skipif(not NTU60_XSUB.exists(), reason=f"official NTU60-LT lists not found at {NTU60_XSUB}")
def test_ntu60_validation_split_from_the_official_list():
    from benchmark.data.validation import check_disjoint, validation_names

    lt = NTU60_XSUB.read_text().split()
    assert len(lt) == 7892
    assert all(int(re.search(r"P(\d{3})", n).group(1)) in NTU60_XSUB_TRAIN_SUBJECTS for n in lt)
    train, labels = _ntu60_name_pool(True)
    test, _ = _ntu60_name_pool(False)
    val, reason = validation_names(train, labels, lt, 60)
    assert len(val) == 1200 and "20 unused" in reason
    per_class = np.bincount([int(n[-3:]) - 1 for n in val], minlength=60)
    assert (per_class == 20).all()
    check_disjoint(val, lt, test)
    assert not set(val) & set(lt) and not set(val) & set(test)
    assert validation_names(train, labels, lt, 60)[0] == val               # deterministic


def test_no_validation_split_when_a_class_is_short():
    from benchmark.data.validation import validation_names

    # NW-UCLA-LT: class 0 keeps 100 of 102 training samples, 2 unused
    names = [f"c0_{i}" for i in range(102)] + [f"c1_{i}" for i in range(60)]
    labels = [0] * 102 + [1] * 60
    val, reason = validation_names(names, labels, names[:100] + names[102:112], 2)
    assert val is None and "class 0 has only 2 unused" in reason


def test_disjointness_check_names_the_overlap():
    from benchmark.data.validation import ValidationSplitError, check_disjoint

    with pytest.raises(ValidationSplitError, match="test split.*'b'"):
        check_disjoint(["a", "b"], ["c"], ["b"])


# ----------------------------------------------------------------------------------- selection
@pytest.fixture
def tiny_with_unused(tmp_path):
    """5 classes × 30 training samples, an LT list of 8…4 per class: ≥ 22 unused per class."""
    from benchmark.data.canonical import DatasetMeta, write_dataset

    rng = np.random.default_rng(0)
    c, per, n_test = 5, 30, 4
    labels = np.concatenate([np.repeat(np.arange(c), per), np.repeat(np.arange(c), n_test)])
    n = len(labels)
    frames = rng.integers(12, 20, size=n)
    joints = np.zeros((n, 2, 20, 25, 3), np.float32)
    t = np.arange(20)[:, None, None]
    for i in range(n):
        joints[i, 0, : frames[i]] = (rng.normal(0, 0.3, (1, 25, 3)) + 0.5 * np.sin(t * (labels[i] + 1) * 0.2))[: frames[i]]
    names = [f"s{i:03d}" for i in range(n)]
    table = pd.DataFrame({"name": names, "label": labels, "frames": frames, "persons": 1,
                          "default": ["train"] * (c * per) + ["test"] * (c * n_test)})
    meta = DatasetMeta(dataset="tiny", layout="ntu25", num_classes=c, benchmarks=["default"], reader="test",
                       reader_version="1")
    root = write_dataset(tmp_path / "tiny", joints, table, meta)
    lt = [names[k * per + j] for k in range(c) for j in range(8 - k)]
    (tmp_path / "lt.txt").write_text("\n".join(lt) + "\n")
    return root, tmp_path / "lt.txt"


def _tiny_spec(schedule=None, **kw) -> RunSpec:
    """The tiny spec on ``tiny_with_unused``'s LT list."""
    return tiny_spec({"eval_batch_size": 32, **(schedule or {})}, **{"split_id": "tiny_default_lt2", **kw})


def test_one_training_reports_last_and_best_val(tiny_with_unused, tmp_path, single_torch_thread):
    from benchmark.engine.selection import check_not_mixed, selection_records
    from benchmark.engine.train import train_run

    root, lt = tiny_with_unused
    rec = train_run(_tiny_spec(), root, lt, tmp_path / "run", tmp_path / "ckpt", progress=False)
    assert rec["meta"]["selection_rules"] == ["last", "best_val"] and rec["meta"]["validation"]["size"] == 100
    sel = rec["selections"]["best_val"]
    epochs = pd.read_csv(tmp_path / "run" / "epochs.csv")
    assert {"test_top1_monitor", "val_balanced_acc"} <= set(epochs.columns)
    best = int(epochs.loc[epochs["val_balanced_acc"].idxmax(), "epoch"])
    assert sel["epoch"] == best and sel["score"] == pytest.approx(epochs["val_balanced_acc"].max())
    assert (tmp_path / "run" / "test_probs_best_val.npz").exists()
    recs = selection_records(json.loads((tmp_path / "run" / "metrics.json").read_text()))
    assert [r["run"]["selection"] for r in recs] == ["last", "best_val"]
    check_not_mixed(recs)
    assert "best_test" not in rec["selections"]                 # paper mode never selects on test
    assert rec["meta"]["fidelity_flags"]["F13"]["value"] == "last, best_val"     # the rules it really used


def test_best_test_only_in_official_mode_and_never_mixed(tiny_with_unused, tmp_path, single_torch_thread):
    from benchmark.engine.selection import OPTIMISTIC_LABEL, SelectionError, check_not_mixed, selection_records
    from benchmark.engine.train import train_run

    root, lt = tiny_with_unused
    spec = _tiny_spec(fidelity="official_code", method_id="ce_official",
                      schedule={"runner_epochs": 2, "repeat": 1, "batch_size": 16, "clip_len": 8, "test_clips": 2})
    rec = train_run(spec, root, lt, tmp_path / "run", tmp_path / "ckpt", progress=False)
    recs = selection_records(rec)
    by = {r["run"]["selection"]: r for r in recs}
    assert set(by) == {"last", "best_val", "best_test"}
    assert rec["meta"]["fidelity_flags"]["F13"]["value"] == "last, best_val, best_test (selected on test)"
    assert by["best_test"]["run"]["selection_label"] == OPTIMISTIC_LABEL
    with pytest.raises(SelectionError, match="optimistic"):
        check_not_mixed(recs)
    check_not_mixed([by["best_test"]])
    from benchmark.engine.selection import split_by_label

    groups = split_by_label(recs)
    assert [r["run"]["selection"] for r in groups["standard"]] == ["last", "best_val"]
    assert [r["run"]["selection"] for r in groups[OPTIMISTIC_LABEL]] == ["best_test"]


def test_f13_records_the_rules_a_run_used():
    """F13 is the list of rules one run produced: without a validation split there is no best_val."""
    from benchmark.engine.config import fidelity_flags, selection_flag_value
    from benchmark.engine.selection import supported_rules

    assert selection_flag_value(supported_rules("paper", False)) == "last"
    assert selection_flag_value(supported_rules("official_code", False)) == "last, best_test (selected on test)"
    spec = _tiny_spec(fidelity="official_code", method_id="ce_official")
    assert fidelity_flags(spec, rules=["last", "best_test"])["F13"] == {
        "option": "selection", "value": "last, best_test (selected on test)"}
    assert fidelity_flags(_tiny_spec(), rules=["last"])["F13"]["value"] == "last"


# ----------------------------------------------------------------------------------- post-hoc tuning
class _HeadOnly:
    def __init__(self, weight, bias=None):
        import torch

        self.head = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
        with torch.no_grad():
            self.head.weight.copy_(weight)
            if bias is not None:
                self.head.bias.copy_(bias)


def _ctx(cls, counts, state=None):
    from methods._base import MethodContext

    return MethodContext(num_classes=len(counts), class_counts=np.asarray(counts), layout=None, iters_per_epoch=1,
                         runner_epochs=0, repeat=1, batch_size=16, seed=0, stage1_state=state)


def test_posthoc_la_tau_chosen_on_validation_worked_example():
    """Counts [90, 10]: log π = [−0.1054, −2.3026]. Validation logits (one clip): class 0 [2, 0],
    class 1 [1, 0]. Class 1 is right iff τ > 1/2.1972 = 0.455, class 0 iff τ < 2/2.1972 = 0.910, so
    on the grid 0, 0.25, … both are right first at τ = 0.5 (balanced accuracy 1; 0.5 at τ = 0 and 1)."""
    import torch
    import methods

    cls = methods.get_method("la_posthoc")
    m = cls(_ctx(cls, [90, 10]))
    rec = m.tune_on_validation(_HeadOnly(torch.eye(2)), torch.tensor([[[2.0, 0.0]], [[1.0, 0.0]]]), np.array([0, 1]))
    assert rec["chosen"] == 0.5 and rec["grid"][0.0] == 0.5 and rec["grid"][1.0] == 0.5 and rec["grid"][0.75] == 1.0
    assert m.options["tau"] == 0.5
    np.testing.assert_allclose(m.offset, 0.5 * np.log([0.9, 0.1]))


def test_tau_norm_tau_chosen_on_validation_worked_example():
    """W rows [3, 0] (norm 3) and [0, 1]. Sample of class 0, f = [1, 0.5]: logits [3^(1−τ), 0.5],
    right iff τ < 1 + log 2/log 3 = 1.63. Class 1, f = [0.5, 1]: logits [1.5·3^(−τ), 1], right iff
    τ > log 1.5/log 3 = 0.369. First grid value with both right: τ = 0.4."""
    import torch
    import methods

    cls = methods.get_method("tau_norm")
    w = torch.tensor([[3.0, 0.0], [0.0, 1.0]])
    state = {"head.weight": w, "head.bias": torch.tensor([5.0, -5.0])}
    m = cls(_ctx(cls, [90, 10], state))
    model = torch.nn.Module()
    model.head = torch.nn.Sequential(torch.nn.Linear(2, 2))
    model.head[0].weight.data.copy_(w)
    m._stage1_weight = w.clone()
    rec = m.tune_on_validation(model, torch.tensor([[[1.0, 0.5]], [[0.5, 1.0]]]), np.array([0, 1]))
    assert rec["chosen"] == pytest.approx(0.4) and rec["grid"][0.3] == 0.5 and rec["grid"][1.7] == 0.5
    torch.testing.assert_close(model.head[0].weight, torch.tensor([[3.0 / 3 ** 0.4, 0.0], [0.0, 1.0]]))
    assert torch.all(model.head[0].bias == 0)


def test_wb_weight_decay_sweep_and_choice():
    """wb's SWEEP as the workflow plans it (one candidate per grid value) and as the selection step
    chooses: the best validation score, ties to the smaller value, no score at all → the fixed
    default, which is also what a wb run without a sweep trains with."""
    import benchmark.workflow as bw
    from benchmark.engine.sweep import choose_value
    from methods.wb import DEFAULT_WD, SWEEP, WD_GRID, WeightBalancing

    entries = [m for m in bw.methods({"methods": ["wb"]}, candidates=True).values() if m.sweep_of == "wb"]
    assert [e.options["weight_decay"] for e in entries] == list(WD_GRID)
    assert [e.id for e in entries] == ["wb_wd0.0005", "wb_wd0.001", "wb_wd0.002", "wb_wd0.005"]
    assert WeightBalancing.DEFAULTS["weight_decay"] == DEFAULT_WD
    rec = choose_value([(5e-4, 0.5), (1e-3, 0.6), (2e-3, 0.6), (5e-3, None)], SWEEP["option"], DEFAULT_WD)
    assert rec["chosen"] == 1e-3 and rec["tuned"]
    assert choose_value([(5e-4, None)], SWEEP["option"], DEFAULT_WD) == {
        "tuned": False, "chosen": DEFAULT_WD, "reason": "no validation split: fixed default"}


def test_wb_sweep_end_to_end_selects_and_stage2_starts_from_the_winner(tiny_with_unused, tmp_path,
                                                                        single_torch_thread):
    """One candidate per weight decay (1 epoch each) on data with a validation split, the selection
    step, then wb_stage2 from the selected model: its identity names the winner. Without a
    validation split a single wb run records the fixed default."""
    from benchmark.engine.sweep import NO_VALIDATION, final_val_score, select
    from benchmark.engine.train import train_run
    from methods.wb import DEFAULT_WD, SWEEP, WD_GRID

    root, lt = tiny_with_unused
    sched = {"runner_epochs": 1, "repeat": 1, "batch_size": 16, "clip_len": 8, "test_clips": 1}
    dirs = []
    for wd in WD_GRID:
        d = tmp_path / "runs" / f"wb_wd{wd:g}"
        train_run(_tiny_spec(method="wb", method_id=f"wb_wd{wd:g}", method_options={"weight_decay": wd},
                             schedule=sched), root, lt, d, tmp_path / "ck" / d.name, progress=False)
        dirs.append(d)
    scores = {wd: final_val_score(d) for wd, d in zip(WD_GRID, dirs)}
    assert all(v is not None for v in scores.values())
    sel = select(dirs, tmp_path / "runs" / "wb", "wb", SWEEP)
    best = max(scores.values())
    assert sel["tuned"] and sel["chosen"] == min(wd for wd, v in scores.items() if v == best)
    winner = json.loads((tmp_path / "runs" / f"wb_wd{sel['chosen']:g}" / "metrics.json").read_text())
    rec2 = train_run(_tiny_spec(method="wb_stage2", method_id="wb_stage2", schedule=sched),
                     root, lt, tmp_path / "runs" / "wb_stage2", tmp_path / "ck2",
                     stage1=tmp_path / "runs" / "wb" / "model.pt", progress=False)
    assert rec2["meta"]["identity"]["stage1_run_id"] == winner["meta"]["run_id"]
    assert rec2["meta"]["stage1_selection"]["chosen"] == sel["chosen"]
    # no validation split (the whole training split is used): one run, the fixed default, said so
    rec = train_run(_tiny_spec(method="wb", method_id="wb", split_id="tiny_default_full", schedule=sched),
                    root, None, tmp_path / "nov", tmp_path / "ck3", progress=False)
    assert rec["meta"]["validation"]["size"] == 0
    assert rec["meta"]["stage1_selection"] == {"tuned": False, "option": "weight_decay", "chosen": DEFAULT_WD,
                                               "reason": NO_VALIDATION}


def test_tau_norm_run_records_the_tau_chosen_on_validation(tiny_with_unused, tmp_path, single_torch_thread):
    from benchmark.engine.train import train_run

    root, lt = tiny_with_unused
    train_run(_tiny_spec(schedule={"runner_epochs": 1, "repeat": 1, "batch_size": 16, "clip_len": 8,
                                   "test_clips": 2}), root, lt, tmp_path / "ce", tmp_path / "ck", progress=False)
    rec = train_run(_tiny_spec(method="tau_norm", method_id="tau_norm",
                               schedule={"runner_epochs": 1, "repeat": 1, "batch_size": 16, "clip_len": 8,
                                         "test_clips": 2, "save_features": True}),
                    root, lt, tmp_path / "tn", tmp_path / "ck2", stage1=tmp_path / "ce" / "model.pt", progress=False)
    tun = rec["meta"]["posthoc_tuning"]
    assert tun["tuned"] and len(tun["grid"]) == 21 and rec["meta"]["method_meta"]["options"]["tau"] == tun["chosen"]
    z = np.load(tmp_path / "tn" / "test_probs.npz")
    assert z["features"].shape == (20, 2, 32)         # pooled features (N, clips, d = 4 · 8) on request


def test_selection_survives_an_interrupted_run(tiny_with_unused, tmp_path, single_torch_thread):
    from benchmark.engine.train import train_run

    root, lt = tiny_with_unused
    spec = _tiny_spec(fidelity="official_code", method_id="ce_official")
    full = train_run(spec, root, lt, tmp_path / "a", tmp_path / "ca", progress=False)
    train_run(spec, root, lt, tmp_path / "b", tmp_path / "cb", progress=False, stop_after_epochs=2)
    resumed = train_run(spec, root, lt, tmp_path / "b", tmp_path / "cb", progress=False)
    for rule in ("best_val", "best_test"):
        assert resumed["selections"][rule]["epoch"] == full["selections"][rule]["epoch"]
        assert resumed["selections"][rule]["metrics"]["top1"] == full["selections"][rule]["metrics"]["top1"]
