"""Has a run finished learning? The "still learning" rule of the report (pure functions).

A run is **still learning** when its monitored accuracy (the 1-clip test-split monitor of
``epochs.csv``, balanced accuracy; top-1 where an older log has no balanced column) changed by
more than :data:`TOLERANCE` (1 point) over its last :data:`WINDOW_SHARE` (20 %) of runner epochs:
the spread (max − min) of the monitored values at epochs ≥ (1 − 0.2)·E, E the last epoch. Such a
run's number depends on where training happened to stop, so a comparison with it is under-trained.

A run whose window holds fewer than two monitored epochs (``val_every`` too large, or a run
without epochs) cannot be judged: :func:`check` returns ``None`` for ``still_learning`` and says why.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

#: share of the last runner epochs the rule looks at
WINDOW_SHARE = 0.2
#: largest change of the monitored accuracy (a fraction: 0.01 = 1 point) a finished run may show
TOLERANCE = 0.01
#: epochs.csv columns the rule reads, in order of preference
MONITOR_COLUMNS = ("test_balanced_acc_monitor", "test_top1_monitor")
#: the rule in one sentence (the report's tooltip)
RULE = (f"still learning: the monitored test accuracy changed by more than {100 * TOLERANCE:g} point over the "
        f"last {100 * WINDOW_SHARE:g} % of epochs, so this number depends on where training stopped")


@dataclass(frozen=True)
class Convergence:
    #: True: still learning; False: converged; None: cannot tell (see ``reason``)
    still_learning: Optional[bool]
    #: max − min of the monitored accuracy inside the window (a fraction), None if not judged
    change: Optional[float]
    #: first epoch of the window and the last epoch
    window: Optional[tuple]
    #: the monitored values inside the window, in epoch order
    values: tuple = ()
    reason: str = ""

    def note(self) -> str:
        """The report's wording ('' for a converged or unjudged run)."""
        if not self.still_learning:
            return ""
        lo, hi = self.window
        return (f"still learning: monitored accuracy moved {100 * self.change:.1f} points over epochs "
                f"{lo}–{hi} (more than {100 * TOLERANCE:g} over the last {100 * WINDOW_SHARE:g} % of epochs)")


def check(epochs: Sequence[int], values: Sequence[Optional[float]], share: float = WINDOW_SHARE,
          tolerance: float = TOLERANCE) -> Convergence:
    """Apply the rule to one run's monitor curve: ``epochs`` (1-based runner epochs) and the
    monitored accuracy at each (a fraction; None/NaN where the epoch was not monitored)."""
    if len(epochs) != len(values):
        raise ValueError(f"convergence check: {len(epochs)} epochs but {len(values)} values")
    if not 0 < share <= 1 or tolerance < 0:
        raise ValueError(f"convergence check: share must lie in (0, 1] and tolerance be >= 0, got {share}, {tolerance}")
    points = [(int(e), float(v)) for e, v in zip(epochs, values)
              if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not epochs:
        return Convergence(None, None, None, reason="no epochs")
    last = max(int(e) for e in epochs)
    start = last - share * last
    inside = sorted((e, v) for e, v in points if e >= start - 1e-9)
    if len(inside) < 2:
        return Convergence(None, None, None, reason=f"fewer than two monitored epochs in the last "
                                                    f"{100 * share:g} % of {last} epochs (lower val_every)")
    vals = tuple(v for _, v in inside)
    change = max(vals) - min(vals)
    return Convergence(change > tolerance + 1e-12, change, (inside[0][0], last), vals)


def check_epochs_csv(path: Path, share: float = WINDOW_SHARE, tolerance: float = TOLERANCE) -> Convergence:
    """:func:`check` on a run's ``epochs.csv`` (the first monitor column it has)."""
    import csv

    path = Path(path)
    if not path.exists():
        return Convergence(None, None, None, reason=f"{path.name} missing")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    col = next((c for c in MONITOR_COLUMNS if rows and c in rows[0]), None)
    if col is None:
        return Convergence(None, None, None, reason=f"{path.name} has no monitor column")

    def value(text: str) -> Optional[float]:
        return float(text) if text not in ("", None) else None

    return check([int(r["epoch"]) for r in rows], [value(r[col]) for r in rows], share, tolerance)
