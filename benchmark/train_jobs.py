"""Multi-run training jobs: many short runs trained one after the other in ONE process.

Why: a tiny run (the demo's) trains in seconds, while starting Python and importing torch, the
engine and every method costs several seconds per process. With ``train_jobs: N`` in the config
the workflow gives the runs of each split × backbone to N jobs (``rule train_many``): each job
imports once and trains its runs in turn, each exactly as ``python -m benchmark train`` would (same
spec, same identity, same files; seeds of a packed group are trained as one packed model, as
``train-pack`` does). Every run keeps its own checkpoint folder, so a killed job resumes each run
where it stopped. A ``take_packed`` step then copies each run's files from the job's folder to
the run's usual folder: result paths and the report are those of separate runs.

:func:`plan` (parse time: standard library only) splits the runs into jobs; :func:`train_many`
(the job) trains them. Command line: ``python -m benchmark train-many``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

#: relative cost of one seed inside a packed group against a separate run (packing 3 seeds trained
#: x1.40 faster at the demo's shape: README, "Speed"); used only to balance the jobs
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
    """The multi-run jobs: ``split/backbone/jobK`` → its items, each item a tuple of run folders
    (``split/backbone/method/stream/seedS``, as ``Run.rel``): one run, or the seeds of a packed
    group (``packs``, from ``benchmark.workflow.pack_groups``) trained as one packed model.

    Runs of a split × backbone are spread over ``train_jobs`` jobs by longest-processing-time
    first on an estimated cost (1 per run, :data:`PACKED_SEED_COST` per packed seed), ties broken by
    order, so the plan is a pure function of the config. Stage-2 methods (they start from another
    run's model) stay separate jobs. Empty when ``train_jobs`` is 0."""
    n_jobs = job_count(config)
    if n_jobs == 0:
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
    out: Dict[str, List[Tuple[str, ...]]] = {}
    for group, items in by_group.items():
        k = min(n_jobs, len(items))
        loads = [0.0] * k
        jobs: List[List[Tuple[str, ...]]] = [[] for _ in range(k)]
        for cost, item in sorted(items, key=lambda ci: -ci[0]):      # stable: ties keep plan order
            j = loads.index(min(loads))
            loads[j] += cost
            jobs[j].append(item)
        for j, items_j in enumerate(jobs):
            out[f"{group}/job{j + 1}of{k}"] = items_j
    return out


def run_sources(jobs: Dict[str, List[Tuple[str, ...]]]) -> Dict[str, Tuple[str, str]]:
    """Run folder → (job, the run's folder inside the job's output): where ``take_packed`` copies from."""
    out = {}
    for job, items in jobs.items():
        for item in items:
            for rel in item:
                out[rel] = (job, rel.split("/", 2)[2])      # method/stream/seedS below the job folder
    return out


def train_many(items: Sequence[Sequence[Tuple[Any, Path, Path]]], data_dir: Path, split_file: Optional[Path],
               device: Optional[str] = None, progress: bool = False) -> List[Dict]:
    """Train ``items`` in order in this process: each item is a list of (RunSpec, out, ckpt); one
    entry trains as ``train_run``, several (seeds of one run) as one packed group (``train_group``).
    Returns every run's record in order."""
    from benchmark.engine.packed import train_group
    from benchmark.engine.train import train_run

    records: List[Dict] = []
    for item in items:
        if len(item) == 1:
            spec, out, ckpt = item[0]
            records.append(train_run(spec, data_dir, split_file, out, ckpt, device=device, progress=progress))
        else:
            records += train_group([s for s, _, _ in item], data_dir, split_file, [o for _, o, _ in item],
                                   [c for _, _, c in item], device=device, progress=progress)
    return records


#: what a finished run folder holds; metrics.json is copied last (its presence means complete)
RUN_FILES = ("model.pt", "epochs.csv", "test_probs.npz")


def take_result(spec_json: str, source: str, out: str, log: Optional[str] = None) -> None:
    """Copy one run's files from the multi-run job's folder ``source`` into its run folder ``out``,
    after checking that they were trained from exactly ``spec_json`` (the spec recorded in its
    metrics.json). Atomic copies, metrics.json last. Light (no torch): the workflow calls it in
    its own process."""
    import json

    from benchmark.engine.config import RunSpec
    from benchmark.io import atomic_write

    src, dst = Path(source), Path(out)
    metrics = src / "metrics.json"
    if not metrics.exists():
        raise FileNotFoundError(f"{src}: the multi-run job left no result for this run; run the workflow again "
                                "(the job reruns) or set train_jobs: 0")
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
