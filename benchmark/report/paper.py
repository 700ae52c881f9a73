"""The paper's numbers: lookup for the first screen, the budget badge, and one page per paper table.

The paper reports top-1 (%) in the long-tailed setting per dataset/benchmark, backbone, method and
stream (or stream ensemble), plus Many/Medium/Few for the joint-stream method comparison (Table III).
:class:`PaperIndex` answers "does the paper report this method/stream/dataset, and with what number"
for any run of ours, whatever its budget; :func:`budget_differences` says how our run's recipe
differs from the paper's (backbone width, epochs, streams, seeds, imbalance ratio), so a reduced
run is compared with the paper but never silently.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import pandas as pd

from benchmark.aggregate import RunRecord, method_sort_key, paper_twin
from benchmark.paper_map import TEST_SELECTED_LABEL, is_test_selected, paper_method, selected_on_test_keys
from benchmark.report.common import (BACKBONE_TO_PAPER, GROUP_TO_METRIC, METRIC_TO_GROUP, PAPER_SPLIT_SUFFIX,
                                     SINGLE_STREAMS, STREAM_TO_PAPER, cell, fmt_metric, fmt_signed, num,
                                     selection_label, split_ratio)

PAPER_TABLES = ("III", "I", "II", "IV", "V", "VIII", "VI", "VII", "readme")
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
#: paper page order (the lookup prefers Table III, whose rows are the method comparison)
PAGE_ORDER = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "readme")
#: the paper's recipe budget: backbone width, effective epochs (24 x 5; the "vanilla" rows: 16 x 5), seeds
PAPER_WIDTH = 64
PAPER_EPOCHS = 120
PLAIN_EPOCHS = 80
PAPER_SEEDS = 3
#: tables whose ``ce`` rows are the vanilla backbones (plain recipe), not CE inside the LT recipe
#: (Table VII's M1 is the vanilla ST-GCN++ of Table I)
PLAIN_TABLES = ("I", "II", "IV", "V", "VII", "VIII")


class PaperIndex:
    """Long-tailed top-1 numbers keyed by (dataset, benchmark, backbone, method, streams, group).

    ``method`` is the registered method a row means (benchmark.paper_map.PAPER_METHOD_ALIASES: Table
    VII's ``m3_stae_daa`` is BRL's four-stream ensemble)."""

    def __init__(self, paper: pd.DataFrame):
        p = paper[(paper["setting"] == "long_tailed") & (paper["metric"] == "top1")]
        self.values: Dict[tuple, List[Tuple[str, float]]] = {}
        #: (key, table) of the numbers that equal the official code's test-selected figures
        self.selected_on_test: set = set()
        selected = selected_on_test_keys(paper.to_dict("records"))
        order = {t: i for i, t in enumerate(PAPER_TABLES)}
        for _, r in p.iterrows():
            if num(r["value"]) is None:
                continue
            k = (r["dataset"], r["benchmark"], r["backbone"], paper_method(str(r["method"])), r["streams"], r["group"])
            if is_test_selected(r.to_dict(), selected):
                self.selected_on_test.add(k + (str(r["table"]),))
            self.values.setdefault(k, []).append((str(r["table"]), float(r["value"])))
        for v in self.values.values():
            v.sort(key=lambda tv: order.get(tv[0], len(order)))
        self.datasets = {k[0] for k in self.values}

    def lookup(self, dataset: str, benchmark: str, backbone: str, method: str, stream: str,
               metric: str = "top1") -> Optional[Tuple[float, str]]:
        """(value in %, table) the paper reports for this run's dataset/method/stream, or None.

        ``method`` is the registered method (an id such as ``brl_official`` maps to ``brl``)."""
        group = METRIC_TO_GROUP.get(metric)
        bb, st = BACKBONE_TO_PAPER.get(backbone), STREAM_TO_PAPER.get(stream)
        if group is None or bb is None or st is None:
            return None
        hits = self.values.get((dataset, benchmark, bb, paper_twin(method) or method, st, group))
        return (hits[0][1], hits[0][0]) if hits else None

    def is_selected_on_test(self, dataset: str, benchmark: str, backbone: str, method: str, stream: str,
                            table: str, metric: str = "top1") -> bool:
        """Whether the number :meth:`lookup` gives (from ``table``) is the official code's test-selected figure."""
        group = METRIC_TO_GROUP.get(metric)
        bb, st = BACKBONE_TO_PAPER.get(backbone), STREAM_TO_PAPER.get(stream)
        return (dataset, benchmark, bb, paper_twin(method) or method, st, group, table) in self.selected_on_test

    def other_streams(self, dataset: str, benchmark: str, backbone: str, method: str,
                      metric: str = "top1") -> List[Tuple[str, float, str]]:
        """(paper streams, value, table) the paper reports for this dataset/backbone/method on any stream."""
        group = METRIC_TO_GROUP.get(metric)
        bb = BACKBONE_TO_PAPER.get(backbone)
        m = paper_twin(method) or method
        return [(k[4], v[0][1], v[0][0]) for k, v in sorted(self.values.items())
                if k[:4] == (dataset, benchmark, bb, m) and k[5] == group]

    def reports_dataset(self, dataset: str) -> bool:
        return dataset in self.datasets


def run_budget(rec: RunRecord) -> Dict[str, Optional[int]]:
    """Backbone width (base channels) and effective epochs (runner epochs x repeat) of one run."""
    meta = rec.meta
    opts = meta.get("backbone_options")
    if opts is None and isinstance(meta.get("spec"), dict):
        opts = meta["spec"].get("backbone_options")
    width = None if opts is None else int(opts.get("base_channels", PAPER_WIDTH))
    sch = meta.get("schedule") or {}
    epochs = None
    if "runner_epochs" in sch and "repeat" in sch:
        epochs = int(sch["runner_epochs"]) * int(sch["repeat"])
    return {"width": width, "epochs": epochs, "clip_len": sch.get("clip_len")}


def _span(values: Sequence[int]) -> str:
    v = sorted(set(values))
    return str(v[0]) if len(v) == 1 else f"{v[0]}–{v[-1]}"


def budget_differences(recs: Sequence[RunRecord], n_seeds: Sequence[int], paper_table: Optional[str] = None,
                       method: Optional[str] = None, all_streams: Optional[Sequence[str]] = None) -> List[str]:
    """How these runs' budget differs from the paper's recipe, one short phrase per difference
    (width, epochs, streams, seeds, imbalance ratio); empty when it matches or cannot be told.

    ``paper_table``/``method``: the paper row compared with (its ``ce`` rows of Tables I/II/IV/V/VIII
    are the 80-epoch vanilla recipe); ``all_streams``: single streams trained in this section."""
    out = []
    budgets = [run_budget(r) for r in recs if not str(r.run["stream"]).startswith("ens-")] or \
              [run_budget(r) for r in recs]
    widths = [b["width"] for b in budgets if b["width"] is not None]
    if widths and set(widths) != {PAPER_WIDTH}:
        out.append(f"width {_span(widths)} channels (paper {PAPER_WIDTH})")
    target = PLAIN_EPOCHS if (paper_table in PLAIN_TABLES and (paper_twin(method or "") or method) == "ce") \
        else PAPER_EPOCHS
    epochs = [b["epochs"] for b in budgets if b["epochs"] is not None]
    if epochs and set(epochs) != {target}:
        out.append(f"{_span(epochs)} epoch{'' if epochs == [1] * len(epochs) else 's'} (paper {target})")
    if all_streams is not None:
        missing = [s for s in SINGLE_STREAMS if s not in set(all_streams)]
        if missing:
            out.append(f"streams {' '.join(s for s in SINGLE_STREAMS if s in set(all_streams)) or 'none'} "
                       f"(paper trains all six: {' '.join(SINGLE_STREAMS)})")
    if n_seeds and min(n_seeds) < PAPER_SEEDS:
        out.append(f"{_span(n_seeds)} seed{'s' if max(n_seeds) > 1 else ''} (paper protocol {PAPER_SEEDS})")
    if recs:
        r0 = recs[0].run
        want = PAPER_SPLIT_SUFFIX.get(str(r0["dataset"]))
        got = split_ratio(str(r0["split"]))
        if want is not None and got != want:
            out.append(f"imbalance {got} (paper {want})")
    return out


# ---------------------------------------------------------------------------------------------
# paper table pages

#: a paper row's variants of ours: the last checkpoint first, then validation-selected, then test-selected
_SELECTION_ORDER = {"last": 0, "best_val": 1, "best_test": 2}


def _our_rows(summary: pd.DataFrame) -> Dict[tuple, List[pd.Series]]:
    """Our summary rows at the paper's imbalance setting, keyed (backbone, method, streams, dataset,
    benchmark) in the paper's vocabulary; ``method`` is the registered method ('plain' and 'ce' are both
    CE runs, 'brl_official' is BRL), so each of our variants gets its own row under the paper's number."""
    ours: Dict[tuple, List[pd.Series]] = {}
    for _, r in summary.iterrows():
        if not str(r["split"]).endswith("_" + PAPER_SPLIT_SUFFIX.get(str(r["dataset"]), "\0")):
            continue
        bb, st = BACKBONE_TO_PAPER.get(str(r["backbone"])), STREAM_TO_PAPER.get(str(r["stream"]))
        if bb is None or st is None:
            continue
        pm = str(r.get("method_name") or paper_twin(str(r["method"])) or r["method"])
        ours.setdefault((bb, pm, st, r["dataset"], r["benchmark"]), []).append(r)
    return ours


def _table_rows(row_keys: List[tuple], col_keys: List[tuple], values: Dict[tuple, float], flagged: set,
                ours: Dict[tuple, List[pd.Series]]) -> Tuple[List[dict], int]:
    """The rows of one paper-table section and how many cells found a run of ours: one row per paper
    row (backbone, paper method, streams) and variant of ours (method id, fidelity, selection)."""
    rows, matched = [], 0
    for rk in row_keys:
        mk = (rk[0], paper_method(rk[1]), rk[2])          # the registered method this paper row means
        variants = sorted({(str(r["method"]), str(r["fidelity"]), str(r["selection"]))
                           for ck in col_keys for r in ours.get(mk + ck[:2], [])},
                          key=lambda v: (method_sort_key(v[0]), v[1], _SELECTION_ORDER.get(v[2], 9), v[2]))
        name = rk[1] if mk[1] == rk[1] else f"{rk[1]} (= {mk[1]})"
        for var in variants or [None]:
            cells = [cell(rk[0]), cell(name, "name"), cell(rk[2]),
                     cell("not run" if var is None else f"{var[0]} ({var[1]}, {selection_label(var[2])})",
                          "muted" if var is None else ("warn" if var[2] == "best_test" else ""))]
            for ck in col_keys:
                pv = values.get(rk + ck)
                tsel = (rk + ck) in flagged
                cells.append(cell("" if pv is None else f"{pv:.1f}", "num paper",
                                  title=TEST_SELECTED_LABEL if tsel else "", badge="test-selected" if tsel else ""))
                hit = None
                if var is not None:
                    for r in ours.get(mk + ck[:2], []):
                        if (str(r["method"]), str(r["fidelity"]), str(r["selection"])) == var:
                            hit = r
                metric = GROUP_TO_METRIC[ck[2]]
                if hit is None:
                    cells += [cell("—", "num muted"), cell("", "num")]
                    continue
                matched += 1
                mean = num(hit[f"{metric}_mean"])
                cells.append(cell(fmt_metric(metric, hit[f"{metric}_mean"], hit[f"{metric}_std"])
                                  + f" (n={int(hit['n_seeds'])})", "num ours"))
                diff = None if (mean is None or pv is None) else 100 * mean - pv
                cells.append(cell(fmt_signed(diff), "num " + ("neg" if diff is not None and diff < 0 else "pos")))
            rows.append({"cls": "muted" if var is None else "", "cells": cells})
    return rows, matched


def paper_table(tab: str, paper: pd.DataFrame, summary: pd.DataFrame,
                optimistic: Optional[pd.DataFrame] = None) -> Optional[dict]:
    """Paper rows of table ``tab`` with our mean ± std and the difference; None when nothing of ours maps.

    ``summary``: our last/best_val rows; ``optimistic``: our ``best_test`` rows (checkpoint chosen on
    the test split). Paper numbers that equal the official code's test-selected figures carry
    :data:`TEST_SELECTED_LABEL`; their rows are compared first with our ``best_test`` runs, in a
    section of their own (``t["optimistic"]``, never mixed with the other rules), then with the
    rest in the main table."""
    p = paper[(paper["table"] == tab) & (paper["metric"] == "top1") & (paper["setting"] == "long_tailed")]
    if p.empty:
        return None
    selected = selected_on_test_keys(paper.to_dict("records"))
    col_keys: List[tuple] = []
    row_keys: List[tuple] = []
    values: Dict[tuple, float] = {}
    flagged: set = set()
    for r in p.to_dict("records"):
        ck, rk = (r["dataset"], r["benchmark"], r["group"]), (r["backbone"], r["method"], r["streams"])
        if ck not in col_keys:
            col_keys.append(ck)
        if rk not in row_keys:
            row_keys.append(rk)
        values[rk + ck] = r["value"]
        if is_test_selected(r, selected):
            flagged.add(rk + ck)

    header = ["backbone", "method", "streams", "ours: method (fidelity, selection)"]
    groups = [(f"{d} {b}" + ("" if g == "all" else f" {g}"), 3) for d, b, g in col_keys]
    sub = ["paper", "ours (mean ± sd)", "Δ"] * len(col_keys)
    rows, matched = _table_rows(row_keys, col_keys, values, flagged, _our_rows(summary))
    opt = None
    flagged_rows = [rk for rk in row_keys if any(rk + ck in flagged for ck in col_keys)]
    if optimistic is not None and len(optimistic) and flagged_rows:
        opt_rows, opt_matched = _table_rows(flagged_rows, col_keys, values, flagged, _our_rows(optimistic))
        if opt_matched:
            opt = {"rows": opt_rows, "matched": opt_matched}
    if matched == 0 and opt is None:
        return None
    return {"id": tab, "title": TABLE_TITLES.get(tab, f"Table {tab}"), "file": f"table_{tab}.html",
            "header": header, "groups": groups, "sub": sub, "rows": rows, "matched": matched,
            "optimistic": opt, "n_test_selected": len(flagged), "test_selected_label": TEST_SELECTED_LABEL}
