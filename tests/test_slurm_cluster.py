"""The cluster path, run for real: the workflow through ``--profile profiles/slurm`` on a local
single-node SLURM cluster (tests/cluster/local_slurm.py), compared with a local run.

One SLURM run of a tiny config (two methods, one stream, four epochs) serves all slow tests:
every rule is a real ``sbatch`` job; while the ``ce`` training runs, the test pre-empts it
(``scontrol requeue`` after its first epoch checkpoint, as SLURM does when a higher-priority job
pre-empts with PreemptMode=REQUEUE) and the job must resume from its checkpoint. The same config
run locally is the reference: ``test_probs.npz`` must be bit-identical.

The daemons need Debian's ``slurm-wlm`` and ``munge`` and root (CI installs them, see .ci/run);
elsewhere the slow tests skip and say why. The fast tests check the profile and the cluster's
configuration text without daemons.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pandas as pd
import pytest
import yaml

from helpers import REPO, snakemake, snakemake_cmd, tiny_config

sys.path.insert(0, str(REPO / "tests" / "cluster"))
import local_slurm  # noqa: E402

from benchmark import slurm_site  # noqa: E402

PROFILE = REPO / "profiles" / "slurm" / "profile.yaml"
CONFIG_NAME = "cluster.yaml"  # same file name in both workdirs: same experiment name, same paths
# The training job's threads in the test profile. It must differ from the rule's default
# (threads: 2) to show that the profile's value got through, and must not exceed the machine's
# cores: inside a job Snakemake caps threads at the CPUs the job may use (its cpuset; on this
# cgroup-less test node, all of the machine's cores). 1 fits every CI machine.
TRAIN_THREADS = 1
TRAIN_MEM_MB = 1000
PREEMPT_METHOD = "ce"
# How the test pre-empts: "requeue" (scontrol requeue: SLURM restarts the job under the same id,
# as with PreemptMode=REQUEUE) or "scancel" (the job dies; Snakemake's retry submits it again).
PREEMPT_MODE = os.environ.get("LTBENCH_TEST_PREEMPT", "requeue")
EPOCHS = 4
RUN_TIMEOUT_S = 1200


# ----------------------------------------------------------------------------- fast checks

def test_profile_references_only_the_checked_site_variables():
    """Every $VARIABLE in profiles/slurm is one that the run checks before submitting."""
    used = slurm_site.referenced_variables(PROFILE.read_text())
    assert used, "profiles/slurm reads no site variable: update this test and benchmark/slurm_site.py"
    assert set(used) == set(slurm_site.SITE_VARIABLES), (used, list(slurm_site.SITE_VARIABLES))


def test_unset_site_values_stop_a_slurm_run_with_a_clear_message():
    with pytest.raises(slurm_site.SlurmSiteError) as e:
        slurm_site.check_site("slurm", environ={"LTBENCH_SLURM_ACCOUNT": ""})
    msg = str(e.value)
    assert "LTBENCH_SLURM_PARTITION" in msg and "export LTBENCH_SLURM_PARTITION=" in msg
    assert "LTBENCH_SLURM_ACCOUNT" not in msg  # set (empty = no account) is fine
    # set, even empty: accepted; other executors (local, the job step inside a job): not checked
    slurm_site.check_site("slurm", environ={"LTBENCH_SLURM_PARTITION": "gpu", "LTBENCH_SLURM_ACCOUNT": ""})
    slurm_site.check_site("slurm-jobstep", environ={})
    slurm_site.check_site(None, environ={})
    assert slurm_site.referenced_variables("a: $X  # $Y\nb: '${Z}/x'\nc: $X") == ["X", "Z"]


def test_training_cpus_follow_set_threads_in_the_profile():
    """The plugin asks for --cpus-per-task=<threads> unless a cpus_per_* resource overrides it;
    the profile must not set one, or the CPU request and the trainer's threads could differ."""
    prof = yaml.safe_load(PROFILE.read_text())
    train = prof["set-resources"]["train"]
    assert train["gpu"] == 1
    assert not {"cpus_per_gpu", "cpus_per_task"} & set(train), train
    assert int(prof["set-threads"]["train"]) >= 1
    assert "gres" not in train and "--gres" not in str(train.get("slurm_extra", ""))


def test_packed_training_jobs_ask_for_what_a_training_job_asks_for():
    """train_pack (the seeds of a run as one packed model, the default for seed tables) is a
    training job too: same GPU, threads, memory and runtime requests as train."""
    prof = yaml.safe_load(PROFILE.read_text())
    assert prof["set-resources"]["train_pack"] == prof["set-resources"]["train"], prof["set-resources"]
    assert prof["set-threads"]["train_pack"] == prof["set-threads"]["train"], prof["set-threads"]


def test_a_slurm_run_with_unset_site_values_stops_before_submitting(tmp_path):
    """The real profile, no LTBENCH_SLURM_* in the environment: one clear message, no sbatch."""
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install -e '.[slurm]' for the SLURM plugin")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "sbatch_calls"
    for name in ("sbatch", "squeue", "sacct", "scontrol", "sinfo", "sacctmgr", "sshare"):
        (bin_dir / name).write_text(f'#!/bin/sh\necho "{name} $*" >> {calls}\nexit 1\n')
        (bin_dir / name).chmod(0o755)
    (tmp_path / CONFIG_NAME).write_text(yaml.safe_dump(_config()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LTBENCH_SLURM_", "SLURM_"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(snakemake_cmd(["--profile", PROFILE.parent, "--configfile", CONFIG_NAME], tmp_path),
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "LTBENCH_SLURM_PARTITION" in out and "LTBENCH_SLURM_ACCOUNT" in out and "nothing was submitted" in out, out
    assert not calls.exists() or "sbatch" not in calls.read_text(), calls.read_text()
    assert not list(tmp_path.glob("results/**/*.npz"))


def test_local_cluster_configuration_text(tmp_path):
    spec = local_slurm.ClusterSpec(root=tmp_path, host="node1", user="root", cpus=4, memory_mb=8000, gpus=2,
                                   ctld_port=7001, slurmd_port=7002)
    conf = local_slurm.render_slurm_conf(spec)
    assert "NodeName=node1 NodeAddr=127.0.0.1 CPUs=4 RealMemory=8000 Gres=gpu:2" in conf
    assert "SlurmctldHost=node1(127.0.0.1)" in conf
    assert f"AuthInfo=socket={tmp_path / 'munge' / 'munge.socket'}" in conf
    assert "SlurmctldPort=7001" in conf and "SlurmdPort=7002" in conf
    # squeue-based job states need finished jobs kept longer than 3 status-check intervals
    assert int(re.search(r"MinJobAge=(\d+)", conf).group(1)) >= 600
    assert str(tmp_path) in re.search(r"StateSaveLocation=(\S+)", conf).group(1)
    gres = local_slurm.render_gres_conf(spec)
    assert "AutoDetect=off" in gres
    assert gres.count("Name=gpu File=") == 2 and f"File={tmp_path / 'dev' / 'nvidia1'}" in gres


# ----------------------------------------------------------------------------- helpers

def _config() -> dict:
    """tests/data/tiny.yaml cut to two methods, one stream, no ensemble, a smaller dataset and
    four epochs (enough to pre-empt one training mid-way)."""
    cfg = tiny_config()
    ds = cfg["datasets"]["synthetic"]
    ds["options"].update(num_classes=6, train_per_class=8, test_per_class=2)
    ds["lt"] = {"n_max": 8, "ratio": 2}
    cfg["methods"] = ["ce", "brl"]
    cfg["streams"] = ["j"]
    cfg["ensembles"] = {}
    cfg["schedule"].update(runner_epochs=EPOCHS, batch_size=8, clip_len=8, test_clips=1)
    return cfg


def _test_profile(dst: Path) -> Path:
    """profiles/slurm with the numbers scaled to a test node and the settings a database-less
    cluster needs. Everything else (executor, site variables, GPU request, retries) is the real
    profile's."""
    prof = yaml.safe_load(PROFILE.read_text())
    for key in ("default-resources", "set-resources", "set-threads", "latency-wait"):
        assert key in prof, f"profiles/slurm lost '{key}'; update {__file__}"
    prof["latency-wait"] = 5
    prof["default-resources"].update(runtime=10, mem_mb=500)
    for rule in ("train", "train_pack"):     # the two training rules ask for the same job
        prof["set-resources"][rule] = dict(prof["set-resources"][rule], runtime=20, mem_mb=TRAIN_MEM_MB)
        prof["set-threads"][rule] = TRAIN_THREADS
    # no slurmdbd here: job states from squeue (finished jobs stay MinJobAge = 1 h in squeue)
    prof["slurm-status-command"] = "squeue"
    prof["slurm-init-seconds-before-status-checks"] = 2
    prof["slurm-keep-successful-logs"] = True
    dst.mkdir(parents=True, exist_ok=True)
    (dst / "profile.yaml").write_text(yaml.safe_dump(prof, sort_keys=False))
    return dst


def _probs(workdir: Path) -> Dict[str, Dict[str, np.ndarray]]:
    """test_probs.npz of every run below results/, keyed by path relative to the workdir."""
    out = {}
    for f in sorted(workdir.glob("results/**/seed*/test_probs.npz")):
        with np.load(f) as z:
            out[str(f.relative_to(workdir))] = {k: z[k] for k in z.files}
    return out


_VOLATILE = re.compile(r"time|_per_s|seconds|hardware|device|code_version|path|host", re.I)


def _summary(workdir: Path) -> pd.DataFrame:
    files = sorted(workdir.glob("results/**/tables/summary.csv"))
    assert len(files) == 1, files
    df = pd.read_csv(files[0])
    return df[[c for c in df.columns if not _VOLATILE.search(c)]]


def _train_log(workdir: Path, method: str) -> Path:
    logs = [p for p in workdir.glob("logs/**/seed*.log") if "train" in p.parts and method in p.parts]
    assert len(logs) == 1, (method, logs)
    return logs[0]


def _scontrol_job(job_id: str, env: dict) -> Dict[str, str]:
    out = subprocess.run(["scontrol", "show", "job", "-o", job_id], env=env, capture_output=True, text=True,
                         check=True).stdout
    return dict(tok.split("=", 1) for tok in out.split() if "=" in tok)


@dataclass
class Preemption:
    job_id: Optional[str] = None
    after_epoch: Optional[int] = None
    error: Optional[str] = None
    events: List[str] = field(default_factory=list)


def _preempt(workdir: Path, env: dict, done: threading.Event, result: Preemption, timeout: float) -> None:
    """Requeue the PREEMPT_METHOD training job once its first epoch checkpoint exists."""
    deadline = time.time() + timeout
    log = None
    while time.time() < deadline and not done.is_set():
        logs = [p for p in workdir.glob("logs/**/seed*.log") if "train" in p.parts and PREEMPT_METHOD in p.parts]
        log = logs[0] if logs else None
        text = log.read_text(errors="replace") if log else ""
        epochs = [int(m) for m in re.findall(r"\[train\] epoch (\d+)/", text)]
        if epochs:
            if re.search(r"\[train\] \S+ \S+ \S+ \S+ seed\d+: top1", text):
                result.error = "the training finished before it could be pre-empted (machine too fast?)"
                return
            jobs = subprocess.run(["squeue", "-h", "-t", "R", "-o", "%i|%k"], env=env, capture_output=True,
                                  text=True).stdout.split()
            ids = [j.split("|")[0] for j in jobs
                   if j.split("|")[1].startswith("rule_train") and f"_{PREEMPT_METHOD}_" in j.split("|")[1]]
            if ids:
                result.job_id, result.after_epoch = ids[0], max(epochs)
                argv = ["scancel", ids[0]] if PREEMPT_MODE == "scancel" else ["scontrol", "requeue", ids[0]]
                p = subprocess.run(argv, env=env, capture_output=True, text=True)
                result.events.append(f"{' '.join(argv)} after epoch {max(epochs)}: rc={p.returncode} "
                                     f"{p.stderr.strip()}")
                if p.returncode != 0:
                    result.error = f"{' '.join(argv)} failed: {p.stderr}"
                    return
                if PREEMPT_MODE == "scancel":
                    return
                # SLURM holds a requeued job back (BeginTime = now + ~2 min, set once the killed
                # run has finished); a test need not wait that long: release it when it is held.
                while time.time() < deadline and not done.is_set():
                    q = subprocess.run(["squeue", "-h", "-j", ids[0], "-o", "%T|%r"], env=env, capture_output=True,
                                       text=True).stdout.strip()
                    if q.startswith("PENDING|BeginTime"):
                        subprocess.run(["scontrol", "update", f"JobId={ids[0]}", "StartTime=now"], env=env,
                                       capture_output=True, text=True)
                        result.events.append(f"scontrol update JobId={ids[0]} StartTime=now")
                    elif q.startswith(("RUNNING", "COMPLETED", "FAILED")):  # the second run
                        result.events.append(f"job {ids[0]}: {q}")
                        return
                    time.sleep(0.3)
                return
        time.sleep(0.1)
    if not done.is_set():
        result.error = f"no '{PREEMPT_METHOD}' training epoch seen in {timeout:.0f} s (log: {log})"


@dataclass
class SlurmRun:
    workdir: Path
    log: str
    env: dict
    preemption: Preemption


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install -e '.[slurm]' for the SLURM plugin")
    why = local_slurm.cannot_start()
    if why:
        pytest.skip(f"local SLURM cluster cannot start: {why}")
    try:
        c = local_slurm.LocalSlurm.start_new(root=tmp_path_factory.mktemp("slurm"), cpus=4, memory_mb=8000, gpus=2)
    except (local_slurm.ClusterError, OSError, subprocess.SubprocessError) as e:
        pytest.skip(f"local SLURM daemons did not start: {e}")
    yield c
    c.stop()


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory) -> Path:
    """The same config, run locally on the CPU with the same training threads."""
    wd = tmp_path_factory.mktemp("local")
    (wd / CONFIG_NAME).write_text(yaml.safe_dump(_config()))
    snakemake(["--configfile", CONFIG_NAME, "--cores", "2", "--resources", "gpu=0",
               "--set-threads", f"train={TRAIN_THREADS}"], cwd=wd, timeout=RUN_TIMEOUT_S)
    return wd


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory) -> SlurmRun:
    wd = tmp_path_factory.mktemp("cluster")
    (wd / CONFIG_NAME).write_text(yaml.safe_dump(_config()))
    prof = _test_profile(tmp_path_factory.mktemp("profile"))
    env = cluster.env()
    env["LTBENCH_SLURM_PARTITION"] = cluster.spec.partition
    env["LTBENCH_SLURM_ACCOUNT"] = ""  # no accounting database: submit without -A
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    cmd = snakemake_cmd(["--profile", prof, "--configfile", CONFIG_NAME, "--verbose"], wd)
    done, pre = threading.Event(), Preemption()
    watcher = threading.Thread(target=_preempt, args=(wd, env, done, pre, RUN_TIMEOUT_S), daemon=True)
    with open(wd / "snakemake.log", "w") as out:
        proc = subprocess.Popen(cmd, cwd=wd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        watcher.start()
        try:
            rc = proc.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(60)
            rc = "timeout"
        finally:
            done.set()
            watcher.join(10)
    log = (wd / "snakemake.log").read_text(errors="replace")
    if rc != 0:
        raise AssertionError(f"snakemake --profile slurm failed ({rc}):\n{log[-8000:]}" + cluster.log_tails())
    return SlurmRun(workdir=wd, log=log, env=env, preemption=pre)


# ----------------------------------------------------------------------------- slow tests

@pytest.mark.slow
def test_a_packed_training_job_asks_for_a_gpu_threads_and_memory(cluster, tmp_path_factory):
    """Two seeds packed into one train_pack job (one epoch), submitted to the cluster: its sbatch
    call and SLURM's allocation carry the training job's GPU, CPUs and memory."""
    wd = tmp_path_factory.mktemp("cluster_pack")
    cfg = _config()
    cfg.update(methods=["ce"], seeds=[0, 1], pack_seeds=True, experiment="pack")
    cfg["schedule"]["runner_epochs"] = 1
    (wd / CONFIG_NAME).write_text(yaml.safe_dump(cfg))
    prof = _test_profile(tmp_path_factory.mktemp("profile_pack"))
    env = cluster.env()
    env["LTBENCH_SLURM_PARTITION"] = cluster.spec.partition
    env["LTBENCH_SLURM_ACCOUNT"] = ""
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    target = "results/pack/packs/synthetic_default_lt2/stgcnpp/ce/j/seeds0-1"
    proc = subprocess.run([sys.executable, "-m", "snakemake", target, "--workflow-profile", "none", "--snakefile",
                           str(REPO / "Snakefile"), "--directory", str(wd), "--profile", str(prof),
                           "--configfile", CONFIG_NAME, "--verbose"], cwd=wd, env=env, capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-8000:] + cluster.log_tails()
    lines = [line for line in _sbatch_lines(log) if "--comment rule_train_pack_" in line]
    assert len(lines) == 1, _sbatch_lines(log)
    head = lines[0].split(" --wrap=")[0]
    assert "--gpus=1" in head and f"--cpus-per-task={TRAIN_THREADS}" in head, head
    assert f"--mem {TRAIN_MEM_MB}" in head and "--gres" not in head, head
    job_ids = [j for j, p in _submitted(log).items() if "rule_train_pack" in p]
    assert len(job_ids) == 1, _submitted(log)
    job = _scontrol_job(job_ids[0], env)
    assert job["JobState"] == "COMPLETED", job
    assert job.get("TresPerJob") == "gres:gpu:1" and f"cpu={TRAIN_THREADS}," in job["TRES"], job


def _sbatch_lines(log: str) -> List[str]:
    return [line.split("sbatch call: ", 1)[1] for line in log.splitlines() if "sbatch call: " in line]


def _submitted(log: str) -> Dict[str, str]:
    """SLURM job id -> slurm log path, from 'Job N has been submitted with SLURM jobid X (log: ...)'."""
    return dict(re.findall(r"submitted with SLURM jobid (\d+) \(log: ([^)]+)\)", log))


@pytest.mark.slow
def test_every_rule_runs_as_an_sbatch_job_with_the_profiles_resources(slurm_run, capsys):
    lines = _sbatch_lines(slurm_run.log)
    submitted = _submitted(slurm_run.log)
    train_ids = [j for j, p in submitted.items() if "rule_train" in p]
    with capsys.disabled():  # the evidence, in the test log
        print("\n[slurm] sbatch calls (command after --wrap cut):")
        for line in lines:
            print("  " + line.split(" --wrap=")[0])
        print("[slurm] job ids: " + ", ".join(f"{j} ({Path(p).parent.name}/{Path(p).parent.parent.name})"
                                              for j, p in submitted.items()))
    # every rule that is not a localrule (the workflow keeps the quick split/aggregate/report on
    # the submitting machine) went through sbatch, once
    cluster_rules = re.findall(r"^rule (\w+):", slurm_run.log, re.M)
    submitted_rules = [re.search(r"--comment rule_(\S+)", line).group(1).split("_wildcards")[0] for line in lines]
    assert sorted(submitted_rules) == sorted(cluster_rules), (submitted_rules, cluster_rules)
    assert len(lines) == len(submitted) and {"prepare", "train"} <= set(submitted_rules)
    assert all("$" not in line.split(" --wrap=")[0] for line in lines), "an unexpanded $VARIABLE reached sbatch"
    assert all(f"-p {slurm_run.env['LTBENCH_SLURM_PARTITION']}" in line for line in lines)
    train_lines = [line for line in lines if "--comment rule_train_" in line]
    retried = 1 if PREEMPT_MODE == "scancel" else 0  # the cancelled training is submitted again
    assert len(train_lines) == len(train_ids) == 2 + retried
    for line in train_lines:
        head = line.split(" --wrap=")[0]
        assert "--gpus=1" in head, head
        assert f"--cpus-per-task={TRAIN_THREADS}" in head, head
        assert f"--mem {TRAIN_MEM_MB}" in head, head
        assert "--gres" not in head
    for j in train_ids:  # what SLURM actually allocated
        job = _scontrol_job(j, slurm_run.env)
        assert job["JobState"] == ("CANCELLED" if j == slurm_run.preemption.job_id and retried else "COMPLETED"), job
        assert job.get("TresPerJob") == "gres:gpu:1" and f"cpu={TRAIN_THREADS}," in job["TRES"], job
    for other in (line for line in lines if "--comment rule_train_" not in line):
        assert "--gpus" not in other, other


@pytest.mark.slow
def test_the_trainer_got_the_profiles_threads_and_the_scheduler_gpu(slurm_run):
    for method in ("ce", "brl"):
        text = _train_log(slurm_run.workdir, method).read_text(errors="replace")
        assert f"[train] threads: --threads {TRAIN_THREADS}, torch intra-op threads {TRAIN_THREADS}" in text, text
        # the GPU slot wrapper saw the SLURM allocation and left the device choice to the scheduler
        assert re.search(r"SLURM job \d+: pass-through, CUDA_VISIBLE_DEVICES=[01] as set by the scheduler", text), text


@pytest.mark.slow
def test_results_equal_a_local_run_bit_for_bit(slurm_run, local_reference):
    got, ref = _probs(slurm_run.workdir), _probs(local_reference)
    assert len(ref) == 2 and sorted(got) == sorted(ref), (sorted(got), sorted(ref))
    for path in ref:
        assert sorted(got[path]) == sorted(ref[path]), path
        for key in ref[path]:
            assert np.array_equal(got[path][key], ref[path][key]), f"{path}:{key} differs from the local run"
    pd.testing.assert_frame_equal(_summary(slurm_run.workdir), _summary(local_reference))


@pytest.mark.slow
def test_a_preempted_training_resumes_from_its_checkpoint_and_ends_identical(slurm_run, local_reference):
    pre = slurm_run.preemption
    assert pre.error is None, f"{pre.error}; {pre.events}"
    assert pre.job_id and pre.after_epoch is not None and 1 <= pre.after_epoch < EPOCHS, pre
    job = _scontrol_job(pre.job_id, slurm_run.env)
    if PREEMPT_MODE == "scancel":
        assert job["JobState"] == "CANCELLED", job
        assert len([p for p in _submitted(slurm_run.log).values() if f"_{PREEMPT_METHOD}_" in p]) == 2
    else:
        assert job["Restarts"] == "1" and job["JobState"] == "COMPLETED", job
    text = _train_log(slurm_run.workdir, PREEMPT_METHOD).read_text(errors="replace")
    m = re.search(r"\[train\] resuming from \S+ after runner epoch (\d+)", text)
    assert m and 1 <= int(m.group(1)) < EPOCHS, text
    # the pre-empted run ends exactly where an uninterrupted local run ends
    got, ref = _probs(slurm_run.workdir), _probs(local_reference)
    path = [p for p in ref if f"/{PREEMPT_METHOD}/" in p]
    assert len(path) == 1
    for key in ref[path[0]]:
        assert np.array_equal(got[path[0]][key], ref[path[0]][key])
    metrics = json.loads(next(slurm_run.workdir.glob(f"results/**/{PREEMPT_METHOD}/*/seed*/metrics.json")).read_text())
    assert metrics["metrics"]["top1"] == json.loads(
        next(local_reference.glob(f"results/**/{PREEMPT_METHOD}/*/seed*/metrics.json")).read_text())["metrics"]["top1"]
