"""Provenance page: code versions, hardware, seeds, the config file, method settings and every run.

Data are prepared by :func:`provenance`; the layout is ``templates/provenance.html``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

from benchmark.aggregate import RunRecord, method_sort_key
from benchmark.report.common import cell, fmt_seconds, num, row, table, txt


def provenance(records: Sequence[RunRecord], config: Optional[Path]) -> dict:
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
