"""Shared fixtures: small canonical datasets, one thread for tiny models, and the tiny workflow run
once per session for every test that asserts on its outputs (plain helpers: tests/helpers.py)."""
from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import Callable

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


def built_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder ``name``, filled by ``build(folder)`` once per test session: under pytest-xdist the
    first worker that asks builds it while the others wait on a lock, then every worker reads the
    same folder (without xdist it is an ordinary session folder). A failed build leaves no mark, so
    the next worker that asks tries again and fails with its own message."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by the workers of this session
    folder, done = base / name, base / f"{name}.done"
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            done.touch()
    return folder


def _run_tiny_workflow(wd: Path) -> None:
    shutil.copy(TINY_CONFIG, wd / "tiny.yaml")
    snakemake([*LOCAL_RUN, "--configfile", wd / "tiny.yaml"], cwd=wd, timeout=1200)


@pytest.fixture(scope="session")
def tiny_workflow(tmp_path_factory):
    """tests/data/tiny.yaml run once to the end (synthetic data → split → train, 2 methods × 2
    streams → ensemble → tables → report), once for all workers. Returns (work folder, config
    file); tests only read it."""
    wd = built_once(tmp_path_factory, "tiny_workflow", _run_tiny_workflow)
    return wd, wd / "tiny.yaml"


@pytest.fixture(scope="session")
def project_clone(tmp_path_factory) -> Path:
    """One copy of the project with nothing beside it (no ../shared), for the tests that run its
    commands as a user's clone would; they read it and do not edit it."""
    top = tmp_path_factory.mktemp("clone")
    copy = copy_project(top / "project")
    assert not (top / "shared").exists()
    return copy


def pytest_collection_modifyitems(session, config, items):
    """Modules with workflow runs (marked ``slow``, then ``realdata``) first: pytest-xdist hands
    whole modules to workers in collection order, and a long module that starts last would leave
    the other workers idle at the end. Order within a module is kept."""
    def rank(module) -> int:
        marks = {m.name for item in by_module[module] for m in item.iter_markers()}
        return 0 if "slow" in marks else 1 if "realdata" in marks else 2

    by_module: dict = {}
    for item in items:
        by_module.setdefault(item.module, []).append(item)
    order = sorted(by_module, key=rank)  # stable: alphabetical within a rank, as collected
    items[:] = [item for module in order for item in by_module[module]]
