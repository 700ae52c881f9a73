"""The README's demo tables are the output of `python -m benchmark.demo_table` for the runs they name."""
import json

import pytest

from benchmark import demo_table as dt

README = dt.REPO / "README.md"


def test_readme_tables_equal_the_command_output():
    text = README.read_text()
    blocks = dt.readme_blocks(text)
    assert blocks, "README.md has no <!-- demo-table: SNAPSHOT --> block"
    for m in blocks:
        snaps = [json.loads((dt.REPO / p).read_text()) for p in m.group("path").split()]
        expected = dt.render(snaps[0]) if len(snaps) == 1 else dt.render_comparison(snaps)
        assert m.group("body") == expected, f"README's table of {m.group('path')} is not the command's output"
    assert dt.main(["--check"]) == 0


def _snap(**over):
    row = lambda m, s, b, f: {"method": m, "stream": s, "seeds": [0, 1], "top1": b, "balanced_acc": b,  # noqa: E731
                              "many": [None, None], "medium": b, "few": f, "still_learning": [False, m == "ce"]}
    snap = {"label": "fp32, 1 thread", "runs_root": "results/demo/runs",
            "execution": {"precision": ["fp32"], "cpu_model": ["Some CPU"], "threads": ["1"]},
            "rows": [row("ce", "j", [0.5, 0.6], [0.1, 0.2]), row("brl", "j", [0.8, 0.9], [0.7, 0.8])],
            "comparisons": [{"a": "brl", "b": "ce", "stream": "j", "metric": "balanced_acc", "n_seeds": 2,
                             "mean_diff": 0.3, "ci_lo": 0.2, "ci_hi": 0.4, "p_value": 0.01, "significant": True}]}
    snap.update(over)
    return snap


def test_render_ranks_by_balanced_accuracy_and_names_the_arithmetic():
    out = dt.render(_snap())
    lines = out.splitlines()
    assert lines[0] == "**fp32, 1 thread**"
    assert "Precision fp32; CPU Some CPU; 1 thread(s)" in out
    rows = [l for l in lines if l.startswith("| ") and not l.startswith("| method")]
    assert rows[0].startswith("| brl | 2 | 85.0 ± 7.1") and rows[1].startswith("| ce † (1/2) |")
    assert "† still learning: the monitored test accuracy changed by more than 1 point" in out
    assert "Many" not in out                      # a column without a value is left out
    assert "BRL − CE (j stream, 2 seeds), balanced accuracy: +30.0 points [+20.0, +40.0], p = 0.010: ✓ real" in out


def test_update_readme_rewrites_only_blocks(tmp_path, monkeypatch):
    snap = tmp_path / "s.json"
    snap.write_text(json.dumps(_snap()))
    monkeypatch.setattr(dt, "REPO", tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- demo-table: s.json -->\ntyped by hand\n<!-- /demo-table -->\nafter\n")
    assert dt.update_readme(readme, check=True) == ["s.json"]
    assert "typed by hand" in readme.read_text()
    dt.update_readme(readme)
    assert dt.update_readme(readme, check=True) == []
    assert readme.read_text().startswith("intro\n<!-- demo-table: s.json -->\n**fp32")
    assert readme.read_text().endswith("<!-- /demo-table -->\nafter\n")


def test_comparison_names_the_largest_difference_and_whether_verdicts_agree(tmp_path, monkeypatch):
    a = _snap()
    b = _snap(execution={"precision": ["bf16"], "cpu_model": ["Some CPU"], "threads": ["1"]})
    b["rows"][1]["balanced_acc"] = [0.8, 0.8]                   # BRL 85.0 -> 80.0
    b["comparisons"] = [dict(b["comparisons"][0], significant=False)]
    out = dt.render_comparison([a, b])
    assert "| method (stream) | fp32, 1 thread(s) | bf16, 1 thread(s) | largest difference |" in out
    assert "| brl | 85.0 | 80.0 | 5.0 |" in out and "| ce | 55.0 | 55.0 | 0.0 |" in out
    assert "Largest difference of a method between any two: 5.0 points (brl, j stream)" in out
    assert "Trainings still learning (of those with a monitor curve): 1 of 4 (fp32, 1 thread(s)), 1 of 4 (bf16, 1 thread(s))" in out
    assert "BRL − CE, balanced accuracy: ✓ real (fp32, 1 thread(s)), not marked real (bf16, 1 thread(s)): they differ" in out
    for name, snap in (("a.json", a), ("b.json", b)):
        (tmp_path / name).write_text(json.dumps(snap))
    monkeypatch.setattr(dt, "REPO", tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text("<!-- demo-table: a.json b.json -->\nold\n<!-- /demo-table -->\n")
    dt.update_readme(readme)
    assert readme.read_text() == f"<!-- demo-table: a.json b.json -->\n{out}<!-- /demo-table -->\n"


def test_no_runs_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no finished run"):
        dt.snapshot(tmp_path)
