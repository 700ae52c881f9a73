"""Shared fixtures: small canonical datasets, one thread for tiny models, and the tiny workflow run
once per session for every test that asserts on its outputs (plain helpers: tests/helpers.py)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# the shared scaffolding (tests/helpers.py); REPO, SHARED_DATA and snakemake stay importable from here
from helpers import (LOCAL_RUN, REPO, SHARED_DATA, TINY_CONFIG, copy_project, snakemake,  # noqa: F401
                     write_tiny_dataset)

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
    """A small random canonical dataset (5 classes, NTU-25; helpers.write_tiny_dataset)."""
    return write_tiny_dataset(tmp_path)


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
