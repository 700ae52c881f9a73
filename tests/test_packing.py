"""Channel packing (benchmark.models.packing): P ST-GCN++ models as one dense model with
block-diagonal weights compute exactly what the P models compute, train exactly as P separate
SGD optimisers do, and hand weights and momentum back."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def _models(impl: str, n: int = 3, base: int = 8):
    from benchmark.graphs import get_layout
    from benchmark.models import build_model
    from benchmark.models.speed import set_graph_impl
    from methods._base import LinearHead

    out = []
    for seed in range(n):
        torch.manual_seed(seed)
        m = build_model("stgcnpp", get_layout("ntu25"), 5, num_person=2, base_channels=base)
        m.head = LinearHead(m.feat_dim, 5)
        with torch.no_grad():          # distinct, non-trivial BN and head parameters per run
            for p in m.parameters():
                p.add_(0.05 * torch.randn_like(p))
        out.append(set_graph_impl(m.double(), impl).train())
    return out


def _all_tensors(m):
    return dict(m.named_parameters()) | {k: v for k, v in m.named_buffers() if v.dtype.is_floating_point}


@pytest.mark.parametrize("impl", ["einsum", "matmul"])
def test_packed_model_trains_like_separate_models(impl):
    from benchmark.models.packing import ChannelPackedModel, unpack_momentum

    models = _models(impl)
    packed = ChannelPackedModel([copy.deepcopy(m) for m in models]).double().train()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 2, 12, 25, 3, generator=g, dtype=torch.float64)
    x[1] *= 0.01                                       # very different scales per run stay separate
    torch.testing.assert_close(packed(x), torch.stack([m(x[p]) for p, m in enumerate(models)]),
                               atol=1e-12, rtol=1e-10)
    kw = dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    opts = [torch.optim.SGD(m.parameters(), **kw) for m in models]
    popt = torch.optim.SGD(packed.parameters(), **kw)
    y = torch.randint(0, 5, (3, 4), generator=g)
    for _ in range(3):
        x = torch.randn(3, 4, 2, 12, 25, 3, generator=g, dtype=torch.float64)
        for p, (m, o) in enumerate(zip(models, opts)):
            o.zero_grad()
            F.cross_entropy(m(x[p]), y[p]).backward()
            o.step()
        popt.zero_grad()
        out = packed(x)
        sum(F.cross_entropy(out[p], y[p]) for p in range(3)).backward()
        popt.step()
    # off-block weights are still exactly zero: no run ever saw another run's channels
    for name, t in packed.named_packed_parameters():
        if name in packed.masks:
            assert (t * (1 - packed.masks[name]) == 0).all(), name
    back = packed.store_into([copy.deepcopy(m) for m in models])
    for m, b in zip(models, back):
        mine, theirs = _all_tensors(m), _all_tensors(b)
        for k in mine:
            torch.testing.assert_close(theirs[k], mine[k], atol=1e-9, rtol=1e-7, msg=k)
    opts_back = [torch.optim.SGD(b.parameters(), **kw) for b in back]
    unpack_momentum(packed, popt, opts_back, back)
    for m, o, b, ob in zip(models, opts, back, opts_back):
        for (k, p), (_, q) in zip(m.named_parameters(), b.named_parameters()):
            torch.testing.assert_close(ob.state[q]["momentum_buffer"], o.state[p]["momentum_buffer"],
                                       atol=1e-8, rtol=1e-6, msg=k)


def test_momentum_round_trip_is_exact():
    from benchmark.models.packing import ChannelPackedModel, pack_momentum, unpack_momentum

    models = _models("matmul", n=2)
    packed = ChannelPackedModel(models).double()
    opts = [torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in models]
    for o, m in zip(opts, models):
        for p in m.parameters():
            o.state[p]["momentum_buffer"] = torch.randn_like(p)
    popt = torch.optim.SGD(packed.parameters(), lr=0.1, momentum=0.9)
    pack_momentum(packed, popt, opts, models)
    fresh = [torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in models]
    unpack_momentum(packed, popt, fresh, models)
    for o, f, m in zip(opts, fresh, models):
        for p in m.parameters():
            assert torch.equal(o.state[p]["momentum_buffer"], f.state[p]["momentum_buffer"])


def test_unknown_modules_are_refused_by_name():
    from benchmark.models.packing import ChannelPackedModel, UnsupportedPacking

    models = _models("matmul", n=2)
    for m in models:
        m.head = torch.nn.Sequential(torch.nn.Linear(m.feat_dim, 5), torch.nn.Softplus())
    with pytest.raises(UnsupportedPacking, match="head.1: channel packing does not know Softplus"):
        ChannelPackedModel(models)


def test_layout_positions_follow_the_runs_channel_order():
    from benchmark.models.packing import Layout

    lay = Layout.concat([Layout.run_major(2, 3), Layout.run_major(2, 1)], [3, 1])
    # packed order: run0 c0..c2, run1 c0..c2, run0 c3, run1 c3
    assert lay.positions(0).tolist() == [0, 1, 2, 6]
    assert lay.positions(1).tolist() == [3, 4, 5, 7]
