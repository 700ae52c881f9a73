"""Ids that cannot collide (issue 20): two splits never share a file, two configs never share an
experiment folder by accident."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import benchmark.workflow as bw
from conftest import REPO, snakemake


def _tiny() -> dict:
    return yaml.safe_load((REPO / "tests" / "data" / "tiny.yaml").read_text())


def _collision() -> dict:
    cfg = _tiny()
    ds = cfg["datasets"].pop("synthetic")
    cfg["datasets"]["x_y"] = dict(ds, benchmarks=["default"])
    cfg["datasets"]["x"] = dict(ds, benchmarks=["y_default"])
    return cfg


def test_split_ids_that_would_share_a_file_are_refused():
    with pytest.raises(bw.WorkflowConfigError) as e:
        bw.splits(_collision())
    msg = str(e.value)
    assert "x_y_default_lt4" in msg and "'x_y' / benchmark 'default'" in msg and "'x' / benchmark 'y_default'" in msg
    # the same names without the shift are fine
    cfg = _collision()
    cfg["datasets"]["x"]["benchmarks"] = ["other"]
    assert {"x_y_default_lt4", "x_other_lt4"} <= set(bw.splits(cfg))


def test_split_collision_stops_the_workflow(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(_collision()))
    proc = snakemake(["-n", "--configfile", "c.yaml"], cwd=tmp_path, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "config error: split id 'x_y_default_lt4'" in out, out[-3000:]
    assert "Traceback" not in out


def _cfg(**kw) -> dict:
    cfg = _tiny()
    cfg.update(kw)
    return cfg


def test_experiment_digest_ignores_roots_and_selections_only():
    base = _cfg()
    d = bw.experiment_digest(base)
    assert bw.experiment_digest(_cfg(select_datasets="synthetic", synthetic_root="/x", experiment="tiny")) == d
    moved = _cfg()
    moved["datasets"]["synthetic"]["root"] = "/elsewhere"
    assert bw.experiment_digest(moved) == d
    other = _cfg()
    other["schedule"]["runner_epochs"] = 2
    assert bw.experiment_digest(other) != d
    assert bw.experiment_digest(_cfg(seeds=[0, 1])) != d


def test_a_second_config_with_the_same_name_stops(tmp_path):
    first, second = tmp_path / "a" / "demo.yaml", tmp_path / "b" / "demo.yaml"
    for f in (first, second):
        f.parent.mkdir()
    first.write_text(yaml.safe_dump(_cfg()))
    other = _cfg()
    other["schedule"]["runner_epochs"] = 3
    second.write_text(yaml.safe_dump(other))
    cfg1 = dict(_cfg(), experiment="demo")
    record = bw.check_experiment(cfg1, [str(first)], tmp_path)
    assert record and record["config_files"] == [str(first.resolve())]
    bw.write_experiment_record(record, tmp_path)
    assert json.loads((tmp_path / "results" / "demo" / "experiment.json").read_text())["digest"] == record["digest"]
    # the same config (other roots, a selection): nothing to do; the same file edited: a new record
    assert bw.check_experiment(dict(cfg1, select_datasets="synthetic"), [str(first)], tmp_path) is None
    assert bw.check_experiment(dict(other, experiment="demo"), [str(first)], tmp_path)["digest"] != record["digest"]
    # a copy elsewhere with the same contents is the same experiment
    assert bw.check_experiment(cfg1, [str(tmp_path / "copy.yaml")], tmp_path) is None
    with pytest.raises(bw.WorkflowConfigError) as e:
        bw.check_experiment(dict(other, experiment="demo"), [str(second)], tmp_path)
    msg = str(e.value)
    assert str(first.resolve()) in msg and str(second.resolve()) in msg and "--config experiment=NAME" in msg, msg


def test_the_workflow_records_the_experiment_and_stops_a_second_demo(tmp_path):
    """A real (tiny) run writes results/demo/experiment.json; a different demo.yaml from another
    folder then stops at parse time with one line naming both files."""
    small = _cfg()
    small["datasets"]["synthetic"]["options"].update(num_classes=3, train_per_class=2, test_per_class=1)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "demo.yaml").write_text(yaml.safe_dump(small))
    snakemake(["results/data/synthetic/meta.json", "--cores", "1", "--configfile", "a/demo.yaml"], cwd=tmp_path)
    rec = json.loads((tmp_path / "results" / "demo" / "experiment.json").read_text())
    assert rec["config_files"] == [str((tmp_path / "a" / "demo.yaml").resolve())]
    small["schedule"]["runner_epochs"] = 2
    (tmp_path / "b" / "demo.yaml").write_text(yaml.safe_dump(small))
    proc = snakemake(["-n", "--configfile", "b/demo.yaml"], cwd=tmp_path, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "config error: experiment 'demo'" in out and "a/demo.yaml" in out, out[-3000:]
    assert "b/demo.yaml" in out and "Traceback" not in out
