"""CTR-GCN as defined in pyskl (docs/backbones.md).

Ten blocks (docs/backbones.md), ``MVC`` data BN, channel-wise topology refinement unit (``unit_ctrgcn``, docs/backbones.md),
MS-G3D-style temporal module with kernel 5 and dilations (1, 2), no internal residual (docs/backbones.md).
Explicit initialisation of docs/backbones.md (Kaiming fan_out convs, unit output BN 1e−6, alpha 0).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmark.models import register_model
from benchmark.models.blocks import (MSTCN, Residual, TenBlockBackbone, bn_init, check_options,
                                     kaiming_fanout_init)


def rel_channels(in_channels: int, reduction: int = 8) -> int:
    """CTRGC's relation width: 8 if C_in ≤ 16 else ⌊C_in/8⌋ (3 → 8, 64 → 8, 128 → 16, 256 → 32)."""
    return 8 if in_channels <= 16 else in_channels // reduction


def refined_topology(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """R[n, r, u, v] = tanh(x1[n, r, u] − x2[n, r, v]) for (N, rel, V) inputs (docs/backbones.md)."""
    return torch.tanh(x1.unsqueeze(-1) - x2.unsqueeze(-2))


def channel_aggregate(a_hat: torch.Tensor, x3: torch.Tensor) -> torch.Tensor:
    """y[n, c, t, v] = Σ_u Â[n, c, u, v] · x3[n, c, t, u] (pyskl orientation, docs/backbones.md)."""
    return torch.einsum("ncuv,nctu->nctv", a_hat, x3)


class CTRGC(nn.Module):
    """One subset's channel-wise topology refinement graph convolution (docs/backbones.md)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        rel = rel_channels(in_channels)
        self.conv1 = nn.Conv2d(in_channels, rel, 1)
        self.conv2 = nn.Conv2d(in_channels, rel, 1)
        self.conv3 = nn.Conv2d(in_channels, out_channels, 1)
        self.conv4 = nn.Conv2d(rel, out_channels, 1)

    def forward(self, x: torch.Tensor):
        """Returns (conv4(R), x3): the channel-wise refinement (N, C_out, V, V) and the transformed
        features (N, C_out, T, V). The owning unit adds ``alpha ·`` refinement to its shared A_k
        (kept there so that the learnable A and alpha are never module-call arguments)."""
        x1 = self.conv1(x).mean(-2)                 # mean over time → (N, rel, V)
        x2 = self.conv2(x).mean(-2)
        return self.conv4(refined_topology(x1, x2)), self.conv3(x)


def fused_ctrgc_sum(x: torch.Tensor, convs, a: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Σ_k channel_aggregate(alpha·conv4_k(R_k) + A_k, conv3_k(x)) over the K subsets with the same
    parameters as K separate :class:`CTRGC` calls, but as fewer, larger kernels: conv1/conv2/conv3
    of every subset are one 1×1 conv (weights concatenated), the K conv4 are one grouped 1×1 conv,
    and the K aggregations are batched matmuls summed in place."""
    k = len(convs)
    rel, c_out = convs[0].conv1.out_channels, convs[0].conv3.out_channels
    w = torch.cat([c.conv1.weight for c in convs] + [c.conv2.weight for c in convs]
                  + [c.conv3.weight for c in convs])
    b = torch.cat([c.conv1.bias for c in convs] + [c.conv2.bias for c in convs]
                  + [c.conv3.bias for c in convs])
    z = F.conv2d(x, w, b)                                         # (N, 2·K·rel + K·C_out, T, V)
    q = z[:, :2 * k * rel].mean(-2)                               # (N, 2·K·rel, V)
    x1, x2 = q[:, :k * rel], q[:, k * rel:]
    r = refined_topology(x1, x2)                                  # (N, K·rel, V, V)
    w4 = torch.cat([c.conv4.weight for c in convs])
    b4 = torch.cat([c.conv4.bias for c in convs])
    ref = F.conv2d(r, w4, b4, groups=k)                           # (N, K·C_out, V, V)
    n, _, u, v = ref.shape
    a_hat = ref.view(n, k, c_out, u, v) * alpha + a[None, :, None].to(ref.dtype)
    x3 = z[:, 2 * k * rel:]
    t = x3.shape[2]
    x3 = x3.view(n, k, c_out, t, u)
    y = torch.matmul(x3[:, 0], a_hat[:, 0])
    for i in range(1, k):
        y = y + torch.matmul(x3[:, i], a_hat[:, i])
    return y


class UnitCTRGCN(nn.Module):
    """Sum of three CTRGCs (one per subset), BN (weight 1e−6) + down(x), ReLU (docs/backbones.md).

    ``graph_impl``: ``"einsum"`` (one CTRGC call per subset, the published order) or ``"matmul"``
    (:func:`fused_ctrgc_sum`: the same parameters and outputs with fewer, larger kernels)."""

    graph_impl = "einsum"

    def __init__(self, in_channels: int, out_channels: int, adjacency: torch.Tensor):
        super().__init__()
        self.num_subsets = adjacency.shape[0]
        self.convs = nn.ModuleList([CTRGC(in_channels, out_channels) for _ in range(self.num_subsets)])
        self.down = (nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))
                     if in_channels != out_channels else nn.Identity())
        self.A = nn.Parameter(adjacency.clone())
        self.alpha = nn.Parameter(torch.zeros(1))
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.init_weights()

    def init_weights(self) -> None:
        kaiming_fanout_init(self)
        # The output BN starts near zero so each block begins close to its residual path.
        bn_init(self.bn, 1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.graph_impl == "matmul":
            return self.relu(self.bn(fused_ctrgc_sum(x, self.convs, self.A, self.alpha)) + self.down(x))
        y = 0
        for k, ctrgc in enumerate(self.convs):
            refinement, x3 = ctrgc(x)
            a_hat = refinement * self.alpha + self.A[k][None, None]     # Â = alpha·conv4(R) + A_k
            y = y + channel_aggregate(a_hat, x3)
        return self.relu(self.bn(y) + self.down(x))


class CTRGCNBlock(nn.Module):
    """ReLU(MSTCN(unit_ctrgcn(x)) + residual(x)), MSTCN with k = 5, d ∈ {1, 2}, no residual (docs/backbones.md)."""

    def __init__(self, in_channels: int, out_channels: int, adjacency: torch.Tensor, stride: int = 1,
                 residual: bool = True, tcn_dropout: float = 0.0):
        super().__init__()
        self.gcn = UnitCTRGCN(in_channels, out_channels, adjacency)
        self.tcn = MSTCN(out_channels, out_channels, kernel_size=5, stride=stride, dilations=(1, 2),
                         residual=False, dropout=tcn_dropout)
        kaiming_fanout_init(self.tcn)
        # The block residual projection keeps PyTorch's default initialisation (docs/backbones.md).
        self.residual = Residual(in_channels, out_channels, stride, enabled=residual)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.tcn(self.gcn(x)) + self.residual(x))


class CTRGCN(TenBlockBackbone):
    """(N, M, T, V, C) → (N, M, 4·base, ceil(ceil(T/2)/2), V)."""

    MODEL_NAME = "ctrgcn"
    DATA_BN = "MVC"

    def __init__(self, adjacency, in_channels: int = 3, base_channels: int = 64, num_person: int = 2,
                 tcn_dropout: float = 0.0):
        super().__init__(CTRGCNBlock, adjacency, in_channels, base_channels, num_person, tcn_dropout)


@register_model("ctrgcn", out_channels=256, graph_mode="spatial")
def ctrgcn(layout, in_channels: int = 3, base_channels: int = 64, num_person: int = 2,
           tcn_dropout: float = 0.0, **kw) -> CTRGCN:
    """CTR-GCN on ``layout`` (graph mode ``spatial``)."""
    check_options("ctrgcn", kw)
    return CTRGCN(layout.adjacency("spatial"), in_channels=in_channels, base_channels=base_channels,
                  num_person=num_person, tcn_dropout=tcn_dropout)
