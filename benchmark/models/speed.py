"""Speed options of a model that never change what it computes (only how, up to rounding).

- ``precision``: ``"fp32"``, ``"bf16"`` or ``"auto"`` (:func:`resolve_precision`: bf16 where the
  device computes it natively, else fp32; the resolved value is what a run records). bf16 runs the forward under ``torch.autocast``
  (convolutions and matmuls in bfloat16, weights and optimizer state kept in fp32; no loss
  scaling is needed because bf16 has fp32's exponent range). CPUs with AVX512-BF16/AMX and every
  recent GPU run it at about twice the fp32 rate.
- ``channels_last``: 4-D weights and activations in NHWC order (oneDNN/cuDNN's native layout).
- ``graph_impl``: ``"einsum"`` (the published order of the graph convolutions) or ``"matmul"``
  (each spatial unit's 1×1 conv and joint aggregation as one matmul over joints + one conv with
  the same parameters; see ``fused_conv_aggregate`` in each backbone module).
- ``compile``: ``torch.compile`` of the model (graph capture + fused kernels; the first steps
  take minutes to compile, so it pays only for long runs).

:func:`speed_setup` applies a choice to a built model; :func:`autocast` is the context for its
forward pass.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn as nn

PRECISIONS = ("fp32", "bf16")
#: what a config may say: a precision, or ``auto``
PRECISION_CHOICES = PRECISIONS + ("auto",)


def native_bf16(device) -> bool:
    """Whether ``device`` computes bfloat16 natively: a CUDA device that supports it, or a CPU
    with AVX512-BF16 or AMX-BF16 (read from /proc/cpuinfo; other systems count as no). Elsewhere
    bf16 autocast is emulated and slower than fp32."""
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if dev.type != "cpu":
        return False
    from benchmark.hostinfo import cpu_native_bf16

    return cpu_native_bf16()


def resolve_precision(precision: str, device=None) -> str:
    """``auto`` → ``bf16`` where :func:`native_bf16`, else ``fp32``; other values unchanged."""
    if precision not in PRECISION_CHOICES:
        raise ValueError(f"precision must be one of {PRECISION_CHOICES}, got {precision!r}")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision
GRAPH_IMPLS = ("einsum", "matmul")


@dataclass(frozen=True)
class SpeedOptions:
    precision: str = "fp32"
    channels_last: bool = False
    graph_impl: str = "einsum"
    compile: bool = False

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.graph_impl not in GRAPH_IMPLS:
            raise ValueError(f"graph_impl must be one of {GRAPH_IMPLS}, got {self.graph_impl!r}")


def set_graph_impl(model: nn.Module, impl: str) -> nn.Module:
    """Switch every graph unit of ``model`` that offers a choice (class attribute ``graph_impl``)."""
    if impl not in GRAPH_IMPLS:
        raise ValueError(f"graph_impl must be one of {GRAPH_IMPLS}, got {impl!r}")
    for m in model.modules():
        if "graph_impl" in type(m).__dict__ or hasattr(type(m), "graph_impl"):
            m.graph_impl = impl
    return model


def to_channels_last(model: nn.Module) -> nn.Module:
    """4-D parameters and buffers (Conv2d weights) in channels-last order; others (Conv3d, BN,
    adjacency) unchanged, so models mixing 2-D and 3-D convolutions (MS-G3D) work too."""
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.dim() == 4:
                t.data = t.data.contiguous(memory_format=torch.channels_last)
    return model


def autocast(device, precision: str):
    """The forward-pass context for ``precision`` on ``device`` (a no-op for fp32)."""
    precision = resolve_precision(precision, device)
    if precision == "fp32":
        return contextlib.nullcontext()
    dev_type = torch.device(device).type
    return torch.autocast(dev_type, dtype=torch.bfloat16)


def speed_setup(model: nn.Module, opts: SpeedOptions):
    """Apply ``opts`` to ``model`` in place; returns the callable to use for forward passes (the
    compiled wrapper when ``opts.compile``, else the model itself). Parameters stay shared, so the
    optimizer, state_dict and checkpoints use ``model`` as before."""
    set_graph_impl(model, opts.graph_impl)
    if opts.channels_last:
        to_channels_last(model)
    if opts.compile:
        return torch.compile(model)
    return model


def training_options(precision: str = "fp32", compile: bool = False, device=None) -> SpeedOptions:
    """The options the training engine uses for a run's ``precision`` / ``compile`` choice: the
    layout choices that measured fastest with ``python -m benchmark.bench`` (graph convolutions
    as one matmul over joints; channels-last only on GPUs, where cuDNN prefers it)."""
    dev_type = torch.device(device).type if device is not None else "cpu"
    return SpeedOptions(precision=resolve_precision(precision, device), compile=bool(compile), graph_impl="matmul",
                        channels_last=dev_type == "cuda")
