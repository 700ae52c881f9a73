"""Speed options: the matmul graph units compute the published model, bf16 autocast, the
on-device frame sampler, the schedule options, and no host synchronisation inside the training
step (static check of the loop plus a dynamic check of the mixing/loss helpers)."""
from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
import torch

from benchmark.graphs import get_layout
from benchmark.models import build_model
from benchmark.models.blocks import count_parameters
from benchmark.models.speed import SpeedOptions, autocast, set_graph_impl, speed_setup, training_options

pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.mark.parametrize("name,width", [("stgcnpp", 8), ("ctrgcn", 8), ("msg3d", 12)])
def test_matmul_graph_units_equal_the_published_order(name, width):
    torch.manual_seed(0)
    m = build_model(name, get_layout("ntu25"), 10, base_channels=width).double().train()
    with torch.no_grad():
        for p in m.parameters():      # move off the init (CTR-GCN's alpha = 0, BN 1e-6) so every term counts
            p.add_(torch.randn_like(p) * 0.1)
    n_params = count_parameters(m)
    x = torch.randn(2, 2, 12, 25, 3, dtype=torch.float64)
    a = m(x)
    a.square().sum().backward()
    ga = {n: p.grad.clone() for n, p in m.named_parameters()}
    m.zero_grad()
    set_graph_impl(m, "matmul")
    b = m(x)
    b.square().sum().backward()
    torch.testing.assert_close(b, a, atol=1e-10, rtol=1e-10)
    for n, p in m.named_parameters():
        torch.testing.assert_close(p.grad, ga[n], atol=1e-9, rtol=1e-8, msg=n)
    assert count_parameters(m) == n_params


def test_stgcnpp_fused_unit_on_worked_numbers():
    # one subset, V = 2, C_in = 1, C_out = 1: W = 2, b = 1, A = [[1, 2], [0, 1]], x = [3, 5]
    # published order: conv → [7, 11]; aggregate y[w] = Σ_v z[v] A[v, w] → [7, 14 + 11] = [7, 25]
    from benchmark.models.stgcnpp import fused_conv_aggregate
    x = torch.tensor([3.0, 5.0]).view(1, 1, 1, 2)
    w = torch.tensor([2.0]).view(1, 1, 1, 1)
    a = torch.tensor([[[1.0, 2.0], [0.0, 1.0]]])
    y = fused_conv_aggregate(x, w, torch.tensor([1.0]), a)
    assert y.flatten().tolist() == [7.0, 25.0]


def test_set_graph_impl_rejects_unknown_names():
    with pytest.raises(ValueError, match="graph_impl"):
        set_graph_impl(torch.nn.Linear(2, 2), "fast")
    with pytest.raises(ValueError, match="precision"):
        SpeedOptions(precision="fp16")


def test_bf16_autocast_close_to_fp32_and_channels_last_equal():
    torch.manual_seed(0)
    m = build_model("stgcnpp", get_layout("ntu25"), 10, base_channels=8).eval()
    x = torch.randn(2, 2, 16, 25, 3)
    with torch.no_grad():
        ref = m(x)
        fwd = speed_setup(m, SpeedOptions(channels_last=True, graph_impl="matmul"))
        torch.testing.assert_close(fwd(x), ref, atol=1e-4, rtol=1e-4)
        with autocast("cpu", "bf16"):
            low = fwd(x)
    assert low.dtype == torch.bfloat16
    assert (low.float() - ref).abs().max() < 0.05 * ref.abs().max() + 1e-2
    assert training_options("bf16", False, "cpu") == SpeedOptions(precision="bf16", graph_impl="matmul")


@pytest.mark.parametrize("frames,L", [(5, 8), (10, 8), (40, 8), (16, 8), (8, 8), (1, 4)])
def test_device_frame_sampler_cases(frames, L):
    from benchmark.data.transforms import train_frame_indices_device
    t = torch.full((400,), frames)
    g = torch.Generator().manual_seed(0)
    idx = train_frame_indices_device(t, L, g)
    assert idx.shape == (400, L) and idx.dtype == torch.int64
    assert int(idx.min()) >= 0 and int(idx.max()) < frames
    if frames < L:                       # loop: consecutive frames modulo T from a uniform start
        assert ((idx[:, 1:] - idx[:, :-1]) % frames == 1 % frames).all()
        assert set(idx[:, 0].tolist()) == set(range(frames))
    elif frames < 2 * L:                 # strictly increasing, T − L skips in total
        assert (idx[:, 1:] > idx[:, :-1]).all()
        assert set(idx[:, -1].tolist()) <= set(range(L - 1, frames))
    else:                                # one frame inside each segment [⌊iT/L⌋, ⌊(i+1)T/L⌋)
        edges = np.arange(L + 1) * frames // L
        assert (idx.numpy() >= edges[:-1]).all() and (idx.numpy() < edges[1:]).all()
        assert len(set(map(tuple, idx.tolist()))) > 100           # really random
    again = train_frame_indices_device(t, L, torch.Generator().manual_seed(0))
    assert torch.equal(idx, again)


def test_device_frame_sampler_mixed_lengths_row_by_row():
    from benchmark.data.transforms import train_frame_indices_device
    t = torch.tensor([3, 12, 50])
    idx = train_frame_indices_device(t, 8, torch.Generator().manual_seed(1))
    assert ((idx[0, 1:] - idx[0, :-1]) % 3 == 1).all()
    assert (idx[1, 1:] > idx[1, :-1]).all() and int(idx[1].max()) < 12
    edges = np.arange(9) * 50 // 8
    assert (idx[2].numpy() >= edges[:-1]).all() and (idx[2].numpy() < edges[1:]).all()


def test_schedule_speed_options_are_validated():
    from benchmark.engine.config import ConfigError, Schedule
    assert Schedule(precision="bf16", compile=True).precision == "bf16"
    with pytest.raises(ConfigError, match="schedule.precision"):
        Schedule(precision="fp16")
    with pytest.raises(ConfigError, match="schedule.compile"):
        Schedule(compile="yes")


# ----------------------------------------------------------------------------- host syncs

#: calls that make the host wait for an accelerator (or copy device data to the host)
SYNC_PATTERNS = [r"\.item\(", r"\.cpu\(", r"\.numpy\(", r"\.tolist\(", r"torch\.equal", r"isfinite",
                 r"(?<![.\w])int\(", r"(?<![.\w])float\(", r"(?<![.\w])bool\(", r"torch\.from_numpy", r"np\.", r"\.any\(\)",
                 r"\.all\(\)", r"synchronize"]


def _step_source(func, start: str, end: str) -> str:
    src = inspect.getsource(func)
    assert start in src and end in src, f"{func.__name__}: loop markers moved; update this test"
    return src[src.index(start):src.index(end)]


@pytest.mark.parametrize("where", ["loop", "single", "batch", "packed"])
def test_training_step_has_no_host_sync(where):
    """Grep the per-step part of the training loop (the one epoch loop and the step of each kind
    of model it steps): no .item(), .cpu(), numpy round trip, tensor truth test or equality test
    between fetching a batch and the end of the epoch."""
    if where == "loop":
        from benchmark.engine.loop import run_epochs as fn
        body = _step_source(fn, "for it in bar:", "stepper.end_epoch(")
    elif where == "single":
        from benchmark.engine.loop import SingleModel
        fn = SingleModel.step
        body = _step_source(fn, "tr = self.trainer", "return loss.detach()")
    elif where == "batch":
        from benchmark.engine.train import RunTrainer
        fn = RunTrainer.batch
        body = _step_source(fn, "spec, sch, train, method =", "return method.transform_batch")
    else:
        from benchmark.engine.packed import PackedModels
        fn = PackedModels.step
        body = _step_source(fn, "trs, tr0 = self.trainers", "return losses.detach()")
    code = "\n".join(line.split("#")[0] for line in body.splitlines())
    hits = [p for p in SYNC_PATTERNS if re.search(p, code)]
    assert not hits, f"{fn.__module__}.{fn.__qualname__}: host sync pattern(s) {hits} inside the training step"


def test_mixing_and_loss_helpers_do_not_sync(monkeypatch):
    """Run the step-time helpers with every host-sync entry point of a tensor disabled."""
    from methods._base import Targets
    from methods._formulas import ce_per_sample, per_sample_pair, remix_label_lambda, weights_tensor
    from methods._mixing import RPMConfig, mixup_batch, rebalanced_partial_mixup, remix_batch

    lay = get_layout("ntu25")
    x = torch.randn(16, 2, 4, 25, 3)
    y = torch.arange(16) % 5
    counts = torch.tensor([50.0, 20, 10, 5, 2], dtype=torch.float64)
    w = np.array([0.5, 1.0, 1.5, 2.0, 2.5])
    weights_tensor(w, x)                                   # first use copies; later steps reuse
    gen = torch.Generator().manual_seed(3)

    def boom(*a, **k):
        raise AssertionError("host sync inside the training step")
    for name in ("item", "__bool__", "tolist", "cpu", "numpy", "__int__", "__float__"):
        monkeypatch.setattr(torch.Tensor, name, boom)
    monkeypatch.setattr(torch, "equal", boom)
    xr, tr = rebalanced_partial_mixup(x, y, counts, lay.upper, lay.lower, RPMConfig(ratio=0.25), gen)
    xm, tm = mixup_batch(x, y, 1.0, gen)
    xx, tx = remix_batch(x, y, counts, 1.0, 3.0, 0.5, gen)
    logits = torch.randn(16, 5)
    la, lb = per_sample_pair(ce_per_sample, logits, tr)
    wt = weights_tensor(w, logits)
    remix_label_lambda(counts[y], counts[y.flip(0)], 0.3)
    monkeypatch.undo()
    assert xr.shape == x.shape and xm.shape == x.shape and xx.shape == x.shape
    assert la.shape == (16,) and wt.tolist() == w.tolist()
    assert not torch.equal(xr, x)                          # RPM mixed 4 samples


def test_speed_options_change_the_hash_only_when_set():
    import hashlib
    import json as _json

    from benchmark.engine.config import RunSpec
    base = dict(dataset="d", benchmark="b", split_id="s", backbone="stgcnpp", method="ce", method_id="ce",
                stream="j", seed=0)
    plain = RunSpec.from_dict(base)
    # a default run's canonical JSON has no speed keys (as before they existed), so its hash is unchanged
    d = plain.to_dict()
    assert not {"precision", "compile", "deterministic"} & set(d["schedule"])
    assert plain.config_hash == hashlib.sha256(_json.dumps(d, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]
    assert RunSpec.from_dict({**base, "schedule": {"precision": "fp32"}}).config_hash == plain.config_hash
    assert RunSpec.from_dict({**base, "schedule": {"precision": "bf16"}}).config_hash != plain.config_hash
    assert RunSpec.from_dict({**base, "schedule": {"compile": True}}).config_hash != plain.config_hash


def test_auto_precision_is_bf16_only_where_the_device_computes_it_natively(monkeypatch):
    from benchmark.engine.config import RunSpec
    from benchmark.models import speed

    monkeypatch.setattr(speed, "native_bf16", lambda device: True)
    assert speed.resolve_precision("auto", "cpu") == "bf16"
    assert speed.training_options("auto", device="cpu").precision == "bf16"
    monkeypatch.setattr(speed, "native_bf16", lambda device: False)
    assert speed.resolve_precision("auto", "cpu") == "fp32"
    assert speed.training_options("auto", device="cpu").precision == "fp32"
    assert speed.resolve_precision("bf16", "cpu") == "bf16"        # an explicit choice is kept
    with pytest.raises(ValueError, match="precision must be one of"):
        speed.resolve_precision("fp16", "cpu")
    spec = RunSpec.from_dict(dict(dataset="d", benchmark="b", split_id="s", backbone="stgcnpp", method="ce",
                                  method_id="ce", stream="j", seed=0, schedule={"precision": "auto"}))
    assert spec.schedule.precision == "auto"


def test_native_bf16_reads_the_cpu_flags(monkeypatch, tmp_path):
    import builtins

    from benchmark import hostinfo
    from benchmark.models import speed

    real_open = builtins.open
    for flags, expected in (("fpu sse avx512f avx512_bf16", True), ("fpu sse amx_bf16", True), ("fpu sse avx2", False)):
        info = tmp_path / "cpuinfo"
        info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
        monkeypatch.setattr(builtins, "open", lambda p, *a, **k: real_open(info if p == "/proc/cpuinfo" else p, *a, **k))
        hostinfo._cpuinfo_field.cache_clear()        # /proc/cpuinfo is read once per process
        assert speed.native_bf16("cpu") is expected
    monkeypatch.setattr(builtins, "open", real_open)
    hostinfo._cpuinfo_field.cache_clear()
