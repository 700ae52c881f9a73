"""Tables across runs and seeds (docs/evaluation.md, docs/workflow.md rule ``aggregate``).

    python -m benchmark.aggregate --runs-root results/demo/runs --runs <metrics.json ...> --out results/demo/tables

reads every ``metrics.json`` under the runs root (training runs and ensembles) and writes, atomically:

- ``runs.csv``: one row per run and selection rule (``last``, plus ``best_val``/``best_test`` where the
  run's ``selections`` report them; column ``selection``): the run fields, every scalar metric, the
  ten group errors (``err_g1`` … ``err_g10``) and the provenance fields of ``meta``;
- ``summary.csv``: mean and sample std (ddof 1) over seeds per
  dataset/benchmark/split/backbone/method/stream/fidelity/selection (``<metric>_mean``, ``<metric>_std``),
  and the 95 % bootstrap interval of the seed mean (``<metric>_lo``/``_hi`` for top-1, balanced accuracy,
  Few and the tail third): seeds and test samples resampled with ≥ 3 seeds, test samples only below
  (``interval``, ``interval_note``);
- ``pairwise.csv``: each method against ``ce`` and against ``brl`` (same split, backbone, stream and
  selection rule) and each ``official_code`` method against its ``paper`` twin (method id without the
  ``_official`` suffix): per-seed paired differences + t-test, the bootstrap of the seed-averaged
  difference and the verdict ``significant``, true only with ≥ 3 paired seeds, paired t-test p < 0.05
  and a seeds-and-test bootstrap interval excluding 0 (see :mod:`benchmark.stats`).

Library use: :func:`build_tables` takes a list of run records (:func:`collect_runs` with ``only``
loads exactly the given runs).

Accuracies are fractions (the report shows percent).
"""
from __future__ import annotations

import argparse
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from benchmark.ensemble import atomic_write_bytes
from benchmark.metrics import NUM_GROUPS, SCALAR_METRICS
from benchmark.stats import N_RESAMPLES, compare_methods, mean_interval, mean_std

RUN_FIELDS = ("dataset", "benchmark", "split", "backbone", "method", "method_name", "stream", "seed", "fidelity",
              "selection")
REQUIRED_RUN_FIELDS = ("dataset", "benchmark", "split", "backbone", "method", "stream", "seed")
RUN_DEFAULTS = {"fidelity": "paper", "selection": "last"}
GROUP_KEY = ("dataset", "benchmark", "split", "backbone", "method", "method_name", "stream", "fidelity", "selection")
PAIR_KEY = ("dataset", "benchmark", "split", "backbone", "stream", "selection")
COUNT_COLUMNS = ("n_test", "num_classes", "n_many", "n_medium", "n_few")
G10_COLUMNS = tuple(f"err_g{i + 1}" for i in range(NUM_GROUPS))
META_COLUMNS = ("wall_time_s", "train_samples_per_s", "hardware", "device", "code_version", "config_hash", "run_id")
SUMMARY_METRICS = SCALAR_METRICS + G10_COLUMNS + ("wall_time_s",)
#: single streams first (as in the paper), then the ensembles built from them
STREAM_ORDER = ("j", "b", "k", "jm", "bm", "km", "ens-2s", "ens-4s", "ens-6s")
BASELINES = ("ce", "brl")
#: metrics with seed statistics and bootstrap intervals (per-sample correctness suffices for these)
PAIR_METRICS = ("top1", "balanced_acc", "few", "tail")
OFFICIAL_SUFFIXES = ("_official_code", "_official")


class AggregateError(ValueError):
    pass


@dataclass
class RunRecord:
    """One metrics.json: ``path`` is the run folder relative to the runs root (POSIX)."""

    path: str
    run: Dict[str, object]
    metrics: Dict[str, object]
    meta: Dict[str, object]
    root: Path = field(repr=False, default=Path("."))
    #: the test probabilities of this record's checkpoint (``test_probs_<rule>.npz`` for a selection)
    probs_file: str = "test_probs.npz"

    @property
    def dir(self) -> Path:
        return self.root / self.path

    @property
    def probs_path(self) -> Path:
        return self.dir / self.probs_file

    def key(self, fields: Sequence[str]) -> tuple:
        return tuple(self.run[f] for f in fields)


def stream_sort_key(stream: str) -> tuple:
    return (STREAM_ORDER.index(stream), "") if stream in STREAM_ORDER else (len(STREAM_ORDER), stream)


def method_sort_key(method: str) -> tuple:
    """ce first, brl (and its variants) last, the rest alphabetical: the paper's row order."""
    base = paper_twin(method) or method
    return (0 if base == "ce" else (2 if base == "brl" else 1), base, method)


def paper_twin(method: str) -> Optional[str]:
    """'brl_official' → 'brl' (the paper-mode method an official_code variant is compared with)."""
    for suf in OFFICIAL_SUFFIXES:
        if method.endswith(suf) and len(method) > len(suf):
            return method[: -len(suf)]
    return None


def load_records(path: Path, root: Path) -> List[RunRecord]:
    """One record per model selection of a run: ``last`` (the metrics.json itself), then one per
    entry of its ``selections`` (``best_val``, ``best_test``) with that checkpoint's metrics and
    probabilities file. One training thus gives a row per selection rule; the report keeps
    ``best_test`` rows apart (benchmark.engine.selection.split_by_label)."""
    base = load_record(path, root)
    raw = json.loads(Path(path).read_text())
    sels = raw.get("selections") or {}
    out = [base]
    for rule in sorted(sels, key=lambda r: ("best_val", "best_test").index(r) if r in ("best_val", "best_test")
                       else 2):
        sel = sels[rule]
        if rule == base.run["selection"]:
            continue
        if not isinstance(sel, dict) or not isinstance(sel.get("metrics"), dict):
            raise AggregateError(f"{path}: selections.{rule} has no 'metrics' object")
        run = dict(base.run, selection=rule, selected_epoch=sel.get("epoch"))
        out.append(RunRecord(path=base.path, run=run, metrics=sel["metrics"], meta=base.meta, root=root,
                             probs_file=str(sel.get("probs_file") or f"test_probs_{rule}.npz")))
    return out


def load_record(path: Path, root: Path) -> RunRecord:
    try:
        with open(path) as f:
            raw = json.load(f)
    except json.JSONDecodeError as e:
        raise AggregateError(f"{path}: not valid JSON ({e}); delete it and re-run the job that wrote it") from None
    for part in ("run", "metrics"):
        if not isinstance(raw.get(part), dict):
            raise AggregateError(f"{path}: no '{part}' object; expected keys run, metrics, meta")
    meta = dict(raw.get("meta") or {})
    run = dict(raw["run"])
    if run.get("selection") is None and meta.get("selection"):   # written by the checkpoint-selection step
        run["selection"] = meta["selection"]
    run = dict(RUN_DEFAULTS, **{k: v for k, v in run.items() if v is not None})
    # the registered method behind a config id (e.g. id 'plain' = method 'ce' with another recipe)
    run.setdefault("method_name", paper_twin(str(run.get("method"))) or run.get("method"))
    missing = [k for k in REQUIRED_RUN_FIELDS if run.get(k) is None]
    if missing:
        raise AggregateError(f"{path}: run fields {missing} are missing")
    run["seed"] = int(run["seed"])
    rel = path.parent.relative_to(root).as_posix()
    return RunRecord(path=rel, run=run, metrics=raw["metrics"], meta=meta, root=root)


def collect_runs(runs_root: Path, only: Optional[Sequence[Path]] = None) -> List[RunRecord]:
    """The runs to tabulate, sorted by path (deterministic).

    ``only``: the metrics.json files of the runs a config declares (the workflow passes its rule
    inputs), each inside ``runs_root``; without it, every metrics.json below ``runs_root``."""
    runs_root = Path(runs_root)
    if not runs_root.is_dir():
        raise AggregateError(f"runs root '{runs_root}' is not a directory")
    if only is None:
        paths = sorted(runs_root.rglob("metrics.json"))
    else:
        paths = []
        root_abs = runs_root.resolve()
        for p in only:
            p = Path(p)
            p = p / "metrics.json" if p.is_dir() else p
            if not p.exists():
                raise AggregateError(f"{p}: run result not found; run the workflow (or the job) that writes it")
            try:
                p.resolve().relative_to(root_abs)
            except ValueError:
                raise AggregateError(f"{p}: not inside the runs root '{runs_root}'") from None
            paths.append(p)
        paths = sorted(set(paths))
    records = [r for p in paths for r in load_records(p, runs_root)]
    return check_unique(records)


def check_unique(records: List[RunRecord]) -> List[RunRecord]:
    seen: Dict[tuple, str] = {}
    for r in records:
        k = r.key(RUN_FIELDS)
        if k in seen:
            raise AggregateError(f"runs '{seen[k]}' and '{r.path}' have identical run fields {dict(zip(RUN_FIELDS, k))}")
        seen[k] = r.path
    return records


def runs_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    rows = []
    for r in records:
        row = {f: r.run[f] for f in RUN_FIELDS}
        for m in COUNT_COLUMNS + SCALAR_METRICS:
            row[m] = r.metrics.get(m)
        g10 = list(r.metrics.get("group10_error") or [None] * NUM_GROUPS)
        for col, v in zip(G10_COLUMNS, g10 + [None] * (NUM_GROUPS - len(g10))):
            row[col] = v
        for m in META_COLUMNS:
            v = r.meta.get(m)
            row[m] = " / ".join(map(str, v)) if isinstance(v, list) else v
        row["path"] = r.path
        rows.append(row)
    cols = list(RUN_FIELDS) + list(COUNT_COLUMNS) + list(SCALAR_METRICS) + list(G10_COLUMNS) + list(META_COLUMNS) + ["path"]
    df = pd.DataFrame(rows, columns=cols)
    return sort_frame(df)


def sort_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Deterministic order: split, backbone, method (paper order), stream (singles then ensembles), seed."""
    if df.empty:
        return df.reset_index(drop=True)
    keys = df.apply(lambda r: (r["dataset"], r["benchmark"], r["split"], r["backbone"], method_sort_key(r["method"]),
                               stream_sort_key(r["stream"]), r.get("fidelity", ""), r.get("selection", ""),
                               r.get("seed", 0)), axis=1)
    return df.iloc[sorted(range(len(df)), key=lambda i: keys.iloc[i])].reset_index(drop=True)


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean ± sample std over seeds per GROUP_KEY."""
    cols = list(GROUP_KEY) + ["n_seeds", "seeds", "num_classes", "n_many", "n_medium", "n_few"]
    cols += [f"{m}_{s}" for m in SUMMARY_METRICS for s in ("mean", "std")]
    rows = []
    if not runs.empty:
        for key, g in runs.groupby(list(GROUP_KEY), sort=True, dropna=False):
            row = dict(zip(GROUP_KEY, key))
            row["n_seeds"] = int(len(g))
            row["seeds"] = " ".join(str(s) for s in sorted(g["seed"]))
            for c in ("num_classes", "n_many", "n_medium", "n_few"):
                row[c] = g[c].iloc[0]
            for m in SUMMARY_METRICS:
                ms = mean_std(_values(g[m]))
                row[f"{m}_mean"], row[f"{m}_std"] = ms["mean"], ms["std"]
            rows.append(row)
    return sort_frame(pd.DataFrame(rows, columns=cols))


def _values(series: pd.Series) -> List[Optional[float]]:
    return [None if (v is None or (isinstance(v, float) and np.isnan(v))) else float(v) for v in series]


# ---------------------------------------------------------------------------------------------
# pairwise comparisons

def comparison_pairs(records: Sequence[RunRecord]) -> List[Tuple[str, tuple, str, str]]:
    """(comparison, pair key, method A, method B): every method vs ce and vs brl, official vs paper."""
    by_key: Dict[tuple, Dict[str, str]] = {}
    for r in records:
        by_key.setdefault(r.key(PAIR_KEY), {})[str(r.run["method"])] = str(r.run["fidelity"])
    pairs = []
    for key in sorted(by_key, key=lambda k: (k[:4], stream_sort_key(k[4]), k[5])):
        methods = by_key[key]
        fidelity = []
        for m in sorted(methods, key=method_sort_key):
            twin = paper_twin(m)
            if twin in methods and methods[m] == "official_code" and methods[twin] == "paper":
                fidelity.append(("fidelity", key, twin, m))
        # each unordered pair once: ce vs brl mirrors brl vs ce, brl_official vs brl is a fidelity pair
        done = {frozenset(p[2:]) for p in fidelity}
        for base in BASELINES:
            for m in sorted(methods, key=method_sort_key):
                if base in methods and m != base and frozenset((m, base)) not in done:
                    pairs.append((f"vs_{base}", key, m, base))
                    done.add(frozenset((m, base)))
        pairs.extend(fidelity)
    return pairs


class _CorrectCache:
    """Top-1 correctness per run from test_probs.npz, loaded once."""

    def __init__(self) -> None:
        self._c: Dict[Tuple[str, str], Optional[tuple]] = {}

    def get(self, rec: RunRecord) -> Optional[tuple]:
        key = (rec.path, rec.probs_file)
        if key not in self._c:
            p = rec.probs_path
            if not p.exists():
                self._c[key] = None
            else:
                with np.load(p, allow_pickle=False) as z:
                    labels = z["labels"].astype(np.int64)
                    names = z["names"].astype(str) if "names" in z.files else None
                    correct = z["probs"].argmax(axis=1) == labels
                self._c[key] = (labels, names, correct)
        return self._c[key]


def pairwise_table(records: Sequence[RunRecord], n_resamples: int = N_RESAMPLES, seed: int = 0,
                   metrics: Sequence[str] = PAIR_METRICS) -> pd.DataFrame:
    """Every comparison of :func:`comparison_pairs`, per metric, through :func:`benchmark.stats.compare_methods`:
    seed-paired differences and t-test, the bootstrap (two-level with ≥ 3 seeds, else test-only) and the
    verdict (``significant`` only with ≥ 3 seeds, p < 0.05 and a two-level interval excluding 0)."""
    index: Dict[tuple, Dict[int, RunRecord]] = {}
    for r in records:
        index.setdefault(r.key(PAIR_KEY) + (r.run["method"],), {})[int(r.run["seed"])] = r
    cache = _CorrectCache()
    rows = []
    for comparison, key, ma, mb in comparison_pairs(records):
        ra, rb = index[key + (ma,)], index[key + (mb,)]
        seeds = sorted(set(ra) & set(rb))
        corr, note = _correctness([[ra[s] for s in seeds], [rb[s] for s in seeds]], cache)
        counts = _train_counts(ra[seeds[0]]) if seeds else None
        va = {s: ra[s].metrics for s in seeds}
        vb = {s: rb[s].metrics for s in seeds}
        res = compare_methods(va, vb, labels=corr[2] if corr else None, correct_a=corr[0] if corr else None,
                              correct_b=corr[1] if corr else None, train_counts=counts, metrics=metrics,
                              n_resamples=n_resamples, seed=seed, num_classes=len(counts) if counts is not None else None,
                              groups=ra[seeds[0]].metrics.get("groups") if seeds else None)
        for metric in metrics:
            t = res[metric]
            if t["n_seeds"] == 0:       # the metric does not exist here (e.g. Few on an NTU split at ratio 10)
                continue
            rows.append({
                **dict(zip(PAIR_KEY, key)), "comparison": comparison, "method_a": ma, "method_b": mb,
                "fidelity_a": ra[seeds[0]].run["fidelity"], "fidelity_b": rb[seeds[0]].run["fidelity"],
                "metric": metric, "n_seeds": t["n_seeds"], "seeds": " ".join(map(str, t["seeds"])),
                "mean_a": mean_std(va[s].get(metric) for s in t["seeds"])["mean"],
                "mean_b": mean_std(vb[s].get(metric) for s in t["seeds"])["mean"],
                "mean_diff": t["mean_diff"], "std_diff": t["std_diff"], "n_positive": t["n_positive"],
                "t_stat": t["t_stat"], "p_value": t["p_value"], "t_lo": t["t_lo"], "t_hi": t["t_hi"],
                "boot_diff": t["boot_diff"], "ci_lo": t["ci_lo"], "ci_hi": t["ci_hi"], "interval": t["levels"],
                "significant": bool(t["significant"]), "n_resamples": t["n_resamples"],
                "note": "; ".join(x for x in (t["note"], note) if x),
            })
    return pd.DataFrame(rows, columns=PAIRWISE_COLUMNS)


PAIRWISE_COLUMNS = list(PAIR_KEY) + [
    "comparison", "method_a", "method_b", "fidelity_a", "fidelity_b", "metric", "n_seeds", "seeds", "mean_a", "mean_b",
    "mean_diff", "std_diff", "n_positive", "t_stat", "p_value", "t_lo", "t_hi", "boot_diff", "ci_lo", "ci_hi",
    "interval", "significant", "n_resamples", "note"]


def _train_counts(rec: RunRecord) -> Optional[np.ndarray]:
    c = rec.metrics.get("train_counts")
    return np.asarray(c) if c is not None else None


def _correctness(groups: Sequence[Sequence[RunRecord]], cache: "_CorrectCache"):
    """((S, N) correctness per group, ..., labels), "" or (None, why) when test predictions are missing
    or the runs were not tested on the same samples."""
    out, ref = [], None
    for recs in groups:
        rows = []
        for rec in recs:
            got = cache.get(rec)
            if got is None:
                return None, f"no {rec.probs_file} in {rec.path}"
            labels, names, correct = got
            if ref is None:
                ref = (labels, names, rec)
            elif not np.array_equal(labels, ref[0]) or (names is not None and ref[1] is not None
                                                       and not np.array_equal(names, ref[1])):
                return None, f"test samples of {rec.path} differ from {ref[2].path}"
            rows.append(correct)
        if not rows:
            return None, "no runs"
        out.append(np.stack(rows))
    return (*out, ref[0]), ""


def summary_intervals(summary: pd.DataFrame, records: Sequence[RunRecord], n_resamples: int = N_RESAMPLES,
                      seed: int = 0, metrics: Sequence[str] = PAIR_METRICS) -> pd.DataFrame:
    """Adds ``<metric>_lo``/``<metric>_hi`` (95 % bootstrap interval of the seed mean: seeds and test
    samples with ≥ 3 seeds, test samples only below), ``interval`` and ``interval_note``."""
    groups: Dict[tuple, List[RunRecord]] = {}
    for r in records:
        groups.setdefault(r.key(GROUP_KEY), []).append(r)
    cache = _CorrectCache()
    cols = {f"{m}_{b}": [] for m in metrics for b in ("lo", "hi")}
    kinds, notes = [], []
    for _, row in summary.iterrows():
        recs = sorted(groups.get(tuple(row[k] for k in GROUP_KEY), []), key=lambda r: r.run["seed"])
        corr, why = _correctness([recs], cache) if recs else (None, "no runs")
        res = {}
        if corr:
            counts = _train_counts(recs[0])
            ok = [m for m in metrics if m in ("top1", "balanced_acc") or counts is not None]
            res = mean_interval(corr[1], corr[0], counts, metrics=ok, n_resamples=n_resamples, seed=seed,
                                num_classes=len(counts) if counts is not None else None,
                                groups=recs[0].metrics.get("groups"))
        for m in metrics:
            r = res.get(m) or {}
            cols[f"{m}_lo"].append(r.get("lo"))
            cols[f"{m}_hi"].append(r.get("hi"))
        any_r = next((v for v in res.values() if v.get("levels")), {})
        kinds.append(any_r.get("levels"))
        notes.append(any_r.get("note") or why or "")
    out = summary.copy()
    for c, v in cols.items():
        out[c] = pd.Series(v, index=summary.index, dtype=float)
    out["interval"] = kinds
    out["interval_note"] = notes
    return out


# ---------------------------------------------------------------------------------------------

def write_csv_atomic(df: pd.DataFrame, path: Path) -> None:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n")
    data = buf.getvalue().encode()
    atomic_write_bytes(Path(path), lambda f: f.write(data))


def build_tables(records: Sequence[RunRecord], n_resamples: int = N_RESAMPLES, seed: int = 0) -> Dict[str, pd.DataFrame]:
    """runs, summary (with seed-mean intervals) and pairwise tables of the given records."""
    runs = runs_table(records)
    summary = summary_intervals(summary_table(runs), records, n_resamples, seed)
    return {"runs": runs, "summary": summary, "pairwise": pairwise_table(records, n_resamples, seed)}


def write_tables(tables: Dict[str, pd.DataFrame], out: Path) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        write_csv_atomic(df, out / f"{name}.csv")


def aggregate(source, out: Optional[Path] = None, n_resamples: int = N_RESAMPLES, seed: int = 0,
              only: Optional[Sequence[Path]] = None) -> Dict[str, pd.DataFrame]:
    """Tables from ``source``: a runs root (with ``only``: just those metrics.json files inside it;
    without: every run below it) or a list of :class:`RunRecord`; written to ``out`` when given."""
    if isinstance(source, (str, Path)):
        records = collect_runs(Path(source), only)
    else:
        records = list(source)
        if not all(isinstance(r, RunRecord) for r in records):
            raise TypeError("aggregate(): pass a runs root folder or a list of RunRecord")
    tables = build_tables(records, n_resamples, seed)
    if out is not None:
        write_tables(tables, out)
    return tables


def read_table(path: Path) -> pd.DataFrame:
    """Read a table written here back (strings kept as strings, empty cells as NaN)."""
    return pd.read_csv(path, dtype={"seeds": str, "note": str, "hardware": str, "device": str,
                                     "code_version": str, "config_hash": str, "run_id": str, "interval": str,
                                     "interval_note": str})


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmark.aggregate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs-root", type=Path, default=Path("results/demo/runs"))
    ap.add_argument("--runs", type=Path, nargs="+", default=None,
                    help="the metrics.json files (or run folders) to tabulate; default: all below --runs-root")
    ap.add_argument("--out", type=Path, default=Path("results/demo/tables"))
    ap.add_argument("--n-resamples", type=int, default=N_RESAMPLES, help="bootstrap resamples (spec: 10 000)")
    ap.add_argument("--seed", type=int, default=0, help="bootstrap RNG seed")
    args = ap.parse_args(argv)
    try:
        t = aggregate(args.runs_root, args.out, args.n_resamples, args.seed, only=args.runs)
    except (AggregateError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{len(t['runs'])} runs, {len(t['summary'])} configurations, {len(t['pairwise'])} comparisons -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
