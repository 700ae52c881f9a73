"""Statistics over training seeds and paired comparisons between methods.

Why training seeds decide. Two methods trained once each differ by the methods *and* by the luck of
one initialisation, sampler order and augmentation draw. A bootstrap over the test clips of that one
pair of runs measures only how the fixed test set samples the classes; it says nothing about the
run-to-run spread, which on long-tailed data is often several points on the tail. So:

- :func:`mean_std`: mean ± sample standard deviation (ddof = 1) over seeds.
- :func:`paired_seed_test`: per-seed differences d_s = A(s) − B(s) (paired by seed index), their
  mean, sample std, the count of d_s > 0 and a two-sided paired t-test on S − 1 degrees of freedom
  (``scipy.stats.ttest_rel``) with its t interval of the mean difference.
- :func:`paired_bootstrap`: the seed-averaged difference, resampled. With ``resample_seeds=False``
  only the test samples are resampled (class-stratified, the same indices for A and B and for all
  seeds): the *test-sampling* interval. With ``resample_seeds=True`` it is a two-level bootstrap:
  each resample first draws S seed pairs with replacement, then the test samples, so the interval
  carries the training variance as well.
- :func:`compare_methods`: the verdict used by the report. A difference is called real only when
  there are at least :data:`MIN_SEEDS` paired seeds, the paired t-test gives p < 0.05 *and* the
  two-level bootstrap interval excludes 0. With fewer seeds the interval shown is the test-sampling
  one, labelled as such, and nothing is marked.
- :func:`mean_interval`: the interval of one configuration's seed mean (two-level with ≥ 3 seeds,
  test-sampling otherwise), for the ranked tables.

All functions return plain dicts of Python floats/ints/None/str.

Vectorisation of the test-level resample: every statistic here depends on a resample only through
the per-class number of correct predictions of each prediction vector (a method × seed). Within
class c, each of the n_c draws picks one test sample uniformly, and what matters about that sample
is its *correctness pattern* across the V prediction vectors. Drawing n_c indices with replacement
is therefore exactly a multinomial draw of n_c over the distinct patterns with their empirical
frequencies: one ``Generator.multinomial`` call per class of shape (R, P), with P ≤ min(n_c, 2^V)
patterns, instead of R × n_c index gathers. The seed level is one multinomial draw of S over the S
seeds per resample: the seed-averaged statistic becomes a weighted mean with those counts / S.
"""
from __future__ import annotations

import math
import warnings
from typing import Dict, Iterable, Mapping, Optional, Sequence

import numpy as np

#: metrics the bootstrap can resample from per-sample correctness (per-class means or pooled top-1)
BOOTSTRAP_METRICS = ("top1", "balanced_acc", "few")
RESAMPLABLE = ("top1", "balanced_acc", "many", "medium", "few", "head", "middle", "tail")
N_RESAMPLES = 10_000
#: fewer paired seeds than this never give a "real" mark (training variance is not observed)
MIN_SEEDS = 3
ALPHA = 0.05
SINGLE_SEED_NOTE = "single seed: test-sampling interval only"


def few_seeds_note(n: int) -> str:
    """The label of an interval that does not include training variance."""
    return SINGLE_SEED_NOTE if n <= 1 else f"{n} seeds: test-sampling interval only"


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


def t_interval(d: Sequence[float], ci: float = 0.95) -> tuple:
    """Student-t interval of the mean of ``d``: mean ± t_{(1+ci)/2, S−1} · sd / √S; (None, None) for S < 2."""
    d = np.asarray(d, dtype=np.float64)
    if d.size < 2:
        return None, None
    from scipy import stats as sst

    half = float(sst.t.ppf(0.5 + ci / 2.0, d.size - 1)) * float(d.std(ddof=1)) / math.sqrt(d.size)
    return float(d.mean() - half), float(d.mean() + half)


def paired_seed_test(a: Mapping[int, Optional[float]], b: Mapping[int, Optional[float]],
                     ci: float = 0.95) -> Dict[str, object]:
    """Paired comparison by seed index of metric values ``a[seed]`` and ``b[seed]``.

    Only seeds present (and not None) in both are used. ``t_lo``/``t_hi``: the t interval of the mean
    difference (None below two seeds)."""
    seeds = sorted(s for s in set(a) & set(b) if a[s] is not None and b[s] is not None)
    d = np.array([a[s] - b[s] for s in seeds], dtype=np.float64)
    out = {"seeds": [int(s) for s in seeds], "n_seeds": len(seeds), "mean_diff": None, "std_diff": None,
           "n_positive": int((d > 0).sum()), "t_stat": None, "p_value": None, "t_lo": None, "t_hi": None}
    if d.size:
        out["mean_diff"] = float(d.mean())
    if d.size > 1:
        out["std_diff"] = float(d.std(ddof=1))
        out["t_lo"], out["t_hi"] = t_interval(d, ci)
        if out["std_diff"] > 0:
            from scipy import stats as sst   # scipy only where the t-test is needed
            with warnings.catch_warnings():  # near-identical differences warn about precision; value is fine
                warnings.simplefilter("ignore", RuntimeWarning)
                res = sst.ttest_rel([a[s] for s in seeds], [b[s] for s in seeds])
            out["t_stat"], out["p_value"] = _f(res.statistic), _f(res.pvalue)
        elif out["mean_diff"] != 0:       # identical non-zero difference on every seed: no spread at all
            out["p_value"] = 0.0
    return out


def _group_mask(metric: str, train_counts: Optional[np.ndarray], c: int,
                groups: Optional[Mapping[str, float]] = None) -> Optional[np.ndarray]:
    """Classes entering a class-averaged metric (None: all classes, or pooled for top-1).

    ``groups``: the split's Many/Few thresholds ({"many_above", "few_below"}, as the runs record
    them in their metrics); default 100 / 20."""
    if metric in ("top1", "balanced_acc"):
        return None
    if metric not in RESAMPLABLE:
        raise ValueError(f"metric '{metric}' cannot be bootstrapped; choose from {list(RESAMPLABLE)}")
    if train_counts is None:
        raise ValueError(f"metric '{metric}' needs the training counts (Many/Medium/Few groups)")
    t = np.asarray(train_counts)
    if t.shape != (c,):
        raise ValueError(f"train_counts has shape {t.shape}, expected ({c},)")
    if metric in ("head", "middle", "tail"):
        from benchmark.data.splits import frequency_rank
        from benchmark.metrics import thirds

        mask = np.zeros(c, dtype=bool)
        mask[frequency_rank(t)[thirds(c)[("head", "middle", "tail").index(metric)]]] = True
        return mask
    hi = float((groups or {}).get("many_above", 100))
    lo = float((groups or {}).get("few_below", 20))
    return {"many": t > hi, "medium": (t >= lo) & (t <= hi), "few": t < lo}[metric]


def _num_classes(labels, train_counts, num_classes) -> int:
    if num_classes is not None:
        return int(num_classes)
    if train_counts is not None:
        return len(train_counts)
    return int(labels.max()) + 1


def resampled_values(labels: np.ndarray, correct: np.ndarray, train_counts: Optional[np.ndarray],
                     metrics: Sequence[str], n_resamples: int, rng: np.random.Generator,
                     num_classes: Optional[int] = None,
                     groups: Optional[Mapping[str, float]] = None) -> Dict[str, Optional[tuple]]:
    """Per metric (observed (V,), resampled (R, V)) values of V prediction vectors under one shared
    class-stratified resample of the test samples; None where the metric's class group is empty.

    ``correct`` (V, N): top-1 correctness of each vector on the same N test samples."""
    labels = np.asarray(labels, dtype=np.int64)
    corr = np.atleast_2d(np.asarray(correct, dtype=bool))
    if corr.shape[1] != labels.size:
        raise ValueError(f"correctness has {corr.shape[1]} samples, labels {labels.size}")
    v = corr.shape[0]
    c = _num_classes(labels, train_counts, num_classes)
    n_test = np.bincount(labels, minlength=c).astype(np.float64)
    masks = {m: _group_mask(m, train_counts, c, groups) for m in metrics}
    members = {m: (n_test > 0) if mk is None else ((n_test > 0) & mk) for m, mk in masks.items()}
    if v > 62:
        raise ValueError(f"{v} prediction vectors are too many to bootstrap together (at most 62)")
    codes = corr.T.astype(np.int64) @ (1 << np.arange(v, dtype=np.int64))   # pattern of each sample
    acc = {m: np.zeros((n_resamples, v)) for m in metrics}
    obs = {m: np.zeros(v) for m in metrics}
    for cls in range(c):
        idx = labels == cls
        if not idx.any():
            continue
        pat, freq = np.unique(codes[idx], return_counts=True)
        pat_bits = ((pat[:, None] >> np.arange(v)) & 1).astype(np.float64)           # (P, V)
        draws = rng.multinomial(int(freq.sum()), freq / freq.sum(), size=n_resamples)  # (R, P)
        k = draws @ pat_bits                                                       # (R, V)
        k_obs = freq @ pat_bits
        for m in metrics:
            if m == "top1":
                acc[m] += k
                obs[m] += k_obs
            elif members[m][cls]:
                acc[m] += k / n_test[cls]
                obs[m] += k_obs / n_test[cls]
    out: Dict[str, Optional[tuple]] = {}
    for m in metrics:
        denom = n_test.sum() if m == "top1" else members[m].sum()
        out[m] = None if denom == 0 else (obs[m] / denom, acc[m] / denom)
    return out


def _seed_weights(rng: np.random.Generator, n_resamples: int, s: int, resample: bool) -> np.ndarray:
    """(R, S) weights of the seeds in each resample: counts of S draws with replacement / S, or 1/S."""
    if not resample or s == 1:
        return np.full((n_resamples, s), 1.0 / s)
    return rng.multinomial(s, np.full(s, 1.0 / s), size=n_resamples) / s


def paired_bootstrap(labels: np.ndarray, correct_a: np.ndarray, correct_b: np.ndarray,
                     train_counts: Optional[np.ndarray] = None, metrics: Sequence[str] = BOOTSTRAP_METRICS,
                     n_resamples: int = N_RESAMPLES, seed: int = 0, ci: float = 0.95,
                     num_classes: Optional[int] = None, resample_seeds: bool = False,
                     groups: Optional[Mapping[str, float]] = None) -> Dict[str, Dict[str, object]]:
    """Bootstrap of the seed-averaged difference A − B.

    ``correct_a`` and ``correct_b`` are boolean arrays (S, N): top-1 correctness of each seed's run
    on the same N test samples (paired by seed index, same sample order as ``labels``). Returns per
    metric {"diff" (on the original sample), "lo", "hi", "excludes_zero", "significant" (same value,
    kept for old callers), "levels" ("seeds+test" or "test"), "n_resamples"}; a metric whose class
    group is empty gives None values."""
    ca = np.atleast_2d(np.asarray(correct_a, dtype=bool))
    cb = np.atleast_2d(np.asarray(correct_b, dtype=bool))
    labels = np.asarray(labels, dtype=np.int64)
    if ca.shape != cb.shape or ca.shape[1] != labels.size:
        raise ValueError(f"correct_a {ca.shape} and correct_b {cb.shape} must both be (S, N={labels.size}), "
                         "paired by seed")
    s = ca.shape[0]
    rng = np.random.default_rng(seed)
    vals = resampled_values(labels, np.concatenate([ca, cb]), train_counts, metrics, n_resamples, rng, num_classes,
                            groups)
    w = _seed_weights(rng, n_resamples, s, resample_seeds)
    levels = "seeds+test" if resample_seeds and s > 1 else "test"
    alpha = (1.0 - ci) / 2.0
    out: Dict[str, Dict[str, object]] = {}
    for m in metrics:
        if vals[m] is None:
            out[m] = {"diff": None, "lo": None, "hi": None, "excludes_zero": None, "significant": None,
                      "levels": levels, "n_resamples": int(n_resamples)}
            continue
        o, boot = vals[m]
        diffs = (w * (boot[:, :s] - boot[:, s:])).sum(axis=1)
        lo, hi = np.quantile(diffs, [alpha, 1.0 - alpha])
        ex = bool(lo > 0 or hi < 0)
        out[m] = {"diff": float(o[:s].mean() - o[s:].mean()), "lo": float(lo), "hi": float(hi),
                  "excludes_zero": ex, "significant": ex, "levels": levels, "n_resamples": int(n_resamples)}
    return out


def mean_interval(labels: np.ndarray, correct: np.ndarray, train_counts: Optional[np.ndarray] = None,
                  metrics: Sequence[str] = BOOTSTRAP_METRICS, n_resamples: int = N_RESAMPLES, seed: int = 0,
                  ci: float = 0.95, num_classes: Optional[int] = None,
                  groups: Optional[Mapping[str, float]] = None) -> Dict[str, Dict[str, object]]:
    """Interval of one configuration's seed-mean metric from its runs' correctness ``correct`` (S, N).

    Two-level (seeds, then test samples) with at least :data:`MIN_SEEDS` seeds; below that only the
    test samples are resampled and ``note`` says so."""
    corr = np.atleast_2d(np.asarray(correct, dtype=bool))
    s = corr.shape[0]
    rng = np.random.default_rng(seed)
    vals = resampled_values(labels, corr, train_counts, metrics, n_resamples, rng, num_classes, groups)
    two_level = s >= MIN_SEEDS
    w = _seed_weights(rng, n_resamples, s, two_level)
    alpha = (1.0 - ci) / 2.0
    out = {}
    for m in metrics:
        if vals[m] is None:
            out[m] = {"mean": None, "lo": None, "hi": None, "n_seeds": s, "levels": None, "note": ""}
            continue
        o, boot = vals[m]
        lo, hi = np.quantile((w * boot).sum(axis=1), [alpha, 1.0 - alpha])
        out[m] = {"mean": float(o.mean()), "lo": float(lo), "hi": float(hi), "n_seeds": s,
                  "levels": "seeds+test" if two_level else "test", "note": "" if two_level else few_seeds_note(s)}
    return out


def verdict(n_seeds: int, p_value: Optional[float], boot: Optional[Mapping[str, object]]) -> tuple:
    """(significant, note): real only with ≥ MIN_SEEDS seeds, p < ALPHA and a two-level interval excluding 0."""
    if n_seeds < MIN_SEEDS:
        return False, few_seeds_note(n_seeds)
    if not boot or boot.get("lo") is None:
        return False, "no test predictions: seeds-and-test bootstrap not computed"
    if boot.get("levels") != "seeds+test":
        return False, "interval resamples test samples only"
    ex = bool(boot["excludes_zero"])
    p_ok = p_value is not None and p_value < ALPHA
    if ex and p_ok:
        return True, ""
    why = [] if ex else ["interval includes 0"]
    if not p_ok:
        why.append("paired t-test p ≥ 0.05" if p_value is not None else "no seed spread for a t-test")
    return False, "; ".join(why)


def compare_methods(values_a: Mapping[int, Mapping[str, Optional[float]]],
                    values_b: Mapping[int, Mapping[str, Optional[float]]],
                    labels: Optional[np.ndarray] = None, correct_a: Optional[np.ndarray] = None,
                    correct_b: Optional[np.ndarray] = None, train_counts: Optional[np.ndarray] = None,
                    metrics: Sequence[str] = BOOTSTRAP_METRICS, n_resamples: int = N_RESAMPLES, seed: int = 0,
                    ci: float = 0.95, num_classes: Optional[int] = None,
                    groups: Optional[Mapping[str, float]] = None) -> Dict[str, Dict[str, object]]:
    """Paired comparison of A and B per metric: seed statistics, bootstrap and the verdict.

    ``values_*``: {seed: {metric: value}} from the runs' metrics; ``correct_*`` (S, N) the
    correctness of the common seeds in ascending seed order (None: no bootstrap). With ≥ 3 seeds the
    bootstrap is two-level, else test-only. Each metric's dict holds the :func:`paired_seed_test`
    fields, ``boot_diff``, ``ci_lo``, ``ci_hi``, ``levels``, ``significant`` and ``note``."""
    boot = {}
    if correct_a is not None and correct_b is not None and labels is not None:
        s = np.atleast_2d(correct_a).shape[0]
        ok = [m for m in metrics if m in ("top1", "balanced_acc") or train_counts is not None]
        boot = paired_bootstrap(labels, correct_a, correct_b, train_counts, metrics=ok, n_resamples=n_resamples,
                                seed=seed, ci=ci, num_classes=num_classes, resample_seeds=s >= MIN_SEEDS,
                                groups=groups)
    out = {}
    for m in metrics:
        t = paired_seed_test({s: v.get(m) for s, v in values_a.items()},
                             {s: v.get(m) for s, v in values_b.items()}, ci=ci)
        b = boot.get(m) or {}
        sig, note = verdict(t["n_seeds"], t["p_value"], b)
        out[m] = {**t, "boot_diff": b.get("diff"), "ci_lo": b.get("lo"), "ci_hi": b.get("hi"),
                  "levels": b.get("levels"), "n_resamples": b.get("n_resamples"), "significant": sig, "note": note}
    return out


def compare(values_a: Mapping[int, Mapping[str, Optional[float]]], values_b: Mapping[int, Mapping[str, Optional[float]]],
            metrics: Sequence[str] = BOOTSTRAP_METRICS) -> Dict[str, Dict[str, object]]:
    """:func:`paired_seed_test` for each metric from {seed: {metric: value}} of A and B."""
    return {m: paired_seed_test({s: v.get(m) for s, v in values_a.items()},
                                {s: v.get(m) for s, v in values_b.items()}) for m in metrics}


__all__ = ("ALPHA", "BOOTSTRAP_METRICS", "MIN_SEEDS", "N_RESAMPLES", "RESAMPLABLE", "SINGLE_SEED_NOTE", "compare",
           "compare_methods", "few_seeds_note", "mean_interval", "mean_std", "paired_bootstrap", "paired_seed_test",
           "resampled_values", "t_interval", "verdict")
