"""Backbone registry (timm/torchvision style): one file per model family, filled by a decorator.

``build_model(name, layout, num_classes, head=...)`` returns a :class:`Recognizer` (backbone +
pooling + head). Backbone modules are imported lazily so that importing this package at workflow
parse time does not import torch.
"""
from __future__ import annotations

import importlib
from typing import Callable, Dict, List

from benchmark.versions import backbone_version

#: backbone id -> module that registers it (so lookups import only what is needed)
_MODULES = {"stgcnpp": "benchmark.models.stgcnpp", "ctrgcn": "benchmark.models.ctrgcn",
            "msg3d": "benchmark.models.msg3d"}
_REGISTRY: Dict[str, Callable] = {}


class UnknownModelError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def register_model(name: str, *, out_channels: int, graph_mode: str = "spatial"):
    """Decorator for a backbone factory ``fn(layout, in_channels=3, **kw) -> nn.Module``.

    Its version is ``benchmark.versions.BACKBONE_VERSIONS[name]`` (one place, read by the workflow too).

    The backbone maps (N, M, T, V, C) to (N, M, out_channels, T', V). Duplicate names are refused."""
    def deco(fn: Callable) -> Callable:
        if name in _REGISTRY and _REGISTRY[name] is not fn:
            raise ValueError(f"backbone '{name}' is registered twice")
        fn.model_name = name
        fn.out_channels = out_channels
        fn.version = backbone_version(name)
        fn.graph_mode = graph_mode
        _REGISTRY[name] = fn
        return fn
    return deco


def _load_all() -> None:
    for mod in _MODULES.values():
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:  # a family not written yet
            if e.name != mod:
                raise


def available_models() -> List[str]:
    _load_all()
    return sorted(_REGISTRY)


def get_backbone_factory(name: str) -> Callable:
    if name not in _REGISTRY:
        if name in _MODULES:
            importlib.import_module(_MODULES[name])
        else:
            _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownModelError(f"unknown backbone '{name}'; available: {', '.join(available_models())}") from None


def build_model(name: str, layout, num_classes: int, head=None, in_channels: int = 3, **backbone_kw):
    """Backbone + global pooling + head. ``head`` defaults to the linear head."""
    from benchmark.models.recognizer import Recognizer
    from methods._base import LinearHead

    factory = get_backbone_factory(name)
    backbone = factory(layout, in_channels=in_channels, **backbone_kw)
    width = getattr(backbone, "out_channels", factory.out_channels)
    if head is None:
        head = LinearHead(width, num_classes)
    return Recognizer(backbone, head, feat_dim=width)
