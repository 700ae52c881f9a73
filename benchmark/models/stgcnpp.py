"""ST-GCN++ (pyskl ``STGCN`` with gcn_adaptive='init', gcn_with_res=True, tcn_type='mstcn'),
the BRL backbone (docs/backbones.md).

Ten blocks (docs/backbones.md), ``VC`` data BN, spatial unit with a learnable adjacency initialised from the
normalised ``spatial`` graph (docs/datasets.md), six-branch ``mstcn``. PyTorch default
initialisation everywhere (docs/backbones.md).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from benchmark.models import register_model
from benchmark.models.blocks import (MSTCNPlusPlus, Residual, TenBlockBackbone, check_options)


def graph_aggregate(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """y[n, c, t, w] = Σ_k Σ_v x[n, k, c, t, v] · A[k, v, w] (docs/backbones.md, docs/datasets.md).

    ``x``: (N, K, C, T, V) subset features; ``a``: (K, V, V). Summing over the *first* node index is
    the pyskl orientation (transposing it trains but is a different model)."""
    return torch.einsum("nkctv,kvw->nctw", x, a)


class UnitGCN(nn.Module):
    """Spatial unit (docs/backbones.md): 1×1 conv C_in → K·C_out, aggregation with the learnable A,
    ReLU(BN(y) + down(x)), with ``down`` a 1×1 conv + BN whenever C_in ≠ C_out (also block 1)."""

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


@register_model("stgcnpp", out_channels=256, version="1", graph_mode="spatial")
def stgcnpp(layout, in_channels: int = 3, base_channels: int = 64, num_person: int = 2,
            tcn_dropout: float = 0.0, **kw) -> STGCNpp:
    """ST-GCN++ on ``layout`` (graph mode ``spatial``)."""
    check_options("stgcnpp", kw)
    return STGCNpp(layout.adjacency("spatial"), in_channels=in_channels, base_channels=base_channels,
                   num_person=num_person, tcn_dropout=tcn_dropout)
