"""The README's demo tables, regenerated from the demo's results (never typed).

    python -m benchmark.demo_table --runs-root results/demo/runs --tables results/demo/tables \\
        --save docs/demo/fp32-2threads.json --label "fp32, 2 threads: make demo DEMO_PRECISION=fp32"

reads every run of the demo (its ``metrics.json``: per-seed metrics and ``meta.execution``, i.e. the
precision the arithmetic ran in, the CPU model and the intra-op thread count; and whether each run
was still learning at its end, ``benchmark.convergence``) and the BRL − CE rows of ``pairwise.csv``, keeps exactly those facts in a small JSON *snapshot* (``--save``) and prints
the Markdown table: methods ranked by balanced accuracy, mean ± standard deviation over seeds, the
Medium/Few groups, and the BRL − CE verdicts on balanced accuracy and Few.

``--from SNAPSHOT`` prints the table of a saved snapshot; ``--update-readme`` rewrites every block of
README.md that names a snapshot, between ``<!-- demo-table: PATH -->`` and ``<!-- /demo-table -->``;
``--check`` exits 1 when a block differs from its snapshot's table (tests/test_demo_table.py runs it).
``--compare A B C`` prints how the snapshots of one demo computed in different ways differ (each
method's balanced accuracy, the largest difference, runs still learning, the BRL − CE verdicts); a
README block that names several snapshots holds that comparison.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from benchmark import convergence

#: the metrics a snapshot keeps per seed (fractions) and the columns they become, in order
METRICS = (("top1", "top-1"), ("balanced_acc", "balanced acc."), ("many", "Many"), ("medium", "Medium"),
           ("few", "Few"))
#: the comparisons a table states under it: (method A, method B, stream, metrics)
VERDICTS = (("brl", "ce", "j", ("balanced_acc", "few")),)
METRIC_WORDS = {"balanced_acc": "balanced accuracy", "few": "Few", "top1": "top-1"}
#: execution facts (``meta.execution`` keys) the header names
EXECUTION_KEYS = ("precision", "cpu_model", "threads")
#: a README block: one snapshot path (its table) or several (their comparison, :func:`render_comparison`)
BLOCK = re.compile(r"(<!-- demo-table: (?P<path>[^ >][^>]*?) -->\n)(?P<body>.*?)(<!-- /demo-table -->)", re.S)
REPO = Path(__file__).resolve().parents[1]


def snapshot(runs_root: Path, tables: Optional[Path] = None, label: str = "") -> Dict:
    """The facts a demo table shows, from the runs under ``runs_root`` (selection ``last``) and the
    BRL − CE rows of ``tables/pairwise.csv``."""
    from benchmark.aggregate import collect_runs, method_sort_key, stream_sort_key

    records = [r for r in collect_runs(Path(runs_root)) if r.run.get("selection", "last") == "last"]
    if not records:
        raise ValueError(f"{runs_root}: no finished run (metrics.json) found; run the demo first (make demo)")
    rows: Dict[tuple, Dict] = {}
    execution: Dict[str, set] = {k: set() for k in EXECUTION_KEYS}
    for r in records:
        key = (str(r.run["method"]), str(r.run["stream"]))
        row = rows.setdefault(key, {"method": key[0], "stream": key[1], "seeds": [], "still_learning": [],
                                    **{m: [] for m, _ in METRICS}})
        row["seeds"].append(int(r.run["seed"]))
        row["still_learning"].append(convergence.check_epochs_csv(r.dir / "epochs.csv").still_learning)
        for m, _ in METRICS:
            v = r.metrics.get(m)
            row[m].append(None if v is None else round(float(v), 6))
        ex = r.meta.get("execution") or {}
        for k in EXECUTION_KEYS:
            if ex.get(k) is not None:
                execution[k].add(str(ex[k]))
    for row in rows.values():            # seed order, values alongside
        order = sorted(range(len(row["seeds"])), key=row["seeds"].__getitem__)
        for f in ["seeds", "still_learning"] + [m for m, _ in METRICS]:
            row[f] = [row[f][i] for i in order]
    comparisons = _verdicts(Path(tables) / "pairwise.csv") if tables else []
    return {"label": label, "runs_root": str(runs_root),
            "execution": {k: sorted(v) for k, v in execution.items()},
            "rows": [rows[k] for k in sorted(rows, key=lambda k: (method_sort_key(k[0]), stream_sort_key(k[1])))],
            "comparisons": comparisons}


def _verdicts(pairwise: Path) -> List[Dict]:
    import pandas as pd

    if not pairwise.exists():
        raise ValueError(f"{pairwise}: missing; run the demo to the end (its aggregate step writes it)")
    pw = pd.read_csv(pairwise)
    out = []
    for a, b, stream, metrics in VERDICTS:
        for metric in metrics:
            hit = pw[(pw["method_a"] == a) & (pw["method_b"] == b) & (pw["stream"] == stream)
                     & (pw["metric"] == metric) & (pw["selection"] == "last")]
            if hit.empty:
                continue
            h = hit.iloc[0]
            out.append({"a": a, "b": b, "stream": stream, "metric": metric, "n_seeds": int(h["n_seeds"]),
                        "mean_diff": round(float(h["mean_diff"]), 6), "ci_lo": _num(h["ci_lo"]),
                        "ci_hi": _num(h["ci_hi"]), "p_value": _num(h["p_value"]),
                        "significant": bool(h["significant"])})
    return out


def _num(v) -> Optional[float]:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if f != f else round(f, 6)


def _pct(values: Sequence[Optional[float]]) -> str:
    from benchmark.stats import mean_std

    ms = mean_std(values)
    if ms["mean"] is None:
        return "—"
    return f"{100 * ms['mean']:.1f}" + ("" if ms["std"] is None else f" ± {100 * ms['std']:.1f}")


def render(snap: Dict) -> str:
    """The Markdown of one snapshot: header (execution), ranked table, verdicts."""
    from benchmark.stats import mean_std

    ex = snap["execution"]

    def facts(key: str, missing: str) -> str:
        return " / ".join(ex.get(key) or []) or missing

    lines = []
    if snap.get("label"):
        lines += [f"**{snap['label']}**", ""]
    lines += [f"Precision {facts('precision', 'not recorded')}; CPU {facts('cpu_model', 'not recorded')}; "
              f"{facts('threads', '?')} thread(s) per training (from the runs' metrics.json).", ""]
    used = [(m, col) for m, col in METRICS if any(v is not None for r in snap["rows"] for v in r[m])]
    lines.append("| method (stream) | seeds | " + " | ".join(col for _, col in used) + " |")
    lines.append("|---|---|" + "---|" * len(used))

    def score(r):
        m = mean_std(r["balanced_acc"])["mean"]
        return -1.0 if m is None else m

    learning = 0
    for r in sorted(snap["rows"], key=score, reverse=True):       # stable: ties keep method order
        name = r["method"] if r["stream"] == "j" else f"{r['method']} ({r['stream']})"
        n_learning = sum(1 for x in r.get("still_learning") or [] if x)
        if n_learning:
            learning += 1
            name += f" † ({n_learning}/{len(r['seeds'])})" if len(r["seeds"]) > 1 else " †"
        lines.append(f"| {name} | {len(r['seeds'])} | " + " | ".join(_pct(r[m]) for m, _ in used) + " |")
    if learning:
        lines += ["", f"† {convergence.RULE} (for the number of seeds given)."]
    for c in snap.get("comparisons") or []:
        interval = ("" if c["ci_lo"] is None else
                    f" [{100 * c['ci_lo']:+.1f}, {100 * c['ci_hi']:+.1f}]")
        p = "" if c["p_value"] is None else f", p = {c['p_value']:.3f}"
        verdict = "✓ real" if c["significant"] else "not marked real"
        if c is snap["comparisons"][0]:
            lines.append("")
        lines.append(f"- {c['a'].upper()} − {c['b'].upper()} ({c['stream']} stream, {c['n_seeds']} seeds), "
                     f"{METRIC_WORDS.get(c['metric'], c['metric'])}: {100 * c['mean_diff']:+.1f} points{interval}{p}: "
                     f"{verdict}")
    return "\n".join(lines) + "\n"


def _short_label(snap: Dict) -> str:
    ex = snap["execution"]
    return f"{'/'.join(ex.get('precision') or ['?'])}, {'/'.join(ex.get('threads') or ['?'])} thread(s)"


def render_comparison(snaps: Sequence[Dict]) -> str:
    """Do the conclusions depend on how the demo was computed? Each method's mean balanced accuracy
    in every snapshot (e.g. fp32 with 1 and 2 threads, bf16), the largest difference between any
    two, the runs still learning, and whether the BRL − CE verdicts agree."""
    from benchmark.stats import mean_std

    if len(snaps) < 2:
        raise ValueError("a comparison needs at least two snapshots")
    labels = [_short_label(s) for s in snaps]
    keys = []
    for s in snaps:
        for r in s["rows"]:
            if (r["method"], r["stream"]) not in keys:
                keys.append((r["method"], r["stream"]))
    lines = ["Balanced accuracy (%, mean over seeds) of each demo run under each way of computing it "
             f"(CPU {' / '.join(sorted({c for s in snaps for c in s['execution'].get('cpu_model') or []})) or 'not recorded'}):",
             "", "| method (stream) | " + " | ".join(labels) + " | largest difference |",
             "|---|" + "---|" * (len(labels) + 1)]
    worst = (0.0, None)
    for key in keys:
        means = []
        for s in snaps:
            row = next((r for r in s["rows"] if (r["method"], r["stream"]) == key), None)
            means.append(None if row is None else mean_std(row["balanced_acc"])["mean"])
        have = [m for m in means if m is not None]
        diff = 100 * (max(have) - min(have)) if len(have) > 1 else None
        if diff is not None and diff > worst[0]:
            worst = (diff, key)
        name = key[0] if key[1] == "j" else f"{key[0]} ({key[1]})"
        lines.append(f"| {name} | " + " | ".join("—" if m is None else f"{100 * m:.1f}" for m in means)
                     + f" | {'—' if diff is None else f'{diff:.1f}'} |")
    lines.append("")
    if worst[1] is not None:
        lines.append(f"- Largest difference of a method between any two: {worst[0]:.1f} points "
                     f"({worst[1][0]}, {worst[1][1]} stream).")
    learning = [sum(1 for r in s["rows"] for x in r.get("still_learning") or [] if x) for s in snaps]
    runs = [sum(1 for r in s["rows"] for x in r.get("still_learning") or [] if x is not None) for s in snaps]
    lines.append("- Trainings still learning (of those with a monitor curve): " + ", ".join(f"{n} of {t} ({lab})" for n, t, lab in zip(learning, runs, labels))
                 + ".")
    for c0 in snaps[0].get("comparisons") or []:
        same = [next((c for c in s.get("comparisons") or []
                      if (c["a"], c["b"], c["stream"], c["metric"]) == (c0["a"], c0["b"], c0["stream"], c0["metric"])), None)
                for s in snaps]
        words = ["—" if c is None else ("✓ real" if c["significant"] else "not marked real") for c in same]
        agree = "identical" if len(set(words)) == 1 else "they differ"
        lines.append(f"- {c0['a'].upper()} − {c0['b'].upper()}, {METRIC_WORDS.get(c0['metric'], c0['metric'])}: "
                     + ", ".join(f"{w} ({lab})" for w, lab in zip(words, labels)) + f": {agree}.")
    return "\n".join(lines) + "\n"


def readme_blocks(text: str) -> List[re.Match]:
    return list(BLOCK.finditer(text))


def update_readme(readme: Path, check: bool = False) -> List[str]:
    """Rewrite (or with ``check`` only compare) every demo-table block of ``readme`` from its
    snapshot; returns the snapshot paths whose block differed."""
    text = readme.read_text()
    stale = []

    def repl(m: re.Match) -> str:
        snaps = []
        for name in m.group("path").split():
            path = REPO / name
            if not path.exists():
                raise FileNotFoundError(f"{readme}: the demo-table block names {name}, which does not exist")
            snaps.append(json.loads(path.read_text()))
        body = render(snaps[0]) if len(snaps) == 1 else render_comparison(snaps)
        if body != m.group("body"):
            stale.append(m.group("path"))
        return m.group(1) + body + m.group(4)

    new = BLOCK.sub(repl, text)
    if not check and new != text:
        readme.write_text(new)
    return stale


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmark.demo_table", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs-root", type=Path, default=Path("results/demo/runs"))
    p.add_argument("--tables", type=Path, default=Path("results/demo/tables"),
                   help="the demo's tables folder (pairwise.csv gives the BRL − CE verdicts)")
    p.add_argument("--save", type=Path, help="also keep the facts as a JSON snapshot (what the README names)")
    p.add_argument("--label", default="", help="a heading for the table, e.g. how the demo was run")
    p.add_argument("--from", dest="source", type=Path, help="print the table of a saved snapshot")
    p.add_argument("--compare", type=Path, nargs="+", metavar="SNAPSHOT",
                   help="print how two or more saved snapshots differ (README block: several paths)")
    p.add_argument("--update-readme", action="store_true", help="rewrite the README's demo-table blocks")
    p.add_argument("--check", action="store_true", help="exit 1 if a README block differs from its snapshot")
    p.add_argument("--readme", type=Path, default=REPO / "README.md")
    a = p.parse_args(argv)
    try:
        if a.update_readme or a.check:
            stale = update_readme(a.readme, check=a.check)
            for s in stale:
                print(f"{a.readme}: the table of {s} {'differs' if a.check else 'rewritten'}", file=sys.stderr)
            return 1 if (a.check and stale) else 0
        if a.compare:
            sys.stdout.write(render_comparison([json.loads(p.read_text()) for p in a.compare]))
            return 0
        snap = json.loads(a.source.read_text()) if a.source else snapshot(a.runs_root, a.tables, a.label)
        if a.save:
            a.save.parent.mkdir(parents=True, exist_ok=True)
            a.save.write_text(json.dumps(snap, indent=1, sort_keys=True) + "\n")
        sys.stdout.write(render(snap))
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
