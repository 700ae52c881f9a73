"""MS-G3D as defined in pyskl (docs/backbones.md).

Three stages, each ``x = ReLU(sgcn(x) + gcn3d(x)); x = tcn(x)``: a multi-scale spatial GCN pathway
(MSGCN with 13 k-hop scales + two MSTCNs) and a multi-window G3D pathway (space-time graphs over
windows of 3 and 5 frames, 6 scales), then an MSTCN. ``MVC`` data BN; PyTorch default
initialisation; learnable offsets ``PA`` start at U(−1e−6, 1e−6) (docs/backbones.md). Adjacency: the
``binary_adj`` graph of docs/datasets.md.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmark.graphs import normalize_digraph
from benchmark.models import register_model
from benchmark.models.blocks import MSTCN, DataBN, check_options


def k_adjacency(a: np.ndarray, k: int) -> np.ndarray:
    """Exact k-hop neighbours plus self: I for k = 0, else
    min((A+I)^k, 1) − min((A+I)^(k−1), 1) + I (docs/backbones.md)."""
    eye = np.eye(len(a))
    if k == 0:
        return eye
    a = np.asarray(a, dtype=np.float64)
    reach_k = np.minimum(np.linalg.matrix_power(a + eye, k), 1)
    reach_k1 = np.minimum(np.linalg.matrix_power(a + eye, k - 1), 1)
    return reach_k - reach_k1 + eye


def multiscale_adjacency(a: np.ndarray, num_scales: int) -> np.ndarray:
    """(S, V, V) stack of column-normalised k-hop matrices, k = 0..S−1 (docs/backbones.md)."""
    return np.stack([normalize_digraph(k_adjacency(a, k)) for k in range(num_scales)]).astype(np.float32)


def spatiotemporal_graph(a: np.ndarray, window_size: int) -> np.ndarray:
    """tile(A + I, ws × ws): every joint linked to its neighbours and itself in every frame of the
    window (docs/backbones.md); (ws·V, ws·V)."""
    a = np.asarray(a, dtype=np.float64)
    return np.tile(a + np.eye(len(a)), (window_size, window_size))


def multiscale_aggregate(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """y[n, k, c, t, u] = Σ_v A[k, v, u] · x[n, c, t, v], flattened to (N, S·C, T, V) (docs/backbones.md)."""
    n, c, t, v = x.shape
    return torch.einsum("kvu,nctv->nkctu", a, x).reshape(n, a.shape[0] * c, t, v)


def fused_multiscale_conv(x: torch.Tensor, a: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(multiscale_aggregate(x, a))`` for a 1×1 ``conv`` (S·C_in → C_out), as ONE matmul over
    joints and ONE convolution: x · A for all S scales is a (N·C·T, V) × (V, U·S) matmul on the
    contiguous input, and the 1×1 conv over the (scale, channel) concatenation becomes a
    (1, S)-kernel, stride-(1, S) conv over the interleaved (u, s) axis with the same weights
    (no permute copy of the S-times larger aggregated tensor)."""
    s, v, u = a.shape
    c_in = x.shape[1]
    xa = torch.matmul(x, a.permute(1, 2, 0).reshape(v, u * s).to(x.dtype))          # (N, C, T, U·S)
    w = conv.weight.reshape(conv.out_channels, s, c_in).permute(0, 2, 1).unsqueeze(2)   # (C_out, C, 1, S)
    b = conv.bias.to(xa.dtype) if conv.bias is not None else None
    return F.conv2d(xa, w.to(xa.dtype), b, stride=(1, s))


class ConvBNAct(nn.Sequential):
    """1×1 conv + BN (+ ReLU): the MLP after multi-scale aggregation."""

    def __init__(self, in_channels: int, out_channels: int, act: bool = True):
        layers = [nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels)]
        if act:
            layers.append(nn.ReLU())
        super().__init__(*layers)


class MSGCN(nn.Module):
    """Multi-scale GCN: fixed k-hop buffer Â + learnable offset PA, aggregate per scale, concat,
    1×1 conv S·C_in → C_out + BN + ReLU (docs/backbones.md).

    ``graph_impl``: ``"einsum"`` (published order, what the MAC counts describe) or ``"matmul"``
    (:func:`fused_multiscale_conv`, same parameters and outputs)."""

    graph_impl = "einsum"

    def __init__(self, num_scales: int, in_channels: int, out_channels: int, a: np.ndarray):
        super().__init__()
        self.num_scales = num_scales
        self.register_buffer("A", torch.from_numpy(multiscale_adjacency(a, num_scales)))
        self.PA = nn.Parameter(torch.empty_like(self.A))
        nn.init.uniform_(self.PA, -1e-6, 1e-6)
        self.mlp = ConvBNAct(in_channels * num_scales, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.A + self.PA
        if self.graph_impl == "matmul":
            y = fused_multiscale_conv(x, a, self.mlp[0])
            for layer in list(self.mlp)[1:]:
                y = layer(y)
            return y
        return self.mlp(multiscale_aggregate(x, a))


def unfold_windows(x: torch.Tensor, window_size: int, stride: int) -> torch.Tensor:
    """(N, C, T, V) → (N, C, ceil(T/s), ws·V): zero-pad (ws−1)/2 frames each side and take windows of
    ws frames with stride s; node index inside a window is frame-major (docs/backbones.md)."""
    n, c, t, v = x.shape
    pad = (window_size - 1) // 2
    x = F.pad(x, (0, 0, pad, pad))                           # pad the time axis
    x = x.unfold(2, window_size, stride)                     # (N, C, W, V, ws)
    return x.permute(0, 1, 2, 4, 3).reshape(n, c, -1, window_size * v)


class G3D(nn.Module):
    """One G3D block (docs/backbones.md): window unfold → space-time MS-GCN (6 scales, no residual) → Conv3d
    (1, ws, 1) collapse + BN, no activation. Channels change in the space-time GCN only in the
    first stage (C_in = 3), otherwise at the collapse."""

    def __init__(self, in_channels: int, out_channels: int, a: np.ndarray, num_scales: int,
                 window_size: int, window_stride: int):
        super().__init__()
        self.window_size, self.window_stride = window_size, window_stride
        embed_in = in_channels
        self.embed_out = out_channels if in_channels == 3 else in_channels
        self.gcn = MSGCN(num_scales, embed_in, self.embed_out, spatiotemporal_graph(a, window_size))
        self.out_conv = nn.Conv3d(self.embed_out, out_channels, kernel_size=(1, window_size, 1))
        self.out_bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, _, v = x.shape
        x = self.gcn(unfold_windows(x, self.window_size, self.window_stride))   # (N, E, W, ws·V)
        x = x.reshape(n, self.embed_out, -1, self.window_size, v)
        return self.out_bn(self.out_conv(x).squeeze(3))


class MultiWindowG3D(nn.Module):
    """Sum of G3D blocks with windows 3 and 5 (docs/backbones.md)."""

    def __init__(self, in_channels: int, out_channels: int, a: np.ndarray, num_scales: int,
                 window_stride: int, window_sizes=(3, 5)):
        super().__init__()
        self.blocks = nn.ModuleList([G3D(in_channels, out_channels, a, num_scales, ws, window_stride)
                                     for ws in window_sizes])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks[0](x)
        for blk in self.blocks[1:]:
            out = out + blk(x)
        return out


class MSG3DStage(nn.Module):
    """x = ReLU(sgcn(x) + gcn3d(x)); x = tcn(x) (docs/backbones.md)."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, stride: int, a: np.ndarray,
                 num_gcn_scales: int, num_g3d_scales: int, tcn_dropout: float):
        super().__init__()
        self.gcn3d = MultiWindowG3D(in_channels, out_channels, a, num_g3d_scales, window_stride=stride)
        self.sgcn = nn.Sequential(
            MSGCN(num_gcn_scales, in_channels, mid_channels, a),
            MSTCN(mid_channels, out_channels, stride=stride),
            MSTCN(out_channels, out_channels, activation=False))   # last activation removed
        self.tcn = MSTCN(out_channels, out_channels, dropout=tcn_dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tcn(F.relu(self.sgcn(x) + self.gcn3d(x)))


class MSG3D(nn.Module):
    """(N, M, T, V, 3) → (N, M, 4·base, ceil(ceil(T/2)/2), V); base = 96 gives 384 outputs."""

    #: the stage-1 pathways are built for exactly this many input channels (docs/backbones.md)
    PATHWAY_CHANNELS = 3

    def __init__(self, binary_adjacency, in_channels: int = 3, base_channels: int = 96, num_person: int = 2,
                 num_gcn_scales: int = 13, num_g3d_scales: int = 6, tcn_dropout: float = 0.0):
        super().__init__()
        if in_channels != self.PATHWAY_CHANNELS:
            raise ValueError(
                f"msg3d: in_channels={in_channels} is not supported; MS-G3D's first-stage pathways take "
                "exactly 3 channels (x, y, z or x, y, score). Use a single 3-channel stream, or another "
                "backbone for concatenated multi-feature input (docs/backbones.md)")
        a = np.asarray(binary_adjacency, dtype=np.float64)
        if a.ndim == 3:
            a = a[0]
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            raise ValueError(f"MS-G3D needs a (V, V) binary adjacency, got shape {a.shape}")
        self.num_joints = a.shape[0]
        self.register_buffer("A", torch.from_numpy(a.astype(np.float32)))
        self.data_bn = DataBN("MVC", num_person, self.num_joints, in_channels, model_name="msg3d")
        c1, c2, c3 = base_channels, 2 * base_channels, 4 * base_channels
        cin = self.PATHWAY_CHANNELS
        # Stage i's MSGCN keeps the input width; the first MSTCN of sgcn_i changes it (with stride).
        self.stages = nn.ModuleList([
            MSG3DStage(cin, c1, c1, 1, a, num_gcn_scales, num_g3d_scales, tcn_dropout),
            MSG3DStage(c1, c1, c2, 2, a, num_gcn_scales, num_g3d_scales, tcn_dropout),
            MSG3DStage(c2, c2, c3, 2, a, num_gcn_scales, num_g3d_scales, tcn_dropout),
        ])
        self.out_channels = c3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, m = x.shape[:2]
        x = self.data_bn(x)
        for stage in self.stages:
            x = stage(x)
        return x.reshape((n, m) + x.shape[1:])


@register_model("msg3d", out_channels=384, graph_mode="binary_adj")
def msg3d(layout, in_channels: int = 3, base_channels: int = 96, num_person: int = 2,
          tcn_dropout: float = 0.0, **kw) -> MSG3D:
    """MS-G3D on ``layout`` (graph mode ``binary_adj``). Its published width is base 96 (→ 384
    output channels); reduced widths are 48 and 24 (docs/backbones.md)."""
    check_options("msg3d", kw)
    return MSG3D(layout.adjacency("binary_adj"), in_channels=in_channels, base_channels=base_channels,
                 num_person=num_person, tcn_dropout=tcn_dropout)
