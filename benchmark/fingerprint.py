"""Behaviour fingerprints: every versioned unit's numbers on fixed tiny inputs, kept in the repository.

A version (``benchmark/versions.py``, a method file's ``VERSION``) is a promise: same version, same
numbers. This module checks the promise by behaviour instead of by memory. For each versioned unit
it computes a few small arrays on fixed inputs:

- ``method-<name>`` (both fidelity presets): sampler draws of the first and last epoch, batch mixing
  (a projection of the mixed batch, both label vectors and λ), loss and gradients at steps on both
  sides of every switch, and test probabilities after those steps;
- ``backbone-<name>``: forward outputs and per-parameter gradient norms of a seeded tiny model;
- ``engine``: ``test_probs`` and epoch losses of a two-epoch run on a tiny synthetic dataset;
- ``data``: the prepared arrays of a fixed synthetic set.

``tests/fingerprints/<unit>.json`` stores the version the fingerprint was made with and the arrays,
rounded to :data:`DIGITS` significant digits. The check compares integers exactly and floats with a
tolerance (:data:`RTOL` of the array's largest magnitude), never a hash of rounded floats: a hash
flips when a value that differs in its last bits between CPUs (AVX-512 or not, another BLAS) sits
on a rounding boundary, a tolerance does not. Method and backbone fingerprints run in float64
(weights initialised as usual, then converted) and the engine's uses a small model without
BatchNorm, so those differences use at most 7 % of the tolerance (ST-GCN++ under scalar kernels;
every other unit under 2 %), measured on an AVX-512 Xeon with ATen's AVX-512, AVX2 and scalar
kernels, MKL/oneDNN limited to AVX2, and 1 or 2 threads. A changed random stream or formula moves
the numbers by 1e-2 to 1 relative.

    python -m benchmark.fingerprint            # check every unit (what tests/test_fingerprints.py does)
    python -m benchmark.fingerprint --update   # recompute and store every unit whose version changed
    python -m benchmark.fingerprint --update method-brl engine   # or just these units (after a bump)
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FINGERPRINT_DIR = REPO / "tests" / "fingerprints"
UPDATE_CMD = "python -m benchmark.fingerprint --update"
#: significant digits stored (more than the tolerance needs: rounding never decides a comparison)
DIGITS = 7
#: float arrays agree when |a − b| ≤ RTOL · max|b| + ATOL elementwise. Float32 results that differ
#: between CPUs in their last bits (summation order, vector width) move by ~1e-6 relative here; a
#: behaviour change (another random stream, formula or initialisation) moves them by far more.
RTOL = 1e-4
ATOL = 1e-9


class FingerprintError(ValueError):
    pass


@dataclass(frozen=True)
class Unit:
    key: str                      # file stem in tests/fingerprints
    version: str                  # the version in force (what a bump changes)
    bump: str                     # what to bump when behaviour changed: "<file> <constant>"
    compute: Callable[[], Dict[str, np.ndarray]]


# --------------------------------------------------------------------------- fixed inputs

C = 6
COUNTS = np.array([24, 14, 9, 6, 4, 3])
LABELS = np.repeat(np.arange(C), COUNTS)
#: large enough that BRL's partial mixup (⌊B/16⌋ pairs) mixes in every batch
B = 32
D = 8
SEED = 3


def _data():
    import torch

    rng = np.random.default_rng(20)
    return torch.tensor(rng.normal(size=(len(LABELS), 2, 4, 25, 3)), dtype=torch.float64)


def _projector(shape, seed: int):
    """A fixed random direction: a projection of a large tensor onto it keeps every element's
    influence while storing one number."""
    import torch

    return torch.tensor(np.random.default_rng(seed).normal(size=shape), dtype=torch.float64)


def _tiny_backbone():
    import torch
    import torch.nn as nn

    class TinyBackbone(nn.Module):
        """Per-joint linear map + BatchNorm ((N, M, T, V, C) → (N, M, d, T, V)): the method
        fingerprints must not move when a GCN backbone changes."""

        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(3, D)
            self.bn = nn.BatchNorm2d(D)
            self.out_channels = D

        def forward(self, x):
            n, m, t, v, _ = x.shape
            f = self.proj(x).permute(0, 1, 4, 2, 3).reshape(n * m, -1, t, v)
            return torch.relu(self.bn(f)).reshape(n, m, -1, t, v)

    return TinyBackbone()


# --------------------------------------------------------------------------- methods

def _method_ctx(cls, fidelity: str, stage1_state=None):
    from benchmark.graphs import NTU25
    from methods._base import MethodContext, sized_context

    runner_epochs, repeat = cls.schedule(6, 2)
    base = dict(num_classes=C, class_counts=COUNTS, layout=NTU25, runner_epochs=runner_epochs, repeat=repeat,
                batch_size=B, seed=SEED, fidelity=fidelity, lt_profile={"n_max": 120, "ratio": 10},
                stage1_state=stage1_state)
    return sized_context(cls, MethodContext(iters_per_epoch=1, **base), LABELS)


def _method_model(cls, ctx, torch_seed: int):
    import torch
    from benchmark.models.recognizer import Recognizer

    torch.manual_seed(torch_seed)
    method = cls(ctx)
    # float64 (initialised as float32, then converted): a few steps of SGD through BatchNorm turn
    # last-bit float32 differences between CPUs into 1e-5-level ones; in float64 they stay ~1e-13
    return method, Recognizer(_tiny_backbone(), method.build_head(D), feat_dim=D).double()


def method_fingerprint(name: str) -> Dict[str, np.ndarray]:
    """A method's sampler, mixing, loss, gradients, optimiser hooks and test probabilities on fixed
    tiny inputs, under both fidelity presets."""
    import torch
    import methods

    cls = methods.get_method(name)
    data = _data()
    out: Dict[str, np.ndarray] = {}
    for fidelity in ("paper", "official_code"):
        f = fidelity[0]
        stage1 = None
        if cls.STAGE1:
            s1 = methods.get_method(cls.STAGE1)
            _, m1 = _method_model(s1, _method_ctx(s1, "paper"), torch_seed=123)
            stage1 = {k: v.clone() for k, v in m1.state_dict().items()}
        ctx = _method_ctx(cls, fidelity, stage1)
        method, model = _method_model(cls, ctx, torch_seed=0)
        method.setup_model(model)
        opt = torch.optim.SGD(method.param_groups(model, 5e-4), lr=0.05, momentum=0.9, nesterov=True)
        last = max(ctx.runner_epochs - 1, 0)
        for e in sorted({0, last}):
            out[f"{f}/epoch{e}/order"] = np.asarray(
                method.epoch_indices(LABELS, e, np.random.default_rng([SEED, e])), dtype=np.int64)
        total = ctx.total_iters
        steps = sorted({0, 1, total // 2, total - 2, total - 1} - {-1}) if total > 0 else []
        px = _projector((B, 2 * 4 * 25 * 3), seed=1)
        pg = _projector((B, C + 1), seed=3)      # +1: a head that adds a class (none does yet)
        for t in steps:
            e = t // ctx.iters_per_epoch
            order = method.epoch_indices(LABELS, e, np.random.default_rng([SEED, e]))
            k = t % ctx.iters_per_epoch
            idx = order[k * B:(k + 1) * B]
            if len(idx) < B:
                idx = order[:B]
            x, y = data[idx], torch.as_tensor(LABELS[idx])
            model.train()
            gen = torch.Generator().manual_seed(SEED * 1_000_003 + t)
            xm, targets = method.transform_batch(x, y, t, gen)
            flat = xm.double().reshape(xm.shape[0], -1)
            out[f"{f}/step{t}/mixed"] = (flat * px[:flat.shape[0], :flat.shape[1]]).sum(1).numpy()
            out[f"{f}/step{t}/y_a"] = targets.y_a.numpy().astype(np.int64)
            out[f"{f}/step{t}/y_b"] = targets.y_b.numpy().astype(np.int64)
            out[f"{f}/step{t}/lam"] = targets.lam.double().numpy()
            logits = model(xm)
            logits.retain_grad()
            loss = method.loss(logits, targets, t)
            opt.zero_grad()
            loss.backward()
            out[f"{f}/step{t}/loss"] = np.array([loss.item()])
            g = logits.grad.double()
            out[f"{f}/step{t}/dlogits"] = (g * pg[:g.shape[0], :g.shape[1]]).sum(1).numpy()
            out[f"{f}/step{t}/grad_norms"] = np.array(
                [p.grad.double().norm().item() if p.grad is not None else 0.0 for p in model.parameters()])
            opt.step()
            method.after_step(model, t)
        model.eval()
        with torch.no_grad():
            probs = method.test_probs(model(data[:8]))
        out[f"{f}/test_probs"] = probs.double().numpy().ravel()
    return out


# --------------------------------------------------------------------------- backbones

#: small widths that keep every backbone's structure (all blocks, all branches)
BACKBONE_OPTIONS = {"stgcnpp": {"base_channels": 8}, "ctrgcn": {"base_channels": 8},
                    "msg3d": {"base_channels": 12}}


def backbone_fingerprint(name: str) -> Dict[str, np.ndarray]:
    """Forward outputs and every parameter's gradient norm of the seeded model on a fixed input.

    The initialised weights are converted to float64 and the pass runs in float64: a few
    gradients of a BatchNorm'd GCN cancel heavily (in float32 one of them moves by 0.3 % between
    vectorised and scalar CPU kernels), in float64 the cancellation stays far below the tolerance."""
    import torch
    from benchmark.graphs import NTU25
    from benchmark.models import build_model

    torch.manual_seed(0)
    model = build_model(name, NTU25, C, in_channels=3, **BACKBONE_OPTIONS.get(name, {})).double()
    rng = np.random.default_rng(7)
    x = torch.tensor(rng.normal(size=(2, 2, 16, 25, 3)), dtype=torch.float64)
    model.train()
    z = model(x)
    w = torch.tensor(rng.normal(size=tuple(z.shape)), dtype=torch.float64)
    (z * w).sum().backward()
    return {"logits": z.detach().double().numpy().ravel(),
            "grad_norms": np.array([p.grad.double().norm().item() if p.grad is not None else 0.0
                                    for p in model.parameters()]),
            "param_norms": np.array([p.detach().double().norm().item() for p in model.parameters()])}


# --------------------------------------------------------------------------- engine

def _tiny_engine_dataset(root: Path) -> Path:
    from benchmark.data.toy import write_oscillation_dataset

    c, n_train, n_test, t_max = 4, 24, 8, 24
    labels = np.concatenate([np.arange(n_train) % c, np.arange(n_test) % c])
    # frame counts on both sides of clip_len and 2·clip_len: every frame-sampling case runs
    return write_oscillation_dataset(root, "fp", labels, n_train, c, (5, t_max + 1), t_max, 0.4)


#: the engine fingerprint's model: registered only while it runs, never by the workflow
PROBE_BACKBONE = "fingerprint_probe"


def _register_probe() -> None:
    """A small smooth model (per-joint linear map, temporal convolution, tanh; no BatchNorm) for the
    engine fingerprint: the engine's numbers without a GCN's, whose BatchNorm on tiny batches
    turns last-bit differences between CPUs into percent-level ones within a few steps (and whose
    own changes the backbone fingerprints catch)."""
    import torch.nn as nn
    from benchmark import models

    if PROBE_BACKBONE in models._REGISTRY:
        return

    class Probe(nn.Module):
        def __init__(self, in_channels: int = 3, width: int = 16):
            super().__init__()
            self.proj = nn.Linear(in_channels, width)
            self.tconv = nn.Conv2d(width, width, kernel_size=(3, 1), padding=(1, 0))
            self.out_channels = width

        def forward(self, x):                        # (N, M, T, V, C) -> (N, M, d, T, V)
            n, m, t, v, _ = x.shape
            f = self.proj(x).tanh().permute(0, 1, 4, 2, 3).reshape(n * m, -1, t, v)
            return self.tconv(f).tanh().reshape(n, m, -1, t, v)

    @models.register_model(PROBE_BACKBONE, out_channels=16)
    def fingerprint_probe(layout, in_channels: int = 3, **kw):
        return Probe(in_channels)


#: two runner epochs of three steps at a large rate (lr0 = 16 · 8 / 128 = 1): a changed draw moves
#: test_probs by ~10 % (1106b39's frame-index stream: 15 %), last-bit differences by ~1e-6 (the
#: probe model is smooth: no chaos at this rate)
ENGINE_SCHEDULE = {"runner_epochs": 2, "repeat": 1, "batch_size": 8, "base_lr": 16.0, "clip_len": 8,
                   "test_clips": 2, "eval_batch_size": 16, "val_every": 0}


def engine_fingerprint() -> Dict[str, np.ndarray]:
    """``test_probs`` and epoch losses of a two-epoch tiny CE run (augmentation on, every frame-
    sampling case): the engine's random streams, batch order, schedule and evaluation."""
    import contextlib
    import io

    from benchmark.engine.config import RunSpec
    from benchmark.engine.train import train_run

    _register_probe()
    spec = RunSpec.from_dict(dict(
        dataset="fp", benchmark="default", split_id="fp_default_natural", backbone=PROBE_BACKBONE, method="ce",
        method_id="ce", stream="j", seed=0,
        schedule=dict(ENGINE_SCHEDULE)))
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(io.StringIO()):
        data = _tiny_engine_dataset(Path(tmp))
        train_run(spec, data, None, Path(tmp) / "out", Path(tmp) / "ckpt", device="cpu", progress=False)
        with np.load(Path(tmp) / "out" / "test_probs.npz") as z:
            probs = z["probs"].astype(np.float64).ravel()
        with open(Path(tmp) / "out" / "epochs.csv") as fh:
            losses = [float(line.split(",")[2]) for line in fh.read().splitlines()[1:]]
    return {"test_probs": probs, "epoch_loss": np.array(losses)}


# --------------------------------------------------------------------------- data preparation

def data_fingerprint() -> Dict[str, np.ndarray]:
    """The prepared (read, normalised, packed) arrays of a fixed small synthetic set."""
    import contextlib
    import io

    from benchmark.data.canonical import load_dataset
    from benchmark.data.prepare import prepare_dataset

    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(io.StringIO()):
        out = prepare_dataset("fp", "synthetic", None, Path(tmp) / "fp", normalize="prenorm3d",
                              options={"num_classes": 3, "train_per_class": 2, "test_per_class": 1, "seed": 5,
                                       "min_frames": 20, "max_frames": 30})
        ds = load_dataset(out)
        joints = np.asarray(ds.joints, dtype=np.float64)
        table = ds.table
        res = {"frames": table["frames"].to_numpy().astype(np.int64),
               "persons": table["persons"].to_numpy().astype(np.int64),
               "labels": table["label"].to_numpy().astype(np.int64),
               # per sample, person and frame: a projection of the (V, C) pose, and the sum of squares
               "joints_proj": (joints * _projector(joints.shape[-2:], seed=2).numpy()).sum((-2, -1)).ravel(),
               "joints_sq": (joints ** 2).sum((-2, -1)).ravel()}
    return res


# --------------------------------------------------------------------------- units

def units() -> List[Unit]:
    """Every versioned unit: each registered method, each backbone, the engine, data preparation."""
    import methods
    from benchmark import versions

    out = []
    index = methods.method_index()
    for name in methods.available_methods():
        info = index[name]
        deps = [d.split("=")[0] for d in info["version"].split(";")[1:]]
        bump = f"methods/{info['file']} VERSION" + (
            f" (or, if the change is in {', '.join(f'methods/{d}.py' for d in deps)}, that file's VERSION)"
            if deps else "")
        out.append(Unit(f"method-{name}", info["version"], bump, lambda n=name: method_fingerprint(n)))
    for name in sorted(versions.BACKBONE_VERSIONS):
        out.append(Unit(f"backbone-{name}", versions.backbone_version(name),
                        f"benchmark/versions.py BACKBONE_VERSIONS['{name}']", lambda n=name: backbone_fingerprint(n)))
    # the engine runs 'ce' and prepares data with the synthetic reader: their versions are part of
    # these units' versions, so bumping them asks for a refresh rather than reporting a change
    out.append(Unit("engine", f"{versions.ENGINE_VERSION};ce={index['ce']['version']}",
                    "benchmark/versions.py ENGINE_VERSION (or, if the change is in methods/_base.py, its VERSION)",
                    engine_fingerprint))
    from benchmark.data.synthetic import GENERATOR_VERSION

    out.append(Unit("data", f"{versions.DATA_VERSION};synthetic={GENERATOR_VERSION}",
                    "benchmark/versions.py DATA_VERSION (or, if the change is in benchmark/data/synthetic.py, its "
                    "GENERATOR_VERSION)", data_fingerprint))
    return out


def _round(a: np.ndarray) -> list:
    if np.issubdtype(a.dtype, np.integer):
        return [int(v) for v in a.ravel()]
    return [float(f"{float(v):.{DIGITS}g}") for v in a.ravel()]


def record(unit: Unit, values: Dict[str, np.ndarray]) -> dict:
    return {"unit": unit.key, "version": unit.version, "bump": unit.bump,
            "note": f"made by '{UPDATE_CMD} {unit.key}'; compared with rtol {RTOL} of each array's largest value",
            "arrays": {k: {"dtype": "int" if np.issubdtype(np.asarray(v).dtype, np.integer) else "float",
                           "values": _round(np.asarray(v))} for k, v in sorted(values.items())}}


def dumps(rec: dict) -> str:
    """JSON with one line per array (reviewable diffs, small files)."""
    head = {k: v for k, v in rec.items() if k != "arrays"}
    lines = [json.dumps(head, indent=1)[:-2] + ',\n "arrays": {']
    items = sorted(rec["arrays"].items())
    for i, (k, v) in enumerate(items):
        lines.append(f"  {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" + ("," if i < len(items) - 1 else ""))
    lines.append(" }\n}\n")
    return "\n".join(lines)


def fingerprint_path(unit: Unit, folder: Path = FINGERPRINT_DIR) -> Path:
    return folder / f"{unit.key}.json"


def compare(unit: Unit, stored: dict, values: Dict[str, np.ndarray], path: Path) -> Optional[str]:
    """None when ``values`` match ``stored``; otherwise one line naming the file and what to do."""
    rel = _rel(path)
    if stored.get("version") != unit.version:
        return (f"{rel}: made with version {stored.get('version')!r} of {unit.key}, now {unit.version!r}; "
                f"refresh it with '{UPDATE_CMD} {unit.key}' and commit the file")
    arrays = stored.get("arrays", {})
    if set(arrays) != set(values):
        diff = sorted(set(arrays) ^ set(values))
        return (f"{unit.key} behaviour changed without a version bump (arrays {diff[:3]} appeared or vanished, "
                f"see {rel}): bump {unit.bump}, then run '{UPDATE_CMD} {unit.key}'")
    for key in sorted(arrays):
        ref = np.asarray(arrays[key]["values"], dtype=np.float64)
        cur = np.asarray(values[key], dtype=np.float64).ravel()
        if ref.shape != cur.shape:
            why = f"'{key}' has {cur.size} values, the fingerprint {ref.size}"
        elif arrays[key]["dtype"] == "int":
            if np.array_equal(ref, cur):
                continue
            i = int(np.flatnonzero(ref != cur)[0])
            why = f"'{key}'[{i}] is {cur[i]:g}, the fingerprint {ref[i]:g}"
        else:
            tol = RTOL * (np.abs(ref).max() if ref.size else 0.0) + ATOL
            err = np.abs(cur - ref)
            if np.all(err <= tol) and np.isfinite(cur).all() == np.isfinite(ref).all():
                continue
            i = int(np.nanargmax(np.where(np.isfinite(err), err, np.inf)))
            why = f"'{key}'[{i}] is {cur[i]:.7g}, the fingerprint {ref[i]:.7g} (tolerance {tol:.2g})"
        return (f"{unit.key} behaviour changed without a version bump ({why}; {rel}): bump {unit.bump}, "
                f"then run '{UPDATE_CMD} {unit.key}' and commit both")
    return None


def check(unit: Unit, folder: Path = FINGERPRINT_DIR) -> Optional[str]:
    path = fingerprint_path(unit, folder)
    if not path.exists():
        return f"{_rel(path)}: no fingerprint for {unit.key}; create it with '{UPDATE_CMD} {unit.key}' and commit it"
    stored = json.loads(path.read_text())
    if stored.get("version") != unit.version:       # a bump: no need to compute anything
        return compare(unit, stored, {}, path)
    return compare(unit, stored, unit.compute(), path)


def stale_files(all_units: Sequence[Unit], folder: Path = FINGERPRINT_DIR) -> List[Path]:
    """Fingerprint files of units that no longer exist (a removed method or backbone)."""
    keys = {u.key for u in all_units}
    return sorted(p for p in folder.glob("*.json") if p.stem not in keys)


def update(keys: Sequence[str] = (), folder: Path = FINGERPRINT_DIR, force: bool = False) -> List[Path]:
    """Recompute and write the fingerprints of ``keys`` (all units when empty). Without ``force`` a
    unit whose stored version equals its current version is rewritten only when named: refreshing
    everything must not silently bless a behaviour change that lacks a bump."""
    all_units = units()
    known = {u.key: u for u in all_units}
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise FingerprintError(f"unknown unit(s) {unknown}; known: {', '.join(sorted(known))}")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for unit in (known[k] for k in keys) if keys else all_units:
        path = fingerprint_path(unit, folder)
        if path.exists() and not keys and not force:
            if json.loads(path.read_text()).get("version") == unit.version:
                continue
        path.write_text(dumps(record(unit, unit.compute())))
        written.append(path)
    for path in stale_files(all_units, folder):
        path.unlink()
        written.append(path)
    return written


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmark.fingerprint", description=__doc__.split("\n\n")[0])
    p.add_argument("units", nargs="*", help="unit keys (default: all), e.g. method-brl backbone-ctrgcn engine data")
    p.add_argument("--update", action="store_true",
                   help="write the fingerprints: the named units, or every unit whose version changed")
    p.add_argument("--force", action="store_true", help="with --update and no unit: rewrite every fingerprint")
    p.add_argument("--list", action="store_true", help="list the units and their versions")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    try:
        if args.list:
            for u in units():
                print(f"{u.key}\t{u.version}\t{u.bump}")
            return 0
        if args.update:
            for path in update(args.units, force=args.force):
                print(f"{'wrote' if path.exists() else 'removed'} {_rel(path)}")
            return 0
        chosen = [u for u in units() if not args.units or u.key in args.units]
        problems = [m for m in (check(u) for u in chosen) if m]
    except (ValueError, KeyError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for m in problems:
        print(f"error: {m}", file=sys.stderr)
    print(f"{len(chosen) - len(problems)}/{len(chosen)} fingerprints match")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
