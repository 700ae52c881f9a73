"""Shared fixtures: repository paths, the shared data folder, small canonical datasets."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# Keep CPU tests from oversubscribing a small machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def snakemake(args, cwd: Path, timeout: int = 900, check: bool = True) -> subprocess.CompletedProcess:
    """Run the Snakemake CLI (the stable contract) with the test-safe defaults of docs/workflow.md."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    cmd = [sys.executable, "-m", "snakemake", "--workflow-profile", "none", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(cwd)] + list(args)
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
                             f"{proc.stderr[-6000:]}")
    return proc


@pytest.fixture(scope="module")
def single_torch_thread():
    """Tiny models: one intra-op thread avoids OpenMP spin-waiting on a shared 2-core box."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_dataset(tmp_path) -> Path:
    """A small random canonical dataset (5 classes, NTU-25) written with the canonical writer."""
    from benchmark.data.canonical import DatasetMeta, write_dataset

    rng = np.random.default_rng(0)
    n_train, n_test, c = 60, 20, 5
    n = n_train + n_test
    labels = np.concatenate([np.repeat(np.arange(c), n_train // c), np.repeat(np.arange(c), n_test // c)])
    frames = rng.integers(20, 40, size=n)
    joints = np.zeros((n, 2, 40, 25, 3), np.float32)
    t = np.arange(40)[:, None, None]
    for i in range(n):
        # class-dependent oscillation so that the task is learnable
        base = rng.normal(0, 0.3, size=(1, 25, 3))
        joints[i, 0, : frames[i]] = (base + 0.5 * np.sin(t * (labels[i] + 1) * 0.2))[: frames[i]]
    table = pd.DataFrame({"name": [f"s{i:03d}" for i in range(n)], "label": labels, "frames": frames,
                          "persons": 1, "default": ["train"] * n_train + ["test"] * n_test})
    meta = DatasetMeta(dataset="tiny", layout="ntu25", num_classes=c, benchmarks=["default"], reader="test",
                       reader_version="1")
    return write_dataset(tmp_path / "tiny", joints, table, meta)
