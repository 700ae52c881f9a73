"""Compute estimate: GPU-hours a config's grid needs (issue 6, docs/workflow.md).

    python -m benchmark.estimate --configfile config/paper.yaml [--throughput bench.json]

The grid comes from the same function as the workflow's ``rule all`` (``benchmark.workflow.runs``);
the training volume of each run from its schedule and its method's own sampler (e.g. BRL's reverse
sampler adds tail copies) on the dataset's long-tailed class profile; the speed from a throughput
table: the JSON of ``python -m benchmark.bench --json`` measured on your GPU, or, without one, the
published pyskl inference speeds on an RTX 2080 Ti (training step ≈ 3 forward passes). Speeds are
scaled linearly with clip length. It is an estimate: data loading, evaluation passes during
training and checkpoints are not counted.

Datasets other than the four built-in ones (your own ``generic`` data, or any dataset already
prepared) take their class count, test-set size, layout and natural class counts from the data
itself: the prepared copy in ``results/data/<dataset>/`` when it exists, else the generic format's
``labels.csv`` under the dataset's root.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import yaml

#: classes, layout, and official test-set sizes (docs/evaluation.md) per dataset and benchmark
DATASET_FACTS = {
    "ntu60": {"num_classes": 60, "layout": "ntu25", "test": {"xsub": 16487, "xview": 18932}},
    "ntu120": {"num_classes": 120, "layout": "ntu25", "test": {"xsub": 50919, "xset": 59477}},
    "nw_ucla": {"num_classes": 10, "layout": "nw_ucla20", "test": {"default": 464}},
    "kinetics": {"num_classes": 400, "layout": "coco17", "test": {"default": 19796}, "train_natural": 240436},
    "synthetic": {"num_classes": None, "layout": "ntu25", "test": {}},
}
#: pyskl's inference benchmark, samples/s at T = 100, batch 16, RTX 2080 Ti (docs/training.md)
PUBLISHED_INFER = {"stgcnpp": 476.0, "ctrgcn": 353.0, "msg3d": 111.0}
TRAIN_COST_FACTOR = 3.0      # a training step costs about three forward passes


def load_config(paths: List[Path], overrides: Dict[str, str]) -> dict:
    cfg: dict = {}
    for p in paths:
        with open(p) as f:
            cfg.update(yaml.safe_load(f))
    cfg.update(overrides)
    return cfg


def throughput_table(path: Optional[Path]) -> Dict[str, dict]:
    """backbone -> {train, infer, clip_len, source}: samples/s at clip_len."""
    if path is None:
        return {b: {"train": v / TRAIN_COST_FACTOR, "infer": v, "clip_len": 100,
                    "source": "published pyskl inference speed, RTX 2080 Ti; training = inference / 3"}
                for b, v in PUBLISHED_INFER.items()}
    rows = json.loads(Path(path).read_text())
    rows = rows["results"] if isinstance(rows, dict) and "results" in rows else rows
    out = {}
    for r in rows:
        out[r["backbone"]] = {"train": float(r["train_samples_per_s"]), "infer": float(r["infer_samples_per_s"]),
                              "clip_len": int(r.get("clip_len", 64)), "source": f"{path} ({r.get('device', '?')})"}
    return out


def _facts_from_table(table, benchmarks, num_classes: int, layout) -> dict:
    labels = table["label"].to_numpy(dtype=np.int64)
    test, natural = {}, {}
    for b in benchmarks:
        if b not in table.columns:
            continue
        col = table[b].fillna("").astype(str).to_numpy()
        test[b] = int((col == "test").sum())
        natural[b] = np.bincount(labels[col == "train"], minlength=num_classes)
    return {"num_classes": num_classes, "layout": layout, "test": test, "train_counts": natural}


def dataset_facts(config: dict, ds_id: str, data_root: Path = Path("results/data")) -> dict:
    """Classes, layout, test sizes (and natural training counts) of one dataset of the config.

    Built-in facts for ntu60 / ntu120 / nw_ucla / kinetics / synthetic; otherwise read from the
    prepared dataset (``results/data/<id>``) or from a generic dataset's ``labels.csv``."""
    import pandas as pd

    import benchmark.workflow as bw

    d = config["datasets"][ds_id]
    if ds_id in DATASET_FACTS and d.get("source") != "generic":
        return DATASET_FACTS[ds_id]
    prepared = Path(data_root) / ds_id
    if (prepared / "meta.json").exists() and (prepared / "table.csv").exists():
        meta = json.loads((prepared / "meta.json").read_text())
        table = pd.read_csv(prepared / "table.csv", dtype={"name": str}, keep_default_na=False)
        layout = (meta.get("extra") or {}).get("layout_spec") or meta.get("layout")
        return _facts_from_table(table, meta.get("benchmarks", d["benchmarks"]), int(meta["num_classes"]), layout)
    if d.get("source") == "generic":
        opts = bw.dataset_options(config, ds_id)
        root = Path(bw.dataset_root(config, ds_id) or ".")
        path = root / opts.get("label_file", "labels.csv")
        if not path.exists():
            return {}
        table = pd.read_csv(path, dtype={"name": str}, keep_default_na=False)
        n_cls = int(opts.get("num_classes") or int(table["label"].max()) + 1)
        return _facts_from_table(table, d["benchmarks"], n_cls, opts.get("layout"))
    return DATASET_FACTS.get(ds_id, {})


def class_counts(run, facts: dict) -> Optional[np.ndarray]:
    from benchmark.data.splits import lt_profile

    c = facts.get("num_classes")
    if run.split.ratio == "natural":
        natural = (facts.get("train_counts") or {}).get(run.split.benchmark)
        if natural is not None:
            return np.asarray(natural)
        n = facts.get("train_natural")
        return None if not (c and n) else np.full(c, n // c)     # flat stand-in: natural counts unknown here
    if c is None or run.split.n_max is None:
        return None
    return lt_profile(c, int(run.split.n_max), float(run.split.ratio))


def _layout(spec):
    from benchmark.data.readers.generic import resolve_layout

    return resolve_layout(spec or "ntu25")


def run_volume(run, config: dict, counts: np.ndarray, facts: Optional[dict] = None) -> Dict[str, float]:
    """Training clips (sampler × schedule) and test clips of one run."""
    import methods
    from methods._base import MethodContext

    from benchmark import recipes
    from benchmark.engine.config import Schedule

    # official_code entries run their dataset's released recipe (batch, epochs, clip length)
    r = recipes.resolve(run.method.fidelity, config["datasets"][run.split.dataset], run.method.name,
                        config["schedule"], {}, run.method.schedule, {}, run.method.options,
                        dataset_id=run.split.dataset)
    sched, options = Schedule(**r["schedule"]), r["method_options"]        # the engine's defaults fill the rest
    cls = methods.get_method(run.method.name)
    epochs, repeat = cls.schedule(sched.runner_epochs, sched.repeat)
    facts = facts if facts is not None else DATASET_FACTS.get(run.split.dataset, {})
    ctx = MethodContext(num_classes=len(counts), class_counts=counts, layout=_layout(facts.get("layout")),
                        iters_per_epoch=1, runner_epochs=max(epochs, 1), repeat=repeat,
                        batch_size=sched.batch_size, seed=0, fidelity=run.method.fidelity,
                        lt_profile={"n_max": run.split.n_max, "ratio": run.split.ratio}, stream=run.stream)
    labels = np.repeat(np.arange(len(counts)), counts)
    try:
        per_epoch = len(cls(ctx, **options).epoch_indices(labels, 0, np.random.default_rng(0)))
    except Exception:       # a method that needs a stage-1 model to build: assume the instance sampler
        per_epoch = len(labels) * repeat
    train = epochs * per_epoch             # the last batch of an epoch is partial, not padded
    test = facts.get("test", {}).get(run.split.benchmark, 0) * sched.test_clips
    return {"train_clips": float(train), "test_clips": float(test), "clip_len": sched.clip_len}


def estimate(config: dict, speeds: Dict[str, dict]) -> dict:
    import benchmark.workflow as bw

    rows = []
    skipped = set()
    facts_of: Dict[str, dict] = {}
    for run in bw.runs(config):
        if run.split.dataset not in facts_of:
            facts_of[run.split.dataset] = dataset_facts(config, run.split.dataset)
        facts = facts_of[run.split.dataset]
        counts = class_counts(run, facts)
        if counts is None or run.backbone not in speeds:
            skipped.add(run.split.dataset if counts is None else run.backbone)
            continue
        v = run_volume(run, config, counts, facts)
        sp = speeds[run.backbone]
        scale = sp["clip_len"] / v["clip_len"]          # linear in clip length
        hours = (v["train_clips"] / (sp["train"] * scale) + v["test_clips"] / (sp["infer"] * scale)) / 3600
        rows.append({"split": run.split.split_id, "backbone": run.backbone, "method": run.method.id,
                     "stream": run.stream, "seed": run.seed, **v, "gpu_hours": hours})
    by = defaultdict(float)
    for r in rows:
        by[(r["split"], r["backbone"])] += r["gpu_hours"]
    return {"runs": len(rows), "gpu_hours": sum(r["gpu_hours"] for r in rows),
            "by_split_backbone": {f"{k[0]} / {k[1]}": v for k, v in sorted(by.items())},
            "speed_source": sorted({s["source"] for s in speeds.values()}), "skipped": sorted(skipped), "rows": rows}


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmark.estimate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configfile", nargs="+", type=Path, default=[Path("config/demo.yaml")])
    p.add_argument("--config", nargs="*", default=[], help="key=value overrides (e.g. select_tables=III)")
    p.add_argument("--throughput", type=Path, help="JSON from `python -m benchmark.bench --json FILE` on your GPU")
    p.add_argument("--json", type=Path, help="also write the estimate (with per-run rows) here")
    args = p.parse_args(argv)
    overrides = dict(kv.split("=", 1) for kv in args.config)
    result = estimate(load_config(args.configfile, overrides), throughput_table(args.throughput))
    print(f"{result['runs']} training runs: {result['gpu_hours']:.0f} GPU-hours")
    for k, v in result["by_split_backbone"].items():
        print(f"  {k:<40} {v:8.1f} h")
    print("speeds: " + "; ".join(result["speed_source"]))
    if result["skipped"]:
        print("not estimated (no class profile or speed): " + ", ".join(result["skipped"]))
    if args.json:
        from benchmark.io import atomic_write_json
        atomic_write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
