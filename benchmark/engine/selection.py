"""Model selection rules (which checkpoint of a training run is tested with 10 clips).

===========  =====================================================================================
rule         checkpoint
===========  =====================================================================================
last         the model after the final runner epoch. The default, for every dataset.
best_val     the runner epoch with the highest 1-clip *balanced accuracy* on the held-out validation
             split (benchmark.data.validation). Only where that split exists (NTU-style data with
             enough unused training samples); reported next to ``last``.
best_test    the runner epoch with the highest 1-clip *top-1 on the test split*: what the official
             BRL code does (its validation split is the test split, and it keeps the best
             checkpoint). Only in ``official_code`` mode, and always labelled
             "selected on test (optimistic)": choosing on the data one then reports is biased
             upwards, so such numbers never share a table with the other rules.
===========  =====================================================================================

One training produces every rule it supports: :class:`SelectionTracker` keeps the state of the
best epoch per rule (one model's weights each) in the run's checkpoint, and the engine tests each
kept model with the full multi-clip protocol at the end. Ties keep the earlier epoch.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

RULES = ("last", "best_val", "best_test")
DEFAULT_RULE = "last"
OPTIMISTIC_LABEL = "selected on test (optimistic)"
LABELS = {"last": "last epoch", "best_val": "best on held-out validation", "best_test": OPTIMISTIC_LABEL}
#: the per-epoch score each rule maximises (a key of the epoch log)
CRITERIA = {"best_val": "val_balanced_acc", "best_test": "test_top1_monitor"}


class SelectionError(ValueError):
    pass


def supported_rules(fidelity: str, has_validation: bool) -> List[str]:
    """The rules one run can produce: ``last`` always, ``best_val`` with a validation split,
    ``best_test`` in official_code mode only."""
    out = ["last"]
    if has_validation:
        out.append("best_val")
    if fidelity == "official_code":
        out.append("best_test")
    return out


def label(rule: str) -> str:
    if rule not in LABELS:
        raise SelectionError(f"unknown selection rule '{rule}'; use one of {list(RULES)}")
    return LABELS[rule]


@dataclass
class _Best:
    epoch: int
    score: float
    state: Dict[str, Any]


class SelectionTracker:
    """Keeps the best epoch (and its model weights) of every ``best_*`` rule of one run."""

    def __init__(self, rules: Sequence[str]):
        unknown = sorted(set(rules) - set(RULES))
        if unknown:
            raise SelectionError(f"unknown selection rule(s) {unknown}; use {list(RULES)}")
        self.rules = [r for r in rules if r != "last"]
        self.best: Dict[str, _Best] = {}

    def update(self, epoch: int, row: Dict[str, Any], model_state: Dict[str, Any]) -> None:
        """Offer runner epoch ``epoch`` (1-based) with its log row; a strictly better score wins."""
        for rule in self.rules:
            score = row.get(CRITERIA[rule])
            if score is None:
                continue
            cur = self.best.get(rule)
            if cur is None or float(score) > cur.score:
                state = {k: v.detach().clone() if hasattr(v, "detach") else copy.deepcopy(v)
                         for k, v in model_state.items()}
                self.best[rule] = _Best(epoch, float(score), state)

    def state_dict(self) -> Dict[str, Any]:
        return {r: {"epoch": b.epoch, "score": b.score, "state": b.state} for r, b in self.best.items()}

    def load_state_dict(self, d: Optional[Dict[str, Any]]) -> None:
        self.best = {r: _Best(int(v["epoch"]), float(v["score"]), v["state"]) for r, v in (d or {}).items()
                     if r in self.rules}

    def test_all(self, model, final_epoch: int, last_probs, test_fn: Callable[[str], Any],
                 metrics_fn: Callable[[Any], Dict[str, Any]]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        """Test every kept model with the full protocol: ({rule: record}, {rule: probs}).

        ``test_fn(rule)`` tests ``model`` as it is loaded; a rule whose best epoch is the final one
        reuses ``last_probs``. The model's final weights are restored afterwards."""
        last_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        records, probs = {}, {}
        for rule, best in self.best.items():
            if best.epoch == final_epoch:
                p = last_probs
            else:
                model.load_state_dict(best.state)
                p = test_fn(rule)
            probs[rule] = p
            records[rule] = {"epoch": best.epoch, "criterion": CRITERIA[rule], "score": best.score,
                             "label": label(rule), "probs_file": f"test_probs_{rule}.npz", "metrics": metrics_fn(p)}
        model.load_state_dict(last_state)
        return records, probs

    def summary(self) -> Dict[str, Dict[str, Any]]:
        return {r: {"epoch": b.epoch, "criterion": CRITERIA[r], "score": b.score} for r, b in self.best.items()}


def selection_records(record: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One record per selection of a run's metrics.json: the ``last`` record itself, then one per
    entry of ``record['selections']`` with ``run.selection``, ``run.selection_label`` and its metrics.

    The report/aggregate layer takes these records; keep ``best_test`` ones in their own table
    (:func:`check_not_mixed`)."""
    base = dict(record)
    sels = base.pop("selections", {}) or {}
    out = []
    run = dict(base["run"])
    run.setdefault("selection", "last")
    run.setdefault("selection_label", label(run["selection"]))
    out.append({**base, "run": run})
    for rule, s in sels.items():
        if rule == run["selection"]:
            continue
        r = dict(run, selection=rule, selection_label=label(rule), selected_epoch=s.get("epoch"))
        out.append({**base, "run": r, "metrics": s["metrics"]})
    return out


def check_not_mixed(records: Iterable[Dict[str, Any]], where: str = "table") -> None:
    """Raise if test-selected (``best_test``) results share one table with other rules."""
    rules = {r["run"].get("selection", "last") for r in records}
    if "best_test" in rules and len(rules) > 1:
        raise SelectionError(f"{where}: results {OPTIMISTIC_LABEL!r} (best_test) are mixed with "
                             f"{sorted(rules - {'best_test'})}; give them their own table")


def split_by_label(records: Iterable[Dict[str, Any]]) -> Dict[str, List[Dict[str, Any]]]:
    """Group selection records for separate tables: ``"standard"`` (last and best_val) and
    ``OPTIMISTIC_LABEL`` (best_test). The report renders each group as its own table and puts the
    label in the second table's title."""
    out: Dict[str, List[Dict[str, Any]]] = {"standard": [], OPTIMISTIC_LABEL: []}
    for r in records:
        key = OPTIMISTIC_LABEL if r["run"].get("selection") == "best_test" else "standard"
        out[key].append(r)
    for key, group in out.items():
        check_not_mixed(group, where=key)
    return out
