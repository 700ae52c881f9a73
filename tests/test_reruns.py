"""Result identity through the workflow: experiments never mix, and the documented ways of redoing
work (bump a method's VERSION, change a schedule, --forcerun, change the data) all rerun exactly
what they should and finish, with no manual delete."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO

pytestmark = pytest.mark.slow


def _copy_project(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    if not files:
        pytest.skip("not a git checkout")
    for f in files:
        if (REPO / f).is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, dest / f)
    return dest


class Workflow:
    """Snakemake on a copy of the project (so a test may edit a method file), in one work folder."""

    def __init__(self, project: Path, workdir: Path):
        self.project, self.workdir = project, workdir
        self.env = dict(os.environ, PYTHONPATH=str(project),
                        PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")

    def __call__(self, *args, check=True) -> str:
        cmd = [sys.executable, "-m", "snakemake", "--workflow-profile", "none", "--snakefile",
               str(self.project / "Snakefile"), "--directory", str(self.workdir), "--cores", "2",
               "--resources", "gpu=0", "--set-threads", "train=1", *args]
        proc = subprocess.run(cmd, cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=1500)
        out = proc.stdout + proc.stderr
        if check:
            assert proc.returncode == 0, out[-5000:]
        return out


def _config(methods, **schedule) -> dict:
    cfg = yaml.safe_load((REPO / "tests" / "data" / "tiny.yaml").read_text())
    cfg.update(methods=methods, streams=["j"], ensembles={})
    cfg["schedule"].update(schedule)
    return cfg


def _write(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


def _planned_trains(dry_run_output: str) -> list:
    """Methods of the train jobs in a dry run (the job blocks, not the report's input lists)."""
    methods = set()
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", dry_run_output):
        if block.startswith("rule train:"):
            m = re.search(r"output: \S*runs/synthetic_default_lt4/stgcnpp/(\w+)/j/seed0/", block)
            assert m, block
            methods.add(m.group(1))
    return sorted(methods)


def _metrics(workdir: Path, exp: str, method: str) -> dict:
    p = workdir / "results" / exp / "runs" / "synthetic_default_lt4" / "stgcnpp" / method / "j" / "seed0" / "metrics.json"
    return json.loads(p.read_text())


def test_experiments_and_reruns(tmp_path):
    project = _copy_project(tmp_path / "project")
    work = tmp_path / "work"
    work.mkdir()
    wf = Workflow(project, work)
    a = _write(work / "a.yaml", _config(["ce", "focal"]))
    b = _write(work / "b.yaml", _config(["ce", "ros"]))

    # --- two configs, one clone: two experiments, each report holds only its own runs
    wf("--configfile", a)
    wf("--configfile", b)
    for exp, methods in (("a", {"ce", "focal"}), ("b", {"ce", "ros"})):
        runs = pd.read_csv(work / "results" / exp / "tables" / "runs.csv")
        assert set(runs["method"]) == methods, (exp, set(runs["method"]))
        html = (work / "reports" / exp / "index.html").read_text()
        other = ({"focal", "ros"} - methods).pop()
        assert other not in html.replace("focal loss", ""), f"report {exp} shows runs of another config"
    # the shared stages ran once
    assert len(list((work / "results" / "data").iterdir())) == 1

    # --- bump one method's VERSION: exactly its runs (and what depends on them) are redone
    ce_before = _metrics(work, "a", "ce")
    focal_file = project / "methods" / "focal.py"
    text = focal_file.read_text()
    version = re.search(r'^VERSION = "(\w+)"', text, re.M).group(1)
    focal_file.write_text(text.replace(f'VERSION = "{version}"', f'VERSION = "{version}9"'))
    plan = wf("-n", "--configfile", a)
    assert _planned_trains(plan) == ["focal"], plan[-3000:]
    wf("--configfile", a)
    assert _metrics(work, "a", "ce") == ce_before
    assert _metrics(work, "a", "focal")["meta"]["spec"]["versions"]["method"] == f"{version}9"

    # --- change a schedule value: every run of the config retrains and finishes
    _write(a, _config(["ce", "focal"], runner_epochs=2))
    plan = wf("-n", "--configfile", a)
    assert _planned_trains(plan) == ["ce", "focal"]
    wf("--configfile", a)
    assert _metrics(work, "a", "ce")["meta"]["runner_epochs"] == 2

    # --- --forcerun retrains from scratch (a finished run keeps no resumable state)
    log = work / "logs" / "a" / "train" / "synthetic_default_lt4" / "stgcnpp" / "ce" / "j" / "seed0.log"
    wf("--configfile", a, "--forcerun", "train")
    assert "from scratch" in log.read_text() and "resuming" not in log.read_text()

    # --- change the prepared data: the runs retrain on the new data, and say which data
    old_id = _metrics(work, "a", "ce")["meta"]["run_id"]
    cfg = _config(["ce", "focal"], runner_epochs=2)
    cfg["datasets"]["synthetic"]["options"]["seed"] = 7
    _write(a, cfg)
    wf("--configfile", a)
    rec = _metrics(work, "a", "ce")
    meta = json.loads((work / "results" / "data" / "synthetic" / "meta.json").read_text())
    assert rec["meta"]["identity"]["data_checksums"] == meta["checksums"]
    assert rec["meta"]["run_id"] != old_id
    assert "Nothing to be done" in wf("-n", "--configfile", a)


def test_interrupted_run_on_changed_data_does_not_resume(tmp_path):
    """The original bug: a checkpoint left by an interrupted run was resumed after the data changed,
    and the old model was scored on the new test set. Now it is moved aside and the run starts over."""
    from conftest import snakemake

    cfg = _config(["ce"], runner_epochs=3)
    cfg_path = _write(tmp_path / "c.yaml", cfg)
    snakemake(["results/data/synthetic/meta.json", "results/splits/synthetic_default_lt4.txt", "--cores", "1",
               "--configfile", str(cfg_path)], cwd=tmp_path)
    # an interrupted run: the trainer stopped after one epoch (its checkpoint stays)
    spec = subprocess.run([sys.executable, "-c",
                           "import yaml, sys, benchmark.workflow as bw;"
                           f"c = yaml.safe_load(open({str(cfg_path)!r})); c['experiment'] = 'c';"
                           "print(bw.run_spec(c, 'synthetic_default_lt4', 'stgcnpp', 'ce', 'j', 0))"],
                          capture_output=True, text=True, check=True, cwd=REPO).stdout.strip()
    ckpt = tmp_path / "results" / "c" / "ckpt" / "synthetic_default_lt4" / "stgcnpp" / "ce" / "j" / "seed0"
    subprocess.run([sys.executable, "-m", "benchmark", "train", "--spec", spec, "--data",
                    str(tmp_path / "results" / "data" / "synthetic"), "--split",
                    str(tmp_path / "results" / "splits" / "synthetic_default_lt4.txt"), "--out",
                    str(tmp_path / "partial"), "--ckpt", str(ckpt), "--no-progress", "--stop-after-epochs", "1"],
                   check=True, cwd=REPO, capture_output=True)
    assert (ckpt / "last.pt").exists()
    cfg["datasets"]["synthetic"]["options"]["seed"] = 5
    _write(cfg_path, cfg)
    snakemake(["--cores", "1", "--resources", "gpu=0", "--configfile", str(cfg_path)], cwd=tmp_path)
    log = (tmp_path / "logs" / "c" / "train" / "synthetic_default_lt4" / "stgcnpp" / "ce" / "j" / "seed0.log").read_text()
    assert "resuming" not in log and "moved it to" in log and "another run identity" in log
    assert len(list((ckpt / "stale").glob("*.pt"))) == 1
