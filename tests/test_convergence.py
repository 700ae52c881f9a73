"""The report's "still learning" rule (benchmark.convergence), against worked curves."""
import math

import pytest

from benchmark import convergence as cv


def test_still_learning_when_the_last_fifth_moves_more_than_one_point():
    # 10 epochs, monitor every 2: the window is epochs 8..10 (0.49 -> 0.645 -> 0.665 in the issue)
    r = cv.check([2, 4, 6, 8, 10], [0.30, 0.45, 0.49, 0.645, 0.665])
    assert r.still_learning is True
    assert r.window == (8, 10)
    assert math.isclose(r.change, 0.02)
    assert "2.0 points" in r.note() and "8–10" in r.note()


def test_converged_when_the_window_moves_one_point_or_less():
    r = cv.check([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [0.1, 0.5, 0.7, 0.8, 0.85, 0.9, 0.9, 0.905, 0.91, 0.90])
    assert r.still_learning is False
    assert r.values == (0.905, 0.91, 0.90)      # epochs 8, 9, 10
    assert r.note() == ""
    assert cv.check([8, 10], [0.50, 0.51]).still_learning is False     # exactly 1 point: converged


def test_unmonitored_epochs_are_skipped_and_too_few_points_cannot_be_judged():
    r = cv.check([1, 2, 3, 4, 5], [None, 0.5, None, 0.6, float("nan")])
    assert r.still_learning is None and "fewer than two" in r.reason
    assert cv.check([], []).still_learning is None


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="3 epochs but 2 values"):
        cv.check([1, 2, 3], [0.1, 0.2])


def test_epochs_csv(tmp_path):
    p = tmp_path / "epochs.csv"
    p.write_text("epoch,step,loss,lr,test_top1_monitor,test_balanced_acc_monitor,val_top1,val_balanced_acc,seconds\n"
                 "1,10,1.0,0.1,,,,,1\n2,20,0.9,0.1,0.5,0.40,,,1\n3,30,0.8,0.1,,,,,1\n4,40,0.7,0.1,0.6,0.55,,,1\n"
                 "5,50,0.6,0.1,0.62,0.57,,,1\n")
    r = cv.check_epochs_csv(p)
    assert r.still_learning is True and r.window == (4, 5)      # balanced column preferred
    assert cv.check_epochs_csv(tmp_path / "missing.csv").still_learning is None
