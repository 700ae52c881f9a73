"""kill -9 at random points of a training run, ten times, then let it finish: the result is
identical to an uninterrupted run, and no partial (.tmp) file is left behind."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import REPO, tiny_spec_json

pytestmark = pytest.mark.slow

#: BRL (the method with the most per-step state: sampler, mixing draws) for eight short epochs:
#: start-up, epochs, checkpoint writes, testing and final writes all take a share of the run
SPEC = tiny_spec_json({"runner_epochs": 8, "batch_size": 8}, method="brl", method_id="brl", seed=3)


def _cmd(data: Path, out: Path, ckpt: Path) -> list:
    return [sys.executable, "-m", "benchmark", "train", "--spec", SPEC, "--data", str(data), "--out", str(out),
            "--ckpt", str(ckpt), "--no-progress", "--threads", "1"]


def test_kill_9_at_random_points_resumes_to_identical_results(tiny_dataset, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    t0 = time.time()
    subprocess.run(_cmd(tiny_dataset, tmp_path / "ref", tmp_path / "ref_ckpt"), check=True, cwd=REPO, env=env,
                   capture_output=True)
    duration = time.time() - t0
    reference = np.load(tmp_path / "ref" / "test_probs.npz")["probs"]

    rng = random.Random(1234)
    kills, rounds = 0, 0
    while kills < 10:
        rounds += 1
        assert rounds <= 40, f"only {kills} kills landed in {rounds - 1} rounds"
        out, ckpt = tmp_path / f"run{rounds}", tmp_path / f"ckpt{rounds}"
        # kill -9 at a random moment (start-up, an epoch, a checkpoint write, testing, the final
        # writes) until the run completes on its own, resuming each time from what was left
        fresh = True
        while not (out / "metrics.json").exists():
            started = time.time()
            proc = subprocess.Popen(_cmd(tiny_dataset, out, ckpt), cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            try:
                proc.wait(timeout=rng.uniform(0.05, 0.8) * duration)
                if fresh:
                    # a whole run from scratch ended before its kill time: the machine got faster
                    # (another job ended), so later kill times follow its pace, not the first run's
                    duration = time.time() - started
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
                proc.wait()
            fresh = False
        np.testing.assert_array_equal(np.load(out / "test_probs.npz")["probs"], reference)
        assert not list(out.glob(".*.tmp")) and not list(ckpt.glob(".*.tmp"))
    assert not list(tmp_path.rglob("*.tmp")), list(tmp_path.rglob("*.tmp"))
