"""Multi-stream ensembles: weighted fusion of saved test probabilities (docs/evaluation.md).

p_ens = Σ_s w_s · p̄_s / Σ_s w_s, with p̄_s the 10-clip-averaged probabilities of stream s. The
official code omits the division; argmax is the same either way, but ECE and NLL need normalised
probabilities. Fusion is per seed: the CLI fuses the runs of one seed and scores the result.

CLI (one ensemble of one seed)::

    python -m benchmark.ensemble --runs j/seed0/test_probs.npz b/seed0/test_probs.npz \\
        --streams j b --weights 1 1 --counts results/splits/x_counts.csv \\
        --out .../ens-2s/seed0/metrics.json

writes ``metrics.json`` (same structure as a training run, ``run.stream = "ens-<name>"``,
``meta.streams`` / ``meta.weights``) and the fused ``test_probs.npz`` beside it, both atomically.
Where every member run also kept a ``best_val`` (or, in official_code mode, ``best_test``)
checkpoint, those probabilities (``test_probs_<rule>.npz``) are fused with the same weights too:
the ensemble's metrics.json then has a ``selections`` entry per rule, like a training run's, and
the report shows one ensemble row per selection rule (``best_test`` in its own, labelled section).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from benchmark.io import atomic_write as atomic_write_bytes  # noqa: F401 (also used by report, aggregate)
from benchmark.engine.selection import RULES, label as selection_label
from benchmark.metrics import compute_metrics, load_counts_csv, load_groups_csv
from benchmark.workflow import DATASET_ENSEMBLES, DEFAULT_ENSEMBLES, default_ensemble_weights

#: default fusion weights per ensemble name, and the per-dataset overrides (Kinetics 4-stream is
#: 3:3:1:1): kept once, in benchmark.workflow, which the workflow reads at parse time
ENSEMBLES: Dict[str, Dict[str, float]] = DEFAULT_ENSEMBLES


class EnsembleError(ValueError):
    """Stream outputs that cannot be fused (mismatched samples, shapes, weights)."""


def default_weights(name: str, dataset: Optional[str] = None) -> Dict[str, float]:
    """Stream → weight for ensemble ``name`` ('2s', '4s', '6s'), with the dataset's override if any."""
    w = default_ensemble_weights(name, dataset)
    if w is None:
        raise EnsembleError(f"unknown ensemble '{name}'; defaults exist for "
                            f"{sorted(dict(ENSEMBLES, **DATASET_ENSEMBLES.get(dataset or '', {})))} "
                            "(pass --streams and --weights explicitly)")
    return w


def fuse(probs_list: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """p_ens = Σ_s w_s p_s / Σ_s w_s (docs/evaluation.md). All arrays must share the shape (N, C)."""
    if len(probs_list) == 0:
        raise EnsembleError("nothing to fuse: no stream probabilities given")
    if len(probs_list) != len(weights):
        raise EnsembleError(f"{len(probs_list)} probability arrays but {len(weights)} weights")
    w = np.asarray(weights, dtype=np.float64)
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise EnsembleError(f"weights must be non-negative with a positive sum, got {list(weights)}")
    shape = np.shape(probs_list[0])
    for i, p in enumerate(probs_list):
        if np.shape(p) != shape:
            raise EnsembleError(f"stream {i} has probabilities of shape {np.shape(p)}, stream 0 has {shape}")
    stacked = np.stack([np.asarray(p, dtype=np.float64) for p in probs_list])   # (S, N, C)
    return np.tensordot(w, stacked, axes=1) / w.sum()


def load_test_probs(path: Path) -> Dict[str, np.ndarray]:
    """probs, labels, names from a run's ``test_probs.npz`` with a clear error when absent/incomplete."""
    path = Path(path)
    if not path.exists():
        raise EnsembleError(f"'{path}' does not exist; train (or re-run) that stream first")
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("probs", "labels", "names") if k not in z.files]
            if missing:
                raise EnsembleError(f"{path}: missing arrays {missing} (has {z.files})")
            return {"probs": z["probs"], "labels": z["labels"].astype(np.int64), "names": z["names"].astype(str)}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        if isinstance(e, EnsembleError):
            raise
        raise EnsembleError(f"{path}: cannot read the test probabilities (truncated or corrupt: {e}); delete the "
                            "run's folder and train it again") from None


def check_aligned(runs: Sequence[Dict[str, np.ndarray]], paths: Sequence[Path]) -> None:
    """Every stream must score the same test samples in the same order with the same labels."""
    ref, ref_path = runs[0], paths[0]
    for r, p in zip(runs[1:], paths[1:]):
        if r["probs"].shape != ref["probs"].shape:
            raise EnsembleError(f"{p}: probs shape {r['probs'].shape} differs from {ref_path}: "
                                f"{ref['probs'].shape}; were the streams run on the same split?")
        if not np.array_equal(r["names"], ref["names"]):
            if set(r["names"].tolist()) == set(ref["names"].tolist()):
                raise EnsembleError(f"{p}: same test samples as {ref_path} but in a different order; "
                                    "re-run testing so both use the split's order")
            i = int(np.flatnonzero(r["names"] != ref["names"])[0]) if len(r["names"]) == len(ref["names"]) else 0
            raise EnsembleError(f"{p}: test sample names differ from {ref_path} (first at position {i}: "
                                f"'{r['names'][i]}' vs '{ref['names'][i]}'); the streams come from different splits")
        if not np.array_equal(r["labels"], ref["labels"]):
            i = int(np.flatnonzero(r["labels"] != ref["labels"])[0])
            raise EnsembleError(f"{p}: label of sample '{ref['names'][i]}' is {r['labels'][i]} but "
                                f"{ref['labels'][i]} in {ref_path}; the prepared data differ, re-prepare")


def write_json_atomic(path: Path, obj) -> None:
    data = (json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()
    atomic_write_bytes(Path(path), lambda f: f.write(data))


def write_npz_atomic(path: Path, **arrays) -> None:
    atomic_write_bytes(Path(path), lambda f: np.savez(f, **arrays))


def _member_record(npz_path: Path) -> dict:
    """The training run's metrics.json beside its test_probs.npz (run fields and meta), or {}."""
    p = Path(npz_path).with_name("metrics.json")
    if not p.exists():
        return {}
    with open(p) as f:
        return json.load(f)


def shared_selections(members: Sequence[dict]) -> List[str]:
    """The selection rules besides the record's own (``best_val``, ``best_test``) that every member
    run reports in its metrics.json ``selections``, in :data:`RULES` order; a rule one member lacks
    is left out (an ensemble never mixes checkpoints chosen by different rules)."""
    if not members:
        return []
    own = {str(m.get("run", {}).get("selection") or "last") for m in members}
    have = [set((m.get("selections") or {}).keys()) for m in members]
    common = set.intersection(*have) - own
    return [r for r in RULES if r in common]


def ensemble_name_from(out: Path, n_streams: int) -> str:
    """'4s' from …/ens-4s/seed0/metrics.json; else '<S>s'."""
    parent = Path(out).parent.parent.name
    return parent[4:] if parent.startswith("ens-") else f"{n_streams}s"


def run_ensemble(runs: Sequence[Path], streams: Sequence[str], weights: Optional[Sequence[float]],
                 counts: Path, out: Path, name: Optional[str] = None) -> dict:
    """Fuse, score and write one ensemble; returns the metrics.json record."""
    t0 = time.perf_counter()
    runs = [Path(r) for r in runs]
    if len(streams) != len(runs):
        raise EnsembleError(f"{len(runs)} --runs but {len(streams)} --streams; give one stream name per run")
    if len(set(streams)) != len(streams):
        raise EnsembleError(f"--streams contains duplicates: {list(streams)}")
    name = name or ensemble_name_from(Path(out), len(runs))
    members = [_member_record(r) for r in runs]
    run_fields = dict(members[0].get("run", {}))
    if weights is None:
        table = default_weights(name, run_fields.get("dataset"))
        missing = [s for s in streams if s not in table]
        if missing:
            raise EnsembleError(f"no default weight for streams {missing} in ensemble '{name}' ({table}); "
                                "pass --weights")
        weights = [table[s] for s in streams]
    if len(weights) != len(runs):
        raise EnsembleError(f"{len(runs)} --runs but {len(weights)} --weights")

    data = [load_test_probs(r) for r in runs]
    check_aligned(data, runs)
    for r, m in zip(runs, members):      # the member runs must agree on what they are
        for key in ("dataset", "benchmark", "split", "backbone", "method", "seed"):
            a, b = run_fields.get(key), m.get("run", {}).get(key)
            if a is not None and b is not None and a != b:
                raise EnsembleError(f"{r}: run field {key}={b!r} differs from {runs[0]} ({a!r}); "
                                    "an ensemble fuses streams of one method and seed")
    probs = fuse([d["probs"] for d in data], weights)
    train_counts = load_counts_csv(counts, probs.shape[1])
    metrics = compute_metrics(probs, data[0]["labels"], train_counts, where=f"ensemble {out}",
                              groups=load_groups_csv(counts))

    run_fields["stream"] = f"ens-{name}"
    metas = [m.get("meta", {}) for m in members]
    walls = [mt.get("wall_time_s") for mt in metas]
    meta = {
        "streams": list(streams),
        "weights": [float(w) for w in weights],
        "sources": [str(r) for r in runs],
        "member_wall_time_s": walls,
        # the training cost of an ensemble is the sum of its streams' runs
        "wall_time_s": float(sum(w for w in walls if w is not None)) if any(w is not None for w in walls) else None,
        "fuse_time_s": None,
        # the ensemble's identity: its members' identities and the fusion weights
        "member_run_ids": [mt.get("run_id") for mt in metas],
    }
    if all(mt.get("run_id") for mt in metas):
        import hashlib
        blob = json.dumps({"members": meta["member_run_ids"], "streams": list(streams),
                           "weights": meta["weights"]}, sort_keys=True).encode()
        meta["run_id"] = hashlib.sha256(blob).hexdigest()[:20]
    for key in ("hardware", "device", "code_version", "config_hash"):
        vals = sorted({str(mt[key]) for mt in metas if mt.get(key) is not None})
        if vals:
            meta[key] = vals[0] if len(vals) == 1 else vals
    out = Path(out)
    write_npz_atomic(out.with_name("test_probs.npz"), probs=probs.astype(np.float32),
                     labels=data[0]["labels"], names=data[0]["names"],
                     streams=np.asarray(streams), weights=np.asarray(weights, dtype=np.float64))
    # the other selection rules every member has (best_val, best_test): fused the same way, so a
    # six-stream ensemble exists per rule and meets the official code's test-selected numbers
    selections = {}
    for rule in shared_selections(members):
        files = [r.with_name(m["selections"][rule].get("probs_file") or f"test_probs_{rule}.npz")
                 for r, m in zip(runs, members)]
        sel_data = [load_test_probs(f) for f in files]
        check_aligned(sel_data, files)
        if not np.array_equal(sel_data[0]["names"], data[0]["names"]):
            raise EnsembleError(f"{files[0]}: test samples differ from {runs[0]}; re-run that stream")
        p_sel = fuse([d["probs"] for d in sel_data], weights)
        probs_file = f"test_probs_{rule}.npz"
        write_npz_atomic(out.with_name(probs_file), probs=p_sel.astype(np.float32), labels=data[0]["labels"],
                         names=data[0]["names"], streams=np.asarray(streams),
                         weights=np.asarray(weights, dtype=np.float64))
        selections[rule] = {"label": selection_label(rule), "probs_file": probs_file,
                            "member_epochs": [m["selections"][rule].get("epoch") for m in members],
                            "metrics": compute_metrics(p_sel, data[0]["labels"], train_counts,
                                                       where=f"ensemble {out} ({rule})",
                                                       groups=load_groups_csv(counts))}
    meta["selections_fused"] = [run_fields.get("selection") or "last"] + list(selections)
    meta["fuse_time_s"] = round(time.perf_counter() - t0, 3)
    record = {"run": run_fields, "metrics": metrics, "meta": meta}
    if selections:
        record["selections"] = selections
    write_json_atomic(out, record)
    return record


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmark.ensemble", description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", nargs="+", required=True, type=Path, help="test_probs.npz of each stream (one seed)")
    ap.add_argument("--streams", nargs="+", required=True, help="stream name of each --runs entry (j b k jm bm km)")
    ap.add_argument("--weights", nargs="+", type=float, default=None,
                    help="fusion weight per stream; default from ENSEMBLES by ensemble name")
    ap.add_argument("--counts", required=True, type=Path, help="the split's *_counts.csv (training counts)")
    ap.add_argument("--out", required=True, type=Path, help="…/ens-<name>/seed<s>/metrics.json")
    ap.add_argument("--name", default=None, help="ensemble name (default: from the ens-<name> folder of --out)")
    args = ap.parse_args(argv)
    try:
        rec = run_ensemble(args.runs, args.streams, args.weights, args.counts, args.out, args.name)
    except (EnsembleError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    m = rec["metrics"]
    print(f"{rec['run'].get('stream')}: top1={m['top1']:.4f} balanced={m['balanced_acc']:.4f} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
