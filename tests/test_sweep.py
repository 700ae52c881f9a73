"""Validation sweeps (WB's weight decay): the plan, the selection step, the record."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import LOCAL_RUN, job_counts, snakemake, tiny_config, write_config

GRID = [0.0005, 0.001, 0.002, 0.005]


def _ntu_config(tmp_path: Path, **ds) -> dict:
    """NTU60-LT X-Sub (packaged list) and synthetic data, wb_stage2 and CE, two streams."""
    root = tmp_path / "raw" / "ntu60"
    root.mkdir(parents=True, exist_ok=True)
    tiny = tiny_config()
    cfg = dict(tiny, methods=["ce", "wb_stage2"], streams=["j", "b"], ensembles={})
    cfg["datasets"] = {
        "ntu60": {"source": "pyskl_pickle", "root": str(root), "layout": "ntu25", "benchmarks": ["xsub"],
                  "options": {"file": "ntu60_3danno.pkl"},
                  "lt": {"n_max": 600, "ratio": 100, "split_list": "official"}, **ds},
        "synthetic": tiny["datasets"]["synthetic"],
    }
    return cfg


def test_planned_validation_from_the_config():
    from benchmark.data.validation import ValidationSplitError, planned_validation

    ntu = {"source": "pyskl_pickle", "layout": "ntu25"}
    assert planned_validation(ntu, "100")[0] is True
    assert planned_validation({"source": "nw_ucla_json", "layout": "nw_ucla20"}, "10")[0] is False
    assert planned_validation({"source": "pyskl_hrnet", "layout": "coco17"}, "natural")[0] is False
    assert planned_validation({"source": "synthetic"}, "4")[0] is False
    assert planned_validation({"source": "ntu_skeleton"}, "100")[0] is True            # layout ntu25 by default
    assert planned_validation({"source": "generic", "layout": "ntu25"}, "10")[0] is False   # unknown sizes
    assert planned_validation(dict(ntu, validation=False), "100") == (False, "datasets..validation: false")
    assert planned_validation({"source": "synthetic", "validation": True}, "4")[0] is True
    with pytest.raises(ValidationSplitError, match="validation must be true or false"):
        planned_validation({"source": "synthetic", "validation": "yes"}, "4", "synthetic")


def test_plan_sweeps_wb_only_where_a_validation_split_exists(tmp_path):
    import benchmark.workflow as bw

    cfg = _ntu_config(tmp_path)
    rows = {r.rel for r in bw.result_runs(cfg)}
    trains = {r.rel for r in bw.runs(cfg)}
    for st in ("j", "b"):
        ntu = f"ntu60_xsub_lt100/stgcnpp/%s/{st}/seed0"
        syn = f"synthetic_default_lt4/stgcnpp/%s/{st}/seed0"
        # NTU: four candidates train, the wb row comes from the selection step
        assert {ntu % f"wb_wd{v:g}" for v in GRID} <= trains and ntu % "wb" not in trains
        assert ntu % "wb" in rows and not any("wb_wd" in r for r in rows)
        # synthetic data: no validation split, one wb run with the fixed default
        assert syn % "wb" in trains and not any(r.startswith("synthetic") and "wb_wd" in r for r in trains)
        assert {ntu % "wb_stage2", syn % "wb_stage2"} <= trains
    assert len(trains) == len(rows) + 2 * 3                  # + (4 candidates − 1 row) per NTU stream
    assert bw.swept(cfg) == (["ntu60_xsub_lt100"], ["wb"])
    spec = json.loads(bw.run_spec(cfg, "ntu60_xsub_lt100", "stgcnpp", "wb_wd0.002", "j", 0))
    assert spec["method"] == "wb" and spec["method_options"]["weight_decay"] == 0.002
    assert json.loads(bw.run_spec(cfg, "synthetic_default_lt4", "stgcnpp", "wb", "j", 0))["method_options"] == {}
    # an explicit weight decay is kept: nothing to sweep
    cfg["methods"] = ["ce", {"name": "wb", "options": {"weight_decay": 0.001}}, "wb_stage2"]
    assert not any("wb_wd" in r.rel for r in bw.runs(cfg)) and bw.swept(cfg) == ([], [])


def test_snakemake_plans_the_candidates_and_one_selection_per_stream(tmp_path):
    def counts(cfg):
        out = snakemake(["-n", "--quiet", "rules", "--configfile", write_config(tmp_path, cfg)], cwd=tmp_path)
        return job_counts(out.stdout + out.stderr)

    cfg = _ntu_config(tmp_path)
    c = counts(cfg)
    # per stream: NTU ce, 4 candidates, wb_stage2; synthetic ce, wb, wb_stage2
    assert c["train"] == 2 * (6 + 3) and c["select_sweep"] == 2
    c = counts(_ntu_config(tmp_path, validation=False))
    assert c["train"] == 2 * (3 + 3) and "select_sweep" not in c


def _candidate(d: Path, wd: float, val_scores, run_id: str) -> None:
    d.mkdir(parents=True)
    pd.DataFrame({"epoch": range(1, len(val_scores) + 1), "val_balanced_acc": val_scores}).to_csv(d / "epochs.csv",
                                                                                                 index=False)
    rec = {"run": {"method": d.parent.parent.name, "method_name": "wb", "selection": "last"},
           "metrics": {"top1": wd}, "meta": {"run_id": run_id, "spec": {"method_options": {"weight_decay": wd}}}}
    (d / "metrics.json").write_text(json.dumps(rec))
    for name in ("model.pt", "test_probs.npz", "test_probs_best_val.npz"):
        (d / name).write_text(f"{name} of {run_id}")


def test_selection_step_picks_the_best_final_validation_score(tmp_path):
    """Final-epoch scores 0.40, 0.55, 0.55, 0.50 (wd 5e-4 … 5e-3): 1e-3 and 2e-3 tie, the smaller
    wins. The epoch-1 score 0.9 of 5e-3 does not count: the criterion is the final model."""
    from benchmark.engine.sweep import main

    dirs = []
    for wd, scores in zip(GRID, ([0.3, 0.40], [0.2, 0.55], [0.1, 0.55], [0.9, 0.50])):
        d = tmp_path / "runs" / f"wb_wd{wd:g}" / "j" / "seed0"
        _candidate(d, wd, scores, f"id{wd:g}")
        dirs.append(str(d))
    out = tmp_path / "runs" / "wb" / "j" / "seed0"
    assert main(["--candidates", *dirs, "--out", str(out), "--method-id", "wb", "--method-name", "wb"]) == 0
    rec = json.loads((out / "metrics.json").read_text())
    sel = rec["meta"]["stage1_selection"]
    assert sel["tuned"] and sel["chosen"] == 0.001 and sel["selected_run"] == "wb_wd0.001"
    assert sel["grid"] == {"0.0005": 0.4, "0.001": 0.55, "0.002": 0.55, "0.005": 0.5}
    assert sel["criterion"] == "validation balanced accuracy (final stage-1 model)"
    assert rec["run"]["method"] == "wb" and rec["meta"]["run_id"] == "id0.001"     # the winner's identity
    assert (out / "model.pt").read_text() == "model.pt of id0.001"
    assert (out / "test_probs_best_val.npz").read_text() == "test_probs_best_val.npz of id0.001"


def test_selection_without_validation_scores_takes_the_fixed_default(tmp_path):
    from benchmark.engine.sweep import NO_VALIDATION, SweepError, select

    sweep = {"option": "weight_decay", "grid": GRID, "default": 0.005, "id_prefix": "wd"}
    dirs = []
    for wd in GRID:
        d = tmp_path / f"wb_wd{wd:g}" / "j" / "seed0"
        _candidate(d, wd, [None, None], f"id{wd:g}")
        dirs.append(d)
    sel = select(dirs, tmp_path / "wb", "wb", sweep)
    assert not sel["tuned"] and sel["chosen"] == 0.005 and sel["reason"] == NO_VALIDATION
    assert json.loads((tmp_path / "wb" / "metrics.json").read_text())["meta"]["run_id"] == "id0.005"
    with pytest.raises(SweepError, match="no candidate ran the fixed default"):
        select(dirs[:2], tmp_path / "wb2", "wb", sweep)


def test_run_record_of_a_wb_run_and_of_its_second_stage(tmp_path):
    from benchmark.engine.sweep import NO_VALIDATION, run_record

    assert run_record("ce", {}, False) is None
    assert run_record("wb", {}, False) == {"tuned": False, "option": "weight_decay", "chosen": 0.005,
                                           "reason": NO_VALIDATION}
    assert run_record("wb", {"weight_decay": 0.001}, False)["reason"] == "no validation split: value set in the config"
    assert "selection step" in run_record("wb", {"weight_decay": 0.001}, True)["reason"]
    (tmp_path / "metrics.json").write_text(json.dumps({"meta": {"stage1_selection": {"chosen": 0.002}}}))
    assert run_record("wb_stage2", {}, False, tmp_path) == {"chosen": 0.002}


@pytest.mark.slow
def test_workflow_runs_the_sweep_and_stage2_starts_from_the_selected_model(tmp_path):
    """Synthetic data declared with a validation split: 4 candidates, the selection step, wb_stage2."""
    tiny = tiny_config()
    ds = dict(tiny["datasets"]["synthetic"], validation=True, lt={"n_max": 4, "ratio": 2},
              options={"num_classes": 4, "train_per_class": 24, "test_per_class": 3, "seed": 1})
    cfg = dict(tiny, datasets={"synthetic": ds}, methods=["wb_stage2"], streams=["j"], ensembles={},
               experiment="sweep")
    snakemake([*LOCAL_RUN, "--configfile", write_config(tmp_path, cfg)], cwd=tmp_path, timeout=600)
    runs = tmp_path / "results" / "sweep" / "runs" / "synthetic_default_lt2" / "stgcnpp"
    wb = json.loads((runs / "wb" / "j" / "seed0" / "metrics.json").read_text())
    sel = wb["meta"]["stage1_selection"]
    assert sel["tuned"] and len(sel["grid"]) == 4 and wb["run"]["method"] == "wb"
    winner = json.loads((runs / sel["selected_run"] / "j" / "seed0" / "metrics.json").read_text())
    assert winner["meta"]["run_id"] == wb["meta"]["run_id"]
    s2 = json.loads((runs / "wb_stage2" / "j" / "seed0" / "metrics.json").read_text())
    assert s2["meta"]["identity"]["stage1_run_id"] == wb["meta"]["run_id"]
    assert s2["meta"]["stage1_selection"]["chosen"] == sel["chosen"]
    table = pd.read_csv(tmp_path / "results" / "sweep" / "tables" / "runs.csv")
    assert set(table["method"]) == {"wb", "wb_stage2"}                     # candidates are not result rows
    assert sorted(table["selection"]) == ["best_val", "best_val", "last", "last"]


def test_la_tau_is_swept_on_validation_like_wb(tmp_path):
    """LA's τ (a training option) is tuned on the validation split from {0.5, 1, 1.5, 2}: one
    candidate per value where the split has one, the fixed τ = 1 elsewhere; the selection step
    records the grid with its scores and the chosen τ."""
    import benchmark.workflow as bw
    from benchmark.engine.sweep import main
    from methods.la import SWEEP

    assert SWEEP["grid"] == [0.5, 1.0, 1.5, 2.0] and SWEEP["default"] == 1.0
    cfg = dict(_ntu_config(tmp_path), methods=["ce", "la"])
    trains = {r.rel for r in bw.runs(cfg)}
    assert {f"ntu60_xsub_lt100/stgcnpp/la_tau{v:g}/j/seed0" for v in SWEEP["grid"]} <= trains
    assert "ntu60_xsub_lt100/stgcnpp/la/j/seed0" not in trains
    assert "synthetic_default_lt4/stgcnpp/la/j/seed0" in trains           # no validation split: τ = 1
    assert bw.swept(cfg) == (["ntu60_xsub_lt100"], ["la"])
    assert json.loads(bw.run_spec(cfg, "ntu60_xsub_lt100", "stgcnpp", "la_tau1.5", "j", 0))["method_options"] == \
        {"tau": 1.5}
    dirs = []
    for tau, score in zip(SWEEP["grid"], (0.41, 0.44, 0.47, 0.45)):
        d = tmp_path / "runs" / f"la_tau{tau:g}" / "j" / "seed0"
        _candidate(d, tau, [0.1, score], f"la{tau:g}")
        rec = json.loads((d / "metrics.json").read_text())
        rec["meta"]["spec"]["method_options"] = {"tau": tau}
        (d / "metrics.json").write_text(json.dumps(rec))
        dirs.append(str(d))
    out = tmp_path / "runs" / "la" / "j" / "seed0"
    assert main(["--candidates", *dirs, "--out", str(out), "--method-id", "la", "--method-name", "la"]) == 0
    sel = json.loads((out / "metrics.json").read_text())["meta"]["stage1_selection"]
    assert sel["option"] == "tau" and sel["chosen"] == 1.5
    assert sel["grid"] == {"0.5": 0.41, "1.0": 0.44, "1.5": 0.47, "2.0": 0.45}
