"""The prepare and split steps: raw data → canonical dataset → long-tailed training list.

Normalisation runs once here (it is deterministic), so training never repeats it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from benchmark.data.canonical import DatasetMeta, load_dataset, pack_samples, write_dataset
from benchmark.data.readers import read_dataset
from benchmark.data.splits import (SplitError, build_lt_split, counts_table, read_split_list, resolve_thresholds,
                                   write_split_list)

DATA_VERSION = "1"


def prepare_dataset(dataset_id: str, source: str, root: Optional[Path], out_dir: Path, normalize: str = "prenorm3d",
                    options: Optional[Dict[str, Any]] = None, max_persons: int = 2) -> Path:
    from benchmark.data.normalize import normalize_dataset

    options = dict(options or {})
    raw = read_dataset(source, Path(root) if root else Path("."), dataset_id, **options)
    layout = None
    if raw.extra.get("layout_spec"):        # a custom layout declared for the generic format
        from benchmark.graphs import layout_from_dict
        layout = layout_from_dict(raw.extra["layout_spec"])
    raw = normalize_dataset(raw, normalize, layout=layout)
    joints, frames, persons = pack_samples(raw.samples, max_persons, list(raw.table["name"]))
    table = raw.table.copy()
    table["frames"] = frames
    table["persons"] = persons
    cols = ["name", "label", "frames", "persons"] + [c for c in table.columns if c not in ("name", "label", "frames", "persons")]
    meta = DatasetMeta(dataset=dataset_id, layout=raw.layout, num_classes=raw.num_classes, benchmarks=list(raw.benchmarks),
                       reader=raw.reader or source, reader_version=str(raw.reader_version), coords=raw.coords,
                       class_names=list(raw.class_names), sources=dict(raw.sources), normalized=normalize,
                       extra={**raw.extra, "options": options, "data_version": DATA_VERSION})
    return write_dataset(out_dir, joints, table[cols], meta)


def build_split(data_dir: Path, benchmark: str, n_max: Optional[int], ratio: Optional[str], split_list: Optional[Path],
                out: Path, counts_out: Path, seed: int = 0, thresholds: Optional[Dict[str, Any]] = None) -> list:
    """Write the LT training list (one name per line, grouped by class) and its counts table.

    - ``split_list`` given: the official list is used as is (validated against the data);
    - ``ratio == 'natural'``: the whole training split (Kinetics keeps its natural long tail);
    - otherwise: BRL's protocol on the training split in source (table) order.

    ``thresholds`` (the dataset's Many/Few setting, absolute or relative) is resolved against the
    kept counts and written into the counts table (columns many_above, few_below)."""
    from benchmark.data.readers.generic import training_order

    ds = load_dataset(data_dir)
    # The protocol shuffles each class in the official *source order* of the training split,
    # which for NTU differs between benchmarks (order_<benchmark> column).
    names = np.array(training_order(ds.table, benchmark), dtype=object)
    label_col = dict(zip(ds.table["name"], ds.table["label"]))
    labels = np.array([label_col[n] for n in names], dtype=np.int64)
    if split_list is not None:
        kept = read_split_list(split_list, known_names=names)
    elif ratio is None or str(ratio) == "natural":
        order = np.argsort(labels, kind="stable")
        kept = list(names[order])
    else:
        if n_max is None:
            raise SplitError("n_max is required to build a long-tailed split (datasets.<id>.lt.n_max)")
        kept = build_lt_split(names, labels, ds.meta.num_classes, int(n_max), float(ratio), seed=seed)
    label_of = dict(zip(names, labels))
    write_split_list(out, kept)
    kept_labels = [label_of[n] for n in kept]
    groups = resolve_thresholds(thresholds, np.bincount(np.asarray(kept_labels, dtype=np.int64),
                                                        minlength=ds.meta.num_classes))
    table = counts_table(kept_labels, ds.meta.num_classes, ds.meta.class_names or None, groups=groups)
    test = ds.split_indices(benchmark, "test")
    table["test_count"] = np.bincount(ds.table["label"].to_numpy()[test], minlength=ds.meta.num_classes)
    from benchmark.io import atomic_write_text
    atomic_write_text(Path(counts_out), table.to_csv(index=False))
    return kept
