"""What the machine at hand computes natively, read without torch.

The workflow resolves ``precision: auto`` when it plans (so that the resolved precision, not the
word ``auto``, enters each run's identity) and the engine does the same for a run started by hand;
both ask this module. CPUs: ``/proc/cpuinfo`` flags (AVX512-BF16 or AMX-BF16 mean native bf16;
elsewhere bf16 is emulated and several times slower than fp32). NVIDIA GPUs: compute capability
8.0 or newer (Ampere) computes bf16 natively.
"""
from __future__ import annotations

import contextlib
import functools
import os
import platform
import shutil
import subprocess
from typing import FrozenSet, Optional

#: CPU flags that mean bfloat16 arithmetic in hardware
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
#: the first NVIDIA compute capability with native bf16 (Ampere)
BF16_MIN_COMPUTE_CAPABILITY = (8, 0)


@functools.lru_cache(maxsize=None)
def _cpuinfo_field(name: str) -> Optional[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(name) and ":" in line:
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def cpu_flags() -> FrozenSet[str]:
    """The first CPU's feature flags (empty where /proc/cpuinfo is unavailable)."""
    return frozenset((_cpuinfo_field("flags") or "").split())


def cpu_model() -> str:
    """The CPU's model name, e.g. 'Intel(R) Xeon(R) Processor @ 2.80GHz' (what figures must state)."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine() or "unknown CPU"


def cpu_native_bf16() -> bool:
    return bool(cpu_flags() & BF16_CPU_FLAGS)


@functools.lru_cache(maxsize=None)
def gpu_compute_capabilities() -> tuple:
    """Compute capabilities of the NVIDIA GPUs ``nvidia-smi`` lists (empty without one); asked once
    per process."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return ()
    try:
        out = subprocess.run([exe, "--query-gpu=compute_cap", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return ()
    caps = []
    for line in out.stdout.split():
        try:
            major, minor = line.strip().split(".")
            caps.append((int(major), int(minor)))
        except ValueError:
            continue
    return tuple(caps)


def plan_precision(precision: str, use_gpu: bool) -> str:
    """``auto`` → ``bf16`` where the device the run will get computes it natively, else ``fp32``;
    ``fp32``/``bf16`` unchanged. ``use_gpu``: the run will get an NVIDIA GPU (then every visible
    GPU must support bf16 for ``auto`` to choose it)."""
    if precision != "auto":
        return precision
    if use_gpu:
        caps = gpu_compute_capabilities()
        return "bf16" if caps and all(c >= BF16_MIN_COMPUTE_CAPABILITY for c in caps) else "fp32"
    return "bf16" if cpu_native_bf16() else "fp32"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a process of another user counts). A zombie
    child of ours still answers ``kill(pid, 0)``: it is reaped here and counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return True
