"""Test scaffolding, one place each: the repository paths, a copy of the project, the Snakemake
command line, the tiny workflow config and the tiny run spec. Test files import from here
(``from helpers import ...``); fixtures that use these live in conftest.py."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
TINY_CONFIG = REPO / "tests" / "data" / "tiny.yaml"


# --------------------------------------------------------------------------- the project

def copy_project(dest: Path) -> Path:
    """The project's files (tracked, and untracked but not ignored) copied into ``dest``: a clone
    with nothing beside it, whose files a test may edit. Skips outside a git checkout."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True).stdout.split()
    if not files:
        pytest.skip("not a git checkout")
    for f in files:
        if (REPO / f).is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, dest / f)
    return dest


# --------------------------------------------------------------------------- Snakemake

def snakemake_env(project: Optional[Path] = None, path_first: Sequence[Path] = ()) -> Dict[str, str]:
    """The environment of a workflow run: this interpreter's bin folder on PATH (the rules call
    ``python``), and ``project`` first on PYTHONPATH when the run uses a copy of the project."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([*map(str, path_first), str(Path(sys.executable).parent), env.get("PATH", "")])
    if project is not None:
        env["PYTHONPATH"] = str(project)
    return env


def snakemake_cmd(args: Sequence, cwd: Path, project: Optional[Path] = None) -> list:
    """``python -m snakemake`` with the test-safe defaults of docs/workflow.md (no workflow profile),
    the Snakefile of ``project`` (default: this repository) and its results in ``cwd``."""
    return [sys.executable, "-m", "snakemake", "--workflow-profile", "none", "--snakefile",
            str((project or REPO) / "Snakefile"), "--directory", str(cwd)] + [str(a) for a in args]


def _snakemake_child(argv: list, cwd: str, env: Dict[str, str], out: str, err: str) -> None:
    """In a child forked from the server that imported Snakemake: exactly what ``python -m snakemake
    ARGV`` does in a fresh process (working folder, environment, import path, stdout/stderr file
    descriptors, so the workflow's own jobs inherit them), then exit with its status."""
    import logging

    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    # the import path of `python -m`: the working folder first, then PYTHONPATH
    sys.path[:0] = [cwd, *(p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)]
    for fd, path in ((1, out), (2, err)):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(handle, fd)
        os.close(handle)
    sys.argv = ["snakemake", *argv]
    code = 0
    try:
        from snakemake.cli import main

        main(argv)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _snakemake_server():
    """A forkserver that has imported Snakemake's CLI once (about a second and a half of every call:
    the suite runs Snakemake some seventy times), or None where processes cannot be forked or
    LTSB_TEST_FRESH_SNAKEMAKE=1 asks for a fresh interpreter per call."""
    import multiprocessing

    if os.environ.get("LTSB_TEST_FRESH_SNAKEMAKE") == "1" or "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["snakemake.cli", "helpers"])
    return ctx


def _run_forked(ctx, argv: list, cwd: Path, env: Dict[str, str], timeout: int) -> subprocess.CompletedProcess:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="snakemake-call-") as tmp:
        out, err = os.path.join(tmp, "stdout"), os.path.join(tmp, "stderr")
        child = ctx.Process(target=_snakemake_child, args=(argv, str(cwd), env, out, err))
        child.start()
        child.join(timeout)
        if child.is_alive():
            child.kill()
            child.join()
            raise subprocess.TimeoutExpired(["snakemake", *argv], timeout)
        with open(out, errors="replace") as o, open(err, errors="replace") as e:
            return subprocess.CompletedProcess(["snakemake", *argv], child.exitcode, o.read(), e.read())


def snakemake(args: Sequence, cwd: Path, timeout: int = 900, check: bool = True, project: Optional[Path] = None,
              env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    """Run the Snakemake CLI (the stable contract, ``snakemake.cli.main``) in ``cwd``, in a child
    forked from a server that imported Snakemake once (:func:`_snakemake_server`; otherwise a fresh
    ``python -m snakemake``); with ``check`` a failure raises with the end of its output."""
    cmd = snakemake_cmd(args, cwd, project)
    env = env or snakemake_env(project)
    ctx = _snakemake_server()
    if ctx is None:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    else:
        proc = _run_forked(ctx, cmd[3:], cwd, env, timeout)  # cmd[3:]: the arguments after "-m snakemake"
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


#: a local run: both cores, no GPU, one thread per training job (two jobs side by side)
LOCAL_RUN = ("--cores", "2", "--resources", "gpu=0", "--set-threads", "train=1", "train_pack=1")


def job_counts(output: str) -> Dict[str, int]:
    """{rule: jobs} from the job table of a dry run (``-n --quiet rules``)."""
    counts = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


# --------------------------------------------------------------------------- configs and specs

def tiny_config(**changes) -> dict:
    """tests/data/tiny.yaml (the tiny workflow grid) with top-level keys replaced by ``changes``."""
    cfg = yaml.safe_load(TINY_CONFIG.read_text())
    cfg.update(changes)
    return cfg


def write_config(path: Path, cfg: dict) -> Path:
    """``cfg`` as YAML at ``path`` (a folder gets cfg.yaml); returns the file."""
    path = path / "cfg.yaml" if path.is_dir() else path
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def write_tiny_dataset(dest: Path) -> Path:
    """A small random canonical dataset (5 classes, NTU-25, 60 training and 20 test samples) written
    with the canonical writer into ``dest/tiny``; class-dependent oscillations make it learnable."""
    import numpy as np

    from benchmark.data.toy import write_oscillation_dataset

    n_train, n_test, c = 60, 20, 5
    labels = np.concatenate([np.repeat(np.arange(c), n_train // c), np.repeat(np.arange(c), n_test // c)])
    return write_oscillation_dataset(dest, "tiny", labels, n_train, c, (20, 40), 40, 0.2)


#: the tiny run of the engine tests: ST-GCN++ at width 8, CE, joints, short clips
TINY_SCHEDULE = {"runner_epochs": 3, "repeat": 1, "batch_size": 16, "clip_len": 8, "test_clips": 2,
                 "eval_batch_size": 16}


def tiny_spec_dict(schedule: Optional[dict] = None, **kw) -> dict:
    """A run spec (as a dict) on the tiny dataset of conftest's ``tiny_dataset``; ``schedule`` values
    replace those of :data:`TINY_SCHEDULE`, other keywords replace top-level keys."""
    spec = dict(dataset="tiny", benchmark="default", split_id="tiny_default_natural", backbone="stgcnpp",
                method="ce", method_id="ce", stream="j", seed=0, backbone_options={"base_channels": 8},
                schedule={**TINY_SCHEDULE, **(schedule or {})})
    spec.update(kw)
    return spec


def tiny_spec(schedule: Optional[dict] = None, **kw):
    """:func:`tiny_spec_dict` as a RunSpec."""
    from benchmark.engine.config import RunSpec

    return RunSpec.from_dict(tiny_spec_dict(schedule, **kw))


def tiny_spec_json(schedule: Optional[dict] = None, **kw) -> str:
    """:func:`tiny_spec_dict` as the JSON that ``python -m benchmark train --spec`` takes."""
    return json.dumps(tiny_spec_dict(schedule, **kw))
