"""Index samplers for one runner epoch (R passes): reverse (BRL TRP), ROS, class-aware (cRT/WB stage 2).

Each returns a 1-D int64 array of indices into the training list. All randomness comes from the
numpy Generator the engine passes (seeded from (run seed, runner epoch)), so an epoch's list can be
rebuilt exactly on resume.
"""
from __future__ import annotations

from typing import List

import numpy as np

from methods._base import MethodConfigError
from methods._formulas import tail_third

#: this shared helper's version: part of the effective version of every method that imports it
#: (methods.effective_version), so bumping it redoes exactly those methods' runs
VERSION = "1"


def class_index_lists(labels: np.ndarray, num_classes: int) -> List[np.ndarray]:
    """Training-list indices of each class, in list order."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][:5]
        raise MethodConfigError(f"training labels {bad.tolist()} are outside 0…{num_classes - 1}; "
                                "labels must be 0-based class indices")
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(num_classes + 1))
    return [order[bounds[c]:bounds[c + 1]] for c in range(num_classes)]


def reverse_multipliers(counts: np.ndarray, repeat: int, tail_rule: str = "rank") -> np.ndarray:
    """μ′_c = R·μ_c with μ_c = n_max/n_c on the tail third and 1 elsewhere, in float64 (docs/methods.md)."""
    n = np.asarray(counts, dtype=np.float64)
    mu = np.where(tail_third(counts, tail_rule), n.max() / n, 1.0)
    return float(repeat) * mu


def reverse_class_plan(mu_prime: np.ndarray, class_sizes: np.ndarray) -> tuple:
    """(full copies ⌊μ′_c⌋, extra samples ⌊frac(μ′_c)·n_c⌋) per class; n_c is the actual class size (F15).

    Truncation in float64 is deliberate: it reproduces the official per-epoch totals (98 106 on
    NTU60-LT, not the 98 110 of exact rational arithmetic)."""
    full = np.floor(mu_prime)
    extra = np.floor((mu_prime - full) * np.asarray(class_sizes, dtype=np.float64))
    return full.astype(np.int64), extra.astype(np.int64)


def reverse_epoch_size(labels: np.ndarray, counts: np.ndarray, repeat: int, tail_rule: str = "rank") -> int:
    sizes = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(counts))
    full, extra = reverse_class_plan(reverse_multipliers(counts, repeat, tail_rule), sizes)
    return int((full * sizes + extra).sum())


def reverse_epoch_indices(labels: np.ndarray, counts: np.ndarray, repeat: int, rng: np.random.Generator,
                          tail_rule: str = "rank") -> np.ndarray:
    """BRL's class-level reverse sampler for one runner epoch (R passes, docs/methods.md).

    Class c contributes ⌊μ′_c⌋ copies of its index list plus the first ⌊frac(μ′_c)·n_c⌋ entries of a
    random permutation of it; the concatenation is shuffled. ``counts`` give μ (actual or F7
    formula counts); the remainder uses the real class sizes."""
    lists = class_index_lists(labels, len(counts))
    sizes = np.array([len(l) for l in lists])
    full, extra = reverse_class_plan(reverse_multipliers(counts, repeat, tail_rule), sizes)
    parts = []
    for c, idx in enumerate(lists):        # C iterations (≤ 400), not a loop over samples
        if full[c]:
            parts.append(np.tile(idx, int(full[c])))
        if extra[c]:
            parts.append(rng.permutation(idx)[: int(extra[c])])
    out = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return rng.permutation(out)


def ros_epoch_indices(labels: np.ndarray, num_classes: int, repeat: int, rng: np.random.Generator,
                      variant: str = "with_replacement") -> np.ndarray:
    """Random oversampling (docs/methods.md).

    ``with_replacement`` (default): each pass draws N indices with P(i) ∝ 1/n_{y_i}.
    ``replicate``: per pass, class c gets ⌊n_max/n_c⌋ copies plus ⌊frac(n_max/n_c)·n_c⌋ random samples."""
    labels = np.asarray(labels, dtype=np.int64)
    sizes = np.bincount(labels, minlength=num_classes)
    if variant == "with_replacement":
        p = 1.0 / sizes[labels]
        p = p / p.sum()
        return rng.choice(len(labels), size=len(labels) * repeat, replace=True, p=p)
    if variant == "replicate":
        present = sizes > 0
        mu = np.where(present, sizes.max() / np.maximum(sizes, 1), 0.0)
        lists = class_index_lists(labels, num_classes)
        passes = []
        for _ in range(repeat):
            full, extra = reverse_class_plan(mu, sizes)
            parts = [np.tile(idx, int(full[c])) for c, idx in enumerate(lists) if full[c]]
            parts += [rng.permutation(idx)[: int(extra[c])] for c, idx in enumerate(lists) if extra[c]]
            passes.append(np.concatenate(parts))
        return rng.permutation(np.concatenate(passes))
    raise MethodConfigError(f"ros variant must be 'with_replacement' or 'replicate', got '{variant}'")


def class_aware_epoch_indices(labels: np.ndarray, num_classes: int, repeat: int, rng: np.random.Generator,
                              samples_per_class: int = 4) -> np.ndarray:
    """Class-aware sampler (Kang et al. 2020, docs/methods.md): N samples per pass, R passes.

    Classes are visited in a reshuffled cycle (each class once per cycle, as the original
    RandomCycleIter does), and each visit yields ``samples_per_class`` consecutive samples of that
    class, cycling through a reshuffled list of its indices."""
    labels = np.asarray(labels, dtype=np.int64)
    total = len(labels) * repeat
    lists = class_index_lists(labels, num_classes)
    present = np.array([c for c in range(num_classes) if len(lists[c])])
    if total == 0 or present.size == 0:
        return np.zeros(0, dtype=np.int64)
    visits = -(-total // samples_per_class)
    cycles = -(-visits // present.size)
    class_seq = np.concatenate([rng.permutation(present) for _ in range(cycles)])[:visits]
    need = np.bincount(class_seq, minlength=num_classes) * samples_per_class
    streams = {}
    for c in present:                       # per class, not per sample
        idx = lists[c]
        reps = -(-int(need[c]) // len(idx)) if need[c] else 0
        streams[c] = np.concatenate([rng.permutation(idx) for _ in range(reps)]) if reps else idx[:0]
    # the k-th visit of class c takes entries [4k, 4k+4) of its stream
    out = np.empty((visits, samples_per_class), dtype=np.int64)
    for c in present:
        pos = np.flatnonzero(class_seq == c)
        if pos.size:
            out[pos] = streams[c][: pos.size * samples_per_class].reshape(pos.size, samples_per_class)
    return out.reshape(-1)[:total]
