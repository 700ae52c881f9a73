"""A toy canonical dataset for the engine's checks: one person whose joints oscillate at a
class-dependent frequency around a random pose, so that a few steps of training already learn
something. The behaviour fingerprints (benchmark.fingerprint) and the test suite's tiny runs use it."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence, Tuple

import numpy as np
import pandas as pd

from benchmark.data.canonical import DatasetMeta, write_dataset


def write_oscillation_dataset(dest: Path, name: str, labels: Sequence[int], n_train: int, num_classes: int,
                              frame_range: Tuple[int, int], t_max: int, freq: float) -> Path:
    """Write ``dest/name``: NTU-25 layout, samples ``labels`` (the first ``n_train`` train, the rest
    test), frame counts drawn uniformly from ``frame_range`` (high end exclusive), joints
    ``base + 0.5·sin(t·(label+1)·freq)`` with a per-sample random ``base``. Seeded: the same
    arguments give the same bytes."""
    rng = np.random.default_rng(0)
    labels = np.asarray(labels)
    n = len(labels)
    frames = rng.integers(frame_range[0], frame_range[1], size=n)
    joints = np.zeros((n, 2, t_max, 25, 3), np.float32)
    t = np.arange(t_max)[:, None, None]
    for i in range(n):
        base = rng.normal(0, 0.3, size=(1, 25, 3))
        joints[i, 0, :frames[i]] = (base + 0.5 * np.sin(t * (labels[i] + 1) * freq))[:frames[i]]
    table = pd.DataFrame({"name": [f"s{i:03d}" for i in range(n)], "label": labels, "frames": frames,
                          "persons": 1, "default": ["train"] * n_train + ["test"] * (n - n_train)})
    meta = DatasetMeta(dataset=name, layout="ntu25", num_classes=num_classes, benchmarks=["default"],
                       reader="test", reader_version="1")
    return write_dataset(Path(dest) / name, joints, table, meta)
