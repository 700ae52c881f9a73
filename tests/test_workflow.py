"""The Snakemake workflow: lint, parse hygiene, config errors, dry runs, and a tiny end-to-end run."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, snakemake


def test_parse_time_modules_do_not_import_torch():
    code = ("import sys, benchmark, benchmark.workflow, methods, benchmark.graphs, benchmark.models;"
            "methods.method_index();"
            "assert 'torch' not in sys.modules, 'torch imported at parse time'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_lint_has_no_findings(tmp_path):
    proc = snakemake(["--lint"], cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _write(tmp_path: Path, cfg: dict) -> Path:
    p = tmp_path / "cfg.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def _tiny() -> dict:
    return yaml.safe_load((REPO / "tests" / "data" / "tiny.yaml").read_text())


@pytest.mark.parametrize("mutate,message", [
    (lambda c: c.update(methods=["ce", "no_such_method"]), "unknown method 'no_such_method'"),
    (lambda c: c["schedule"].update(batch_size="sixteen"), "batch_size"),
    (lambda c: c.update(seedz=[0]), "seedz"),
    (lambda c: c["datasets"].update(ucla={"source": "nw_ucla_json", "root": "/no/such/dir",
                                          "benchmarks": ["default"]}), "/no/such/dir"),
])
def test_bad_config_stops_with_a_clear_message(tmp_path, mutate, message):
    cfg = _tiny()
    mutate(cfg)
    proc = snakemake(["-n", "--configfile", str(_write(tmp_path, cfg))], cwd=tmp_path, check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr


def test_demo_config_plans_without_arguments(tmp_path):
    proc = snakemake(["-n", "--quiet", "rules"], cwd=REPO)
    out = proc.stdout + proc.stderr
    assert "train" in out and "report" in out


@pytest.mark.slow
def test_tiny_end_to_end_run(tmp_path):
    """Synthetic data → split → train (2 methods × 2 streams) → ensemble → tables → report."""
    cfg = tmp_path / "tiny.yaml"
    shutil.copy(REPO / "tests" / "data" / "tiny.yaml", cfg)
    snakemake(["--cores", "2", "--resources", "gpu=0", "--configfile", str(cfg)], cwd=tmp_path, timeout=1200)
    runs = tmp_path / "results" / "runs" / "synthetic_default_lt4" / "stgcnpp"
    for method in ("ce", "brl"):
        for stream in ("j", "b", "ens-2s"):
            assert (runs / method / stream / "seed0" / "metrics.json").exists(), (method, stream)
    assert (tmp_path / "results" / "splits" / "synthetic_default_lt4.txt").exists()
    html = (tmp_path / "reports" / "index.html").read_text()
    assert "<svg" in html and "brl" in html and "ce" in html
    # Nothing left to do: a second invocation plans no job.
    proc = snakemake(["-n", "--configfile", str(cfg)], cwd=tmp_path)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_nw_ucla_lt_split_as_explicit_target(tmp_path):
    """The split the workflow writes follows the protocol to the letter (same list on every machine)."""
    import hashlib

    from conftest import SHARED_DATA

    root = SHARED_DATA / "nw_ucla"
    if not (root / "all_sqe").is_dir():
        pytest.skip(f"NW-UCLA data not found at {root} (it lives in ../shared/data beside the project)")
    snakemake(["--cores", "2", "--configfile", str(REPO / "config" / "nw_ucla.yaml"), "--config",
               f"nw_ucla_root={root}", "results/splits/nw_ucla_default_lt10.txt"], cwd=tmp_path)
    names = (tmp_path / "results" / "splits" / "nw_ucla_default_lt10.txt").read_text().split()
    assert len(names) == 403
    assert hashlib.sha256("\n".join(names).encode()).hexdigest() == \
        "cf33b354a77e8f8493889ec2d207e25a2561a8bd002ff164b0f7bac058bf400f"
    counts = (tmp_path / "results" / "splits" / "nw_ucla_default_lt10_counts.csv").read_text().splitlines()
    assert [int(r.split(",")[2]) for r in counts[1:]] == [100, 77, 59, 46, 35, 27, 21, 16, 12, 10]
