"""Multi-run training jobs (benchmark.train_jobs): the plan, the command line, the take step."""
import json

import pytest
import yaml

import benchmark.train_jobs as tj
import benchmark.workflow as bw
from benchmark.engine.config import RunSpec

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def demo_config(**over):
    cfg = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    cfg.update(over)
    cfg["experiment"] = "demo"
    return cfg


def test_off_by_default_and_bad_values_refused():
    cfg = demo_config(train_jobs=0)
    runs = bw.runs(cfg)
    assert tj.plan(cfg, runs, bw.pack_groups(cfg, runs)) == {}
    with pytest.raises(ValueError, match="train_jobs"):
        tj.job_count({"train_jobs": "two"})
    with pytest.raises(ValueError, match="train_jobs"):
        tj.job_count({"train_jobs": -1})


def test_every_run_listed_once_packs_kept_together_longest_first():
    cfg = demo_config(train_jobs=2, pack_seeds=True)
    runs = bw.runs(cfg)
    packs = bw.pack_groups(cfg, runs)
    work = tj.plan(cfg, runs, packs)
    assert list(work) == ["synthetic_default_lt10/stgcnpp"]
    items = work["synthetic_default_lt10/stgcnpp"]
    assert sorted(rel for item in items for rel in item) == sorted(r.rel for r in runs)     # each run once
    for key, seeds in packs.items():                             # a packed group is one item, first
        assert tuple(f"{key}/seed{s}" for s in seeds) in items[:len(packs)]
    assert tj.plan(cfg, runs, packs) == work                     # a pure function of the config
    assert tj.job_names(cfg, items) == ["job1of2", "job2of2"]
    assert tj.job_names(demo_config(train_jobs=5), items[:3]) == ["job1of3", "job2of3", "job3of3"]


def test_claims_give_each_item_to_one_job_and_take_over_dead_or_stale_ones(tmp_path):
    claims = tmp_path / "claims"
    assert tj.claim(claims, "a") is True
    assert tj.claim(claims, "a") is False                        # ours and running: nobody else's
    (claims / "b.claim").write_text(f"running {tj.socket.gethostname()} 999999999 -")
    assert tj.claim(claims, "b") is True                         # its process is gone: taken over
    result = tmp_path / "job1" / "ce" / "j" / "seed0"
    result.mkdir(parents=True)
    (result / "metrics.json").write_text("{}")
    tj.release(claims, "a", result)
    assert tj.claim(claims, "a") is False                        # done, its result still there
    (result / "metrics.json").unlink()
    assert tj.claim(claims, "a") is True                         # an earlier invocation's: trained again


def test_stage2_methods_stay_separate_jobs():
    cfg = demo_config(train_jobs=2, methods=["ce", "crt"], tables={"t": {"streams": ["j"], "ensembles": []}})
    runs = bw.runs(cfg)
    work = tj.plan(cfg, runs, bw.pack_groups(cfg, runs))
    rels = [rel for items in work.values() for item in items for rel in item]
    assert any("/ce/" in r for r in rels) and not any("/crt/" in r for r in rels)


def test_take_result_checks_the_spec_and_copies_metrics_last(tmp_path):
    spec = RunSpec(dataset="d", benchmark="b", split_id="s", backbone="stgcnpp", method="ce", method_id="ce",
                   stream="j", seed=0)
    src = tmp_path / "job" / "ce" / "j" / "seed0"
    src.mkdir(parents=True)
    for name in tj.RUN_FILES:
        (src / name).write_bytes(name.encode())
    (src / "metrics.json").write_text(json.dumps({"meta": {"spec": spec.to_dict()}}))
    out = tmp_path / "runs" / "s" / "stgcnpp" / "ce" / "j" / "seed0"
    tj.take_result(spec.to_json(), [str(tmp_path / "other" / "ce" / "j" / "seed0"), str(src)], str(out),
                   str(tmp_path / "log.txt"))
    assert all((out / n).read_bytes() == (src / n).read_bytes() for n in tj.RUN_FILES + ("metrics.json",))
    other = RunSpec(**{**spec.__dict__, "seed": 1})
    with pytest.raises(ValueError, match="another spec"):
        tj.take_result(other.to_json(), [str(src)], str(tmp_path / "x"))
    with pytest.raises(FileNotFoundError, match="left a result"):
        tj.take_result(spec.to_json(), [str(tmp_path / "nothing")], str(tmp_path / "y"))


@pytest.mark.slow
def test_tiny_workflow_with_multi_run_jobs(tmp_path):
    """train_jobs: 2 trains the tiny grid in two processes; every run lands in its usual folder with
    the spec it was planned with, and a second invocation has nothing to do. On one core the jobs
    run one after the other: the first trains every run and the second, finding nothing left, must
    still succeed (it once left no output folder and failed the workflow)."""
    import shutil

    from conftest import snakemake

    cfg = tmp_path / "tiny.yaml"
    shutil.copy(REPO / "tests" / "data" / "tiny.yaml", cfg)
    snakemake(["--cores", "1", "--resources", "gpu=0", "--configfile", str(cfg), "--config", "train_jobs=2",
               "--set-threads", "train_many=1"], cwd=tmp_path, timeout=1200)
    runs = tmp_path / "results" / "tiny" / "runs" / "synthetic_default_lt4" / "stgcnpp"
    for method in ("ce", "brl"):
        for stream in ("j", "b"):
            rec = json.loads((runs / method / stream / "seed0" / "metrics.json").read_text())
            assert rec["run"]["method"] == method and rec["run"]["stream"] == stream
            assert (runs / method / stream / "seed0" / "model.pt").exists()
    assert (runs / "brl" / "ens-2s" / "seed0" / "metrics.json").exists()
    assert not (tmp_path / "results" / "tiny" / "jobs" / "synthetic_default_lt4" / "stgcnpp" / "job1of2").exists()
    logs = list((tmp_path / "logs" / "tiny" / "train_many").rglob("*.log"))
    assert len(logs) == 2
    proc = snakemake(["-n", "--configfile", str(cfg), "--config", "train_jobs=2"], cwd=tmp_path)
    assert "Nothing to be done" in proc.stdout + proc.stderr
