"""Long-tailed split construction and class groups (docs/datasets.md).

- :func:`lt_profile`: n_c = floor(n_max · r^(−c/(C−1))), computed as int(n_max · (1/r)^(c/(C−1)))
  so values never land just below an integer.
- :func:`build_lt_split`: BRL's protocol: one legacy ``RandomState(0)``, then for each class in
  order shuffle its source-ordered sub-list and keep the first n_c names.
- :func:`read_split_list` / :func:`write_split_list`: one name per line, grouped by class.
- :class:`GroupThresholds` / :func:`resolve_thresholds`: Many/Medium/Few (default >100, 20–100, <20;
  settable per dataset, absolute or relative to the split's largest class) and the ten frequency groups.
"""
from __future__ import annotations

from pathlib import Path
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
import pandas as pd


class SplitError(ValueError):
    pass


def lt_profile(num_classes: int, n_max: int, ratio: float) -> np.ndarray:
    """Exponential class-size profile (docs/datasets.md); class 0 is the head."""
    if num_classes < 2:
        return np.array([n_max], dtype=np.int64)
    return np.array([int(n_max * (1.0 / ratio) ** (c / (num_classes - 1))) for c in range(num_classes)],
                    dtype=np.int64)


def build_lt_split(names: Sequence[str], labels: Sequence[int], num_classes: int, n_max: int,
                   ratio: float, seed: int = 0) -> List[str]:
    """Select the LT training list from an ordered source list (docs/datasets.md).

    ``names``/``labels`` are the benchmark's full training split in source order."""
    names = list(names)
    labels = np.asarray(labels)
    counts = lt_profile(num_classes, n_max, ratio)
    rs = np.random.RandomState(seed)   # legacy RNG on purpose: the official lists depend on it
    kept: List[str] = []
    for c in range(num_classes):
        sub = [n for n, l in zip(names, labels) if l == c]
        if len(sub) < counts[c]:
            raise SplitError(f"class {c} has {len(sub)} training samples but the profile asks for {counts[c]} "
                             f"(n_max={n_max}, ratio={ratio}); lower n_max")
        rs.shuffle(sub)
        kept.extend(sub[: counts[c]])
    return kept


def read_split_list(path, known_names: Optional[Sequence[str]] = None) -> List[str]:
    """Names split on whitespace; empty lines dropped. Duplicates or unknown names are errors.

    ``path`` is a file, or ``official:<NAME>`` for one of the packaged official lists
    (:mod:`benchmark.data.lt_lists`, hash-checked on load)."""
    from benchmark.data.lt_lists import PREFIX, OfficialListError, load_official_list

    if str(path).startswith(PREFIX):
        try:
            names = load_official_list(str(path))
        except OfficialListError as e:
            raise SplitError(str(e)) from e
    else:
        path = Path(path)
        if not path.exists():
            raise SplitError(f"split list '{path}' does not exist; check split_list in the dataset config")
        names = path.read_text().split()
    seen: Dict[str, int] = {}
    for i, n in enumerate(names, 1):
        if n in seen:
            raise SplitError(f"{path}: name '{n}' on line {i} is a duplicate of line {seen[n]}")
        seen[n] = i
    if known_names is not None:
        known = set(known_names)
        for i, n in enumerate(names, 1):
            if n not in known:
                raise SplitError(f"{path}: line {i}: sample '{n}' is not in the dataset's training split")
    return names


def write_split_list(path: Path, names: Sequence[str]) -> None:
    from benchmark.io import atomic_write_text
    atomic_write_text(Path(path), "".join(f"{n}\n" for n in names))


def frequency_rank(counts: np.ndarray) -> np.ndarray:
    """Class indices sorted by count, descending; ties by ascending class index."""
    counts = np.asarray(counts)
    return np.lexsort((np.arange(len(counts)), -counts))


@dataclass(frozen=True)
class GroupThresholds:
    """Many if n_c > ``many_above``, Few if n_c < ``few_below``, Medium otherwise (docs/evaluation.md).

    The defaults are the literature's 100 / 20. A dataset can set its own (``thresholds`` in its
    config); :func:`resolve_thresholds` turns a relative setting into these absolute numbers, which
    are written beside the split's counts and into every run's metrics so reports can state them."""

    many_above: float = 100
    few_below: float = 20

    def __post_init__(self) -> None:
        if not (self.few_below >= 0 and self.many_above >= 0):
            raise SplitError(f"Many/Few thresholds must be >= 0, got many={self.many_above}, few={self.few_below}")
        if self.few_below > self.many_above:
            raise SplitError(f"Few threshold {self.few_below} is above the Many threshold {self.many_above}: a class "
                             "would be both Many and Few; use few <= many in datasets.<id>.thresholds")

    def shot(self, n: float) -> str:
        return "many" if n > self.many_above else ("medium" if n >= self.few_below else "few")

    def to_dict(self) -> Dict[str, float]:
        return {"many_above": _num(self.many_above), "few_below": _num(self.few_below)}

    @classmethod
    def from_dict(cls, d: Optional[Mapping[str, Any]]) -> "GroupThresholds":
        if not d:
            return DEFAULT_GROUPS
        return cls(float(d["many_above"]), float(d["few_below"]))

    def labels(self) -> Dict[str, str]:
        """Human-readable group names with their thresholds, e.g. 'Many (>100)'."""
        m, f = _num(self.many_above), _num(self.few_below)
        return {"many": f"Many (>{m})", "medium": f"Medium ({f}–{m})", "few": f"Few (<{f})"}


def _num(x: float):
    x = float(x)
    return int(x) if x.is_integer() else round(x, 3)


DEFAULT_GROUPS = GroupThresholds()


def resolve_thresholds(spec: Optional[Mapping[str, Any]], counts: Sequence[int]) -> GroupThresholds:
    """Absolute thresholds from a dataset's ``thresholds`` setting and the split's training counts.

    ``spec``: None (the defaults 100 / 20), ``{many: 40, few: 10}`` (absolute), or
    ``{many: 0.5, few: 0.1, relative: true}``: fractions of the largest class count of the split
    (e.g. 0.5 and 0.1 of 600 give 300 and 60)."""
    if not spec:
        return DEFAULT_GROUPS
    unknown = sorted(set(spec) - {"many", "few", "relative"})
    if unknown:
        raise SplitError(f"thresholds: unknown key(s) {unknown}; allowed: many, few, relative")
    try:
        many, few = float(spec.get("many", 100)), float(spec.get("few", 20))
    except (TypeError, ValueError) as e:
        raise SplitError(f"thresholds: many and few must be numbers, got {dict(spec)}") from e
    if spec.get("relative"):
        if not (0 <= few <= 1 and 0 <= many <= 1):
            raise SplitError(f"relative thresholds are fractions of the largest class count (0..1), got "
                             f"many={many}, few={few}")
        top = float(np.max(counts)) if len(counts) else 0.0
        many, few = many * top, few * top
    return GroupThresholds(many, few)


def groups_from_counts_csv(path) -> GroupThresholds:
    """The thresholds a split was built with (columns many_above / few_below of its counts CSV);
    the defaults when the file or the columns are absent (splits written before thresholds existed)."""
    path = Path(path)
    if not path.exists():
        return DEFAULT_GROUPS
    df = pd.read_csv(path, nrows=1)
    if {"many_above", "few_below"} <= set(df.columns) and len(df):
        return GroupThresholds(float(df["many_above"].iloc[0]), float(df["few_below"].iloc[0]))
    return DEFAULT_GROUPS


def counts_path_for_split(split_file) -> Path:
    """results/splits/<split>.txt -> results/splits/<split>_counts.csv (written by the same step)."""
    p = Path(split_file)
    return p.with_name(f"{p.stem}_counts.csv")


def shot_group(n: int, groups: GroupThresholds = DEFAULT_GROUPS) -> str:
    """Many if n > 100, Medium if 20 <= n <= 100, Few if n < 20 (docs/evaluation.md); other
    thresholds with ``groups``."""
    return groups.shot(n)


def ten_group_index(counts: np.ndarray, num_groups: int = 10) -> np.ndarray:
    """Group index 0..9 per class: consecutive chunks of the frequency rank (docs/evaluation.md)."""
    counts = np.asarray(counts)
    c = len(counts)
    rank = frequency_rank(counts)
    group = np.empty(c, dtype=np.int64)
    for pos, cls in enumerate(rank):
        group[cls] = min(pos * num_groups // c, num_groups - 1)
    return group


def counts_table(labels: Sequence[int], num_classes: int, class_names: Optional[Sequence[str]] = None,
                 groups: GroupThresholds = DEFAULT_GROUPS) -> pd.DataFrame:
    """Per-class training counts with Many/Medium/Few (and the thresholds used), frequency rank and
    10-group index."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
    rank = np.empty(num_classes, dtype=np.int64)
    rank[frequency_rank(counts)] = np.arange(num_classes)
    df = pd.DataFrame({
        "class": np.arange(num_classes),
        "name": list(class_names) if class_names else [f"class{c}" for c in range(num_classes)],
        "count": counts,
        "rank": rank,
        "shot": [groups.shot(int(n)) for n in counts],
        "group10": ten_group_index(counts),
        "many_above": _num(groups.many_above),
        "few_below": _num(groups.few_below),
    })
    return df
