"""`snakemake --report report.zip` bundles the result pages and tables (tiny end-to-end run)."""
from __future__ import annotations

import shutil
import zipfile

import pytest

from conftest import REPO, snakemake


@pytest.mark.slow
def test_snakemake_report_archive_holds_the_result_pages(tmp_path):
    cfg = tmp_path / "tiny.yaml"
    shutil.copy(REPO / "tests" / "data" / "tiny.yaml", cfg)
    snakemake(["--cores", "2", "--resources", "gpu=0", "--configfile", str(cfg)], cwd=tmp_path, timeout=1200)
    assert (tmp_path / "reports" / "tiny" / "index.html").exists()
    snakemake(["--configfile", str(cfg), "--report", "report.zip"], cwd=tmp_path, timeout=600)
    with zipfile.ZipFile(tmp_path / "report.zip") as z:
        names = z.namelist()
        pages = [n for n in names if n.endswith(".html") and "/data/" in n]
        # the benchmark's own pages, linked from its index: overview, details, provenance
        assert any(n.endswith("/index.html") and "tiny" in n for n in pages), names
        assert any("details_synthetic_default_lt4_stgcnpp.html" in n for n in pages), names
        assert any(n.endswith("provenance.html") for n in pages), names
        for table in ("summary.csv", "runs.csv", "pairwise.csv"):
            assert any(n.endswith(table) for n in names), (table, names)
        idx = next(n for n in pages if n.endswith("/index.html") and "tiny" in n)
        html = z.read(idx).decode()
        assert "Ranked by balanced accuracy" in html and "single seed: test-sampling interval only" in html
