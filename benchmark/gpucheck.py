"""First-GPU check: measure the model step and one real run, write a JSON for the compute estimate.

    python -m benchmark.gpucheck --device cuda --out gpu_check.json
    python -m benchmark.estimate --configfile config/paper.yaml --throughput gpu_check.json

It runs, in one process:

1. the interleaved bench (``benchmark.bench``) of each backbone at the paper's shapes (NTU-25,
   M = 2, T = 64; batch 16 and, on a GPU, also the NTU batch 128): fp32 eager against bf16
   autocast, the one-matmul graph units, channels-last and ``torch.compile``, with peak memory;
2. one full BRL NW-UCLA-LT stream end to end (prepare the data, build the LT split, train with the
   nw_ucla config's paper recipe (24 epochs × 5 passes, batch 16, T = 64), 10-clip test) with the
   chosen ``--precision``/``--compile``, timing every stage;

and writes one JSON: ``results`` (per backbone, the fastest measured path's training and inference
samples/s at T = 64: the rows ``benchmark.estimate --throughput`` reads), ``bench`` (all ratios and
memory) and ``stream`` (wall time, samples/s and accuracy of the real run; the ratio of the bench
speed to the end-to-end speed shows what data handling and evaluation add).

``--device cpu --quick`` runs the same code on a small synthetic dataset with a short schedule and
tiny shapes, so that the command is tested without a GPU (tests/test_gpucheck.py).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
#: paths measured against fp32 eager; compile only where a compiler toolchain pays (GPUs)
GPU_PATHS = ("bf16", "matmul", "bf16+matmul", "bf16+matmul+cl", "compile", "bf16+matmul+compile")
CPU_PATHS = ("bf16", "matmul", "bf16+matmul")


def _shapes(device_type: str, quick: bool) -> List[Dict]:
    if quick:
        return [{"batch": 2, "clip_len": 8, "base_channels": 8}]
    shapes = [{"batch": 16, "clip_len": 64, "base_channels": None}]
    if device_type == "cuda":
        shapes.append({"batch": 128, "clip_len": 64, "base_channels": None})
    return shapes


def run_bench(device: str, backbones: Sequence[str], paths: Sequence[str], quick: bool, pairs: int) -> Dict:
    import torch
    from benchmark.bench import compare_paths, estimate_rows

    dev = torch.device(device)
    comps = []
    for shape in _shapes(dev.type, quick):
        for b in backbones:
            comps.append(compare_paths(b, paths, dev, batch=shape["batch"], clip_len=shape["clip_len"],
                                       pairs=pairs, warmup=0 if quick else 2,
                                       base_channels=shape["base_channels"] if b != "msg3d" or not quick else 12))
            print(f"[gpu-check] bench {b} N={shape['batch']}: done", file=sys.stderr, flush=True)
    # the estimate uses the paper batch 16 rows (the NW-UCLA/NTU-LT recipes' batch)
    first = [c for c in comps if c["batch"] == comps[0]["batch"]]
    return {"comparisons": comps, "results": estimate_rows(first)}


def _stream_config(quick: bool, data_root: Optional[Path]) -> Dict:
    import yaml

    if quick:
        return {"datasets": {"synthetic": {"source": "synthetic", "normalize": "prenorm3d", "benchmarks": ["default"],
                                           "options": {"num_classes": 5, "train_per_class": 12, "test_per_class": 4,
                                                       "seed": 0},
                                           "lt": {"n_max": 12, "ratio": 4}}},
                "backbones": [{"name": "stgcnpp", "base_channels": 8}], "methods": ["brl"], "streams": ["j"],
                "seeds": [0], "schedule": {"runner_epochs": 1, "repeat": 1, "batch_size": 16, "base_lr": 0.1,
                                           "lr_ref_batch": 128, "clip_len": 8, "test_clips": 2, "val_every": 0},
                "augment": {"enabled": True}}
    cfg = yaml.safe_load((REPO / "config" / "nw_ucla.yaml").read_text())
    if data_root is not None:
        cfg["datasets"]["nw_ucla"]["root"] = str(data_root)
    root = Path(cfg["datasets"]["nw_ucla"]["root"])
    if not root.is_absolute():
        cfg["datasets"]["nw_ucla"]["root"] = str((REPO / root).resolve())
    return cfg


def run_stream(device: str, work: Path, precision: str, compile_: bool, quick: bool,
               data_root: Optional[Path] = None) -> Dict:
    """Prepare → split → train → test one BRL joint stream (seed 0), timing each stage."""
    from benchmark import workflow as wf
    from benchmark.data.prepare import build_split, prepare_dataset
    from benchmark.engine.config import RunSpec
    from benchmark.engine.train import train_run

    cfg = _stream_config(quick, data_root)
    (split,) = wf.splits(cfg).values()
    ds_cfg = cfg["datasets"][split.dataset]
    t = {}
    t0 = time.time()
    data_dir = work / "data" / split.dataset
    if not (data_dir / "meta.json").exists():
        prepare_dataset(dataset_id=split.dataset, source=ds_cfg["source"],
                        root=Path(ds_cfg["root"]) if ds_cfg.get("root") else None, out_dir=data_dir,
                        normalize=ds_cfg.get("normalize", "prenorm3d"), options=ds_cfg.get("options", {}),
                        max_persons=ds_cfg.get("max_persons"))
    t["prepare_s"] = time.time() - t0
    t0 = time.time()
    split_file = work / "splits" / f"{split.split_id}.txt"
    build_split(data_dir=data_dir, benchmark=split.benchmark, n_max=split.n_max, ratio=split.ratio,
                split_list=None, out=split_file, counts_out=work / "splits" / f"{split.split_id}_counts.csv")
    t["split_s"] = time.time() - t0
    backbone = wf.backbones(cfg)
    (bname,) = list(backbone)
    spec = json.loads(wf.run_spec(cfg, split.split_id, bname, "brl", "j", 0))
    spec["schedule"].update({"precision": precision, "compile": bool(compile_)})
    spec = RunSpec.from_dict(spec)
    t0 = time.time()
    rec = train_run(spec, data_dir, split_file, work / "run", work / "ckpt", device=device, progress=False)
    t["train_and_test_s"] = time.time() - t0
    meta = rec["meta"]
    return {"split": split.split_id, "backbone": bname, "method": "brl", "stream": "j", "seed": 0,
            "precision": precision, "compile": bool(compile_), "schedule": spec.to_dict()["schedule"],
            "seconds": t, "train_seconds": meta["train_seconds"], "test_seconds": meta["test_seconds"],
            "train_samples_per_s": meta["train_samples_per_s"], "test_samples_per_s": meta["test_samples_per_s"],
            "top1": rec["metrics"]["top1"], "balanced_acc": rec["metrics"].get("balanced_acc"),
            "wall_time_s": sum(t.values())}


def gpu_check(device: str = "cuda", out: Path = Path("gpu_check.json"), work: Optional[Path] = None,
              precision: str = "bf16", compile_: bool = False, quick: bool = False, pairs: int = 5,
              backbones: Sequence[str] = ("stgcnpp", "ctrgcn", "msg3d"), data_root: Optional[Path] = None,
              skip_stream: bool = False) -> Dict:
    import platform

    import torch

    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu-check: --device cuda but torch sees no GPU (torch.cuda.is_available() is False); "
                         "use --device cpu --quick to test the command")
    work = Path(work) if work is not None else Path(out).with_suffix("") / "work"
    work.mkdir(parents=True, exist_ok=True)
    paths = GPU_PATHS if dev.type == "cuda" else CPU_PATHS
    t0 = time.time()
    bench = run_bench(device, backbones, paths, quick, pairs)
    stream = None if skip_stream else run_stream(device, work, precision, compile_, quick, data_root)
    doc = {"kind": "gpu-check", "device": str(dev),
           "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor(),
           "torch": torch.__version__, "quick": quick, "seconds": time.time() - t0,
           "results": bench["results"], "bench": bench["comparisons"], "stream": stream}
    if stream is not None:
        row = next((r for r in bench["results"] if r["backbone"] == stream["backbone"]), None)
        if row and stream["train_samples_per_s"]:
            doc["stream"]["bench_over_end_to_end"] = row["train_samples_per_s"] / stream["train_samples_per_s"]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmark.gpucheck", description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    p.add_argument("--work", type=Path, default=None, help="scratch folder (default: next to --out)")
    p.add_argument("--precision", default="bf16", choices=["fp32", "bf16"], help="for the end-to-end stream")
    p.add_argument("--compile", action="store_true", help="torch.compile the end-to-end stream's model")
    p.add_argument("--pairs", type=int, default=5)
    p.add_argument("--backbones", default="stgcnpp,ctrgcn,msg3d")
    p.add_argument("--nw-ucla-root", type=Path, default=None, help="raw NW-UCLA folder (default: the config's)")
    p.add_argument("--skip-stream", action="store_true", help="bench only")
    p.add_argument("--quick", action="store_true", help="tiny shapes and a synthetic 1-epoch stream (tests)")
    a = p.parse_args(argv)
    doc = gpu_check(a.device, a.out, a.work, a.precision, a.compile, a.quick, a.pairs,
                    [b for b in a.backbones.split(",") if b], a.nw_ucla_root, a.skip_stream)
    for r in doc["results"]:
        print(f"{r['backbone']}: {r['path']} train {r['train_samples_per_s']:.1f} smp/s, "
              f"infer {r['infer_samples_per_s']:.1f} smp/s (N={r['batch']}, T={r['clip_len']})")
    if doc["stream"]:
        s = doc["stream"]
        print(f"stream {s['split']} {s['backbone']} brl j: {s['wall_time_s']:.0f} s end to end, "
              f"train {s['train_samples_per_s']} smp/s, top1 {s['top1']:.3f}")
    print(f"wrote {a.out}; next: python -m benchmark.estimate --configfile config/paper.yaml --throughput {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
