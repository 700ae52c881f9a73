"""The reference tree: runs are admitted only when their metrics recompute from their
probabilities, every stored run is re-checked (metrics, and its run_id under today's code), and
unfinished runs' checkpoints move between machines through reference/in_progress."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

import benchmark.workflow as bw
from benchmark import reference
from benchmark.engine.config import RunSpec
from benchmark.engine.train import train_run

pytestmark = pytest.mark.usefixtures("single_torch_thread")
ROOT = Path(__file__).resolve().parents[1]

CONFIG = {
    "datasets": {"tiny": {"source": "synthetic", "benchmarks": ["default"], "lt": {"ratio": "natural"}}},
    "backbones": [{"name": "stgcnpp", "base_channels": 8}],
    "methods": ["ce"], "streams": ["j"], "seeds": [0],
    "schedule": {"runner_epochs": 2, "repeat": 1, "batch_size": 16, "clip_len": 8, "test_clips": 2,
                 "eval_batch_size": 32, "precision": "fp32"},
}


@pytest.fixture
def finished_run(tiny_dataset, tmp_path):
    """A tiny finished run whose spec is the one a config file plans (so its run_id can be re-derived)."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "tiny.yaml").write_text(yaml.safe_dump(CONFIG))
    run = bw.runs(CONFIG)[0]
    spec = RunSpec.from_json(bw.run_spec(CONFIG, run.split.split_id, run.backbone, run.method.id, run.stream, run.seed,
                                         use_gpu=False))
    out = tmp_path / "results" / "tiny" / "runs" / run.rel
    train_run(spec, tiny_dataset, None, out, tmp_path / "ckpt", progress=False)
    return tmp_path, out


def test_add_then_check_is_current(finished_run):
    repo, run_dir = finished_run
    dest = reference.add_run(run_dir, "config/tiny.yaml", root=repo / "reference", repo=repo)
    assert sorted(p.name for p in dest.iterdir()) == ["epochs.csv", "metrics.json", "provenance.json",
                                                     "test_probs.npz"]
    prov = json.loads((dest / "provenance.json").read_text())
    assert prov["precision"] == "fp32" and prov["threads"] >= 1 and prov["cpu_model"] and prov["run_id"]
    assert reference.recompute_problems(dest) == []
    record = json.loads((dest / "metrics.json").read_text())
    assert reference.identity_today(record, prov, repo=repo).describe() == "current"


def test_a_version_bump_shows_as_an_older_reference(finished_run, monkeypatch):
    repo, run_dir = finished_run
    dest = reference.add_run(run_dir, "config/tiny.yaml", root=repo / "reference", repo=repo)
    monkeypatch.setattr(bw.versions, "ENGINE_VERSION", "999")
    check = reference.identity_today(json.loads((dest / "metrics.json").read_text()),
                                     json.loads((dest / "provenance.json").read_text()), repo=repo)
    assert not check.current
    assert "reference from an older version" in check.describe() and "versions.engine" in check.describe()


def test_a_run_whose_metrics_do_not_recompute_is_refused(finished_run):
    repo, run_dir = finished_run
    with np.load(run_dir / "test_probs.npz") as z:
        arrays = dict(z)
    perfect = np.eye(arrays["probs"].shape[1], dtype=np.float32)[arrays["labels"]]
    assert not np.array_equal(arrays["probs"].argmax(1), arrays["labels"])
    arrays["probs"] = perfect                                       # other predictions, same shape
    np.savez(run_dir / "test_probs.npz", **arrays)
    with pytest.raises(reference.ReferenceError, match="do not recompute.*last: balanced_acc recorded"):
        reference.add_run(run_dir, "config/tiny.yaml", root=repo / "reference", repo=repo)
    assert not (repo / "reference").exists()


def test_stash_and_restore_move_an_unfinished_run(tiny_dataset, tmp_path):
    spec = RunSpec.from_json(bw.run_spec(CONFIG, *_cell(), use_gpu=False))
    results = tmp_path / "results"
    rel = Path("tiny_default_natural/stgcnpp/ce/j/seed0")
    ckpt = results / "tiny" / "ckpt" / rel
    train_run(spec, tiny_dataset, None, tmp_path / "o", ckpt, progress=False, stop_after_epochs=1)
    stashed = reference.stash("tiny", results=results, root=tmp_path / "reference")
    assert stashed == [tmp_path / "reference" / "in_progress" / "tiny" / rel]
    status = json.loads((stashed[0] / "status.json").read_text())
    assert status["epochs_done"] == 1 and status["run_id"]
    shutil.rmtree(results)                                        # a new machine: nothing local
    restored = reference.restore("tiny", results=results, root=tmp_path / "reference")
    assert restored == [ckpt / "last.pt"]
    rec = train_run(spec, tiny_dataset, None, tmp_path / "o", ckpt, progress=False)   # resumes, finishes
    assert rec["meta"]["run_id"] == status["run_id"]
    whole = train_run(spec, tiny_dataset, None, tmp_path / "w", tmp_path / "wc", progress=False)
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "test_probs.npz")["probs"],
                                  np.load(tmp_path / "w" / "test_probs.npz")["probs"])
    # once finished, the next stash drops the in-progress copy
    (results / "tiny" / "runs" / rel).mkdir(parents=True)
    (results / "tiny" / "runs" / rel / "metrics.json").write_text("{}")
    reference.stash("tiny", results=results, root=tmp_path / "reference")
    assert not (tmp_path / "reference" / "in_progress" / "tiny" / rel).exists()


def _cell():
    run = bw.runs(CONFIG)[0]
    return run.split.split_id, run.backbone, run.method.id, run.stream, run.seed


@pytest.mark.skipif(not any(reference.reference_runs()), reason="reference/ holds no finished run yet")
@pytest.mark.parametrize("run_dir", list(reference.reference_runs()), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_reference_run_recomputes_and_names_its_version(run_dir):
    assert reference.recompute_problems(run_dir) == []
    record = json.loads((run_dir / "metrics.json").read_text())
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["run_id"] == record["meta"]["run_id"]
    check = reference.identity_today(record, prov)
    # a changed code version shows as an older reference, never silently as current
    assert check.current == (check.today == record["meta"]["run_id"])


def test_the_report_shows_the_reference_beside_ours(finished_run):
    """'yours / this suite's reference / paper': a report over runs of a cell that reference/ holds
    gets a reference column with the reference's value and provenance."""
    from benchmark.report.render import ReportInputs, render_report

    repo, run_dir = finished_run
    ref = reference.add_run(run_dir, "config/tiny.yaml", root=repo / "reference", repo=repo)
    top1 = json.loads((ref / "metrics.json").read_text())["metrics"]["top1"]
    index = reference.ReferenceIndex(repo / "reference")
    hit = index.lookup("tiny_default_natural", "stgcnpp", "ce", "j")
    assert hit is not None and hit.current and hit.seeds == [0] and hit.value == pytest.approx(top1)
    render_report(ReportInputs(runs_root=repo / "results" / "tiny" / "runs", out=repo / "report",
                               reference=repo / "reference", n_resamples=200))
    html = (repo / "report" / "index.html").read_text()
    assert "reference top-1" in html and f"{100 * top1:.1f}" in html and "this suite&#39;s reference" in html
    # no reference for the cells of a report: no column
    render_report(ReportInputs(runs_root=repo / "results" / "tiny" / "runs", out=repo / "report2",
                               reference=repo / "nothing", n_resamples=200))
    assert "reference top-1" not in (repo / "report2" / "index.html").read_text()


def test_readme_reproduction_tables_are_the_commands_output():
    """Nothing in the README's reproduction table is typed: each block equals what
    'python -m benchmark.reference table --experiment EXP' prints from reference/."""
    import re

    text = (ROOT / "README.md").read_text()
    experiments = re.findall(r"<!-- reference-table:(\S+) ", text)
    assert experiments, "README.md has no reference-table block"
    for exp in experiments:
        start = reference.README_START.format(experiment=exp)
        end = reference.README_END.format(experiment=exp)
        block = text[text.index(start):text.index(end) + len(end)]
        assert block == reference.readme_block(exp), \
            f"README.md's table for {exp} is stale: run python -m benchmark.reference table --experiment {exp} --write-readme"
