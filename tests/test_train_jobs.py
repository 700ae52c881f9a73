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


def test_every_run_in_exactly_one_job_packs_kept_together_and_balanced():
    cfg = demo_config(train_jobs=2)
    runs = bw.runs(cfg)
    packs = bw.pack_groups(cfg, runs)
    jobs = tj.plan(cfg, runs, packs)
    assert len(jobs) == 2 and all(j.endswith(("job1of2", "job2of2")) for j in jobs)
    rels = [rel for items in jobs.values() for item in items for rel in item]
    assert sorted(rels) == sorted(r.rel for r in runs)          # each run once
    for key, seeds in packs.items():                             # a packed group is one item
        assert any(item == tuple(f"{key}/seed{s}" for s in seeds) for items in jobs.values() for item in items)
    cost = [sum(tj.PACKED_SEED_COST * len(i) if len(i) > 1 else 1.0 for i in items) for items in jobs.values()]
    assert max(cost) - min(cost) <= 1.0
    assert tj.plan(cfg, runs, packs) == jobs                     # a pure function of the config
    src = tj.run_sources(jobs)
    assert set(src) == set(rels) and all(sub.count("/") == 2 for _, sub in src.values())


def test_stage2_methods_stay_separate_jobs():
    cfg = demo_config(train_jobs=2, methods=["ce", "crt"], tables={"t": {"streams": ["j"], "ensembles": []}})
    runs = bw.runs(cfg)
    jobs = tj.plan(cfg, runs, bw.pack_groups(cfg, runs))
    rels = [rel for items in jobs.values() for item in items for rel in item]
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
    tj.take_result(spec.to_json(), str(src), str(out), str(tmp_path / "log.txt"))
    assert all((out / n).read_bytes() == (src / n).read_bytes() for n in tj.RUN_FILES + ("metrics.json",))
    other = RunSpec(**{**spec.__dict__, "seed": 1})
    with pytest.raises(ValueError, match="another spec"):
        tj.take_result(other.to_json(), str(src), str(tmp_path / "x"))
    with pytest.raises(FileNotFoundError, match="no result"):
        tj.take_result(spec.to_json(), str(tmp_path / "nothing"), str(tmp_path / "y"))
