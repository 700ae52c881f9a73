"""Is the synthetic dataset hard enough? ``python -m benchmark.data.synthetic_check``

Fits a small temporal-convolution classifier on CPU twice — once on the balanced training split,
once on the long-tailed subset built with BRL's protocol (``build_lt_split``, n_max =
train_per_class, imbalance ratio 10) — and prints top-1 test accuracy overall, per class and per
frequency third (head / middle / tail by LT training count).

What we want to see (the generator was tuned for it, seed 0, defaults):
(a) balanced accuracy clearly above chance but not perfect (≈ 60–90 %), so the benchmark's
    GCNs have room to differ;
(b) with the long-tailed training set, tail classes visibly worse than head classes (≥ ~15
    points), i.e. the imbalance actually matters.

The classifier is deliberately simple (no graph, no augmentation, two conv layers of width 64):
it sees 16 uniformly resampled frames of both persons after a cheap pre-normalisation
(translation to SpineMid and a yaw rotation that puts the shoulders on +x, the parts of
PreNormalize3D that matter here). Both runs take the same number of SGD steps, so the smaller
long-tailed set is not also trained less. Measured (CPU, one thread, seeds 0 / 1 / 2): balanced
88.2 / 85.5 / 85.0 % top-1; long-tailed head third 92.8 / 92.8 / 91.1 % vs tail third
36.7 / 35.6 / 35.0 %.
"""
from __future__ import annotations

import argparse
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from benchmark.data.splits import build_lt_split, lt_profile
from benchmark.data.synthetic import generate_synthetic

FRAMES = 16


def features(samples: Sequence[np.ndarray], frames: int = FRAMES) -> np.ndarray:
    """(N, 2·25·3, frames) float32: uniform resampling, translation and yaw alignment (a missing
    second person stays zero)."""
    out = np.zeros((len(samples), 2, frames, 25, 3), dtype=np.float32)
    for i, s in enumerate(samples):
        idx = np.linspace(0, s.shape[1] - 1, frames).round().astype(int)
        x = s[:, idx].astype(np.float64)
        x = x - x[0, 0, 1]
        sh = x[0, 0, 8] - x[0, 0, 4]
        ang = np.arctan2(sh[2], sh[0])            # rotate about y so the shoulder line lies on +x
        c, si = np.cos(ang), np.sin(ang)
        rot = np.array([[c, 0, si], [0, 1, 0], [-si, 0, c]])
        out[i, : s.shape[0]] = x @ rot.T
    return out.transpose(0, 1, 3, 4, 2).reshape(len(samples), -1, frames)


def train_eval(x_tr: np.ndarray, y_tr: np.ndarray, x_te: np.ndarray, num_classes: int, steps: int = 640,
               seed: int = 0, batch: int = 64) -> np.ndarray:
    """Train a 1D temporal CNN for a fixed number of SGD steps (so a smaller long-tailed set is
    not also trained for fewer steps); return the test predictions."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    mean = x_tr.mean(axis=(0, 2), keepdims=True)
    std = x_tr.std(axis=(0, 2), keepdims=True) + 1e-3
    xt = torch.as_tensor((x_tr - mean) / std, device=dev)
    yt = torch.as_tensor(y_tr, device=dev)
    xe = torch.as_tensor((x_te - mean) / std, device=dev)
    width = 64   # small on purpose: a few seconds of CPU training
    model = nn.Sequential(
        nn.Conv1d(xt.shape[1], width, 3, padding=1), nn.BatchNorm1d(width), nn.ReLU(),
        nn.Conv1d(width, width, 3, padding=1, stride=2), nn.BatchNorm1d(width), nn.ReLU(),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(width, num_classes),
    ).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    done = 0
    while done < steps:
        perm = torch.randperm(len(xt), generator=gen).to(dev)
        for b in perm.split(batch):
            if done == steps or len(b) < 2:      # BatchNorm needs two samples
                break
            loss = nn.functional.cross_entropy(model(xt[b]), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            done += 1
    model.eval()
    with torch.no_grad():
        return model(xe).argmax(1).cpu().numpy()


def per_class_accuracy(pred: np.ndarray, y: np.ndarray, num_classes: int) -> np.ndarray:
    return np.array([(pred[y == c] == c).mean() if (y == c).any() else np.nan for c in range(num_classes)])


def thirds(num_classes: int) -> Dict[str, np.ndarray]:
    """Head / middle / tail thirds of the LT profile (class 0 is the most frequent)."""
    k = num_classes // 3
    return {"head": np.arange(k), "middle": np.arange(k, num_classes - k), "tail": np.arange(num_classes - k, num_classes)}


def run_check(num_classes: int = 20, train_per_class: int = 100, test_per_class: int = 30, seed: int = 0,
              ratio: float = 10.0, steps: int = 640, **options) -> Dict[str, object]:
    t0 = time.time()
    raw = generate_synthetic(num_classes=num_classes, train_per_class=train_per_class,
                             test_per_class=test_per_class, seed=seed, **options)
    t_gen = time.time() - t0
    tab = raw.table
    feats = features(raw.samples)
    labels = tab["label"].to_numpy()
    tr = np.flatnonzero(tab["default"].to_numpy() == "train")
    te = np.flatnonzero(tab["default"].to_numpy() == "test")
    names = tab["name"].to_numpy()
    lt_names = set(build_lt_split(names[tr], labels[tr], num_classes, n_max=train_per_class, ratio=ratio))
    lt = np.array([i for i in tr if names[i] in lt_names])

    res: Dict[str, object] = {"generate_s": t_gen, "class_names": raw.class_names,
                              "lt_counts": lt_profile(num_classes, train_per_class, ratio)}
    for key, idx in (("balanced", tr), ("long_tailed", lt)):
        pred = train_eval(feats[idx], labels[idx], feats[te], num_classes, steps=steps, seed=seed)
        res[key] = {"top1": float((pred == labels[te]).mean()),
                    "per_class": per_class_accuracy(pred, labels[te], num_classes)}
    return res


def report(res: Dict[str, object]) -> List[str]:
    names = res["class_names"]
    c = len(names)
    bal, lt = res["balanced"], res["long_tailed"]
    lines = [f"generation: {res['generate_s']:.2f} s", "",
             f"{'class':>3} {'name':<16} {'n_LT':>5} {'balanced':>9} {'long-tailed':>12}"]
    for k in range(c):
        lines.append(f"{k:>3} {names[k]:<16} {res['lt_counts'][k]:>5} {bal['per_class'][k]:>9.1%} "
                     f"{lt['per_class'][k]:>12.1%}")
    lines.append("")
    lines.append(f"top-1 (chance {1 / c:.1%}): balanced {bal['top1']:.1%}, long-tailed {lt['top1']:.1%}")
    for g, idx in thirds(c).items():
        lines.append(f"{g:>6} (classes {idx[0]}-{idx[-1]}): balanced {np.nanmean(bal['per_class'][idx]):.1%}, "
                     f"long-tailed {np.nanmean(lt['per_class'][idx]):.1%}")
    th = thirds(c)
    gap_lt = np.nanmean(lt["per_class"][th["head"]]) - np.nanmean(lt["per_class"][th["tail"]])
    gap_bal = np.nanmean(bal["per_class"][th["head"]]) - np.nanmean(bal["per_class"][th["tail"]])
    lines.append(f"head - tail gap: long-tailed {100 * gap_lt:.1f} points (balanced {100 * gap_bal:.1f} points)")
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num-classes", type=int, default=20)
    ap.add_argument("--train-per-class", type=int, default=100)
    ap.add_argument("--test-per-class", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ratio", type=float, default=10.0)
    ap.add_argument("--steps", type=int, default=640, help="SGD steps of batch 64 (same for both runs)")
    ap.add_argument("--noise", type=float, default=None)
    ap.add_argument("--style", type=float, default=None)
    ap.add_argument("--distractor-prob", type=float, default=None)
    a = ap.parse_args(argv)
    opts = {k: v for k, v in (("noise", a.noise), ("style", a.style), ("distractor_prob", a.distractor_prob))
            if v is not None}
    import torch
    torch.set_num_threads(1)   # CI boxes have 2 shared cores
    res = run_check(a.num_classes, a.train_per_class, a.test_per_class, a.seed, a.ratio, a.steps, **opts)
    print("\n".join(report(res)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
