"""The HTML report: the first screen, one page per paper table, per-backbone details, provenance.

Everything is computed from the run folders (metrics.json, test_probs.npz, epochs.csv), the split
counts, the prepared-dataset tables and the packaged ``paper_results.csv``. From ``--tables`` the
report reads ``summary.csv`` and ``pairwise.csv`` when both exist (the bootstraps are the expensive
part); otherwise it recomputes them. Each page's data are prepared by its own module (overview,
details, paper, provenance); this module only reads the inputs and writes the pages.

Pages are rendered with jinja2 (package loader, StrictUndefined, autoescape) and are self-contained:
inline CSS, inline SVG figures and one small inline script (sortable tables, the metric switch, CSV
download; the pages read fine without it); no external resources, no timestamps, no absolute paths.
Iteration is always over sorted keys so two renders from the same inputs are byte-identical.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence

from benchmark.aggregate import (RunRecord, build_tables, collect_runs, read_table, runs_table,
                                 summary_table)
from benchmark.report import figures
from benchmark.report.common import (METRIC_VIEWS, ReportInputs, dataset_summary, environment, groups,
                                     load_paper_results, render_page, slug, split_counts, split_ratio)
from benchmark.report.details import details_page
from benchmark.report.overview import OPTIMISTIC_TITLE, backbone_section, is_optimistic, optimistic_blocks
from benchmark.report.paper import PAGE_ORDER, PaperIndex, paper_table
from benchmark.report.provenance import provenance

__all__ = ("ReportInputs", "load_paper_results", "render_report", "load_tables")


def load_tables(records: Sequence[RunRecord], tables: Optional[Path], n_resamples: int):
    """(summary, pairwise): from ``tables`` when both files exist and are current, else recomputed."""
    if tables is not None:
        sp, pp = Path(tables) / "summary.csv", Path(tables) / "pairwise.csv"
        if sp.exists() and pp.exists():
            summary, pw = read_table(sp), read_table(pp)
            if "balanced_acc_lo" in summary.columns and "interval" in pw.columns:
                # keep the row order and dtypes of a fresh summary; take the intervals from the file
                fresh = summary_table(runs_table(records))
                key = [c for c in fresh.columns if c in ("dataset", "benchmark", "split", "backbone", "method",
                                                          "stream", "fidelity", "selection")]
                extra = [c for c in summary.columns if c not in fresh.columns]
                fresh = fresh.merge(summary[key + extra].astype({k: str for k in key}).drop_duplicates(key),
                                    on=key, how="left") if len(fresh) else fresh.reindex(
                                        columns=list(fresh.columns) + extra)
                return fresh, pw
    t = build_tables(records, n_resamples)
    return t["summary"], t["pairwise"]


def _records(inputs: ReportInputs) -> List[RunRecord]:
    # exactly the given runs (or every run below the root); a missing root is an error, an empty one is not
    return collect_runs(inputs.runs_root, inputs.runs)


def render_report(inputs: ReportInputs) -> List[Path]:
    """Render every page into ``inputs.out``; returns the written paths (index first)."""
    out = Path(inputs.out)
    out.mkdir(parents=True, exist_ok=True)
    env = environment()
    all_records = _records(inputs)
    summary, pw = load_tables(all_records, inputs.tables, inputs.n_resamples)
    paper_df = load_paper_results(inputs.paper_results)
    paper = PaperIndex(paper_df)
    from benchmark.reference import REFERENCE_DIR, ReferenceIndex

    reference = ReferenceIndex(inputs.reference or REFERENCE_DIR)
    # test-selected rows (best_test) get their own section at the end; every other table leaves them out
    records = [r for r in all_records if not is_optimistic(r.run["selection"])]
    opt_records = [r for r in all_records if is_optimistic(r.run["selection"])]
    opt_summary = summary
    if len(summary):
        opt_mask = summary["selection"].map(is_optimistic).astype(bool)
        opt_summary, summary = summary[opt_mask].reset_index(drop=True), summary[~opt_mask].reset_index(drop=True)
    optimistic = optimistic_blocks(opt_summary, pw, paper, opt_records)

    tables = [t for t in (paper_table(tab, paper_df, summary, opt_summary) for tab in PAGE_ORDER) if t is not None]
    detail_pages = []
    sections = []
    for (dataset, benchmark, split), s_sum in groups(summary, ["dataset", "benchmark", "split"]):
        recs = [r for r in records if r.run["split"] == split and r.run["dataset"] == dataset]
        key = slug(split)
        counts = split_counts(split, recs, inputs.splits_root)
        ds = dataset_summary(dataset, benchmark, inputs.data_root, key)
        dist_svg, shot_rows = "", []
        if counts is not None:
            tc = ds["test_counts"] if ds is not None and len(ds["test_counts"]) == len(counts) else None
            dist_svg = figures.class_distribution(counts, f"{split}: training samples per class", key=f"{key}-dist",
                                                  test_counts=tc)
            for sh in ("many", "medium", "few"):
                cls = counts[counts["shot"] == sh].sort_values("rank")
                rng_txt = "–" if cls.empty else f"{int(cls['count'].max())} … {int(cls['count'].min())}"
                shot_rows.append([figures.shot_labels(counts)[sh], str(len(cls)), rng_txt])
        backbones = []
        for (backbone,), b_sum in groups(s_sum, ["backbone"]):
            b_recs = [r for r in recs if r.run["backbone"] == backbone]
            detail_file = f"details_{slug(split, backbone)}.html"
            backbones.append(backbone_section(split, backbone, b_sum, pw, paper, b_recs, detail_file,
                                              reference=reference))
            detail_pages.append((detail_file, details_page(split, backbone, b_recs, counts)))
        sections.append({"split": split, "dataset": dataset, "benchmark": benchmark, "ratio": split_ratio(split),
                         "anchor": key, "dist_svg": dist_svg, "shot_rows": shot_rows, "dataset_summary": ds,
                         "backbones": backbones, "n_runs": len({r.path for r in recs})})   # folders, not selections

    nav = {"tables": [{"file": t["file"], "title": t["title"]} for t in tables],
           "details": [{"file": f, "title": ctx["title"]} for f, ctx in detail_pages]}
    written = [render_page(env, "index.html", out, "index.html", title="LT-Skeleton Bench report", nav=nav,
                           sections=sections, n_runs=len({r.path for r in records}), n_configs=len(summary), views=METRIC_VIEWS,
                           optimistic=optimistic, optimistic_title=OPTIMISTIC_TITLE,
                           n_optimistic=len(opt_records))]
    for t in tables:
        written.append(render_page(env, "paper_table.html", out, t["file"], title=t["title"], nav=nav, t=t))
    for f, ctx in detail_pages:
        written.append(render_page(env, "details.html", out, f, nav=nav, **ctx))
    written.append(render_page(env, "provenance.html", out, "provenance.html", title="Provenance", nav=nav,
                               p=provenance(all_records, inputs.config, paper_df)))
    return written

