"""python -m benchmark.report: render the HTML report (spec: workflow.md §10)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from benchmark.aggregate import AggregateError
from benchmark.report.render import ReportInputs, render_report


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmark.report", description=__doc__)
    ap.add_argument("--runs-root", type=Path, default=Path("results/runs"))
    ap.add_argument("--runs", type=Path, nargs="+", default=None,
                    help="the metrics.json files (or run folders) to report; default: all below --runs-root")
    ap.add_argument("--splits-root", type=Path, default=Path("results/splits"))
    ap.add_argument("--tables", type=Path, default=Path("results/tables"),
                    help="folder with pairwise.csv from benchmark.aggregate (recomputed when absent)")
    ap.add_argument("--out", type=Path, default=Path("reports"))
    ap.add_argument("--paper-results", type=Path, default=None,
                    help="reference numbers csv (default: the copy packaged with benchmark)")
    ap.add_argument("--config", type=Path, default=None, help="resolved config to show under provenance")
    ap.add_argument("--data-root", type=Path, default=None,
                    help="prepared datasets (default: results/data beside the runs root)")
    args = ap.parse_args(argv)
    data_root = args.data_root if args.data_root is not None else args.runs_root.parent / "data"
    try:
        pages = render_report(ReportInputs(runs_root=args.runs_root, runs=args.runs, out=args.out,
                                           splits_root=args.splits_root,
                                           tables=args.tables, paper_results=args.paper_results, config=args.config,
                                           data_root=data_root))
    except (AggregateError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{len(pages)} pages -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
