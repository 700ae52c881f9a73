"""Long-tailed split construction and class groups (docs/datasets.md).

- :func:`lt_profile`: n_c = floor(n_max · r^(−c/(C−1))), computed as int(n_max · (1/r)^(c/(C−1)))
  so values never land just below an integer.
- :func:`build_lt_split`: BRL's protocol: one legacy ``RandomState(0)``, then for each class in
  order shuffle its source-ordered sub-list and keep the first n_c names.
- :func:`read_split_list` / :func:`write_split_list`: one name per line, grouped by class.
- :func:`class_groups`: Many/Medium/Few (>100, 20–100, <20) and the ten frequency groups.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

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


def _atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_split_list(path: Path, names: Sequence[str]) -> None:
    _atomic_write_text(Path(path), "".join(f"{n}\n" for n in names))


def frequency_rank(counts: np.ndarray) -> np.ndarray:
    """Class indices sorted by count, descending; ties by ascending class index."""
    counts = np.asarray(counts)
    return np.lexsort((np.arange(len(counts)), -counts))


def shot_group(n: int) -> str:
    """Many if n > 100, Medium if 20 <= n <= 100, Few if n < 20 (docs/evaluation.md)."""
    return "many" if n > 100 else ("medium" if n >= 20 else "few")


def ten_group_index(counts: np.ndarray, num_groups: int = 10) -> np.ndarray:
    """Group index 0..9 per class: consecutive chunks of the frequency rank (docs/evaluation.md)."""
    counts = np.asarray(counts)
    c = len(counts)
    rank = frequency_rank(counts)
    group = np.empty(c, dtype=np.int64)
    for pos, cls in enumerate(rank):
        group[cls] = min(pos * num_groups // c, num_groups - 1)
    return group


def counts_table(labels: Sequence[int], num_classes: int, class_names: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """Per-class training counts with Many/Medium/Few, frequency rank and 10-group index."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
    rank = np.empty(num_classes, dtype=np.int64)
    rank[frequency_rank(counts)] = np.arange(num_classes)
    df = pd.DataFrame({
        "class": np.arange(num_classes),
        "name": list(class_names) if class_names else [f"class{c}" for c in range(num_classes)],
        "count": counts,
        "rank": rank,
        "shot": [shot_group(int(n)) for n in counts],
        "group10": ten_group_index(counts),
    })
    return df
