"""Stream fusion and the ensemble CLI (docs/evaluation.md)."""
import json
import stat

import numpy as np
import pytest

from benchmark.data.splits import counts_table
from benchmark.ensemble import (DATASET_ENSEMBLES, ENSEMBLES, EnsembleError, default_weights, fuse, main,
                                run_ensemble)
from benchmark.metrics import compute_metrics


def test_default_weight_table():
    assert ENSEMBLES["2s"] == {"j": 1, "b": 1}
    assert ENSEMBLES["4s"] == {"j": 2, "b": 2, "jm": 1, "bm": 1}
    assert ENSEMBLES["6s"] == {"j": 2, "b": 2, "k": 2, "jm": 1, "bm": 1, "km": 1}
    assert default_weights("4s", "kinetics") == {"j": 3, "b": 3, "jm": 1, "bm": 1}
    assert default_weights("4s", "ntu60") == ENSEMBLES["4s"]
    assert DATASET_ENSEMBLES["kinetics"]["4s"]["j"] == 3
    with pytest.raises(EnsembleError, match="unknown ensemble"):
        default_weights("5s")


def test_fuse_is_normalised_weighted_mean():
    p1 = np.array([[0.9094, 0.0453, 0.0453], [0.2, 0.3, 0.5]])
    p2 = np.array([[0.2119, 0.5761, 0.2119], [0.6, 0.2, 0.2]])
    fused = fuse([p1, p2], [2, 1])
    assert fused == pytest.approx((2 * p1 + p2) / 3)
    assert fused.sum(axis=1) == pytest.approx([1.0, 1.0], abs=1e-4)
    # argmax equals the unnormalised official sum's argmax; probabilities differ by the factor Σw
    assert (fused.argmax(1) == (2 * p1 + p2).argmax(1)).all()
    assert fuse([p1], [5]) == pytest.approx(p1)
    with pytest.raises(EnsembleError, match="weights"):
        fuse([p1, p2], [1])
    with pytest.raises(EnsembleError, match="non-negative"):
        fuse([p1, p2], [1, -1])
    with pytest.raises(EnsembleError, match="shape"):
        fuse([p1, p2[:1]], [1, 1])


def _stream(tmp_path, name, probs, labels, names, run=None):
    d = tmp_path / name / "seed0"
    d.mkdir(parents=True)
    np.savez(d / "test_probs.npz", probs=probs.astype(np.float32), labels=labels, names=np.asarray(names),
             clip_logits=np.zeros((len(labels), 2, probs.shape[1]), dtype=np.float32))
    if run is not None:
        (d / "metrics.json").write_text(json.dumps({"run": dict(run, stream=name), "metrics": {},
                                                    "meta": {"wall_time_s": 10.0, "code_version": "v1"}}))
    return d / "test_probs.npz"


@pytest.fixture
def streams(tmp_path):
    rng = np.random.default_rng(0)
    n, c = 40, 5
    labels = np.repeat(np.arange(c), n // c)
    names = [f"s{i}" for i in range(n)]
    run = {"dataset": "nw_ucla", "benchmark": "default", "split": "nw_ucla_default_lt10", "backbone": "stgcnpp",
           "method": "brl", "seed": 0, "fidelity": "paper", "selection": "last"}
    probs = {}
    paths = {}
    for s in ("j", "b"):
        z = rng.normal(size=(n, c))
        z[np.arange(n), labels] += 1.0
        probs[s] = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        paths[s] = _stream(tmp_path, s, probs[s], labels, names, run)
    counts_table(np.repeat(np.arange(c), [50, 30, 20, 12, 5]), c).to_csv(tmp_path / "counts.csv", index=False)
    return {"labels": labels, "names": names, "probs": probs, "paths": paths, "counts": tmp_path / "counts.csv",
            "root": tmp_path}


def test_cli_writes_metrics_and_fused_probs(streams):
    out = streams["root"] / "ens-2s" / "seed0" / "metrics.json"
    rc = main(["--runs", str(streams["paths"]["j"]), str(streams["paths"]["b"]), "--streams", "j", "b",
               "--weights", "1", "1", "--counts", str(streams["counts"]), "--out", str(out)])
    assert rc == 0
    rec = json.loads(out.read_text())
    assert rec["run"]["stream"] == "ens-2s" and rec["run"]["method"] == "brl" and rec["run"]["seed"] == 0
    assert rec["meta"]["streams"] == ["j", "b"] and rec["meta"]["weights"] == [1.0, 1.0]
    assert rec["meta"]["wall_time_s"] == 20.0 and rec["meta"]["code_version"] == "v1"
    fused = (streams["probs"]["j"].astype(np.float32).astype(np.float64)
             + streams["probs"]["b"].astype(np.float32).astype(np.float64)) / 2
    want = compute_metrics(fused, streams["labels"], np.array([50, 30, 20, 12, 5]))
    assert rec["metrics"]["top1"] == pytest.approx(want["top1"])
    assert rec["metrics"]["nll"] == pytest.approx(want["nll"], rel=1e-5)
    with np.load(out.with_name("test_probs.npz")) as z:
        assert z["probs"] == pytest.approx(fused, abs=1e-6)
        assert list(z["names"]) == streams["names"]
    assert stat.S_IMODE(out.stat().st_mode) & 0o044          # readable like any output, not 0600
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]   # no temp files left


def test_default_weights_from_folder_name(streams):
    out = streams["root"] / "ens-2s" / "seed0" / "metrics.json"
    rec = run_ensemble([streams["paths"]["j"], streams["paths"]["b"]], ["j", "b"], None, streams["counts"], out)
    assert rec["meta"]["weights"] == [1.0, 1.0] and rec["run"]["stream"] == "ens-2s"


def _add_selection(path, rule, probs, labels, names, epoch):
    """Give a stream run a kept checkpoint of ``rule`` (its probabilities and a selections entry)."""
    np.savez(path.with_name(f"test_probs_{rule}.npz"), probs=probs.astype(np.float32), labels=labels,
             names=np.asarray(names))
    m = path.with_name("metrics.json")
    rec = json.loads(m.read_text())
    rec.setdefault("selections", {})[rule] = {"epoch": epoch, "probs_file": f"test_probs_{rule}.npz",
                                              "metrics": {"top1": 0.0}}
    m.write_text(json.dumps(rec))


def test_every_selection_all_streams_kept_is_fused(streams):
    """best_val probabilities of both streams are fused with the same weights into the ensemble's own
    best_val entry; best_test, which one stream lacks, is left out (never a mix of rules)."""
    rng = np.random.default_rng(1)
    n, c = len(streams["labels"]), 5
    val = {}
    for k, s in enumerate(("j", "b")):
        z = rng.normal(size=(n, c))
        val[s] = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        _add_selection(streams["paths"][s], "best_val", val[s], streams["labels"], streams["names"], 3 + k)
    _add_selection(streams["paths"]["j"], "best_test", val["j"], streams["labels"], streams["names"], 2)
    out = streams["root"] / "ens-2s" / "seed0" / "metrics.json"
    rec = run_ensemble([streams["paths"]["j"], streams["paths"]["b"]], ["j", "b"], [2, 1], streams["counts"], out)
    assert set(rec["selections"]) == {"best_val"} and rec["meta"]["selections_fused"] == ["last", "best_val"]
    sel = rec["selections"]["best_val"]
    assert sel["member_epochs"] == [3, 4] and sel["probs_file"] == "test_probs_best_val.npz"
    fused = (2 * val["j"].astype(np.float32).astype(np.float64) + val["b"].astype(np.float32)) / 3
    with np.load(out.with_name("test_probs_best_val.npz")) as z:
        assert z["probs"] == pytest.approx(fused, abs=1e-6)
    want = compute_metrics(fused, streams["labels"], np.array([50, 30, 20, 12, 5]))
    assert sel["metrics"]["top1"] == pytest.approx(want["top1"])
    assert json.loads(out.read_text())["selections"]["best_val"]["metrics"]["top1"] == pytest.approx(want["top1"])
    # the report reads it as one more row of the ensemble, selection best_val
    from benchmark.aggregate import load_records
    recs = load_records(out, streams["root"])
    assert [r.run["selection"] for r in recs] == ["last", "best_val"]
    assert recs[1].probs_path == out.with_name("test_probs_best_val.npz")


def test_mismatched_streams_are_clear_errors(streams, tmp_path, capsys):
    labels, names, p = streams["labels"], streams["names"], streams["probs"]["j"]
    other = _stream(tmp_path / "x", "reordered", p[::-1], labels[::-1], names[::-1])
    with pytest.raises(EnsembleError, match="different order"):
        run_ensemble([streams["paths"]["j"], other], ["j", "b"], [1, 1], streams["counts"], tmp_path / "o.json")
    renamed = _stream(tmp_path / "y", "renamed", p, labels, [n + "x" for n in names])
    with pytest.raises(EnsembleError, match="names differ"):
        run_ensemble([streams["paths"]["j"], renamed], ["j", "b"], [1, 1], streams["counts"], tmp_path / "o.json")
    relabelled = _stream(tmp_path / "z", "relabelled", p, (labels + 1) % 5, names)
    with pytest.raises(EnsembleError, match="label of sample 's0'"):
        run_ensemble([streams["paths"]["j"], relabelled], ["j", "b"], [1, 1], streams["counts"], tmp_path / "o.json")
    with pytest.raises(EnsembleError, match="does not exist"):
        run_ensemble([streams["paths"]["j"], tmp_path / "nope.npz"], ["j", "b"], [1, 1], streams["counts"],
                     tmp_path / "o.json")
    # the CLI turns errors into a message and exit code 2, and writes nothing
    rc = main(["--runs", str(streams["paths"]["j"]), str(relabelled), "--streams", "j", "b", "--weights", "1", "1",
               "--counts", str(streams["counts"]), "--out", str(tmp_path / "o.json")])
    assert rc == 2 and "error:" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()
