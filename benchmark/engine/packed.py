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

How the P models become one: :func:`make_packed` prefers *channel packing*
(``benchmark.models.packing``: one dense model P times as wide with block-diagonal weights, which
on a CPU runs small widths faster than P separate models), and falls back to the vmap packing of
:class:`PackedModel` (grouped kernels) for architectures the channel packer does not know.

The outputs (metrics.json, test_probs.npz, epochs.csv, model.pt) are those of the separate runs
up to float rounding (tests/test_packed.py compares them), because every run's batches, epoch
ends, checkpoints and outputs are made by the same ``RunTrainer`` code as a separate run's. Each
run checkpoints after every runner epoch and resumes (packed or alone) from there. Packing refuses
compiled runs, methods that change the model after each step or start from a stage-1 model, and
randomness inside the model (dropout), which would break the equivalence;
:func:`train_group` then trains the runs one after the other.

Command line: ``python -m benchmark train-pack --data D --split S --run SPEC OUT CKPT …``.
"""
from __future__ import annotations

import copy
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

from benchmark.engine.config import ConfigError, RunSpec
from benchmark.models.speed import autocast


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

    @property
    def slots(self) -> Dict[str, List[tuple]]:
        return {n: [(p,) for p in range(len(self.models))] for n in self.params}

    def named_packed_parameters(self):
        return self.params.items()

    def store_models(self, models) -> List[torch.nn.Module]:
        return self.unpack()

    @torch.no_grad()
    def unpack(self) -> List[torch.nn.Module]:
        """Copy the stacked state back into the P separate models and return them."""
        for i, m in enumerate(self.models):
            for n, p in m.named_parameters():
                p.copy_(self.params[n][i])
            for n, b in m.named_buffers():
                b.copy_(self.buffers[n][i])
        return self.models


def make_packed(models: Sequence[torch.nn.Module]):
    """The fastest exact packing the models allow: channel packing (one dense model with
    block-diagonal weights, ``benchmark.models.packing``) where every module is supported, else
    vmap over stacked parameters."""
    from benchmark.models.packing import ChannelPackedModel, UnsupportedPacking
    try:
        return ChannelPackedModel(models), "channel"
    except UnsupportedPacking:
        return PackedModel(models), "vmap"


class PackedModels:
    """P runs (equal but for the seed) as one packed model: a stepper of
    :func:`benchmark.engine.loop.run_epochs`. One SGD over the stacked parameters steps all P
    models; after every runner epoch the packed weights and momentum go back into the runs' own
    models and optimisers, so each run closes its epoch, checkpoints and resumes on its own."""

    desc = "packed epoch"

    def __init__(self, trainers: Sequence):
        from benchmark.models.packing import pack_momentum

        self.trainers = trs = list(trainers)
        tr0 = trs[0]
        if tr0.method.STAGE1:
            raise PackError(f"method '{tr0.spec.method}' starts from a stage-1 model; train it separately")
        if _overrides(tr0.method, "after_step"):
            raise PackError(f"method '{tr0.spec.method}' changes the model after each step; train it separately")
        if len({(t.ctx.runner_epochs, t.ctx.iters_per_epoch) for t in trs}) != 1:
            raise PackError("the runs' samplers give different epoch lengths; train them separately")
        if len({t.start_epoch for t in trs}) != 1:
            raise PackError("the runs' checkpoints stopped after different epochs "
                            f"({[t.start_epoch for t in trs]}); train them separately")
        self.models = [t.model for t in trs]
        self.packed, self.kind = make_packed(self.models)
        named = dict(self.packed.named_packed_parameters())
        sch = tr0.sch
        groups = _stacked_param_groups([t.method for t in trs], self.models, named, sch.weight_decay)
        self.optimizer = torch.optim.SGD(groups, lr=sch.lr0, momentum=sch.momentum, nesterov=sch.nesterov)
        pack_momentum(self.packed, self.optimizer, [t.optimizer for t in trs], self.models)

    def train(self) -> None:
        self.packed.train()

    def epoch_orders(self, epoch: int) -> list:
        orders = [t.epoch_order(epoch) for t in self.trainers]
        if len({len(o) for o in orders}) != 1:
            raise PackError(f"the runs' samplers give epochs of different sizes in epoch {epoch + 1}; "
                            "train them separately")
        return orders

    def zero_losses(self) -> torch.Tensor:
        return torch.zeros(len(self.trainers), device=self.trainers[0].dev)

    def step(self, batches, step: int) -> torch.Tensor:
        trs, tr0 = self.trainers, self.trainers[0]
        xs = [b[0] for b in batches]
        if len({tuple(x.shape) for x in xs}) != 1:
            raise PackError("the runs' batches have different shapes after the method's transform; "
                            "train them separately")
        with autocast(tr0.dev, tr0.speed.precision):
            logits = self.packed(torch.stack(xs)).float()
        losses = torch.stack([t.method.loss(logits[p], b[1], step) for p, (t, b) in enumerate(zip(trs, batches))])
        self.optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        self.optimizer.step()
        return losses.detach()

    def end_epoch(self, epoch: int, loss_sum: torch.Tensor, n_losses: int, seconds: float,
                  force_checkpoint: bool = False) -> None:
        from benchmark.models.packing import unpack_momentum

        seconds /= len(self.trainers)
        self.packed.store_models(self.models)
        unpack_momentum(self.packed, self.optimizer, [t.optimizer for t in self.trainers], self.models)
        for p, t in enumerate(self.trainers):
            t.end_epoch(epoch, loss_sum[p], n_losses, seconds, force_checkpoint)


def train_packed(specs: Sequence[RunSpec], data_dir: Path, split_file: Optional[Path], out_dirs: Sequence[Path],
                 ckpt_dirs: Optional[Sequence[Path]] = None, device: Optional[str] = None, progress: bool = False,
                 keep_checkpoint: bool = False, stop_after_epochs: Optional[int] = None) -> List[Dict]:
    """Train the runs of ``specs`` (equal but for the seed) as one packed model (:class:`PackedModels`
    in the one epoch loop, ``benchmark.engine.loop``) and write each run's outputs into its
    ``out_dirs`` entry, exactly as :func:`benchmark.engine.train.train_run` does for a single run:
    the same :class:`~benchmark.engine.train.RunTrainer` builds each run's batches, closes its
    epochs (monitor, validation, selection, per-run checkpoint) and writes its outputs.
    Returns the P metrics records."""
    from benchmark.data.canonical import load_dataset
    from benchmark.engine.loop import run_epochs
    from benchmark.engine.train import RunTrainer

    specs = list(specs)
    check_packable(specs)
    if len(out_dirs) != len(specs):
        raise PackError(f"need one output folder per run: {len(specs)} specs, {len(out_dirs)} folders")
    ckpt_dirs = list(ckpt_dirs) if ckpt_dirs is not None else [Path(o) / ".ckpt" for o in out_dirs]
    t_start = time.time()
    ds = load_dataset(data_dir)
    trs = [RunTrainer(s, data_dir, split_file, o, c, device=device, progress=False, keep_checkpoint=keep_checkpoint,
                      dataset=ds) for s, o, c in zip(specs, out_dirs, ckpt_dirs)]
    stepper = PackedModels(trs)
    stopped = run_epochs(stepper, progress, stop_after_epochs)
    if stopped is not None:
        return [{"interrupted": True, "epoch": stopped} for _ in trs]
    info = {"packed": {"seeds": [s.seed for s in specs], "size": len(trs), "kind": stepper.kind,
                       "wall_time_s": round(time.time() - t_start, 2)}}
    return [t.finish(extra_meta=info) for t in trs]


#: what a finished run folder holds (metrics.json is copied last: its presence means complete)
RUN_FILES = ("model.pt", "epochs.csv", "test_probs.npz")


def take_packed_result(spec: RunSpec, data_dir: Path, split_file: Optional[Path], stage1: Optional[Path],
                       packed_dir: Path, out_dir: Path) -> Dict:
    """Copy the result a packed job wrote for ``spec`` into ``out_dir``, after checking that it is
    this run's result (the same run identity: spec, data checksums, split list, stage-1 model).
    Copies are atomic and metrics.json comes last. Raises :class:`PackError` naming the folder
    when the result is missing or belongs to another run."""
    import json

    from benchmark.data.canonical import load_dataset_meta
    from benchmark.engine.identity import identify, resolved_spec
    from benchmark.io import atomic_write

    packed_dir, out_dir = Path(packed_dir), Path(out_dir)
    metrics_path = packed_dir / "metrics.json"
    if not metrics_path.exists():
        raise PackError(f"{packed_dir}: the packed job left no result for seed {spec.seed}; run the workflow "
                        "again (the packed job reruns) or set pack_seeds: false")
    meta = load_dataset_meta(Path(data_dir))
    run_id = identify(resolved_spec(spec), meta, Path(split_file) if split_file else None,
                      Path(stage1) if stage1 else None).run_id
    record = json.loads(metrics_path.read_text())
    theirs = record.get("meta", {}).get("run_id")
    if theirs != run_id:
        raise PackError(f"{metrics_path}: the packed result is run {theirs}, but this run is {run_id} (its spec, "
                        "data or split list changed since); run the workflow again so that the packed job reruns")
    out_dir.mkdir(parents=True, exist_ok=True)
    extra = sorted(p.name for p in packed_dir.glob("test_probs_*.npz"))
    for name in RUN_FILES + tuple(extra) + ("metrics.json",):
        data = (packed_dir / name).read_bytes()
        atomic_write(out_dir / name, lambda f, data=data: f.write(data))
    print(f"[train] run {run_id}: result taken from the packed job ({packed_dir})", file=sys.stderr)
    return record


def train_group(specs: Sequence[RunSpec], data_dir: Path, split_file: Optional[Path], out_dirs: Sequence[Path],
                ckpt_dirs: Sequence[Path], device: Optional[str] = None, progress: bool = False,
                keep_checkpoint: bool = False) -> List[Dict]:
    """Train a group of runs packed where they can be, else one after the other (same outputs
    either way); the reason for not packing is printed. What the workflow's packed job calls."""
    from benchmark.engine.train import train_run

    try:
        return train_packed(specs, data_dir, split_file, out_dirs, ckpt_dirs, device=device, progress=progress,
                            keep_checkpoint=keep_checkpoint)
    except PackError as e:
        print(f"[train] not packing seeds {[s.seed for s in specs]}: {e}; training them one after the other",
              file=sys.stderr)
    return [train_run(s, data_dir, split_file, o, c, device=device, progress=progress, keep_checkpoint=keep_checkpoint)
            for s, o, c in zip(specs, out_dirs, ckpt_dirs)]
