"""Multi-run training jobs: many short runs trained one after the other in ONE process.

Why: a tiny run (the demo's) trains in seconds, while starting Python and importing torch, the
engine and every method costs several seconds per process. With ``train_jobs: N`` in the config
the workflow gives the runs of each split × backbone to N jobs (``rule train_many``): each job
imports once and trains runs in turn, each exactly as ``python -m benchmark train`` would (same
spec, same identity, same files; seeds of a packed group are trained as one packed model, as
``train-pack`` does). Every run keeps its own checkpoint folder, so a killed job resumes each run
where it stopped. A ``take_job_run`` step then copies each run's files from the job's folder to
the run's usual folder: result paths and the report are those of separate runs.

The N jobs of a group share one work list (longest first) and *claim* each item before training
it (an exclusive claim file per item, :func:`claim`): a job that finishes early takes the next
unclaimed run, so the jobs end together whatever the runs cost (a BRL run with its reverse
sampler trains about twice as many clips as a CE run; nothing at planning time knows that). A
claim left by a process that no longer runs on this host is taken over.

:func:`plan` (parse time: standard library only) lists the work; :func:`train_many` (the job)
trains it. Command line: ``python -m benchmark train-many``.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from benchmark.hostinfo import pid_alive

#: relative cost of one seed inside a packed group against a separate run; orders the work list
PACKED_SEED_COST = 0.7


def job_count(config: Dict[str, Any]) -> int:
    """``train_jobs`` of the config: 0 (default) = one job per run (rule ``train``/``train_pack``)."""
    value = config.get("train_jobs", 0)
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = -1
    if n < 0 or str(value).strip() in ("", "True", "False"):
        raise ValueError(f"train_jobs: {value!r} must be a whole number >= 0 (0: one job per run)")
    return n


def plan(config: Dict[str, Any], planned: Sequence[Any], packs: Dict[str, Tuple[int, ...]]) -> Dict[str, List[Tuple[str, ...]]]:
    """The work of the multi-run jobs: ``split/backbone`` → its items, longest first; each item is a
    tuple of run folders (``split/backbone/method/stream/seedS``, as ``Run.rel``): one run, or the
    seeds of a packed group (``packs``, from ``benchmark.workflow.pack_groups``) trained as one
    packed model. Stage-2 methods (they start from another run's model) keep jobs of their own.
    Empty when ``train_jobs`` is 0. A pure function of the config."""
    if job_count(config) == 0:
        return {}
    by_group: Dict[str, List[Tuple[float, Tuple[str, ...]]]] = {}
    seen_packs = set()
    for r in planned:
        if r.method.stage1:
            continue
        key = f"{r.split.split_id}/{r.backbone}/{r.method.id}/{r.stream}"
        group = f"{r.split.split_id}/{r.backbone}"
        if key in packs:
            if key in seen_packs:
                continue
            seen_packs.add(key)
            item = tuple(f"{key}/seed{s}" for s in packs[key])
            by_group.setdefault(group, []).append((PACKED_SEED_COST * len(item), item))
        else:
            by_group.setdefault(group, []).append((1.0, (r.rel,)))
    return {g: [item for _, item in sorted(items, key=lambda ci: -ci[0])]       # stable: ties keep plan order
            for g, items in by_group.items()}


def job_names(config: Dict[str, Any], items: Sequence[Tuple[str, ...]]) -> List[str]:
    """The jobs sharing a group's work: ``job1ofN`` … (N = ``train_jobs``, at most one per item)."""
    n = min(job_count(config), len(items))
    return [f"job{k + 1}of{n}" for k in range(n)]


def item_key(item: Sequence[str]) -> str:
    """A file name for a work item: its first run folder with '/' as '+' (and the pack size)."""
    return item[0].replace("/", "+") + (f"+x{len(item)}" if len(item) > 1 else "")


def claim(claims_dir: Path, key: str) -> bool:
    """Claim work item ``key`` for this process: True if it is ours now. A claim file holds
    ``running|done host pid result``: a running claim whose process is gone from this host (a
    crashed or killed job's) is taken over, and so is a done one whose result folder is gone (an
    earlier invocation's, its temporary job folder deleted)."""
    claims_dir.mkdir(parents=True, exist_ok=True)
    path = claims_dir / f"{key}.claim"
    me = f"{socket.gethostname()} {os.getpid()}"
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                state, host, pid, result = path.read_text().split(" ", 3)
            except (OSError, ValueError):
                return False                  # being written by its claimer right now
            if state == "done" and (Path(result) / "metrics.json").exists():
                return False                  # trained, and its result still waits to be taken
            if state == "running" and (host != socket.gethostname() or pid_alive(int(pid))):
                return False
            try:
                path.unlink()                 # a dead claimer's: try once more (O_EXCL picks one winner)
            except FileNotFoundError:
                pass
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"running {me} -")
        return True
    return False


def release(claims_dir: Path, key: str, result: Path) -> None:
    """Mark this process's claim of ``key`` done with its ``result`` folder: no other job takes the
    item over while that result exists, even after this process has exited."""
    path = Path(claims_dir) / f"{key}.claim"
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(f"done {socket.gethostname()} {os.getpid()} {Path(result).resolve()}")
    os.replace(tmp, path)


def train_many(items: Sequence[Sequence[Tuple[Any, Path, Path]]], data_dir: Path, split_file: Optional[Path],
               device: Optional[str] = None, progress: bool = False, claims: Optional[Path] = None,
               keys: Optional[Sequence[str]] = None) -> List[Dict]:
    """Train ``items`` in order in this process: each item is a list of (RunSpec, out, ckpt); one
    entry trains as ``train_run``, several (seeds of one run) as one packed group (``train_group``).
    With ``claims`` (a folder shared by the jobs of one work list; ``keys`` name the items) an item
    is trained only if this process claims it. Returns the records of the runs trained here."""
    from benchmark.engine.packed import train_group
    from benchmark.engine.train import train_run

    records: List[Dict] = []
    for k, item in enumerate(items):
        if claims is not None and not claim(Path(claims), keys[k]):
            continue
        if len(item) == 1:
            spec, out, ckpt = item[0]
            records.append(train_run(spec, data_dir, split_file, out, ckpt, device=device, progress=progress))
        else:
            records += train_group([s for s, _, _ in item], data_dir, split_file, [o for _, o, _ in item],
                                   [c for _, _, c in item], device=device, progress=progress)
        if claims is not None:
            release(Path(claims), keys[k], item[0][1])
    return records


#: what a finished run folder holds; metrics.json is copied last (its presence means complete)
RUN_FILES = ("model.pt", "epochs.csv", "test_probs.npz")


def take_result(spec_json: str, sources: Sequence[str], out: str, log: Optional[str] = None) -> Path:
    """Copy one run's files from the multi-run job folder among ``sources`` (the run's folder in
    each job of its group) that trained it into its run folder ``out``, after checking that they
    were trained from exactly ``spec_json`` (the spec recorded in its metrics.json). Atomic copies,
    metrics.json last. Light (no torch). Returns the job folder it copied from."""
    import json

    from benchmark.engine.config import RunSpec
    from benchmark.io import atomic_write

    sources = [sources] if isinstance(sources, str) else list(sources)
    found_in = [Path(s) for s in sources if (Path(s) / "metrics.json").exists()]
    if not found_in:
        raise FileNotFoundError(f"{', '.join(sources)}: no multi-run job left a result for this run; run the "
                                "workflow again (the jobs rerun) or set train_jobs: 0")
    src, dst = found_in[0], Path(out)
    metrics = src / "metrics.json"
    expected = json.loads(json.dumps(RunSpec.from_json(spec_json).to_dict()))
    found = json.loads(metrics.read_text()).get("meta", {}).get("spec")
    if found != expected:
        raise ValueError(f"{metrics}: trained from another spec than this run's (the config changed since); run "
                         "the workflow again so that the multi-run job reruns")
    dst.mkdir(parents=True, exist_ok=True)
    extra = tuple(sorted(p.name for p in src.glob("test_probs_*.npz")))
    for name in RUN_FILES + extra + ("metrics.json",):
        data = (src / name).read_bytes()
        atomic_write(dst / name, lambda f, data=data: f.write(data))
    if log:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        Path(log).write_text(f"[train] result taken from the multi-run job ({src})\n")
    return src
