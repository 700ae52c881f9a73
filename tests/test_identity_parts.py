"""What enters a run's identity besides the spec: the resolved precision, the dataset description
(meta.json), the stage-1 file's content, and the versions, which live in one place."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import methods
from benchmark import hostinfo, versions
from benchmark.data.canonical import DatasetError, DatasetMeta, load_dataset, load_dataset_meta, write_dataset
from benchmark.engine.config import RunSpec
from benchmark.engine.identity import data_identity, identify, resolved_spec, run_identity
from benchmark.engine.train import train_run

pytestmark = pytest.mark.usefixtures("single_torch_thread")
ROOT = Path(__file__).resolve().parents[1]


def _spec(**kw) -> RunSpec:
    sched = {"runner_epochs": 2, "repeat": 1, "batch_size": 16, "clip_len": 8, "test_clips": 1, "eval_batch_size": 32}
    sched.update(kw.pop("schedule", {}))
    base = dict(dataset="tiny", benchmark="default", split_id="tiny_default_natural", backbone="stgcnpp",
                method="ce", method_id="ce", stream="j", seed=0, backbone_options={"base_channels": 8},
                schedule=sched)
    base.update(kw)
    return RunSpec.from_dict(base)


# ---------------------------------------------------------------------- precision
def test_precision_is_resolved_before_hashing(monkeypatch, tiny_dataset):
    meta = load_dataset_meta(tiny_dataset)
    fp32 = identify(_spec(schedule={"precision": "fp32"}), meta, None).run_id
    bf16 = identify(_spec(schedule={"precision": "bf16"}), meta, None).run_id
    assert fp32 != bf16
    for native, expected in ((False, fp32), (True, bf16)):
        monkeypatch.setattr(hostinfo, "cpu_native_bf16", lambda native=native: native)
        auto = resolved_spec(_spec(schedule={"precision": "auto"}), "cpu")
        assert auto.schedule.precision == ("bf16" if native else "fp32")
        assert identify(auto, meta, None).run_id == expected     # auto is never hashed, its result is
    with pytest.raises(ValueError, match="resolve precision 'auto' first"):
        run_identity(_spec(schedule={"precision": "auto"}).to_json(), {}, "full")


def test_workflow_plans_auto_as_the_precision_it_resolves_to(monkeypatch):
    import benchmark.workflow as bw
    import yaml

    config = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    config["schedule"]["precision"] = "auto"
    run = bw.runs(config)[0]
    for native, expected in ((False, "fp32"), (True, "bf16")):
        monkeypatch.setattr(hostinfo, "cpu_native_bf16", lambda native=native: native)
        spec = json.loads(bw.run_spec(config, run.split.split_id, run.backbone, run.method.id, run.stream, run.seed,
                                      use_gpu=False))
        assert spec["schedule"]["precision"] == expected


def test_a_bf16_checkpoint_is_not_resumed_by_an_fp32_run(tiny_dataset, tmp_path):
    ckpt = tmp_path / "ckpt"
    train_run(_spec(schedule={"precision": "bf16"}), tiny_dataset, None, tmp_path / "o", ckpt, progress=False,
              stop_after_epochs=1)
    bf16_id = torch.load(ckpt / "last.pt", weights_only=True)["run_id"]
    rec = train_run(_spec(schedule={"precision": "fp32"}), tiny_dataset, None, tmp_path / "o", ckpt, progress=False)
    assert rec["meta"]["run_id"] != bf16_id
    assert (ckpt / "stale" / f"{bf16_id}.pt").exists()           # moved aside, not resumed
    ex = rec["meta"]["execution"]
    assert ex["precision"] == "fp32" and ex["threads"] == torch.get_num_threads() and ex["packed"] is None
    assert ex["cpu_model"] == hostinfo.cpu_model()
    clean = train_run(_spec(), tiny_dataset, None, tmp_path / "clean", tmp_path / "c2", progress=False)
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "test_probs.npz")["probs"],
                                  np.load(tmp_path / "clean" / "test_probs.npz")["probs"])


# ---------------------------------------------------------------------- data description
def _with_meta(root: Path, **changes) -> None:
    """Rewrite only meta.json (arrays untouched), keeping its checksums."""
    raw = json.loads((root / "meta.json").read_text())
    raw.update(changes)
    (root / "meta.json").write_text(json.dumps(raw, indent=2, sort_keys=True))


def _ring_layout(v: int, extra_edge=None) -> dict:
    inward = [[i, i - 1] for i in range(1, v)] + ([list(extra_edge)] if extra_edge else [])
    return {"name": "ring", "num_node": v, "center": 0, "inward": inward}


def test_changed_layout_edges_under_the_same_arrays_retrain(tiny_dataset, tmp_path):
    """The bug this guards: a generic dataset's edges changed in meta.json, the arrays did not, and
    the resumed run trained on the old graph under the old run_id."""
    raw = json.loads((tiny_dataset / "meta.json").read_text())
    _with_meta(tiny_dataset, extra={**raw["extra"], "layout_spec": _ring_layout(25)})
    ckpt = tmp_path / "ckpt"
    train_run(_spec(), tiny_dataset, None, tmp_path / "o", ckpt, progress=False, stop_after_epochs=1)
    old_id = torch.load(ckpt / "last.pt", weights_only=True)["run_id"]
    _with_meta(tiny_dataset, extra={**raw["extra"], "layout_spec": _ring_layout(25, extra_edge=(24, 0))})
    rec = train_run(_spec(), tiny_dataset, None, tmp_path / "o", ckpt, progress=False)
    assert rec["meta"]["run_id"] != old_id
    assert (ckpt / "stale" / f"{old_id}.pt").exists()
    assert rec["meta"]["identity"]["data_checksums"]["meta.json"] == data_identity(
        load_dataset_meta(tiny_dataset))["meta.json"]


def test_checksums_block_does_not_hash_itself(tiny_dataset):
    meta = load_dataset_meta(tiny_dataset)
    before = data_identity(meta)
    assert set(before) == {"joints.npy", "table.csv", "meta.json"}
    _with_meta(tiny_dataset, class_names=["a", "b", "c", "d", "e"])
    assert data_identity(load_dataset_meta(tiny_dataset))["meta.json"] != before["meta.json"]


@pytest.mark.parametrize("checksums", [{}, {"joints.npy": "x"}, None])
def test_a_dataset_without_checksums_is_refused(tiny_dataset, checksums):
    _with_meta(tiny_dataset, checksums=checksums)
    with pytest.raises(DatasetError, match=r"meta.json: no checksum for .*prepare"):
        load_dataset(tiny_dataset)


def test_same_size_change_with_mtime_restored_is_caught(tiny_dataset):
    load_dataset(tiny_dataset)                               # verified and cached
    path = tiny_dataset / "joints.npy"
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-4:] = np.float32(123.0).tobytes()                  # same size, in place
    with open(path, "r+b") as f:
        f.write(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))      # mtime set back
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    with pytest.raises(DatasetError, match="joints.npy: checksum mismatch"):
        load_dataset(tiny_dataset)


# ---------------------------------------------------------------------- stage 1
def test_a_stage1_file_without_run_id_enters_by_its_content(tiny_dataset, tmp_path):
    s1 = train_run(_spec(), tiny_dataset, None, tmp_path / "s1", tmp_path / "c1", progress=False)
    state = torch.load(tmp_path / "s1" / "model.pt", weights_only=True)
    forged = []
    for k, scale in enumerate((1.0, 0.5)):
        path = tmp_path / f"forged{k}.pt"
        torch.save({"model": {n: t * scale for n, t in state["model"].items()}}, path)   # no run_id
        forged.append(path)
    meta = load_dataset_meta(tiny_dataset)
    crt = _spec(method="crt", method_id="crt")
    ids = [identify(crt, meta, None, p) for p in forged]
    assert ids[0].run_id != ids[1].run_id
    assert all(i.stage1_id.startswith("sha256:") for i in ids)
    # a stage 2 trained from the first forged file does not resume from the second
    train_run(crt, tiny_dataset, None, tmp_path / "s2", tmp_path / "c2", progress=False, stage1=forged[0],
              stop_after_epochs=1)
    rec = train_run(crt, tiny_dataset, None, tmp_path / "s2", tmp_path / "c2", progress=False, stage1=forged[1])
    assert rec["meta"]["run_id"] == ids[1].run_id and list((tmp_path / "c2" / "stale").glob("*.pt"))
    assert identify(crt, meta, None, tmp_path / "s1" / "model.pt").stage1_id == s1["meta"]["run_id"]


# ---------------------------------------------------------------------- versions in one place
VERSION_NAMES = ("ENGINE_VERSION", "DATA_VERSION", "BACKBONE_VERSIONS")


def test_each_version_is_defined_once():
    defined = {}
    for path in list((ROOT / "benchmark").rglob("*.py")) + list((ROOT / "methods").glob("*.py")):
        for name in VERSION_NAMES:
            if re.search(rf"^{name}\s*(:[^=]*)?=", path.read_text(), re.M):
                defined.setdefault(name, []).append(path.relative_to(ROOT).as_posix())
    assert defined == {name: ["benchmark/versions.py"] for name in VERSION_NAMES}


def test_registered_backbones_carry_the_versions_module_version():
    from benchmark.models import available_models, get_backbone_factory

    for name in available_models():
        assert get_backbone_factory(name).version == versions.backbone_version(name)


def test_effective_method_version_includes_parents_and_helpers():
    index = methods.method_index()
    for name, entry in index.items():
        parts = entry["version"].split(";")
        assert parts[0] == entry["own_version"]
        assert "_base=" + _literal("_base") in parts, name          # every method builds on the base class
    assert "brl=" + _literal("brl") in index["brl_stae"]["version"].split(";")
    assert "crt=" + _literal("crt") in index["lws"]["version"].split(";")
    assert "la=" + _literal("la") in index["la_posthoc"]["version"].split(";")
    assert "_mixing=" + _literal("_mixing") in index["brl"]["version"].split(";")


def test_bumping_a_helper_changes_exactly_its_users():
    table = {"_base": ("1", set()), "_mixing": ("1", {"_base"}), "brl": ("1", {"_base", "_mixing"}),
             "brl_stae": ("1", {"brl"}), "ce": ("1", {"_base"})}
    before = {m: methods._effective(m, table) for m in ("brl", "brl_stae", "ce")}
    table["_mixing"] = ("2", {"_base"})
    after = {m: methods._effective(m, table) for m in ("brl", "brl_stae", "ce")}
    assert after["brl"] != before["brl"] and after["brl_stae"] != before["brl_stae"]
    assert after["ce"] == before["ce"]


def _literal(stem: str) -> str:
    m = re.search(r'^VERSION\s*=\s*"([^"]+)"', (ROOT / "methods" / f"{stem}.py").read_text(), re.M)
    return m.group(1)


def test_reproduction_configs_name_their_precision():
    """Only the demo may say 'auto': a reproduction names the arithmetic it publishes."""
    import yaml

    for path in sorted((ROOT / "config").glob("*.yaml")):
        if path.stem == "demo":
            continue
        schedule = (yaml.safe_load(path.read_text()) or {}).get("schedule") or {}
        assert schedule.get("precision") in ("fp32", "bf16"), f"{path.name}: name schedule.precision (fp32 or bf16)"
