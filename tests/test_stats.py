"""Seed statistics and paired comparisons (docs/evaluation.md)."""
import numpy as np
import pytest
from scipy import stats as sst

from benchmark.stats import mean_std, paired_bootstrap, paired_seed_test


def test_mean_std_uses_sample_std():
    r = mean_std([0.70, 0.72, 0.74])
    assert r["mean"] == pytest.approx(0.72) and r["std"] == pytest.approx(0.02) and r["n"] == 3
    assert mean_std([0.5]) == {"mean": 0.5, "std": None, "n": 1}
    assert mean_std([None, 0.4, float("nan"), 0.6])["n"] == 2
    assert mean_std([]) == {"mean": None, "std": None, "n": 0}


def test_paired_seed_test():
    a = {0: 0.80, 1: 0.78, 2: 0.81}
    b = {0: 0.76, 1: 0.77, 2: 0.80, 3: 0.5}       # seed 3 has no partner: ignored
    r = paired_seed_test(a, b)
    d = np.array([0.04, 0.01, 0.01])
    assert r["seeds"] == [0, 1, 2] and r["n_seeds"] == 3
    assert r["mean_diff"] == pytest.approx(d.mean()) and r["std_diff"] == pytest.approx(d.std(ddof=1))
    assert r["n_positive"] == 3
    t = d.mean() / (d.std(ddof=1) / np.sqrt(3))
    assert r["t_stat"] == pytest.approx(t)
    assert r["p_value"] == pytest.approx(2 * sst.t.sf(abs(t), df=2))
    one = paired_seed_test({0: 0.8}, {0: 0.7})
    assert one["mean_diff"] == pytest.approx(0.1) and one["std_diff"] is None and one["p_value"] is None


def _data(seed=0, n_per=50, c=10, s=3):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(c), n_per)
    a = rng.random((s, labels.size)) < 0.75
    b = rng.random((s, labels.size)) < 0.65
    counts = np.array([300, 150, 101, 100, 60, 20, 19, 12, 8, 5])[:c]
    return labels, a, b, counts


def test_bootstrap_point_estimates_and_interval():
    labels, a, b, counts = _data()
    r = paired_bootstrap(labels, a, b, counts, n_resamples=10_000, seed=1)
    assert r["top1"]["diff"] == pytest.approx(a.mean() - b.mean())
    per_class = lambda c: np.stack([c[:, labels == k].mean(1) for k in range(10)], 1)   # (S, C)
    assert r["balanced_acc"]["diff"] == pytest.approx((per_class(a).mean(1) - per_class(b).mean(1)).mean())
    few = counts < 20
    assert r["few"]["diff"] == pytest.approx((per_class(a)[:, few].mean(1) - per_class(b)[:, few].mean(1)).mean())
    for m in ("top1", "balanced_acc", "few"):
        assert r[m]["lo"] < r[m]["diff"] < r[m]["hi"]
        assert r[m]["significant"] == (r[m]["lo"] > 0 or r[m]["hi"] < 0)
    assert r["top1"]["significant"] is True                 # a 10-point gap on 1 500 paired predictions
    # reproducible with a seed
    assert paired_bootstrap(labels, a, b, counts, n_resamples=2000, seed=3) == \
        paired_bootstrap(labels, a, b, counts, n_resamples=2000, seed=3)


def test_identical_methods_give_zero_interval():
    labels, a, _, counts = _data()
    r = paired_bootstrap(labels, a, a.copy(), counts, n_resamples=1000)
    for m in ("top1", "balanced_acc", "few"):
        assert r[m]["diff"] == 0 and r[m]["lo"] == 0 and r[m]["hi"] == 0 and r[m]["significant"] is False


def test_bootstrap_matches_index_resampling():
    """The multinomial-over-patterns draw has the distribution of plain per-class index resampling."""
    labels, a, b, counts = _data(seed=4, n_per=20, c=6, s=2)
    r = paired_bootstrap(labels, a, b, counts[:6], metrics=("top1",), n_resamples=20_000, seed=0, ci=0.9)
    rng = np.random.default_rng(123)
    diffs = []
    for _ in range(4000):
        idx = np.concatenate([rng.choice(np.flatnonzero(labels == k), size=20, replace=True) for k in range(6)])
        diffs.append(a[:, idx].mean() - b[:, idx].mean())
    lo, hi = np.quantile(diffs, [0.05, 0.95])
    assert r["top1"]["lo"] == pytest.approx(lo, abs=0.015) and r["top1"]["hi"] == pytest.approx(hi, abs=0.015)


def test_empty_group_and_bad_shapes():
    labels, a, b, _ = _data()
    r = paired_bootstrap(labels, a, b, np.full(10, 50), n_resamples=200)     # no Few class
    assert r["few"]["diff"] is None and r["few"]["significant"] is None
    with pytest.raises(ValueError, match="paired by seed"):
        paired_bootstrap(labels, a, b[:2], np.full(10, 50))
    with pytest.raises(ValueError, match="training counts"):
        paired_bootstrap(labels, a, b, None)
