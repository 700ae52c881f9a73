"""python -m benchmark.report.screenshot REPORT_DIR OUT_DIR: PNGs of the first screen and a details page.

Uses headless Chromium (``apt-get install -y chromium``) at 1400 px wide, 100 % zoom, so the
pictures show what a reader sees on opening the report. Writes ``report_first_screen.png`` and
``report_details.png`` (the first details page in name order).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> Optional[str]:
    for c in ("/usr/bin/chromium",) + tuple(filter(None, (shutil.which(n) for n in CANDIDATES))):
        if Path(c).exists():
            return c
    return None


def screenshot(browser: str, page: Path, out: Path, width: int = 1400, height: int = 1000) -> Path:
    with tempfile.TemporaryDirectory() as prof:
        proc = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                               "--no-first-run", f"--user-data-dir={prof}", f"--window-size={width},{height}",
                               f"--screenshot={out}", page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=180)
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"{browser} could not render {page}: {proc.stderr[-500:]}")
    return out


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmark.report.screenshot", description=__doc__.split("\n\n")[0])
    ap.add_argument("report", type=Path, help="folder with index.html (e.g. reports/demo)")
    ap.add_argument("out", type=Path, help="folder for the PNGs (e.g. docs/img)")
    args = ap.parse_args(argv)
    browser = find_browser()
    if browser is None:
        print("error: no Chromium found; install it with: apt-get install -y chromium", file=sys.stderr)
        return 2
    index = args.report / "index.html"
    details = sorted(args.report.glob("details_*.html"))
    if not index.exists() or not details:
        print(f"error: {args.report} has no index.html and details pages; render the report first", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for page, name, h in ((index, "report_first_screen.png", 1000), (details[0], "report_details.png", 1100)):
        print(screenshot(browser, page, args.out / name, height=h))
    return 0


if __name__ == "__main__":
    sys.exit(main())
