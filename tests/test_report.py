"""Aggregation tables and the HTML report on tiny fake run folders (docs/workflow.md).

The fake results tree holds two splits (NW-UCLA-LT at ratio 10 and an NTU60-LT-shaped split at
ratio 100, so that paper tables map), methods ce / brl / brl_official (official_code fidelity),
two seeds, streams j and b, and the 2-stream ensemble built with the real ensemble CLI.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.aggregate import aggregate, collect_runs
from benchmark.data.splits import counts_table, lt_profile
from benchmark.ensemble import main as ensemble_main
from benchmark.metrics import compute_metrics
from benchmark.report.__main__ import main as report_main

SPLITS = {  # split -> (dataset, benchmark, classes, n_max, ratio, test per class)
    "nw_ucla_default_lt10": ("nw_ucla", "default", 10, 100, 10, 12),
    "ntu60_xsub_lt100": ("ntu60", "xsub", 60, 600, 100, 4),
}
METHODS = {"ce": ("paper", 1.0), "brl": ("paper", 1.8), "brl_official": ("official_code", 1.6)}
STREAMS = ("j", "b")
SEEDS = (0, 1)


def _write_run(d: Path, run: dict, probs: np.ndarray, labels: np.ndarray, counts: np.ndarray, seed: int) -> None:
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = np.array([f"s{i:04d}" for i in range(len(labels))])
    np.savez(d / "test_probs.npz", probs=probs.astype(np.float32), labels=labels.astype(np.int64),
             clip_logits=np.log(np.stack([probs, probs], axis=1)).astype(np.float32), names=names)
    meta = {"wall_time_s": 100.0 + 10 * seed, "hardware": "fake-cpu x2", "device": "cpu", "code_version": "abc123",
            "config_hash": "cfg0", "method_meta": {"method": run["method"], "fidelity": run["fidelity"], "flags": {}},
            "schedule": {"epochs": 5}, "train_samples_per_s": 12.5,
            "fidelity_flags": {"F2": {"option": "lambda_scope", "value": "per_device" if run["fidelity"] == "official_code"
                                      else "per_batch"},
                               "F14": {"option": "schedule.batch_size/base_lr",
                                       "value": {"batch_size": 16 if run["fidelity"] == "official_code" else 128}},
                               "F17": {"option": "seed", "value": seed}}}
    rec = {"run": run, "metrics": compute_metrics(probs, labels, counts), "meta": meta}
    (d / "metrics.json").write_text(json.dumps(rec, indent=1, sort_keys=True))
    ep = np.arange(1, 6)
    pd.DataFrame({"epoch": ep, "step": ep * 10, "loss": 2.0 / ep + rng.random(5) * 0.1, "lr": 0.1 / ep,
                  "test_top1_monitor": 0.2 + 0.1 * ep + rng.random(5) * 0.02, "test_balanced_acc_monitor": 0.2 + 0.09 * ep,
                  "seconds": np.full(5, 3.0)}).to_csv(d / "epochs.csv", index=False)


def make_fake_results(root: Path) -> dict:
    """results/{runs,splits,data} under ``root``; returns the paths."""
    runs_root, splits_root, data_root = root / "runs", root / "splits", root / "data"
    for split, (dataset, bench, c, n_max, ratio, per_class) in SPLITS.items():
        counts = lt_profile(c, n_max, ratio)
        tab = counts_table(np.repeat(np.arange(c), counts), c, [f"action{k}" for k in range(c)])
        splits_root.mkdir(parents=True, exist_ok=True)
        tab.to_csv(splits_root / f"{split}_counts.csv", index=False)
        labels = np.repeat(np.arange(c), per_class)
        if dataset == "nw_ucla":   # a prepared-dataset table for the dataset summary
            ddir = data_root / dataset
            ddir.mkdir(parents=True, exist_ok=True)
            tr = np.repeat(np.arange(c), counts)
            lab = np.concatenate([tr, labels])
            r = np.random.default_rng(5)
            pd.DataFrame({"name": [f"a{i:05d}" for i in range(len(lab))], "label": lab,
                          "frames": r.integers(20, 120, len(lab)), "persons": np.ones(len(lab), dtype=int),
                          bench: ["train"] * len(tr) + ["test"] * len(labels)}).to_csv(ddir / "table.csv", index=False)
            (ddir / "meta.json").write_text(json.dumps({"dataset": dataset, "layout": "nw_ucla", "num_classes": c,
                                                        "reader": "fake", "reader_version": "1"}))
        for method, (fidelity, strength) in METHODS.items():
            for seed in SEEDS:
                npzs = []
                for si, stream in enumerate(STREAMS):
                    rng = np.random.default_rng(zlib.crc32(f"{split}/{method}/{seed}/{stream}".encode()))
                    logits = rng.normal(size=(len(labels), c))
                    logits[np.arange(len(labels)), labels] += strength + 0.3 * si
                    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
                    run = {"dataset": dataset, "benchmark": bench, "split": split, "backbone": "stgcnpp",
                           "method": method, "stream": stream, "seed": seed, "fidelity": fidelity, "selection": "last"}
                    d = runs_root / split / "stgcnpp" / method / stream / f"seed{seed}"
                    _write_run(d, run, p, labels, counts, seed)
                    npzs.append(str(d / "test_probs.npz"))
                out = runs_root / split / "stgcnpp" / method / "ens-2s" / f"seed{seed}" / "metrics.json"
                assert ensemble_main(["--runs", *npzs, "--streams", *STREAMS, "--weights", "1", "1",
                                      "--counts", str(splits_root / f"{split}_counts.csv"), "--out", str(out)]) == 0
    return {"runs": runs_root, "splits": splits_root, "data": data_root}


def _render(res: dict, tables: Path, out: Path, config: Path) -> None:
    assert report_main(["--runs-root", str(res["runs"]), "--splits-root", str(res["splits"]), "--tables", str(tables),
                        "--out", str(out), "--config", str(config), "--data-root", str(res["data"])]) == 0


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    res = make_fake_results(root)
    tables = root / "tables"
    aggregate(res["runs"], tables, n_resamples=2000)
    config = root / "resolved_config.yaml"
    config.write_text("seeds: [0, 1]\nmethods: [ce, brl, brl_official]\n")
    out1, out2 = root / "report1", root / "report2"
    _render(res, tables, out1, config)
    _render(res, tables, out2, config)
    return {"res": res, "tables": tables, "out": out1, "out2": out2, "root": root}


# ---------------------------------------------------------------------------------------------
# aggregate

def test_runs_and_summary_tables(rendered):
    runs = pd.read_csv(rendered["tables"] / "runs.csv")
    n_single = len(SPLITS) * len(METHODS) * len(SEEDS) * len(STREAMS)
    n_ens = len(SPLITS) * len(METHODS) * len(SEEDS)
    assert len(runs) == n_single + n_ens
    assert set(runs["stream"]) == {"j", "b", "ens-2s"}
    assert runs["many"][runs["dataset"] == "nw_ucla"].isna().all()        # no Many class on NW-UCLA-LT
    summary = pd.read_csv(rendered["tables"] / "summary.csv")
    assert len(summary) == len(SPLITS) * len(METHODS) * 3
    assert (summary["n_seeds"] == 2).all()
    # mean/std are over seeds with ddof = 1
    r = runs[(runs["split"] == "ntu60_xsub_lt100") & (runs["method"] == "brl") & (runs["stream"] == "j")]
    s = summary[(summary["split"] == "ntu60_xsub_lt100") & (summary["method"] == "brl") & (summary["stream"] == "j")]
    assert s["top1_mean"].iloc[0] == pytest.approx(r["top1"].mean())
    assert s["top1_std"].iloc[0] == pytest.approx(r["top1"].std(ddof=1))
    # ensembles come right after their single streams within a method
    streams = summary[(summary["split"] == "nw_ucla_default_lt10") & (summary["method"] == "ce")]["stream"].tolist()
    assert streams == ["j", "b", "ens-2s"]


def test_pairwise_table(rendered):
    pw = pd.read_csv(rendered["tables"] / "pairwise.csv")
    comps = set(zip(pw["comparison"], pw["method_a"], pw["method_b"]))
    assert ("vs_ce", "brl", "ce") in comps and ("vs_ce", "brl_official", "ce") in comps
    assert ("fidelity", "brl", "brl_official") in comps
    # each unordered pair once: no mirror of brl vs ce, and the fidelity pair is not repeated as vs_brl
    assert ("vs_brl", "ce", "brl") not in comps and ("vs_brl", "brl_official", "brl") not in comps
    assert set(pw["metric"]) == {"top1", "balanced_acc", "few", "tail"}
    assert (pw["n_seeds"] == 2).all()
    # two seeds: the interval resamples test samples only and nothing is called real, even a clear gap
    assert (pw["interval"] == "test").all() and not pw["significant"].astype(bool).any()
    assert (pw["note"].str.contains("2 seeds: test-sampling interval only")).all()
    row = pw[(pw["comparison"] == "vs_ce") & (pw["method_a"] == "brl") & (pw["metric"] == "top1")
             & (pw["split"] == "ntu60_xsub_lt100") & (pw["stream"] == "j")].iloc[0]
    assert row["mean_diff"] == pytest.approx(row["mean_a"] - row["mean_b"])
    assert row["boot_diff"] == pytest.approx(row["mean_diff"])           # same samples: same point estimate
    assert row["ci_lo"] <= row["boot_diff"] <= row["ci_hi"]
    assert row["ci_lo"] > 0                                               # a big gap, still not "real"


def test_duplicate_run_fields_are_an_error(tmp_path):
    from benchmark.aggregate import AggregateError
    rec = {"run": {"dataset": "d", "benchmark": "b", "split": "d_b_lt10", "backbone": "x", "method": "ce",
                   "stream": "j", "seed": 0}, "metrics": {}, "meta": {}}
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "metrics.json").write_text(json.dumps(rec))
    with pytest.raises(AggregateError, match="identical run fields"):
        collect_runs(tmp_path)
    (tmp_path / "b" / "metrics.json").write_text("{not json")
    with pytest.raises(AggregateError, match="not valid JSON"):
        collect_runs(tmp_path)


# ---------------------------------------------------------------------------------------------
# report

def _html(rendered, name):
    return (rendered["out"] / name).read_text()


def test_pages_exist(rendered):
    names = sorted(p.name for p in rendered["out"].iterdir())
    assert "index.html" in names and "provenance.html" in names
    assert "details_nw_ucla_default_lt10_stgcnpp.html" in names
    assert "details_ntu60_xsub_lt100_stgcnpp.html" in names
    # NTU60-LT runs map to Tables I, III, VI (CE baseline) and the README table; nothing maps to the others
    assert {"table_I.html", "table_III.html", "table_readme.html"} <= set(names)
    for absent in ("table_II.html", "table_IV.html", "table_V.html", "table_VII.html", "table_VIII.html"):
        assert absent not in names
    idx = _html(rendered, "index.html")
    for n in names:
        if n.startswith("table_"):
            assert f'href="{n}"' in idx
    assert 'href="table_II.html"' not in idx


def test_index_contents(rendered):
    html = _html(rendered, "index.html")
    assert html.startswith("<!DOCTYPE html>")
    assert "<script src" not in html.lower() and html.lower().count("<script") == 1   # one inline script
    assert not re.search(r'(src|href)="(https?:)?//', html)              # no external resources
    assert str(rendered["root"]) not in html                             # no absolute paths
    assert "<?xml" not in html
    # group curves, head/middle/tail bars, per-stream curves per backbone, class distribution per split
    assert html.count("<svg") == 2 * 4 + 1
    assert "Training-set class distribution" in html and "Dataset summary" in html
    assert "Persons per sample" in html
    for m in METHODS:
        assert f'<td class="name">{m}</td>' in html
    assert "All comparisons" in html
    assert '<tr class="ens">' in html                                    # ensembles are in the tables
    # the metric switch: one ranked view per metric, only the default visible without a click
    for m in ("balanced_acc", "few", "top1", "tail"):
        assert f'data-metric="{m}"' in html and f'data-metric-view="{m}"' in html
    assert html.count('data-metric-view="balanced_acc">') == 2 and html.count('data-metric-view="few" hidden>') == 2
    # every sortable table has its CSV button
    assert html.count('<button type="button" class="csv"') == html.count('<table id="') > 0


def _first_table(html: str) -> str:
    return html[html.index("<table"):html.index("</table>")]


def test_first_table_is_the_ranked_summary(rendered):
    html = _html(rendered, "index.html")
    first = _first_table(html)
    assert 'id="ranked-ntu60_xsub_lt100_stgcnpp-balanced_acc"' in first
    body = first[first.index("<tbody>"):]
    vals = [float(v) for v in re.findall(r'<td class="num main" data-sort="([-0-9.e]+)"', body)]
    assert len(vals) == len(METHODS) and vals == sorted(vals, reverse=True)
    names = re.findall(r'<td class="name">([a-z_]+)</td>', body)
    assert names[0] == "brl" and names[-1] == "ce"                       # the fake BRL is the strongest
    # the fake runs' monitor still rises 9 points an epoch at the end: every row is badged, with the rule
    assert body.count('<span class="badge">still learning</span>') == len(METHODS)
    assert "still learning: monitored accuracy moved 9.0 points over epochs 4–5" in body
    # the paper's number beside ours with the table it comes from, and the budget difference
    assert "76.7" in body and "Tab. III" in body and "72.3" in body
    sec = html[html.index('<section id="ntu60_xsub_lt100_stgcnpp">'):]
    budget = sec[sec.index('class="budget"'):sec.index("</p>", sec.index('class="budget"'))]
    assert "2 seeds (paper protocol 3)" in budget and "streams j b" in budget
    assert "2 seeds: test-sampling interval only" in sec
    assert "✓ real" not in _first_table(sec)


def test_figures_are_readable(rendered):
    """Text ≥ 10 CSS px at the SVG's natural size, figures no wider than the page, legends outside."""
    from benchmark.report import figures
    assert figures.LAYOUT_LOG == [], figures.LAYOUT_LOG
    for name in ("index.html", "details_ntu60_xsub_lt100_stgcnpp.html"):
        html = _html(rendered, name)
        for svg in re.findall(r"<svg.*?</svg>", html, flags=re.S):
            w = float(re.search(r'width="([0-9.]+)pt"', svg).group(1)) * 4 / 3          # CSS px
            vb = float(re.search(r'viewBox="0 0 ([0-9.]+) ', svg).group(1))
            scale = (w / vb) * min(1.0, 1160 / w)            # page content is ~1160 px wide at most
            sizes = [float(x) for x in re.findall(r"font(?:-size)?:\s*(?:[a-z]+ )*([0-9.]+)px", svg)]
            assert sizes, "no text found in a figure"
            assert min(sizes) * scale >= 10 - 1e-6, (name, min(sizes) * scale)
def test_paper_table_contents(rendered):
    html = _html(rendered, "table_III.html")
    assert "72.3" in html and "76.7" in html          # the paper's CE and BRL NTU60-LT X-Sub joint numbers
    assert "n=2" in html                              # ours: mean over 2 seeds
    assert "not run" in html                          # focal etc. have no runs here
    assert "brl_official (official_code" in html      # both fidelity modes beside the paper row
    t1 = _html(rendered, "table_I.html")
    assert "79.6" in t1                               # BRL J+B, matched by our ens-2s


def test_details_and_provenance(rendered):
    html = _html(rendered, "details_ntu60_xsub_lt100_stgcnpp.html")
    assert html.count("<svg") == 3 * len(METHODS)     # curves, reliability, confusion per method
    assert "ECE" in html and "<th scope=\"col\" tabindex=\"0\" title=\"click to sort\">Many</th>" in html
    assert "action0" in html                          # class names on the confusion matrix
    ucla = _html(rendered, "details_nw_ucla_default_lt10_stgcnpp.html")
    assert ">Many</th>" not in ucla                   # no class above 100 samples: no all-n/a column
    prov = _html(rendered, "provenance.html")
    assert "abc123" in prov and "fake-cpu x2" in prov and "methods: [ce, brl, brl_official]" in prov
    assert "ntu60_xsub_lt100/stgcnpp/brl/j/seed0" in prov
    # the fidelity table: one row per flag, one column per method and mode, the values the runs used
    fid = prov[prov.index("<h2>Fidelity flags</h2>"):prov.index("<h2>Method settings")]
    assert "brl_official (official_code)" in fid and "brl (paper)" in fid
    assert "per_device" in fid and "per_batch" in fid and "batch_size=16" in fid and "batch_size=128" in fid
    assert ">F2<" in fid and ">F14<" in fid and ">F17<" not in fid      # seeds vary per run: not a flag column


def test_render_is_byte_identical(rendered):
    a = sorted(p.name for p in rendered["out"].iterdir())
    b = sorted(p.name for p in rendered["out2"].iterdir())
    assert a == b
    for n in a:
        assert (rendered["out"] / n).read_bytes() == (rendered["out2"] / n).read_bytes(), n


def test_report_without_tables_recomputes_pairwise(rendered, tmp_path):
    # a subset (one split, two methods) keeps this second render cheap
    runs = tmp_path / "runs"
    for m in ("ce", "brl"):
        shutil.copytree(rendered["res"]["runs"] / "ntu60_xsub_lt100" / "stgcnpp" / m,
                        runs / "ntu60_xsub_lt100" / "stgcnpp" / m)
    out = tmp_path / "r"
    assert report_main(["--runs-root", str(runs), "--splits-root", str(tmp_path / "none"),
                        "--tables", str(tmp_path / "none"), "--data-root", str(tmp_path / "none"),
                        "--out", str(out)]) == 0
    html = (out / "index.html").read_text()
    assert "All comparisons" in html and "Dataset summary" not in html
    # without counts.csv the class distribution comes from the runs' stored train_counts
    assert "Training-set class distribution" in html and html.count("<svg") == 4
    assert "Fidelity modes" not in html                 # no official_code run in this subset


def test_aggregate_cli_and_missing_runs_root(rendered, tmp_path, capsys):
    from benchmark.aggregate import main as aggregate_main
    runs = tmp_path / "runs"
    shutil.copytree(rendered["res"]["runs"] / "nw_ucla_default_lt10" / "stgcnpp" / "ce", runs / "x" / "ce")
    assert aggregate_main(["--runs-root", str(runs), "--out", str(tmp_path / "t"), "--n-resamples", "100"]) == 0
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["pairwise.csv", "runs.csv", "summary.csv"]
    assert len(pd.read_csv(tmp_path / "t" / "runs.csv")) == 6
    assert aggregate_main(["--runs-root", str(tmp_path / "missing"), "--out", str(tmp_path / "t2")]) == 2
    assert report_main(["--runs-root", str(tmp_path / "missing"), "--out", str(tmp_path / "r")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def _three_seed_results(root: Path) -> Path:
    """NTU60-LT-shaped runs of ce, brl (three seeds, BRL far better) and focal (three seeds, the same
    skill as CE), joint stream only, at a reduced budget; focal's checkpoints were selected on test."""
    split, (dataset, bench, c, n_max, ratio, per_class) = "ntu60_xsub_lt100", SPLITS["ntu60_xsub_lt100"]
    counts = lt_profile(c, n_max, ratio)
    labels = np.repeat(np.arange(c), per_class)
    runs = root / "runs"
    for method, strength in (("ce", 0.5), ("brl", 2.5), ("focal", 0.5)):
        for seed in (0, 1, 2):
            rng = np.random.default_rng(zlib.crc32(f"{method}/{seed}".encode()))
            logits = rng.normal(size=(len(labels), c))
            logits[np.arange(len(labels)), labels] += strength
            p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
            run = {"dataset": dataset, "benchmark": bench, "split": split, "backbone": "stgcnpp", "method": method,
                   "stream": "j", "seed": seed, "fidelity": "paper"}
            d = runs / method / f"seed{seed}"
            _write_run(d, run, p, labels, counts, seed)
            rec = json.loads((d / "metrics.json").read_text())
            rec["meta"].update({"schedule": {"runner_epochs": 10, "repeat": 1}, "backbone_options": {"base_channels": 8}})
            if method == "focal":
                rec["meta"]["selection"] = "best_test"
            (d / "metrics.json").write_text(json.dumps(rec))
    return runs


def test_three_seeds_mark_the_real_difference_only(tmp_path):
    runs = _three_seed_results(tmp_path)
    folders = sorted(p.parent for p in runs.rglob("metrics.json"))
    out = tmp_path / "r"
    assert report_main(["--runs", *map(str, folders), "--runs-root", str(runs), "--out", str(out),
                        "--tables", str(tmp_path / "none"), "--splits-root", str(tmp_path / "none")]) == 0
    html = (out / "index.html").read_text()
    first = _first_table(html)
    rows = {re.search(r'<td class="name">([a-z_]+)</td>', r).group(1): r for r in first.split("<tr")[2:]}
    # focal's checkpoints were selected on test: not on the first screen, only in its own section
    assert set(rows) == {"ce", "brl"}
    # BRL vs CE: three seeds agree and the two-level interval excludes 0 -> real
    assert "✓ real" in rows["brl"]
    opt = html[html.index('<section id="optimistic">'):]
    assert "Selected on the test set (optimistic" in opt and "not comparable with the tables above" in opt
    focal = [r for r in _first_table(opt).split("<tr")[2:] if '<td class="name">focal</td>' in r]
    assert len(focal) == 1 and "selected on test (optimistic)" in focal[0]
    # compared only among test-selected rows: no CE/BRL of another selection rule to compare with
    assert "✓ real" not in focal[0]
    assert "single seed" not in html and "test-sampling interval only" not in html
    budget = html[html.index('class="budget"'):]
    budget = budget[:budget.index("</p>")]
    assert "width 8 channels (paper 64)" in budget and "10 epochs (paper 120)" in budget
    assert "seed" not in budget                                   # three seeds match the paper protocol
    assert "Tab. III ≠" in rows["brl"]                            # paper number, reduced budget


def test_best_test_rows_only_in_their_own_section(tmp_path):
    """One official_code training with all three selections (metrics.json ``selections`` and
    test_probs_<rule>.npz): last and best_val rank on the first screen, best_test only in the
    separate section at the end, and on a paper-table page only in the section of its own that
    compares the paper's test-selected numbers."""
    split, (dataset, bench, c, n_max, ratio, per_class) = "ntu60_xsub_lt100", SPLITS["ntu60_xsub_lt100"]
    counts = lt_profile(c, n_max, ratio)
    labels = np.repeat(np.arange(c), per_class)
    runs = tmp_path / "runs"
    folders = []
    for method, fidelity, strength in (("ce", "paper", 0.5), ("brl_official", "official_code", 1.5)):
        for seed in (0, 1):
            rng = np.random.default_rng(zlib.crc32(f"{method}/{seed}".encode()))
            logits = rng.normal(size=(len(labels), c))
            logits[np.arange(len(labels)), labels] += strength
            p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
            run = {"dataset": dataset, "benchmark": bench, "split": split, "backbone": "stgcnpp", "method": method,
                   "stream": "j", "seed": seed, "fidelity": fidelity, "selection": "last"}
            d = runs / split / "stgcnpp" / method / "j" / f"seed{seed}"
            _write_run(d, run, p, labels, counts, seed)
            rec = json.loads((d / "metrics.json").read_text())
            rules = ("best_val", "best_test") if fidelity == "official_code" else ("best_val",)
            rec["selections"] = {}
            for k, rule in enumerate(rules):
                q = np.roll(p, k + 1, axis=0) if rule == "best_val" else p ** 0.5 / (p ** 0.5).sum(1, keepdims=True)
                np.savez(d / f"test_probs_{rule}.npz", probs=q.astype(np.float32), labels=labels,
                         names=np.array([f"s{i:04d}" for i in range(len(labels))]))
                rec["selections"][rule] = {"epoch": 3, "criterion": "x", "score": 0.5, "label": rule,
                                           "probs_file": f"test_probs_{rule}.npz",
                                           "metrics": compute_metrics(q, labels, counts)}
            (d / "metrics.json").write_text(json.dumps(rec))
            folders.append(d)
    tables = tmp_path / "tables"
    aggregate(runs, tables, n_resamples=200)
    summary = pd.read_csv(tables / "summary.csv")
    assert sorted(summary["selection"]) == ["best_test", "best_val", "best_val", "last", "last"]
    out = tmp_path / "r"
    assert report_main(["--runs", *map(str, folders), "--runs-root", str(runs), "--out", str(out),
                        "--tables", str(tables), "--splits-root", str(tmp_path / "none")]) == 0
    html = (out / "index.html").read_text()
    opt_at = html.index('<section id="optimistic">')
    main, opt = html[:opt_at], html[opt_at:]
    assert "selected on test (optimistic)" not in re.sub(r'<p class="note"><span class="badge warn">selected on '
                                                          r'test</span>.*?</p>', "", main, flags=re.S)
    assert 'href="#optimistic"' in main                  # the first screen says where they are
    first = _first_table(html)
    labels_main = re.findall(r'<td class="note"[^>]*>(.*?)</td>', first)
    assert sum("best on validation" in x for x in labels_main) == 2 and len(labels_main) == 4
    opt_rows = _first_table(opt).split("<tr")[2:]
    assert len(opt_rows) == 1 and '<td class="name">brl_official</td>' in opt_rows[0]
    assert "selected on test (optimistic)" in opt_rows[0]
    assert html.count("selected on test (optimistic)") == html[opt_at:].count("selected on test (optimistic)")
    # paper pages: a test-selected paper number (BRL joint, NTU60-LT X-Sub 76.7 = the official README's)
    # is compared first with the best_test run in a section of its own, then with the other rules
    opt_row = "brl_official (official_code, selected on test (optimistic))"
    for page in out.glob("table_*.html"):
        main_part = page.read_text().split("<h2>Last checkpoint and validation-selected runs</h2>")[-1]
        assert opt_row not in main_part, page.name
    t3 = (out / "table_III.html").read_text()
    first, main_part = t3.split("<h2>Last checkpoint and validation-selected runs</h2>")
    assert opt_row in first and "76.7 <span class=\"badge\">test-selected</span>" in first
    assert "brl_official (official_code, last checkpoint)" in main_part
    assert "ce (paper" not in first                       # the optimistic section has only test-selected rows
    details = (out / "details_ntu60_xsub_lt100_stgcnpp.html").read_text()
    assert "best on validation" in details and "selected on test" not in details
    assert details.count("<svg") == 3 * 2                 # one set of figures per method, of the last checkpoint


def _browser() -> str | None:
    for cand in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"),
                 shutil.which("google-chrome")):
        if cand and os.path.exists(cand):
            return cand
    return None


#: Runs inside a harness page that loads the report in an iframe (same file:// origin with
#: --allow-file-access-from-files), acts like a reader and writes what it saw as JSON into the DOM,
#: which --dump-dom prints. Only Chromium itself is needed: no driver, no network.
HARNESS_JS = r"""
function out(o) { var p = document.createElement('pre'); p.id = 'result'; p.textContent = JSON.stringify(o);
                  document.body.appendChild(p); }
function rowsOf(t, i) { return Array.prototype.map.call(t.tBodies[0].rows, function (r) { return r.cells[i]; }); }
function colIndex(t, name) {
  var ths = t.tHead.rows[0].cells;
  for (var i = 0; i < ths.length; i++) { if (ths[i].textContent.trim() === name) { return i; } }
  return -1;
}
var f = document.createElement('iframe');
f.style.width = '1400px'; f.style.height = '2400px';
f.src = REPORT_URL;
f.onload = function () {
  try {
    var d = f.contentDocument, r = {};
    r.js = d.documentElement.classList.contains('js');
    var t = d.querySelector('table');
    r.first = t.id; r.firstVisible = t.offsetParent !== null;
    var mi = colIndex(t, 'method');
    t.tHead.rows[0].cells[mi].click();
    r.methodsDesc = rowsOf(t, mi).map(function (c) { return c.textContent.trim(); });
    t.tHead.rows[0].cells[mi].click();
    r.methodsAsc = rowsOf(t, mi).map(function (c) { return c.textContent.trim(); });
    t.tHead.rows[0].cells[4].click();
    r.metricDesc = rowsOf(t, 4).map(function (c) { return parseFloat(c.getAttribute('data-sort')); });
    d.querySelector('button[data-metric="few"]').click();
    var shown = Array.prototype.filter.call(d.querySelectorAll('table'), function (x) { return x.offsetParent !== null; });
    r.afterSwitch = shown[0].id; r.defaultHidden = t.offsetParent === null;
    r.pressed = d.querySelector('button[aria-pressed="true"]').getAttribute('data-metric');
    r.nFigures = 0; r.nLegends = 0; r.overlaps = []; r.clipped = [];
    d.querySelectorAll('svg.fig').forEach(function (svg) {
      r.nFigures++;
      var axes = Array.prototype.map.call(svg.querySelectorAll('g[id^="axes_"]'), function (g) {
        var p = g.querySelector('g[id^="patch_"]'); return p ? p.getBoundingClientRect() : null;
      }).filter(Boolean);
      svg.querySelectorAll('g[id^="legend_"]').forEach(function (lg) {
        r.nLegends++;
        var L = lg.getBoundingClientRect(), S = svg.getBoundingClientRect();
        if (L.left < S.left - 1 || L.right > S.right + 1 || L.top < S.top - 1 || L.bottom > S.bottom + 1) {
          r.clipped.push(svg.getAttribute('aria-label'));
        }
        axes.forEach(function (A) {
          var ix = Math.min(L.right, A.right) - Math.max(L.left, A.left);
          var iy = Math.min(L.bottom, A.bottom) - Math.max(L.top, A.top);
          if (ix > 1 && iy > 1) { r.overlaps.push(svg.getAttribute('aria-label')); }
        });
      });
    });
    out(r);
  } catch (e) { out({error: String(e)}); }
};
document.body.appendChild(f);
"""


def run_in_browser(exe: str, page: Path) -> dict:
    """Open ``page`` in headless Chromium through the harness; returns what the harness saw."""
    with tempfile.TemporaryDirectory() as tmp:
        harness = Path(tmp) / "harness.html"
        harness.write_text("<!DOCTYPE html><html><body><script>var REPORT_URL = " + json.dumps(page.resolve().as_uri())
                           + ";\n" + HARNESS_JS + "</script></body></html>")
        prof = Path(tmp) / "profile"
        proc = subprocess.run(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={prof}",
             "--allow-file-access-from-files", "--virtual-time-budget=10000", "--window-size=1400,2400",
             "--dump-dom", harness.as_uri()], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = re.search(r'<pre id="result">(.*?)</pre>', proc.stdout, flags=re.S)
    assert m, f"the harness wrote no result; browser said: {proc.stderr[-2000:]}"
    import html as _h
    return json.loads(_h.unescape(m.group(1)))


def test_browser(rendered):
    """A reader in headless Chromium: the ranked summary is the first table, a header click sorts it,
    the metric switch shows the Few ranking, and no figure legend overlaps a plotting area."""
    exe = _browser()
    if exe is None:
        pytest.skip("no headless Chromium (install it with: apt-get install -y chromium); "
                    "the report was not checked in a browser")
    r = run_in_browser(exe, rendered["out"] / "index.html")
    assert "error" not in r, r
    assert r["js"] is True                                        # the inline script ran to its end
    assert r["first"] == "ranked-ntu60_xsub_lt100_stgcnpp-balanced_acc" and r["firstVisible"]
    assert r["methodsDesc"] == sorted(METHODS, reverse=True) and r["methodsAsc"] == sorted(METHODS)
    assert r["metricDesc"] == sorted(r["metricDesc"], reverse=True) and len(r["metricDesc"]) == len(METHODS)
    assert r["afterSwitch"] == "ranked-ntu60_xsub_lt100_stgcnpp-few" and r["defaultHidden"]
    assert r["pressed"] == "few"
    assert r["nFigures"] >= 9 and r["nLegends"] >= 6
    assert r["overlaps"] == [], r["overlaps"]
    assert r["clipped"] == [], r["clipped"]                       # legends lie inside the drawn figure


def test_packaged_paper_results():
    from benchmark.report.render import load_paper_results
    df = load_paper_results()
    assert len(df) == 439 and set(df["table"]) == {"I", "II", "III", "IV", "V", "VI", "VII", "VIII", "readme"}
    row = df[(df["table"] == "IV") & (df["method"] == "brl")]
    assert row["value"].tolist() == [89.2] and row["streams"].tolist() == ["6s"]
    shared = Path(__file__).resolve().parents[2] / "shared" / "reference" / "paper_results.csv"
    if shared.exists():   # the packaged copy must stay identical to the reference file
        packaged = Path(__file__).resolve().parents[1] / "benchmark" / "resources" / "paper_results.csv"
        assert packaged.read_bytes() == shared.read_bytes()


def test_paper_lookup_and_budget_differences():
    from benchmark.aggregate import RunRecord
    from benchmark.report.common import fmt_signed, load_paper_results
    from benchmark.report.paper import PaperIndex, budget_differences

    paper = PaperIndex(load_paper_results())
    assert paper.lookup("ntu60", "xsub", "stgcnpp", "ce", "j", "top1") == (72.3, "III")
    assert paper.lookup("ntu60", "xsub", "stgcnpp", "ce", "j", "few") == (60.2, "III")
    assert paper.lookup("ntu60", "xsub", "stgcnpp", "brl_official", "ens-6s") == (81.8, "I")
    assert paper.lookup("nw_ucla", "default", "stgcnpp", "brl", "ens-6s") == (89.2, "IV")
    assert paper.lookup("nw_ucla", "default", "stgcnpp", "brl", "j") is None       # the paper reports 6s only
    assert paper.lookup("ntu60", "xsub", "stgcnpp", "ce", "j", "balanced_acc") is None
    assert not paper.reports_dataset("synthetic")

    def rec(method, stream, seed, width=16, epochs=(12, 5)):
        run = {"dataset": "nw_ucla", "benchmark": "default", "split": "nw_ucla_default_lt10", "backbone": "stgcnpp",
               "method": method, "stream": stream, "seed": seed}
        meta = {"backbone_options": {"base_channels": width},
                "schedule": {"runner_epochs": epochs[0], "repeat": epochs[1]}}
        return RunRecord(path=f"{method}/{stream}/seed{seed}", run=run, metrics={}, meta=meta)

    recs = [rec("ce", "j", 0), rec("brl", "j", 0)]
    assert budget_differences(recs, [1, 1], all_streams=["j"]) == [
        "width 16 channels (paper 64)", "60 epochs (paper 120)",
        "streams j (paper trains all six: j b k jm bm km)", "1 seed (paper protocol 3)"]
    full = [rec("ce", s, k, width=64, epochs=(24, 5)) for s in ("j", "b", "k", "jm", "bm", "km") for k in range(3)]
    assert budget_differences(full, [3], all_streams=["j", "b", "k", "jm", "bm", "km"]) == []
    # the vanilla (plain recipe) rows of Tables I/II/IV/V/VIII train 80 epochs
    assert budget_differences([rec("ce", "j", 0, 64, (16, 5))], [3], paper_table="IV", method="ce") == []
    assert budget_differences([rec("ce", "j", 0, 64, (16, 5))], [3], paper_table="III", method="ce") == \
        ["80 epochs (paper 120)"]
    ntu = rec("ce", "j", 0, 64, (24, 5))
    ntu.run.update(dataset="ntu60", split="ntu60_xsub_lt10")
    assert budget_differences([ntu], [3]) == ["imbalance lt10 (paper lt100)"]
    assert fmt_signed(-0.04) == "+0.0" and fmt_signed(-1.26) == "-1.3" and fmt_signed(None) == "n/a"


def test_paper_context_for_another_stream(rendered):
    """NW-UCLA-LT: the paper reports BRL as a 6-stream ensemble only; a joint-stream row shows that number
    as context (no difference), the CE row (no ST-GCN++ CE number in the paper) shows nothing."""
    from benchmark.report.common import load_paper_results
    from benchmark.report.paper import PaperIndex

    paper = PaperIndex(load_paper_results())
    assert paper.other_streams("nw_ucla", "default", "stgcnpp", "brl") == [("6s", 89.2, "IV")]
    html = _html(rendered, "index.html")
    sec = html[html.index('id="ranked-nw_ucla_default_lt10_stgcnpp-balanced_acc"'):]
    first = sec[:sec.index("</table>")]
    rows = {re.search(r'<td class="name">([a-z_]+)</td>', r).group(1): r for r in first.split("<tr")[2:]}
    assert "6s: 89.2" in rows["brl"] and "6s: 89.2" not in rows["ce"]
