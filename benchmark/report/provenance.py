"""Provenance page: code versions, hardware, seeds, the config file, the paper coverage of that config,
method settings and every run.

Data are prepared by :func:`provenance`; the layout is ``templates/provenance.html``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

from benchmark.aggregate import RunRecord, method_sort_key
from benchmark.paper_map import (BACKBONE_TO_PAPER, PAPER_SPLIT_SUFFIX, STREAM_TO_PAPER, coverage,
                                 coverage_counts)
from benchmark.report.common import cell, fmt_seconds, num, row, table, txt


def reported_keys(records: Sequence[RunRecord]) -> set:
    """(dataset, benchmark, paper backbone, method, paper streams, selection) of the results in this
    report at the paper's imbalance setting: the vocabulary of benchmark.paper_map.coverage."""
    out = set()
    for r in records:
        run = r.run
        if not str(run["split"]).endswith("_" + PAPER_SPLIT_SUFFIX.get(str(run["dataset"]), "\0")):
            continue
        bb, st = BACKBONE_TO_PAPER.get(str(run["backbone"])), STREAM_TO_PAPER.get(str(run["stream"]))
        if bb is not None and st is not None:
            out.add((run["dataset"], run["benchmark"], bb, run.get("method_name") or run["method"], st,
                     run.get("selection", "last")))
    return out


def coverage_section(config_path: Optional[Path], paper, records: Sequence[RunRecord]) -> dict:
    """The paper numbers this config compares like for like and the reasons for the others
    (benchmark.paper_map.coverage), with whether each compared number has a result in this report.
    ``{"error": ...}`` when the config cannot be read as a workflow config."""
    import yaml

    from benchmark.paper_map import row_key
    from benchmark.workflow import WorkflowConfigError

    if config_path is None or not Path(config_path).exists() or paper is None:
        return {"error": "no workflow config given to the report (--config)"}
    try:
        cfg = yaml.safe_load(Path(config_path).read_text()) or {}
        cov = coverage(paper.to_dict("records"), cfg)
    except (WorkflowConfigError, KeyError, TypeError, ValueError, AttributeError) as e:
        return {"error": f"the coverage needs a workflow config with datasets, backbones, methods, streams and "
                         f"seeds ({Path(config_path).name}: {type(e).__name__}: {e})"}
    counts = coverage_counts(cov)
    have = reported_keys(records)
    reasons: dict = {}
    rows = []
    for c in cov:
        r = c.row
        k = row_key(r)[:5] + (c.selection,)
        if c.status in ("reason", "outside"):
            reasons[c.reason] = reasons.get(c.reason, 0) + 1
        status = {"compared": "compared" + (" (in this report)" if k in have else " (planned, no result here)"),
                  "reason": "not comparable", "outside": "outside this config", "missing": "MISSING"}[c.status]
        rows.append(row([cell(str(r["table"])), cell(f"{r['dataset']} {r['benchmark']}"), cell(str(r["backbone"])),
                         cell(str(r["method"]), "name"), cell(str(r["streams"])), cell(str(r["group"])),
                         cell(txt(r["value"]), "num", sort=r["value"]),
                         cell(c.selection + (" (test-selected)" if c.test_selected else "")),
                         cell(status, "warn" if c.status == "missing" else ""),
                         cell(", ".join(c.runs) if c.runs else (c.reason or ""), "path" if c.runs else "note")],
                        cls="" if c.status == "compared" else "muted"))
    return {"error": None, "counts": counts, "in_report": sum(1 for c in cov if c.runs and row_key(c.row)[:5] + (c.selection,) in have),
            "reasons": sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])),
            "table": table("coverage", ["table", "dataset", "backbone", "method", "streams", "group", "paper",
                                        "selection", "status", "planned runs / reason"], rows)}


def provenance(records: Sequence[RunRecord], config: Optional[Path], paper=None) -> dict:
    cols = ["run", "seed", "fidelity", "selection", "precision", "threads", "packed", "CPU / GPU", "hardware",
            "device", "code version", "run id", "wall time", "train samples/s"]
    rows = []
    for r in sorted(records, key=lambda r: r.path):
        sps = num(r.meta.get("train_samples_per_s"))
        ex = execution_of(r.meta)
        rows.append(row([
            cell(r.path, "path"), cell(str(r.run["seed"])), cell(str(r.run["fidelity"])),
            cell(str(r.run["selection"])), cell(ex["precision"]), cell(ex["threads"], "num"), cell(ex["packed"]),
            cell(ex["processor"]), cell(txt(r.meta.get("hardware"))), cell(txt(r.meta.get("device"))),
            cell(txt(r.meta.get("code_version"))), cell(txt(r.meta.get("run_id") or r.meta.get("config_hash"))),
            cell(fmt_seconds(r.meta.get("wall_time_s")), "num", sort=r.meta.get("wall_time_s")),
            cell("n/a" if sps is None else f"{sps:.1f}", "num", sort=sps)]))
    settings = {}
    for r in sorted(records, key=lambda r: (method_sort_key(str(r.run["method"])), r.path)):
        m = str(r.run["method"])
        if m in settings or str(r.run["stream"]).startswith("ens-"):
            continue
        # every fidelity flag with its value, and the recipe the run followed (docs/fidelity.md)
        settings[m] = json.dumps({"fidelity": r.run["fidelity"], "fidelity_flags": r.meta.get("fidelity_flags"),
                                  "recipe": r.meta.get("recipe"), "method_meta": r.meta.get("method_meta"),
                                  "schedule": r.meta.get("schedule")}, indent=1, sort_keys=True, default=str)
    flags_table = fidelity_table(records)
    total = sum(num(r.meta.get("wall_time_s")) or 0.0 for r in records if not str(r.run["stream"]).startswith("ens-"))
    return {
        "config_text": Path(config).read_text() if config is not None and Path(config).exists() else "",
        "config_name": Path(config).name if config is not None else "",
        "code_versions": sorted({txt(r.meta.get("code_version")) for r in records}),
        "hardware": sorted({txt(r.meta.get("hardware")) for r in records}),
        "seeds": sorted({int(r.run["seed"]) for r in records}),
        "total_wall": fmt_seconds(total),
        "table": table("runs", cols, rows),
        "settings": [{"method": k, "json": v} for k, v in settings.items()],
        "fidelity": flags_table,
        "coverage": coverage_section(config, paper, records),
    }


def execution_of(meta: dict) -> dict:
    """How a run's arithmetic ran, as report text: the resolved precision (with what the config
    asked for when that differs, e.g. 'fp32 (auto)'), intra-op threads, pack width, CPU or GPU
    model. Runs recorded before ``meta.execution`` existed show what they have, else 'n/a'."""
    ex = meta.get("execution") or {}
    precision = ex.get("precision") or meta.get("precision")
    requested = ex.get("precision_requested")
    text = txt(precision) if precision else "n/a"
    if precision and requested and requested != precision:
        text += f" ({requested})"
    packed = ex.get("packed")
    return {"precision": text, "threads": "n/a" if ex.get("threads") is None else str(ex["threads"]),
            "packed": "alone" if ex and packed is None else (f"{packed} runs" if packed else "n/a"),
            "processor": txt(ex.get("gpu") or ex.get("cpu_model") or "n/a")}


def _flag_value(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items() if v is not None)
    return txt(value)


def fidelity_table(records: Sequence[RunRecord]) -> Optional[dict]:
    """Flags × methods: every fidelity flag (F1–F18, docs/fidelity.md) a method's runs recorded,
    with its option name and the value the runs used. Seeds (F17) vary per run and are left out;
    a method whose runs disagree on a value shows every value."""
    values: dict = {}
    options: dict = {}
    methods: list = []
    for r in sorted(records, key=lambda r: (method_sort_key(str(r.run["method"])), r.path)):
        flags = r.meta.get("fidelity_flags") or {}
        m = f"{r.run['method']} ({r.run['fidelity']})"
        if not flags or str(r.run["stream"]).startswith("ens-"):
            continue
        if m not in methods:
            methods.append(m)
        for fid, f in flags.items():
            if fid == "F17":
                continue
            options.setdefault(fid, f.get("option", ""))
            values.setdefault((fid, m), set()).add(_flag_value(f.get("value")))
    if not methods:
        return None
    rows = []
    for fid in sorted(options, key=lambda f: int(f[1:]) if f[1:].isdigit() else 99):
        cells = [cell(fid, "name"), cell(txt(options[fid]))]
        for m in methods:
            v = values.get((fid, m))
            cells.append(cell("—" if v is None else " | ".join(sorted(v)), "" if v is not None else "muted"))
        rows.append(row(cells))
    return table("fidelity", ["flag", "option"] + methods, rows)
