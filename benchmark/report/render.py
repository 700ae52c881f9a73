"""The HTML report: index, one page per paper table, per-backbone detail pages, provenance.

Defined in docs/workflow.md and docs/evaluation.md; laid out after the BRL paper's Tables I–VIII and Figures 6–7.

Everything is computed from the run folders (metrics.json, test_probs.npz, epochs.csv), the split
counts, the prepared-dataset tables and the packaged ``paper_results.csv``; the only thing read from
``--tables`` is ``pairwise.csv`` (the bootstrap is the expensive part; it is recomputed when absent).
Pages are rendered with jinja2 (package loader, StrictUndefined, autoescape) and are self-contained:
inline CSS and inline SVG figures, no JavaScript, no external resources, no timestamps, no absolute
paths. Iteration is always over sorted keys so two renders from the same inputs are byte-identical.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from benchmark.aggregate import (RunRecord, collect_runs, method_sort_key, pairwise_table, paper_twin,
                                 read_table, runs_table, stream_sort_key, summary_table)
from benchmark.data.splits import frequency_rank, shot_group, ten_group_index
from benchmark.metrics import confusion_matrix, reliability_bins
from benchmark.report import figures

#: our backbone ids → the paper csv's
BACKBONE_TO_PAPER = {"stgcnpp": "stgcn++", "ctrgcn": "ctrgcn", "msg3d": "msg3d"}
#: our stream ids → the paper csv's ``streams``
STREAM_TO_PAPER = {"j": "j", "b": "b", "k": "k", "jm": "jm", "bm": "bm", "km": "km",
                   "ens-2s": "j+b", "ens-4s": "4s", "ens-6s": "6s"}
#: the imbalance setting the paper's "long_tailed" columns use, per dataset (docs/training.md)
PAPER_SPLIT_SUFFIX = {"ntu60": "lt100", "ntu120": "lt100", "nw_ucla": "lt10", "kinetics": "natural"}
#: paper group → our metric
GROUP_TO_METRIC = {"all": "top1", "many": "many", "medium": "medium", "few": "few"}
PAPER_TABLES = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "readme")
TABLE_TITLES = {
    "I": "Table I: NTU 60-LT, compared models and BRL",
    "II": "Table II: NTU 120-LT, compared models and BRL",
    "III": "Table III: long-tailed methods, joint stream, X-Sub (Overall / Many / Medium / Few)",
    "IV": "Table IV: NW-UCLA-LT",
    "V": "Table V: Kinetics-Skeleton 400",
    "VI": "Table VI: ablations, NTU 60-LT joint stream",
    "VII": "Table VII: component study, NTU 60-LT X-Sub",
    "VIII": "Table VIII: BRL on other backbones, NTU 60-LT",
    "readme": "Official BRL README: per-stream numbers",
}
SELECTION_LABELS = {"best_test": "best_test: selected on test (optimistic)"}
RESULT_COLUMNS = (("top1", "top-1"), ("top5", "top-5"), ("balanced_acc", "bal. acc"), ("many", "Many"),
                  ("medium", "Medium"), ("few", "Few"), ("many_minus_few", "Many−Few"),
                  ("head_minus_tail", "head−tail (thirds)"), ("worst_class", "worst class"), ("ece", "ECE"), ("nll", "NLL"))
PERCENT_METRICS = {"top1", "top5", "balanced_acc", "many", "medium", "few", "many_minus_few", "head_minus_tail",
                   "worst_class", "bottom10", "head", "middle", "tail", "fig7_head_error", "fig7_middle_error",
                   "fig7_tail_error"}


# ---------------------------------------------------------------------------------------------
# formatting (fixed, so output is stable)

def _num(x) -> Optional[float]:
    if x is None:
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(x) else x


def fmt_metric(metric: str, mean, std=None) -> str:
    """'76.7 ± 0.3' for percentages (input fractions), '0.035 ± 0.004' for ECE/NLL; 'n/a' when missing."""
    m, s = _num(mean), _num(std)
    if m is None:
        return "n/a"
    if metric in PERCENT_METRICS:
        return f"{100 * m:.1f}" + (f" ± {100 * s:.1f}" if s is not None else "")
    return f"{m:.3f}" + (f" ± {s:.3f}" if s is not None else "")


def fmt_signed(x, digits: int = 1) -> str:
    v = _num(x)
    return "n/a" if v is None else f"{v:+.{digits}f}"


def fmt_p(p) -> str:
    v = _num(p)
    return "n/a" if v is None else (f"{v:.3f}" if v >= 0.001 else "<0.001")


def fmt_seconds(s) -> str:
    v = _num(s)
    if v is None:
        return "n/a"
    v = int(round(v))
    h, rem = divmod(v, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h {m:02d}m" if h else (f"{m}m {sec:02d}s" if m else f"{sec}s")


def cell(text: str, cls: str = "") -> Dict[str, str]:
    return {"text": text, "cls": cls}


def slug(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", "_".join(str(p) for p in parts)).strip("-")


def split_ratio(split: str) -> str:
    return split.rsplit("_", 1)[-1] if "_" in split else split


# ---------------------------------------------------------------------------------------------
# inputs

@dataclass
class ReportInputs:
    runs_root: Path
    out: Path
    #: the metrics.json files of the config's runs (None: every run below runs_root)
    runs: Optional[List[Path]] = None
    splits_root: Optional[Path] = None
    tables: Optional[Path] = None
    paper_results: Optional[Path] = None
    config: Optional[Path] = None
    data_root: Optional[Path] = None
    n_resamples: int = 10_000


def load_paper_results(path: Optional[Path] = None) -> pd.DataFrame:
    """The project's copy of paper_results.csv (package data) or the given file."""
    if path is None:
        with resources.files("benchmark").joinpath("resources/paper_results.csv").open("r") as f:
            df = pd.read_csv(f, dtype=str, keep_default_na=False)
    else:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    need = {"source", "table", "dataset", "benchmark", "setting", "backbone", "method", "streams", "group",
            "metric", "value"}
    missing = sorted(need - set(df.columns))
    if missing:
        raise ValueError(f"{path or 'packaged paper_results.csv'}: missing columns {missing}")
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    return df


def split_counts(split: str, records: Sequence[RunRecord], splits_root: Optional[Path]) -> Optional[pd.DataFrame]:
    """The split's counts table (class, name, count, rank, shot, group10): counts.csv, else from metrics."""
    if splits_root is not None:
        p = Path(splits_root) / f"{split}_counts.csv"
        if p.exists():
            df = pd.read_csv(p, dtype={"name": str}, keep_default_na=False)
            if {"class", "count", "rank", "shot"} <= set(df.columns):
                return df.sort_values("class").reset_index(drop=True)
    for r in records:
        tc = r.metrics.get("train_counts")
        if r.run["split"] == split and tc:
            counts = np.asarray(tc, dtype=np.int64)
            rank = np.empty(len(counts), dtype=np.int64)
            rank[frequency_rank(counts)] = np.arange(len(counts))
            return pd.DataFrame({"class": np.arange(len(counts)), "name": [f"class{c}" for c in range(len(counts))],
                                 "count": counts, "rank": rank, "shot": [shot_group(int(n)) for n in counts],
                                 "group10": ten_group_index(counts)})
    return None


def dataset_summary(dataset: str, benchmark: str, data_root: Optional[Path], key: str) -> Optional[dict]:
    """Test counts, sequence lengths and persons per sample from results/data/{dataset}/table.csv + meta.json."""
    if data_root is None:
        return None
    root = Path(data_root) / dataset
    tp, mp = root / "table.csv", root / "meta.json"
    if not (tp.exists() and mp.exists()):
        return None
    table = pd.read_csv(tp, dtype={"name": str}, keep_default_na=False)
    with open(mp) as f:
        meta = json.load(f)
    if benchmark not in table.columns:
        return None
    part = table[benchmark].astype(str)
    test = table[part == "test"]
    train = table[part == "train"]
    c = int(meta.get("num_classes") or (table["label"].max() + 1))
    test_counts = np.bincount(test["label"].to_numpy(dtype=np.int64), minlength=c)
    used = table[part.isin(["train", "test"])]
    persons = used["persons"].value_counts().sort_index()
    return {
        "test_counts": test_counts,
        "rows": [
            ["samples (train / test of this benchmark)", f"{len(train)} / {len(test)}"],
            ["classes", str(c)],
            ["layout", str(meta.get("layout", "n/a"))],
            ["reader", f"{meta.get('reader', 'n/a')} {meta.get('reader_version', '')}".strip()],
            ["frames per sample (min / median / max)",
             f"{int(used['frames'].min())} / {float(used['frames'].median()):g} / {int(used['frames'].max())}"
             if len(used) else "n/a"],
            ["test samples per class (min … max)", f"{int(test_counts.min())} … {int(test_counts.max())}"],
        ],
        "persons": [[str(int(k)), str(int(v))] for k, v in persons.items()],
        "frames_svg": figures.histogram(used["frames"].to_numpy(), f"{dataset}: sequence length", "frames",
                                        key=f"{key}-frames") if len(used) else "",
    }


# ---------------------------------------------------------------------------------------------
# index: results tables, curves, pairwise, fidelity

def results_table(summary: pd.DataFrame) -> dict:
    """Per method × stream (ensembles right after their single streams): mean ± std over seeds."""
    cols = ["method", "fidelity", "stream", "selection", "seeds"] + [lab for _, lab in RESULT_COLUMNS]
    rows = []
    for _, r in summary.iterrows():
        ens = str(r["stream"]).startswith("ens-")
        sel = str(r["selection"])
        cells = [cell(str(r["method"]), "name"), cell(str(r["fidelity"])), cell(str(r["stream"])),
                 cell(SELECTION_LABELS.get(sel, sel), "warn" if sel == "best_test" else ""),
                 cell(f"{int(r['n_seeds'])} ({r['seeds']})")]
        for m, _ in RESULT_COLUMNS:
            cells.append(cell(fmt_metric(m, r[f"{m}_mean"], r[f"{m}_std"]), "num"))
        rows.append({"cls": "ens" if ens else "", "cells": cells})
    return {"columns": cols, "rows": rows}


def curve_frames(summary: pd.DataFrame) -> Tuple[pd.DataFrame, pd.DataFrame]:
    g_rows, p_rows = [], []
    for _, r in summary.iterrows():
        for i in range(10):
            m, s = _num(r[f"err_g{i + 1}_mean"]), _num(r[f"err_g{i + 1}_std"])
            g_rows.append({"method": r["method"], "stream": r["stream"], "group": i + 1,
                           "error": np.nan if m is None else 100 * m, "std": np.nan if s is None else 100 * s})
        for part in ("head", "middle", "tail"):
            m, s = _num(r[f"fig7_{part}_error_mean"]), _num(r[f"fig7_{part}_error_std"])
            p_rows.append({"method": r["method"], "stream": r["stream"], "part": part,
                           "error": np.nan if m is None else 100 * m, "std": np.nan if s is None else 100 * s})
    return pd.DataFrame(g_rows), pd.DataFrame(p_rows)


def _is_true(v) -> bool:
    return v is True or str(v) in ("True", "true", "1", "1.0")


def _ci_text(r) -> str:
    if _num(r["ci_lo"]) is None:
        note = "" if pd.isna(r.get("note")) else str(r.get("note") or "")
        return "n/a" + (f" ({note})" if note else "")
    return (f"{100 * float(r['boot_diff']):+.1f} [{100 * float(r['ci_lo']):+.1f}, {100 * float(r['ci_hi']):+.1f}]"
            + (" *" if _is_true(r["significant"]) else ""))


def pairwise_rows(pw: pd.DataFrame, comparisons: Sequence[str]) -> dict:
    """One row per (stream, A, B); per metric the seed-paired difference and the bootstrap interval."""
    metrics = [m for m in ("top1", "balanced_acc", "few") if m in set(pw["metric"])]
    labels = {"top1": "top-1", "balanced_acc": "bal. acc", "few": "Few"}
    cols = ["stream", "selection", "A", "B", "seeds"]
    for m in metrics:
        cols += [f"{labels[m]}: Δ ± sd (A>B, t-test p)", f"{labels[m]}: bootstrap Δ [95% CI]"]
    rows = []
    d = pw[pw["comparison"].isin(comparisons)]
    keys = []
    for _, r in d.iterrows():
        k = (r["stream"], r["selection"], r["method_a"], r["method_b"])
        if k not in keys:
            keys.append(k)
    for k in keys:
        sel = d[(d["stream"] == k[0]) & (d["selection"] == k[1]) & (d["method_a"] == k[2]) & (d["method_b"] == k[3])]
        cells = [cell(str(k[0])), cell(str(k[1])), cell(str(k[2]), "name"), cell(str(k[3]), "name"),
                 cell(str(int(sel["n_seeds"].max())), "num")]
        top_sig = False
        for m in metrics:
            rm = sel[sel["metric"] == m]
            if rm.empty:
                cells += [cell("n/a", "num muted"), cell("n/a", "num muted")]
                continue
            r = rm.iloc[0]
            mean, sd = _num(r["mean_diff"]), _num(r["std_diff"])
            diff = "n/a" if mean is None else f"{100 * mean:+.1f}" + ("" if sd is None else f" ± {100 * sd:.1f}")
            diff += f" ({int(r['n_positive'])}/{int(r['n_seeds'])}, p {fmt_p(r['p_value'])})"
            sig = _is_true(r["significant"])
            top_sig |= sig and m == "top1"
            cells += [cell(diff, "num"), cell(_ci_text(r), "num sig" if sig else "num")]
        rows.append({"cls": "sig" if top_sig else "", "cells": cells})
    return {"columns": cols, "rows": rows}


def fidelity_rows(summary: pd.DataFrame, pw: pd.DataFrame) -> dict:
    """paper vs official_code variants of one method side by side, with the bootstrap CI of the difference."""
    metrics = (("top1", "top-1"), ("balanced_acc", "bal. acc"), ("few", "Few"))
    cols = ["method", "stream", "selection"]
    for _, lab in metrics:
        cols += [f"{lab} paper", f"{lab} official", f"Δ {lab} [95% CI]"]
    rows = []
    idx = {(r["method"], r["stream"], r["selection"]): r for _, r in summary.iterrows()}
    fid = pw[pw["comparison"] == "fidelity"]
    for (ma, mb, stream, sel) in sorted({(r["method_a"], r["method_b"], r["stream"], r["selection"])
                                        for _, r in fid.iterrows()},
                                        key=lambda k: (method_sort_key(k[0]), stream_sort_key(k[2]), k[3])):
        ra, rb = idx.get((ma, stream, sel)), idx.get((mb, stream, sel))
        if ra is None or rb is None:
            continue
        cells = [cell(f"{ma} vs {mb}", "name"), cell(stream), cell(sel)]
        for m, _ in metrics:
            p = fid[(fid["method_a"] == ma) & (fid["method_b"] == mb) & (fid["stream"] == stream)
                    & (fid["selection"] == sel) & (fid["metric"] == m)]
            ci = _ci_text(p.iloc[0]) if len(p) else "n/a"
            cells += [cell(fmt_metric(m, ra[f"{m}_mean"], ra[f"{m}_std"]), "num"),
                      cell(fmt_metric(m, rb[f"{m}_mean"], rb[f"{m}_std"]), "num"), cell(ci, "num")]
        rows.append({"cls": "", "cells": cells})
    return {"columns": cols, "rows": rows}


# ---------------------------------------------------------------------------------------------
# paper tables

def paper_table(tab: str, paper: pd.DataFrame, summary: pd.DataFrame) -> Optional[dict]:
    """Paper rows of table ``tab`` with our mean ± std and the difference; None when nothing of ours maps."""
    p = paper[(paper["table"] == tab) & (paper["metric"] == "top1") & (paper["setting"] == "long_tailed")]
    if p.empty:
        return None
    col_keys: List[tuple] = []
    row_keys: List[tuple] = []
    values: Dict[tuple, float] = {}
    for _, r in p.iterrows():
        ck, rk = (r["dataset"], r["benchmark"], r["group"]), (r["backbone"], r["method"], r["streams"])
        if ck not in col_keys:
            col_keys.append(ck)
        if rk not in row_keys:
            row_keys.append(rk)
        values[rk + ck] = r["value"]

    # our summary rows, keyed in the paper's vocabulary
    ours: Dict[tuple, List[pd.Series]] = {}
    for _, r in summary.iterrows():
        if not str(r["split"]).endswith("_" + PAPER_SPLIT_SUFFIX.get(str(r["dataset"]), "\0")):
            continue
        bb, st = BACKBONE_TO_PAPER.get(str(r["backbone"])), STREAM_TO_PAPER.get(str(r["stream"]))
        if bb is None or st is None:
            continue
        # the paper's vocabulary names the registered method ('plain' and 'ce' are both CE runs,
        # 'brl_official' is BRL); each of our variants gets its own row under the paper's number
        pm = str(r.get("method_name") or paper_twin(str(r["method"])) or r["method"])
        ours.setdefault((bb, pm, st, r["dataset"], r["benchmark"]), []).append(r)

    header = ["backbone", "method", "streams", "ours: method (fidelity, selection)"]
    groups = [(f"{d} {b}" + ("" if g == "all" else f" {g}"), 3) for d, b, g in col_keys]
    rows, matched = [], 0
    for rk in row_keys:
        variants = sorted({(str(r["method"]), str(r["fidelity"]), str(r["selection"]))
                           for ck in col_keys for r in ours.get(rk + ck[:2], [])},
                          key=lambda v: (method_sort_key(v[0]), v[1], v[2]))
        for var in variants or [None]:
            cells = [cell(rk[0]), cell(rk[1], "name"), cell(rk[2]),
                     cell("not run" if var is None else f"{var[0]} ({var[1]}, {SELECTION_LABELS.get(var[2], var[2])})",
                          "muted" if var is None else ("warn" if var[2] == "best_test" else ""))]
            for ck in col_keys:
                pv = values.get(rk + ck)
                cells.append(cell("" if pv is None else f"{pv:.1f}", "num paper"))
                hit = None
                if var is not None:
                    for r in ours.get(rk + ck[:2], []):
                        if (str(r["method"]), str(r["fidelity"]), str(r["selection"])) == var:
                            hit = r
                metric = GROUP_TO_METRIC[ck[2]]
                if hit is None:
                    cells += [cell("—", "num muted"), cell("", "num")]
                    continue
                matched += 1
                mean = _num(hit[f"{metric}_mean"])
                cells.append(cell(fmt_metric(metric, hit[f"{metric}_mean"], hit[f"{metric}_std"])
                                  + f" (n={int(hit['n_seeds'])})", "num ours"))
                diff = None if (mean is None or pv is None) else 100 * mean - pv
                cells.append(cell(fmt_signed(diff), "num " + ("neg" if diff is not None and diff < 0 else "pos")))
            rows.append({"cls": "muted" if var is None else "", "cells": cells})
    if matched == 0:
        return None
    sub = ["paper", "ours (mean ± sd)", "Δ"] * len(col_keys)
    return {"id": tab, "title": TABLE_TITLES.get(tab, f"Table {tab}"), "file": f"table_{tab}.html",
            "header": header, "groups": groups, "sub": sub, "rows": rows, "matched": matched}


# ---------------------------------------------------------------------------------------------
# detail pages (per split × backbone): per-seed numbers, training curves, reliability, confusion

def _load_probs(rec: RunRecord) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    p = rec.dir / "test_probs.npz"
    if not p.exists():
        return None
    with np.load(p, allow_pickle=False) as z:
        return z["probs"].astype(np.float64), z["labels"].astype(np.int64)


def _load_epochs(rec: RunRecord) -> Optional[pd.DataFrame]:
    p = rec.dir / "epochs.csv"
    if not p.exists():
        return None
    df = pd.read_csv(p)
    if "epoch" not in df.columns:
        return None
    if "test_top1_monitor" not in df.columns:
        # files written before the rename called the test-split monitor "val_top1"
        df["test_top1_monitor"] = df["val_top1"] if "val_top1" in df.columns else np.nan
    if "loss" not in df.columns:
        df["loss"] = np.nan
    df = df[["epoch", "loss", "test_top1_monitor"]].copy()
    df["stream"], df["seed"] = rec.run["stream"], rec.run["seed"]
    return df


def method_details(key: str, method: str, recs: Sequence[RunRecord], counts: Optional[pd.DataFrame]) -> dict:
    recs = sorted(recs, key=lambda r: (stream_sort_key(str(r.run["stream"])), str(r.run["selection"]), r.run["seed"]))
    streams = sorted({str(r.run["stream"]) for r in recs}, key=stream_sort_key)
    cols = ["stream", "selection", "seed"] + [lab for _, lab in RESULT_COLUMNS] + ["wall time"]
    rows = []
    for r in recs:
        cells = [cell(str(r.run["stream"])), cell(str(r.run["selection"])), cell(str(r.run["seed"]))]
        cells += [cell(fmt_metric(m, r.metrics.get(m)), "num") for m, _ in RESULT_COLUMNS]
        cells.append(cell(fmt_seconds(r.meta.get("wall_time_s")), "num"))
        rows.append({"cls": "ens" if str(r.run["stream"]).startswith("ens-") else "", "cells": cells})

    curves = [e for e in (_load_epochs(r) for r in recs if not str(r.run["stream"]).startswith("ens-")) if e is not None]
    curves_svg = ""
    if curves:
        df = pd.concat(curves, ignore_index=True)
        curves_svg = figures.training_curves(df, [s for s in streams if s in set(df["stream"])], key=f"{key}-curves")

    # reliability (pooled over seeds) per stream, and the confusion matrix of the primary stream
    bins, eces, probs_by_stream = {}, {}, {}
    for s in streams:
        loaded = [(r, _load_probs(r)) for r in recs if r.run["stream"] == s and r.run["selection"] == recs[0].run["selection"]]
        loaded = [(r, x) for r, x in loaded if x is not None]
        if not loaded:
            continue
        probs_by_stream[s] = [x for _, x in loaded]
        bins[s] = reliability_bins(np.concatenate([x[0] for _, x in loaded]), np.concatenate([x[1] for _, x in loaded]))
        e = [r.metrics.get("ece") for r, _ in loaded if r.metrics.get("ece") is not None]
        eces[s] = (f"{np.mean(e):.3f}" + (f" ± {np.std(e, ddof=1):.3f}" if len(e) > 1 else "")) if e else "n/a"
    rel_svg = figures.reliability_diagram(bins, eces, key=f"{key}-reliability") if bins else ""
    cm_svg, primary = "", None
    if probs_by_stream:
        ens = [s for s in probs_by_stream if s.startswith("ens-")]
        primary = ens[-1] if ens else ("j" if "j" in probs_by_stream else sorted(probs_by_stream, key=stream_sort_key)[0])
        cms = [confusion_matrix(p, y) for p, y in probs_by_stream[primary]]
        order = counts.sort_values("rank")["class"].to_numpy() if counts is not None else None
        cm_svg = figures.confusion(np.mean(cms, axis=0), f"{method}, {primary} (mean over {len(cms)} seed(s))",
                                   key=f"{key}-cm", class_order=order)
    return {"method": method, "anchor": slug("m", method), "table": {"columns": cols, "rows": rows},
            "curves_svg": curves_svg, "reliability_svg": rel_svg, "cm_svg": cm_svg, "cm_stream": primary or ""}


# ---------------------------------------------------------------------------------------------
# provenance

def provenance(records: Sequence[RunRecord], config: Optional[Path]) -> dict:
    cols = ["run", "seed", "fidelity", "selection", "hardware", "device", "code version", "run id",
            "wall time", "train samples/s"]
    rows = []
    for r in sorted(records, key=lambda r: r.path):
        sps = _num(r.meta.get("train_samples_per_s"))
        rows.append({"cls": "", "cells": [
            cell(r.path, "path"), cell(str(r.run["seed"])), cell(str(r.run["fidelity"])),
            cell(str(r.run["selection"])), cell(_txt(r.meta.get("hardware"))), cell(_txt(r.meta.get("device"))),
            cell(_txt(r.meta.get("code_version"))), cell(_txt(r.meta.get("run_id") or r.meta.get("config_hash"))),
            cell(fmt_seconds(r.meta.get("wall_time_s")), "num"), cell("n/a" if sps is None else f"{sps:.1f}", "num")]})
    settings = {}
    for r in sorted(records, key=lambda r: (method_sort_key(str(r.run["method"])), r.path)):
        m = str(r.run["method"])
        if m in settings or str(r.run["stream"]).startswith("ens-"):
            continue
        settings[m] = json.dumps({"fidelity": r.run["fidelity"], "method_meta": r.meta.get("method_meta"),
                                  "schedule": r.meta.get("schedule")}, indent=1, sort_keys=True, default=str)
    total = sum(_num(r.meta.get("wall_time_s")) or 0.0 for r in records if not str(r.run["stream"]).startswith("ens-"))
    return {
        "config_text": Path(config).read_text() if config is not None and Path(config).exists() else "",
        "config_name": Path(config).name if config is not None else "",
        "code_versions": sorted({_txt(r.meta.get("code_version")) for r in records}),
        "hardware": sorted({_txt(r.meta.get("hardware")) for r in records}),
        "seeds": sorted({int(r.run["seed"]) for r in records}),
        "total_wall": fmt_seconds(total),
        "table": {"columns": cols, "rows": rows},
        "settings": [{"method": k, "json": v} for k, v in settings.items()],
    }


def _txt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, (list, tuple)):
        return " / ".join(map(str, v))
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True)
    return str(v)


# ---------------------------------------------------------------------------------------------
# driver

def environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("benchmark.report", "templates"),
                             undefined=jinja2.StrictUndefined, autoescape=True,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    return env


def _write_page(path: Path, html: str) -> None:
    from benchmark.ensemble import atomic_write_bytes

    data = html.encode("utf-8")
    atomic_write_bytes(path, lambda f: f.write(data))


def render_report(inputs: ReportInputs) -> List[Path]:
    """Render every page into ``inputs.out``; returns the written paths (index first)."""
    out = Path(inputs.out)
    out.mkdir(parents=True, exist_ok=True)
    env = environment()
    records = collect_runs(inputs.runs_root, inputs.runs)   # a missing runs root is an error, an empty one is not
    runs = runs_table(records)
    summary = summary_table(runs)
    pw_path = Path(inputs.tables) / "pairwise.csv" if inputs.tables is not None else None
    if pw_path is not None and pw_path.exists():
        pw = read_table(pw_path)
    else:
        pw = pairwise_table(records, n_resamples=inputs.n_resamples)
    paper = load_paper_results(inputs.paper_results)

    # paper tables first: the index links to those that exist
    tables = [t for t in (paper_table(tab, paper, summary) for tab in PAPER_TABLES) if t is not None]
    detail_pages: List[Tuple[str, dict]] = []
    sections = []
    for (dataset, benchmark, split), s_sum in _groups(summary, ["dataset", "benchmark", "split"]):
        recs = [r for r in records if r.run["split"] == split and r.run["dataset"] == dataset]
        key = slug(split)
        counts = split_counts(split, recs, inputs.splits_root)
        ds = dataset_summary(dataset, benchmark, inputs.data_root, key)
        dist_svg = ""
        if counts is not None:
            tc = ds["test_counts"] if ds is not None and len(ds["test_counts"]) == len(counts) else None
            dist_svg = figures.class_distribution(counts, f"{split}: training samples per class", key=f"{key}-dist",
                                                  test_counts=tc)
        shot_rows = []
        if counts is not None:
            for sh in ("many", "medium", "few"):
                cls = counts[counts["shot"] == sh].sort_values("rank")
                rng_txt = "–" if cls.empty else f"{int(cls['count'].max())} … {int(cls['count'].min())}"
                shot_rows.append([figures.shot_labels(counts)[sh], str(len(cls)), rng_txt])
        backbones = []
        for (backbone,), b_sum in _groups(s_sum, ["backbone"]):
            bkey = slug(split, backbone)
            methods = sorted(b_sum["method"].unique(), key=method_sort_key)
            streams = sorted(b_sum["stream"].unique(), key=stream_sort_key)
            gdf, pdf = curve_frames(b_sum)
            pw_b = pw[(pw["split"] == split) & (pw["backbone"] == backbone)] if len(pw) else pw
            detail_file = f"details_{bkey}.html"
            backbones.append({
                "backbone": backbone, "anchor": bkey, "detail_file": detail_file,
                "results": results_table(b_sum),
                "curves_svg": figures.group_error_curves(gdf, methods, streams, key=f"{bkey}-g10"),
                "hmt_svg": figures.head_middle_tail_bars(pdf, methods, streams, key=f"{bkey}-hmt"),
                "pairwise": pairwise_rows(pw_b, ("vs_ce", "vs_brl")) if len(pw_b) else {"columns": [], "rows": []},
                "fidelity": fidelity_rows(b_sum, pw_b) if len(pw_b) else {"columns": [], "rows": []},
                "methods": methods,
                "n_resamples": _n_resamples(pw_b),
            })
            by_method: Dict[str, List[RunRecord]] = {}
            for r in recs:
                if r.run["backbone"] == backbone:
                    by_method.setdefault(str(r.run["method"]), []).append(r)
            detail_pages.append((detail_file, {
                "title": f"{split} · {backbone}: per-method details", "split": split, "backbone": backbone,
                "methods": [method_details(slug(bkey, m), m, by_method[m], counts)
                            for m in sorted(by_method, key=method_sort_key)],
            }))
        sections.append({"split": split, "dataset": dataset, "benchmark": benchmark, "ratio": split_ratio(split),
                         "anchor": key, "dist_svg": dist_svg, "shot_rows": shot_rows, "dataset_summary": ds,
                         "backbones": backbones, "n_runs": len(recs)})

    nav = {"tables": [{"file": t["file"], "title": t["title"]} for t in tables],
           "details": [{"file": f, "title": ctx["title"]} for f, ctx in detail_pages]}
    written = []
    index_html = env.get_template("index.html").render(
        title="LT-Skeleton Bench report", nav=nav, sections=sections, n_runs=len(records),
        n_configs=len(summary), page="index")
    _write_page(out / "index.html", index_html)
    written.append(out / "index.html")
    for t in tables:
        html = env.get_template("paper_table.html").render(title=t["title"], nav=nav, t=t, page=t["file"])
        _write_page(out / t["file"], html)
        written.append(out / t["file"])
    for f, ctx in detail_pages:
        html = env.get_template("details.html").render(nav=nav, page=f, **ctx)
        _write_page(out / f, html)
        written.append(out / f)
    prov = provenance(records, inputs.config)
    html = env.get_template("provenance.html").render(title="Provenance", nav=nav, p=prov, page="provenance.html")
    _write_page(out / "provenance.html", html)
    written.append(out / "provenance.html")
    return written


def _n_resamples(pw: pd.DataFrame) -> str:
    vals = sorted({int(v) for v in pw.get("n_resamples", pd.Series(dtype=float)).dropna()}) if len(pw) else []
    return " / ".join(f"{v:,}".replace(",", " ") for v in vals) or "no"


def _groups(df: pd.DataFrame, by: List[str]):
    """Deterministic groupby (sorted keys, rows keep the frame's order)."""
    if df.empty:
        return []
    return [((k,) if not isinstance(k, tuple) else k, g) for k, g in df.groupby(by, sort=True)]
