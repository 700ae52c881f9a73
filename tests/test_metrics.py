"""Metrics against the worked example of docs/evaluation.md and direct computations."""
import json
import math

import numpy as np
import pytest

from benchmark.metrics import (MetricsError, compute_metrics, confusion_matrix, reliability_bins,
                               topk_accuracy)

# docs/evaluation.md
P = np.array([
    [0.70, 0.10, 0.10, 0.10],
    [0.90, 0.05, 0.03, 0.02],
    [0.30, 0.50, 0.10, 0.10],
    [0.20, 0.62, 0.09, 0.09],
    [0.55, 0.35, 0.05, 0.05],
    [0.10, 0.10, 0.75, 0.05],
    [0.05, 0.05, 0.85, 0.05],
    [0.20, 0.10, 0.08, 0.62],
    [0.42, 0.30, 0.10, 0.18],
    [0.45, 0.15, 0.10, 0.30],
])
Y = np.array([0, 0, 0, 1, 1, 2, 2, 3, 3, 3])
N_TRAIN = np.array([150, 60, 30, 10])


def test_worked_example():
    m = compute_metrics(P, Y, N_TRAIN)
    assert m["top1"] == pytest.approx(0.6)
    assert topk_accuracy(P, Y, 2) == pytest.approx(0.9)
    assert m["top5"] == pytest.approx(1.0)          # k capped at C = 4
    assert m["per_class_acc"] == pytest.approx([2 / 3, 0.5, 1.0, 1 / 3])
    assert m["balanced_acc"] == pytest.approx(0.625)
    assert m["many"] == pytest.approx(2 / 3)
    assert m["medium"] == pytest.approx(0.75)
    assert m["few"] == pytest.approx(1 / 3)
    assert (m["n_many"], m["n_medium"], m["n_few"]) == (1, 2, 1)
    assert m["many_minus_few"] == pytest.approx(1 / 3)
    assert m["worst_class"] == pytest.approx(1 / 3)
    assert m["bottom10"] == pytest.approx(1 / 3)     # ceil(0.1 * 4) = 1 class
    assert m["ece"] == pytest.approx(0.348, abs=5e-5)
    assert m["nll"] == pytest.approx(0.7041, abs=5e-5)
    assert m["cb_ece"] == pytest.approx(0.3454, abs=5e-5)
    # thirds: floor(4/3) = 1 -> head = class 0, middle = classes 1-2, tail = class 3
    assert m["head"] == pytest.approx(2 / 3)
    assert m["middle"] == pytest.approx(0.75)
    assert m["tail"] == pytest.approx(1 / 3)
    assert m["head_minus_tail"] == pytest.approx(1 / 3)
    # ten groups with C = 4: classes land in groups 0, 2, 5, 7; the others are empty -> None
    g = m["group10_error"]
    assert len(g) == 10
    assert g[0] == pytest.approx(1 / 3) and g[2] == pytest.approx(0.5)
    assert g[5] == pytest.approx(0.0) and g[7] == pytest.approx(2 / 3)
    assert [g[i] for i in (1, 3, 4, 6, 8, 9)] == [None] * 6
    assert m["fig7_head_error"] == pytest.approx((1 / 3 + 0.5) / 2)
    assert m["fig7_middle_error"] == pytest.approx(0.0)
    assert m["fig7_tail_error"] == pytest.approx(2 / 3)
    assert m["train_counts"] == [150, 60, 30, 10] and m["test_counts"] == [3, 2, 2, 3]
    json.dumps(m, allow_nan=False)                   # plain JSON, no numpy types, no NaN


def test_worked_example_reliability_bins():
    rb = reliability_bins(P, Y)
    occupied = [(i, c) for i, c in enumerate(rb["count"]) if c]
    assert occupied == [(6, 2), (7, 1), (8, 1), (9, 2), (10, 1), (11, 1), (12, 1), (13, 1)]
    assert [rb["accuracy"][i] for i, _ in occupied] == [0, 0, 0, 1, 1, 1, 1, 1]
    assert [rb["confidence"][i] for i, _ in occupied] == pytest.approx([0.435, 0.5, 0.55, 0.62, 0.7, 0.75, 0.85, 0.9])
    assert rb["accuracy"][0] is None


def test_empty_group_is_none_not_zero():
    # NW-UCLA-LT-like: no class has more than 100 training samples
    m = compute_metrics(P, Y, np.array([100, 60, 30, 10]))
    assert m["many"] is None and m["many_minus_few"] is None
    assert m["medium"] == pytest.approx((2 / 3 + 0.5 + 1.0) / 3)
    # boundaries are inclusive as written: 100 is Medium, 20 is Medium, 19 is Few
    m = compute_metrics(P, Y, np.array([101, 100, 20, 19]))
    assert (m["n_many"], m["n_medium"], m["n_few"]) == (1, 2, 1)


def test_class_without_test_samples_is_excluded():
    y = np.array([0, 0, 0, 1, 1, 1, 1, 3, 3, 3])      # class 2 has no test sample
    m = compute_metrics(P, y, N_TRAIN)
    assert m["per_class_acc"][2] is None
    a = [2 / 3, 0.25, 1 / 3]
    assert m["balanced_acc"] == pytest.approx(np.mean(a))
    assert m["medium"] == pytest.approx(0.25)        # class 2 excluded, not counted as 0


def _direct(probs, labels, counts):
    """Straightforward loops, independent of the vectorised code."""
    n, c = probs.shape
    pred = [int(np.argmax(p)) for p in probs]
    acc = {}
    for k in range(c):
        idx = [i for i in range(n) if labels[i] == k]
        if idx:
            acc[k] = sum(pred[i] == k for i in idx) / len(idx)
    top5 = np.mean([labels[i] in np.argsort(-probs[i], kind="stable")[:5] for i in range(n)])
    ece = 0.0
    for b in range(1, 16):
        lo, hi = (b - 1) / 15, b / 15
        members = [i for i in range(n) if lo < probs[i].max() <= hi]
        if members:
            a = np.mean([pred[i] == labels[i] for i in members])
            q = np.mean([probs[i].max() for i in members])
            ece += len(members) / n * abs(a - q)
    nll = -np.mean([math.log(max(probs[i, labels[i]], 1e-12)) for i in range(n)])
    many = [acc[k] for k in acc if counts[k] > 100]
    few = [acc[k] for k in acc if counts[k] < 20]
    order = sorted(range(c), key=lambda k: (-counts[k], k))
    t = c // 3
    head = [acc[k] for k in order[:t] if k in acc]
    tail = [acc[k] for k in order[c - t:] if k in acc]
    groups = []
    for g in range(10):
        cls = [order[p] for p in range(c) if p * 10 // c == g]
        errs = [1 - acc[k] for k in cls if k in acc]
        groups.append(np.mean(errs) if errs else None)
    return dict(top1=np.mean([pred[i] == labels[i] for i in range(n)]), top5=top5,
                balanced_acc=np.mean(list(acc.values())), ece=ece, nll=nll,
                many=np.mean(many) if many else None, few=np.mean(few) if few else None,
                head=np.mean(head), tail=np.mean(tail), worst_class=min(acc.values()), groups=groups)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_inputs_match_direct_computation(seed):
    rng = np.random.default_rng(seed)
    n, c = 300, 23
    logits = rng.normal(size=(n, c)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = rng.integers(0, c, size=n)
    counts = rng.integers(1, 400, size=c)
    m = compute_metrics(probs.astype(np.float32), labels, counts)
    d = _direct(probs.astype(np.float32).astype(np.float64), labels, counts)
    for key in ("top1", "top5", "balanced_acc", "ece", "nll", "many", "few", "head", "tail", "worst_class"):
        assert m[key] == pytest.approx(d[key], abs=1e-9), key
    for got, want in zip(m["group10_error"], d["groups"]):
        assert (got is None and want is None) or got == pytest.approx(want, abs=1e-12)
    # class-balanced ECE on a class-balanced test set equals plain ECE
    bal = np.repeat(np.arange(c), 10)
    mb = compute_metrics(probs[: bal.size], bal, counts)
    assert mb["cb_ece"] == pytest.approx(mb["ece"], abs=1e-12)


def test_ties_and_topk_use_lowest_index():
    p = np.array([[0.4, 0.4, 0.2], [0.4, 0.4, 0.2]])
    m = compute_metrics(p, np.array([0, 1]), np.array([50, 50, 50]))
    assert m["top1"] == 0.5                         # argmax picks class 0 for both rows


def test_confusion_matrix():
    cm = confusion_matrix(P, Y, normalize=False)
    assert cm.sum() == 10 and cm[0, 0] == 2 and cm[0, 1] == 1 and cm[3, 0] == 2
    cmn = confusion_matrix(P, Y)
    assert np.allclose(np.diag(cmn), [2 / 3, 0.5, 1.0, 1 / 3])


@pytest.mark.parametrize("probs,labels,counts,msg", [
    (P[:, :3] / P[:, :3].sum(1, keepdims=True), Y, N_TRAIN[:3], "labels must lie"),
    (P * 2, Y, N_TRAIN, "sums to"),
    (P, Y[:5], N_TRAIN, "labels must have shape"),
    (P, Y, N_TRAIN[:3], "one entry per class"),
    (np.where(P == 0.9, np.nan, P), Y, N_TRAIN, "non-finite"),
    (np.log(P), Y, N_TRAIN, "negative"),
])
def test_bad_inputs_raise_clear_errors(probs, labels, counts, msg):
    with pytest.raises(MetricsError, match=msg):
        compute_metrics(probs, labels, counts)
