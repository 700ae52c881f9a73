"""The first screen (index.html): per split × backbone, methods ranked by a chosen metric.

What a researcher asks first: which method is best on the tail, by how much, is the difference
real, and how does it compare with the paper. Each split × backbone section therefore opens with
one ranked table per metric of the metric switch (balanced accuracy by default; Few, top-1 and the
tail third one click away): the seed mean with its 95 % interval, the difference to CE and to BRL
with the verdict of :func:`benchmark.stats.compare_methods`, and the paper's number beside ours
wherever the paper reports that dataset/method/stream, with a badge naming every way our budget
differs from the paper's recipe. The figures and the full comparison table follow.

This module only prepares data (plain dicts of cells); ``templates/index.html`` lays it out.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from benchmark import convergence
from benchmark.aggregate import RunRecord, method_sort_key, stream_sort_key
from benchmark.paper_map import TEST_SELECTED_LABEL
from benchmark.report import figures
from benchmark.report.common import (METRIC_LABELS, METRIC_VIEWS, cell, fmt_interval, fmt_p, fmt_signed, is_true,
                                     num, row, selection_label, slug, table, txt)
from benchmark.report.paper import PaperIndex, budget_differences
from benchmark.stats import MIN_SEEDS

FEW_SEEDS_MARK = "‡"
REAL_MARK = "✓ real"
LEARNING_MARK = "still learning"


def still_learning(recs: Sequence[RunRecord]) -> bool:
    """Whether any run of a row was still learning at its end (benchmark.convergence)."""
    return any(convergence.check_epochs_csv(rec.dir / "epochs.csv").still_learning for rec in recs)


def primary_stream(b_sum: pd.DataFrame) -> str:
    """The stream most methods were run on (the method comparison); ties: singles first, j first."""
    counts = b_sum.groupby("stream")["method"].nunique()
    return sorted(counts.index, key=lambda s: (-int(counts[s]), stream_sort_key(str(s))))[0]


def _pair(pw: pd.DataFrame, split: str, backbone: str, stream: str, selection: str, m: str, base: str,
          metric: str) -> Optional[tuple]:
    """(pairwise row, sign) comparing m with base (sign −1 when the table stores base − m)."""
    if pw.empty or m == base:
        return None
    d = pw[(pw["split"] == split) & (pw["backbone"] == backbone) & (pw["stream"] == stream)
           & (pw["selection"].astype(str) == selection) & (pw["metric"] == metric)]
    hit = d[(d["method_a"] == m) & (d["method_b"] == base)]
    if len(hit):
        return hit.iloc[0], 1.0
    hit = d[(d["method_a"] == base) & (d["method_b"] == m)]
    return (hit.iloc[0], -1.0) if len(hit) else None


def delta_cell(found: Optional[tuple], base_present: bool) -> dict:
    """'+3.2 [−1.0, +7.5]' in points with the verdict: ✓ only when compare_methods called it real."""
    if found is None:
        return cell("—" if base_present else "not run", "num muted")
    r, sign = found
    mean = num(r["mean_diff"])
    if mean is None:
        return cell("n/a", "num muted")
    text = fmt_signed(100 * sign * mean)
    lo, hi = num(r["ci_lo"]), num(r["ci_hi"])
    if lo is not None and hi is not None:
        a, b = sorted((100 * sign * lo, 100 * sign * hi))
        text += f" [{fmt_signed(a)}, {fmt_signed(b)}]"
    n = int(r["n_seeds"])
    sig = is_true(r["significant"])
    note = "" if pd.isna(r.get("note")) else str(r.get("note") or "")
    tip = (f"{n} paired seed(s), {int(r['n_positive']) if sign > 0 else n - int(r['n_positive'])}/{n} favour this "
           f"method; paired t-test p {fmt_p(r['p_value'])}; interval: "
           + ("seeds and test samples resampled" if r.get("interval") == "seeds+test" else "test samples only")
           + (f"; {note}" if note else ""))
    badge = REAL_MARK if sig else (FEW_SEEDS_MARK if n < MIN_SEEDS else "")
    cls = "num " + ("sig " if sig else "") + ("neg" if sign * mean < 0 else "pos")
    return cell(text, cls, sort=100 * sign * mean, title=tip, badge=badge)


def _notes(r: pd.Series, recs: Sequence[RunRecord]) -> str:
    out = []
    sel = str(r["selection"])
    if sel != "last":
        out.append(selection_label(sel))
    c = num(r.get("num_classes"))
    bal = num(r.get("balanced_acc_mean"))
    if c and bal is not None and bal <= 1.5 / c:
        out.append(f"near chance (1/C = {100 / c:.0f}%)")
    for rec in recs:
        # an under-trained run (benchmark.convergence): its number depends on where training stopped
        learning = convergence.check_epochs_csv(rec.dir / "epochs.csv")
        if learning.still_learning:
            out.append(f"seed {rec.run.get('seed')}: {learning.note()}" if len(recs) > 1 else learning.note())
        # a method that reduces to another on this class profile (e.g. EQL with no class below λ = CE)
        from methods._degenerate import note_for_record
        if not str(rec.run.get("stream", "")).startswith("ens-"):
            d = note_for_record({"run": rec.run, "meta": rec.meta})
            if d:
                out.append(d)
        for k in ("degenerate", "note", "notes"):
            v = rec.meta.get(k)
            if v and v is not True:
                out.append(txt(v))
            elif v is True:
                out.append("degenerate run")
    return "; ".join(dict.fromkeys(out))


def _paper_cell(paper: PaperIndex, r: pd.Series, metric: str, recs: Sequence[RunRecord], table_id: str) -> tuple:
    """(paper cell, ours − paper cell) for ``metric``; budget differences in the tooltip and as a badge."""
    hit = paper.lookup(str(r["dataset"]), str(r["benchmark"]), str(r["backbone"]),
                       str(r.get("method_name") or r["method"]), str(r["stream"]), metric)
    if hit is None:
        others = paper.other_streams(str(r["dataset"]), str(r["benchmark"]), str(r["backbone"]),
                                     str(r.get("method_name") or r["method"]), metric)
        if others:   # same dataset and method, another stream: context only, no difference computed
            tip = "the paper reports this method here only for other streams: " + \
                "; ".join(f"{st} {v:.1f} (Table {t})" for st, v, t in others)
            return cell("—", "num muted", title=tip, badge=" · ".join(f"{st}: {v:.1f}" for st, v, _ in others[:2])), \
                cell("", "num")
        return cell("—", "num muted", title="the paper reports no number for this dataset/method/stream"), \
            cell("", "num")
    value, tab = hit
    diffs = budget_differences(recs, [int(r["n_seeds"])], paper_table=tab, method=str(r.get("method_name")))
    tsel = paper.is_selected_on_test(str(r["dataset"]), str(r["benchmark"]), str(r["backbone"]),
                                     str(r.get("method_name") or r["method"]), str(r["stream"]), tab, metric)
    tip = f"paper Table {tab}" + (f" ({TEST_SELECTED_LABEL})" if tsel else "") + \
        (f"; our budget differs: {'; '.join(diffs)}" if diffs else "; same recipe budget")
    ours = num(r.get(f"{metric}_mean"))
    d = None if ours is None else 100 * ours - value
    return (cell(f"{value:.1f}", "num paper", sort=value, title=tip,
                 badge=f"Tab. {tab}" + (" ≠" if diffs else "") + (" · test-selected" if tsel else "")),
            cell(fmt_signed(d), "num " + ("neg" if d is not None and d < 0 else "pos"), sort=d, title=tip))


def _reference_cell(reference, r: pd.Series) -> dict:
    """This suite's reference top-1 for the row's cell (reference/), with its provenance in the
    tooltip; marked when it comes from an older version of the code."""
    hit = reference.lookup(str(r["split"]), str(r["backbone"]), str(r["method"]), str(r["stream"]), "top1",
                           str(r["selection"]))
    if hit is None:
        return cell("—", "num muted", title="no reference run of this suite for this cell (docs/reference.md)")
    return cell(f"{100 * hit.value:.1f}", "num", sort=100 * hit.value, title=hit.note,
                badge="" if hit.current else "older code")


def ranked_table(tid: str, rows_df: pd.DataFrame, metric: str, pw: pd.DataFrame, paper: PaperIndex,
                 recs_by_key: Dict[tuple, List[RunRecord]], reference=None) -> dict:
    """Rows ranked by ``metric`` (best first, missing last) with intervals, Δ vs CE/BRL, this
    suite's reference (when reference/ holds runs of these cells) and the paper."""
    label = METRIC_LABELS.get(metric, metric)
    cols = ["#", "method", "stream", "seeds", f"{label} % [95% CI]", "Δ vs CE", "Δ vs BRL"]
    if metric != "top1":
        cols += ["top-1 %"]
    with_reference = reference is not None and any(
        reference.lookup(str(r["split"]), str(r["backbone"]), str(r["method"]), str(r["stream"]), "top1",
                         str(r["selection"])) is not None for _, r in rows_df.iterrows())
    if with_reference:
        cols += ["reference top-1"]
    cols += ["paper top-1", "Δ paper"]
    if metric in ("few", "many", "medium"):
        cols += [f"paper {label}", f"Δ paper {label}"]
    cols += ["notes"]
    vals = rows_df[f"{metric}_mean"].astype(float)
    order = sorted(range(len(rows_df)), key=lambda i: (np.isnan(vals.iloc[i]), -np.nan_to_num(vals.iloc[i]),
                                                       method_sort_key(str(rows_df["method"].iloc[i]))))
    methods = set(rows_df["method"])
    rows = []
    for rank, i in enumerate(order, 1):
        r = rows_df.iloc[i]
        m, st, sel = str(r["method"]), str(r["stream"]), str(r["selection"])
        recs = recs_by_key.get((m, st, sel), [])
        lo, hi = r.get(f"{metric}_lo"), r.get(f"{metric}_hi")
        few = int(r["n_seeds"]) < MIN_SEEDS
        main = cell(fmt_interval(metric, r[f"{metric}_mean"], lo, hi), "num main",
                    sort=None if num(r[f"{metric}_mean"]) is None else 100 * float(r[f"{metric}_mean"]),
                    title=str(r.get("interval_note") or "") or "seeds and test samples resampled",
                    badge=FEW_SEEDS_MARK if few and num(lo) is not None else "")
        cells = [cell(str(rank), "num", sort=rank), cell(m, "name"), cell(st),
                 cell(f"{int(r['n_seeds'])}", "num", sort=int(r["n_seeds"]), title=f"seeds {r['seeds']}"), main]
        for base in ("ce", "brl"):
            if m == base:
                cells.append(cell("baseline", "num muted"))
            else:
                cells.append(delta_cell(_pair(pw, str(r["split"]), str(r["backbone"]), st, sel, m, base, metric),
                                        base in methods))
        if metric != "top1":
            cells.append(cell(fmt_interval("top1", r["top1_mean"], None, None), "num",
                              sort=None if num(r["top1_mean"]) is None else 100 * float(r["top1_mean"])))
        if with_reference:
            cells.append(_reference_cell(reference, r))
        cells += list(_paper_cell(paper, r, "top1", recs, tid))
        if metric in ("few", "many", "medium"):
            cells += list(_paper_cell(paper, r, metric, recs, tid))
        learning = still_learning(recs)         # an under-trained row, badged at a glance
        cells.append(cell(_notes(r, recs), "note", title=convergence.RULE if learning else "",
                          badge=LEARNING_MARK if learning else ""))
        rows.append(row(cells, "ens" if st.startswith("ens-") else ""))
    return table(tid, cols, rows)


def pairwise_table(pw: pd.DataFrame, tid: str) -> dict:
    """Every comparison vs CE and vs BRL: seed-paired difference, t-test, interval and verdict per metric."""
    metrics = [m for m, _ in METRIC_VIEWS if m in set(pw["metric"])]
    cols = ["stream", "A", "B", "seeds"]
    for m in metrics:
        lab = METRIC_LABELS[m]
        cols += [f"{lab}: Δ ± sd (A>B, p)", f"{lab}: Δ [95% interval]", f"{lab}: real?"]
    rows = []
    d = pw[pw["comparison"].isin(("vs_ce", "vs_brl", "fidelity"))]
    keys = list(dict.fromkeys((r["stream"], r["selection"], r["method_a"], r["method_b"]) for _, r in d.iterrows()))
    for k in keys:
        sel = d[(d["stream"] == k[0]) & (d["selection"] == k[1]) & (d["method_a"] == k[2]) & (d["method_b"] == k[3])]
        cells = [cell(str(k[0])), cell(str(k[2]), "name"), cell(str(k[3]), "name"),
                 cell(str(int(sel["n_seeds"].max())), "num", sort=int(sel["n_seeds"].max()))]
        for m in metrics:
            rm = sel[sel["metric"] == m]
            if rm.empty:
                cells += [cell("n/a", "num muted")] * 3
                continue
            r = rm.iloc[0]
            mean, sd = num(r["mean_diff"]), num(r["std_diff"])
            diff = "n/a" if mean is None else fmt_signed(100 * mean) + ("" if sd is None else f" ± {100 * sd:.1f}")
            diff += f" ({int(r['n_positive'])}/{int(r['n_seeds'])}, p {fmt_p(r['p_value'])})"
            lo, hi = num(r["ci_lo"]), num(r["ci_hi"])
            ci = "n/a" if lo is None else \
                f"{fmt_signed(100 * num(r['boot_diff']))} [{fmt_signed(100 * lo)}, {fmt_signed(100 * hi)}]"
            sig = is_true(r["significant"])
            note = "" if pd.isna(r.get("note")) else str(r.get("note") or "")
            cells += [cell(diff, "num", sort=None if mean is None else 100 * mean),
                      cell(ci, "num", sort=None if lo is None else 100 * num(r["boot_diff"]),
                           title="seeds and test samples resampled" if r.get("interval") == "seeds+test"
                           else "test samples only"),
                      cell("yes" if sig else ("no: " + note if note else "no"), "sig" if sig else "muted")]
        rows.append(row(cells))
    return table(tid, cols, rows)


def curve_frames(summary: pd.DataFrame):
    """Long frames for the group-error curves (10 groups) and the head/middle/tail bars, in %."""
    g_rows, p_rows = [], []
    for _, r in summary.iterrows():
        for i in range(10):
            m, s = num(r.get(f"err_g{i + 1}_mean")), num(r.get(f"err_g{i + 1}_std"))
            g_rows.append({"method": r["method"], "stream": r["stream"], "group": i + 1,
                           "error": np.nan if m is None else 100 * m, "std": np.nan if s is None else 100 * s})
        for part in ("head", "middle", "tail"):
            m, s = num(r.get(f"fig7_{part}_error_mean")), num(r.get(f"fig7_{part}_error_std"))
            p_rows.append({"method": r["method"], "stream": r["stream"], "part": part,
                           "error": np.nan if m is None else 100 * m, "std": np.nan if s is None else 100 * s})
    return pd.DataFrame(g_rows), pd.DataFrame(p_rows)


def backbone_section(split: str, backbone: str, b_sum: pd.DataFrame, pw: pd.DataFrame, paper: PaperIndex,
                     recs: Sequence[RunRecord], detail_file: str, reference=None) -> dict:
    """All data of one split × backbone block of the first screen (``reference``: this suite's
    reference results, benchmark.reference.ReferenceIndex, shown beside ours and the paper's)."""
    bkey = slug(split, backbone)
    recs_by_key: Dict[tuple, List[RunRecord]] = {}
    for rec in recs:
        recs_by_key.setdefault((str(rec.run["method"]), str(rec.run["stream"]), str(rec.run["selection"])),
                               []).append(rec)
    prim = primary_stream(b_sum)
    first = b_sum[b_sum["stream"] == prim]
    rest = b_sum[b_sum["stream"] != prim]
    views = []
    for metric, label in METRIC_VIEWS:
        has = b_sum[f"{metric}_mean"].notna().any()
        views.append({
            "metric": metric, "label": label, "has": bool(has),
            "main": ranked_table(f"ranked-{bkey}-{metric}", first, metric, pw, paper, recs_by_key, reference)
            if has else None,
            "rest": ranked_table(f"streams-{bkey}-{metric}", rest, metric, pw, paper, recs_by_key, reference)
            if has and len(rest) else None,
        })
    singles = sorted({str(r.run["stream"]) for r in recs if not str(r.run["stream"]).startswith("ens-")},
                     key=stream_sort_key)
    badges = budget_differences(recs, [int(n) for n in b_sum["n_seeds"]], all_streams=singles)
    few_seeds = int(b_sum["n_seeds"].min()) < MIN_SEEDS if len(b_sum) else False
    # figures: one curve per method and stream, of the default (last-checkpoint) rows where a run
    # also reports other selections (best_val rows share the method and stream)
    fig_sum = b_sum[b_sum["selection"].astype(str) == "last"] if (b_sum["selection"].astype(str) == "last").any() \
        else b_sum
    gdf, pdf = curve_frames(fig_sum)
    highlight = figures.highlight_methods(fig_sum[fig_sum["stream"] == prim], "tail_mean")
    pw_b = pw[(pw["split"] == split) & (pw["backbone"] == backbone)] if len(pw) else pw
    return {
        "backbone": backbone, "anchor": bkey, "detail_file": detail_file, "primary": prim, "views": views,
        "badges": badges, "few_seeds": few_seeds, "min_seeds": int(b_sum["n_seeds"].min()) if len(b_sum) else 0,
        "paper_dataset": paper.reports_dataset(str(b_sum["dataset"].iloc[0])) if len(b_sum) else False,
        "curves_svg": figures.group_error_curves(gdf, prim, highlight, key=f"{bkey}-g10"),
        "streams_svg": figures.stream_error_curves(gdf, prim, key=f"{bkey}-g10s"),
        "hmt_svg": figures.head_middle_tail_bars(pdf[pdf["stream"] == prim], highlight, key=f"{bkey}-hmt"),
        "pairwise": pairwise_table(pw_b, f"pairwise-{bkey}") if len(pw_b) else None,
        "n_resamples": _n_resamples(pw_b),
    }


#: heading of the section that holds the test-selected (``best_test``) rows, after everything else
OPTIMISTIC_TITLE = ("Selected on the test set (optimistic; the official code's F13 protocol) — "
                    "not comparable with the tables above")


def is_optimistic(selection) -> bool:
    """``best_test`` rows (checkpoint chosen on the test split) never share a table with the others."""
    return str(selection) == "best_test"


def optimistic_blocks(opt_summary: pd.DataFrame, pw: pd.DataFrame, paper: PaperIndex,
                      recs: Sequence[RunRecord]) -> List[dict]:
    """One block per split × backbone of the test-selected rows: ranked tables (all streams in one
    table) for each metric of the switch, compared only among themselves (the pairwise rows used
    here share the ``best_test`` rule). The first screen and the paper tables never show them."""
    out = []
    if opt_summary.empty:
        return out
    pw_opt = pw[pw["selection"].astype(str) == "best_test"] if len(pw) else pw
    keys = sorted({(str(a), str(b)) for a, b in zip(opt_summary["split"], opt_summary["backbone"])})
    for split, backbone in keys:
        b_sum = opt_summary[(opt_summary["split"].astype(str) == split)
                            & (opt_summary["backbone"].astype(str) == backbone)].reset_index(drop=True)
        b_recs = [r for r in recs if str(r.run["split"]) == split and str(r.run["backbone"]) == backbone]
        recs_by_key: Dict[tuple, List[RunRecord]] = {}
        for rec in b_recs:
            recs_by_key.setdefault((str(rec.run["method"]), str(rec.run["stream"]), str(rec.run["selection"])),
                                   []).append(rec)
        bkey = slug("optimistic", split, backbone)
        views = []
        for metric, label in METRIC_VIEWS:
            has = bool(b_sum[f"{metric}_mean"].notna().any())
            views.append({"metric": metric, "label": label, "has": has,
                          "main": ranked_table(f"{bkey}-{metric}", b_sum, metric, pw_opt, paper, recs_by_key)
                          if has else None})
        out.append({"split": split, "backbone": backbone, "anchor": bkey, "views": views,
                    "n_runs": len(b_recs)})
    return out


def _n_resamples(pw: pd.DataFrame) -> str:
    vals = sorted({int(v) for v in pw.get("n_resamples", pd.Series(dtype=float)).dropna()}) if len(pw) else []
    return " / ".join(f"{v:,}".replace(",", " ") for v in vals) or "no"
