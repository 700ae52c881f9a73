"""Tests of the GPU slot allocator (benchmark/gpu_slot.py; docs/workflow.md).

Fake GPU ids and a private lock directory: nothing here touches CUDA or a real GPU.
"""
from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark import gpu_slot as gs

REPO = Path(__file__).resolve().parents[1]

SLEEPER = """
import json, os, sys, time
out, dur = sys.argv[1], float(sys.argv[2])
start = time.time()
if len(sys.argv) > 3:                       # announce that the lock is held, then keep it
    with open(sys.argv[3], "w") as f:
        f.write(str(os.getpid()))
time.sleep(dur)
record = {"ids": os.environ.get("CUDA_VISIBLE_DEVICES"), "order": os.environ.get("CUDA_DEVICE_ORDER"),
          "start": start, "end": time.time(), "pid": os.getpid()}
with open(out, "w") as f:
    json.dump(record, f)
"""

ENV_DUMP = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"


@pytest.fixture
def env(tmp_path):
    e = {k: v for k, v in os.environ.items()
         if k not in ("SLURM_JOB_ID", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", gs.ENV_IDS, gs.ENV_LOCK_DIR,
                     gs.ENV_SHARE)}
    e[gs.ENV_LOCK_DIR] = str(tmp_path / "locks")
    return e


@pytest.fixture
def sleeper(tmp_path):
    path = tmp_path / "sleeper.py"
    path.write_text(SLEEPER)
    return str(path)


def _slot(n, command, env, log=None, share=None):
    args = [sys.executable, "-m", "benchmark.gpu_slot", "--n", str(n)]
    if log:
        args += ["--log", str(log)]
    if share is not None:
        args += ["--share", str(share)]
    return subprocess.Popen(args + ["--"] + list(command), env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(procs, timeout=60):
    for p in procs:
        _, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, err


def _assert_no_overlap(records):
    by_id = {}
    for r in records:
        for gpu in r["ids"].split(","):
            by_id.setdefault(gpu, []).append((r["start"], r["end"]))
    for gpu, spans in by_id.items():
        spans.sort()
        for (s0, e0), (s1, e1) in zip(spans, spans[1:]):
            assert e0 <= s1, f"two jobs overlapped on GPU id {gpu}: {spans}"
    return by_id


# ------------------------------------------------------------------------------ pool & paths

def test_pool_preference_order():
    smi = lambda: ["0", "1", "2"]                                          # noqa: E731
    assert gs.gpu_pool({gs.ENV_IDS: " a, b ,", "CUDA_VISIBLE_DEVICES": "3"}, smi) == (["a", "b"], gs.ENV_IDS)
    assert gs.gpu_pool({gs.ENV_IDS: "", "CUDA_VISIBLE_DEVICES": "3,GPU-9f"}, smi) == \
        (["3", "GPU-9f"], "CUDA_VISIBLE_DEVICES")
    assert gs.gpu_pool({"CUDA_VISIBLE_DEVICES": ""}, smi) == ([], "CUDA_VISIBLE_DEVICES")  # hidden GPUs
    assert gs.gpu_pool({}, smi) == (["0", "1", "2"], "nvidia-smi")
    assert gs.gpu_pool({}, lambda: []) == ([], "nvidia-smi")


def test_lock_dir_and_paths(tmp_path):
    assert gs.lock_dir({gs.ENV_LOCK_DIR: "/x/y"}) == Path("/x/y")
    assert gs.lock_dir({"XDG_RUNTIME_DIR": "/run/user/7"}) == Path(f"/run/user/7/ltbench-gpu-{os.getuid()}")
    assert gs.lock_dir({}) == Path(f"/tmp/ltbench-gpu-{os.getuid()}")
    assert gs.lock_path(tmp_path, "0") == tmp_path / "gpu0.lock"
    mig = gs.lock_path(tmp_path, "MIG-GPU-1234/1/0")
    assert mig.parent == tmp_path and "/" not in mig.name and mig.name.startswith("gpuMIG-GPU-1234_1_0-")
    assert mig != gs.lock_path(tmp_path, "MIG-GPU-1234_1_0")


def test_try_acquire_is_all_or_nothing(tmp_path):
    fd = os.open(gs.lock_path(tmp_path, "b"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)                         # someone holds "b"
    try:
        assert gs.try_acquire(["a", "b"], 2, tmp_path) is None
        one = gs.try_acquire(["a", "b"], 1, tmp_path)                      # "a" was given back
        assert one is not None and one.ids == ["a"]
        assert gs.try_acquire(["a", "b"], 1, tmp_path) is None            # now both are taken
        one.release()
        assert gs.try_acquire(["a", "b"], 1, tmp_path).ids == ["a"]
    finally:
        os.close(fd)


def test_acquire_rejects_impossible_requests(tmp_path):
    with pytest.raises(gs.GpuSlotError, match="needs 3 GPU"):
        gs.acquire(3, ["a", "b"], tmp_path)
    with pytest.raises(gs.GpuSlotError, match="twice"):
        gs.acquire(1, ["a", "a"], tmp_path)


def test_acquire_retries_with_random_delay(tmp_path):
    held = gs.try_acquire(["a"], 1, tmp_path)
    delays = []

    def fake_sleep(d):
        delays.append(d)
        if len(delays) == 3:
            held.release()                                                 # freed while waiting

    lease = gs.acquire(1, ["a"], tmp_path, sleep=fake_sleep)
    assert lease.ids == ["a"] and len(delays) == 3
    assert all(0.2 <= d <= 0.5 for d in delays)
    lease.release()


def test_module_does_not_import_torch():
    code = "import sys, benchmark.gpu_slot; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


# ------------------------------------------------------------------------------ the wrapper

def test_concurrent_single_gpu_jobs_never_share_an_id(tmp_path, env, sleeper):
    env[gs.ENV_IDS] = "a,b"
    log = tmp_path / "logs" / "job.log"
    outs = [tmp_path / f"out{i}.json" for i in range(5)]
    procs = [_slot(1, [sys.executable, sleeper, str(o), "0.3"], env, log) for o in outs]
    _finish(procs)
    records = [json.loads(o.read_text()) for o in outs]
    by_id = _assert_no_overlap(records)
    assert set(by_id) <= {"a", "b"}
    assert all(r["order"] == "PCI_BUS_ID" for r in records)
    # exec: the command runs in the allocator's own process (it holds the locks)
    assert sorted(r["pid"] for r in records) == sorted(p.pid for p in procs)
    text = log.read_text()
    assert text.count("leased GPU id(s)") == 5


def test_two_gpu_and_one_gpu_jobs_mix(tmp_path, env, sleeper):
    env[gs.ENV_IDS] = "a,b"
    jobs = [2, 1, 2, 1, 1]
    outs = [tmp_path / f"mix{i}.json" for i in range(len(jobs))]
    procs = [_slot(n, [sys.executable, sleeper, str(o), "0.25"], env) for n, o in zip(jobs, outs)]
    _finish(procs)
    records = [json.loads(o.read_text()) for o in outs]
    for n, r in zip(jobs, records):
        ids = r["ids"].split(",")
        assert len(ids) == n and len(set(ids)) == n and set(ids) <= {"a", "b"}
    _assert_no_overlap(records)


def test_kill_9_releases_the_gpu(tmp_path, env, sleeper):
    env[gs.ENV_IDS] = "a"
    ready = tmp_path / "ready"
    holder = _slot(1, [sys.executable, sleeper, str(tmp_path / "h.json"), "60", str(ready)], env)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() or not ready.read_text():
            assert holder.poll() is None, holder.communicate()[1]
            assert time.monotonic() < deadline, "holder never started"
            time.sleep(0.05)
        assert int(ready.read_text()) == holder.pid                       # exec-ed, not a child
        lock = gs.lock_path(Path(env[gs.ENV_LOCK_DIR]), "a")
        assert "pid" in lock.read_text()                                   # owner note for humans
        fd = os.open(lock, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            waiter_out = tmp_path / "w.json"
            waiter = _slot(1, [sys.executable, sleeper, str(waiter_out), "0"], env)
            time.sleep(0.3)
            assert waiter.poll() is None                                   # still waiting for "a"
            killed_at = time.time()
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait(timeout=10)
            _finish([waiter])
            assert json.loads(waiter_out.read_text())["start"] >= killed_at
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)                 # free again
        finally:
            os.close(fd)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_n0_runs_on_cpu(tmp_path, env):
    env[gs.ENV_IDS] = "a,b"
    env["CUDA_VISIBLE_DEVICES"] = "0"
    out = tmp_path / "env.json"
    _finish([_slot(0, [sys.executable, "-c", ENV_DUMP, str(out)], env)])
    assert json.loads(out.read_text())["CUDA_VISIBLE_DEVICES"] == ""
    assert not Path(env[gs.ENV_LOCK_DIR]).exists()                         # nothing leased


def test_slurm_pass_through_leaves_environment_unchanged(tmp_path, env):
    env.update({"SLURM_JOB_ID": "4242", "CUDA_VISIBLE_DEVICES": "0", gs.ENV_IDS: "a,b"})
    out = tmp_path / "env.json"
    _finish([_slot(1, [sys.executable, "-c", ENV_DUMP, str(out)], env)])
    assert json.loads(out.read_text()) == env
    assert not Path(env[gs.ENV_LOCK_DIR]).exists()


def test_empty_pool_runs_unchanged_on_cpu(tmp_path, env):
    empty = tmp_path / "bin"
    empty.mkdir()
    env["PATH"] = str(empty)                                               # no nvidia-smi
    out, log = tmp_path / "env.json", tmp_path / "cpu.log"
    _finish([_slot(1, [sys.executable, "-c", ENV_DUMP, str(out)], env, log)])
    assert json.loads(out.read_text()) == env
    assert "no GPUs found" in log.read_text()


def test_pool_from_nvidia_smi(tmp_path, env):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    smi = bindir / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 0\necho 1\n")
    smi.chmod(0o755)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    out = tmp_path / "env.json"
    _finish([_slot(2, [sys.executable, "-c", ENV_DUMP, str(out)], env)])
    got = json.loads(out.read_text())
    assert got["CUDA_VISIBLE_DEVICES"] == "0,1" and got["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"


def test_too_many_gpus_is_a_clear_error(tmp_path, env):
    env[gs.ENV_IDS] = "a"
    p = _slot(2, [sys.executable, "-c", "pass"], env)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 2 and "needs 2 GPU(s) but the pool has only 1" in err


def test_usage_errors(env):
    p = subprocess.run([sys.executable, "-m", "benchmark.gpu_slot", "--n", "1", "python"], env=env,
                       cwd=REPO, capture_output=True, text=True)
    assert p.returncode != 0 and "'--'" in p.stderr
    p = subprocess.run([sys.executable, "-m", "benchmark.gpu_slot", "--n", "1", "--"], env=env,
                       cwd=REPO, capture_output=True, text=True)
    assert p.returncode != 0 and "no command" in p.stderr


# ------------------------------------------------------------------------------ sharing (--share K)

BARRIER = """
import json, os, sys, time
out, folder, parties = sys.argv[1], sys.argv[2], int(sys.argv[3])
start = time.time()
open(os.path.join(folder, str(os.getpid())), "w").close()
deadline = time.time() + 30
while len(os.listdir(folder)) < parties:     # proceed only once all parties run at the same time
    if time.time() > deadline:
        sys.exit("barrier: the other jobs never ran alongside this one")
    time.sleep(0.02)
json.dump({"ids": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start, "pid": os.getpid()}, open(out, "w"))
"""


def _wait_ready(proc, ready, timeout=30):
    deadline = time.monotonic() + timeout
    while not ready.exists() or not ready.read_text():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "job never started"
        time.sleep(0.05)
    return int(ready.read_text())


def _names(directory):
    return sorted(p.name for p in Path(directory).iterdir())


def test_slot_path_names(tmp_path):
    assert gs.slot_path(tmp_path, "0", 1) == tmp_path / "gpu0.slot1.lock"
    mig = gs.slot_path(tmp_path, "MIG-GPU-1234/1/0", 0)
    assert mig.parent == tmp_path and mig.name == gs.lock_path(tmp_path, "MIG-GPU-1234/1/0").stem + ".slot0.lock"


def test_sharers_spread_then_double_up_and_cap_at_k(tmp_path):
    leases = [gs.try_acquire(["a", "b"], 1, tmp_path, share=2) for _ in range(4)]
    assert [(le.ids, le.slots) for le in leases] == [
        (["a"], {"a": 0}), (["b"], {"b": 0}), (["a"], {"a": 1}), (["b"], {"b": 1})]   # idle GPUs first
    assert gs.try_acquire(["a", "b"], 1, tmp_path, share=2) is None                 # 2 x 2 slots taken
    leases[0].release()
    again = gs.try_acquire(["a", "b"], 1, tmp_path, share=2)
    assert again.ids == ["a"] and again.slots == {"a": 0}
    for le in leases[1:] + [again]:
        le.release()
    assert _names(tmp_path) == ["gpua.lock", "gpua.slot0.lock", "gpua.slot1.lock",
                                "gpub.lock", "gpub.slot0.lock", "gpub.slot1.lock"]


def test_multi_gpu_sharer_takes_distinct_gpus_all_or_nothing(tmp_path):
    one = gs.try_acquire(["a", "b", "c"], 1, tmp_path, share=2)                     # a, slot 0
    two = gs.try_acquire(["a", "b", "c"], 2, tmp_path, share=2)                     # the idle b and c
    assert one.ids == ["a"] and two.ids == ["b", "c"] and two.slots == {"b": 0, "c": 0}
    three = gs.try_acquire(["a", "b", "c"], 3, tmp_path, share=2)                   # one slot left each
    assert three.ids == ["a", "b", "c"] and set(three.slots.values()) == {1}
    assert gs.try_acquire(["a", "b", "c"], 1, tmp_path, share=2) is None
    three.release()
    exclusive = gs.try_acquire(["c"], 1, tmp_path)                                  # c still has 'two'
    assert exclusive is None
    two.release()
    exclusive = gs.try_acquire(["c"], 1, tmp_path)
    assert exclusive.ids == ["c"]
    # the one free GPU slot of 'a' is not enough for 2 GPUs: nothing stays held
    assert gs.try_acquire(["a", "c"], 2, tmp_path, share=2) is None
    assert gs.try_acquire(["a"], 1, tmp_path, share=2).slots == {"a": 1}
    with pytest.raises(gs.GpuSlotError, match="needs 2 GPU"):                       # never 2 slots of one GPU
        gs.acquire(2, ["a"], tmp_path, share=2)
    exclusive.release()
    one.release()


def test_exclusive_and_sharing_jobs_never_meet_on_a_gpu(tmp_path):
    exclusive = gs.try_acquire(["a"], 1, tmp_path)
    assert gs.try_acquire(["a"], 1, tmp_path, share=2) is None                     # sharer waits
    assert gs.try_acquire(["a", "b"], 1, tmp_path, share=2).ids == ["b"]           # ... or goes elsewhere
    exclusive.release()
    sharer = gs.try_acquire(["a"], 1, tmp_path, share=4)
    assert sharer is not None
    assert gs.try_acquire(["a"], 1, tmp_path) is None                              # exclusive waits
    with pytest.raises(gs.GpuSlotError, match="within 0.3 s"):
        gs.acquire(1, ["a"], tmp_path, timeout=0.3)
    sharer.release()
    assert gs.try_acquire(["a"], 1, tmp_path).ids == ["a"]


def test_acquire_rejects_a_bad_share(tmp_path):
    for bad in (0, -1, 1.5, True):
        with pytest.raises(gs.GpuSlotError, match="share must be a whole number >= 1"):
            gs.acquire(1, ["a"], tmp_path, share=bad)


def test_owner_note_goes_to_the_slot_file(tmp_path):
    lease = gs.try_acquire(["0"], 1, tmp_path, share=2)
    gs._write_owner(lease, ["python", "-m", "benchmark", "train"])
    assert "benchmark train" in gs.slot_path(tmp_path, "0", 0).read_text()
    assert gs.lock_path(tmp_path, "0").read_text() == ""                           # shared by all sharers
    lease.release()


def test_two_sharers_run_at_once_third_waits_and_exit_frees_the_slot(tmp_path, env, sleeper):
    env[gs.ENV_IDS] = "0"
    locks = Path(env[gs.ENV_LOCK_DIR])
    barrier, meet = tmp_path / "barrier.py", tmp_path / "meet"
    barrier.write_text(BARRIER)
    meet.mkdir()
    outs = [tmp_path / f"pair{i}.json" for i in range(2)]
    pair = [_slot(1, [sys.executable, str(barrier), str(o), str(meet), "2"], env, share=2) for o in outs]
    _finish(pair)                                                   # each waited for the other: concurrent
    assert [json.loads(o.read_text())["ids"] for o in outs] == ["0", "0"]

    holders, readies = [], [tmp_path / f"ready{i}" for i in range(2)]
    try:
        for i, ready in enumerate(readies):
            holders.append(_slot(1, [sys.executable, sleeper, str(tmp_path / f"h{i}.json"), "60", str(ready)],
                                 env, tmp_path / "share.log", share=2))
        for proc, ready in zip(holders, readies):
            assert _wait_ready(proc, ready) == proc.pid                  # exec-ed: the job holds its slot
        notes = [gs.slot_path(locks, "0", j).read_text() for j in range(2)]
        assert sorted(int(n.split()[1]) for n in notes) == sorted(p.pid for p in holders)
        assert "slot 0 of 2" in (tmp_path / "share.log").read_text()
        with pytest.raises(gs.GpuSlotError, match=r"a free slot \(of 2\) on 1 GPU"):
            gs.acquire(1, ["0"], locks, share=2, timeout=0.3)            # a third sharer waits ...
        assert gs.try_acquire(["0"], 1, locks) is None                   # ... and so does an exclusive job
        third_out = tmp_path / "third.json"
        third = _slot(1, [sys.executable, sleeper, str(third_out), "0"], env, share=2)
        time.sleep(0.5)
        assert third.poll() is None
        killed_at = time.time()
        os.kill(holders[0].pid, signal.SIGKILL)                          # the kernel frees its slot
        holders[0].wait(timeout=10)
        _finish([third])
        assert json.loads(third_out.read_text())["start"] >= killed_at
    finally:
        for proc in holders:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    lease = gs.try_acquire(["0"], 1, locks)                              # all gone: exclusive again
    assert lease is not None
    lease.release()


def test_exclusive_and_sharing_processes_mixed_on_one_gpu(tmp_path, env, sleeper):
    env[gs.ENV_IDS] = "0"
    shares = [2, 1, 2, 2, 1, 2]
    outs = [tmp_path / f"m{i}.json" for i in range(len(shares))]
    procs = [_slot(1, [sys.executable, sleeper, str(o), "0.3"], env, share=k) for k, o in zip(shares, outs)]
    _finish(procs)
    records = [dict(json.loads(o.read_text()), share=k) for k, o in zip(shares, outs)]
    assert all(r["ids"] == "0" for r in records)
    for r in records:
        others = [q for q in records if q is not r and q["start"] < r["end"] and r["start"] < q["end"]]
        if r["share"] == 1:
            assert not others, f"an exclusive job overlapped another: {r} {others}"
        else:
            assert all(q["share"] == 2 for q in others), (r, others)
    # at no instant more than two sharing jobs (one job may overlap two others one after the other)
    events = sorted([(r["start"], 1) for r in records] + [(r["end"], -1) for r in records], key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert peak <= 2, records


def test_share_1_keeps_the_old_lock_names(tmp_path, env):
    env[gs.ENV_IDS] = "0"
    out, log = tmp_path / "env.json", tmp_path / "one.log"
    _finish([_slot(1, [sys.executable, "-c", ENV_DUMP, str(out)], env, log)])
    _finish([_slot(1, [sys.executable, "-c", ENV_DUMP, str(out)], env, log, share=1)])
    assert _names(env[gs.ENV_LOCK_DIR]) == ["gpu0.lock"]
    assert "(slot" not in log.read_text() and log.read_text().count("leased GPU id(s) 0 of pool") == 2


def test_share_from_the_environment_and_its_errors(tmp_path, env):
    env[gs.ENV_IDS] = "0"
    log = tmp_path / "env-share.log"
    env[gs.ENV_SHARE] = "3"
    _finish([_slot(1, [sys.executable, "-c", "pass"], env, log)])
    assert "0 (slot 0 of 3)" in log.read_text()
    _finish([_slot(1, [sys.executable, "-c", "pass"], env, log, share=1)])     # --share wins
    assert log.read_text().count("slot 0 of 3") == 1
    for bad in ("0", "two", "-2"):
        env[gs.ENV_SHARE] = bad
        p = _slot(1, [sys.executable, "-c", "pass"], env)
        _, err = p.communicate(timeout=30)
        assert p.returncode == 2 and f"LTBENCH_GPU_SHARE={bad!r} is not a whole number >= 1" in err
    env[gs.ENV_SHARE] = ""                                                     # empty = unset = 1
    _finish([_slot(1, [sys.executable, "-c", "pass"], env, log)])
    p = _slot(1, [sys.executable, "-c", "pass"], env, share=0)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 2 and "--share must be >= 1" in err
