"""New options with worked numbers: LWS, rpm_stage = joints, flip_mode = mirror."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import methods
from benchmark.data import transforms as T
from benchmark.engine.config import ConfigError, RunSpec
from benchmark.graphs import NTU25
from helpers import tiny_spec
from methods._base import MethodContext
from methods._mixing import partial_mix


def _ctx(counts, state=None, runner_epochs=24, repeat=5):
    return MethodContext(num_classes=len(counts), class_counts=np.asarray(counts), layout=NTU25, iters_per_epoch=4,
                         runner_epochs=runner_epochs, repeat=repeat, batch_size=128, seed=0, stage1_state=state)


# ----------------------------------------------------------------------------------- LWS
def test_lws_scales_frozen_logits_per_class():
    """W = [[1, 0], [0, 2]], b = [0.5, −1], f = [2, 0.5], x = [3, 1]:
    logits = f ⊙ (Wx + b) = [2·3.5, 0.5·1] = [7, 0.5]."""
    from benchmark.models.recognizer import Recognizer
    from methods._base import LinearHead

    cls = methods.get_method("lws")
    assert cls.schedule(24, 5) == (1, 5)                               # 5 passes
    model = Recognizer(torch.nn.Linear(1, 1), LinearHead(2, 2), feat_dim=2)   # a backbone to freeze
    state = {"backbone.weight": torch.ones(1, 1), "backbone.bias": torch.zeros(1),
             "head.fc.weight": torch.tensor([[1.0, 0.0], [0.0, 2.0]]), "head.fc.bias": torch.tensor([0.5, -1.0])}
    m = cls(_ctx([90, 10], state, *cls.schedule(24, 5)))
    m.setup_model(model)
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["head.scale"]
    with torch.no_grad():
        model.head.scale.copy_(torch.tensor([2.0, 0.5]))
    torch.testing.assert_close(model.head(torch.tensor([[3.0, 1.0]])), torch.tensor([[7.0, 0.5]]))
    g = m.param_groups(model, 5e-4)[0]
    assert g["lr"] == pytest.approx(0.2 * 128 / 512) and g["lr_scale"] == pytest.approx(0.5)


# ----------------------------------------------------------------------------------- rpm_stage
def _two_samples():
    """x_v = (v, 0, 0), y_v = (100 + v, 0, 0); 1 person, 1 frame, NTU-25."""
    v = torch.arange(25, dtype=torch.float32)
    x = torch.zeros(2, 1, 1, 25, 3)
    x[0, 0, 0, :, 0] = v
    x[1, 0, 0, :, 0] = 100 + v
    return x


def test_rpm_stage_joints_recomputes_bones_across_the_cut():
    """Mix sample 0 (upper body) with sample 1 (lower body), bone stream, bone 0 = j0 − j1.
    input stage: the partner's bone, y0 − y1 = −1. joints stage: y0 − x1 = 100 − 1 = 99.
    Bone 12 (12 → 0, both lower) = 12 and bone 1 (1 → 20, both upper) = −19 either way."""
    x = _two_samples()
    frames = torch.tensor([1, 1])
    idx = torch.zeros(2, 1, dtype=torch.long)
    i, j = torch.tensor([0]), torch.tensor([1])

    def mix(t):
        return partial_mix(t, i, j, NTU25.upper, NTU25.lower)

    clips = T.make_clips(x, frames, idx, "b", NTU25, None)
    after_input = mix(clips)[0, 0, 0, :, 0]
    after_joints = T.make_clips(x, frames, idx, "b", NTU25, None, pre_stream=mix)[0, 0, 0, :, 0]
    assert after_input[0] == -1 and after_joints[0] == 99
    assert after_input[12] == after_joints[12] == 12 and after_input[1] == after_joints[1] == -19


def test_brl_rpm_stage_option():
    cls = methods.get_method("brl")
    assert cls(_ctx([600, 100, 6])).mix_stage == "input"
    assert cls(_ctx([600, 100, 6]), rpm_stage="joints").mix_stage == "joints"
    assert cls(_ctx([600, 100, 6]), rpm_stage="joints", rpm=False).mix_stage == "input"
    with pytest.raises(ValueError, match="rpm_stage"):
        cls(_ctx([600, 100, 6]), rpm_stage="bones")


# ----------------------------------------------------------------------------------- flip_mode
def _spec(**augment):
    return RunSpec.from_dict(dict(dataset="d", benchmark="b", split_id="s", backbone="stgcnpp", method="ce",
                                  method_id="ce", stream="j", seed=0,
                                  augment={"scale": 0.0, "rotate": 0.0, "flip_p": 1.0, **augment}))


def test_flip_mode_mirror_negates_x_after_the_permutation():
    """Joint 4 (left shoulder) = (1, 2, 3), joint 8 (right shoulder) = (4, 5, 6), always flipped:
    permute → new joint 4 = (4, 5, 6); mirror → (−4, 5, 6)."""
    from benchmark.engine.train import augment_config

    x = torch.zeros(1, 1, 1, 25, 3)
    x[0, 0, 0, 4] = torch.tensor([1.0, 2.0, 3.0])
    x[0, 0, 0, 8] = torch.tensor([4.0, 5.0, 6.0])
    out = {}
    for mode in ("permute", "mirror"):
        cfg = augment_config(_spec(flip_mode=mode), "xyz")
        aug = T.augment_params(1, cfg, torch.Generator().manual_seed(0))
        out[mode] = T.apply_augmentation(x, aug, NTU25)[0, 0, 0]
    torch.testing.assert_close(out["permute"][4], torch.tensor([4.0, 5.0, 6.0]))
    torch.testing.assert_close(out["mirror"][4], torch.tensor([-4.0, 5.0, 6.0]))
    torch.testing.assert_close(out["mirror"][8], torch.tensor([-1.0, 2.0, 3.0]))
    assert (out["mirror"][0] == 0).all()                               # zero joints stay zero
    assert "flip_mode" not in _spec().to_dict()["augment"]             # default keeps the run identity
    with pytest.raises(ConfigError, match="flip_mode"):
        _spec(flip_mode="mirrored")


def test_engine_trains_brl_with_joint_stage_mixing_and_mirror_flip(tiny_dataset, tmp_path, single_torch_thread):
    from benchmark.engine.train import train_run

    spec = tiny_spec({"runner_epochs": 1, "test_clips": 1}, split_id="tiny", method="brl", method_id="brl_joints",
                     stream="bm", method_options={"rpm_stage": "joints", "rpm_ratio": 0.25},
                     augment={"flip_mode": "mirror"})
    rec = train_run(spec, tiny_dataset, None, tmp_path / "o", tmp_path / "c", progress=False)
    assert rec["meta"]["method_meta"]["options"]["rpm_stage"] == "joints"
    assert rec["meta"]["augment"]["flip_mode"] == "mirror"
