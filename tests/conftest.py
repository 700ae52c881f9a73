"""Shared fixtures: small canonical datasets, one thread for tiny models, and the tiny workflow run
once per session for every test that asserts on its outputs (plain helpers: tests/helpers.py)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# the shared scaffolding (tests/helpers.py); REPO, SHARED_DATA and snakemake stay importable from here
from helpers import LOCAL_RUN, REPO, SHARED_DATA, TINY_CONFIG, copy_project, snakemake  # noqa: F401

# Keep CPU tests from oversubscribing a small machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")


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


@pytest.fixture(scope="session")
def tiny_workflow(tmp_path_factory):
    """tests/data/tiny.yaml run once to the end (synthetic data → split → train, 2 methods × 2
    streams → ensemble → tables → report). Returns (work folder, config file); tests only read it."""
    wd = tmp_path_factory.mktemp("tiny_workflow")
    cfg = wd / "tiny.yaml"
    shutil.copy(TINY_CONFIG, cfg)
    snakemake([*LOCAL_RUN, "--configfile", cfg], cwd=wd, timeout=1200)
    return wd, cfg


@pytest.fixture(scope="session")
def project_clone(tmp_path_factory) -> Path:
    """One copy of the project with nothing beside it (no ../shared), for the tests that run its
    commands as a user's clone would; they read it and do not edit it."""
    top = tmp_path_factory.mktemp("clone")
    copy = copy_project(top / "project")
    assert not (top / "shared").exists()
    return copy
