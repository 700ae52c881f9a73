"""Shared helpers of the report pages: constants, number formatting, table cells, inputs, jinja2.

Every page module (overview, details, paper tables, provenance) prepares its data as plain dicts
with the helpers here and renders them through :func:`render_page`; nothing in this module knows
about a particular page.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from benchmark.aggregate import RunRecord
from benchmark.data.splits import frequency_rank, shot_group, ten_group_index
# the paper's vocabulary (backbones, streams, imbalance setting) is kept in benchmark.paper_map
from benchmark.paper_map import (BACKBONE_TO_PAPER, PAPER_SPLIT_SUFFIX, SINGLE_STREAMS,  # noqa: F401
                                 STREAM_TO_PAPER)
from benchmark.report import figures

#: paper group → our metric
GROUP_TO_METRIC = {"all": "top1", "many": "many", "medium": "medium", "few": "few"}
METRIC_TO_GROUP = {v: k for k, v in GROUP_TO_METRIC.items()}
SELECTION_LABELS = {"last": "last checkpoint", "best_val": "best on validation",
                    "best_test": "selected on test (optimistic)"}
#: the first screen's metric switch: (metric, label); the first is the default
METRIC_VIEWS = (("balanced_acc", "balanced accuracy"), ("few", "Few (<20 training samples)"), ("top1", "top-1"),
                ("tail", "tail third"))
METRIC_LABELS = {"top1": "top-1", "top5": "top-5", "balanced_acc": "bal. acc", "many": "Many", "medium": "Medium",
                 "few": "Few", "tail": "tail third", "head": "head third", "middle": "middle third"}
RESULT_COLUMNS = (("top1", "top-1"), ("top5", "top-5"), ("balanced_acc", "bal. acc"), ("many", "Many"),
                  ("medium", "Medium"), ("few", "Few"), ("head", "head third"), ("tail", "tail third"),
                  ("worst_class", "worst class"), ("ece", "ECE"), ("nll", "NLL"))
PERCENT_METRICS = {"top1", "top5", "balanced_acc", "many", "medium", "few", "many_minus_few", "head_minus_tail",
                   "worst_class", "bottom10", "head", "middle", "tail", "fig7_head_error", "fig7_middle_error",
                   "fig7_tail_error"}


def selection_label(sel) -> str:
    s = str(sel)
    return SELECTION_LABELS.get(s, s)


# ---------------------------------------------------------------------------------------------
# formatting (fixed, so output is stable)

def num(x) -> Optional[float]:
    if x is None:
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(x) else x


def fmt_metric(metric: str, mean, std=None) -> str:
    """'76.7 ± 0.3' for percentages (input fractions), '0.035 ± 0.004' for ECE/NLL; 'n/a' when missing."""
    m, s = num(mean), num(std)
    if m is None:
        return "n/a"
    if metric in PERCENT_METRICS:
        return f"{100 * m:.1f}" + (f" ± {100 * s:.1f}" if s is not None else "")
    return f"{m:.3f}" + (f" ± {s:.3f}" if s is not None else "")


def fmt_signed(x, digits: int = 1) -> str:
    """'+3.2' / '-1.0'; a value that rounds to zero prints as '+0.0', never '-0.0'."""
    v = num(x)
    if v is None:
        return "n/a"
    v = round(v, digits)
    return f"{v + 0.0:+.{digits}f}"


def fmt_p(p) -> str:
    v = num(p)
    return "n/a" if v is None else (f"{v:.3f}" if v >= 0.001 else "<0.001")


def fmt_seconds(s) -> str:
    v = num(s)
    if v is None:
        return "n/a"
    v = int(round(v))
    h, rem = divmod(v, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h {m:02d}m" if h else (f"{m}m {sec:02d}s" if m else f"{sec}s")


def cell(text: str, cls: str = "", sort=None, title: str = "", badge: str = "") -> Dict[str, object]:
    """A table cell: shown ``text``, CSS ``cls``, numeric ``sort`` key for the sortable tables
    (None: sort by text), an optional tooltip and a short ``badge`` shown after the text."""
    v = num(sort)
    return {"text": text, "cls": cls, "sort": "" if v is None else f"{v:.6g}", "title": title, "badge": badge}


def table(tid: str, columns: Sequence[str], rows: List[dict], csv: str = "") -> dict:
    """A sortable, downloadable table: ``rows`` are {"cls", "cells"}; ``csv`` the download file name."""
    return {"id": tid, "columns": list(columns), "rows": rows, "csv": csv or f"{tid}.csv"}


def row(cells: List[dict], cls: str = "") -> dict:
    return {"cls": cls, "cells": cells}


def slug(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", "_".join(str(p) for p in parts)).strip("-")


def split_ratio(split: str) -> str:
    return split.rsplit("_", 1)[-1] if "_" in split else split


def fmt_interval(metric: str, mean, lo, hi) -> str:
    """'62.3 [58.1, 66.0]' (percent) or '62.3' when the interval is missing."""
    m = num(mean)
    if m is None:
        return "n/a"
    if num(lo) is None or num(hi) is None:
        return fmt_metric(metric, m)
    if metric in PERCENT_METRICS:
        return f"{100 * m:.1f} [{100 * float(lo):.1f}, {100 * float(hi):.1f}]"
    return f"{m:.3f} [{float(lo):.3f}, {float(hi):.3f}]"


def is_true(v) -> bool:
    return v is True or str(v) in ("True", "true", "1", "1.0")


def txt(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "n/a"
    if isinstance(v, (list, tuple)):
        return " / ".join(map(str, v))
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True)
    return str(v)


def groups(df: pd.DataFrame, by: List[str]):
    """Deterministic groupby (sorted keys, rows keep the frame's order)."""
    if df.empty:
        return []
    return [((k,) if not isinstance(k, tuple) else k, g) for k, g in df.groupby(by, sort=True)]


# ---------------------------------------------------------------------------------------------
# inputs

@dataclass
class ReportInputs:
    runs_root: Path
    out: Path
    #: the metrics.json files of the config's runs (None: every run below runs_root)
    runs: Optional[Sequence[Path]] = None
    splits_root: Optional[Path] = None
    tables: Optional[Path] = None
    paper_results: Optional[Path] = None
    config: Optional[Path] = None
    data_root: Optional[Path] = None
    n_resamples: int = 10_000
    #: this suite's reference results (benchmark.reference; None: the repository's reference/)
    reference: Optional[Path] = None


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
# rendering

def environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("benchmark.report", "templates"),
                              undefined=jinja2.StrictUndefined, autoescape=True,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


def write_page(path: Path, html: str) -> None:
    from benchmark.ensemble import atomic_write_bytes

    data = html.encode("utf-8")
    atomic_write_bytes(Path(path), lambda f: f.write(data))


def render_page(env, template: str, out: Path, name: str, **ctx) -> Path:
    """Render ``template`` with ``ctx`` into ``out/name``; returns the path."""
    html = env.get_template(template).render(page=name, **ctx)
    write_page(Path(out) / name, html)
    return Path(out) / name
