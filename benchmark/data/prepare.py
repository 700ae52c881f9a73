"""The prepare and split steps: raw data → canonical dataset → long-tailed training list.

Normalisation runs once here (it is deterministic), so training never repeats it.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from benchmark.data.canonical import DatasetMeta, load_dataset, pack_samples, write_dataset
from benchmark.data.readers import read_dataset
from benchmark.data.splits import (SplitError, build_lt_split, counts_table, read_split_list, resolve_thresholds,
                                   write_split_list)
from benchmark.versions import DATA_VERSION


#: person slots of a prepared array unless the dataset names ``max_persons`` (two, as NTU)
DEFAULT_MAX_PERSONS = 2


def prepare_dataset(dataset_id: str, source: str, root: Optional[Path], out_dir: Path, normalize: str = "prenorm3d",
                    options: Optional[Dict[str, Any]] = None, max_persons: Optional[int] = None) -> Path:
    """Read, normalise and pack one dataset into ``out_dir`` (canonical format).

    ``max_persons``: the person slots of the packed array (persons beyond it are dropped, fewer are
    zero-padded); None: :data:`DEFAULT_MAX_PERSONS`. A value other than the default is also recorded in ``meta.json``
    (``extra.max_persons``); the default is not, so data prepared before the option existed keeps
    its checksums and every run identity built on them."""
    from benchmark.data.normalize import normalize_dataset

    max_persons = DEFAULT_MAX_PERSONS if max_persons is None else int(max_persons)
    if max_persons < 1:
        raise ValueError(f"dataset '{dataset_id}': max_persons must be at least 1, got {max_persons}")
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
                       extra={**raw.extra, "options": options, "data_version": DATA_VERSION,
                              **({} if max_persons == DEFAULT_MAX_PERSONS else {"max_persons": max_persons})})
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
        n_max, ratio_f = check_lt_profile(n_max, ratio, ds.meta.num_classes)
        kept = build_lt_split(names, labels, ds.meta.num_classes, n_max, ratio_f, seed=seed)
    label_of = dict(zip(names, labels))
    kept_counts = np.bincount([label_of[n] for n in kept], minlength=ds.meta.num_classes)
    empty = np.flatnonzero(kept_counts == 0)
    if len(empty):
        cls = ", ".join(str(c) for c in empty[:10]) + (" …" if len(empty) > 10 else "")
        print(f"warning: {out}: {len(empty)} class(es) have no training sample ({cls}); a model cannot learn "
              "them and their test accuracy will be 0", file=sys.stderr)
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


def check_lt_profile(n_max, ratio, num_classes: int):
    """A usable long-tail profile: n_max >= 1, ratio >= 1 (head / tail), and every class keeps at
    least one sample (n_max / ratio >= 1). Returns (n_max, ratio) as (int, float)."""
    if n_max is None:
        raise SplitError("n_max is required to build a long-tailed split (datasets.<id>.lt.n_max)")
    try:
        ratio_f = float(ratio)
    except (TypeError, ValueError):
        raise SplitError(f"lt.ratio = {ratio!r}: a number >= 1 (head size / tail size) or 'natural'") from None
    if int(n_max) < 1:
        raise SplitError(f"lt.n_max = {n_max}: the head class needs at least one sample")
    if not ratio_f >= 1:
        raise SplitError(f"lt.ratio = {ratio}: the imbalance ratio is head size / tail size and must be >= 1")
    if num_classes > 1 and int(n_max) / ratio_f < 1:
        raise SplitError(f"lt.n_max = {n_max} with lt.ratio = {ratio} leaves the tail classes no sample "
                         f"(n_max / ratio = {int(n_max) / ratio_f:.2f} < 1); raise n_max or lower the ratio")
    return int(n_max), ratio_f
