"""The Snakemake workflow: lint, parse hygiene, config errors, dry runs, and a tiny end-to-end run."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from helpers import (LOCAL_RUN, REPO, SHARED_DATA, copy_project, job_counts, snakemake, snakemake_cmd, snakemake_env,
                     tiny_config, write_config)


def test_parse_time_modules_do_not_import_torch():
    code = ("import sys, benchmark, benchmark.workflow, methods, benchmark.graphs, benchmark.models;"
            "methods.method_index();"
            "assert 'torch' not in sys.modules, 'torch imported at parse time'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_lint_has_no_findings(tmp_path):
    proc = snakemake(["--lint"], cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("mutate,message", [
    (lambda c: c.update(methods=["ce", "no_such_method"]), "unknown method 'no_such_method'"),
    (lambda c: c["schedule"].update(batch_size="sixteen"), "batch_size"),
    (lambda c: c.update(seedz=[0]), "seedz"),
    (lambda c: c["datasets"].update(ucla={"source": "nw_ucla_json", "root": "/no/such/dir",
                                          "benchmarks": ["default"]}), "/no/such/dir"),
    (lambda c: c.update(experiment="../elsewhere"), "experiment"),
    (lambda c: c.update(experiment="data"), "experiment"),
    (lambda c: c["datasets"].update({"my data; rm": c["datasets"]["synthetic"]}), "my data; rm"),
    (lambda c: c["datasets"]["synthetic"].update(benchmarks=["x;y"]), "x;y"),
    (lambda c: c["schedule"].update(runner_epochs=0), "runner_epochs"),
])
def test_bad_config_stops_with_a_clear_message(tmp_path, mutate, message):
    cfg = tiny_config()
    mutate(cfg)
    proc = snakemake(["-n", "--configfile", str(write_config(tmp_path, cfg))], cwd=tmp_path, check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr


def test_demo_config_plans_without_arguments(tmp_path):
    """The embedded default plans from any folder (here an empty one, whatever the clone holds)."""
    proc = snakemake(["-n", "--quiet", "rules"], cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert "train" in out and "report" in out


@pytest.mark.slow
def test_tiny_end_to_end_run(tiny_workflow):
    """Synthetic data → split → train (2 methods × 2 streams) → ensemble → tables → report (the
    session's run of tests/data/tiny.yaml, conftest.tiny_workflow)."""
    workdir, cfg = tiny_workflow
    runs = workdir / "results" / "tiny" / "runs" / "synthetic_default_lt4" / "stgcnpp"
    for method in ("ce", "brl"):
        for stream in ("j", "b", "ens-2s"):
            assert (runs / method / stream / "seed0" / "metrics.json").exists(), (method, stream)
    assert (workdir / "results" / "splits" / "synthetic_default_lt4.txt").exists()
    html = (workdir / "reports" / "tiny" / "index.html").read_text()
    assert "<svg" in html and "brl" in html and "ce" in html
    # Nothing left to do: a second invocation plans no job.
    proc = snakemake(["-n", "--nolock", "--configfile", str(cfg)], cwd=workdir)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_nw_ucla_lt_split_as_explicit_target(tmp_path):
    """The split the workflow writes follows the protocol to the letter (same list on every machine)."""
    import hashlib

    root = SHARED_DATA / "nw_ucla"
    if not (root / "all_sqe").is_dir():
        pytest.skip(f"NW-UCLA data not found at {root} (it lives in ../shared/data beside the project)")
    # the target goes first: --configfile/--config take every following word as their values
    snakemake(["results/splits/nw_ucla_default_lt10.txt", "--cores", "2", "--configfile",
               str(REPO / "config" / "nw_ucla.yaml"), "--config", f"nw_ucla_root={root}"], cwd=tmp_path)
    names = (tmp_path / "results" / "splits" / "nw_ucla_default_lt10.txt").read_text().split()
    assert len(names) == 403
    assert hashlib.sha256("\n".join(names).encode()).hexdigest() == \
        "cf33b354a77e8f8493889ec2d207e25a2561a8bd002ff164b0f7bac058bf400f"
    counts = (tmp_path / "results" / "splits" / "nw_ucla_default_lt10_counts.csv").read_text().splitlines()
    assert [int(r.split(",")[2]) for r in counts[1:]] == [100, 77, 59, 46, 35, 27, 21, 16, 12, 10]


def _paper_config(tmp_path: Path) -> Path:
    """config/paper.yaml with its raw-data paths pointed at stand-ins, so the whole grid can be
    planned on any machine (a dry run reads no data; the official lists ship with the package)."""
    cfg = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    for ds_id, d in cfg["datasets"].items():
        root = tmp_path / "raw" / ds_id
        root.mkdir(parents=True, exist_ok=True)
        d["root"] = str(root)
    return write_config(tmp_path, cfg)


def test_paper_grid_plans_in_seconds_with_the_expected_jobs(tmp_path):
    import time

    import benchmark.workflow as bw

    cfg_path = _paper_config(tmp_path)
    cfg = yaml.safe_load(cfg_path.read_text())
    t0 = time.time()
    proc = snakemake(["-n", "--quiet", "rules", "--configfile", str(cfg_path)], cwd=tmp_path)
    elapsed = time.time() - t0
    counts = job_counts(proc.stdout + proc.stderr)
    expected_train = len(bw.runs(cfg))
    assert counts["train"] == expected_train
    assert counts["ensemble"] == len(bw.ensemble_targets(cfg))
    assert counts["prepare"] == 4 and counts["split"] == 6
    # 3 seeds of every table; the demo's synthetic dataset never leaks into a user config.
    assert expected_train % 3 == 0 and expected_train > 400
    assert "synthetic" not in proc.stdout + proc.stderr
    assert elapsed < 60, f"planning the paper grid took {elapsed:.0f} s"


def test_paper_grid_subset_from_the_command_line(tmp_path):
    cfg_path = _paper_config(tmp_path)
    proc = snakemake(["-n", "--quiet", "rules", "--configfile", str(cfg_path), "--config", "select_tables=III"],
                     cwd=tmp_path)
    counts = job_counts(proc.stdout + proc.stderr)
    # Table III: 14 methods (12 baselines, BRL, BRL official) x 2 splits x joint stream x 3 seeds
    assert counts["train"] == 14 * 2 * 3
    assert "ensemble" not in counts


def test_slurm_profile_plans_without_a_cluster(tmp_path):
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install -e '.[slurm]' for the SLURM plugin")
    cfg = tiny_config()
    proc = snakemake(["-n", "--profile", str(REPO / "profiles" / "slurm"), "--configfile", str(write_config(tmp_path, cfg))],
                     cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert "rule train" in out and "gpu=1" in out


def test_a_new_method_file_joins_the_workflow_without_other_edits(tmp_path):
    """Copy the project, drop one method file into methods/, and the plan contains its runs."""
    copy = copy_project(tmp_path / "project")
    (copy / "methods" / "smooth_ce.py").write_text(
        '"""Label-smoothed cross-entropy (a test method)."""\n'
        "import torch.nn.functional as F\n"
        "from methods import register_method\n"
        "from methods._base import Method\n\n"
        'NAME = "smooth_ce"\nVERSION = "1"\nDESCRIPTION = "CE with label smoothing 0.1"\nPAPER = "test"\n\n\n'
        "@register_method\n"
        "class SmoothCE(Method):\n"
        "    def loss(self, logits, targets, step):\n"
        "        return F.cross_entropy(logits, targets.y_a, label_smoothing=0.1)\n")
    cfg = tiny_config()
    cfg["methods"] = ["ce", "smooth_ce"]
    cfg["streams"] = ["j"]
    cfg["ensembles"] = {}
    cfg_path = write_config(tmp_path, cfg)
    proc = snakemake(["-n", "--configfile", cfg_path], cwd=tmp_path, project=copy)
    assert "stgcnpp/smooth_ce/j/seed0/metrics.json" in proc.stdout
    # and it trains through the workflow, from the copy's registry
    target = "results/cfg/runs/synthetic_default_lt4/stgcnpp/smooth_ce/j/seed0/metrics.json"
    snakemake([target, *LOCAL_RUN, "--configfile", cfg_path], cwd=tmp_path, project=copy)
    record = json.loads((tmp_path / target).read_text())
    assert record["run"]["method"] == "smooth_ce" and 0.0 <= record["metrics"]["top1"] <= 1.0
    env = snakemake_env(copy)
    listing = subprocess.run([sys.executable, "-m", "benchmark", "methods"], cwd=copy, env=env,
                             capture_output=True, text=True, check=True).stdout
    assert "smooth_ce" in listing


def test_killed_training_resumes_from_its_checkpoint(tmp_path):
    """Interrupt the workflow during training (as Ctrl-C does), run it again: the trainer resumes
    from the last epoch checkpoint instead of starting over (docs/workflow.md)."""
    cfg = tiny_config(methods=["ce"], streams=["j"], ensembles={})
    cfg["schedule"].update(runner_epochs=6)         # time to interrupt between the first checkpoint and the end
    cfg_path = write_config(tmp_path, cfg)
    env = snakemake_env()
    run = "synthetic_default_lt4/stgcnpp/ce/j/seed0"
    # the run's own result is the target: the interruption and the resume are the train job's
    cmd = snakemake_cmd([f"results/cfg/runs/{run}/metrics.json", "--cores", "1", "--resources", "gpu=0",
                         "--configfile", cfg_path], tmp_path)
    ckpt = tmp_path / "results" / "cfg" / "ckpt" / run / "last.pt"
    # Ctrl-C's default action in the workflow even where this test runs as a background job (a shell
    # starts those with SIGINT ignored, and every child would inherit that: the run would never stop)
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 600
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert ckpt.exists(), "no checkpoint was written"
    os.killpg(proc.pid, signal.SIGINT)          # Ctrl-C reaches the whole process group
    proc.wait(timeout=120)
    metrics = tmp_path / "results" / "cfg" / "runs" / run / "metrics.json"
    if metrics.exists():
        pytest.skip("the run finished before it could be interrupted")
    done = subprocess.run(cmd + ["--rerun-incomplete"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    log = (tmp_path / "logs" / "cfg" / "train" / f"{run}.log").read_text()
    assert "resuming from" in log
    assert metrics.exists()


def test_shell_values_are_quoted(tmp_path):
    """A path with a space and a ';' reaches the command as one word, not as a second command."""
    cfg = tiny_config()
    odd = tmp_path / "my lists; touch pwned" / "list.txt"
    odd.parent.mkdir()
    odd.write_text("x\n")
    cfg["datasets"]["synthetic"]["lt"]["split_list"] = {"default": str(odd)}
    proc = snakemake(["results/splits/synthetic_default_lt4.txt", "-n", "-p", "--configfile",
                      str(write_config(tmp_path, cfg))], cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert f"--split-list '{odd}'" in out, out[-3000:]


def test_experiment_defaults_to_the_config_name_and_can_be_set(tmp_path):
    cfg_path = tmp_path / "my_study.yaml"
    cfg_path.write_text(yaml.safe_dump(tiny_config()))
    out = snakemake(["-n", "--configfile", str(cfg_path)], cwd=tmp_path).stdout
    assert "results/my_study/runs/synthetic_default_lt4/" in out and "reports/my_study" in out
    out = snakemake(["-n", "--configfile", str(cfg_path), "--config", "experiment=other"], cwd=tmp_path).stdout
    assert "results/other/runs/" in out and "results/my_study/" not in out


@pytest.mark.slow
def test_seeds_train_as_one_packed_job_with_unchanged_result_paths(tmp_path):
    """pack_seeds (default auto: ST-GCN++ at small width): the seeds of a run train in one packed
    job, each seed's own train job takes its result from there, the paths are those of separate
    runs, and the temporary pack folder is gone at the end. pack_seeds: false plans no packed job."""
    cfg = tiny_config(methods=["ce"], streams=["j"], ensembles={}, seeds=[0, 1])
    cfg_path = write_config(tmp_path, cfg)
    off = snakemake(["-n", "--configfile", str(cfg_path), "--config", "pack_seeds=false"], cwd=tmp_path).stdout
    assert "train_pack" not in off
    snakemake([*LOCAL_RUN, "--configfile", cfg_path], cwd=tmp_path, timeout=1200)
    runs = tmp_path / "results" / "cfg" / "runs" / "synthetic_default_lt4" / "stgcnpp" / "ce" / "j"
    ids = set()
    for seed in (0, 1):
        rec = json.loads((runs / f"seed{seed}" / "metrics.json").read_text())
        assert rec["run"]["seed"] == seed and rec["meta"]["packed"]["seeds"] == [0, 1]
        ids.add(rec["meta"]["run_id"])
        log = (tmp_path / "logs" / "cfg" / "train" / "synthetic_default_lt4" / "stgcnpp" / "ce" / "j"
               / f"seed{seed}.log").read_text()
        assert "result taken from the packed job" in log
        assert (runs / f"seed{seed}" / "test_probs.npz").exists() and (runs / f"seed{seed}" / "model.pt").exists()
    assert len(ids) == 2
    assert not (tmp_path / "results" / "cfg" / "packs" / "synthetic_default_lt4" / "stgcnpp" / "ce" / "j"
                / "seeds0-1").exists()
    proc = snakemake(["-n", "--configfile", str(cfg_path)], cwd=tmp_path)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_gpu_jobs_per_device_reaches_the_slot_allocator(tmp_path):
    cfg_path = write_config(tmp_path, tiny_config())
    shared = snakemake(["-n", "-p", "--configfile", str(cfg_path), "--config", "gpu_jobs_per_device=2"],
                       cwd=tmp_path).stdout
    assert "python -m benchmark.gpu_slot --n 1 --share 2 --log" in shared
    alone = snakemake(["-n", "-p", "--configfile", str(cfg_path)], cwd=tmp_path).stdout
    assert "--share" not in alone and re.search(r"python -m benchmark.gpu_slot --n 1\s+--log", alone)
