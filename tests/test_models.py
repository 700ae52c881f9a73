"""Backbones: golden parameter counts and MACs (docs/backbones.md), shapes and gradients on
every layout, the formulas of the shared units, orientation and initialisation rules."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmark.graphs import get_layout, k_hop_adjacency
from benchmark.models import available_models, build_model, get_backbone_factory
from benchmark.models.blocks import (DataBN, ModelInputError, MSTCN, MSTCNPlusPlus, count_parameters,
                                     mstcn_branch_channels, mstcnpp_branch_channels, output_length,
                                     temporal_padding, ten_block_plan)
from benchmark.models.ctrgcn import channel_aggregate, refined_topology, rel_channels
from benchmark.models.msg3d import k_adjacency, multiscale_adjacency, spatiotemporal_graph, unfold_windows
from benchmark.models.stgcnpp import graph_aggregate
from methods._base import LinearHead

BACKBONES = ("stgcnpp", "ctrgcn", "msg3d")
LAYOUT_NAMES = ("ntu25", "nw_ucla20", "coco17", "openpose18")

# docs/backbones.md: backbone only, then with a K = 10 / 60 / 120 / 400 head (C = 3, M = 2).
GOLDEN_PARAMS = {
    ("stgcnpp", "ntu25"): (1_387_724, 1_390_294, 1_403_144, 1_418_564, 1_490_524),
    ("stgcnpp", "nw_ucla20"): (1_380_944, 1_383_514, 1_396_364, 1_411_784, 1_483_744),
    ("stgcnpp", "coco17"): (1_377_596, 1_380_166, 1_393_016, 1_408_436, 1_480_396),
    ("stgcnpp", "openpose18"): (1_378_652, 1_381_222, 1_394_072, 1_409_492, 1_481_452),
    ("ctrgcn", "ntu25"): (1_431_252, 1_433_822, 1_446_672, 1_462_092, 1_534_052),
    ("ctrgcn", "nw_ucla20"): (1_424_442, 1_427_012, 1_439_862, 1_455_282, 1_527_242),
    ("ctrgcn", "coco17"): (1_421_076, 1_423_646, 1_436_496, 1_451_916, 1_523_876),
    ("ctrgcn", "openpose18"): (1_422_138, 1_424_708, 1_437_558, 1_452_978, 1_524_938),
    ("msg3d", "ntu25"): (3_171_495, 3_175_345, 3_194_595, 3_217_695, 3_325_495),
    ("msg3d", "nw_ucla20"): (3_024_960, 3_028_810, 3_048_060, 3_071_160, 3_178_960),
    ("msg3d", "coco17"): (2_952_663, 2_956_513, 2_975_763, 2_998_863, 3_106_663),
    ("msg3d", "openpose18"): (2_975_460, 2_979_310, 2_998_560, 3_021_660, 3_129_460),
}
HEAD_CLASSES = (10, 60, 120, 400)

# docs/backbones.md, reduced widths (NTU-25, backbone only) and their head input.
REDUCED = [("stgcnpp", 32, 366_924, 128), ("stgcnpp", 16, 109_180, 64), ("ctrgcn", 32, 378_244, 128),
           ("ctrgcn", 16, 115_884, 64), ("msg3d", 48, 1_105_047, 192), ("msg3d", 24, 585_039, 96)]

# docs/backbones.md: backbone MACs per clip (M = 2, C = 3).
GOLDEN_MACS = {
    ("stgcnpp", "ntu25"): (2_925_010_000, 1_872_006_400, 1_521_005_200),
    ("stgcnpp", "nw_ucla20"): (2_293_928_000, 1_468_113_920, 1_192_842_560),
    ("stgcnpp", "coco17"): (1_926_338_000, 1_232_856_320, 1_001_695_760),
    ("stgcnpp", "openpose18"): (2_047_946_400, 1_310_685_696, 1_064_932_128),
    ("ctrgcn", "ntu25"): (2_971_600_000, 1_939_148_800, 1_594_998_400),
    ("ctrgcn", "nw_ucla20"): (2_314_611_200, 1_505_239_040, 1_235_448_320),
    ("ctrgcn", "coco17"): (1_935_458_432, 1_255_952_384, 1_029_450_368),
    ("ctrgcn", "openpose18"): (2_060_589_312, 1_338_126_336, 1_097_305_344),
    ("msg3d", "ntu25"): (10_924_095_000, 6_991_420_800, 5_680_529_400),
    ("msg3d", "nw_ucla20"): (8_284_656_000, 5_302_179_840, 4_308_021_120),
    ("msg3d", "coco17"): (6_810_101_400, 4_358_464_896, 3_541_252_728),
    ("msg3d", "openpose18"): (7_292_527_200, 4_667_217_408, 3_792_114_144),
}
MAC_CLIP_LENS = (100, 64, 52)

pytestmark = pytest.mark.usefixtures("single_torch_thread")


# ----------------------------------------------------------------------------- registry

def test_registry_lists_the_three_backbones_with_their_metadata():
    assert set(BACKBONES) <= set(available_models())
    meta = {n: (get_backbone_factory(n).out_channels, get_backbone_factory(n).graph_mode) for n in BACKBONES}
    assert meta == {"stgcnpp": (256, "spatial"), "ctrgcn": (256, "spatial"), "msg3d": (384, "binary_adj")}


# ----------------------------------------------------------------------------- golden counts

@pytest.mark.parametrize("name,layout", sorted(GOLDEN_PARAMS))
def test_golden_parameter_counts(name, layout):
    expected = GOLDEN_PARAMS[(name, layout)]
    lay = get_layout(layout)
    model = build_model(name, lay, 60)
    assert count_parameters(model.backbone) == expected[0]
    assert count_parameters(model) == expected[2]
    # other class counts: same backbone, the head built the way build_model builds it
    got = [expected[0] + count_parameters(LinearHead(model.feat_dim, k)) for k in HEAD_CLASSES]
    assert got == list(expected[1:])


@pytest.mark.parametrize("name,width,params,out", REDUCED)
def test_reduced_width_counts(name, width, params, out):
    backbone = get_backbone_factory(name)(get_layout("ntu25"), base_channels=width)
    assert count_parameters(backbone) == params
    assert backbone.out_channels == out


def test_parameter_count_excludes_buffers():
    # MS-G3D keeps fixed k-hop matrices as buffers: they must not be counted (docs/backbones.md).
    m = get_backbone_factory("msg3d")(get_layout("ntu25"))
    n_buffers = sum(b.numel() for b in m.buffers())
    assert n_buffers > 0
    assert count_parameters(m) == 3_171_495


def _meta_backbone_macs(name: str, layout: str, t: int) -> int:
    lay = get_layout(layout)
    # on the meta device only shapes are computed: exact counts without arithmetic
    model = get_backbone_factory(name)(lay).to("meta").eval()
    x = torch.zeros(1, 2, t, lay.num_node, 3, device="meta")
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(x)
    return fc.get_total_flops() // 2


@pytest.mark.parametrize("name,layout", sorted(GOLDEN_MACS))
def test_golden_macs_per_clip_t64(name, layout):
    assert _meta_backbone_macs(name, layout, 64) == GOLDEN_MACS[(name, layout)][1]


@pytest.mark.parametrize("name", BACKBONES)
@pytest.mark.parametrize("t", (100,))
def test_golden_macs_per_clip_ntu_t100(name, t):
    assert _meta_backbone_macs(name, "ntu25", t) == GOLDEN_MACS[(name, "ntu25")][MAC_CLIP_LENS.index(t)]


# ----------------------------------------------------------------------------- forward / backward

@pytest.mark.parametrize("layout", LAYOUT_NAMES)
@pytest.mark.parametrize("name", BACKBONES)
def test_forward_backward_every_layout(name, layout):
    torch.manual_seed(0)
    lay = get_layout(layout)
    t = 15                                   # odd: exercises the ceil in both strides
    model = build_model(name, lay, num_classes=7, base_channels=12 if name == "msg3d" else 8)
    x = torch.randn(2, 2, t, lay.num_node, 3)
    feats = model.backbone(x)
    assert feats.shape == (2, 2, model.backbone.out_channels, math.ceil(math.ceil(t / 2) / 2), lay.num_node)
    assert model.backbone.out_channels == (48 if name == "msg3d" else 32)
    logits = model(x)
    assert logits.shape == (2, 7)
    torch.nn.functional.cross_entropy(logits, torch.tensor([1, 3])).backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    # every learnable adjacency receives a gradient (A for ST-GCN++/CTR-GCN, PA for MS-G3D)
    adj = [p for n, p in model.named_parameters() if n.endswith(".A") or n.endswith(".PA")]
    assert adj and all(p.grad.abs().sum() > 0 for p in adj)


def test_output_length_rule():
    assert [output_length(t) for t in (100, 64, 52, 150)] == [25, 16, 13, 38]


# ----------------------------------------------------------------------------- shared units

def test_temporal_padding_rule():
    # k = 3: padding d; k = 5: padding 2d; k = 9: 4; k = 1: 0 (docs/backbones.md)
    assert [temporal_padding(3, d) for d in (1, 2, 3, 4)] == [1, 2, 3, 4]
    assert [temporal_padding(5, d) for d in (1, 2)] == [2, 4]
    assert temporal_padding(9) == 4 and temporal_padding(1) == 0


def test_branch_channel_splits():
    assert [mstcnpp_branch_channels(c) for c in (64, 128, 256)] == [(14, 10), (23, 21), (46, 42)]
    assert [mstcn_branch_channels(c, 4) for c in (64, 128, 256)] == [(16, 16), (32, 32), (64, 64)]
    assert mstcn_branch_channels(96, 6) == (16, 16) and mstcn_branch_channels(100, 6) == (16, 20)


def test_mstcnpp_structure_remainder_on_branch0_and_bias_only_dilated_convs():
    m = MSTCNPlusPlus(64, 64)
    assert m.branches[0][0].out_channels == 14
    assert all(m.branches[i][0].out_channels == 10 for i in range(1, 5))
    assert m.branches[5].out_channels == 10
    assert all(isinstance(m.branches[i][3].bn, torch.nn.Identity) for i in range(4))
    # docs/backbones.md closed form TCN++(64) = 10,216 (docs/backbones.md)
    assert count_parameters(m) == 10_216


def test_mstcn_msg3d_style_remainder_on_last_branch_and_residual():
    m = MSTCN(96, 100)
    assert [m.branches[i][0].out_channels for i in range(5)] == [16] * 5
    assert m.branches[5][0].out_channels == 20
    assert m.residual.mode == "project"
    assert MSTCN(96, 96).residual.mode == "identity"
    assert MSTCN(96, 96, residual=False).residual.mode == "none"
    assert tuple(m(torch.randn(1, 96, 9, 4)).shape) == (1, 100, 9, 4)
    assert tuple(MSTCN(8, 12, stride=2)(torch.randn(1, 8, 9, 4)).shape) == (1, 12, 5, 4)


def test_ten_block_plan():
    plan = ten_block_plan(3, 64)
    assert [(b.in_channels, b.out_channels, b.stride, b.residual) for b in plan] == [
        (3, 64, 1, False), (64, 64, 1, True), (64, 64, 1, True), (64, 64, 1, True), (64, 128, 2, True),
        (128, 128, 1, True), (128, 128, 1, True), (128, 256, 2, True), (256, 256, 1, True),
        (256, 256, 1, True)]


@pytest.mark.parametrize("kind", ["VC", "MVC"])
def test_data_bn_channel_order(kind):
    """Flattened axis is person-major, then joint, then coordinate (docs/backbones.md)."""
    n, m, t, v, c = 4, 2, 5, 3, 3
    bn = DataBN(kind, m, v, c)
    x = torch.zeros(n, m, t, v, c)
    x[:, 1, :, 2, 1] = 7.0                    # person 1, joint 2, channel 1
    out = bn(x)
    assert out.shape == (n * m, c, t, v)
    rm = bn.bn.running_mean
    idx = (1 * v * c + 2 * c + 1) if kind == "MVC" else (2 * c + 1)
    assert rm.shape[0] == (m * v * c if kind == "MVC" else v * c)
    assert torch.nonzero(rm).flatten().tolist() == [idx]
    # VC shares statistics across person slots: mean over (N·M, T) is 7/2; MVC per slot: 7
    assert rm[idx].item() == pytest.approx(0.1 * (7.0 if kind == "MVC" else 3.5))


@pytest.mark.parametrize("kind", ["VC", "MVC"])
def test_data_bn_layout_round_trip(kind):
    """In eval mode with fresh statistics the BN is (almost) the identity, so the output must be
    the input rearranged to (N·M, C, T, V)."""
    n, m, t, v, c = 2, 2, 4, 3, 3
    bn = DataBN(kind, m, v, c).eval()
    x = torch.randn(n, m, t, v, c)
    out = bn(x)
    assert torch.allclose(out, x.permute(0, 1, 4, 2, 3).reshape(n * m, c, t, v), atol=1e-4)


@pytest.mark.parametrize("name", BACKBONES)
def test_input_shape_mismatch_is_a_clear_error(name):
    model = get_backbone_factory(name)(get_layout("ntu25"), base_channels=12)
    with pytest.raises(ModelInputError, match="V=17 joints.*V=25"):
        model(torch.zeros(1, 2, 8, 17, 3))


def test_msg3d_rejects_non_3_channel_input_at_construction():
    with pytest.raises(ValueError, match="in_channels=6.*exactly 3 channels"):
        get_backbone_factory("msg3d")(get_layout("ntu25"), in_channels=6)


def test_unknown_backbone_option_is_refused():
    with pytest.raises(TypeError, match="base_channel"):
        get_backbone_factory("stgcnpp")(get_layout("ntu25"), base_channel=16)


# ----------------------------------------------------------------------------- ST-GCN++

def test_graph_aggregation_orientation_on_a_directed_toy_graph():
    """y[…, w] = Σ_v x[…, v]·A[v, w]: a feature on node 0 with A[0, 0, 1] = 1 lands on node 1."""
    a = torch.zeros(1, 3, 3)
    a[0, 0, 1] = 1.0
    x = torch.zeros(1, 1, 1, 1, 3)
    x[..., 0] = 5.0
    y = graph_aggregate(x, a)
    assert y.flatten().tolist() == [0.0, 5.0, 0.0]


def test_stgcnpp_adjacency_is_a_parameter_initialised_from_the_spatial_graph():
    lay = get_layout("ntu25")
    m = get_backbone_factory("stgcnpp")(lay)
    spatial = torch.from_numpy(lay.adjacency("spatial"))
    for block in m.blocks:
        assert isinstance(block.gcn.A, torch.nn.Parameter)
        assert torch.equal(block.gcn.A.detach(), spatial)
    # block 1 has the GCN-internal projection 3 → 64 but no block residual (docs/backbones.md, pitfalls)
    assert not isinstance(m.blocks[0].gcn.down, torch.nn.Identity)
    assert m.blocks[0].residual.mode == "none"
    assert m.data_bn.kind == "VC"


# ----------------------------------------------------------------------------- CTR-GCN

def test_ctrgcn_rel_channels():
    assert [rel_channels(c) for c in (3, 16, 64, 128, 256)] == [8, 8, 8, 16, 32]


def test_ctrgcn_refinement_and_aggregation_formulas():
    x1 = torch.tensor([[[0.5, -1.0]]])          # (N=1, rel=1, V=2)
    x2 = torch.tensor([[[0.0, 2.0]]])
    r = refined_topology(x1, x2)
    expected = torch.tanh(torch.tensor([[0.5 - 0.0, 0.5 - 2.0], [-1.0 - 0.0, -1.0 - 2.0]]))
    assert torch.allclose(r[0, 0], expected)
    # y[n, c, t, v] = Σ_u Â[n, c, u, v] · x3[n, c, t, u]: directed edge u=0 → v=1
    a_hat = torch.zeros(1, 1, 2, 2)
    a_hat[0, 0, 0, 1] = 2.0
    x3 = torch.tensor([[[[3.0, 0.0]]]])          # (N, C, T, V)
    assert channel_aggregate(a_hat, x3).flatten().tolist() == [0.0, 6.0]


def test_ctrgcn_initialisation():
    torch.manual_seed(0)
    lay = get_layout("ntu25")
    m = get_backbone_factory("ctrgcn")(lay)
    spatial = torch.from_numpy(lay.adjacency("spatial"))
    for block in m.blocks:
        unit = block.gcn
        assert unit.alpha.item() == 0.0
        assert torch.all(unit.bn.weight == 1e-6) and torch.all(unit.bn.bias == 0)
        assert torch.equal(unit.A.detach(), spatial)
        assert torch.all(unit.convs[0].conv3.bias == 0)
        for bn in [mod for mod in block.tcn.modules() if isinstance(mod, torch.nn.BatchNorm2d)]:
            assert torch.all(bn.weight == 1)
    assert m.data_bn.kind == "MVC"
    # Kaiming-normal fan_out: std = sqrt(2 / fan_out); block 10 conv3 is 256 → 256, fan_out 256
    w = m.blocks[9].gcn.convs[0].conv3.weight
    assert w.std().item() == pytest.approx(math.sqrt(2 / 256), rel=0.05)
    # the block residual projection keeps PyTorch defaults (uniform bias, not zero)
    assert m.blocks[4].residual.proj.conv.bias.abs().sum() > 0


# ----------------------------------------------------------------------------- MS-G3D

@pytest.mark.parametrize("layout", LAYOUT_NAMES)
def test_k_adjacency_matches_the_layout_k_hop_matrices(layout):
    lay = get_layout(layout)
    a = lay.adjacency("binary_adj")[0]
    for k in (0, 1, 2, 5, 12):
        assert np.array_equal(k_adjacency(a, k), k_hop_adjacency(lay, k))


def test_k_adjacency_on_a_path_graph():
    # path 0-1-2-3: 2-hop neighbours of 0 are {2} (plus self)
    a = np.zeros((4, 4))
    for i in range(3):
        a[i, i + 1] = a[i + 1, i] = 1
    assert k_adjacency(a, 2)[0].tolist() == [1, 0, 1, 0]
    assert k_adjacency(a, 3)[0].tolist() == [1, 0, 0, 1]
    ms = multiscale_adjacency(a, 3)
    assert np.allclose(ms.sum(axis=1), 1.0)            # column-normalised (every column non-zero)


def test_spatiotemporal_graph_tiles_a_plus_i():
    a = np.array([[0, 1], [1, 0]], dtype=float)
    g = spatiotemporal_graph(a, 3)
    assert g.shape == (6, 6) and np.all(g == 1)
    b = np.zeros((3, 3)); b[0, 1] = b[1, 0] = 1
    g = spatiotemporal_graph(b, 2)
    assert np.array_equal(g[:3, 3:], b + np.eye(3)) and np.array_equal(g[3:, :3], b + np.eye(3))


def test_unfold_windows_frame_major_nodes_and_zero_padding():
    t, v = 5, 2
    x = torch.arange(t * v, dtype=torch.float32).view(1, 1, t, v)     # value = 2·frame + joint
    w = unfold_windows(x, 3, 1)
    assert w.shape == (1, 1, 5, 6)
    assert w[0, 0, 0].tolist() == [0, 0, 0, 1, 2, 3]                # frames −1 (pad), 0, 1
    assert w[0, 0, 2].tolist() == [2, 3, 4, 5, 6, 7]                # frames 1, 2, 3
    assert unfold_windows(x, 5, 2).shape == (1, 1, 3, 10)           # ceil(5/2) windows


def test_msg3d_offsets_and_buffers():
    torch.manual_seed(0)
    m = get_backbone_factory("msg3d")(get_layout("ntu25"))
    pas = [p for n, p in m.named_parameters() if n.endswith(".PA")]
    assert sum(p.numel() for p in pas) == 406_875                    # docs/backbones.md
    assert all(p.abs().max() <= 1e-6 for p in pas)
    assert m.data_bn.kind == "MVC" and m.out_channels == 384
    sgcn = m.stages[0].sgcn
    assert isinstance(sgcn[2].act, torch.nn.Identity) and isinstance(sgcn[1].act, torch.nn.ReLU)
