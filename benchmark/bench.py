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


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmark.bench", description=__doc__.split("\n")[0])
    p.add_argument("--backbones", nargs="+", default=list(DEFAULT_BACKBONES),
                   help="backbone ids (default: all three); also accepts a comma-separated list")
    p.add_argument("--device", default=None, help="cuda / cpu / cuda:1 … (default: cuda if available)")
    p.add_argument("--batch", type=int, default=None, help="samples per step (default: 2 on CPU, 16 on CUDA)")
    p.add_argument("--clip-len", type=int, default=64, help="frames per clip (default 64, BRL's)")
    p.add_argument("--num-classes", type=int, default=60)
    p.add_argument("--layout", default="ntu25")
    p.add_argument("--base-channels", type=int, default=None, help="reduced width (default: published)")
    p.add_argument("--warmup", type=int, default=None, help="untimed iterations (default: 1 CPU, 5 CUDA)")
    p.add_argument("--iters", type=int, default=None, help="timed iterations (default: 3 CPU, 20 CUDA)")
    p.add_argument("--json", type=Path, default=None, help="also write the JSON to this path")
    a = p.parse_args(argv)
    names = [n for item in a.backbones for n in item.split(",") if n]
    rows = run_benchmark(names, device=a.device, batch=a.batch, clip_len=a.clip_len,
                         num_classes=a.num_classes, layout=a.layout, warmup=a.warmup, iters=a.iters,
                         base_channels=a.base_channels)
    print(format_table(rows))
    text = json.dumps(rows, indent=2)
    print(text)
    if a.json is not None:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
