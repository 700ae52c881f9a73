"""Failures a user can cause are one-line messages, not tracebacks (issue 20, item 4): a diverging
training, a checkpoint whose model does not fit, a missing key, a stray label far above the others."""
from __future__ import annotations

import json
import numpy as np
import pandas as pd
import pytest

SPEC = dict(dataset="tiny", benchmark="default", split_id="tiny_default_natural", backbone="stgcnpp", method="ce",
            method_id="ce", stream="j", seed=0, backbone_options={"base_channels": 8},
            schedule={"runner_epochs": 2, "repeat": 1, "batch_size": 16, "clip_len": 8, "test_clips": 1,
                      "eval_batch_size": 32, "val_every": 0})


def _spec(width=8, **schedule):
    from benchmark.engine.config import RunSpec

    return RunSpec.from_dict(dict(SPEC, backbone_options={"base_channels": width},
                                  schedule=dict(SPEC["schedule"], **schedule)))


def test_a_diverging_training_is_one_line_naming_the_epoch_and_the_fixes(tiny_dataset, tmp_path, capsys,
                                                                         single_torch_thread, monkeypatch):
    from benchmark import cli

    monkeypatch.delenv("LTBENCH_DEBUG", raising=False)
    spec = json.dumps(dict(SPEC, schedule=dict(SPEC["schedule"], base_lr=1e30)))
    rc = cli.main(["train", "--spec", spec, "--data", str(tiny_dataset), "--out", str(tmp_path / "o"),
                   "--ckpt", str(tmp_path / "c"), "--no-progress"])
    out = capsys.readouterr().err
    err = [line for line in out.splitlines() if not line.startswith("[train]")]
    assert rc == 2 and len(err) == 1 and "Traceback" not in out, out
    msg = err[0]
    assert msg.startswith("error: non-finite loss") and "runner epoch 1/2" in msg, msg
    assert "schedule.base_lr (now 1e+30" in msg and "extreme coordinates" in msg, msg


def test_the_error_is_still_a_floating_point_error():
    from benchmark.engine.config import ConfigError, NonFiniteLossError

    e = NonFiniteLossError(3, 24, _spec(), float("nan"))
    assert isinstance(e, FloatingPointError) and isinstance(e, ConfigError) and "runner epoch 3/24" in str(e)
    assert "precision" not in str(e)               # fp32 already: not a fix to suggest
    assert "schedule.precision: fp32 (now bf16)" in str(NonFiniteLossError(1, 2, _spec(precision="bf16"), 1e400))


def _checkpoint_of(spec, data, tmp_path, tag):
    from benchmark.engine.train import train_run

    assert train_run(spec, data, None, tmp_path / tag, tmp_path / f"ckpt_{tag}", progress=False,
                     stop_after_epochs=1) == {"interrupted": True, "epoch": 1}
    return tmp_path / f"ckpt_{tag}" / "last.pt"


def _trainer(spec, data, tmp_path, ckpt_dir):
    from benchmark.engine.train import RunTrainer

    return RunTrainer(spec, data, None, tmp_path / "out", ckpt_dir, progress=False)


def test_a_checkpoint_of_another_width_with_this_runs_id_is_moved_aside(tiny_dataset, tmp_path, capsys,
                                                                        single_torch_thread):
    import torch

    wide = _checkpoint_of(_spec(width=16), tiny_dataset, tmp_path, "wide")
    narrow = _trainer(_spec(width=8), tiny_dataset, tmp_path, tmp_path / "probe")
    state = torch.load(wide, weights_only=True)
    state["run_id"] = narrow.run_id                 # a wrong-width checkpoint with a matching id
    target = tmp_path / "ckpt" / "last.pt"
    target.parent.mkdir()
    torch.save(state, target)
    capsys.readouterr()
    tr = _trainer(_spec(width=8), tiny_dataset, tmp_path, target.parent)
    err = capsys.readouterr().err
    assert tr.start_epoch == 0 and not target.exists(), err
    assert list((target.parent / "stale").glob(f"{narrow.run_id}-shape*.pt")), err
    assert "does not fit its model" in err and "in the file" in err and "benchmark/versions.py" in err, err


def test_a_checkpoint_missing_an_entry_is_moved_aside(tiny_dataset, tmp_path, capsys, single_torch_thread):
    import torch

    ckpt = _checkpoint_of(_spec(), tiny_dataset, tmp_path, "a")
    state = torch.load(ckpt, weights_only=True)
    del state["optimizer"]
    torch.save(state, ckpt)
    capsys.readouterr()
    tr = _trainer(_spec(), tiny_dataset, tmp_path, ckpt.parent)
    err = capsys.readouterr().err
    assert tr.start_epoch == 0 and "lacks ['optimizer']" in err, err


def test_state_mismatch_names_the_entry():
    from benchmark.engine.checkpoint import state_mismatch

    a, b = np.zeros((2, 3)), np.zeros((4, 3))
    assert state_mismatch({"w": a}, {"w": a}) is None
    assert state_mismatch({"w": a}, {"w": b}) == "'w' has shape (4, 3) in the file, (2, 3) in this run's model"
    assert "missing, e.g. 'v'" in state_mismatch({"w": a, "v": a}, {"w": a})
    assert "unexpected, e.g. 'x'" in state_mismatch({"w": a}, {"w": a, "x": a})


def test_a_bare_missing_key_is_named():
    from benchmark.cli import describe_error
    from methods import UnknownMethodError

    assert "missing key 'model'" in describe_error(KeyError("model"))
    assert describe_error(UnknownMethodError("unknown method 'x'; available: ce")) == "unknown method 'x'; available: ce"


def _generic_set(root, labels):
    n = len(labels)
    np.save(root / "joints.npy", np.random.default_rng(0).normal(size=(n, 1, 4, 20, 3)).astype(np.float32))
    pd.DataFrame({"name": [f"s{i}" for i in range(n)], "label": labels,
                  "default": ["train"] * (n - 1) + ["test"]}).to_csv(root / "labels.csv", index=False)


def test_a_label_far_above_the_others_stops_unless_num_classes_says_so(tmp_path):
    from benchmark.data.canonical import DatasetError
    from benchmark.data.readers import read_dataset

    _generic_set(tmp_path, [0, 1, 2, 3, 4, 99])
    with pytest.raises(DatasetError) as e:
        read_dataset("generic", tmp_path, "lab", layout="nw_ucla20")
    msg = str(e.value)
    assert "labels.csv" in msg and "up to 99" in msg and "next largest label is 4" in msg and "num_classes" in msg, msg
    assert read_dataset("generic", tmp_path, "lab", layout="nw_ucla20", num_classes=100).num_classes == 100
    _generic_set(tmp_path, [0, 1, 2, 3, 4, 2])
    assert read_dataset("generic", tmp_path, "lab", layout="nw_ucla20").num_classes == 5
