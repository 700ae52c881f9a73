"""Result identity through the workflow: experiments never mix, and the documented ways of redoing
work (bump a method's VERSION, change a schedule, --forcerun, change the data) all rerun exactly
what they should and finish, with no manual delete.

One scenario runs once for the module (:func:`scenario`): two configs in one work folder, then each
change in turn, with an interrupted run's checkpoint left behind before the data change. It keeps
what each step showed (plans, records, logs); every test asserts on its own step."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from helpers import LOCAL_RUN, REPO, copy_project, snakemake, tiny_config, write_config

pytestmark = pytest.mark.slow


class Workflow:
    """Snakemake on a copy of the project (so a test may edit a method file), in one work folder."""

    def __init__(self, project: Path, workdir: Path):
        self.project, self.workdir = project, workdir

    def __call__(self, *args, targets=(), check=True) -> str:
        # targets first: --set-threads, --configfile and --forcerun take every following word as values
        proc = snakemake([*targets, *LOCAL_RUN, *args], cwd=self.workdir, project=self.project, timeout=1500,
                         check=check)
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


RUN = "synthetic_default_lt4/stgcnpp/{method}/j/seed0"


def _interrupt_after_one_epoch(work: Path, cfg: dict, exp: str, method: str) -> Path:
    """Start ``method``'s run of ``cfg`` outside the workflow and stop it after one runner epoch,
    as a killed job would: its checkpoint stays in the workflow's checkpoint folder. Returns it."""
    import benchmark.workflow as bw

    spec = bw.run_spec(dict(cfg, experiment=exp), "synthetic_default_lt4", "stgcnpp", method, "j", 0)
    ckpt = work / "results" / exp / "ckpt" / RUN.format(method=method)
    subprocess.run([sys.executable, "-m", "benchmark", "train", "--spec", spec, "--data",
                    str(work / "results" / "data" / "synthetic"), "--split",
                    str(work / "results" / "splits" / "synthetic_default_lt4.txt"), "--out",
                    str(work / "partial"), "--ckpt", str(ckpt), "--no-progress", "--stop-after-epochs", "1"],
                   check=True, cwd=REPO, capture_output=True)
    return ckpt


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> SimpleNamespace:
    """The workflow on a copy of the project, step by step; what each step showed, by step."""
    top = tmp_path_factory.mktemp("reruns")
    project = copy_project(top / "project")
    work = top / "work"
    work.mkdir()
    wf = Workflow(project, work)
    seen = SimpleNamespace(work=work)
    a = write_config(work / "a.yaml", _config(["ce", "focal"]))
    b = write_config(work / "b.yaml", _config(["ce", "ros"]))

    # two configs, one clone
    wf("--configfile", a)
    wf("--configfile", b)
    seen.tables = {exp: set(pd.read_csv(work / "results" / exp / "tables" / "runs.csv")["method"]) for exp in "ab"}
    seen.reports = {exp: (work / "reports" / exp / "index.html").read_text() for exp in "ab"}
    seen.data_folders = len(list((work / "results" / "data").iterdir()))

    # bump one method's VERSION
    seen.ce_before_bump = _metrics(work, "a", "ce")
    focal_file = project / "methods" / "focal.py"
    text = focal_file.read_text()
    seen.focal_version = re.search(r'^VERSION = "(\w+)"', text, re.M).group(1)
    focal_file.write_text(text.replace(f'VERSION = "{seen.focal_version}"', f'VERSION = "{seen.focal_version}9"'))
    seen.plan_after_bump = wf("-n", "--configfile", a)
    # the middle steps are about training: they run to the runs' results; the last one runs it all
    runs_of_a = [f"results/a/runs/{RUN.format(method=m)}/metrics.json" for m in ("ce", "focal")]
    wf("--configfile", a, targets=runs_of_a)
    seen.ce_after_bump, seen.focal_after_bump = _metrics(work, "a", "ce"), _metrics(work, "a", "focal")

    # change a schedule value
    cfg = _config(["ce", "focal"], runner_epochs=2)
    write_config(a, cfg)
    seen.plan_after_schedule = wf("-n", "--configfile", a)
    wf("--configfile", a, targets=runs_of_a)
    seen.ce_after_schedule = _metrics(work, "a", "ce")

    # --forcerun
    log = work / "logs" / "a" / "train" / f"{RUN.format(method='ce')}.log"
    wf("--configfile", a, "--forcerun", "train", targets=runs_of_a)
    seen.log_after_forcerun = log.read_text()

    # an interrupted run's checkpoint, then the prepared data change
    seen.id_before_data = _metrics(work, "a", "ce")["meta"]["run_id"]
    seen.ckpt = _interrupt_after_one_epoch(work, cfg, "a", "ce")
    seen.ckpt_left = (seen.ckpt / "last.pt").exists()
    cfg["datasets"]["synthetic"]["options"]["seed"] = 7
    write_config(a, cfg)
    wf("--configfile", a)
    seen.ce_after_data = _metrics(work, "a", "ce")
    seen.data_meta = json.loads((work / "results" / "data" / "synthetic" / "meta.json").read_text())
    seen.log_after_data = log.read_text()
    seen.plan_at_the_end = wf("-n", "--configfile", a)
    return seen


def test_two_configs_in_one_clone_are_two_experiments(scenario):
    """Each report holds only its own runs; the shared stages ran once."""
    for exp, methods in (("a", {"ce", "focal"}), ("b", {"ce", "ros"})):
        assert scenario.tables[exp] == methods, (exp, scenario.tables[exp])
        other = ({"focal", "ros"} - methods).pop()
        assert other not in scenario.reports[exp].replace("focal loss", ""), \
            f"report {exp} shows runs of another config"
    assert scenario.data_folders == 1


def test_a_version_bump_reruns_exactly_that_methods_runs(scenario):
    assert _planned_trains(scenario.plan_after_bump) == ["focal"], scenario.plan_after_bump[-3000:]
    assert scenario.ce_after_bump == scenario.ce_before_bump
    # the effective version: focal's own VERSION first, then the helpers it builds on
    assert scenario.focal_after_bump["meta"]["spec"]["versions"]["method"].split(";")[0] == f"{scenario.focal_version}9"


def test_a_schedule_change_retrains_every_run(scenario):
    assert _planned_trains(scenario.plan_after_schedule) == ["ce", "focal"]
    assert scenario.ce_after_schedule["meta"]["runner_epochs"] == 2


def test_forcerun_retrains_from_scratch(scenario):
    """A finished run keeps no resumable state."""
    assert "from scratch" in scenario.log_after_forcerun and "resuming" not in scenario.log_after_forcerun


def test_changed_data_retrains_and_says_which_data(scenario):
    rec = scenario.ce_after_data
    from benchmark.engine.identity import data_identity

    # the prepared files' checksums plus meta.json's own hash
    assert rec["meta"]["identity"]["data_checksums"] == data_identity(scenario.data_meta)
    assert rec["meta"]["run_id"] != scenario.id_before_data
    assert "Nothing to be done" in scenario.plan_at_the_end


def test_interrupted_run_on_changed_data_does_not_resume(scenario):
    """The original bug: a checkpoint left by an interrupted run was resumed after the data changed,
    and the old model was scored on the new test set. Now it is moved aside and the run starts over."""
    assert scenario.ckpt_left
    log = scenario.log_after_data
    assert "resuming" not in log and "moved it to" in log and "another run identity" in log
    assert len(list((scenario.ckpt / "stale").glob("*.pt"))) == 1
