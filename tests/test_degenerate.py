"""A method that reduces to another on a profile is reported as such."""

from methods._degenerate import degeneracy, note_for_record


def test_eql_on_the_demo_profile_equals_ce():
    # demo profile: n_max 100, IF 10 over 10 classes (403 clips); rarest 10/403 = 0.0248 > λ = 0.005
    counts = [100, 77, 59, 46, 35, 27, 21, 16, 12, 10]
    d = degeneracy("eql", {"variant": "seql"}, counts, {"lambda": 0.005, "droppable_classes": []})
    assert d.equals == "ce" and "0.005" in d.note and "0.02481" in d.note
    # NTU60-LT: 6/7892 = 0.00076 < 0.005 → tail classes exist, EQL is EQL
    from benchmark.data.splits import lt_profile
    ntu = lt_profile(60, 600, 100).tolist()
    assert degeneracy("eql", {"variant": "seql", "freq_threshold": 0.005}, ntu) is None
    assert degeneracy("eql", {"variant": "seql", "freq_threshold": 0.005}, counts).equals == "ce"


def test_count_only_methods_on_equal_counts_and_zero_tau():
    assert degeneracy("balanced_softmax", {}, [5, 5, 5]).equals == "ce"
    assert degeneracy("balanced_softmax", {}, [6, 5, 5]) is None
    assert degeneracy("la_posthoc", {"tau": 0.0}, [6, 5]).equals == "ce"
    assert degeneracy("focal", {"gamma": 0.0}).equals == "ce"
    assert degeneracy("ce", {}, [5, 5]) is None


def test_note_for_record_reads_metrics_json():
    rec = {"run": {"method": "eql", "method_name": "eql"},
           "meta": {"method_meta": {"method": "eql", "options": {"variant": "seql"},
                                    "resolved": {"lambda": 0.005, "droppable_classes": [], "counts": [20, 10]}}}}
    assert note_for_record(rec).startswith("eql is identical to ce here")
    rec["meta"]["method_meta"]["resolved"]["droppable_classes"] = [1]
    assert note_for_record(rec) is None
    assert note_for_record({"run": {"method_name": "brl"}, "meta": {"method_meta": {
        "options": {}, "resolved": {"rpm_mixed_per_batch": 0}}}}).startswith("brl is identical to brl without RPM")


def test_report_notes_show_the_degenerate_case():
    """The first screen's notes column says that EQL equals CE on such a profile."""
    import pandas as pd

    from benchmark.aggregate import RunRecord
    from benchmark.report.overview import _notes

    meta = {"method_meta": {"method": "eql", "options": {"variant": "seql"},
                            "resolved": {"lambda": 0.005, "droppable_classes": [], "counts": [20, 10]}}}
    rec = RunRecord(path="s/b/eql/j/seed0", run={"method": "eql", "method_name": "eql", "stream": "j"},
                    metrics={}, meta=meta)
    row = pd.Series({"selection": "last", "num_classes": 2, "balanced_acc_mean": 0.9})
    assert "eql is identical to ce here" in _notes(row, [rec])
