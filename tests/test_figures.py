"""Report figures: the layout check, highlighting, no empty panels, class names (matplotlib only)."""
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from benchmark.report import figures


def test_layout_check_catches_a_legend_on_the_data_and_tiny_text():
    figures.apply_style()
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label="a")
    ax.legend(loc="upper left")
    ax.set_xlabel("tiny", fontsize=6)
    problems = figures.layout_problems(fig, "k")
    assert any("legend overlaps" in p for p in problems) and any("6.0 pt" in p for p in problems)
    ax.get_legend().remove()
    figures.legend_right(ax)
    ax.set_xlabel("fine", fontsize=10)
    assert figures.layout_problems(fig, "k") == []
    plt.close(fig)


def test_highlight_keeps_the_reference_pair_and_the_best_tail():
    rows = pd.DataFrame({"method": ["ce", "focal", "cb", "kps", "eql", "brl"],
                         "tail_mean": [0.1, 0.5, 0.4, 0.2, 0.45, 0.3]})
    assert figures.highlight_methods(rows) == ["ce", "brl", "focal", "eql"]


def test_no_empty_panels():
    df = pd.DataFrame({"method": ["ce"] * 10, "stream": ["j"] * 10, "group": range(1, 11),
                       "error": np.nan, "std": np.nan})
    assert figures.group_error_curves(df, "j", ["ce"], key="x") == ""
    assert figures.stream_error_curves(df.dropna(subset=["error"]), "j", key="y") == ""     # one stream only
    bars = pd.DataFrame({"method": ["ce"], "part": ["tail"], "error": [np.nan], "std": [np.nan]})
    assert figures.head_middle_tail_bars(bars, ["ce"], key="z") == ""


def test_zero_tail_error_is_printed_and_confusion_has_names():
    figures.LAYOUT_LOG.clear()
    bars = pd.DataFrame({"method": ["ce", "ce", "brl", "brl"], "part": ["head", "tail"] * 2,
                         "error": [10.0, 0.0, 12.0, 30.0], "std": [np.nan] * 4})
    svg = figures.head_middle_tail_bars(bars, ["ce", "brl"], key="hmt")
    labels = re.findall(r'<text style="[^"]*fill: #222222"[^>]*>([^<]*)</text>', svg)   # the bar value labels
    assert sorted(labels) == ["0", "10", "12", "30"]                    # the zero tail bar is labelled too
    cm = np.eye(3)
    svg = figures.confusion(cm, "t", key="cm", class_order=np.array([2, 0, 1]), names=["walk", "sit", "wave"])
    assert "wave" in svg and "walk" in svg and "sit" in svg
    assert figures.LAYOUT_LOG == []


def test_training_curves_read_the_test_monitor_column(tmp_path):
    """epochs.csv names the 1-clip test-split monitor ``test_top1_monitor``; the details page plots it
    (an empty monitor panel was the symptom of reading the old ``val_top1`` name)."""
    from benchmark.aggregate import RunRecord
    from benchmark.report.details import _load_epochs

    run_dir = tmp_path / "s" / "b" / "ce" / "j" / "seed0"
    run_dir.mkdir(parents=True)
    (run_dir / "epochs.csv").write_text("epoch,step,loss,lr,test_top1_monitor,test_balanced_acc_monitor,val_top1,"
                                        "val_balanced_acc,seconds\n1,10,2.0,0.1,0.25,0.2,,,1.0\n2,20,1.5,0.05,0.5,0.4,,,1.0\n")
    rec = RunRecord(path="s/b/ce/j/seed0", run={"stream": "j", "seed": 0}, metrics={}, meta={}, root=tmp_path)
    df = _load_epochs(rec)
    assert df["monitor_top1"].tolist() == [0.25, 0.5]
