"""Contract of every registered method: it trains on tiny random data on CPU with a finite loss,
updates parameters, is deterministic for a seed, and its test probabilities are distributions.

The backbone is a tiny stand-in ((B, M, T, V, C) → (B, M, d, T, V)) wrapped in the real Recognizer,
so these tests do not depend on the GCN backbones."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

import methods
from benchmark.graphs import NTU25
from benchmark.models.recognizer import Recognizer
from methods._base import Method, MethodConfigError, MethodContext, sized_context

C = 6
COUNTS = np.array([24, 14, 9, 6, 4, 3])
B = 8
D = 16
SEED = 3
LABELS = np.repeat(np.arange(C), COUNTS)
RNG = np.random.default_rng(0)
DATA = torch.tensor(RNG.normal(size=(len(LABELS), 2, 4, 25, 3)), dtype=torch.float32)


class TinyBackbone(nn.Module):
    """Per-joint linear map + BatchNorm: enough to exercise BN modes and parameter updates."""

    def __init__(self, in_channels: int = 3, out_channels: int = D):
        super().__init__()
        self.proj = nn.Linear(in_channels, out_channels)
        self.bn = nn.BatchNorm2d(out_channels)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:        # (N, M, T, V, C)
        n, m, t, v, _ = x.shape
        f = self.proj(x).permute(0, 1, 4, 2, 3).reshape(n * m, -1, t, v)
        return torch.relu(self.bn(f)).reshape(n, m, -1, t, v)


def make_ctx(cls, fidelity: str, stage1_state=None) -> MethodContext:
    runner_epochs, repeat = cls.schedule(24, 2)
    base = dict(num_classes=C, class_counts=COUNTS, layout=NTU25, runner_epochs=runner_epochs, repeat=repeat,
                batch_size=B, seed=SEED, fidelity=fidelity, lt_profile={"n_max": 600, "ratio": 100},
                stage1_state=stage1_state)
    # the engine sizes a runner epoch from the method's own sampler list (reverse/ROS/class-aware differ)
    return sized_context(cls, MethodContext(iters_per_epoch=1, **base), LABELS)


def build(cls, ctx, torch_seed=0):
    torch.manual_seed(torch_seed)
    method = cls(ctx)
    model = Recognizer(TinyBackbone(), method.build_head(D), feat_dim=D)
    return method, model


def stage1_state_for(cls):
    if not cls.STAGE1:
        return None
    s1 = methods.get_method(cls.STAGE1)
    ctx = make_ctx(s1, "paper")
    _, model = build(s1, ctx, torch_seed=123)
    return {k: v.clone() for k, v in model.state_dict().items()}


def train_steps(name: str, fidelity: str):
    """A few engine-like steps at the start and the end of training (both sides of every switch)."""
    cls = methods.get_method(name)
    ctx = make_ctx(cls, fidelity, stage1_state_for(cls))
    method, model = build(cls, ctx)
    method.setup_model(model)
    groups = method.param_groups(model, 5e-4)
    opt = torch.optim.SGD(groups, lr=0.05, momentum=0.9, nesterov=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    losses = []
    if ctx.total_iters == 0:
        return method, model, ctx, before, losses
    steps = sorted({0, 1, ctx.total_iters // 2, ctx.total_iters - 2, ctx.total_iters - 1} - {-1})
    for t in steps:
        e = t // ctx.iters_per_epoch
        order = method.epoch_indices(LABELS, e, np.random.default_rng([SEED, e]))
        k = t % ctx.iters_per_epoch
        idx = order[k * B:(k + 1) * B]
        if len(idx) < 2:
            idx = order[:B]
        x, y = DATA[idx], torch.as_tensor(LABELS[idx])
        model.train()
        gen = torch.Generator().manual_seed(SEED * 1_000_003 + t)
        x, targets = method.transform_batch(x, y, t, gen)
        loss = method.loss(model(x), targets, t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        method.after_step(model, t)
        losses.append(loss.item())
    return method, model, ctx, before, losses


ALL = methods.available_methods()


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: intra-op threads only add contention on a shared 2-core CI box."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_registry_has_every_method():
    want = {"ce", "brl", "brl_rpm_only", "brl_trp_only", "brl_stae", "stae_focal", "stae_weighted",
            "stae_action_aware", "stae_detached_focal", "stae_detached_weighted", "focal", "weighted_softmax", "ros",
            "mixup", "remix", "cb", "ldam_drw", "eql", "balanced_softmax", "gumbel_ce", "kps", "la", "la_posthoc",
            "tau_norm", "crt", "wb", "wb_stage2"}
    assert want <= set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_module_literals_match_class(name):
    cls = methods.get_method(name)
    info = methods.method_index()[name]
    # "version" is the effective version (own VERSION, then the modules it builds on: methods/__init__.py)
    assert info["own_version"] == cls.VERSION and info["version"].split(";")[0] == cls.VERSION
    assert info["description"] == cls.DESCRIPTION
    assert info["paper"] == cls.PAPER and cls.DESCRIPTION and "\n" not in cls.DESCRIPTION
    assert info.get("stage1") == cls.STAGE1
    if cls.STAGE1:
        assert cls.STAGE1 in ALL
    assert set(cls.OFFICIAL_CODE) <= set(cls.DEFAULTS), "the official preset may only set declared options"


@pytest.mark.parametrize("fidelity", ["paper", "official_code"])
@pytest.mark.parametrize("name", ALL)
def test_trains_updates_and_is_deterministic(name, fidelity):
    method, model, ctx, before, losses = train_steps(name, fidelity)
    after = model.state_dict()
    if ctx.total_iters == 0:                      # post-hoc: no training, but the stage-1 model is loaded
        assert methods.get_method(name).STAGE1
    else:
        assert losses and all(math.isfinite(l) for l in losses), losses
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        assert trainable, "no trainable parameters"
        assert any(not torch.equal(before[n], after[n]) for n in trainable), "no parameter changed"
        frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
        assert all(torch.equal(before[n], after[n]) for n in frozen)
    _, model2, _, _, losses2 = train_steps(name, fidelity)
    assert losses == losses2
    for k, v in after.items():
        assert torch.equal(v, model2.state_dict()[k]), f"{k} differs between two runs with one seed"
    model.eval()
    with torch.no_grad():
        probs = method.test_probs(model(DATA[:5]))
    assert probs.shape == (5, C) and torch.all(probs >= 0)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(5))
    json.dumps(method.metadata())


@pytest.mark.parametrize("name", ALL)
def test_unknown_option_rejected(name):
    cls = methods.get_method(name)
    ctx = make_ctx(cls, "paper", stage1_state_for(cls))
    with pytest.raises(MethodConfigError, match="unknown option"):
        cls(ctx, no_such_option=1)


def test_duplicate_registration_raises():
    class Dup(Method):
        NAME = "focal"
    with pytest.raises(ValueError, match="registered twice"):
        methods.register_method(Dup)


def test_official_preset_and_metadata_brl():
    cls = methods.get_method("brl")
    m = cls(make_ctx(cls, "official_code"))
    md = m.metadata()
    assert md["fidelity"] == "official_code" and md["changed_from_preset"] == {}
    assert md["options"]["rpm_placement"] == "concat" and md["fidelity_flags"]["F1"] == "rpm_placement"
    m2 = cls(make_ctx(cls, "official_code"), rpm_placement="inplace")
    assert m2.metadata()["changed_from_preset"] == {"rpm_placement": "inplace"}
    assert m.rpm_cfg.lambda_x == 0.64
    assert cls(make_ctx(cls, "paper")).rpm_cfg.lambda_x == pytest.approx(16 / 25)


def test_brl_schedule_switches():
    cls = methods.get_method("brl")
    ctx = MethodContext(num_classes=C, class_counts=COUNTS, layout=NTU25, iters_per_epoch=10, runner_epochs=24,
                        repeat=5, batch_size=B, seed=0)
    paper = cls(ctx)
    assert paper.switch_iter == 200 and not paper.in_stage2(199) and paper.in_stage2(200)
    off = cls(MethodContext(**{**ctx.__dict__, "fidelity": "official_code"}))
    assert off.switch_iter == 190
    flipped = [off.uses_flipped_weights(e * 10) for e in range(19, 24)]
    assert flipped == [False, True, False, True, False]                 # AA on 19, 21, 23 (F9)
    assert not any(paper.uses_flipped_weights(e * 10) for e in range(20, 24))
    with pytest.raises(MethodConfigError, match="at most 39 runner epochs"):
        cls(MethodContext(**{**ctx.__dict__, "fidelity": "official_code", "runner_epochs": 40}))
    always = methods.get_method("stae_action_aware")(ctx)
    assert always.switch_iter == 0 and always.in_stage2(0)
    assert not methods.get_method("brl_stae")(ctx).in_stage2(239)


def test_brl_loss_stage_weights():
    """Detached stage = AA-weighted CE (BM in paper mode); CE stage = plain mean CE."""
    cls = methods.get_method("brl")
    ctx = MethodContext(num_classes=C, class_counts=COUNTS, layout=NTU25, iters_per_epoch=10, runner_epochs=24,
                        repeat=5, batch_size=B, seed=0)
    m = cls(ctx)
    from methods._base import Targets
    from methods._formulas import action_aware_weights
    g = torch.Generator().manual_seed(0)
    z = torch.randn(B, C, generator=g)
    y = torch.randint(0, C, (B,), generator=g)
    ce = nn.functional.cross_entropy(z, y, reduction="none")
    w = torch.tensor(action_aware_weights(COUNTS), dtype=torch.float32)
    torch.testing.assert_close(m.loss(z, Targets.plain(y), 0), ce.mean())
    torch.testing.assert_close(m.loss(z, Targets.plain(y), 200), (w[y] * ce).mean())


def test_crt_freezes_backbone_in_eval_and_reinitialises_head():
    cls = methods.get_method("crt")
    state = stage1_state_for(cls)
    ctx = make_ctx(cls, "paper", state)
    assert (ctx.runner_epochs, ctx.repeat) == (5, 2)           # 10 passes
    method, model = build(cls, ctx)
    method.setup_model(model)
    model.train()
    assert not model.backbone.training and not model.backbone.bn.training and model.head.training
    assert torch.equal(model.backbone.proj.weight, state["backbone.proj.weight"])
    assert not torch.equal(model.head.fc.weight, state["head.fc.weight"])
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["head.fc.weight", "head.fc.bias"]
    g = method.param_groups(model, 5e-4)[0]
    assert g["lr"] == pytest.approx(0.2 * B / 512) and g["lr_scale"] == pytest.approx(0.5)   # 0.05 at B = 128 vs 0.1


def test_tau_norm_and_posthoc_la():
    tn = methods.get_method("tau_norm")
    state = stage1_state_for(tn)
    method, model = build(tn, make_ctx(tn, "paper", state))
    method.setup_model(model)
    w0 = state["head.fc.weight"]
    torch.testing.assert_close(model.head.fc.weight, w0 / w0.norm(dim=1, keepdim=True))
    assert torch.all(model.head.fc.bias == 0)
    la = methods.get_method("la_posthoc")
    m = la(make_ctx(la, "paper", state))
    z = torch.randn(3, C)
    torch.testing.assert_close(m.test_probs(z), torch.softmax(z - torch.log(torch.tensor(COUNTS / COUNTS.sum(),
                                                                                          dtype=torch.float32)), 1))
    with pytest.raises(MethodConfigError, match="no stage-1 state"):
        la(make_ctx(la, "paper")).setup_model(build(la, make_ctx(la, "paper"))[1])


def test_wb_stage2_max_norm():
    cls = methods.get_method("wb_stage2")
    state = stage1_state_for(cls)
    ctx = make_ctx(cls, "paper", state)
    method, model = build(cls, ctx)
    method.setup_model(model)
    norms = state["head.fc.weight"].norm(dim=1)
    r = float(norms.min() + 0.1 * (norms.max() - norms.min()))
    assert method.radius == pytest.approx(r)
    with torch.no_grad():
        model.head.fc.weight.mul_(10)
    method.after_step(model, ctx.iters_per_epoch - 1)          # end of the last pass of runner epoch 0
    assert float(model.head.fc.weight.detach().norm(dim=1).max()) == pytest.approx(r, rel=1e-5)
    g = method.param_groups(model, 5e-4)[0]
    assert g["weight_decay"] == 0.1 and g["lr"] == 0.01
    assert g["lr_scale"] * 0.1 * B / 128 == pytest.approx(0.01)


def test_heads():
    ldam = methods.get_method("ldam_drw")
    ctx = make_ctx(ldam, "paper")
    head = ldam(ctx).build_head(D)
    out = head(torch.randn(4, D))
    assert out.abs().max() <= 1 + 1e-6                          # cosines
    assert torch.allclose(head.weight.norm(dim=1), torch.ones(C))
    assert not any(n.endswith("bias") for n, _ in head.named_parameters())
    g = methods.get_method("gumbel_ce")
    assert float(g(make_ctx(g, "paper")).build_head(D).fc.bias[0].item()) == pytest.approx(-math.log(math.log(C)))
    assert float(g(make_ctx(g, "official_code")).build_head(D).fc.bias[0].item()) == 0.0


def test_weighted_softmax_official_bug_is_plain_ce():
    cls = methods.get_method("weighted_softmax")
    ctx = MethodContext(num_classes=C, class_counts=COUNTS, layout=NTU25, iters_per_epoch=10, runner_epochs=24,
                        repeat=5, batch_size=B, seed=0, fidelity="official_code", lt_profile={"n_max": 600, "ratio": 100})
    from methods._base import Targets
    z = torch.randn(B, C)
    y = torch.randint(0, C, (B,))
    ce = nn.functional.cross_entropy(z, y)
    torch.testing.assert_close(cls(ctx).loss(z, Targets.plain(y), 230), ce)
    fixed = cls(ctx, fix_official_bug=True)
    assert not torch.allclose(fixed.loss(z, Targets.plain(y), 230), ce)
    torch.testing.assert_close(fixed.loss(z, Targets.plain(y), 189), ce)
