"""Throughput benchmark: ``python -m benchmark.bench`` (docs/training.md, docs/backbones.md).

For each backbone (with a linear head) it prints training and inference samples per second and
peak memory on the current device at the paper's clip length, plus the parameter count and the
MACs / FLOPs per clip, as a table and as JSON.

- Training step = forward + cross-entropy + backward + SGD step (momentum 0.9), train mode.
- Samples per second = batch / median step time over the timed iterations (each step is
  synchronised; the mean-based figure is in the JSON as ``*_samples_per_s_mean``).
- Inference = forward in eval mode under ``torch.inference_mode``.
- Peak memory: ``torch.cuda.max_memory_allocated`` per phase on CUDA; on CPU the process's peak
  resident set size (``resource.getrusage``), which is cumulative over the whole process (it
  includes the Python interpreter and every earlier backbone) — the ``peak_mem_kind`` field says
  which one a row holds.
- MACs per clip (one sample, M = 2 persons) are counted with ``torch.utils.flop_counter`` on the
  meta device (no arithmetic is done); MACs = FLOPs / 2, in the convention of docs/backbones.md.

``run_benchmark`` is importable for other code (e.g. a compute estimate).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

#: defaults per device type: (batch, warmup, iters). The CPU defaults keep all three backbones at
#: T = 64 under two minutes on a 2-core machine; the GPU ones follow pyskl's speed test (batch 16).
DEFAULTS = {"cpu": (2, 1, 3), "cuda": (16, 5, 20), "mps": (8, 2, 5)}
DEFAULT_BACKBONES = ("stgcnpp", "ctrgcn", "msg3d")


@dataclass
class BenchConfig:
    backbones: Sequence[str] = DEFAULT_BACKBONES
    device: Optional[str] = None
    batch: Optional[int] = None
    clip_len: int = 64
    num_classes: int = 60
    layout: str = "ntu25"
    warmup: Optional[int] = None
    iters: Optional[int] = None
    num_person: int = 2
    in_channels: int = 3
    base_channels: Optional[int] = None


def default_device() -> str:
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def _sync(device) -> None:
    import torch
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_rss_bytes() -> int:
    """Peak resident set size of this process; ru_maxrss is KiB on Linux, bytes on macOS."""
    import resource
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def count_macs(name: str, layout, num_classes: int, clip_len: int, num_person: int = 2,
               in_channels: int = 3, backbone_kw: Optional[dict] = None) -> Dict[str, int]:
    """MACs of one clip (batch 1, ``num_person`` persons): backbone alone and with the head.

    Counted on the meta device so that no arithmetic is performed (exact, and instant even for
    MS-G3D on a CPU). Returns {"backbone_macs", "macs", "flops"} (flops = 2 · macs)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from benchmark.models import build_model

    model = build_model(name, layout, num_classes, in_channels=in_channels, num_person=num_person,
                        **(backbone_kw or {})).to("meta").eval()
    x = torch.zeros(1, num_person, clip_len, layout.num_node, in_channels, device="meta")
    with torch.no_grad():
        with FlopCounterMode(display=False) as fc:
            model.backbone(x)
        backbone_flops = fc.get_total_flops()
        with FlopCounterMode(display=False) as fc:
            model(x)
        total_flops = fc.get_total_flops()
    return {"backbone_macs": backbone_flops // 2, "macs": total_flops // 2, "flops": total_flops}


def _time_phase(step, device, warmup: int, iters: int) -> List[float]:
    """Seconds of each of ``iters`` calls of ``step`` after ``warmup`` untimed calls (synchronised
    per call, so that a median can discard steps stalled by other processes on a shared machine)."""
    for _ in range(warmup):
        step()
    _sync(device)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return times


def throughput(batch: int, step_times: Sequence[float]) -> Dict[str, float]:
    """Samples per second from per-step times: ``median`` = batch / median step time (the reported
    figure, robust to stalls), ``mean`` = batch · iters / total time."""
    ts = sorted(step_times)
    k = len(ts)
    median = ts[k // 2] if k % 2 else 0.5 * (ts[k // 2 - 1] + ts[k // 2])
    return {"median": batch / median, "mean": batch * k / sum(ts)}


def bench_one(name: str, cfg: BenchConfig, device, batch: int, warmup: int, iters: int) -> Dict:
    import torch
    import torch.nn.functional as F
    from benchmark.graphs import get_layout
    from benchmark.models import build_model
    from benchmark.models.blocks import count_parameters

    layout = get_layout(cfg.layout)
    kw = {} if cfg.base_channels is None else {"base_channels": cfg.base_channels}
    macs = count_macs(name, layout, cfg.num_classes, cfg.clip_len, cfg.num_person, cfg.in_channels, kw)

    gen = torch.Generator().manual_seed(0)
    model = build_model(name, layout, cfg.num_classes, in_channels=cfg.in_channels,
                        num_person=cfg.num_person, **kw).to(device)
    x = torch.randn(batch, cfg.num_person, cfg.clip_len, layout.num_node, cfg.in_channels,
                    generator=gen).to(device)
    y = torch.randint(0, cfg.num_classes, (batch,), generator=gen).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    def infer_step():
        with torch.inference_mode():
            model(x)

    cuda = device.type == "cuda"
    model.train()
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    t_train = throughput(batch, _time_phase(train_step, device, warmup, iters))
    train_mem = torch.cuda.max_memory_allocated(device) if cuda else _peak_rss_bytes()

    model.eval()
    opt.zero_grad(set_to_none=True)   # inference peak without the training gradients
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    t_infer = throughput(batch, _time_phase(infer_step, device, warmup, iters))
    infer_mem = torch.cuda.max_memory_allocated(device) if cuda else _peak_rss_bytes()

    return {
        "backbone": name, "layout": cfg.layout, "num_classes": cfg.num_classes,
        "device": str(device), "device_name": _device_name(device),
        "batch": batch, "clip_len": cfg.clip_len, "num_person": cfg.num_person,
        "warmup": warmup, "iters": iters,
        "params": count_parameters(model), "backbone_params": count_parameters(model.backbone),
        "backbone_macs_per_clip": macs["backbone_macs"], "macs_per_clip": macs["macs"],
        "flops_per_clip": macs["flops"],
        "train_samples_per_s": t_train["median"], "infer_samples_per_s": t_infer["median"],
        "train_samples_per_s_mean": t_train["mean"], "infer_samples_per_s_mean": t_infer["mean"],
        "train_peak_mem_bytes": int(train_mem), "infer_peak_mem_bytes": int(infer_mem),
        "peak_mem_kind": "cuda_max_memory_allocated" if cuda else "process_peak_rss",
    }


def _device_name(device) -> str:
    import torch
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


def run_benchmark(backbones: Sequence[str] = DEFAULT_BACKBONES, device: Optional[str] = None,
                  batch: Optional[int] = None, clip_len: int = 64, num_classes: int = 60,
                  layout: str = "ntu25", warmup: Optional[int] = None, iters: Optional[int] = None,
                  num_person: int = 2, in_channels: int = 3, base_channels: Optional[int] = None
                  ) -> List[Dict]:
    """Benchmark each backbone; one dict per backbone (fields: see :func:`bench_one`).

    ``batch``/``warmup``/``iters`` default per device type (:data:`DEFAULTS`)."""
    import torch
    from benchmark.models import get_backbone_factory

    cfg = BenchConfig(tuple(backbones), device, batch, clip_len, num_classes, layout, warmup, iters,
                      num_person, in_channels, base_channels)
    dev = torch.device(device or default_device())
    d_batch, d_warm, d_iters = DEFAULTS.get(dev.type, DEFAULTS["cpu"])
    batch = d_batch if batch is None else batch
    warmup = d_warm if warmup is None else warmup
    iters = d_iters if iters is None else iters
    if batch < 1 or iters < 1 or warmup < 0 or clip_len < 1:
        raise ValueError(f"bench: need batch ≥ 1, iters ≥ 1, warmup ≥ 0, clip_len ≥ 1 "
                         f"(got batch={batch}, iters={iters}, warmup={warmup}, clip_len={clip_len})")
    for name in backbones:
        get_backbone_factory(name)      # unknown names fail before any timing starts
    return [bench_one(name, cfg, dev, batch, warmup, iters) for name in backbones]


def format_table(rows: List[Dict]) -> str:
    """Fixed-width text table of the benchmark rows."""
    if not rows:
        return "(no backbones)"
    mem_kind = rows[0]["peak_mem_kind"]
    mem_label = "GPU max allocated" if mem_kind == "cuda_max_memory_allocated" else "process peak RSS"
    head = ["backbone", "params", "GMACs/clip", "GFLOPs/clip", "train smp/s", "infer smp/s",
            "train mem MiB", "infer mem MiB"]
    lines = []
    for r in rows:
        lines.append([r["backbone"], f"{r['params']:,}", f"{r['macs_per_clip'] / 1e9:.3f}",
                      f"{r['flops_per_clip'] / 1e9:.3f}", f"{r['train_samples_per_s']:.2f}",
                      f"{r['infer_samples_per_s']:.2f}", f"{r['train_peak_mem_bytes'] / 2**20:.0f}",
                      f"{r['infer_peak_mem_bytes'] / 2**20:.0f}"])
    widths = [max(len(h), *(len(l[i]) for l in lines)) for i, h in enumerate(head)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    r0 = rows[0]
    title = (f"device {r0['device']} [{r0['device_name']}], layout {r0['layout']}, T={r0['clip_len']}, "
             f"M={r0['num_person']}, batch {r0['batch']}, {r0['num_classes']} classes, "
             f"warmup {r0['warmup']} / iters {r0['iters']}; memory = {mem_label}; "
             "MACs per clip include the head")
    return "\n".join([title, fmt(head), fmt(["-" * w for w in widths])] + [fmt(l) for l in lines])


# =========================================================================== faster paths, interleaved

#: tokens of a path name ("bf16+matmul+cl"): each switches one speed option on
PATH_TOKENS = {"fp32": {}, "bf16": {"precision": "bf16"}, "cl": {"channels_last": True},
               "matmul": {"graph_impl": "matmul"}, "compile": {"compile": True}}
DEFAULT_PATHS = ("bf16", "cl", "matmul", "bf16+cl", "bf16+matmul", "bf16+matmul+cl", "compile")
#: on a CPU torch.compile is left out by default: compiling one backbone took more than five minutes
#: on the 2-core development machine and its steps were not faster there (ask for it with --paths)
CPU_DEFAULT_PATHS = tuple(p for p in DEFAULT_PATHS if "compile" not in p)
#: the paper's shape and the issue's CPU shape: N clips of M persons, T frames, V joints
DEFAULT_SHAPE = {"batch": 16, "num_person": 2, "clip_len": 64, "layout": "ntu25"}


#: a bare ``python -m benchmark.bench``: a quick look that times each backbone's default training path
#: against fp32 eager; on a CPU at batch 1 with 2 rounds (after one warm-up step per model and phase:
#: 6 single-clip steps per model and phase, fewer clips than the absolute table's 4 steps of 2, which
#: keeps all three backbones under two minutes on the 2-core CPU). ``--all-paths`` is the full sweep
#: (every path of DEFAULT_PATHS at the paper's batch, and the packed-runs line)
QUICK = {"pairs": 2, "batch": {"cpu": 1}, "packed": 0}
FULL = {"pairs": 5, "batch": {}, "packed": 3}


def default_path(device) -> str:
    """The path a run takes by default on ``device`` (what ``training_options`` picks for the
    schedule's default precision), named in PATH_TOKENS, e.g. ``matmul`` on a CPU."""
    from benchmark.engine.config import SPEED_DEFAULTS
    from benchmark.models.speed import training_options

    o = training_options(SPEED_DEFAULTS["precision"], SPEED_DEFAULTS["compile"], device)
    tokens = [t for t, on in (("bf16", o.precision == "bf16"), ("matmul", o.graph_impl == "matmul"),
                              ("cl", o.channels_last), ("compile", o.compile)) if on]
    return "+".join(tokens) or "fp32"


def path_options(name: str):
    """``"bf16+matmul"`` → SpeedOptions(precision="bf16", graph_impl="matmul"); ``"fp32"`` = eager
    fp32 with the published graph order (the baseline)."""
    from benchmark.models.speed import SpeedOptions

    kw: Dict = {}
    for tok in name.split("+"):
        if tok not in PATH_TOKENS:
            raise ValueError(f"bench: unknown path token {tok!r} in {name!r}; known: {sorted(PATH_TOKENS)} "
                             "(join with '+', e.g. bf16+matmul+cl)")
        kw.update(PATH_TOKENS[tok])
    return SpeedOptions(**kw)


def _median(xs: Sequence[float]) -> float:
    ts = sorted(xs)
    k = len(ts)
    return ts[k // 2] if k % 2 else 0.5 * (ts[k // 2 - 1] + ts[k // 2])


def interleaved_ratios(base_times: Sequence[float], path_times: Sequence[float]) -> Dict[str, float]:
    """Speed-up of a path over the baseline from paired step times (pair i = the baseline step
    and the path step of round i, run back to back): ratio_i = t_base_i / t_path_i. The median
    of the ratios cancels slow phases of a shared machine that hit both members of a pair."""
    if len(base_times) != len(path_times) or not base_times:
        raise ValueError("interleaved_ratios: need the same, non-zero number of baseline and path times")
    r = [b / p for b, p in zip(base_times, path_times)]
    return {"median": _median(r), "min": min(r), "max": max(r), "pairs": len(r)}


def compare_paths(name: str, paths: Sequence[str], device, batch: int = 16, clip_len: int = 64,
                  num_person: int = 2, layout: str = "ntu25", num_classes: int = 60, pairs: int = 5,
                  warmup: int = 1, base_channels: Optional[int] = None, phases=("train", "infer")) -> Dict:
    """Each path against fp32 eager on ``name`` at one shape, interleaved in this process.

    Every model starts from the same weights (copies of one model) and sees the same input. For
    each phase there are ``warmup`` untimed steps per model (compilation happens there), then
    ``pairs`` rounds; a round times one baseline step, then one step of every path. Returns
    per path and phase the median ratio (see :func:`interleaved_ratios`), the median step time
    and samples/s, and on CUDA the peak memory of the path's steps."""
    import copy
    import torch
    import torch.nn.functional as F
    from benchmark.graphs import get_layout
    from benchmark.models import build_model
    from benchmark.models.speed import autocast, speed_setup

    device = torch.device(device)
    lay = get_layout(layout)
    kw = {} if base_channels is None else {"base_channels": base_channels}
    torch.manual_seed(0)
    base = build_model(name, lay, num_classes, num_person=num_person, **kw).to(device)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, num_person, clip_len, lay.num_node, 3, generator=gen).to(device)
    y = torch.randint(0, num_classes, (batch,), generator=gen).to(device)
    names = ["fp32"] + [p for p in paths if p != "fp32"]
    runners = {}
    for pname in names:
        opts = path_options(pname)
        model = copy.deepcopy(base)
        fwd = speed_setup(model, opts)
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        xin = x.contiguous()
        runners[pname] = (model, fwd, opt, opts, xin)

    def make_step(pname, phase):
        model, fwd, opt, opts, xin = runners[pname]

        def train_step():
            opt.zero_grad(set_to_none=True)
            with autocast(device, opts.precision):
                logits = fwd(xin)
            F.cross_entropy(logits.float(), y).backward()
            opt.step()

        def infer_step():
            with torch.inference_mode(), autocast(device, opts.precision):
                fwd(xin)
        return train_step if phase == "train" else infer_step

    cuda = device.type == "cuda"
    out: Dict = {"backbone": name, "layout": layout, "batch": batch, "clip_len": clip_len,
                 "num_person": num_person, "num_classes": num_classes, "pairs": pairs, "warmup": warmup,
                 "device": str(device), "device_name": _device_name(device),
                 "base_channels": base_channels, "paths": {}}
    for phase in phases:
        for pname in names:
            (runners[pname][0].train() if phase == "train" else runners[pname][0].eval())
        steps = {p: make_step(p, phase) for p in names}
        t0 = time.perf_counter()
        for p in names:
            for _ in range(warmup):
                steps[p]()
        _sync(device)
        warm_s = time.perf_counter() - t0
        times: Dict[str, List[float]] = {p: [] for p in names}
        mem: Dict[str, int] = {p: 0 for p in names}
        for _ in range(pairs):
            for p in names:
                if cuda:
                    torch.cuda.reset_peak_memory_stats(device)
                t = time.perf_counter()
                steps[p]()
                _sync(device)
                times[p].append(time.perf_counter() - t)
                if cuda:
                    mem[p] = max(mem[p], int(torch.cuda.max_memory_allocated(device)))
        for p in names:
            row = out["paths"].setdefault(p, {})
            med = _median(times[p])
            row[phase] = {"median_step_s": med, "samples_per_s": batch / med,
                          "ratio_vs_fp32": interleaved_ratios(times["fp32"], times[p]),
                          "step_times_s": times[p]}
            if cuda:
                row[phase]["peak_mem_bytes"] = mem[p]
        out.setdefault("warmup_seconds", {})[phase] = warm_s
        print(f"[bench] {name} {phase}: " + ", ".join(
            f"{p} ×{out['paths'][p][phase]['ratio_vs_fp32']['median']:.2f}" for p in names[1:]),
            file=sys.stderr, flush=True)
    return out


def format_comparison(results: Sequence[Dict]) -> str:
    """One line per backbone × path: samples/s and the interleaved median ratio (min–max) vs fp32."""
    lines = []
    for r in results:
        lines.append(f"{r['backbone']}  N={r['batch']} M={r['num_person']} T={r['clip_len']} "
                     f"layout={r['layout']}{'' if r['base_channels'] is None else ' base=' + str(r['base_channels'])}"
                     f"  device {r['device']} [{r['device_name']}], {r['pairs']} interleaved pairs")
        head = f"  {'path':<22}{'train smp/s':>12}{'× fp32 (min–max)':>22}{'infer smp/s':>13}{'× fp32 (min–max)':>22}"
        cuda = r["device"].startswith("cuda")
        if cuda:
            head += f"{'train MiB':>11}{'infer MiB':>11}"
        lines.append(head)
        for p, row in r["paths"].items():
            cells = f"  {p:<22}"
            for ph in ("train", "infer"):
                if ph in row:
                    q = row[ph]["ratio_vs_fp32"]
                    cells += f"{row[ph]['samples_per_s']:>12.2f}{q['median']:>10.2f} ({q['min']:.2f}–{q['max']:.2f})"
                else:
                    cells += f"{'-':>12}{'-':>22}" if ph == "train" else f"{'-':>13}{'-':>22}"
                if ph == "train":
                    cells += " "
            if cuda:
                for ph in ("train", "infer"):
                    cells += f"{row.get(ph, {}).get('peak_mem_bytes', 0) / 2**20:>11.0f}"
            lines.append(cells)
    return "\n".join(lines)


def estimate_rows(results: Sequence[Dict], path: Optional[str] = None) -> List[Dict]:
    """Rows in the format ``benchmark.estimate --throughput`` reads (backbone, train/infer
    samples/s, clip_len, device) from a comparison: the given path, or per backbone the path with
    the highest training throughput."""
    rows = []
    for r in results:
        cands = {p: v for p, v in r["paths"].items() if "train" in v and "infer" in v}
        if not cands:
            continue
        pick = path if path in cands else max(cands, key=lambda p: cands[p]["train"]["samples_per_s"])
        rows.append({"backbone": r["backbone"], "path": pick, "clip_len": r["clip_len"], "batch": r["batch"],
                     "device": r["device"], "device_name": r["device_name"],
                     "train_samples_per_s": cands[pick]["train"]["samples_per_s"],
                     "infer_samples_per_s": cands[pick]["infer"]["samples_per_s"]})
    return rows


#: the demo's run shape (config/demo.yaml): ST-GCN++ at base width 8, batch 32, 20-frame clips, 10 classes
DEMO_SHAPE = {"backbone": "stgcnpp", "base_channels": 8, "batch": 32, "clip_len": 20, "num_classes": 10}


def packed_vs_separate(num_runs: int = 3, device="cpu", backbone: str = "stgcnpp", base_channels: int = 8,
                       batch: int = 32, clip_len: int = 20, num_classes: int = 10, num_person: int = 2,
                       layout: str = "ntu25", pairs: int = 5, warmup: int = 1, precision: str = "auto") -> Dict:
    """Training throughput of ``num_runs`` seeds as one packed model (the packing the engine uses:
    ``benchmark.engine.packed.make_packed``) against the same runs stepped one after the other,
    interleaved: a round times the P separate steps, then one packed step over the same P batches.
    Ratio = separate time / packed time per round. ``precision`` as in a run's schedule."""
    import copy

    import torch
    import torch.nn.functional as F
    from benchmark.engine.packed import make_packed
    from benchmark.graphs import get_layout
    from benchmark.models import build_model
    from benchmark.models.speed import autocast, resolve_precision, set_graph_impl
    from methods._base import LinearHead

    device = torch.device(device)
    precision = resolve_precision(precision, device)
    lay = get_layout(layout)
    models = []
    for seed in range(num_runs):
        torch.manual_seed(seed)
        m = build_model(backbone, lay, num_classes, num_person=num_person, base_channels=base_channels)
        m.head = LinearHead(m.feat_dim, num_classes)             # the engine's default head
        models.append(set_graph_impl(m, "matmul").to(device).train())
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(num_runs, batch, num_person, clip_len, lay.num_node, 3, generator=gen).to(device)
    y = torch.randint(0, num_classes, (num_runs, batch), generator=gen).to(device)
    kw = dict(lr=1e-3, momentum=0.9, nesterov=True, weight_decay=5e-4)
    opts = [torch.optim.SGD(m.parameters(), **kw) for m in models]
    packed, kind = make_packed([copy.deepcopy(m) for m in models])
    packed.train()
    popt = torch.optim.SGD([t for _, t in packed.named_packed_parameters()], **kw)

    def separate():
        for p, (m, o) in enumerate(zip(models, opts)):
            o.zero_grad(set_to_none=True)
            with autocast(device, precision):
                logits = m(x[p])
            F.cross_entropy(logits.float(), y[p]).backward()
            o.step()

    def together():
        popt.zero_grad(set_to_none=True)
        with autocast(device, precision):
            logits = packed(x).float()
        sum(F.cross_entropy(logits[p], y[p]) for p in range(num_runs)).backward()
        popt.step()

    for _ in range(warmup):
        separate()
        together()
    _sync(device)
    ts, tp = [], []
    for _ in range(pairs):
        t = time.perf_counter()
        separate()
        _sync(device)
        ts.append(time.perf_counter() - t)
        t = time.perf_counter()
        together()
        _sync(device)
        tp.append(time.perf_counter() - t)
    clips = num_runs * batch
    return {"num_runs": num_runs, "backbone": backbone, "base_channels": base_channels, "batch": batch,
            "clip_len": clip_len, "num_classes": num_classes, "precision": precision, "device": str(device),
            "packing": kind, "separate_samples_per_s": clips / _median(ts), "packed_samples_per_s": clips / _median(tp),
            "ratio_packed_vs_separate": interleaved_ratios(ts, tp), "separate_step_s": ts, "packed_step_s": tp}


def format_packed(r: Dict) -> str:
    q = r["ratio_packed_vs_separate"]
    return (f"packed runs: {r['num_runs']} × {r['backbone']} base={r['base_channels']} N={r['batch']} "
            f"T={r['clip_len']} ({r['packing']} packing, {r['precision']}, {r['device']}): separate {r['separate_samples_per_s']:.1f} smp/s, "
            f"packed {r['packed_samples_per_s']:.1f} smp/s, × {q['median']:.2f} ({q['min']:.2f}–{q['max']:.2f}, "
            f"{q['pairs']} interleaved pairs)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmark.bench",
        description="fp32 eager vs faster paths (bf16 autocast, channels-last, graph conv as one matmul, "
                    "torch.compile), interleaved in one process. Without arguments a quick look: each "
                    "backbone's default path against fp32 eager; --all-paths for the full sweep, --absolute "
                    "for the old absolute table.")
    p.add_argument("--backbones", nargs="+", default=list(DEFAULT_BACKBONES),
                   help="backbone ids (default: all three); also accepts a comma-separated list")
    p.add_argument("--device", default=None, help="cuda / cpu / cuda:1 … (default: cuda if available)")
    p.add_argument("--paths", default=None,
                   help="comma-separated faster paths to compare with fp32 eager; tokens bf16, cl "
                        "(channels-last), matmul (graph conv as one matmul), compile, joined with '+' "
                        "(default: the path a run takes on this device, a quick look)")
    p.add_argument("--all-paths", action="store_true",
                   help=f"the full sweep: {','.join(DEFAULT_PATHS)} (on a CPU without compile) at batch 16, "
                        f"{FULL['pairs']} pairs, and the packed-runs line")
    p.add_argument("--batch", type=int, default=None,
                   help=f"clips per step N (default 16; quick look on a CPU: {QUICK['batch']['cpu']}; "
                        "--absolute: 2 CPU / 16 CUDA)")
    p.add_argument("--num-person", type=int, default=2)
    p.add_argument("--clip-len", type=int, default=64, help="frames per clip (default 64, BRL's)")
    p.add_argument("--num-classes", type=int, default=60)
    p.add_argument("--layout", default="ntu25")
    p.add_argument("--base-channels", type=int, default=None, help="reduced width (default: published)")
    p.add_argument("--pairs", type=int, default=None,
                   help=f"interleaved rounds (default {QUICK['pairs']}; --all-paths: {FULL['pairs']})")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps per model and phase (default 1)")
    p.add_argument("--iters", type=int, default=None, help="--absolute only: timed iterations")
    p.add_argument("--phases", default="train,infer", help="train, infer or both (default)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: 2 on CPU)")
    p.add_argument("--absolute", action="store_true", help="old table: absolute samples/s of fp32 eager, "
                   "MACs and peak memory per backbone")
    p.add_argument("--packed", type=int, default=None, help="also measure this many seeds trained as one "
                   f"packed model vs separately, at the demo's shape (0 = skip; default {QUICK['packed']}; "
                   f"--all-paths: {FULL['packed']})")
    p.add_argument("--packed-precision", default="auto", choices=["fp32", "bf16", "auto"],
                   help="precision of the packed-runs line (default auto, as config/demo.yaml)")
    p.add_argument("--json", type=Path, default=None, help="also write the JSON to this path")
    a = p.parse_args(argv)
    import torch
    names = [n for item in a.backbones for n in item.split(",") if n]
    dev = torch.device(a.device or default_device())
    if dev.type == "cpu":
        torch.set_num_threads(a.threads or 2)
    elif a.threads:
        torch.set_num_threads(a.threads)
    if a.absolute:
        rows = run_benchmark(names, device=a.device, batch=a.batch, clip_len=a.clip_len,
                             num_classes=a.num_classes, layout=a.layout, warmup=a.warmup, iters=a.iters,
                             base_channels=a.base_channels)
        print(format_table(rows))
        text = json.dumps(rows, indent=2)
    else:
        mode = FULL if a.all_paths else QUICK
        if a.paths:
            paths = [q for q in a.paths.split(",") if q]
        elif a.all_paths:
            paths = list(DEFAULT_PATHS if dev.type == "cuda" else CPU_DEFAULT_PATHS)
        else:
            paths = [default_path(dev)]
        pairs = mode["pairs"] if a.pairs is None else a.pairs
        batch = a.batch or mode["batch"].get(dev.type, DEFAULT_SHAPE["batch"])
        packed = mode["packed"] if a.packed is None else a.packed
        for q in paths:
            path_options(q)                        # bad names fail before any timing
        from benchmark.models import get_backbone_factory
        for n in names:
            get_backbone_factory(n)
        if pairs < 1:
            raise SystemExit("bench: --pairs must be ≥ 1")
        results = []
        for n in names:
            results.append(compare_paths(n, paths, dev, batch=batch,
                                         clip_len=a.clip_len, num_person=a.num_person, layout=a.layout,
                                         num_classes=a.num_classes, pairs=pairs,
                                         warmup=1 if a.warmup is None else a.warmup,
                                         base_channels=a.base_channels,
                                         phases=tuple(x for x in a.phases.split(",") if x)))
            print(format_comparison(results[-1:]), flush=True)
        doc = {"kind": "bench-compare", "threads": torch.get_num_threads(), "torch": torch.__version__,
               "comparisons": results, "results": estimate_rows(results)}
        if packed > 1:
            doc["packed"] = packed_vs_separate(packed, dev, pairs=pairs, precision=a.packed_precision)
            print(format_packed(doc["packed"]), flush=True)
        text = json.dumps(doc, indent=2)
    if a.json is not None:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(text + "\n")
    if a.absolute or a.json is None:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
