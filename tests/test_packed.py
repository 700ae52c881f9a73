"""Packed runs (benchmark.engine.packed): P seeds trained as one vmapped model give the same
outputs as P separate runs, and specs that differ in more than the seed are refused."""
from __future__ import annotations

import json

import numpy as np
import pytest

from benchmark.engine.config import RunSpec
from helpers import tiny_spec, write_tiny_dataset

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def _spec(seed: int, schedule=None, **kw) -> RunSpec:
    """The tiny spec, two epochs with one monitor pass at the end."""
    return tiny_spec({"runner_epochs": 2, "val_every": 2, **(schedule or {})}, seed=seed, **kw)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_tiny_dataset(tmp_path_factory.mktemp("packed_data"))


@pytest.fixture(scope="module")
def packs(data, tmp_path_factory, single_torch_thread):
    """Seeds 0 and 3 of CE and of BRL, each pair trained once as one packed model, for the tests
    that compare with it or take from it: {method: (specs, output folders, records)}."""
    from benchmark.engine.packed import train_packed

    top = tmp_path_factory.mktemp("packs")
    out = {}
    for method in ("ce", "brl"):
        specs = [_spec(s, method=method, method_id=method) for s in (0, 3)]
        outs = [top / method / f"seed{s.seed}" for s in specs]
        recs = train_packed(specs, data, None, outs, [top / method / "ck" / f"seed{s.seed}" for s in specs],
                            device="cpu")
        out[method] = (specs, outs, recs)
    return out


@pytest.mark.parametrize("method", ["ce", "brl"])
def test_packed_runs_equal_separate_runs(packs, data, tmp_path, method):
    from benchmark.engine.train import train_run

    specs, outs, packed = packs[method]
    for spec, out, rec in zip(specs, outs, packed):
        sep = train_run(spec, data, None, tmp_path / "sep" / f"seed{spec.seed}",
                        tmp_path / "ckpt" / f"seed{spec.seed}", progress=False)
        a = np.load(out / "test_probs.npz")
        b = np.load(tmp_path / "sep" / f"seed{spec.seed}" / "test_probs.npz")
        np.testing.assert_allclose(a["probs"], b["probs"], atol=2e-4)
        np.testing.assert_allclose(a["clip_logits"], b["clip_logits"], atol=2e-3, rtol=1e-3)
        assert (a["names"] == b["names"]).all()
        assert rec["meta"]["config_hash"] == sep["meta"]["config_hash"]
        assert {k: rec["meta"]["packed"][k] for k in ("seeds", "size", "kind")} == \
            {"seeds": [0, 3], "size": 2, "kind": "channel"}
        assert rec["meta"]["run_id"] == sep["meta"]["run_id"]         # the same run, whichever way trained
        assert json.loads((out / "metrics.json").read_text())["run"]["seed"] == spec.seed
    # the two seeds really are different runs
    p0 = np.load(outs[0] / "test_probs.npz")["probs"]
    p1 = np.load(outs[1] / "test_probs.npz")["probs"]
    assert np.abs(p0 - p1).max() > 1e-3


def test_pack_refuses_runs_that_differ_in_more_than_the_seed():
    from benchmark.engine.packed import PackError, check_packable

    with pytest.raises(PackError, match=r"differs from seed 0 in \['stream'\]"):
        check_packable([_spec(0), _spec(1, stream="b")])
    with pytest.raises(PackError, match="distinct seeds"):
        check_packable([_spec(0), _spec(0)])
    with pytest.raises(PackError, match="compile"):
        check_packable([_spec(0, schedule={"compile": True}), _spec(1, schedule={"compile": True})])


def test_packed_forward_and_gradients_equal_each_model():
    """One vmapped step on stacked models = the models' own steps (BN in training mode included),
    in float64 so that the comparison is exact up to 1e-10 (in float32 BN amplifies rounding)."""
    import torch
    from benchmark.engine.packed import PackedModel
    from benchmark.graphs import get_layout
    from benchmark.models import build_model
    from benchmark.models.speed import set_graph_impl

    models = []
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        models.append(set_graph_impl(build_model("stgcnpp", get_layout("ntu25"), 5, base_channels=8),
                                      "matmul").double())
    x = (torch.randn(3, 4, 2, 8, 25, 3) * torch.tensor([1.0, 0.01, 3.0]).view(3, 1, 1, 1, 1, 1)).double()
    packed = PackedModel(models).train()
    out = packed(x)
    out.square().sum().backward()
    for p, m in enumerate(models):
        m.train()
        ref = m(x[p])
        ref.square().sum().backward()
        torch.testing.assert_close(out[p], ref, atol=1e-10, rtol=1e-10)
        for name, prm in m.named_parameters():
            torch.testing.assert_close(packed.params[name].grad[p], prm.grad, atol=1e-10, rtol=1e-8)
        # running statistics were updated per model
        torch.testing.assert_close(packed.buffers["backbone.data_bn.bn.running_mean"][p],
                                   m.backbone.data_bn.bn.running_mean, atol=1e-12, rtol=1e-10)


def test_train_pack_cli_trains_mixed_runs_one_after_the_other(tiny_dataset, tmp_path, capsys):
    """Runs that cannot be packed are not refused: the command says why and trains them separately."""
    from benchmark.cli import main

    runs = [(_spec(0), "a"), (_spec(1, method="focal", method_id="focal"), "b")]
    args = ["train-pack", "--data", str(tiny_dataset), "--no-progress"]
    for spec, name in runs:
        args += ["--run", spec.to_json(), str(tmp_path / name), str(tmp_path / "ckpt" / name)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "not packing seeds [0, 1]" in err and "differ in the seed alone" in err
    for spec, name in runs:
        rec = json.loads((tmp_path / name / "metrics.json").read_text())
        assert rec["run"]["method"] == spec.method_id and "packed" not in rec["meta"]


def test_interrupted_pack_resumes_to_the_uninterrupted_result(packs, data, tmp_path):
    """Each packed run checkpoints on its own after every runner epoch: a pack stopped after epoch 1
    and started again ends where an uninterrupted pack (the module's BRL pack) ends."""
    from benchmark.engine.packed import train_packed

    specs, outs_full, _ = packs["brl"]

    def run(tag, stop=None):
        outs = [tmp_path / tag / f"seed{s.seed}" for s in specs]
        ckpts = [tmp_path / tag / "ckpt" / f"seed{s.seed}" for s in specs]
        return train_packed(specs, data, None, outs, ckpts, device="cpu", stop_after_epochs=stop), outs

    (first, _) = run("resumed", stop=1)
    assert all(r == {"interrupted": True, "epoch": 1} for r in first)
    assert (tmp_path / "resumed" / "ckpt" / "seed0" / "last.pt").exists()
    _, outs_resumed = run("resumed")
    for a, b in zip(outs_resumed, outs_full):
        np.testing.assert_allclose(np.load(a / "test_probs.npz")["probs"], np.load(b / "test_probs.npz")["probs"],
                                   atol=1e-6)


def test_take_pack_copies_only_a_result_with_this_runs_identity(packs, data, tmp_path, capsys):
    """take-pack copies a packed seed's files into its run folder; a spec that changed since the
    pack trained is refused with one error line naming the file (rc 2), and nothing is written."""
    from benchmark.cli import main

    specs, outs, _ = packs["ce"]
    src = outs[1]                                   # seed 3 of the module's CE pack
    out = tmp_path / "runs" / "seed3"
    assert main(["take-pack", "--spec", specs[1].to_json(), "--data", str(data),
                 "--from", str(src), "--out", str(out)]) == 0
    assert (out / "metrics.json").read_bytes() == (src / "metrics.json").read_bytes()
    assert (out / "model.pt").exists() and (out / "test_probs.npz").exists() and (out / "epochs.csv").exists()
    changed = _spec(3, schedule={"runner_epochs": 3})
    other = tmp_path / "runs" / "changed"
    capsys.readouterr()
    assert main(["take-pack", "--spec", changed.to_json(), "--data", str(data),
                 "--from", str(src), "--out", str(other)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and str(src / "metrics.json") in err[0]
    assert not other.exists()
