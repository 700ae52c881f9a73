"""Bad input across the CLI, readers, prepared data, checkpoints and results: every case stops
with one line (exit code 2) naming the file or key and the problem, never a traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from helpers import REPO, tiny_spec_json

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def _spec_json(**sched) -> str:
    return tiny_spec_json({"runner_epochs": 1, "test_clips": 1, **sched})


def _cli(capsys, *argv) -> str:
    """Run ``python -m benchmark`` in-process; return its one-line error."""
    from benchmark.cli import main

    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert rc == 2, f"expected a clean failure (rc 2), got {rc}: {err}"
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def _train(tmp_path, data, *extra, spec=None):
    return ("train", "--spec", spec or _spec_json(), "--data", data, "--out", tmp_path / "out",
            "--ckpt", tmp_path / "ckpt", "--no-progress", *extra)


# ------------------------------------------------------------------------------------ run spec / CLI

@pytest.mark.parametrize("spec,message", [
    ("{not json", "run spec is not valid JSON"),
    (_spec_json(runner_epochs=0), "schedule.runner_epochs = 0"),
    (_spec_json(batch_size=0), "schedule.batch_size = 0"),
    (_spec_json(test_clips=0), "schedule.test_clips = 0"),
    (_spec_json(runner_epochs=-3), "schedule.runner_epochs = -3"),
    (json.dumps({**json.loads(_spec_json()), "epochz": 3}), "unknown key(s) ['epochz']"),
    (json.dumps({**json.loads(_spec_json()), "method": "no_such_method"}), "unknown method 'no_such_method'"),
    (json.dumps({**json.loads(_spec_json()), "stream": "jx"}), "stream 'jx' is unknown"),
])
def test_bad_run_spec(capsys, tiny_dataset, tmp_path, spec, message):
    assert message in _cli(capsys, *_train(tmp_path, tiny_dataset, spec=spec))


def test_unbuildable_width(capsys, tiny_dataset, tmp_path):
    spec = json.dumps({**json.loads(_spec_json()), "backbone_options": {"base_channels": 4}})
    line = _cli(capsys, *_train(tmp_path, tiny_dataset, spec=spec))
    assert "cannot be built" in line and "base_channels" in line


def test_missing_prepared_dataset(capsys, tmp_path):
    line = _cli(capsys, *_train(tmp_path, tmp_path / "nowhere"))
    assert str(tmp_path / "nowhere") in line and "not a prepared dataset" in line


def test_missing_split_list(capsys, tiny_dataset, tmp_path):
    line = _cli(capsys, *_train(tmp_path, tiny_dataset, "--split", tmp_path / "no_list.txt"))
    assert "no_list.txt" in line and "does not exist" in line


def test_threads_zero(capsys, tiny_dataset, tmp_path):
    assert "--threads 0" in _cli(capsys, *_train(tmp_path, tiny_dataset, "--threads", "0"))


def test_output_under_a_file(capsys, tiny_dataset, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    argv = list(_train(tmp_path, tiny_dataset))
    argv[argv.index("--out") + 1] = blocker / "out"
    line = _cli(capsys, *argv)
    assert "afile" in line


# ------------------------------------------------------------------------------------ prepared data

def test_truncated_joints(capsys, tiny_dataset, tmp_path):
    p = tiny_dataset / "joints.npy"
    p.write_bytes(p.read_bytes()[:-1000])
    line = _cli(capsys, *_train(tmp_path, tiny_dataset))
    assert "joints.npy" in line and "prepare" in line


def test_same_size_corruption(capsys, tiny_dataset, tmp_path):
    p = tiny_dataset / "joints.npy"
    data = bytearray(p.read_bytes())
    data[-4:] = b"\x00\x00\xc0\x7f"
    p.write_bytes(bytes(data))
    line = _cli(capsys, *_train(tmp_path, tiny_dataset))
    assert "joints.npy: checksum mismatch" in line


def test_corrupt_meta_json(capsys, tiny_dataset, tmp_path):
    (tiny_dataset / "meta.json").write_text("{ broken")
    line = _cli(capsys, *_train(tmp_path, tiny_dataset))
    assert "meta.json" in line and "prepare" in line


def test_missing_table(capsys, tiny_dataset, tmp_path):
    (tiny_dataset / "table.csv").unlink()
    line = _cli(capsys, *_train(tmp_path, tiny_dataset))
    assert "table.csv" in line


# ------------------------------------------------------------------------------------ checkpoints

def test_hostile_checkpoint(capsys, tiny_dataset, tmp_path):
    (tmp_path / "ckpt").mkdir()
    torch.save({"model": {}, "run_id": "x", "f": os.getcwd}, tmp_path / "ckpt" / "last.pt")   # a global
    line = _cli(capsys, *_train(tmp_path, tiny_dataset))
    assert "last.pt" in line and "refusing to load" in line


def test_missing_stage1(capsys, tiny_dataset, tmp_path):
    line = _cli(capsys, *_train(tmp_path, tiny_dataset, "--stage1", tmp_path / "nope.pt"))
    assert "nope.pt" in line and "stage-1 model not found" in line


def test_corrupt_stage1(capsys, tiny_dataset, tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"\x80\x04 not a torch file")
    line = _cli(capsys, *_train(tmp_path, tiny_dataset, "--stage1", bad))
    assert "model.pt" in line and "stage-1 model" in line


# ------------------------------------------------------------------------------------ prepare / split

def test_unknown_source(capsys, tmp_path):
    line = _cli(capsys, "prepare", "--dataset", "d", "--source", "nope", "--root", tmp_path, "--out", tmp_path / "o")
    assert "unknown dataset source 'nope'" in line


def test_unknown_reader_option(capsys, tmp_path):
    line = _cli(capsys, "prepare", "--dataset", "d", "--source", "synthetic", "--options",
                '{"num_clases": 5}', "--out", tmp_path / "o")
    assert "unknown option(s) ['num_clases']" in line


def test_unknown_option_of_a_file_reader(capsys, tmp_path):
    line = _cli(capsys, "prepare", "--dataset", "ucla", "--source", "nw_ucla_json", "--root", tmp_path,
                "--options", '{"viewz": 3}', "--out", tmp_path / "o")
    assert "datasets.ucla.options" in line and "viewz" in line


def test_options_not_json(capsys, tmp_path):
    line = _cli(capsys, "prepare", "--dataset", "d", "--source", "synthetic", "--options", "{num: 5",
                "--out", tmp_path / "o")
    assert "--options" in line and "JSON" in line


def test_missing_raw_root(capsys, tmp_path):
    line = _cli(capsys, "prepare", "--dataset", "ucla", "--source", "nw_ucla_json", "--root", tmp_path / "none",
                "--out", tmp_path / "o")
    assert str(tmp_path / "none") in line and "ucla_root" in line


@pytest.mark.parametrize("args,message", [
    (["--n-max", "10", "--ratio", "0.5"], "must be >= 1"),
    (["--n-max", "4", "--ratio", "10"], "leaves the tail classes no sample"),
    (["--ratio", "10"], "n_max is required"),
])
def test_unusable_lt_profile(capsys, tiny_dataset, tmp_path, args, message):
    line = _cli(capsys, "split", "--data", tiny_dataset, "--benchmark", "default", *args,
                "--out", tmp_path / "s.txt", "--counts", tmp_path / "c.csv")
    assert message in line


def test_split_list_with_unknown_name(capsys, tiny_dataset, tmp_path):
    lst = tmp_path / "list.txt"
    lst.write_text("s000\nghost\n")
    line = _cli(capsys, "split", "--data", tiny_dataset, "--benchmark", "default", "--split-list", lst,
                "--out", tmp_path / "s.txt", "--counts", tmp_path / "c.csv")
    assert "list.txt" in line and "line 2" in line and "ghost" in line


def test_empty_class_is_warned(capsys, tiny_dataset, tmp_path):
    from benchmark.cli import main

    lst = tmp_path / "list.txt"
    lst.write_text("s000\ns001\n")          # every sample of class 0: the other classes get nothing
    assert main(["split", "--data", str(tiny_dataset), "--benchmark", "default", "--split-list", str(lst),
                 "--out", str(tmp_path / "s.txt"), "--counts", str(tmp_path / "c.csv")]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "no training sample" in err


# ------------------------------------------------------------------------------------ results

def test_truncated_test_probs_in_ensemble(capsys, tmp_path):
    from benchmark.ensemble import main

    bad = tmp_path / "j" / "test_probs.npz"
    bad.parent.mkdir()
    np.savez_compressed(bad, probs=np.ones((4, 3)) / 3, labels=np.arange(4) % 3, names=np.array(list("abcd")))
    bad.write_bytes(bad.read_bytes()[:-40])
    counts = tmp_path / "c.csv"
    counts.write_text("class,name,count\n0,a,3\n1,b,2\n2,c,1\n")
    rc = main(["--runs", str(bad), "--streams", "j", "--weights", "1", "--counts", str(counts), "--out",
               str(tmp_path / "ens-1s" / "seed0" / "metrics.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and "test_probs.npz" in err


def test_corrupt_metrics_json_in_aggregate(capsys, tmp_path):
    from benchmark.aggregate import main

    bad = tmp_path / "runs" / "s" / "b" / "m" / "j" / "seed0" / "metrics.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{ truncated")
    rc = main(["--runs-root", str(tmp_path / "runs"), "--runs", str(bad), "--out", str(tmp_path / "t")])
    err = capsys.readouterr().err
    assert rc == 2 and "metrics.json" in err and "not valid JSON" in err


def test_declared_run_missing_in_aggregate(capsys, tmp_path):
    from benchmark.aggregate import main

    (tmp_path / "runs").mkdir()
    rc = main(["--runs-root", str(tmp_path / "runs"), "--runs", str(tmp_path / "runs" / "x" / "metrics.json"),
               "--out", str(tmp_path / "t")])
    err = capsys.readouterr().err
    assert rc == 2 and "x/metrics.json" in err and "not found" in err


def test_cli_as_a_process_prints_one_line(tmp_path):
    """The same contract through the real entry point (what a workflow log shows)."""
    proc = subprocess.run([sys.executable, "-m", "benchmark", "train", "--spec", "{x", "--data", str(tmp_path),
                           "--out", str(tmp_path / "o"), "--ckpt", str(tmp_path / "c")], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("error: run spec is not valid JSON")
