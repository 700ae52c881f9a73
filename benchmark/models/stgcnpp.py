"""ST-GCN++ (pyskl ``STGCN`` with gcn_adaptive='init', gcn_with_res=True, tcn_type='mstcn'),
the BRL backbone (docs/backbones.md).

Ten blocks (docs/backbones.md), ``VC`` data BN, spatial unit with a learnable adjacency initialised from the
normalised ``spatial`` graph (docs/datasets.md), six-branch ``mstcn``. PyTorch default
initialisation everywhere (docs/backbones.md).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmark.models import register_model
from benchmark.models.blocks import (MSTCNPlusPlus, Residual, TenBlockBackbone, check_options)


def graph_aggregate(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """y[n, c, t, w] = Σ_k Σ_v x[n, k, c, t, v] · A[k, v, w] (docs/backbones.md, docs/datasets.md).

    ``x``: (N, K, C, T, V) subset features; ``a``: (K, V, V). Summing over the *first* node index is
    the pyskl orientation (transposing it trains but is a different model)."""
    return torch.einsum("nkctv,kvw->nctw", x, a)


def fused_conv_aggregate(x: torch.Tensor, weight: torch.Tensor, bias, a: torch.Tensor) -> torch.Tensor:
    """The spatial unit's ``graph_aggregate(conv1x1(x), A)`` computed as ONE matmul over joints
    followed by ONE convolution, with the same parameters (so the same model, up to rounding).

    Because the 1×1 conv and the joint aggregation are both linear,
    Σ_k Σ_v (W_k x + b_k)[c, t, v] · A[k, v, w] = Σ_k W_k (x · A_k)[c, t, w] + Σ_k b_k · colsum(A_k)[w].
    ``x · A`` for all K subsets is one (N·C·T, V) × (V, W·K) matmul on the contiguous input (no
    permute copy), and Σ_k W_k is a (1, K)-kernel, stride-(1, K) conv over the interleaved (w, k)
    axis. ``weight``: (K·C_out, C_in, 1, 1) as in ``nn.Conv2d(C_in, K·C_out, 1)``; ``bias``: (K·C_out,)
    or None; ``a``: (K, V, W). Returns (N, C_out, T, W)."""
    k, v, w = a.shape
    c_out, c_in = weight.shape[0] // k, weight.shape[1]
    xa = torch.matmul(x, a.permute(1, 2, 0).reshape(v, w * k).to(x.dtype))   # (N, C_in, T, W·K)
    wk = weight.reshape(k, c_out, c_in).permute(1, 2, 0).unsqueeze(2)          # (C_out, C_in, 1, K)
    y = F.conv2d(xa, wk.to(xa.dtype), stride=(1, k))
    if bias is not None:
        y = y + (bias.reshape(k, c_out).t() @ a.sum(1)).to(y.dtype)[:, None, :]   # (C_out, 1, W)
    return y


class UnitGCN(nn.Module):
    """Spatial unit (docs/backbones.md): 1×1 conv C_in → K·C_out, aggregation with the learnable A,
    ReLU(BN(y) + down(x)), with ``down`` a 1×1 conv + BN whenever C_in ≠ C_out (also block 1).

    ``graph_impl`` picks how conv + aggregation are computed: ``"einsum"`` (the published order:
    conv to K·C_out channels, then one einsum over subsets and joints; what the MAC counts
    describe) or ``"matmul"`` (:func:`fused_conv_aggregate`: same parameters and outputs, one
    matmul over joints then one conv, no permute copies). Set it for a whole model with
    :func:`benchmark.models.speed.set_graph_impl`."""

    graph_impl = "einsum"

    def __init__(self, in_channels: int, out_channels: int, adjacency: torch.Tensor):
        super().__init__()
        self.num_subsets = adjacency.shape[0]
        self.out_channels = out_channels
        # adaptive='init': A is a free parameter starting at the normalised graph (no mask, no offset).
        self.A = nn.Parameter(adjacency.clone())
        self.conv = nn.Conv2d(in_channels, out_channels * self.num_subsets, 1)
        self.bn = nn.BatchNorm2d(out_channels)
        self.down = (nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))
                     if in_channels != out_channels else nn.Identity())
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, t, v = x.shape
        res = self.down(x)
        if self.graph_impl == "matmul":
            y = fused_conv_aggregate(x, self.conv.weight, self.conv.bias, self.A)
        else:
            y = self.conv(x).view(n, self.num_subsets, self.out_channels, t, v)
            y = graph_aggregate(y, self.A)
        return self.act(self.bn(y) + res)


class STGCNppBlock(nn.Module):
    """ReLU(mstcn(unit_gcn(x)) + residual(x)); the stride is applied by the TCN and the residual."""

    def __init__(self, in_channels: int, out_channels: int, adjacency: torch.Tensor, stride: int = 1,
                 residual: bool = True, tcn_dropout: float = 0.0):
        super().__init__()
        self.gcn = UnitGCN(in_channels, out_channels, adjacency)
        self.tcn = MSTCNPlusPlus(out_channels, out_channels, stride=stride, dropout=tcn_dropout)
        self.residual = Residual(in_channels, out_channels, stride, enabled=residual)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.tcn(self.gcn(x)) + self.residual(x))


class STGCNpp(TenBlockBackbone):
    """(N, M, T, V, C) → (N, M, 4·base, ceil(ceil(T/2)/2), V)."""

    MODEL_NAME = "stgcnpp"
    DATA_BN = "VC"

    def __init__(self, adjacency, in_channels: int = 3, base_channels: int = 64, num_person: int = 2,
                 tcn_dropout: float = 0.0):
        super().__init__(STGCNppBlock, adjacency, in_channels, base_channels, num_person, tcn_dropout)


@register_model("stgcnpp", out_channels=256, graph_mode="spatial")
def stgcnpp(layout, in_channels: int = 3, base_channels: int = 64, num_person: int = 2,
            tcn_dropout: float = 0.0, **kw) -> STGCNpp:
    """ST-GCN++ on ``layout`` (graph mode ``spatial``)."""
    check_options("stgcnpp", kw)
    return STGCNpp(layout.adjacency("spatial"), in_channels=in_channels, base_channels=base_channels,
                   num_person=num_person, tcn_dropout=tcn_dropout)
