"""Evaluation metrics on 10-clip-averaged test probabilities (docs/evaluation.md).

:func:`compute_metrics` is the one entry point the engine and the ensemble CLI call; it returns a
plain, JSON-serialisable dict (Python floats/ints/None and lists of them). All accuracies are
fractions in [0, 1] (the report multiplies by 100).

Conventions (docs/evaluation.md):

- per-class accuracy a_c = correct_c / N^test_c; classes without test samples are excluded
  (stored as ``None``) from every class average, never counted as 0;
- Many / Medium / Few use the *training* counts (> 100, 20–100, < 20 by default, or the dataset's own
  thresholds, recorded under ``groups``; docs/evaluation.md); an empty group (e.g. Many on
  NW-UCLA-LT) is ``None``, never 0;
- head / middle / tail thirds use the frequency rank: ranks 0…⌊C/3⌋−1, the middle, the last ⌊C/3⌋;
- the ten groups are consecutive chunks of the frequency rank (benchmark.data.splits.ten_group_index);
  a group's error is the mean of its classes' errors; the Fig. 7 head/middle/tail errors are the mean
  per-class error over the member classes of groups 1–3 / 4–7 / 8–10 (docs/evaluation.md);
- top-1 ties resolve to the lowest class index (as ``argmax``); top-k uses the same tie rule;
- ECE uses 15 equal bins ((b−1)/15, b/15] on the confidence max_c p_c; class-balanced ECE weights
  each sample by 1/N^test_{y_i} (normalised to sum 1); NLL clamps p_y at 1e−12.

The confusion matrix is not part of the stored metrics (the report computes it from
``test_probs.npz``); :func:`confusion_matrix` and :func:`reliability_bins` serve the report.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import numpy as np

from benchmark.data.splits import DEFAULT_GROUPS, GroupThresholds, frequency_rank, ten_group_index

N_ECE_BINS = 15
NLL_FLOOR = 1e-12
NUM_GROUPS = 10
#: rows of ``probs`` must sum to 1 within this tolerance (float32 sums over 400 classes stay far inside it)
ROW_SUM_TOL = 1e-3

#: scalar metric names in ``compute_metrics`` output (aggregate/report iterate over these, in this order)
SCALAR_METRICS = (
    "top1", "top5", "balanced_acc", "many", "medium", "few", "head", "middle", "tail",
    "many_minus_few", "head_minus_tail", "worst_class", "bottom10", "ece", "cb_ece", "nll",
    "fig7_head_error", "fig7_middle_error", "fig7_tail_error",
)


class MetricsError(ValueError):
    """Inputs to the metrics do not fit together (shapes, label range, unnormalised rows)."""


def _f(x) -> Optional[float]:
    """Plain Python float, or None for a missing value (keeps json.dump happy and NaN out)."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def check_inputs(probs: np.ndarray, labels: np.ndarray, train_counts: Optional[np.ndarray] = None,
                 where: str = "probabilities") -> tuple:
    """Validate and convert; raise :class:`MetricsError` naming ``where`` and the fix."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    if probs.ndim != 2:
        raise MetricsError(f"{where}: probs must have shape (N, C), got {probs.shape}")
    n, c = probs.shape
    if n == 0:
        raise MetricsError(f"{where}: no test samples")
    if labels.shape != (n,):
        raise MetricsError(f"{where}: labels must have shape ({n},) to match probs, got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise MetricsError(f"{where}: labels must be integers, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if labels.min() < 0 or labels.max() >= c:
        raise MetricsError(f"{where}: labels must lie in 0..{c - 1}, found {labels.min()}..{labels.max()}")
    if not np.isfinite(probs).all():
        i = int(np.argwhere(~np.isfinite(probs))[0, 0])
        raise MetricsError(f"{where}: non-finite probability in row {i}; the run diverged or the file is corrupt")
    if (probs < 0).any():
        raise MetricsError(f"{where}: negative probabilities; pass softmax outputs, not logits")
    sums = probs.sum(axis=1)
    bad = np.abs(sums - 1.0) > ROW_SUM_TOL
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MetricsError(f"{where}: row {i} sums to {sums[i]:.6f}, not 1; normalise the probabilities "
                           "(ensembles divide by the sum of weights, docs/evaluation.md)")
    if train_counts is not None:
        train_counts = np.asarray(train_counts)
        if train_counts.shape != (c,):
            raise MetricsError(f"{where}: train_counts must have one entry per class ({c}), got shape "
                               f"{train_counts.shape}; check the split's counts.csv")
        if (train_counts < 0).any():
            raise MetricsError(f"{where}: negative training counts")
        train_counts = train_counts.astype(np.int64)
    return probs, labels, train_counts


def true_class_rank(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Rank of the true class per sample (0 = predicted): #{p > p_y} + #{p == p_y, c < y}.

    Equal probabilities resolve to the lower class index, so rank 0 ⇔ argmax == y."""
    n, c = probs.shape
    py = probs[np.arange(n), labels][:, None]
    lower = np.arange(c)[None, :] < labels[:, None]
    return ((probs > py) | ((probs == py) & lower)).sum(axis=1)


def topk_accuracy(probs: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of samples with y among the k largest p (docs/evaluation.md); k is capped at C."""
    probs, labels, _ = check_inputs(probs, labels)
    return float((true_class_rank(probs, labels) < min(k, probs.shape[1])).mean())


def per_class_accuracy(correct: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """a_c = correct_c / N^test_c; NaN for classes without test samples."""
    n_test = np.bincount(labels, minlength=num_classes).astype(np.float64)
    n_corr = np.bincount(labels, weights=correct.astype(np.float64), minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_test > 0, n_corr / np.maximum(n_test, 1), np.nan)


def ece_from(confidence: np.ndarray, correct: np.ndarray, weights: Optional[np.ndarray] = None,
             n_bins: int = N_ECE_BINS) -> float:
    """Σ_b W_b · |acc_w(B_b) − conf_w(B_b)| with bins ((b−1)/n, b/n] (docs/evaluation.md).

    With ``weights=None`` every sample weighs 1/N (plain ECE); otherwise weights are normalised to
    sum 1 (class-balanced ECE passes 1/N^test_y). Σ_b |Σ_{i∈B_b} w_i (correct_i − q_i)| is the same sum."""
    confidence = np.asarray(confidence, dtype=np.float64)
    w = np.ones_like(confidence) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    b = bin_index(confidence, n_bins)
    gap = np.bincount(b, weights=w * (correct.astype(np.float64) - confidence), minlength=n_bins)
    return float(np.abs(gap).sum())


def bin_index(confidence: np.ndarray, n_bins: int = N_ECE_BINS) -> np.ndarray:
    """Bin b−1 for q in ((b−1)/n, b/n]; q = 0 goes to the first bin."""
    upper = np.linspace(0.0, 1.0, n_bins + 1)[1:]
    return np.clip(np.searchsorted(upper, confidence, side="left"), 0, n_bins - 1)


def reliability_bins(probs: np.ndarray, labels: np.ndarray, n_bins: int = N_ECE_BINS) -> Dict[str, list]:
    """Per-bin count, accuracy and mean confidence (None for empty bins): the reliability diagram."""
    probs, labels, _ = check_inputs(probs, labels)
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    b = bin_index(conf, n_bins)
    cnt = np.bincount(b, minlength=n_bins)
    acc = np.bincount(b, weights=correct, minlength=n_bins)
    mc = np.bincount(b, weights=conf, minlength=n_bins)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return {
        "lower": [float(x) for x in edges[:-1]],
        "upper": [float(x) for x in edges[1:]],
        "count": [int(x) for x in cnt],
        "accuracy": [float(a / k) if k else None for a, k in zip(acc, cnt)],
        "confidence": [float(m / k) if k else None for m, k in zip(mc, cnt)],
    }


def confusion_matrix(probs: np.ndarray, labels: np.ndarray, normalize: bool = True) -> np.ndarray:
    """(C, C) counts of (true, predicted); row-normalised (recall) when ``normalize`` (empty rows stay 0)."""
    probs, labels, _ = check_inputs(probs, labels)
    c = probs.shape[1]
    cm = np.bincount(labels * c + probs.argmax(axis=1), minlength=c * c).reshape(c, c).astype(np.float64)
    if normalize:
        rows = cm.sum(axis=1, keepdims=True)
        cm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    return cm


def _nanmean(values: np.ndarray) -> Optional[float]:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else None


def thirds(num_classes: int) -> List[np.ndarray]:
    """Rank positions of the head / middle / tail thirds: 0…⌊C/3⌋−1, the middle, the last ⌊C/3⌋."""
    t = num_classes // 3
    pos = np.arange(num_classes)
    return [pos[:t], pos[t:num_classes - t], pos[num_classes - t:]]


def fig7_parts(group10: np.ndarray) -> List[np.ndarray]:
    """Class masks for Fig. 7 head (groups 1–3), middle (4–7), tail (8–10); group10 is 0-based."""
    return [group10 <= 2, (group10 >= 3) & (group10 <= 6), group10 >= 7]


def compute_metrics(probs: np.ndarray, labels: np.ndarray, train_counts: np.ndarray,
                    where: str = "test probabilities",
                    groups: Optional[GroupThresholds] = None) -> Dict[str, object]:
    """All metrics of docs/evaluation.md for one run or fused ensemble.

    ``probs`` (N, C) normalised test probabilities (clip-averaged), ``labels`` (N,) ints,
    ``train_counts`` (C,) the training-list count n_c of each class (defines the groups);
    ``groups`` the Many/Few thresholds (default 100 / 20), stored in the output under ``groups``.
    Returns a JSON-serialisable dict; see :data:`SCALAR_METRICS` plus the lists ``per_class_acc``,
    ``group10_error``, ``train_counts``, ``test_counts`` and the group sizes ``n_many`` … ``n_few``.
    """
    probs, labels, counts = check_inputs(probs, labels, train_counts, where)
    n, c = probs.shape
    rank = true_class_rank(probs, labels)
    correct = rank == 0
    acc = per_class_accuracy(correct, labels, c)
    valid = ~np.isnan(acc)
    test_counts = np.bincount(labels, minlength=c)

    groups = groups or DEFAULT_GROUPS
    shots = np.array([groups.shot(int(x)) for x in counts])
    group_acc = {g: _nanmean(acc[shots == g]) for g in ("many", "medium", "few")}

    order = frequency_rank(counts)                      # class ids, head first
    head, middle, tail = (_nanmean(acc[order[p]]) for p in thirds(c))

    group10 = ten_group_index(counts, NUM_GROUPS)
    err = 1.0 - acc
    group10_error = [_nanmean(err[group10 == g]) for g in range(NUM_GROUPS)]
    fig7 = [_nanmean(err[m]) for m in fig7_parts(group10)]

    va = np.sort(acc[valid])
    k_bottom = int(math.ceil(0.1 * va.size))

    conf = probs.max(axis=1)
    ece = ece_from(conf, correct)
    cb_ece = ece_from(conf, correct, weights=1.0 / test_counts[labels])
    nll = float(-np.log(np.maximum(probs[np.arange(n), labels], NLL_FLOOR)).mean())

    def diff(a, b):
        return None if a is None or b is None else a - b

    out: Dict[str, object] = {
        "n_test": int(n),
        "num_classes": int(c),
        "top1": float(correct.mean()),
        "top5": float((rank < min(5, c)).mean()),
        "balanced_acc": float(va.mean()),
        "many": group_acc["many"],
        "medium": group_acc["medium"],
        "few": group_acc["few"],
        "n_many": int((shots == "many").sum()),
        "n_medium": int((shots == "medium").sum()),
        "n_few": int((shots == "few").sum()),
        "head": head,
        "middle": middle,
        "tail": tail,
        "many_minus_few": diff(group_acc["many"], group_acc["few"]),
        "head_minus_tail": diff(head, tail),
        "worst_class": float(va[0]),
        "bottom10": float(va[:k_bottom].mean()),
        "ece": ece,
        "cb_ece": cb_ece,
        "nll": nll,
        "fig7_head_error": fig7[0],
        "fig7_middle_error": fig7[1],
        "fig7_tail_error": fig7[2],
        "group10_error": group10_error,
        "per_class_acc": [None if np.isnan(a) else float(a) for a in acc],
        "train_counts": [int(x) for x in counts],
        "test_counts": [int(x) for x in test_counts],
        "groups": groups.to_dict(),
    }
    return {k: (_f(v) if isinstance(v, float) else v) for k, v in out.items()}


def load_groups_csv(path) -> GroupThresholds:
    """The Many/Few thresholds a split's ``*_counts.csv`` was written with (defaults if not recorded)."""
    from benchmark.data.splits import groups_from_counts_csv

    return groups_from_counts_csv(path)


def correct_per_class(correct: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Number of correct predictions per class (used by the bootstrap in benchmark.stats)."""
    return np.bincount(labels, weights=np.asarray(correct, dtype=np.float64), minlength=num_classes)


def load_counts_csv(path, num_classes: Optional[int] = None) -> np.ndarray:
    """Training counts n_c (ordered by class) from a split's ``*_counts.csv`` (benchmark.data.splits.counts_table)."""
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise MetricsError(f"counts file '{path}' does not exist; run the 'split' step first") from None
    for col in ("class", "count"):
        if col not in df.columns:
            raise MetricsError(f"{path}: missing column '{col}' (expected class,name,count,rank,shot,group10)")
    df = df.sort_values("class")
    classes = df["class"].to_numpy()
    if not np.array_equal(classes, np.arange(len(df))):
        raise MetricsError(f"{path}: the 'class' column must hold 0..C-1 exactly once each")
    if num_classes is not None and len(df) != num_classes:
        raise MetricsError(f"{path}: {len(df)} classes but the probabilities have {num_classes}; "
                           "the counts file belongs to another split")
    return df["count"].to_numpy(dtype=np.int64)


__all__: Sequence[str] = (
    "SCALAR_METRICS", "MetricsError", "compute_metrics", "topk_accuracy", "per_class_accuracy", "ece_from",
    "reliability_bins", "confusion_matrix", "thirds", "fig7_parts", "correct_per_class", "load_counts_csv",
    "check_inputs", "true_class_rank", "bin_index", "load_groups_csv",
)
