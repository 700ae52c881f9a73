"""The epoch loop of every training: one run, or several runs packed into one model.

:func:`run_epochs` is the only loop over runner epochs and iterations. It asks the runs'
:class:`~benchmark.engine.train.RunTrainer` objects for the epoch orders and batches and closes
their epochs; what it steps is a *stepper*: :class:`SingleModel` (one run's model, its method's
loss and SGD step) or ``benchmark.engine.packed.PackedModels`` (P runs as one packed model, one
SGD step over the stacked parameters). A stepper has:

- ``trainers``: the runs (one, or P that differ in the seed alone), ``optimizer``, ``desc``;
- ``train()``: training mode; ``epoch_orders(epoch)``: each run's sample order;
- ``zero_losses()``: the epoch's loss accumulator on the device (one entry per run);
- ``step(batches, step)``: forward, loss, backward, optimiser step; returns the detached loss(es);
- ``end_epoch(epoch, loss_sum, n_losses, seconds, force_checkpoint)``: hands the epoch to the runs
  (``RunTrainer.end_epoch``: monitor, validation, selection, checkpoint).

Every random draw comes from the runs (sampler order, per-step generators), so a run's batches do
not depend on how it is stepped; the order of operations per step is: learning rate, batches,
``stepper.step``, loss accumulation.
"""
from __future__ import annotations

import sys
import time
from typing import Optional

import torch
from tqdm import tqdm

from benchmark.engine.config import cosine_lr
from benchmark.models.speed import autocast


def progress_bar(iterable, progress: bool, **kw):
    """tqdm progress; in a log file (not a terminal) refresh every 30 s instead of every step."""
    interactive = sys.stderr.isatty()
    return tqdm(iterable, disable=not progress, leave=False, file=sys.stderr,
                mininterval=0.5 if interactive else 30.0, **kw)


def apply_lr(optimizer: torch.optim.Optimizer, lr0: float, step: int, total: int) -> float:
    """Cosine learning rate of ``step`` into every parameter group; a method may give a group its own
    base rate (``lr0``) or a factor (``lr_scale``). Returns the schedule's rate."""
    lr = cosine_lr(lr0, step, total)
    for g in optimizer.param_groups:
        g_lr = cosine_lr(g["lr0"], step, total) if "lr0" in g else lr
        g["lr"] = g_lr * g.get("lr_scale", 1.0)
    return lr


class SingleModel:
    """One run's model as a stepper of :func:`run_epochs`."""

    desc = "epoch"

    def __init__(self, trainer):
        self.trainer = trainer
        self.trainers = [trainer]
        self.optimizer = trainer.optimizer

    def train(self) -> None:
        self.trainer.model.train()

    def epoch_orders(self, epoch: int) -> list:
        return [self.trainer.epoch_order(epoch)]

    def zero_losses(self) -> torch.Tensor:
        return torch.zeros((), device=self.trainer.dev)

    def step(self, batches, step: int) -> torch.Tensor:
        tr = self.trainer
        x, targets = batches[0]
        with autocast(tr.dev, tr.speed.precision):
            logits = tr.fwd(x)
        loss = tr.method.loss(logits.float(), targets, step)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        tr.method.after_step(tr.model, step)
        return loss.detach()

    def end_epoch(self, epoch: int, loss_sum: torch.Tensor, n_losses: int, seconds: float,
                  force_checkpoint: bool = False) -> None:
        self.trainer.end_epoch(epoch, loss_sum, n_losses, seconds, force_checkpoint)


def run_epochs(stepper, progress: bool, stop_after_epochs: Optional[int] = None) -> Optional[int]:
    """Train ``stepper``'s runs from their common start epoch to the end of their schedule.

    Loss accumulates on the device and is read once per epoch (in ``end_epoch``): no host sync
    inside the step. Returns None when the schedule is done, or the number of runner epochs
    completed when ``stop_after_epochs`` epochs of this call stopped it early (tests)."""
    tr0 = stepper.trainers[0]
    ctx, lr0, total = tr0.ctx, tr0.sch.lr0, tr0.total
    done_here = 0
    for epoch in range(tr0.start_epoch, ctx.runner_epochs):
        t0 = time.time()
        stepper.train()
        orders = stepper.epoch_orders(epoch)
        loss_sum = stepper.zero_losses()
        n_losses = 0
        bar = progress_bar(range(ctx.iters_per_epoch), progress, desc=f"{stepper.desc} {epoch + 1}/{ctx.runner_epochs}")
        for it in bar:
            step = epoch * ctx.iters_per_epoch + it
            lr = apply_lr(stepper.optimizer, lr0, step, total)
            batches = [t.batch(o, it, step) for t, o in zip(stepper.trainers, orders)]
            if batches[0] is None:
                continue
            loss_sum += stepper.step(batches, step)
            n_losses += 1
            if progress and it % 10 == 0:
                bar.set_postfix(lr=f"{lr:.4f}", refresh=False)
        done_here += 1
        stopping = stop_after_epochs is not None and done_here >= stop_after_epochs
        stepper.end_epoch(epoch, loss_sum, n_losses, time.time() - t0, force_checkpoint=stopping)
        if stopping:
            return epoch + 1
    return None
