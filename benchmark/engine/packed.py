"""Packed runs: several runs that differ only in their seed, trained together as ONE batched model.

Runs that share dataset, split, backbone, method, stream and schedule differ only in the seed: the
initial weights, the epoch orders (sampler), the frame/augmentation/mixing draws and nothing else.
Training them one after the other repeats the same small kernels P times; packing stacks the P
models' parameters along a new leading axis (``torch.func.stack_module_state``) and runs the
forward with ``torch.func.vmap`` over that axis, so every convolution becomes one grouped kernel
over P models. What stays per run:

- the initial weights (each run's model is built after seeding with its own seed, exactly as a
  separate run builds it);
- the sampler and every random stream (epoch order from ``numpy.default_rng([seed, epoch])``,
  per-step torch generator from (seed, step)): the P batches are built exactly as the separate
  runs build theirs, then stacked;
- BatchNorm statistics (the buffers are stacked too, each model normalises its own batch);
- the loss (each run's method object) and the optimiser state: the summed loss Σ_p L_p has
  gradient ∂L_p/∂θ_p for the p-th slice, and SGD with momentum, Nesterov and weight decay is
  elementwise, so one SGD over the stacked tensors equals P separate SGDs with the same schedule.

The outputs (metrics.json, test_probs.npz, epochs.csv, model.pt) are those of the separate runs
up to float rounding (tests/test_packed.py compares them). Packed training does not checkpoint
mid-run (a killed pack restarts), does not compile, and refuses methods that change the model
after each step or use randomness inside the model (dropout), which would break the equivalence.
"""
from __future__ import annotations

import copy
import csv
import io
import math
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from benchmark.data import transforms as T
from benchmark.engine.config import ENGINE_VERSION, ConfigError, RunSpec, cosine_lr
from benchmark.io import atomic_save_npz, atomic_torch_save, atomic_write_json, atomic_write_text
from benchmark.models.speed import autocast, speed_setup, training_options


class PackError(ConfigError):
    """The runs cannot be packed (the message names the difference)."""


def check_packable(specs: Sequence[RunSpec]) -> None:
    """Runs may be packed when their specs are equal except for the seed; seeds must be distinct."""
    if len(specs) < 1:
        raise PackError("packed training needs at least one run spec")
    ref = {k: v for k, v in specs[0].to_dict().items() if k != "seed"}
    for s in specs[1:]:
        d = {k: v for k, v in s.to_dict().items() if k != "seed"}
        if d != ref:
            diff = sorted(k for k in set(ref) | set(d) if ref.get(k) != d.get(k))
            raise PackError(f"runs can be packed only when they differ in the seed alone; "
                            f"seed {s.seed} differs from seed {specs[0].seed} in {diff}")
    seeds = [s.seed for s in specs]
    if len(set(seeds)) != len(seeds):
        raise PackError(f"packed runs need distinct seeds, got {seeds}")
    if specs[0].schedule.compile:
        raise PackError("packed training does not support schedule.compile = true; train these runs separately")
    if float(specs[0].backbone_options.get("tcn_dropout", 0.0)) > 0:
        raise PackError("packed training cannot reproduce per-run dropout draws (tcn_dropout > 0); "
                        "train these runs separately")


def _overrides(method, name: str) -> bool:
    from methods._base import Method
    return getattr(type(method), name) is not getattr(Method, name, None)


def _stacked_param_groups(methods_, models, stacked: Dict[str, torch.Tensor], weight_decay: float) -> List[Dict]:
    """The methods' parameter groups, with each group's parameters replaced by the stacked tensors
    of the same names. Every run must have the same group structure (same method and options)."""
    layouts = []
    for method, model in zip(methods_, models):
        names = {id(p): n for n, p in model.named_parameters()}
        groups = method.param_groups(model, weight_decay)
        layouts.append([({k: v for k, v in g.items() if k != "params"}, [names[id(p)] for p in g["params"]])
                        for g in groups])
    for lay in layouts[1:]:
        if lay != layouts[0]:
            raise PackError("the runs' methods build different parameter groups; train them separately")
    return [dict(opts, params=[stacked[n] for n in names]) for opts, names in layouts[0]]


class PackedModel:
    """P models with identical structure as one vmapped functional model (stacked parameters)."""

    def __init__(self, models: Sequence[torch.nn.Module]):
        from torch.func import stack_module_state

        self.models = list(models)
        params, buffers = stack_module_state(self.models)
        self.params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
        self.buffers = buffers
        self.base = copy.deepcopy(self.models[0]).to("meta")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x: (P, B, ...) → (P, B, num_classes)."""
        from torch.func import functional_call, vmap

        def one(p, b, xi):
            return functional_call(self.base, (p, b), (xi,))
        return vmap(one, in_dims=(0, 0, 0), randomness="error")(self.params, self.buffers, x)

    def train(self, mode: bool = True) -> "PackedModel":
        self.base.train(mode)
        for m in self.models:
            m.train(mode)
        return self

    @torch.no_grad()
    def unpack(self) -> List[torch.nn.Module]:
        """Copy the stacked state back into the P separate models and return them."""
        for i, m in enumerate(self.models):
            for n, p in m.named_parameters():
                p.copy_(self.params[n][i])
            for n, b in m.named_buffers():
                b.copy_(self.buffers[n][i])
        return self.models


def train_packed(specs: Sequence[RunSpec], data_dir: Path, split_file: Optional[Path], out_dirs: Sequence[Path],
                 device: Optional[str] = None, progress: bool = False) -> List[Dict]:
    """Train the runs of ``specs`` (equal but for the seed) as one packed model and write each
    run's outputs into its ``out_dirs`` entry, exactly as :func:`benchmark.engine.train.train_run`
    does for a single run. Returns the P metrics records."""
    from benchmark.data.canonical import load_dataset
    from benchmark.engine.train import (SplitTensors, _bar, _build, _step_generator, code_version, evaluate,
                                        hardware_info, pick_device, resolve_split)

    specs = list(specs)
    check_packable(specs)
    if len(out_dirs) != len(specs):
        raise PackError(f"need one output folder per run: {len(specs)} specs, {len(out_dirs)} folders")
    t_start = time.time()
    dev = pick_device(device)
    spec0 = specs[0]
    sch = spec0.schedule
    ds = load_dataset(data_dir)
    train_idx, test_idx = resolve_split(ds, spec0.benchmark, Path(split_file) if split_file else None)
    train = SplitTensors(ds, train_idx, dev)
    layout = ds.layout
    built = [_build(s, ds, train.labels, None, dev) for s in specs]
    methods_ = [b[0] for b in built]
    models = [b[1] for b in built]
    ctxs = [b[2] for b in built]
    if methods_[0].STAGE1:
        raise PackError(f"method '{spec0.method}' starts from a stage-1 model; train it separately")
    for m in methods_:
        if _overrides(m, "after_step"):
            raise PackError(f"method '{spec0.method}' changes the model after each step; train it separately")
    if len({(c.runner_epochs, c.iters_per_epoch) for c in ctxs}) != 1:
        raise PackError("the runs' samplers give different epoch lengths; train them separately")
    ctx = ctxs[0]
    speed = training_options(sch.precision, False, dev)
    for m in models:
        speed_setup(m, speed)
    packed = PackedModel(models)
    groups = _stacked_param_groups(methods_, models, packed.params, sch.weight_decay)
    optimizer = torch.optim.SGD(groups, lr=sch.lr0, momentum=sch.momentum, nesterov=sch.nesterov)
    aug_cfg = T.AugmentConfig(scale=spec0.augment.scale, rotate=spec0.augment.rotate, flip_p=spec0.augment.flip_p,
                              mode="2d" if ds.meta.coords != "xyz" else "3d")
    total = ctx.total_iters if ctx.runner_epochs > 0 else 0
    test = SplitTensors(ds, test_idx, dev)
    P = len(specs)
    logs: List[List[Dict]] = [[] for _ in specs]
    train_seconds = 0.0
    for epoch in range(ctx.runner_epochs):
        t0 = time.time()
        packed.train()
        orders = [m.epoch_indices(train.labels, epoch, np.random.default_rng([s.seed, epoch]))
                  for m, s in zip(methods_, specs)]
        if len({len(o) for o in orders}) != 1:
            raise PackError(f"the runs' samplers give epochs of different sizes in epoch {epoch + 1}; "
                            "train them separately")
        orders_t = [torch.from_numpy(np.ascontiguousarray(o)).to(dev) for o in orders]
        n_order = len(orders[0])
        loss_sum = torch.zeros(P, device=dev)
        n_losses = 0
        for it in _bar(range(ctx.iters_per_epoch), progress, desc=f"packed epoch {epoch + 1}/{ctx.runner_epochs}"):
            step = epoch * ctx.iters_per_epoch + it
            lr = cosine_lr(sch.lr0, step, total)
            for g in optimizer.param_groups:
                g_lr = cosine_lr(g["lr0"], step, total) if "lr0" in g else lr
                g["lr"] = g_lr * g.get("lr_scale", 1.0)
            lo, hi = it * sch.batch_size, min((it + 1) * sch.batch_size, n_order)
            if hi <= lo:
                continue
            xs, tgts = [], []
            for p, (s, method) in enumerate(zip(specs, methods_)):
                bt = orders_t[p][lo:hi]
                gen = _step_generator(s.seed, step, dev)
                frames_b = train.frames_t[bt]
                fidx = T.train_frame_indices_device(frames_b, sch.clip_len, gen)
                aug = T.augment_params(hi - lo, aug_cfg, gen, dev) if s.augment.enabled else None
                x = T.make_clips(train.joints[bt], frames_b, fidx, s.stream, layout, aug, coords=train.coords)
                x, targets = method.transform_batch(x, train.labels_t[bt], step, gen)
                xs.append(x)
                tgts.append(targets)
            if len({tuple(x.shape) for x in xs}) != 1:
                raise PackError("the runs' batches have different shapes after the method's transform; "
                                "train them separately")
            with autocast(dev, speed.precision):
                logits = packed(torch.stack(xs))
            logits = logits.float()
            losses = torch.stack([m.loss(logits[p], tgts[p], step) for p, m in enumerate(methods_)])
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            optimizer.step()
            loss_sum += losses.detach()
            n_losses += 1
        train_seconds += time.time() - t0
        epoch_loss = (loss_sum / max(n_losses, 1)).tolist()          # the epoch's one sync
        for p, s in enumerate(specs):
            if n_losses and not math.isfinite(epoch_loss[p]):
                raise FloatingPointError(f"non-finite loss in runner epoch {epoch + 1} of seed {s.seed}; "
                                         "lower the learning rate or check the data")
        do_val = sch.val_every and ((epoch + 1) % sch.val_every == 0 or epoch + 1 == ctx.runner_epochs)
        unpacked = packed.unpack() if do_val else None
        for p, s in enumerate(specs):
            row = {"epoch": epoch + 1, "step": (epoch + 1) * ctx.iters_per_epoch,
                   "loss": epoch_loss[p] if n_losses else float("nan"),
                   "lr": cosine_lr(sch.lr0, (epoch + 1) * ctx.iters_per_epoch - 1, total), "val_top1": None,
                   "val_balanced_acc": None, "seconds": round((time.time() - t0) / P, 3)}
            if do_val:
                pr, _ = evaluate(unpacked[p], methods_[p], test, s, layout, 1, dev, desc="monitor")
                pred = pr.argmax(1)
                row["val_top1"] = float((pred == test.labels).mean())
                per_class = [float((pred[test.labels == c] == c).mean()) for c in np.unique(test.labels)]
                row["val_balanced_acc"] = float(np.mean(per_class))
            logs[p].append(row)
        print(f"[packed] epoch {epoch + 1}/{ctx.runner_epochs} loss "
              + " ".join(f"{l:.4f}" for l in epoch_loss), file=sys.stderr)

    from benchmark.metrics import compute_metrics

    models = packed.unpack()
    records = []
    for p, (s, method, model) in enumerate(zip(specs, methods_, models)):
        t_test = time.time()
        probs, clip_logits = evaluate(model, method, test, s, layout, sch.test_clips, dev, progress=progress)
        test_seconds = time.time() - t_test
        metrics = compute_metrics(probs, test.labels, np.bincount(train.labels, minlength=ds.meta.num_classes))
        n_train_clips = ctx.runner_epochs * ctx.iters_per_epoch * sch.batch_size
        share = train_seconds / P
        record = {
            "run": {"dataset": s.dataset, "benchmark": s.benchmark, "split": s.split_id, "backbone": s.backbone,
                    "method": s.method_id, "method_name": s.method, "stream": s.stream, "seed": s.seed,
                    "fidelity": s.fidelity, "selection": "last"},
            "metrics": metrics,
            "meta": {"wall_time_s": round((time.time() - t_start) / P, 2), "train_seconds": round(share, 2),
                     "test_seconds": round(test_seconds, 2), "hardware": hardware_info(dev), "device": str(dev),
                     "code_version": code_version(), "config_hash": s.config_hash, "spec": s.to_dict(),
                     "schedule": s.to_dict()["schedule"], "augment": s.to_dict()["augment"],
                     "backbone_options": dict(s.backbone_options), "method_meta": method.metadata(),
                     "engine_version": ENGINE_VERSION,
                     "precision": speed.precision, "compile": False, "deterministic": sch.deterministic,
                     "speed": {"precision": speed.precision, "compile": False, "channels_last": speed.channels_last,
                               "graph_impl": speed.graph_impl},
                     "packed": {"seeds": [x.seed for x in specs], "size": P},
                     "iters_per_epoch": ctx.iters_per_epoch, "runner_epochs": ctx.runner_epochs,
                     "train_size": int(len(train)), "test_size": int(len(test)),
                     "train_samples_per_s": round(n_train_clips / share, 2) if share > 0 else None,
                     "test_samples_per_s": round(len(test) / test_seconds, 2) if test_seconds > 0 else None,
                     "monitor": "1-clip pass on the test split after each runner epoch: a curve only, never used "
                                "for model selection (selection = last)"},
        }
        out = Path(out_dirs[p])
        out.mkdir(parents=True, exist_ok=True)
        atomic_torch_save(out / "model.pt", {"model": model.state_dict(), "config_hash": s.config_hash})
        atomic_save_npz(out / "test_probs.npz", probs=probs.astype(np.float32), labels=test.labels,
                        clip_logits=clip_logits.astype(np.float32), names=test.names.astype(str))
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["epoch", "step", "loss", "lr", "val_top1", "val_balanced_acc", "seconds"])
        w.writeheader()
        for r in logs[p]:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
        atomic_write_text(out / "epochs.csv", buf.getvalue())
        atomic_write_json(out / "metrics.json", record)
        records.append(record)
    return records


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m benchmark.engine.packed --data D [--split S] --run SPEC OUT [--run SPEC OUT ...]``
    (SPEC: JSON or @file, as for ``python -m benchmark train``)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m benchmark.engine.packed",
                                description="train runs that differ only in the seed as one packed model")
    p.add_argument("--data", required=True)
    p.add_argument("--split", help="training list (default: the whole training split)")
    p.add_argument("--run", nargs=2, action="append", metavar=("SPEC", "OUT"), required=True,
                   help="run spec (JSON or @file) and its output folder; repeat per seed")
    p.add_argument("--device")
    p.add_argument("--threads", type=int)
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    specs = [RunSpec.from_json(Path(s[1:]).read_text() if s.startswith("@") else s) for s, _ in a.run]
    recs = train_packed(specs, Path(a.data), Path(a.split) if a.split else None, [Path(o) for _, o in a.run],
                        device=a.device)
    for s, r in zip(specs, recs):
        print(f"[packed] {s.split_id} {s.backbone} {s.method_id} {s.stream} seed{s.seed}: "
              f"top1 {r['metrics']['top1']:.4f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
