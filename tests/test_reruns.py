"""Result identity through the workflow: experiments never mix, and the documented ways of redoing
work (bump a method's VERSION, change a schedule, --forcerun, change the data) all rerun exactly
what they should and finish, with no manual delete."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from helpers import LOCAL_RUN, REPO, copy_project, snakemake, tiny_config, write_config

pytestmark = pytest.mark.slow


class Workflow:
    """Snakemake on a copy of the project (so a test may edit a method file), in one work folder."""

    def __init__(self, project: Path, workdir: Path):
        self.project, self.workdir = project, workdir

    def __call__(self, *args, check=True) -> str:
        proc = snakemake([*LOCAL_RUN, *args], cwd=self.workdir, project=self.project, timeout=1500, check=check)
        return proc.stdout + proc.stderr


def _config(methods, **schedule) -> dict:
    cfg = tiny_config(methods=methods, streams=["j"], ensembles={})
    cfg["schedule"].update(schedule)
    return cfg


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
    project = copy_project(tmp_path / "project")
    work = tmp_path / "work"
    work.mkdir()
    wf = Workflow(project, work)
    a = write_config(work / "a.yaml", _config(["ce", "focal"]))
    b = write_config(work / "b.yaml", _config(["ce", "ros"]))

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
    write_config(a, _config(["ce", "focal"], runner_epochs=2))
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
    write_config(a, cfg)
    wf("--configfile", a)
    rec = _metrics(work, "a", "ce")
    meta = json.loads((work / "results" / "data" / "synthetic" / "meta.json").read_text())
    assert rec["meta"]["identity"]["data_checksums"] == meta["checksums"]
    assert rec["meta"]["run_id"] != old_id
    assert "Nothing to be done" in wf("-n", "--configfile", a)


def test_interrupted_run_on_changed_data_does_not_resume(tmp_path):
    """The original bug: a checkpoint left by an interrupted run was resumed after the data changed,
    and the old model was scored on the new test set. Now it is moved aside and the run starts over."""
    import benchmark.workflow as bw

    cfg = _config(["ce"], runner_epochs=3)
    cfg_path = write_config(tmp_path / "c.yaml", cfg)
    snakemake(["results/data/synthetic/meta.json", "results/splits/synthetic_default_lt4.txt", "--cores", "1",
               "--configfile", cfg_path], cwd=tmp_path)
    # an interrupted run: the trainer stopped after one epoch (its checkpoint stays)
    spec = bw.run_spec(dict(cfg, experiment="c"), "synthetic_default_lt4", "stgcnpp", "ce", "j", 0)
    run = "synthetic_default_lt4/stgcnpp/ce/j/seed0"
    ckpt = tmp_path / "results" / "c" / "ckpt" / run
    subprocess.run([sys.executable, "-m", "benchmark", "train", "--spec", spec, "--data",
                    str(tmp_path / "results" / "data" / "synthetic"), "--split",
                    str(tmp_path / "results" / "splits" / "synthetic_default_lt4.txt"), "--out",
                    str(tmp_path / "partial"), "--ckpt", str(ckpt), "--no-progress", "--stop-after-epochs", "1"],
                   check=True, cwd=REPO, capture_output=True)
    assert (ckpt / "last.pt").exists()
    cfg["datasets"]["synthetic"]["options"]["seed"] = 5
    write_config(cfg_path, cfg)
    # the run's result is the target: the resume decision is the train job's
    snakemake([f"results/c/runs/{run}/metrics.json", "--cores", "1", "--resources", "gpu=0", "--configfile",
               cfg_path], cwd=tmp_path)
    log = (tmp_path / "logs" / "c" / "train" / f"{run}.log").read_text()
    assert "resuming" not in log and "moved it to" in log and "another run identity" in log
    assert len(list((ckpt / "stale").glob("*.pt"))) == 1
