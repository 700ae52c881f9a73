"""Statistics over seeds and paired comparisons between methods (docs/evaluation.md).

- :func:`mean_std`: mean ± sample standard deviation (ddof = 1) over seeds.
- :func:`paired_seed_test`: per-seed differences d_s = A(s) − B(s), their mean and std, the count of
  d_s > 0 and a two-sided paired t-test on S − 1 degrees of freedom (low power at S = 3: reported,
  never used alone to call a difference real).
- :func:`paired_bootstrap`: class-stratified paired bootstrap over test samples (10 000 resamples,
  same indices for A and B and for all seeds); the statistic is the seed-averaged metric difference
  (top-1, balanced accuracy, Few); 95 % percentile interval; significant iff it excludes 0.

All functions return plain dicts of Python floats/ints/None.

Vectorisation of the bootstrap: every statistic here depends on a resample only through the
per-class number of correct predictions of each (method, seed). Within class c, each of the n_c
draws picks one test sample uniformly, and what matters about that sample is its *correctness
pattern* across the 2·S prediction vectors (A and B, every seed). Drawing n_c indices with
replacement is therefore exactly a multinomial draw of n_c over the distinct patterns with their
empirical frequencies: one ``Generator.multinomial`` call per class of shape (R, P), with
P ≤ min(n_c, 2^(2S)) patterns, instead of R × n_c index gathers. The distribution is identical to
index resampling; only the random stream differs.
"""
from __future__ import annotations

import math
import warnings
from typing import Dict, Iterable, Mapping, Optional, Sequence

import numpy as np

BOOTSTRAP_METRICS = ("top1", "balanced_acc", "few")
N_RESAMPLES = 10_000


def _f(x) -> Optional[float]:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def mean_std(values: Iterable[Optional[float]]) -> Dict[str, object]:
    """{"mean", "std" (ddof 1; None for one value), "n"} over the non-missing values."""
    v = np.array([x for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))],
                 dtype=np.float64)
    if v.size == 0:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else None, "n": int(v.size)}


def paired_seed_test(a: Mapping[int, Optional[float]], b: Mapping[int, Optional[float]]) -> Dict[str, object]:
    """Paired comparison by seed index of metric values ``a[seed]`` and ``b[seed]`` (docs/evaluation.md).

    Only seeds present (and not None) in both are used."""
    seeds = sorted(s for s in set(a) & set(b) if a[s] is not None and b[s] is not None)
    d = np.array([a[s] - b[s] for s in seeds], dtype=np.float64)
    out = {"seeds": [int(s) for s in seeds], "n_seeds": len(seeds), "mean_diff": None, "std_diff": None,
           "n_positive": int((d > 0).sum()), "t_stat": None, "p_value": None}
    if d.size:
        out["mean_diff"] = float(d.mean())
    if d.size > 1:
        out["std_diff"] = float(d.std(ddof=1))
        if out["std_diff"] > 0:
            from scipy import stats as sst   # scipy only where the t-test is needed
            with warnings.catch_warnings():  # near-identical differences warn about precision; value is fine
                warnings.simplefilter("ignore", RuntimeWarning)
                res = sst.ttest_rel([a[s] for s in seeds], [b[s] for s in seeds])
            out["t_stat"], out["p_value"] = _f(res.statistic), _f(res.pvalue)
    return out


def _group_mask(metric: str, train_counts: Optional[np.ndarray], c: int,
                groups: Optional[Mapping[str, float]] = None) -> Optional[np.ndarray]:
    if metric in ("top1", "balanced_acc"):
        return None
    if train_counts is None:
        raise ValueError(f"metric '{metric}' needs the training counts (Many/Medium/Few groups)")
    t = np.asarray(train_counts)
    if t.shape != (c,):
        raise ValueError(f"train_counts has shape {t.shape}, expected ({c},)")
    hi = float((groups or {}).get("many_above", 100))    # the run's Many/Few thresholds (metrics "groups")
    lo = float((groups or {}).get("few_below", 20))
    return {"many": t > hi, "medium": (t >= lo) & (t <= hi), "few": t < lo}[metric]


def paired_bootstrap(labels: np.ndarray, correct_a: np.ndarray, correct_b: np.ndarray,
                     train_counts: Optional[np.ndarray] = None, metrics: Sequence[str] = BOOTSTRAP_METRICS,
                     n_resamples: int = N_RESAMPLES, seed: int = 0, ci: float = 0.95,
                     num_classes: Optional[int] = None,
                     groups: Optional[Mapping[str, float]] = None) -> Dict[str, Dict[str, object]]:
    """Class-stratified paired bootstrap of the seed-averaged difference A − B (docs/evaluation.md).

    ``correct_a`` and ``correct_b`` are boolean arrays (S, N): top-1 correctness of each seed's run
    on the same N test samples (paired by seed index, same sample order as ``labels``). Returns per
    metric {"diff" (on the original sample), "lo", "hi", "significant", "n_resamples"}; a metric whose
    class group is empty gives None values. ``groups``: the Many/Few thresholds of the runs
    ({"many_above", "few_below"}, as stored in their metrics; default 100 / 20)."""
    labels = np.asarray(labels, dtype=np.int64)
    ca = np.atleast_2d(np.asarray(correct_a, dtype=bool))
    cb = np.atleast_2d(np.asarray(correct_b, dtype=bool))
    if ca.shape != cb.shape or ca.shape[1] != labels.size:
        raise ValueError(f"correct_a {ca.shape} and correct_b {cb.shape} must both be (S, N={labels.size}), "
                         "paired by seed")
    s = ca.shape[0]
    if num_classes is not None:
        c = int(num_classes)
    elif train_counts is not None:
        c = len(train_counts)
    else:
        c = int(labels.max()) + 1
    n_test = np.bincount(labels, minlength=c).astype(np.float64)
    masks = {m: _group_mask(m, train_counts, c, groups) for m in metrics}
    # classes entering each metric's class average (top1 pools samples instead)
    members = {m: (n_test > 0) if mk is None else ((n_test > 0) & mk) for m, mk in masks.items()}

    # correctness pattern of each sample over the 2S prediction vectors, packed into one integer
    bits = np.concatenate([ca, cb]).T                                    # (N, 2S)
    codes = bits.astype(np.int64) @ (1 << np.arange(2 * s, dtype=np.int64))
    rng = np.random.default_rng(seed)
    # running sums per metric: (R, 2S) for the resamples, (2S,) for the observed data
    acc = {m: np.zeros((n_resamples, 2 * s)) for m in metrics}
    obs = {m: np.zeros(2 * s) for m in metrics}
    for cls in range(c):
        idx = labels == cls
        if not idx.any():
            continue
        pat, freq = np.unique(codes[idx], return_counts=True)
        pat_bits = ((pat[:, None] >> np.arange(2 * s)) & 1).astype(np.float64)   # (P, 2S)
        draws = rng.multinomial(int(freq.sum()), freq / freq.sum(), size=n_resamples)  # (R, P)
        k = draws @ pat_bits                                             # resampled correct counts (R, 2S)
        k_obs = freq @ pat_bits
        for m in metrics:
            if m == "top1":
                acc[m] += k
                obs[m] += k_obs
            elif members[m][cls]:
                acc[m] += k / n_test[cls]
                obs[m] += k_obs / n_test[cls]

    alpha = (1.0 - ci) / 2.0
    out: Dict[str, Dict[str, object]] = {}
    for m in metrics:
        denom = n_test.sum() if m == "top1" else members[m].sum()
        if denom == 0:
            out[m] = {"diff": None, "lo": None, "hi": None, "significant": None, "n_resamples": int(n_resamples)}
            continue
        vals, o = acc[m] / denom, obs[m] / denom
        diffs = vals[:, :s].mean(axis=1) - vals[:, s:].mean(axis=1)
        lo, hi = np.quantile(diffs, [alpha, 1.0 - alpha])
        out[m] = {"diff": float(o[:s].mean() - o[s:].mean()), "lo": float(lo), "hi": float(hi),
                  "significant": bool(lo > 0 or hi < 0), "n_resamples": int(n_resamples)}
    return out


def compare(values_a: Mapping[int, Mapping[str, Optional[float]]], values_b: Mapping[int, Mapping[str, Optional[float]]],
            metrics: Sequence[str] = BOOTSTRAP_METRICS) -> Dict[str, Dict[str, object]]:
    """:func:`paired_seed_test` for each metric from {seed: {metric: value}} of A and B."""
    return {m: paired_seed_test({s: v.get(m) for s, v in values_a.items()},
                                {s: v.get(m) for s, v in values_b.items()}) for m in metrics}


__all__ = ("BOOTSTRAP_METRICS", "N_RESAMPLES", "mean_std", "paired_seed_test", "paired_bootstrap",
           "compare")
