"""This suite's own reference results: finished runs kept in the repository for users to compare
against (``reference/``), and the resumable state of runs still in progress.

Layout (mirrors ``results/<experiment>/runs``)::

    reference/<experiment>/<split>/<backbone>/<method>/<stream>/seed<k>/
        metrics.json  epochs.csv  test_probs.npz  [test_probs_<rule>.npz]  provenance.json
    reference/in_progress/<experiment>/<split>/<backbone>/<method>/<stream>/seed<k>/
        last.pt  status.json          (only while the run is unfinished; see ``stash``)

No model weights are kept for finished runs: what a comparison needs is the metrics, the curves
and the test probabilities (ensembles fuse those). ``provenance.json`` says where a run came from:
commit, run_id, resolved precision, CPU or GPU model, threads, wall time, the config file.

Commands (``python -m benchmark.reference …``):

    add RUN_DIR --config FILE    copy a finished run folder in (refused when its metrics do not
                                 recompute from its probabilities)
    check [--strict]             recompute every reference run's metrics, and its run_id under the
                                 current code: "current", or "reference from an older version"
    stash --experiment EXP       copy unfinished runs' checkpoints (results/EXP/ckpt/**/last.pt)
                                 into reference/in_progress/ so a later machine can resume them
    table --experiment EXP       the reproduction table (--write-readme: the README's block; add
                                 and stash refresh it too)
    restore --experiment EXP     put stashed checkpoints back where the workflow resumes them
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import numpy as np

REPO = Path(__file__).resolve().parents[1]
REFERENCE_DIR = REPO / "reference"
IN_PROGRESS = "in_progress"
RUN_FILES = ("metrics.json", "epochs.csv", "test_probs.npz")
#: metrics that must recompute to this absolute tolerance (probabilities are stored as float32)
TOLERANCE = 1e-5


class ReferenceError(ValueError):
    """A reference run that cannot be trusted (the message names the folder and the problem)."""


# ---------------------------------------------------------------------- metrics recompute
def recompute_problems(run_dir: Path) -> List[str]:
    """Every way the run folder's recorded metrics differ from what its probabilities give (empty
    when they agree): the main ``last`` metrics and each selection with its own probabilities."""
    from benchmark.data.splits import GroupThresholds
    from benchmark.metrics import compute_metrics

    run_dir = Path(run_dir)
    record = json.loads((run_dir / "metrics.json").read_text())
    recorded = record["metrics"]
    groups = GroupThresholds(**recorded["groups"]) if recorded.get("groups") else None
    counts = np.asarray(recorded["train_counts"])
    problems = []
    wanted = [("last", run_dir / "test_probs.npz", recorded)]
    for rule, sel in (record.get("selections") or {}).items():
        if rule != "last" and isinstance(sel, dict) and "metrics" in sel:
            wanted.append((rule, run_dir / f"test_probs_{rule}.npz", sel["metrics"]))
    for rule, path, metrics in wanted:
        if not path.exists():
            problems.append(f"{path.name} is missing (selection '{rule}')")
            continue
        with np.load(path) as z:
            again = compute_metrics(z["probs"].astype(np.float64), z["labels"], counts, groups=groups)
        for key, value in metrics.items():
            if isinstance(value, float) or isinstance(again.get(key), float):
                other = again.get(key)
                if value is None and other is None:
                    continue
                if value is None or other is None or not math.isclose(value, other, abs_tol=TOLERANCE):
                    problems.append(f"{rule}: {key} recorded {value}, recomputed {other}")
    return problems


# ---------------------------------------------------------------------- identity under today's code
@dataclass
class IdentityCheck:
    current: bool
    recorded: str
    today: str
    differences: List[str]

    def describe(self) -> str:
        if self.current:
            return "current"
        return "reference from an older version (" + "; ".join(self.differences or ["identity recipe changed"]) + ")"


def _diff(a: Any, b: Any, where: str = "") -> List[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff(a.get(k), b.get(k), f"{where}.{k}" if where else k)
        return out
    return [] if a == b else [f"{where}: {a!r} then, {b!r} now"]


def identity_today(record: Dict[str, Any], provenance: Dict[str, Any], repo: Path = REPO) -> IdentityCheck:
    """Recompute a reference run's run_id as the current code would for the same cell of its config:
    today's run spec (versions, recipe, options) with the recorded data checksums, split-list
    digest and stage-1 identity (those describe inputs, not code). A changed version or recipe
    gives another id: the run is then an older version's reference, never silently current."""
    import yaml

    import benchmark.workflow as bw
    from benchmark.engine.config import RunSpec
    from benchmark.engine.identity import run_identity

    meta = record["meta"]
    run = record["run"]
    config = yaml.safe_load((Path(repo) / provenance["config"]).read_text())
    spec_now = json.loads(bw.run_spec(config, run["split"], run["backbone"], run["method"], run["stream"],
                                      int(run["seed"]), use_gpu=False))
    if spec_now["schedule"].get("precision") in ("auto", None) or provenance.get("precision"):
        # the arithmetic the reference used (auto resolves per machine; the reference says which)
        spec_now["schedule"]["precision"] = provenance.get("precision") or meta["execution"]["precision"]
    spec_now = RunSpec.from_dict(spec_now)
    ident = meta["identity"]
    today = run_identity(spec_now.to_json(), ident["data_checksums"], ident["split_list_sha256"],
                         ident.get("stage1_run_id"))
    recorded = meta["run_id"]
    diffs = [] if today == recorded else _diff(meta["spec"], spec_now.to_dict())
    return IdentityCheck(today == recorded, recorded, today, diffs)


# ---------------------------------------------------------------------- the tree
def reference_runs(root: Path = REFERENCE_DIR) -> Iterator[Path]:
    """Every finished reference run folder (in-progress state excluded)."""
    for p in sorted(Path(root).rglob("provenance.json")):
        if IN_PROGRESS not in p.relative_to(root).parts:
            yield p.parent


def provenance_of(record: Dict[str, Any], config: str, source: Path) -> Dict[str, Any]:
    meta = record["meta"]
    ex = meta.get("execution") or {}
    return {
        "run_id": meta["run_id"], "commit": meta.get("code_version"), "config": config,
        "precision": ex.get("precision", meta.get("precision")), "precision_requested": ex.get("precision_requested"),
        "threads": ex.get("threads"), "cpu_model": ex.get("cpu_model"), "gpu": ex.get("gpu"),
        "device": ex.get("device", meta.get("device")), "packed": ex.get("packed"),
        "wall_time_s": meta.get("wall_time_s"), "train_seconds": meta.get("train_seconds"),
        "train_samples_per_s": meta.get("train_samples_per_s"),
        "added": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "source": str(source),
    }


def add_run(run_dir: Path, config: str, root: Path = REFERENCE_DIR, repo: Path = REPO,
            splits_dir: Path = REPO / "results" / "splits") -> Path:
    """Copy a finished run folder into the reference tree (after checking it) and drop its
    in-progress checkpoint if one was stashed. Returns the reference folder."""
    run_dir = Path(run_dir)
    if not (run_dir / "metrics.json").exists():
        raise ReferenceError(f"{run_dir}: no metrics.json (not a finished run folder)")
    problems = recompute_problems(run_dir)
    if problems:
        raise ReferenceError(f"{run_dir}: its metrics do not recompute from its probabilities: " + "; ".join(problems[:5]))
    record = json.loads((run_dir / "metrics.json").read_text())
    if not (Path(repo) / config).exists():
        raise ReferenceError(f"--config {config}: no such file in the repository (give the config that planned the run, "
                             "relative to the repository root, e.g. config/nw_ucla.yaml)")
    experiment = Path(config).stem
    run = record["run"]
    rel = Path(experiment, run["split"], run["backbone"], run["method"], run["stream"], f"seed{run['seed']}")
    dest = Path(root) / rel
    from benchmark.io import atomic_write, atomic_write_json

    dest.mkdir(parents=True, exist_ok=True)
    names = list(RUN_FILES[1:]) + sorted(p.name for p in run_dir.glob("test_probs_*.npz"))
    for name in names + ["metrics.json"]:
        data = (run_dir / name).read_bytes()
        atomic_write(dest / name, lambda f, data=data: f.write(data))
    atomic_write_json(dest / "provenance.json", provenance_of(record, config, run_dir))
    # the split's per-class counts beside its runs: what fusing reference runs into an ensemble needs
    # (python -m benchmark.ensemble --counts reference/<experiment>/<split>/counts.csv …)
    counts = Path(splits_dir) / f"{run['split']}_counts.csv"
    if counts.exists():
        data = counts.read_bytes()
        atomic_write(Path(root) / experiment / run["split"] / "counts.csv", lambda f, data=data: f.write(data))
    stale = Path(root) / IN_PROGRESS / rel
    if stale.exists():
        shutil.rmtree(stale)
    return dest


# ---------------------------------------------------------------------- for the report
@dataclass
class ReferenceCell:
    """This suite's reference for one cell (split, backbone, method, stream): the mean of a metric
    over the reference seeds, with where it came from."""

    value: float                 # mean over seeds, in [0, 1]
    seeds: List[int]
    note: str                    # provenance for a tooltip
    current: bool                # every run's id matches today's code


class ReferenceIndex:
    """The reference tree, indexed for the report: :meth:`lookup` gives a :class:`ReferenceCell` for
    a cell of the user's tables, or None. Ensembles fused into the tree (``ens-<name>`` folders with
    a metrics.json) are found too; their members' provenance stands for them."""

    def __init__(self, root: Path = REFERENCE_DIR):
        self.cells: Dict[tuple, List[tuple]] = {}
        root = Path(root)
        for path in sorted(root.rglob("metrics.json")) if root.exists() else []:
            if IN_PROGRESS in path.relative_to(root).parts:
                continue
            record = json.loads(path.read_text())
            run = record.get("run") or {}
            prov_path = path.parent / "provenance.json"
            prov = json.loads(prov_path.read_text()) if prov_path.exists() else {}
            key = (str(run.get("split")), str(run.get("backbone")), str(run.get("method")), str(run.get("stream")))
            self.cells.setdefault(key, []).append((int(run.get("seed", 0)), record, prov))
        self._root = root
        self._current: Dict[int, bool] = {}

    def _is_current(self, record: Dict, prov: Dict) -> bool:
        """Whether today's code computes the run_id the reference run recorded; computed on the first
        lookup of its cell only (a report of other cells never pays for it), then remembered."""
        if not prov:
            return True
        if id(record) not in self._current:
            try:
                ok = identity_today(record, prov, repo=self._root.parent).current   # configs beside reference/
            except Exception:                  # a config that no longer plans this cell
                ok = False
            self._current[id(record)] = ok
        return self._current[id(record)]

    def __bool__(self) -> bool:
        return bool(self.cells)

    def lookup(self, split: str, backbone: str, method: str, stream: str, metric: str = "top1",
               selection: str = "last") -> Optional[ReferenceCell]:
        runs = self.cells.get((split, backbone, method, stream))
        if not runs:
            return None
        values = []
        for _, record, _ in runs:
            metrics = record.get("metrics") if selection == "last" else \
                ((record.get("selections") or {}).get(selection) or {}).get("metrics")
            if not metrics or metrics.get(metric) is None:
                return None
            values.append(float(metrics[metric]))
        provs = [p for _, _, p in runs if p]
        current = all(self._is_current(record, prov) for _, record, prov in runs)
        where = "; ".join(sorted({f"{p.get('precision')} on {p.get('gpu') or p.get('cpu_model')}, "
                                  f"{p.get('threads')} thread(s), commit {p.get('commit')}" for p in provs}))
        note = (f"this suite's reference (reference/): {len(runs)} seed(s) {sorted(s for s, *_ in runs)}"
                + (f"; {where}" if where else "")
                + ("" if current else "; reference from an older version of the code"))
        return ReferenceCell(float(np.mean(values)), sorted(s for s, *_ in runs), note, current)


# ---------------------------------------------------------------------- in-progress checkpoints
def stash(experiment: str, results: Path = REPO / "results", root: Path = REFERENCE_DIR) -> List[Path]:
    """Copy every unfinished run's checkpoint of ``experiment`` into ``reference/in_progress`` (one
    file per run, replaced each time) with a status.json; entries of runs that have finished since
    are removed. Returns the stashed run folders."""
    import torch

    from benchmark.io import atomic_write, atomic_write_json

    ckpt_root = Path(results) / experiment / "ckpt"
    stash_root = Path(root) / IN_PROGRESS / experiment
    out = []
    for ckpt in sorted(ckpt_root.rglob("last.pt")) if ckpt_root.exists() else []:
        rel = ckpt.parent.relative_to(ckpt_root)
        if "stale" in rel.parts:
            continue
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        epochs = len(state.get("log") or [])
        dest = stash_root / rel
        dest.mkdir(parents=True, exist_ok=True)
        data = ckpt.read_bytes()
        atomic_write(dest / "last.pt", lambda f, data=data: f.write(data))
        from benchmark.hostinfo import cpu_model
        spec = _spec_of_ckpt(results, experiment, rel)
        atomic_write_json(dest / "status.json", {"run_id": state.get("run_id"), "epochs_done": state.get("epoch", epochs),
                                                 "epochs_total": spec.get("runner_epochs"),
                                                 "precision": spec.get("precision", "fp32"),
                                                 "train_seconds": round(float(state.get("train_seconds", 0.0)), 1),
                                                 "stashed": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                                                 "cpu_model": cpu_model()})
        out.append(dest)
    for status in sorted(stash_root.rglob("status.json")) if stash_root.exists() else []:
        rel = status.parent.relative_to(stash_root)
        if (Path(root) / experiment / rel / "metrics.json").exists() or \
                (Path(results) / experiment / "runs" / rel / "metrics.json").exists():
            shutil.rmtree(status.parent)
    return out


def _spec_of_ckpt(results: Path, experiment: str, rel: Path) -> Dict[str, Any]:
    """Schedule facts of an unfinished run (runner epochs, precision) from the config that plans it,
    ``config/<experiment>.yaml`` (the default experiment name is the config's stem); empty when
    there is no such config or it does not plan this cell."""
    import yaml

    import benchmark.workflow as bw

    config = REPO / "config" / f"{experiment}.yaml"
    try:
        split, backbone, method, stream, seed = Path(rel).parts
        spec = json.loads(bw.run_spec(yaml.safe_load(config.read_text()), split, backbone, method, stream,
                                      int(seed[len("seed"):]), use_gpu=False))
    except (OSError, ValueError, KeyError, bw.WorkflowConfigError):
        return {}
    sch = spec.get("schedule") or {}
    return {"runner_epochs": sch.get("runner_epochs"), "precision": sch.get("precision", "fp32")}


def restore(experiment: str, results: Path = REPO / "results", root: Path = REFERENCE_DIR) -> List[Path]:
    """Put stashed checkpoints back into ``results/<experiment>/ckpt`` where the workflow resumes
    them (the run's identity is checked when it resumes). A local checkpoint that is further along
    is kept. Returns the restored checkpoint paths."""
    import torch

    stash_root = Path(root) / IN_PROGRESS / experiment
    out = []
    for saved in sorted(stash_root.rglob("last.pt")) if stash_root.exists() else []:
        rel = saved.parent.relative_to(stash_root)
        dest = Path(results) / experiment / "ckpt" / rel / "last.pt"
        if dest.exists():
            here = torch.load(dest, map_location="cpu", weights_only=True).get("epoch", 0)
            there = torch.load(saved, map_location="cpu", weights_only=True).get("epoch", 0)
            if here >= there:
                continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(saved, dest)
        out.append(dest)
    return out


# ---------------------------------------------------------------------- the README's reproduction table
README_START = "<!-- reference-table:{experiment} (python -m benchmark.reference table --experiment {experiment} --write-readme) -->"
README_END = "<!-- /reference-table:{experiment} -->"


def _hours(seconds: Optional[float]) -> str:
    return "n/a" if seconds is None else f"{float(seconds) / 3600:.1f} h"


def status_table(experiment: str, root: Path = REFERENCE_DIR) -> str:
    """Markdown table of ``experiment``'s reference runs, finished and in progress: the paper's
    number for the cell, ours (top-1 of the last checkpoint), the difference, and how and where the
    run was computed. Everything in it is read from reference/; nothing is typed."""
    from benchmark.report.common import load_paper_results
    from benchmark.report.paper import PaperIndex

    paper = PaperIndex(load_paper_results())
    root = Path(root)
    rows = []
    for path in sorted((root / experiment).rglob("metrics.json")) if (root / experiment).exists() else []:
        record = json.loads(path.read_text())
        run, m = record["run"], record["metrics"]
        prov_path = path.parent / "provenance.json"
        prov = json.loads(prov_path.read_text()) if prov_path.exists() else {}
        hit = paper.lookup(run["dataset"], run["benchmark"], run["backbone"], run["method"], run["stream"])
        ours = 100 * float(m["top1"])
        if prov:
            how = f"{prov.get('precision')}, {prov.get('threads')} thread(s), {prov.get('gpu') or prov.get('cpu_model')}"
            when = _hours(prov.get("train_seconds"))
        else:       # an ensemble fused from reference runs
            how, when = "fused from the reference runs above", "—"
        rows.append((run["split"], run["backbone"], run["method"], run["stream"], run["seed"],
                     "—" if hit is None else f"{hit[0]:.1f} (Table {hit[1]})", f"{ours:.1f}",
                     "—" if hit is None else f"{ours - hit[0]:+.1f}", "finished", how, when))
    progress = root / IN_PROGRESS / experiment
    for status in sorted(progress.rglob("status.json")) if progress.exists() else []:
        st = json.loads(status.read_text())
        parts = status.parent.relative_to(progress).parts          # split/backbone/method/stream/seedK
        total = st.get("epochs_total")
        rows.append((*parts[:4], int(parts[4][len("seed"):]), "", "", "",
                     f"in progress: {st.get('epochs_done')}" + (f"/{total}" if total else "") + " runner epochs",
                     f"{st.get('precision', 'fp32')}, {st.get('cpu_model')}", _hours(st.get("train_seconds"))))
    head = ("| split | backbone | method | stream | seed | paper top-1 | ours top-1 | ours − paper | state | "
            "arithmetic, machine | training time |")
    lines = [head, "|" + "---|" * 11]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    if not rows:
        lines.append("| " + " | ".join(["—"] * 8 + ["no reference run yet", "", ""]) + " |")
    return "\n".join(lines) + "\n"


def readme_block(experiment: str, root: Path = REFERENCE_DIR) -> str:
    return (README_START.format(experiment=experiment) + "\n" + status_table(experiment, root)
            + README_END.format(experiment=experiment))


def write_readme(experiment: str, readme: Path = REPO / "README.md", root: Path = REFERENCE_DIR) -> bool:
    """Replace the README's block for ``experiment`` with the current table; True if it changed."""
    text = Path(readme).read_text()
    start, end = README_START.format(experiment=experiment), README_END.format(experiment=experiment)
    if start not in text or end not in text:
        raise ReferenceError(f"{readme}: no block for experiment '{experiment}' (add the two marker lines "
                             f"'{start}' and '{end}' where the table belongs)")
    a, b = text.index(start), text.index(end) + len(end)
    new = text[:a] + readme_block(experiment, root) + text[b:]
    if new != text:
        from benchmark.io import atomic_write_text
        atomic_write_text(Path(readme), new)
    return new != text


def _refresh_readme(experiment: str) -> None:
    """After add/stash: keep the README's table for the experiment current (when it has one)."""
    try:
        if write_readme(experiment):
            print(f"README.md: reproduction table of {experiment} updated (commit it with reference/)")
    except ReferenceError:
        pass


# ---------------------------------------------------------------------- command line
def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmark.reference", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("add", help="copy a finished run folder into reference/")
    a.add_argument("run_dir", type=Path)
    a.add_argument("--config", required=True, help="the config file that planned the run, e.g. config/nw_ucla.yaml")
    c = sub.add_parser("check", help="recompute metrics and run_ids of every reference run")
    c.add_argument("--strict", action="store_true", help="exit 1 when a run is from an older version")
    t = sub.add_parser("table", help="the reproduction table of an experiment (markdown)")
    t.add_argument("--experiment", required=True)
    t.add_argument("--write-readme", action="store_true", help="replace the README's block for this experiment")
    for name in ("stash", "restore"):
        s = sub.add_parser(name, help=f"{name} unfinished runs' checkpoints (reference/in_progress)")
        s.add_argument("--experiment", required=True)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "add":
            dest = add_run(args.run_dir, args.config)
            print(f"added {dest.relative_to(REPO)}")
            _refresh_readme(Path(args.config).stem)
        elif args.cmd == "check":
            bad, old = 0, 0
            for run_dir in reference_runs():
                problems = recompute_problems(run_dir)
                record = json.loads((run_dir / "metrics.json").read_text())
                ident = identity_today(record, json.loads((run_dir / "provenance.json").read_text()))
                old += not ident.current
                bad += bool(problems)
                status = "; ".join(problems) if problems else "metrics recompute"
                print(f"{run_dir.relative_to(REPO)}: {status}; {ident.describe()}")
            if bad or (args.strict and old):
                return 1
        elif args.cmd == "table":
            if args.write_readme:
                print(f"README.md: {'updated' if write_readme(args.experiment) else 'already current'}")
            else:
                sys.stdout.write(status_table(args.experiment))
        elif args.cmd == "stash":
            for p in stash(args.experiment):
                print(f"stashed {p.relative_to(REPO)}")
            _refresh_readme(args.experiment)
        else:
            for p in restore(args.experiment):
                print(f"restored {p}")
    except ReferenceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
