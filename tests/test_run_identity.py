"""Run identity and the checkpoint lifecycle (engine level): a result always comes from the
data, split and spec it claims; stale state is moved aside, never resumed and never lost."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from benchmark.engine.checkpoint import CheckpointError
from benchmark.engine.config import ConfigError, RunSpec
from benchmark.engine.identity import run_identity, split_list_digest
from benchmark.engine.train import train_run
from helpers import tiny_spec as _spec

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def _rewrite_dataset(root: Path, shift: float) -> None:
    """The same dataset with other coordinates (as a changed generator seed would give)."""
    from benchmark.data.canonical import DatasetMeta, write_dataset

    meta = DatasetMeta(**json.loads((root / "meta.json").read_text()))
    joints = np.load(root / "joints.npy") + np.float32(shift)
    table = pd.read_csv(root / "table.csv", dtype={"name": str}, keep_default_na=False)
    write_dataset(root, joints, table, meta)


def test_identity_covers_spec_data_split_and_stage1(tmp_path):
    spec = _spec()
    lst = tmp_path / "a.txt"
    lst.write_text("s1\ns2\n")
    base = run_identity(spec.to_json(), {"joints.npy": "aa"}, split_list_digest(lst), None)
    assert base == run_identity(spec.to_json(), {"joints.npy": "aa"}, split_list_digest(lst), None)
    assert base != run_identity(_spec(seed=1).to_json(), {"joints.npy": "aa"}, split_list_digest(lst), None)
    assert base != run_identity(spec.to_json(), {"joints.npy": "bb"}, split_list_digest(lst), None)
    lst2 = tmp_path / "b.txt"
    lst2.write_text("s1\ns3\n")
    assert base != run_identity(spec.to_json(), {"joints.npy": "aa"}, split_list_digest(lst2), None)
    assert base != run_identity(spec.to_json(), {"joints.npy": "aa"}, split_list_digest(lst), "stage1")
    # whitespace in the list file is not content
    lst2.write_text("s1   s2\n\n")
    assert split_list_digest(lst2) == split_list_digest(lst)


def test_changed_data_under_a_checkpoint_trains_from_scratch(tiny_dataset, tmp_path):
    """The bug this guards: the old model resumed (and scored) on new data, exit code 0."""
    spec = _spec()
    train_run(spec, tiny_dataset, None, tmp_path / "o", tmp_path / "ckpt", progress=False, stop_after_epochs=2)
    old_id = torch.load(tmp_path / "ckpt" / "last.pt", weights_only=True)["run_id"]
    _rewrite_dataset(tiny_dataset, 0.25)
    rec = train_run(spec, tiny_dataset, None, tmp_path / "o", tmp_path / "ckpt", progress=False)
    assert rec["meta"]["run_id"] != old_id
    assert (tmp_path / "ckpt" / "stale" / f"{old_id}.pt").exists()      # moved aside, not deleted
    # identical to a clean run on the new data: nothing of the old checkpoint leaked in
    clean = train_run(spec, tiny_dataset, None, tmp_path / "clean", tmp_path / "ckpt_clean", progress=False)
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "test_probs.npz")["probs"],
                                  np.load(tmp_path / "clean" / "test_probs.npz")["probs"])
    assert clean["meta"]["run_id"] == rec["meta"]["run_id"]


def test_changed_spec_moves_the_checkpoint_aside_and_finishes(tiny_dataset, tmp_path):
    train_run(_spec(), tiny_dataset, None, tmp_path / "a", tmp_path / "ckpt", progress=False, stop_after_epochs=1)
    rec = train_run(_spec(seed=3), tiny_dataset, None, tmp_path / "a", tmp_path / "ckpt", progress=False)
    assert rec["run"]["seed"] == 3 and (tmp_path / "a" / "metrics.json").exists()
    assert len(list((tmp_path / "ckpt" / "stale").glob("*.pt"))) == 1


def test_finished_run_removes_its_resumable_state(tiny_dataset, tmp_path):
    rec = train_run(_spec(), tiny_dataset, None, tmp_path / "a", tmp_path / "ckpt", progress=False)
    assert not (tmp_path / "ckpt" / "last.pt").exists()
    rid = rec["meta"]["run_id"]
    assert torch.load(tmp_path / "a" / "model.pt", weights_only=True)["run_id"] == rid
    assert json.loads((tmp_path / "a" / "metrics.json").read_text())["meta"]["run_id"] == rid
    train_run(_spec(), tiny_dataset, None, tmp_path / "b", tmp_path / "ckpt_b", progress=False, keep_checkpoint=True)
    assert torch.load(tmp_path / "ckpt_b" / "last.pt", weights_only=True)["run_id"] == rid


def test_leftover_tmp_files_are_removed(tiny_dataset, tmp_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "o").mkdir()
    (tmp_path / "ckpt" / ".last.pt.abc123.tmp").write_bytes(b"partial")
    (tmp_path / "o" / ".test_probs.npz.xyz.tmp").write_bytes(b"partial")
    train_run(_spec(), tiny_dataset, None, tmp_path / "o", tmp_path / "ckpt", progress=False)
    assert not list(tmp_path.rglob("*.tmp"))


def test_unreadable_checkpoint_is_moved_aside(tiny_dataset, tmp_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "last.pt").write_bytes(b"PK\x03\x04 truncated")
    rec = train_run(_spec(), tiny_dataset, None, tmp_path / "o", tmp_path / "ckpt", progress=False)
    assert rec["metrics"]["top1"] >= 0
    assert (tmp_path / "ckpt" / "stale" / "unreadable.pt").exists()


class _Payload:
    """Unpickling this runs code: it creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("where", ["checkpoint", "stage1"])
def test_crafted_pickle_is_refused_before_anything_runs(tiny_dataset, tmp_path, where):
    marker = tmp_path / "pwned"
    evil = tmp_path / "ckpt" / "last.pt" if where == "checkpoint" else tmp_path / "evil_model.pt"
    evil.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": {}, "run_id": "x", "payload": _Payload(marker)}, evil)
    spec = _spec(method="crt", method_id="crt") if where == "stage1" else _spec()
    with pytest.raises(CheckpointError, match="refusing to load") as err:
        train_run(spec, tiny_dataset, None, tmp_path / "o", tmp_path / "ckpt", progress=False,
                  stage1=evil if where == "stage1" else None)
    assert str(evil) in str(err.value)
    assert not marker.exists(), "the pickle's code ran"
    assert evil.exists()                      # a hostile file is reported, not moved or deleted


def test_stage1_identity_enters_the_stage2_identity(tiny_dataset, tmp_path):
    s1 = train_run(_spec(), tiny_dataset, None, tmp_path / "s1", tmp_path / "c1", progress=False)
    s2 = train_run(_spec(method="crt", method_id="crt"), tiny_dataset, None, tmp_path / "s2", tmp_path / "c2",
                   progress=False, stage1=tmp_path / "s1" / "model.pt")
    assert s2["meta"]["identity"]["stage1_run_id"] == s1["meta"]["run_id"]


def test_same_size_corruption_of_prepared_data_is_caught(tiny_dataset, tmp_path):
    from benchmark.data.canonical import DatasetError, load_dataset

    load_dataset(tiny_dataset)                                  # verified and cached
    path = tiny_dataset / "joints.npy"
    data = bytearray(path.read_bytes())
    data[-8:] = b"\x00\x00\x80\x7f\x00\x00\x80\x7f"            # same size, other bytes
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="joints.npy: checksum mismatch"):
        load_dataset(tiny_dataset)


@pytest.mark.parametrize("change,message", [
    ({"runner_epochs": 0}, "runner_epochs = 0"),
    ({"runner_epochs": -2}, "runner_epochs = -2"),
    ({"batch_size": 0}, "batch_size = 0"),
    ({"test_clips": 0}, "test_clips = 0"),
    ({"clip_len": 0}, "clip_len = 0"),
    ({"base_lr": 0}, "base_lr"),
])
def test_engine_refuses_a_spec_without_a_meaningful_result(change, message):
    sched = {"runner_epochs": 3, "repeat": 1, "batch_size": 16, "clip_len": 8, "test_clips": 2}
    sched.update(change)
    with pytest.raises(ConfigError, match=message):
        _spec(schedule=sched)


def test_unbuildable_backbone_width_is_a_config_error(tiny_dataset, tmp_path):
    with pytest.raises(ConfigError, match="cannot be built") as err:
        train_run(_spec(backbone_options={"base_channels": 4}), tiny_dataset, None, tmp_path / "o",
                  tmp_path / "c", progress=False)
    assert "base_channels" in str(err.value)
