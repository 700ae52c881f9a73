"""Training and evaluation of one run (one dataset split × backbone × method × stream × seed).

Data stay on the device as one padded tensor per split; every batch is sampled, augmented and
turned into its stream there (benchmark.data.transforms). The epoch loop (benchmark.engine.loop,
shared with packed runs) checkpoints atomically after every runner epoch into a folder that is *not* a declared workflow output, so a killed run resumes
from its last completed epoch (docs/workflow.md). Final outputs are written last and atomically.
"""
from __future__ import annotations

import csv
import io
import math
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from benchmark.data.canonical import CanonicalDataset, load_dataset
from benchmark.data.splits import read_split_list
from benchmark.data import transforms as T
from benchmark.data.validation import build_validation
from benchmark.engine.checkpoint import clean_partial_writes, load_resumable, safe_torch_load
from benchmark.engine.config import PIPELINE_KEYS, ConfigError, NonFiniteLossError, RunSpec, cosine_lr
from benchmark.engine.identity import identify, resolved_spec
from benchmark.engine.loop import SingleModel, progress_bar, run_epochs
from benchmark.engine.record import run_record
from benchmark.engine.selection import SelectionTracker, supported_rules
from benchmark.models.speed import autocast, speed_setup, training_options
from benchmark.io import atomic_save_npz, atomic_torch_save, atomic_write_json, atomic_write_text


#: at most one checkpoint per this many seconds after the first (RunTrainer.end_epoch)
CHECKPOINT_INTERVAL_S = 10.0
#: epochs.csv: the test-split pass is a monitor (a curve), the val_* columns are the held-out split
EPOCH_COLUMNS = ["epoch", "step", "loss", "lr", "test_top1_monitor", "test_balanced_acc_monitor", "val_top1",
                 "val_balanced_acc", "seconds"]


# --------------------------------------------------------------------------- environment

def pick_device(requested: Optional[str] = None) -> torch.device:
    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed every RNG; cuDNN autotuning is on (fastest kernels) unless ``deterministic``."""
    import random

    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic


def _step_generator(seed: int, step: int, device: torch.device, salt: int = 0) -> torch.Generator:
    """A generator seeded from (run seed, global iteration): batch-level draws are reproducible and
    independent of how the run was interrupted (docs/training.md)."""
    g = torch.Generator(device=device)
    g.manual_seed((seed * 1_000_003 + step * 7919 + salt) % (2 ** 63 - 1))
    return g


# --------------------------------------------------------------------------- data

class SplitTensors:
    """One split on the device: joints (N, M, T, V, C), frames (N,), labels (N,), and the image
    widths (N,) when ``widths`` (the image-space flip of pixel coordinates needs them).

    ``center_joint`` re-centres PreNormalize3D data (F18); ``to_pixels`` maps PreNormalize2D data
    back to pixel coordinates with each video's image size (F16, ``pipeline.normalize: none``)."""

    def __init__(self, ds: CanonicalDataset, indices: np.ndarray, device: torch.device,
                 center_joint: Optional[int] = None, to_pixels: bool = False, widths: bool = False):
        self.indices = np.asarray(indices)
        self.coords = ds.meta.coords
        self.names = ds.table["name"].to_numpy()[self.indices]
        self.labels = ds.table["label"].to_numpy().astype(np.int64)[self.indices]
        self.frames = ds.table["frames"].to_numpy().astype(np.int64)[self.indices]
        if len(self.indices) == 0:
            raise ConfigError(f"{ds.root}: empty split")
        if (self.frames < 1).any():
            bad = self.names[np.flatnonzero(self.frames < 1)[0]]
            raise ConfigError(f"{ds.root}: sample '{bad}' has no valid frame after normalisation")
        t = int(self.frames.max())
        order = np.argsort(self.indices, kind="stable")      # memmap reads are fastest in file order
        block = np.empty((len(self.indices),) + ds.joints.shape[1:2] + (t,) + ds.joints.shape[3:], np.float32)
        block[order] = ds.joints[self.indices[order], :, :t]
        if center_joint is not None:                          # F18: another PreNormalize3D centre
            from benchmark.data.normalize import recenter
            block = recenter(block, center_joint, old_center=ds.layout.norm_center)
        self.widths_t = None
        if to_pixels or widths:
            from benchmark.data.normalize import image_shapes, prenorm2d_to_pixels
            hw = image_shapes(ds.table, self.indices, f"{ds.root}/table.csv")     # rows in block order
            if to_pixels:                                     # F16: the released K400 pipeline sees pixels
                block = prenorm2d_to_pixels(block, hw)
            if widths:
                self.widths_t = torch.from_numpy(hw[:, 1].astype(np.float32)).to(device)
        self.joints = torch.from_numpy(block).to(device)
        self.frames_t = torch.from_numpy(self.frames).to(device)
        self.labels_t = torch.from_numpy(self.labels).to(device)

    def __len__(self) -> int:
        return len(self.indices)


def resolve_split(ds: CanonicalDataset, benchmark: str, split_file: Optional[Path]) -> Tuple[np.ndarray, np.ndarray]:
    train_all = ds.split_indices(benchmark, "train")
    test = ds.split_indices(benchmark, "test")
    if split_file is None:
        return train_all, test
    names = read_split_list(split_file)
    train = ds.indices_of(names, source=str(split_file))
    outside = set(train.tolist()) - set(train_all.tolist())
    if outside:
        bad = ds.table["name"].iloc[sorted(outside)[0]]
        raise ConfigError(f"{split_file}: sample '{bad}' is not in the '{benchmark}' training split")
    return train, test


# --------------------------------------------------------------------------- evaluation

@torch.no_grad()
def evaluate(model: torch.nn.Module, method, split: SplitTensors, spec: RunSpec, layout, num_clips: int,
             device: torch.device, progress: bool = False, desc: str = "test", features: bool = False):
    """Multi-clip test: per-clip test_probs averaged over clips (docs/evaluation.md).

    Clips are deterministic, or with ``schedule.test_sampling = random`` training-mode clips from a
    generator seeded per sample (the official Kinetics test). Returns (probs (N, C), clip_logits
    (N, K, C)), plus the pooled features (N, K, d) when ``features``."""
    model.eval()
    coords = split.coords
    L = spec.schedule.clip_len
    per = max(1, spec.schedule.eval_batch_size // num_clips)
    probs, logits_all, feats_all = [], [], []
    starts = range(0, len(split), per)
    rand = spec.schedule.test_sampling == "random"
    for s in progress_bar(starts, progress, desc=desc):
        sel = np.arange(s, min(s + per, len(split)))
        if rand:
            idx = np.concatenate([T.train_frame_indices(np.full(num_clips, split.frames[i]), L,
                                                        np.random.default_rng([255, int(split.indices[i])]))
                                  for i in sel])
        else:
            idx = np.concatenate([T.test_frame_indices(int(split.frames[i]), L, num_clips) for i in sel])
        rows = torch.from_numpy(np.repeat(sel, num_clips)).to(device)
        x = T.make_clips(split.joints[rows], split.frames_t[rows], torch.from_numpy(idx).to(device),
                         spec.stream, layout, None, coords=coords)
        with autocast(device, spec.schedule.precision):
            if features:
                f = model.features(x)
                z = model.head(f)
                feats_all.append(f.reshape(len(sel), num_clips, -1).float().cpu())
            else:
                z = model(x)
        z = z.float()
        p = method.test_probs(z).reshape(len(sel), num_clips, -1).mean(dim=1)
        probs.append(p.float().cpu())
        logits_all.append(z.reshape(len(sel), num_clips, -1).float().cpu())
    out = (torch.cat(probs).numpy(), torch.cat(logits_all).numpy())
    return out + (torch.cat(feats_all).numpy(),) if features else out


def _accuracies(probs: np.ndarray, labels: np.ndarray) -> Tuple[float, float]:
    """(top-1, balanced accuracy) of averaged probabilities."""
    pred = probs.argmax(1)
    per_class = [float((pred[labels == c] == c).mean()) for c in np.unique(labels)]
    return float((pred == labels).mean()), float(np.mean(per_class))


def augment_config(spec: RunSpec, coords: str) -> "T.AugmentConfig":
    """The per-sample augmentation of a run: 3D (scale, rotation, flip) or 2D (image-space flip);
    ``augment.flip_mode = mirror`` also negates x of flipped 3D samples; ``image`` (2D only) is the
    2D flip about each sample's image centre (the width shift is added per batch, :func:`T.image_flip`)."""
    if spec.augment.flip_mode == "image" and T.aug_mode(coords) != "2d":
        raise ConfigError(f"augment.flip_mode = image flips 2D pixel coordinates about the image width; this "
                          f"dataset's coordinates are '{coords}' (use permute or mirror)")
    return T.AugmentConfig(scale=spec.augment.scale, rotate=spec.augment.rotate, flip_p=spec.augment.flip_p,
                           mode=T.aug_mode(coords), mirror=spec.augment.flip_mode == "mirror")


def _check_pipeline_keys(spec: RunSpec) -> None:
    unknown = sorted(set(spec.pipeline) - set(PIPELINE_KEYS))
    if unknown:
        raise ConfigError(f"run spec pipeline: unknown key(s) {unknown}; known: {list(PIPELINE_KEYS)}")


def _to_pixels(spec: RunSpec, ds: CanonicalDataset) -> bool:
    """F16: whether the run maps PreNormalize2D-prepared joints back to pixels.

    ``pipeline.normalize: none`` asks for the prepared data's raw coordinates, as the released
    Kinetics pipeline uses them (docs/fidelity.md F16). Data prepared with ``none`` already are;
    ``prenorm2d`` is inverted at load time (an affine map per video); nothing else can be undone."""
    _check_pipeline_keys(spec)
    mode = spec.pipeline.get("normalize")
    if mode is None:
        return False
    if mode != "none":
        raise ConfigError(f"pipeline.normalize = {mode!r}: only 'none' (train on raw coordinates) is supported")
    if ds.meta.normalized not in ("none", "prenorm2d"):
        raise ConfigError(f"pipeline.normalize: none can only undo PreNormalize2D ('prenorm2d'); {ds.root} was "
                          f"prepared with '{ds.meta.normalized}'")
    return ds.meta.normalized == "prenorm2d"


def _flips_about_width(spec: RunSpec, ds: CanonicalDataset) -> bool:
    """F16: whether the flip is the image-space one about each video's width (``augment.flip_mode:
    image``), which is only meaningful on pixel coordinates: a mirror about x = W/2 of data already
    centred on the image would move every joint off by W."""
    if spec.augment.flip_mode != "image":
        return False
    if ds.meta.normalized != "none" and spec.pipeline.get("normalize") != "none":
        raise ConfigError(f"augment.flip_mode = image mirrors pixel coordinates about the image width, but "
                          f"{ds.root} holds '{ds.meta.normalized}'-normalised coordinates: add pipeline.normalize: "
                          "none (for prenorm2d data) or prepare the dataset with normalize: none")
    return True


def _center_joint(spec: RunSpec, ds: CanonicalDataset) -> Optional[int]:
    """F18: ``pipeline.center_joint`` ("last" or an index) for prepared 3D data, else None."""
    _check_pipeline_keys(spec)
    c = spec.pipeline.get("center_joint")
    if c is None:
        return None
    if ds.meta.coords != "xyz" or ds.meta.normalized != "prenorm3d":
        raise ConfigError(f"pipeline.center_joint needs PreNormalize3D-prepared 3D data; {ds.root} is "
                          f"'{ds.meta.normalized}' with coords '{ds.meta.coords}'")
    return ds.layout.num_node - 1 if c == "last" else int(c)


# --------------------------------------------------------------------------- training

def plan_context(spec: RunSpec, train_labels: np.ndarray, layout, num_classes: int, stage1_state=None):
    """(method class, MethodContext) of a run: the iteration plan without data or a model.

    I = ⌈samples per runner epoch / B⌉, where the method's sampler decides the samples (e.g. the
    reverse sampler adds tail copies: 98 106 on NTU60-LT, so 6 132 iterations at B = 16)."""
    import methods
    from methods._base import MethodContext, sized_context

    counts = np.bincount(train_labels, minlength=num_classes)
    cls = methods.get_method(spec.method)
    runner_epochs, repeat = cls.schedule(spec.schedule.runner_epochs, spec.schedule.repeat)
    ctx = MethodContext(num_classes=num_classes, class_counts=counts, layout=layout, iters_per_epoch=1,
                        runner_epochs=runner_epochs, repeat=repeat, batch_size=spec.schedule.batch_size,
                        seed=spec.seed, fidelity=spec.fidelity, lt_profile=dict(spec.lt_profile),
                        stream=spec.stream, stage1_state=stage1_state)
    return cls, sized_context(cls, ctx, train_labels, spec.method_options)


def _build(spec: RunSpec, ds: CanonicalDataset, train_labels: np.ndarray, stage1_state, device):
    import methods
    from benchmark.models import build_model

    layout = ds.layout
    num_classes = ds.meta.num_classes
    if methods.get_method(spec.method).STAGE1 and stage1_state is None:
        raise ConfigError(f"method '{spec.method}' starts from the final model of "
                          f"'{methods.get_method(spec.method).STAGE1}'; "
                          "pass --stage1 PATH (the workflow does this automatically)")
    cls, ctx = plan_context(spec, train_labels, layout, num_classes, stage1_state)
    method = cls(ctx, **spec.method_options)
    seed_everything(spec.seed, spec.schedule.deterministic)
    in_ch = ds.joints.shape[-1]
    try:
        model = build_model(spec.backbone, layout, num_classes, head=None, in_channels=in_ch,
                            **spec.backbone_options)
        with torch.no_grad():       # a width the architecture cannot build fails here, not mid-run
            model.eval()(torch.zeros(1, 1, 16, layout.num_node, in_ch))
    except (RuntimeError, ValueError, ZeroDivisionError, TypeError) as e:
        raise ConfigError(f"backbone '{spec.backbone}' cannot be built with options {dict(spec.backbone_options)} "
                          f"on the '{layout.name}' layout ({str(e).splitlines()[0]}); choose another width, e.g. "
                          "base_channels: 8, 16, 32 or 64") from None
    model.head = method.build_head(model.feat_dim)
    model.to(device)
    method.setup_model(model)
    model.to(device)
    return method, model, ctx


class RunTrainer:
    """One run between its steps: data on the device, method, model, optimiser, selection tracker,
    epoch log and checkpoint. The one epoch loop (``benchmark.engine.loop.run_epochs``) drives one
    trainer (:func:`train_run`) or several through one packed model (``benchmark.engine.packed``);
    both use the same batches (:meth:`batch`), epoch ends
    (:meth:`end_epoch`: monitor, validation, selection, checkpoint) and outputs (:meth:`finish`), so a
    packed run writes exactly what a separate run writes.

    The run resumes from ``ckpt_dir/last.pt`` only if that checkpoint has this run's identity
    (``benchmark.engine.identity``); a finished run removes it unless ``keep_checkpoint``."""

    def __init__(self, spec: RunSpec, data_dir: Path, split_file: Optional[Path], out_dir: Path, ckpt_dir: Path,
                 stage1: Optional[Path] = None, device: Optional[str] = None, progress: bool = True,
                 keep_checkpoint: bool = False, dataset: Optional[CanonicalDataset] = None):
        self.t_start = time.time()
        self.spec, self.progress, self.keep_checkpoint = spec, progress, keep_checkpoint
        self.dev = dev = pick_device(device)
        self.out_dir, self.ckpt_dir = Path(out_dir), Path(ckpt_dir)
        clean_partial_writes(self.out_dir, self.ckpt_dir)
        self.ds = ds = dataset if dataset is not None else load_dataset(data_dir)
        self.split_path = split_path = Path(split_file) if split_file else None
        train_idx, test_idx = resolve_split(ds, spec.benchmark, split_path)
        center, pixels = _center_joint(spec, ds), _to_pixels(spec, ds)
        self.train = SplitTensors(ds, train_idx, dev, center, pixels, widths=_flips_about_width(spec, ds))
        empty = np.flatnonzero(np.bincount(self.train.labels, minlength=ds.meta.num_classes) == 0)
        if len(empty):
            print(f"[train] warning: {split_path or 'the training split'}: {len(empty)} class(es) have no training "
                  f"sample (e.g. class {int(empty[0])}); their test accuracy will be 0", file=sys.stderr)
        val_idx, self.val_reason = build_validation(ds, spec.benchmark, train_idx)
        self.rules = supported_rules(spec.fidelity, val_idx is not None)
        self.tracker = SelectionTracker(self.rules)
        stage1_state, s1, self.stage1 = None, None, stage1
        if stage1:
            s1 = safe_torch_load(Path(stage1), "cpu", what="stage-1 model")
            stage1_state = s1["model"]
        # the identity names the arithmetic used: precision 'auto' resolved on this device
        self.requested_precision = spec.schedule.precision
        self.spec = spec = resolved_spec(spec, dev)
        self.identity = identify(spec, ds.meta, split_path, Path(stage1) if stage1 else None, s1)
        self.run_id, self.stage1_id, self.split_digest = (self.identity.run_id, self.identity.stage1_id,
                                                          self.identity.split_digest)
        self.method, self.model, self.ctx = _build(spec, ds, self.train.labels, stage1_state, dev)
        self.speed = training_options(spec.schedule.precision, spec.schedule.compile, dev)
        self.fwd = speed_setup(self.model, self.speed)       # the compiled wrapper, or the model itself
        self.layout = ds.layout
        self.sch = sch = spec.schedule
        self.total = self.ctx.total_iters if self.ctx.runner_epochs > 0 else 0
        self.aug_cfg = augment_config(spec, ds.meta.coords)
        self.optimizer = torch.optim.SGD(self.method.param_groups(self.model, sch.weight_decay), lr=sch.lr0,
                                         momentum=sch.momentum, nesterov=sch.nesterov)
        self.log: List[Dict] = []
        self.start_epoch = 0
        self.ckpt_path = self.ckpt_dir / "last.pt"
        state = load_resumable(self.ckpt_path, self.run_id, dev, model=self.model)
        self.train_seconds = 0.0
        self._last_checkpoint: Optional[float] = None      # time of this process's last checkpoint
        if state is not None:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.start_epoch = state["epoch"]
            self.log = state["log"]
            self.train_seconds = state.get("train_seconds", 0.0)
            self.tracker.load_state_dict(state.get("selection"))
            print(f"[train] resuming from {self.ckpt_path} after runner epoch {self.start_epoch} (run {self.run_id})",
                  file=sys.stderr)
        else:
            print(f"[train] starting run {self.run_id} from scratch", file=sys.stderr)
        self.test = SplitTensors(ds, test_idx, dev, center, pixels)
        self.val = SplitTensors(ds, val_idx, dev, center, pixels) if val_idx is not None else None

    # ------------------------------------------------------------------ one epoch
    def epoch_order(self, epoch: int) -> torch.Tensor:
        """The sampler's sample order of ``epoch`` on the device (one upload per epoch)."""
        order = self.method.epoch_indices(self.train.labels, epoch, np.random.default_rng([self.spec.seed, epoch]))
        return torch.from_numpy(np.ascontiguousarray(order)).to(self.dev)

    def batch(self, order_t: torch.Tensor, it: int, step: int):
        """(clips, targets) of iteration ``it`` (global ``step``), or None past the epoch's end. Every
        draw comes from a generator seeded by (seed, step): no host sync, resumable anywhere."""
        spec, sch, train, method = self.spec, self.sch, self.train, self.method
        lo, hi = it * sch.batch_size, min((it + 1) * sch.batch_size, len(order_t))
        if hi <= lo:
            return None
        bt = order_t[lo:hi]
        gen = _step_generator(spec.seed, step, self.dev)
        frames_b = train.frames_t[bt]
        fidx = T.train_frame_indices_device(frames_b, sch.clip_len, gen)
        aug = T.augment_params(hi - lo, self.aug_cfg, gen, self.dev) if spec.augment.enabled else None
        if aug is not None and train.widths_t is not None:     # F16: flip about each video's own width
            aug = T.image_flip(aug, train.widths_t[bt])
        yb = train.labels_t[bt]
        if getattr(method, "mix_stage", "input") == "joints":
            # mix the (augmented) joints before the stream is computed (rpm_stage = joints)
            box = {}

            def _mix(xj):
                xj, box["targets"] = method.transform_batch(xj, yb, step, gen)
                return xj
            x = T.make_clips(train.joints[bt], frames_b, fidx, spec.stream, self.layout, aug, coords=train.coords,
                             pre_stream=_mix)
            return x, box["targets"]
        x = T.make_clips(train.joints[bt], frames_b, fidx, spec.stream, self.layout, aug, coords=train.coords)
        return method.transform_batch(x, yb, step, gen)

    def end_epoch(self, epoch: int, loss_sum: torch.Tensor, n_losses: int, seconds: float,
                  force_checkpoint: bool = False) -> Dict:
        """Close runner epoch ``epoch`` (0-based): the epoch's one host read of the loss, the
        monitor and validation passes, the selection tracker, and the atomic checkpoint.

        The checkpoint is written after the first epoch of this process, then whenever
        :data:`CHECKPOINT_INTERVAL_S` have passed since the last one, and when ``force_checkpoint``
        (an interruption on purpose). Long epochs are therefore all checkpointed; epochs of a fraction
        of a second (the demo's) do not pay a flushed write each: a kill loses at most that interval
        of training, and resuming from any epoch gives the same run."""
        ctx, sch = self.ctx, self.sch
        epoch_loss = float(loss_sum) / n_losses if n_losses else float("nan")   # the epoch's one sync
        if n_losses and not math.isfinite(epoch_loss):
            raise NonFiniteLossError(epoch + 1, ctx.runner_epochs, self.spec, epoch_loss)
        self.train_seconds += seconds
        row = {"epoch": epoch + 1, "step": (epoch + 1) * ctx.iters_per_epoch, "loss": epoch_loss,
               "lr": cosine_lr(sch.lr0, (epoch + 1) * ctx.iters_per_epoch - 1, self.total),
               "test_top1_monitor": None, "test_balanced_acc_monitor": None, "val_top1": None,
               "val_balanced_acc": None, "seconds": round(seconds, 3)}
        if sch.val_every and ((epoch + 1) % sch.val_every == 0 or epoch + 1 == ctx.runner_epochs):
            p, _ = evaluate(self.model, self.method, self.test, self.spec, self.layout, 1, self.dev, desc="monitor")
            row["test_top1_monitor"], row["test_balanced_acc_monitor"] = _accuracies(p, self.test.labels)
            if self.val is not None:
                p, _ = evaluate(self.model, self.method, self.val, self.spec, self.layout, 1, self.dev,
                                desc="validation")
                row["val_top1"], row["val_balanced_acc"] = _accuracies(p, self.val.labels)
            self.tracker.update(epoch + 1, row, self.model.state_dict())
        self.log.append(row)
        last = self._last_checkpoint
        if force_checkpoint or last is None or time.time() - last >= CHECKPOINT_INTERVAL_S:
            atomic_torch_save(self.ckpt_path, {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                                               "epoch": epoch + 1, "log": self.log, "config_hash": self.spec.config_hash,
                                               "run_id": self.run_id, "train_seconds": self.train_seconds,
                                               "selection": self.tracker.state_dict()})
            self._last_checkpoint = time.time()
        # "[train] epoch E/N" starts the line (log readers and the SLURM test look for it); the seed
        # tells the runs of a packed job apart
        print(f"[train] epoch {epoch + 1}/{ctx.runner_epochs} loss {row['loss']:.4f} "
              f"test monitor top1 {row['test_top1_monitor']} val bacc {row['val_balanced_acc']} "
              f"(seed {self.spec.seed})", file=sys.stderr)
        return row

    # ------------------------------------------------------------------ the end
    def finish(self, extra_meta: Optional[Dict] = None) -> Dict:
        """The end of a run, top to bottom: tune post-hoc options on the validation split (the test
        scores use them), test the final model and every selection, build the record
        (``benchmark.engine.record``) and write the outputs (metrics.json last: its presence means a
        complete run), then drop the checkpoint."""
        tuning = self.tune_posthoc()
        probs, clip_logits, features, test_seconds = self.test_final()
        metrics, selections, sel_probs = self.score_selections(probs)
        record = run_record(self, metrics, selections, tuning, test_seconds, extra_meta)
        self.write_outputs(record, probs, clip_logits, features, sel_probs)
        return record

    def tune_posthoc(self) -> Optional[Dict]:
        """Post-hoc hyper-parameters (τ) chosen on the held-out split, never on the test split; the
        record says why not where the method has some but the split is missing. None otherwise."""
        method, val = self.method, self.val
        if not hasattr(method, "tune_on_validation"):
            return None
        if val is None:
            return {"tuned": False, "reason": self.val_reason, "options": method.metadata()["options"]}
        _, _, vfeat = evaluate(self.model, method, val, self.spec, self.layout, self.sch.test_clips, self.dev,
                               desc="tuning", features=True)
        return method.tune_on_validation(self.model, torch.from_numpy(vfeat).to(self.dev), val.labels)

    def test_final(self):
        """(probs, clip_logits, features or None, seconds) of the multi-clip test of the final model."""
        t_test = time.time()
        out = evaluate(self.model, self.method, self.test, self.spec, self.layout, self.sch.test_clips, self.dev,
                       progress=self.progress, features=self.sch.save_features)
        return out[0], out[1], (out[2] if self.sch.save_features else None), time.time() - t_test

    def score_selections(self, probs: np.ndarray):
        """(metrics of the final model, the selections' records, their test probabilities)."""
        from benchmark.data.splits import DEFAULT_GROUPS, counts_path_for_split, groups_from_counts_csv
        from benchmark.metrics import compute_metrics

        model, method, test, spec = self.model, self.method, self.test, self.spec
        groups = groups_from_counts_csv(counts_path_for_split(self.split_path)) if self.split_path else DEFAULT_GROUPS
        train_counts = np.bincount(self.train.labels, minlength=self.ds.meta.num_classes)
        metrics = compute_metrics(probs, test.labels, train_counts, groups=groups)
        selections, sel_probs = self.tracker.test_all(
            model, self.ctx.runner_epochs, probs,
            lambda rule: evaluate(model, method, test, spec, self.layout, self.sch.test_clips, self.dev, desc=rule)[0],
            lambda p: compute_metrics(p, test.labels, train_counts, groups=groups))
        return metrics, selections, sel_probs

    def write_outputs(self, record: Dict, probs: np.ndarray, clip_logits: np.ndarray,
                      features: Optional[np.ndarray], sel_probs: Dict[str, np.ndarray]) -> None:
        """model.pt, test_probs*.npz, epochs.csv, then metrics.json; each atomic. A finished run
        drops its checkpoint (unless ``keep_checkpoint``): a forced rerun trains again."""
        out_dir, test, spec = self.out_dir, self.test, self.spec
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_torch_save(out_dir / "model.pt", {"model": self.model.state_dict(), "config_hash": spec.config_hash,
                                                 "run_id": self.run_id})
        extra = {"features": features.astype(np.float32)} if features is not None else {}
        atomic_save_npz(out_dir / "test_probs.npz", probs=probs.astype(np.float32), labels=test.labels,
                        clip_logits=clip_logits.astype(np.float32), names=test.names.astype(str), **extra)
        for rule, p_sel in sel_probs.items():
            atomic_save_npz(out_dir / f"test_probs_{rule}.npz", probs=p_sel.astype(np.float32), labels=test.labels,
                            names=test.names.astype(str))
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=EPOCH_COLUMNS)
        w.writeheader()
        for r in self.log:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
        atomic_write_text(out_dir / "epochs.csv", buf.getvalue())
        atomic_write_json(out_dir / "metrics.json", record)    # last: its presence means a complete run
        if not self.keep_checkpoint and self.ckpt_path.exists():
            self.ckpt_path.unlink()


def train_run(spec: RunSpec, data_dir: Path, split_file: Optional[Path], out_dir: Path, ckpt_dir: Path,
              stage1: Optional[Path] = None, device: Optional[str] = None, progress: bool = True,
              stop_after_epochs: Optional[int] = None, keep_checkpoint: bool = False) -> Dict:
    """Train (or resume) one run and write metrics.json, test_probs.npz, epochs.csv, model.pt.

    ``stop_after_epochs`` interrupts after that many runner epochs of this invocation (tests)."""
    tr = RunTrainer(spec, data_dir, split_file, out_dir, ckpt_dir, stage1, device, progress, keep_checkpoint)
    stopped = run_epochs(SingleModel(tr), progress, stop_after_epochs)
    if stopped is not None:
        return {"interrupted": True, "epoch": stopped}
    return tr.finish()
