"""Units shared by the three backbones (docs/backbones.md).

- :class:`DataBN`: the first layer, a BatchNorm1d over the flattened (joint, channel) or
  (person, joint, channel) axis (docs/backbones.md), which also checks the input shape against the model.
- :class:`UnitTCN`: temporal convolution (kernel k×1) + optional BN (docs/backbones.md).
- :class:`MSTCNPlusPlus`: ST-GCN++'s six-branch temporal module (docs/backbones.md).
- :class:`MSTCN`: the MS-G3D-style multi-scale temporal module used by CTR-GCN (docs/backbones.md) and
  MS-G3D (docs/backbones.md).
- :func:`ten_block_plan`: the channel/stride plan of the ten-block backbones (docs/backbones.md).
- :func:`residual_projection`: block residual (none / identity / 1×1 conv + BN).
- :func:`kaiming_fanout_init`: CTR-GCN's explicit initialisation scheme (docs/backbones.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn


class ModelInputError(ValueError):
    """The input tensor does not fit the model (wrong rank, joint count or channel count)."""


# --------------------------------------------------------------------------- pure helpers

def temporal_padding(kernel_size: int, dilation: int = 1) -> int:
    """Padding that keeps length ceil(T/s): (k + (k−1)(d−1) − 1) // 2 (docs/backbones.md)."""
    return (kernel_size + (kernel_size - 1) * (dilation - 1) - 1) // 2


def mstcnpp_branch_channels(channels: int, num_branches: int = 6) -> Tuple[int, int]:
    """ST-GCN++ mstcn split: (rem, mid) with mid = ⌊C/6⌋ and rem = C − 5·mid going to branch 0
    (docs/backbones.md): 64 → (14, 10), 128 → (23, 21), 256 → (46, 42)."""
    mid = channels // num_branches
    return channels - mid * (num_branches - 1), mid


def mstcn_branch_channels(channels: int, num_branches: int) -> Tuple[int, int]:
    """MS-G3D-style MSTCN split: (b, b') with b = ⌊C/n⌋ per branch and b' = C − (n−1)·b going to
    the **last** (1×1) branch (docs/backbones.md)."""
    b = channels // num_branches
    return b, channels - b * (num_branches - 1)


@dataclass(frozen=True)
class BlockSpec:
    """One block of the ten-block layout: channels, temporal stride, whether it has a residual."""

    in_channels: int
    out_channels: int
    stride: int
    residual: bool


def ten_block_plan(in_channels: int, base_channels: int = 64, num_stages: int = 10,
                   inflate_stages: Sequence[int] = (5, 8), down_stages: Sequence[int] = (5, 8)
                   ) -> List[BlockSpec]:
    """The ten-block layout of docs/backbones.md: block 1 is C → base without residual; channels
    double at blocks 5 and 8, where the temporal stride is 2."""
    plan = [BlockSpec(in_channels, base_channels, 1, False)]
    width = base_channels
    for i in range(2, num_stages + 1):
        out = width * 2 if i in inflate_stages else width
        plan.append(BlockSpec(width, out, 2 if i in down_stages else 1, True))
        width = out
    return plan


# --------------------------------------------------------------------------- init helpers

def conv_kaiming_init(conv: nn.Module) -> None:
    """Kaiming-normal (fan_out) weights, zero bias (CTR-GCN, docs/backbones.md)."""
    nn.init.kaiming_normal_(conv.weight, mode="fan_out")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


def bn_init(bn: nn.Module, scale: float) -> None:
    nn.init.constant_(bn.weight, scale)
    nn.init.zeros_(bn.bias)


def kaiming_fanout_init(module: nn.Module) -> None:
    """Every Conv2d inside ``module``: Kaiming-normal fan_out, bias 0; every BatchNorm2d: 1 / 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            conv_kaiming_init(m)
        elif isinstance(m, nn.BatchNorm2d):
            bn_init(m, 1.0)


# --------------------------------------------------------------------------- modules

class DataBN(nn.Module):
    """Input batch-norm per (joint, channel) (``VC``) or per (person, joint, channel) (``MVC``).

    Maps (N, M, T, V, C) to (N·M, C, T, V). The flattened axis is ordered person-major, then
    joint, then coordinate (docs/backbones.md). The input shape is checked first so that a dataset
    fed to a model built for another layout fails with a message instead of a BN size error.
    """

    def __init__(self, kind: str, num_person: int, num_joints: int, in_channels: int,
                 model_name: str = "backbone"):
        super().__init__()
        if kind not in ("VC", "MVC"):
            raise ValueError(f"data BN type must be 'VC' or 'MVC', got {kind!r}")
        self.kind, self.num_person, self.num_joints, self.in_channels = kind, num_person, num_joints, in_channels
        self.model_name = model_name
        width = num_joints * in_channels * (num_person if kind == "MVC" else 1)
        self.bn = nn.BatchNorm1d(width)

    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 5:
            raise ModelInputError(f"{self.model_name}: expected input (N, M, T, V, C), got shape "
                                  f"{tuple(x.shape)}")
        _, m, _, v, c = x.shape
        if v != self.num_joints or c != self.in_channels:
            raise ModelInputError(
                f"{self.model_name}: input has V={v} joints and C={c} channels, but the model was built "
                f"for V={self.num_joints}, C={self.in_channels}; build the model with the dataset's "
                "layout and in_channels (e.g. COCO-17 2D data needs layout coco17)")
        if self.kind == "MVC" and m != self.num_person:
            raise ModelInputError(f"{self.model_name}: input has M={m} person slots but the data BN "
                                  f"(type MVC) was built for num_person={self.num_person}; pad persons "
                                  f"to {self.num_person} or build the model with num_person={m}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        n, m, t, v, c = x.shape
        x = x.permute(0, 1, 3, 4, 2).contiguous()           # (N, M, V, C, T)
        if self.kind == "MVC":
            x = self.bn(x.view(n, m * v * c, t))
        else:
            x = self.bn(x.view(n * m, v * c, t))
        x = x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).contiguous()   # (N, M, C, T, V)
        return x.view(n * m, c, t, v)


class UnitTCN(nn.Module):
    """Conv2d (k×1, stride s, dilation d, bias) + BN (or nothing when ``norm=False``) + dropout."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 9, stride: int = 1,
                 dilation: int = 1, norm: bool = True, dropout: float = 0.0):
        super().__init__()
        pad = temporal_padding(kernel_size, dilation)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=(kernel_size, 1), padding=(pad, 0),
                              stride=(stride, 1), dilation=(dilation, 1))
        self.bn = nn.BatchNorm2d(out_channels) if norm else nn.Identity()
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.bn(self.conv(x)))


class Residual(nn.Module):
    """Block residual: ``none`` returns 0 (block 1), ``identity``, or a 1×1 projection + BN."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, enabled: bool = True):
        super().__init__()
        if not enabled:
            self.mode, self.proj = "none", None
        elif in_channels == out_channels and stride == 1:
            self.mode, self.proj = "identity", None
        else:
            self.mode, self.proj = "project", UnitTCN(in_channels, out_channels, kernel_size=1, stride=stride)

    def forward(self, x: torch.Tensor):
        if self.mode == "none":
            return 0
        if self.mode == "identity":
            return x
        return self.proj(x)


def residual_projection(in_channels: int, out_channels: int, stride: int, enabled: bool = True) -> Residual:
    return Residual(in_channels, out_channels, stride, enabled)


class MSTCNPlusPlus(nn.Module):
    """ST-GCN++ ``mstcn`` (docs/backbones.md).

    Six branches [(3,1), (3,2), (3,3), (3,4), ('max',3), '1x1'] on C = out channels; branch 0 gets
    the remainder channels. Dilated temporal convs carry a bias but no BN; then concat → BN → ReLU
    → 1×1 conv → BN → dropout. No residual inside.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, dropout: float = 0.0,
                 dilations: Sequence[int] = (1, 2, 3, 4)):
        super().__init__()
        n_branches = len(dilations) + 2
        rem, mid = mstcnpp_branch_channels(out_channels, n_branches)
        widths = [rem] + [mid] * (n_branches - 1)
        branches = []
        for w, d in zip(widths, dilations):
            branches.append(nn.Sequential(
                nn.Conv2d(in_channels, w, 1), nn.BatchNorm2d(w), nn.ReLU(),
                UnitTCN(w, w, kernel_size=3, stride=stride, dilation=d, norm=False)))
        w = widths[len(dilations)]
        branches.append(nn.Sequential(
            nn.Conv2d(in_channels, w, 1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.MaxPool2d((3, 1), stride=(stride, 1), padding=(1, 0))))
        branches.append(nn.Conv2d(in_channels, widths[-1], 1, stride=(stride, 1)))
        self.branches = nn.ModuleList(branches)
        total = sum(widths)
        self.transform = nn.Sequential(nn.BatchNorm2d(total), nn.ReLU(), nn.Conv2d(total, out_channels, 1))
        self.bn = nn.BatchNorm2d(out_channels)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = torch.cat([b(x) for b in self.branches], dim=1)
        return self.drop(self.bn(self.transform(feat)))


class MSTCN(nn.Module):
    """MS-G3D-style multi-scale TCN (pyskl ``MSTCN``; docs/backbones.md).

    ``len(dilations)`` dilated branches (1×1 conv + BN + ReLU + UnitTCN(k, d, s) with BN), a max
    branch (1×1 conv + BN + ReLU + MaxPool(3×1) + BN) and a 1×1 branch (strided 1×1 conv + BN) that
    takes the remainder channels. Concat (+ residual) → activation (ReLU, or none for the last MSTCN
    of an MS-G3D sgcn pathway) → dropout.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 dilations: Sequence[int] = (1, 2, 3, 4), residual: bool = True, activation: bool = True,
                 dropout: float = 0.0):
        super().__init__()
        n_branches = len(dilations) + 2
        b, b_last = mstcn_branch_channels(out_channels, n_branches)
        branches = [nn.Sequential(nn.Conv2d(in_channels, b, 1), nn.BatchNorm2d(b), nn.ReLU(),
                                  UnitTCN(b, b, kernel_size=kernel_size, stride=stride, dilation=d))
                    for d in dilations]
        branches.append(nn.Sequential(nn.Conv2d(in_channels, b, 1), nn.BatchNorm2d(b), nn.ReLU(),
                                      nn.MaxPool2d((3, 1), stride=(stride, 1), padding=(1, 0)),
                                      nn.BatchNorm2d(b)))
        branches.append(nn.Sequential(nn.Conv2d(in_channels, b_last, 1, stride=(stride, 1)),
                                      nn.BatchNorm2d(b_last)))
        self.branches = nn.ModuleList(branches)
        self.residual = Residual(in_channels, out_channels, stride, enabled=residual)
        self.act = nn.ReLU() if activation else nn.Identity()
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.cat([b(x) for b in self.branches], dim=1) + self.residual(x)
        return self.drop(self.act(out))


def output_length(t: int, strides: Sequence[int] = (2, 2)) -> int:
    """T' after the temporal strides: ceil(ceil(T/2)/2) for the three backbones (docs/backbones.md)."""
    for s in strides:
        t = -(-t // s)
    return t


def count_parameters(module: nn.Module) -> int:
    """Trainable parameter elements (docs/backbones.md: learnable A/PA and BN affine included,
    buffers excluded)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def check_options(model_name: str, kw: dict) -> None:
    """Reject unknown backbone options with their names (a typo in a config must not pass silently)."""
    if kw:
        raise TypeError(f"{model_name}: unknown backbone option(s) {sorted(kw)}; accepted: "
                        "in_channels, base_channels, num_person, tcn_dropout")


def as_tensor_graph(a, dtype=torch.float32) -> torch.Tensor:
    return torch.as_tensor(a, dtype=dtype).clone()


__all__ = ["ModelInputError", "temporal_padding", "mstcnpp_branch_channels", "mstcn_branch_channels",
           "BlockSpec", "ten_block_plan", "conv_kaiming_init", "bn_init", "kaiming_fanout_init", "DataBN",
           "UnitTCN", "Residual", "residual_projection", "MSTCNPlusPlus", "MSTCN", "output_length",
           "count_parameters", "check_options", "as_tensor_graph"]


class TenBlockBackbone(nn.Module):
    """The shared ten-block skeleton of ST-GCN++ and CTR-GCN (docs/backbones.md): data BN, then ten blocks of
    ``block_cls(in, out, A, stride, residual, tcn_dropout)``; (N, M, T, V, C) → (N, M, 4·base, T', V).

    Subclasses only choose the block and the data-BN type."""

    MODEL_NAME = ""
    DATA_BN = "VC"

    def __init__(self, block_cls, adjacency, in_channels: int = 3, base_channels: int = 64, num_person: int = 2,
                 tcn_dropout: float = 0.0):
        super().__init__()
        a = as_tensor_graph(adjacency)
        if a.dim() != 3 or a.shape[1] != a.shape[2]:
            raise ValueError(f"{self.MODEL_NAME} needs a (K, V, V) adjacency stack, got shape {tuple(a.shape)}")
        self.num_joints = a.shape[-1]
        self.data_bn = DataBN(self.DATA_BN, num_person, self.num_joints, in_channels, model_name=self.MODEL_NAME)
        plan = ten_block_plan(in_channels, base_channels)
        # Temporal dropout is never applied to block 1 (docs/backbones.md).
        self.blocks = nn.ModuleList([
            block_cls(b.in_channels, b.out_channels, a, b.stride, b.residual,
                      tcn_dropout=0.0 if i == 0 else tcn_dropout)
            for i, b in enumerate(plan)])
        self.out_channels = plan[-1].out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, m = x.shape[:2]
        x = self.data_bn(x)
        for block in self.blocks:
            x = block(x)
        return x.reshape((n, m) + x.shape[1:])
