"""Training engine: schedule formulas, run specs, checkpoint/resume, outputs."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from benchmark.engine.config import ConfigError, RunSpec, Schedule, cosine_lr
from helpers import tiny_spec as _spec


def test_cosine_lr_matches_formula():
    # lr_t = lr0 · ½ · (1 + cos(π t / T)) (docs/training.md): starts at lr0, halves midway, no warm-up.
    assert cosine_lr(0.1, 0, 100) == pytest.approx(0.1)
    assert cosine_lr(0.1, 50, 100) == pytest.approx(0.05)
    assert cosine_lr(0.1, 99, 100) == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 0.99)))


@pytest.mark.parametrize("batch,lr", [(16, 0.0125), (32, 0.025), (64, 0.05), (128, 0.1), (256, 0.2)])
def test_linear_scaling_rule(batch, lr):
    assert Schedule(batch_size=batch).lr0 == pytest.approx(lr)


def test_run_spec_roundtrip_and_hash():
    s = _spec()
    again = RunSpec.from_json(s.to_json())
    assert again == s and again.config_hash == s.config_hash
    assert _spec(seed=1).config_hash != s.config_hash


def test_run_spec_rejects_unknown_keys():
    with pytest.raises(ConfigError, match="unknown key"):
        RunSpec.from_dict({**json.loads(_spec().to_json()), "epochz": 3})
    with pytest.raises(ConfigError, match="schedule"):
        _spec(schedule={"runner_epoch": 3})


def test_train_writes_outputs_and_resume_equals_uninterrupted(tiny_dataset, tmp_path):
    from benchmark.engine.train import train_run

    spec = _spec()
    full = train_run(spec, tiny_dataset, None, tmp_path / "full", tmp_path / "ckpt_full", progress=False)
    for f in ("metrics.json", "test_probs.npz", "epochs.csv", "model.pt"):
        assert (tmp_path / "full" / f).exists()
    m = full["metrics"]
    assert 0.0 <= m["top1"] <= 1.0 and len(m["per_class_acc"]) == 5
    probs = np.load(tmp_path / "full" / "test_probs.npz")
    assert probs["probs"].shape == (20, 5) and probs["clip_logits"].shape == (20, 2, 5)
    np.testing.assert_allclose(probs["probs"].sum(1), 1.0, atol=1e-5)

    # Kill after one epoch (simulated), then run again: it resumes from last.pt.
    part = train_run(spec, tiny_dataset, None, tmp_path / "res", tmp_path / "ckpt_res", progress=False,
                     stop_after_epochs=1)
    assert part == {"interrupted": True, "epoch": 1}
    assert not (tmp_path / "res" / "metrics.json").exists()
    resumed = train_run(spec, tiny_dataset, None, tmp_path / "res", tmp_path / "ckpt_res", progress=False)
    np.testing.assert_allclose(np.load(tmp_path / "res" / "test_probs.npz")["probs"], probs["probs"], atol=1e-6)
    assert resumed["metrics"]["top1"] == m["top1"]


def test_checkpoints_first_epoch_then_by_interval_and_when_stopped(tiny_dataset, tmp_path, monkeypatch):
    """Sub-second epochs do not each pay a flushed checkpoint write: one after the first epoch, then
    one per CHECKPOINT_INTERVAL_S, and always when the run is stopped on purpose."""
    import benchmark.engine.train as tr

    saved = []
    real_save = tr.atomic_torch_save
    monkeypatch.setattr(tr, "atomic_torch_save", 
                        lambda path, obj: (path.name == "last.pt" and saved.append(obj["epoch"]), real_save(path, obj))[1])
    spec = _spec(schedule={"runner_epochs": 4})
    monkeypatch.setattr(tr, "CHECKPOINT_INTERVAL_S", 1e9)
    assert tr.train_run(spec, tiny_dataset, None, tmp_path / "a", tmp_path / "ca", progress=False,
                        stop_after_epochs=3) == {"interrupted": True, "epoch": 3}
    assert saved == [1, 3]
    saved.clear()
    monkeypatch.setattr(tr, "CHECKPOINT_INTERVAL_S", 0.0)
    tr.train_run(spec, tiny_dataset, None, tmp_path / "b", tmp_path / "cb", progress=False)
    assert saved == [1, 2, 3, 4]


def test_split_list_with_unknown_sample_names_the_file(tiny_dataset, tmp_path):
    from benchmark.data.canonical import DatasetError
    from benchmark.engine.train import train_run

    lst = tmp_path / "bad.txt"
    lst.write_text("s000\nnot_a_sample\n")
    with pytest.raises(DatasetError, match="bad.txt"):
        train_run(_spec(), tiny_dataset, lst, tmp_path / "o", tmp_path / "c", progress=False)
