import json
import os
import re

from snakemake.utils import validate

import benchmark.train_jobs as tj
import benchmark.workflow as bw

validate(config, "../schemas/config.schema.yaml")

try:
    # Runs, tables and the report of this config live under results/<experiment>/ and
    # reports/<experiment>/; prepared data and splits are shared (results/data, results/splits).
    config["experiment"] = bw.experiment_name(config, workflow.configfiles)
    # results/<experiment>/experiment.json names the config that made it: another config with the
    # same experiment name stops here (written by onstart, workflow/rules/slurm.smk)
    EXPERIMENT_RECORD = bw.check_experiment(config, workflow.configfiles)
    bw.check_roots(config)
    SPLITS = bw.selected_splits(config)  # only what select_tables / select_datasets keep
    METHODS = bw.methods(config, candidates=True)  # with sweep candidates (wb_wd0.0005, …)
    SWEEP_SPLITS, SWEEP_METHODS = bw.swept(config)  # rows the sweep selection step writes
    BACKBONES = bw.backbones(config)
    ENSEMBLES = bw.ensembles(config)
    RUNS = bw.runs(config)
    PACKS = bw.pack_groups(config, RUNS)  # split/backbone/method/stream -> seeds trained as one packed model
    # train_jobs: N: split/backbone -> its runs (packed seed groups as one item), longest first; N jobs
    # (one process each) share that list, each claiming the next unclaimed item (benchmark.train_jobs)
    JOB_WORK = tj.plan(config, RUNS, PACKS)
except (bw.WorkflowConfigError, ValueError) as e:
    raise WorkflowError(f"config error: {e}")



def _planned_gpus():
    """--resources gpu=N as given (None when not given): 0 means every job runs on the CPU."""
    value = workflow.global_resources.get("gpu")
    value = getattr(value, "value", value)
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


# The device the training jobs get, for resolving precision: auto when the runs are planned:
# a GPU where one is visible unless --resources gpu=0 (benchmark.hostinfo, benchmark.workflow.run_spec).
USE_GPU = bool(bw.hostinfo.gpu_compute_capabilities()) and _planned_gpus() != 0

JOB_RUNS = sorted(rel for items in JOB_WORK.values() for item in items for rel in item)  # taken from a job
# runs a take_packed step copies from their packed job (none when multi-run jobs train the packs)
PACKED_RUNS = [f"{g}/seed{s}" for g, seeds in PACKS.items() for s in seeds if f"{g}/seed{s}" not in JOB_RUNS]
EXP = config["experiment"]
RUNS_DIR = bw.runs_dir(config)  # results/<experiment>/runs
CKPT_DIR = f"{bw.experiment_dir(config)}/ckpt"
PACK_DIR = f"{bw.experiment_dir(config)}/packs"  # packed jobs' outputs until each run takes its own
JOBS_DIR = f"{bw.experiment_dir(config)}/jobs"  # multi-run jobs' outputs, likewise
TABLES_DIR = f"{bw.experiment_dir(config)}/tables"
REPORT_DIR = f"reports/{EXP}"
DATASETS = sorted(config["datasets"])


def _alt(values):
    return "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))


wildcard_constraints:
    dataset=_alt(DATASETS),
    benchmark=_alt({s.benchmark for s in SPLITS.values()}),
    lt=r"lt[0-9.]+|natural",
    split=_alt(SPLITS),
    backbone=_alt(BACKBONES),
    method=_alt(METHODS),
    stream=_alt(bw.STREAMS),
    ens=_alt(ENSEMBLES) if ENSEMBLES else "NO_ENSEMBLE",
    seed=r"\d+",
    seeds=r"\d+(-\d+)+",
    job=r"job\d+of\d+",


def get_final_output():
    return bw.final_targets(config) + [REPORT_DIR]  # a directory output (index.html and its pages)


def dataset_raw_input(wildcards):
    root = bw.dataset_root(config, wildcards.dataset)
    return [ancient(root)] if root else []


def prepare_args(wildcards):
    d = config["datasets"][wildcards.dataset]
    root = bw.dataset_root(config, wildcards.dataset) or "."
    opts = json.dumps(bw.dataset_options(config, wildcards.dataset), sort_keys=True)
    args = {"source": d["source"], "root": root, "normalize": d.get("normalize", "prenorm3d"), "options": opts}
    if d.get("max_persons") is not None:  # only when given: the params of every other dataset stay as they were
        args["max_persons"] = int(d["max_persons"])
    return args


def prepare_max_persons(wildcards, input):
    """``--max-persons N`` where the dataset names it (its value is part of prepare_args, which
    reruns the job when it changes; this derived param only spells it for the command line)."""
    n = config["datasets"][wildcards.dataset].get("max_persons")
    return [] if n is None else ["--max-persons", str(int(n))]


def _split_of(wildcards):
    return SPLITS[f"{wildcards.dataset}_{wildcards.benchmark}_{wildcards.lt}"]


def split_params(wildcards):
    """The split step's values, each passed as its own quoted shell word."""
    s = _split_of(wildcards)
    return {"data": f"results/data/{s.dataset}", "benchmark": s.benchmark, "ratio": s.ratio,
            "n_max": [] if s.n_max is None else ["--n-max", str(s.n_max)],
            "split_list": [] if not s.split_list else ["--split-list", s.split_list],
            "thresholds": [] if not s.thresholds else ["--thresholds", s.thresholds]}


def split_list_input(wildcards):
    s = _split_of(wildcards)
    # packaged official lists ("official:NAME") are package data, not workflow files
    return [s.split_list] if s.split_list and not s.split_list.startswith("official:") else []


def run_spec(wildcards):
    return bw.run_spec(config, wildcards.split, wildcards.backbone, wildcards.method, wildcards.stream,
                       int(wildcards.seed), use_gpu=USE_GPU)


def stage1_input(wildcards):
    m = METHODS[wildcards.method]
    if not m.stage1:
        return []
    return [f"{RUNS_DIR}/{wildcards.split}/{wildcards.backbone}/{m.stage1}/{wildcards.stream}/seed{wildcards.seed}/model.pt"]


def ensemble_inputs(wildcards):
    w = ENSEMBLES[wildcards.ens]
    base = f"{RUNS_DIR}/{wildcards.split}/{wildcards.backbone}/{wildcards.method}"
    return [f"{base}/{s}/seed{wildcards.seed}/test_probs.npz" for s in w]


def ensemble_params(wildcards):
    # a default ensemble takes its dataset's weights (Kinetics 4s: 3:3:1:1; benchmark.workflow)
    w = bw.ensemble_weights(config, wildcards.ens, SPLITS[wildcards.split].dataset)
    return {"streams": list(w), "weights": [str(v) for v in w.values()]}


def pack_dir(split, backbone, method, stream, seeds):
    return f"{PACK_DIR}/{split}/{backbone}/{method}/{stream}/{bw.pack_name(seeds)}"


def take_packed_input(wildcards):
    """A packed seed's inputs: its pack folder (which trained it) and the split list (identity)."""
    split, backbone, method, stream, _ = wildcards.packed_run.split("/")
    return {"pack": pack_dir(split, backbone, method, stream, PACKS[f"{split}/{backbone}/{method}/{stream}"]),
            "split": f"results/splits/{split}.txt",
            "data": f"results/data/{SPLITS[split].dataset}/meta.json"}


def job_dirs(job_run):
    """The output folders of the multi-run jobs that share ``job_run``'s work list (one of them trains it)."""
    group = job_run.rsplit("/", 3)[0]  # split/backbone
    return [f"{JOBS_DIR}/{group}/{j}" for j in tj.job_names(config, JOB_WORK[group])]


def job_items(wildcards):
    return JOB_WORK[f"{wildcards.split}/{wildcards.backbone}"]


def job_run_args(wildcards, output):
    """``--run SPEC OUT CKPT`` per run of the work list, ``--pack I,J,…`` per packed group, and the
    claims folder the group's jobs share."""
    words, packs, i = [], [], 0
    for item in job_items(wildcards):
        for rel in item:
            words += ["--run", packed_run_spec(rel), f"{output[0]}/{rel.split('/', 2)[2]}", f"{CKPT_DIR}/{rel}"]
        if len(item) > 1:
            packs += ["--pack", ",".join(str(k) for k in range(i, i + len(item)))]
        i += len(item)
    return words + packs + ["--claims", f"{JOBS_DIR}/{wildcards.split}/{wildcards.backbone}/claims"]


def job_specs(wildcards):
    """Every run spec of a multi-run job: a change reruns the job."""
    return [packed_run_spec(rel) for item in job_items(wildcards) for rel in item]


def packed_run_spec(packed_run):
    split, backbone, method, stream, seed = packed_run.split("/")
    return bw.run_spec(config, split, backbone, method, stream, int(seed[len("seed"):]), use_gpu=USE_GPU)


def train_data_input(wildcards):
    s = SPLITS[wildcards.split]
    return {
        "data": f"results/data/{s.dataset}/meta.json",
        "split": f"results/splits/{wildcards.split}.txt",
        "counts": f"results/splits/{wildcards.split}_counts.csv",
        "stage1": stage1_input(wildcards) if "seed" in wildcards.keys() else [],
    }


def pack_seeds(wildcards):
    return [int(s) for s in wildcards.seeds.split("-")]


def pack_run_args(wildcards, output):
    """``--run SPEC OUT CKPT`` per seed of a packed job, each value its own quoted shell word. A
    run's checkpoint folder is the one its separate job uses, so either can resume the other."""
    words = []
    for seed in pack_seeds(wildcards):
        rel = f"{wildcards.split}/{wildcards.backbone}/{wildcards.method}/{wildcards.stream}/seed{seed}"
        spec = bw.run_spec(config, wildcards.split, wildcards.backbone, wildcards.method, wildcards.stream, seed,
                           use_gpu=USE_GPU)
        words += ["--run", spec, f"{output[0]}/seed{seed}", f"{CKPT_DIR}/{rel}"]
    return words


def pack_specs(wildcards):
    """Every packed run's spec: a change reruns the packed job (and so each run)."""
    return [bw.run_spec(config, wildcards.split, wildcards.backbone, wildcards.method, wildcards.stream, s,
                        use_gpu=USE_GPU)
            for s in pack_seeds(wildcards)]


def train_data_dir(wildcards):
    return f"results/data/{SPLITS[wildcards.split].dataset}"


def stage1_args(wildcards, input):
    return ["--stage1", input.stage1[0]] if input.stage1 else []


def gpu_share_args():
    """``--share K`` for the GPU slot allocator when jobs may share a GPU (config gpu_jobs_per_device)."""
    k = int(config.get("gpu_jobs_per_device", 1))
    return ["--share", str(k)] if k > 1 else []


def sweep_input(wildcards):
    """The candidate runs the sweep selection step of one swept run (wb on NTU) reads."""
    dirs = bw.sweep_candidate_dirs(config, wildcards.split, wildcards.backbone, wildcards.method,
                                   wildcards.stream, int(wildcards.seed))
    return {"metrics": [f"{d}/metrics.json" for d in dirs], "models": [f"{d}/model.pt" for d in dirs]}
