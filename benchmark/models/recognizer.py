"""Recognizer: backbone → mean over (T', V) per person → mean over persons → head (docs/backbones.md)."""
from __future__ import annotations

import torch
import torch.nn as nn


class Recognizer(nn.Module):
    def __init__(self, backbone: nn.Module, head: nn.Module, feat_dim: int):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.feat_dim = feat_dim

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, M, T, V, C) → pooled features (N, d)."""
        f = self.backbone(x)                     # (N, M, d, T', V)
        return f.mean(dim=(3, 4)).mean(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
