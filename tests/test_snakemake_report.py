"""`snakemake --report report.zip` bundles the result pages and tables (the session's tiny
end-to-end run, conftest.tiny_workflow)."""
from __future__ import annotations

import zipfile

import pytest

from helpers import snakemake


@pytest.mark.slow
def test_snakemake_report_archive_holds_the_result_pages(tiny_workflow, tmp_path):
    workdir, cfg = tiny_workflow
    assert (workdir / "reports" / "tiny" / "index.html").exists()
    # --nolock: other workers may read the same shared run at the same time (conftest.built_once)
    snakemake(["--nolock", "--configfile", cfg, "--report", tmp_path / "report.zip"], cwd=workdir, timeout=600)
    with zipfile.ZipFile(tmp_path / "report.zip") as z:
        names = z.namelist()
    assert any(n.endswith("report.html") for n in names), names            # Snakemake's own report
    # the benchmark's pages travel together in one folder (index.html links the others by name)
    index = [n for n in names if n.endswith("/index.html") and "/data/" in n]
    assert len(index) == 1, names
    folder = index[0].rsplit("/", 1)[0]
    for page in ("details_synthetic_default_lt4_stgcnpp.html", "provenance.html"):
        assert f"{folder}/{page}" in names, (page, names)
    for table in ("summary.csv", "runs.csv", "pairwise.csv"):
        assert any(n.endswith("/" + table) for n in names), (table, names)
    with zipfile.ZipFile(tmp_path / "report.zip") as z:
        html = z.read(index[0]).decode()
    assert "Ranked by balanced accuracy" in html and "single seed: test-sampling interval only" in html
