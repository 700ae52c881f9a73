"""Details page per split × backbone: per-seed numbers, training curves, reliability, confusion.

One section per method: every run (stream × seed) with its metrics and wall time, the loss and
monitoring curves, the reliability diagram pooled over seeds and the mean confusion matrix (class
names, head → tail) of its main stream. Data are prepared by :func:`details_page`; the layout is
``templates/details.html``.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from benchmark.aggregate import RunRecord, method_sort_key, stream_sort_key
from benchmark.metrics import confusion_matrix, reliability_bins
from benchmark.report import figures
from benchmark.report.common import (RESULT_COLUMNS, cell, fmt_metric, fmt_seconds, row, selection_label, slug,
                                     table)


def _load_probs(rec: RunRecord) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    p = rec.probs_path
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
    # the 1-clip test-split monitor: ``test_top1_monitor`` (epochs.csv before that name: ``val_top1``,
    # which now means the held-out validation split)
    if "test_top1_monitor" in df.columns:
        df["monitor_top1"] = df["test_top1_monitor"]
    elif "val_top1" in df.columns and "val_balanced_acc" in df.columns and "test_balanced_acc_monitor" not in df.columns:
        df["monitor_top1"] = df["val_top1"]
    for c in ("loss", "monitor_top1"):
        if c not in df.columns:
            df[c] = np.nan
    df = df[["epoch", "loss", "monitor_top1"]].copy()
    df["stream"], df["seed"] = rec.run["stream"], rec.run["seed"]
    return df


def method_details(key: str, method: str, recs: Sequence[RunRecord], counts: Optional[pd.DataFrame]) -> dict:
    recs = sorted(recs, key=lambda r: (stream_sort_key(str(r.run["stream"])), str(r.run["selection"]), r.run["seed"]))
    streams = sorted({str(r.run["stream"]) for r in recs}, key=stream_sort_key)
    # a metric that is missing in every run (e.g. Many on a split without a class above 100 samples) is left out
    shown = [(m, lab) for m, lab in RESULT_COLUMNS if any(r.metrics.get(m) is not None for r in recs)]
    cols = ["stream", "selection", "seed"] + [lab for _, lab in shown] + ["wall time"]
    rows = []
    for r in recs:
        cells = [cell(str(r.run["stream"])), cell(selection_label(r.run["selection"])), cell(str(r.run["seed"]))]
        cells += [cell(fmt_metric(m, r.metrics.get(m)), "num", sort=r.metrics.get(m)) for m, _ in shown]
        cells.append(cell(fmt_seconds(r.meta.get("wall_time_s")), "num"))
        rows.append(row(cells, "ens" if str(r.run["stream"]).startswith("ens-") else ""))

    # figures: one training per run folder, tested at the default checkpoint (last) where a run also
    # reports other selections (best_val rows share the folder and its epochs.csv)
    sels = {str(r.run["selection"]) for r in recs}
    fig_sel = "last" if "last" in sels else str(recs[0].run["selection"])
    curves = [e for e in (_load_epochs(r) for r in recs if not str(r.run["stream"]).startswith("ens-")
                          and str(r.run["selection"]) == fig_sel) if e is not None]
    curves_svg = ""
    if curves:
        df = pd.concat(curves, ignore_index=True)
        curves_svg = figures.training_curves(df, [s for s in streams if s in set(df["stream"])], key=f"{key}-curves")

    # reliability (pooled over seeds) per stream, and the confusion matrix of the primary stream
    bins, eces, probs_by_stream = {}, {}, {}
    for s in streams:
        loaded = [(r, _load_probs(r)) for r in recs if r.run["stream"] == s and str(r.run["selection"]) == fig_sel]
        loaded = [(r, x) for r, x in loaded if x is not None]
        if not loaded:
            continue
        probs_by_stream[s] = [x for _, x in loaded]
        bins[s] = reliability_bins(np.concatenate([x[0] for _, x in loaded]), np.concatenate([x[1] for _, x in loaded]))
        e = [r.metrics.get("ece") for r, _ in loaded if r.metrics.get("ece") is not None]
        eces[s] = (f"{np.mean(e):.3f}" + (f" ± {np.std(e, ddof=1):.3f}" if len(e) > 1 else "")) if e else "n/a"
    hl = [s for s in streams if s == "j" or s.startswith("ens-")] or streams
    rel_svg = figures.reliability_diagram(bins, eces, key=f"{key}-reliability", highlight=hl) if bins else ""
    cm_svg, primary = "", None
    if probs_by_stream:
        ens = [s for s in probs_by_stream if s.startswith("ens-")]
        primary = ens[-1] if ens else ("j" if "j" in probs_by_stream else sorted(probs_by_stream, key=stream_sort_key)[0])
        cms = [confusion_matrix(p, y) for p, y in probs_by_stream[primary]]
        order = counts.sort_values("rank")["class"].to_numpy() if counts is not None else None
        names = counts.sort_values("class")["name"].astype(str).tolist() if counts is not None and "name" in counts \
            else None
        cm_svg = figures.confusion(np.mean(cms, axis=0), f"{method}, stream {primary}, {len(cms)} seed(s)",
                                   key=f"{key}-cm", class_order=order, names=names)
    return {"method": method, "anchor": slug("m", method), "table": table(slug(key, "runs"), cols, rows),
            "curves_svg": curves_svg, "reliability_svg": rel_svg, "cm_svg": cm_svg, "cm_stream": primary or ""}


def details_page(split: str, backbone: str, recs: Sequence[RunRecord], counts: Optional[pd.DataFrame]) -> dict:
    """Context of details_<split>_<backbone>.html."""
    bkey = slug(split, backbone)
    by_method: Dict[str, List[RunRecord]] = {}
    for r in recs:
        if r.run["backbone"] == backbone:
            by_method.setdefault(str(r.run["method"]), []).append(r)
    return {"title": f"{split} · {backbone}: per-method details", "split": split, "backbone": backbone,
            "methods": [method_details(slug(bkey, m), m, by_method[m], counts)
                        for m in sorted(by_method, key=method_sort_key)]}
