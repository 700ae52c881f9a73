"""Every command the README documents runs on the pinned Snakemake: each one itself where it is
quick, else its dry-run form (snakemake -n, make -n, --help), from a copy of the project with
nothing beside it. Raw-data roots point at empty stand-in folders (a dry run reads no data)."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO, snakemake_env

README = REPO / "README.md"
#: commands whose full run is slow or needs a job to wrap: the argv tail that replaces theirs
STAND_INS = {"benchmark.bench": ["--help"],                 # a timing run of all backbones (minutes)
             "benchmark.gpu_slot": ["--n", "0", "--", "true"],   # wraps a (here trivial) CPU job
             "benchmark.gpucheck": ["--help"],                  # needs a GPU (tests/test_gpucheck.py: --device cpu)
             "benchmark.demo_table": ["--check"]}               # reads a finished demo: check the README's tables


def documented_commands(text: str) -> list:
    """Commands in fenced shell blocks and in inline code spans that start with snakemake, python -m or make."""
    cmds = []
    for block in re.findall(r"```(?:bash|sh)?\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split("#")[0].strip()
            if re.match(r"(snakemake|python -m|make)\b", line):
                cmds.append(line)
    rest = re.sub(r"```.*?```", "", text, flags=re.S)
    for span in re.findall(r"`([^`]+)`", rest):
        span = " ".join(span.split())
        if re.match(r"(snakemake|python -m|make)( |$)", span):
            cmds.append(span)
    return list(dict.fromkeys(cmds))


#: commands that need a finished workflow run; the test named here runs them for real
NEEDS_A_RUN = {"--report": "tests/test_snakemake_report.py runs the workflow, then snakemake --report"}


def runnable_form(cmd: str, raw: Path) -> list:
    """The argv to run for one documented command (see module docstring)."""
    cmd = cmd.replace("<index URL>", "https://example.invalid/whl/cpu")
    argv = shlex.split(cmd)
    if argv[0] == "make":
        return ["make", "-n"] + argv[1:]
    if argv[0] == "python":
        argv[0] = sys.executable
        if argv[2] in STAND_INS:
            return argv[:3] + STAND_INS[argv[2]]
        return argv
    # snakemake: a dry run, every selected dataset's root pointed at an empty stand-in folder
    argv = [sys.executable, "-m", "snakemake"] + argv[1:]
    if not ({"--unlock", "--list-changes"} & set(argv)):
        argv.insert(3, "-n")
    cfg_file = argv[argv.index("--configfile") + 1] if "--configfile" in argv else "config/demo.yaml"
    datasets = yaml.safe_load((REPO / cfg_file).read_text())["datasets"]
    roots = []
    for ds_id, d in datasets.items():
        if d["source"] != "synthetic":
            (raw / ds_id).mkdir(parents=True, exist_ok=True)
            roots.append(f"{ds_id}_root={raw / ds_id}")
    argv = [a for a in argv if not re.match(r"\w+_root=", a)]       # documented paths -> stand-ins
    if roots:
        if "--config" in argv:
            i = argv.index("--config") + 1
            argv[i:i] = roots
        else:
            argv += ["--config"] + roots
    return argv


def test_readme_documents_the_main_commands():
    cmds = documented_commands(README.read_text())
    assert "make demo" in cmds and "make test" in cmds
    assert any(c.startswith("snakemake") and "select_datasets=" in c for c in cmds)
    assert not any(re.search(r"(^| )-r( |$)", c) for c in cmds), "snakemake -r does not exist in Snakemake 9"


@pytest.mark.parametrize("cmd", documented_commands(README.read_text()))
def test_documented_command_runs(cmd, project_clone, tmp_path):
    if "--profile profiles/slurm" in cmd:
        pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install -e '.[slurm]' for the SLURM plugin")
    if cmd.startswith("make") and shutil.which("make") is None:
        pytest.skip("make is not installed")
    for flag, where in NEEDS_A_RUN.items():
        if flag in cmd.split():
            pytest.skip(f"'{flag}' needs the outputs of a finished run: {where}")
    argv = runnable_form(cmd, tmp_path / "raw")
    proc = subprocess.run(argv, cwd=project_clone, env=snakemake_env(project_clone), capture_output=True, text=True,
                          timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{cmd!r} -> {argv}\n{out[-4000:]}"
    assert "unrecognized arguments" not in out
