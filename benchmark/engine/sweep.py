"""Validation sweeps of a stage-1 hyper-parameter (WB's weight decay) and the step that picks the winner.

A method may declare ``SWEEP = {"option", "grid", "default", "id_prefix"}`` (methods/wb.py). Where the
split has a held-out validation split, the workflow trains one candidate run per grid value under
its own id (``wb_wd0.0005``, …, ``runs/<split>/<backbone>/<id>/<stream>/seed<k>/``), then the
selection step (``python -m benchmark.engine.sweep``, rule ``select_sweep``) reads the candidates,
picks the one whose **final** model has the highest balanced accuracy on the validation split
(the 1-clip pass after the last runner epoch, ``epochs.csv`` ``val_balanced_acc``; ties keep the
smaller value) and copies that run's files into the method's own folder
(``runs/<split>/<backbone>/wb/<stream>/seed<k>/``). The copy keeps the winner's ``run_id`` (it is
the same model), so a second stage (``wb_stage2``) started from it has the winner in its identity.
The choice is recorded as ``meta.stage1_selection`` (grid with scores, chosen value, criterion).

The choice is made per stream and seed: each (stream, seed) run of ``wb`` is the candidate that
validated best for that stream and seed. Candidates stay on disk for inspection but are not result
rows: tables and the report list ``wb`` (the chosen value) only.

Where no validation split exists (NW-UCLA, Kinetics, synthetic data) nothing is swept: the single
``wb`` run trains with the fixed default and records ``"no validation split: fixed default"``.

Torch-free: the workflow's selection job only reads JSON/CSV and copies files.
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from benchmark.io import atomic_write_json

CRITERION = "validation balanced accuracy (final stage-1 model)"
NO_VALIDATION = "no validation split: fixed default"
#: files of a run folder copied from the winner (metrics.json is written last, from the record)
COPIED = ("model.pt", "test_probs.npz", "epochs.csv")


class SweepError(ValueError):
    pass


def choose_value(candidates: Sequence[Tuple[float, Optional[float]]], option: str, default: float) -> Dict[str, Any]:
    """The value whose run scored highest; ties keep the smaller value.

    ``candidates``: (value, validation score or None). Without any score the fixed ``default`` is
    returned with the reason, never a value picked by chance."""
    scored = [(float(v), float(s)) for v, s in candidates if s is not None]
    if not scored:
        return {"tuned": False, "chosen": default, "reason": NO_VALIDATION}
    best = max(scored, key=lambda t: (t[1], -t[0]))
    return {"tuned": True, "option": option, "chosen": best[0], "criterion": CRITERION, "grid": dict(scored)}


def final_val_score(run_dir: Path) -> Optional[float]:
    """``val_balanced_acc`` of the run's last runner epoch (epochs.csv), or None when that epoch has
    no validation pass (no validation split, or ``schedule.val_every: 0``)."""
    path = Path(run_dir) / "epochs.csv"
    if not path.exists():
        raise SweepError(f"{path}: missing; the candidate run did not finish (re-run its train job)")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return None
    last = max(rows, key=lambda r: int(r["epoch"]))
    v = last.get("val_balanced_acc")
    return None if v in (None, "") else float(v)


def _load(run_dir: Path) -> Dict[str, Any]:
    path = Path(run_dir) / "metrics.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise SweepError(f"{path}: missing; the candidate run did not finish (re-run its train job)") from None


def select(candidate_dirs: Sequence[Path], out_dir: Path, method_id: str, sweep: Dict[str, Any]) -> Dict[str, Any]:
    """Pick the winning candidate and write it as run ``method_id`` into ``out_dir``; returns the
    choice record (also stored as ``meta.stage1_selection`` of the written metrics.json)."""
    if not candidate_dirs:
        raise SweepError(f"{out_dir}: no candidate runs to select from")
    option = sweep["option"]
    cands: List[Tuple[Path, Dict[str, Any], float, Optional[float]]] = []
    for d in candidate_dirs:
        rec = _load(Path(d))
        opts = ((rec.get("meta") or {}).get("spec") or {}).get("method_options") or {}
        if option not in opts:
            raise SweepError(f"{Path(d) / 'metrics.json'}: meta.spec.method_options has no '{option}'; "
                             "it is not a candidate of this sweep")
        cands.append((Path(d), rec, float(opts[option]), final_val_score(Path(d))))
    values = [c[2] for c in cands]
    if len(set(values)) != len(values):
        raise SweepError(f"{out_dir}: two candidates share one {option} value ({sorted(values)})")
    choice = choose_value([(c[2], c[3]) for c in cands], option, float(sweep["default"]))
    chosen = choice["chosen"]
    match = [c for c in cands if c[2] == chosen]
    if not match:
        raise SweepError(f"{out_dir}: no candidate ran the fixed default {option} = {chosen}")
    win_dir, rec, _, _ = match[0]
    if not choice["tuned"]:
        choice = dict(choice, option=option, note="the candidates have no validation score (the data had no "
                                                  "validation split, or schedule.val_every is 0)")
    choice["candidates"] = {str(c[1]["run"]["method"]): {option: c[2], "val_balanced_acc": c[3],
                                                          "run_id": (c[1].get("meta") or {}).get("run_id")}
                            for c in cands}
    choice["selected_run"] = str(rec["run"]["method"])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in COPIED + tuple(p.name for p in sorted(win_dir.glob("test_probs_*.npz"))):
        src = win_dir / name
        if src.exists():
            shutil.copyfile(src, out_dir / name)
    rec = dict(rec)
    rec["run"] = dict(rec["run"], method=method_id)
    rec["meta"] = dict(rec.get("meta") or {}, stage1_selection=choice)
    atomic_write_json(out_dir / "metrics.json", rec)        # last: its presence means a complete run
    return choice


def run_record(method_name: str, method_options: Dict[str, Any], has_validation: bool,
               stage1_dir: Optional[Path] = None) -> Optional[Dict[str, Any]]:
    """``meta.stage1_selection`` of a training run, or None when nothing was swept or inherited.

    A second stage (``stage1_dir`` given) repeats its stage-1 model's record, so ``wb_stage2``
    says which weight decay its backbone was trained with and why. A run of a method with a sweep
    records its own value: the fixed default where no validation split exists; otherwise it is one
    candidate (the selection step overwrites the record of the winner's copy)."""
    if stage1_dir is not None:
        p = Path(stage1_dir) / "metrics.json"
        if p.exists():
            try:
                return (json.loads(p.read_text()).get("meta") or {}).get("stage1_selection")
            except json.JSONDecodeError:
                return None
        return None
    import methods

    sweep = (methods.method_index().get(method_name) or {}).get("sweep")
    if not sweep:
        return None
    value = float(method_options.get(sweep["option"], sweep["default"]))
    if has_validation:
        reason = ("this run's value is fixed by its config; where the workflow sweeps it, the selection step "
                  "records the winner in the selected run")
    elif value == float(sweep["default"]):
        reason = NO_VALIDATION
    else:
        reason = "no validation split: value set in the config"
    return {"tuned": False, "option": sweep["option"], "chosen": value, "reason": reason}


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmark.engine.sweep", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--candidates", nargs="+", type=Path, required=True, help="the candidates' run folders")
    p.add_argument("--out", type=Path, required=True, help="the selected run's folder (the method's own id)")
    p.add_argument("--method-id", required=True, help="run.method of the selected run (e.g. wb)")
    p.add_argument("--method-name", required=True, help="the registered method whose SWEEP applies")
    args = p.parse_args(argv)
    import methods

    sweep = (methods.method_index().get(args.method_name) or {}).get("sweep")
    if not sweep:
        print(f"error: method '{args.method_name}' declares no SWEEP", file=sys.stderr)
        return 2
    try:
        choice = select(args.candidates, args.out, args.method_id, sweep)
    except SweepError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(choice, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
