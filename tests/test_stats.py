"""Seed statistics and paired comparisons (docs/evaluation.md)."""
import numpy as np
import pytest
from scipy import stats as sst

from benchmark.stats import (SINGLE_SEED_NOTE, compare_methods, mean_interval, mean_std, paired_bootstrap,
                             paired_seed_test, t_interval, verdict)


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


def test_t_interval_worked_numbers():
    # d = (1, 2, 3): mean 2, sd 1, t_{0.975, 2} = 4.302653 -> half width 4.302653 / sqrt(3) = 2.484138
    lo, hi = t_interval([1.0, 2.0, 3.0])
    assert lo == pytest.approx(2 - 2.484138, abs=1e-6) and hi == pytest.approx(2 + 2.484138, abs=1e-6)
    assert t_interval([0.5]) == (None, None)


def test_tail_third_metric_matches_definition():
    labels, a, b, counts = _data(seed=2, c=9)
    counts = np.array([90, 80, 70, 60, 50, 40, 30, 20, 10])
    r = paired_bootstrap(labels, a, b, counts, metrics=("tail",), n_resamples=500)
    per_class = lambda c: np.stack([c[:, labels == k].mean(1) for k in range(9)], 1)
    tail = [6, 7, 8]                                      # the three least frequent classes
    assert r["tail"]["diff"] == pytest.approx((per_class(a)[:, tail].mean(1) - per_class(b)[:, tail].mean(1)).mean())


def _seed_runs(effect: float, n_seeds: int, seed_sd: float, rng, n_per=40, c=8):
    """Correctness (S, N) of A and B whose per-seed accuracy is p_B(s) + effect and p_B(s) = 0.6 + noise."""
    labels = np.repeat(np.arange(c), n_per)
    a, b, va, vb = [], [], {}, {}
    for s in range(n_seeds):
        pb = 0.6 + rng.normal(0, seed_sd)
        ca = rng.random(labels.size) < pb + effect
        cb = rng.random(labels.size) < pb
        a.append(ca)
        b.append(cb)
        pca = lambda x: np.mean([x[labels == k].mean() for k in range(c)])
        va[s] = {"top1": ca.mean(), "balanced_acc": pca(ca)}
        vb[s] = {"top1": cb.mean(), "balanced_acc": pca(cb)}
    return labels, np.array(a), np.array(b), va, vb


def test_single_seed_marks_nothing_even_for_a_large_gap():
    rng = np.random.default_rng(0)
    labels, a, b, va, vb = _seed_runs(0.25, 1, 0.0, rng)
    r = compare_methods(va, vb, labels, a, b, metrics=("top1", "balanced_acc"), n_resamples=2000)
    for m in ("top1", "balanced_acc"):
        assert r[m]["significant"] is False and r[m]["note"] == SINGLE_SEED_NOTE
        assert r[m]["levels"] == "test"
        assert r[m]["ci_lo"] > 0          # the test-sampling interval excludes 0, yet nothing is marked
    two = compare_methods(*_seed_runs(0.25, 2, 0.0, rng)[3:], metrics=("top1",))
    assert two["top1"]["significant"] is False and two["top1"]["note"] == "2 seeds: test-sampling interval only"


@pytest.mark.parametrize("effect,truth", [(0.15, True), (0.0, False), (-0.15, True)])
def test_three_seeds_marks_match_the_truth(effect, truth):
    rng = np.random.default_rng(7)
    labels, a, b, va, vb = _seed_runs(effect, 3, 0.01, rng)
    r = compare_methods(va, vb, labels, a, b, metrics=("top1", "balanced_acc"), n_resamples=4000)
    for m in ("top1", "balanced_acc"):
        assert r[m]["levels"] == "seeds+test"
        assert r[m]["significant"] is truth, (m, r[m])
        if truth:
            assert np.sign(r[m]["mean_diff"]) == np.sign(effect)


def test_seed_noise_larger_than_effect_is_not_real():
    """The test-only interval would exclude 0, but the seeds disagree: no mark."""
    labels = np.repeat(np.arange(5), 200)
    rng = np.random.default_rng(3)
    shifts = [0.12, -0.04, 0.10]                          # A better on two seeds, worse on one
    a = np.array([rng.random(labels.size) < 0.6 + d for d in shifts])
    b = np.array([rng.random(labels.size) < 0.6 for _ in shifts])
    va = {s: {"top1": a[s].mean()} for s in range(3)}
    vb = {s: {"top1": b[s].mean()} for s in range(3)}
    test_only = paired_bootstrap(labels, a, b, metrics=("top1",), n_resamples=4000)
    assert test_only["top1"]["excludes_zero"] is True
    r = compare_methods(va, vb, labels, a, b, metrics=("top1",), n_resamples=4000)
    assert r["top1"]["significant"] is False
    two = paired_bootstrap(labels, a, b, metrics=("top1",), n_resamples=4000, resample_seeds=True)
    assert two["top1"]["hi"] - two["top1"]["lo"] > test_only["top1"]["hi"] - test_only["top1"]["lo"]


def test_verdict_rules():
    boot = {"lo": 0.01, "hi": 0.05, "excludes_zero": True, "levels": "seeds+test"}
    assert verdict(3, 0.01, boot) == (True, "")
    assert verdict(3, 0.2, boot) == (False, "paired t-test p ≥ 0.05")
    assert verdict(2, 0.01, boot)[0] is False
    assert verdict(3, 0.01, dict(boot, levels="test"))[0] is False
    assert verdict(5, 0.01, None)[0] is False


def test_mean_interval_levels():
    rng = np.random.default_rng(1)
    labels, a, _, _, _ = _seed_runs(0.0, 3, 0.05, rng)
    three = mean_interval(labels, a, metrics=("top1",), n_resamples=2000)["top1"]
    one = mean_interval(labels, a[:1], metrics=("top1",), n_resamples=2000)["top1"]
    assert three["levels"] == "seeds+test" and three["note"] == ""
    assert one["levels"] == "test" and one["note"] == SINGLE_SEED_NOTE
    assert three["mean"] == pytest.approx(a.mean()) and three["lo"] < three["mean"] < three["hi"]
    assert one["mean"] == pytest.approx(a[0].mean())
