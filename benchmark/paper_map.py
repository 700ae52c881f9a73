"""The paper's vocabulary and how its numbers meet our runs: mapping, selection label, coverage.

``paper_results.csv`` names each number by dataset, benchmark, backbone, method, streams and group,
in the paper's own words (``stgcn++``, ``j+b``, ``m3_stae_daa``, …). This module is the one place
that says

* which of our ids a paper name means (:data:`BACKBONE_TO_PAPER`, :data:`ENSEMBLE_TO_PAPER`,
  :data:`PAPER_METHOD_ALIASES`: Table VII's component rows and Table VI's renamed rows are runs of
  registered methods);
* which paper numbers are the official code's test-selected figures (:func:`selected_on_test_keys`:
  the paper's number equals the official README's, whose released code keeps the checkpoint of
  the best test epoch), so that they are compared with our ``best_test`` runs first;
* for a config of the workflow, which paper row meets which planned run, like for like (same
  dataset, benchmark, backbone, method, streams and selection rule), and why the others cannot
  (:func:`coverage`).

Pure standard library plus the workflow's parse-time helpers (no pandas, no torch): the tests and
the report call it with the rows of the csv as plain dicts.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

#: our backbone ids → the csv's
BACKBONE_TO_PAPER = {"stgcnpp": "stgcn++", "ctrgcn": "ctrgcn", "msg3d": "msg3d"}
SINGLE_STREAMS = ("j", "b", "k", "jm", "bm", "km")
#: our default ensembles → the csv's ``streams`` (Kinetics' ``4s`` is fused 3:3:1:1, like the paper's)
ENSEMBLE_TO_PAPER = {"2s": "j+b", "4s": "4s", "6s": "6s"}
#: our stream ids (single streams and ``ens-<name>`` ensembles) → the csv's ``streams``
STREAM_TO_PAPER = {**{s: s for s in SINGLE_STREAMS}, **{f"ens-{e}": p for e, p in ENSEMBLE_TO_PAPER.items()}}
#: the imbalance setting the paper's "long_tailed" columns use, per dataset
PAPER_SPLIT_SUFFIX = {"ntu60": "lt100", "ntu120": "lt100", "nw_ucla": "lt10", "kinetics": "natural"}

#: paper rows named after a configuration, not a method: the registered method that runs it.
#: Table VII: M1 = vanilla ST-GCN++ (= Table I), M2 = + STAE, M3 = + DAA (= BRL 4s), M4 = + the
#: skip streams (= BRL 6s). Table VI (bottom block): CE loss after STAE = "w/ STAE" (same values),
#: detached action-aware loss = full BRL (same values as Table I's joint stream).
PAPER_METHOD_ALIASES = {
    "m1_baseline": "ce",
    "m2_stae": "brl_stae",
    "m3_stae_daa": "brl",
    "m4_stae_daa_ms": "brl",
    "stae_ce": "brl_stae",
    "stae_detached_action_aware": "brl",
}

#: README rows whose released code keeps the checkpoint of the best test epoch (BRL's own checkpoint
#: table: its runner tests every epoch and saves the best); source and method of those rows
TEST_SELECTED_SOURCE = ("official_readme", "brl")
#: label of a paper number that equals such a figure
TEST_SELECTED_LABEL = "= official code, selected on test"

#: reasons a paper number cannot meet a run of this suite (shown in the report, tested)
REASON_DELTA = "a difference of two other rows (Δ column): compared through those rows"
REASON_STANDARD = "standard (balanced) training set: this suite trains the long-tailed splits only"
REASON_UNKNOWN_ROW = "row label lost in the paper's text: the model behind the number cannot be identified"
REASON_OTHER_BACKBONE = "other backbone: {backbone} (not implemented in this suite)"
REASON_NOT_PLANNED = "no run of this config has the same dataset, benchmark, backbone, method, streams and selection"
REASON_OUTSIDE = "this config runs no {dataset} {benchmark} split at the paper's imbalance setting"


def paper_method(method: str) -> str:
    """The registered method a paper row's method name means (``m3_stae_daa`` → ``brl``)."""
    return PAPER_METHOD_ALIASES.get(method, method)


def load_rows(path: Optional[str] = None) -> List[Dict[str, str]]:
    """The rows of ``paper_results.csv`` (the packaged copy, or ``path``) as dicts of strings."""
    if path is None:
        with resources.files("benchmark").joinpath("resources/paper_results.csv").open("r") as f:
            return list(csv.DictReader(f))
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def row_key(row: Mapping[str, Any]) -> Tuple[str, str, str, str, str, str]:
    """(dataset, benchmark, backbone, registered method, streams, group) of one csv row."""
    return (str(row["dataset"]), str(row["benchmark"]), str(row["backbone"]), paper_method(str(row["method"])),
            str(row["streams"]), str(row["group"]))


def _same_value(a: Any, b: Any) -> bool:
    try:
        return abs(float(a) - float(b)) < 1e-9
    except (TypeError, ValueError):
        return False


def selected_on_test_keys(rows: Iterable[Mapping[str, Any]]) -> set:
    """Keys (:func:`row_key` + value) of the paper's numbers that equal the official code's
    test-selected figure: a ``paper`` row whose value equals the value of a README row of
    :data:`TEST_SELECTED_SOURCE` with the same key (after :data:`PAPER_METHOD_ALIASES`)."""
    rows = list(rows)
    source, method = TEST_SELECTED_SOURCE
    readme = {row_key(r): r["value"] for r in rows if r["source"] == source and paper_method(str(r["method"])) == method}
    out = set()
    for r in rows:
        k = row_key(r)
        if r["source"] == "paper" and r.get("metric", "top1") == "top1" and k in readme and \
                _same_value(readme[k], r["value"]):
            out.add(k + (float(r["value"]),))
    return out


def is_test_selected(row: Mapping[str, Any], selected: set) -> bool:
    """Whether this csv row's number is one of :func:`selected_on_test_keys`."""
    try:
        return row_key(row) + (float(row["value"]),) in selected
    except (TypeError, ValueError):
        return False


def required_selection(row: Mapping[str, Any], selected: set) -> str:
    """The selection rule a like-for-like run of this row uses: ``best_test`` for the official code's
    test-selected numbers, ``last`` (the paper's stated protocol gives no other) for the rest."""
    return "best_test" if is_test_selected(row, selected) else "last"


def intrinsic_reason(row: Mapping[str, Any]) -> Optional[str]:
    """Why no run of this suite can ever meet the row, whatever the config; None if one can."""
    if row.get("metric", "top1") != "top1":
        return REASON_DELTA
    if row["setting"] != "long_tailed":
        return REASON_STANDARD
    if str(row["method"]).startswith("unknown_row") or row["backbone"] == "unknown":
        return REASON_UNKNOWN_ROW
    if row["backbone"] not in BACKBONE_TO_PAPER.values():
        return REASON_OTHER_BACKBONE.format(backbone=row["backbone"])
    return None


# ---------------------------------------------------------------------------------------------
# planned runs of a config

def planned_comparisons(config: Dict[str, Any]) -> Dict[tuple, List[str]]:
    """Every result a config plans, in the paper's vocabulary: (dataset, benchmark, backbone, method,
    streams, selection) → the run folders (``split/backbone/method id/stream``) that give it.

    Only splits at the paper's imbalance setting count; selections are the rules each run reports
    (``last``; ``best_val`` where the split has a validation split; ``best_test`` in official_code
    mode), for single streams and for the default ensembles (``2s``, ``4s``, ``6s`` with the
    dataset's default weights)."""
    from benchmark import workflow as bw
    from benchmark.engine.selection import supported_rules

    out: Dict[tuple, List[str]] = {}
    sp, ms = bw.splits(config), bw.methods(config)

    def add(split, backbone, m, stream, paper_streams):
        if not split.split_id.endswith("_" + PAPER_SPLIT_SUFFIX.get(split.dataset, "\0")):
            return
        bb = BACKBONE_TO_PAPER.get(backbone)
        if bb is None or paper_streams is None:
            return
        for rule in supported_rules(m.fidelity, bw.split_has_validation(config, split)):
            k = (split.dataset, split.benchmark, bb, m.name, paper_streams, rule)
            where = f"{split.split_id}/{backbone}/{m.id}/{stream}"
            if where not in out.setdefault(k, []):
                out[k].append(where)

    for r in bw.result_runs(config):
        add(r.split, r.backbone, r.method, r.stream, STREAM_TO_PAPER.get(r.stream))
    for g in bw.table_grids(config).values():
        for s in g["splits"]:
            split = sp[s]
            for b in g["backbones"]:
                for mid in g["methods"]:
                    for e in g["ensembles"]:
                        w = bw.ensemble_weights(config, e, split.dataset)
                        paper_streams = ENSEMBLE_TO_PAPER.get(e) \
                            if w == bw.default_ensemble_weights(e, split.dataset) else None
                        add(split, b, ms[mid], f"ens-{e}", paper_streams)
    return out


@dataclass(frozen=True)
class CoverageRow:
    """One paper number and what meets it: ``runs`` (compared like for like) or ``reason``."""
    row: Mapping[str, Any]
    selection: str
    runs: Tuple[str, ...]
    reason: Optional[str]
    test_selected: bool

    @property
    def status(self) -> str:
        """``compared``; ``reason`` (no run can ever meet it); ``outside`` (the config runs none of its
        dataset/benchmark: a config of one dataset); ``missing`` (it should, and does not)."""
        if self.runs:
            return "compared"
        if self.reason == REASON_NOT_PLANNED or not self.reason:
            return "missing"
        return "outside" if self.reason.startswith("this config runs no") else "reason"


def coverage(rows: Iterable[Mapping[str, Any]], config: Dict[str, Any], source: str = "paper") -> List[CoverageRow]:
    """For every ``source`` row of ``paper_results.csv``: the planned runs of ``config`` that meet it
    like for like, or the reason none can (:func:`intrinsic_reason`); a row with neither gets
    :data:`REASON_NOT_PLANNED` and status ``missing`` (the coverage test fails on it), unless the
    config runs no split of its dataset and benchmark at the paper's imbalance setting at all
    (:data:`REASON_OUTSIDE`, status ``outside``: e.g. a config of NW-UCLA alone)."""
    from benchmark import workflow as bw

    rows = list(rows)
    selected = selected_on_test_keys(rows)
    planned = planned_comparisons(config)
    ran = {(s.dataset, s.benchmark) for sid, s in bw.selected_splits(config).items()
           if sid.endswith("_" + PAPER_SPLIT_SUFFIX.get(s.dataset, "\0"))}
    out = []
    for r in rows:
        if r["source"] != source:
            continue
        sel = required_selection(r, selected)
        reason = intrinsic_reason(r)
        runs: Tuple[str, ...] = ()
        if reason is None:
            d, b, bb, m, st, _g = row_key(r)
            runs = tuple(planned.get((d, b, bb, m, st, sel), ()))
            if not runs:
                reason = REASON_NOT_PLANNED if (d, b) in ran else REASON_OUTSIDE.format(dataset=d, benchmark=b)
        out.append(CoverageRow(r, sel, runs, reason, is_test_selected(r, selected)))
    return out


def coverage_counts(cov: Sequence[CoverageRow]) -> Dict[str, int]:
    """{"total", "compared", "reason", "outside", "missing"} of a :func:`coverage` result."""
    out = {"total": len(cov), "compared": 0, "reason": 0, "outside": 0, "missing": 0}
    for c in cov:
        out[c.status] += 1
    return out
