"""Dataset readers: raw files a researcher downloads → :class:`RawDataset` (then the canonical format).

Each reader is a function registered with :func:`register_reader` under the ``source`` name used in
the dataset config (``datasets.<id>.source``). The prepare step (``python -m benchmark prepare``)
calls the reader, normalises every sample for its layout, and writes the canonical format once.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np
import pandas as pd

#: source name -> module that registers it (imported lazily)
READER_MODULES = {
    "synthetic": "benchmark.data.synthetic",
    "nw_ucla_json": "benchmark.data.readers.nw_ucla",
    "pyskl_pickle": "benchmark.data.readers.pyskl",
    "pyskl_hrnet": "benchmark.data.readers.pyskl",
    "ntu_skeleton": "benchmark.data.readers.ntu_skeleton",
    "stgcn_openpose": "benchmark.data.readers.kinetics_json",
    "generic": "benchmark.data.readers.generic",
}
_READERS: Dict[str, Callable] = {}


@dataclass
class RawDataset:
    """What a reader returns: un-normalised samples and their table.

    ``samples[i]`` is float32 (M_i, T_i, V, C); ``table`` has columns name, label (0-based) and one
    column per benchmark with values 'train' / 'test' / ''. ``persons``/``frames`` are filled by
    the packer."""

    dataset: str
    layout: str
    num_classes: int
    benchmarks: List[str]
    samples: List[np.ndarray]
    table: pd.DataFrame
    coords: str = "xyz"
    class_names: List[str] = field(default_factory=list)
    sources: Dict[str, str] = field(default_factory=dict)
    reader: str = ""
    reader_version: str = "1"
    extra: Dict[str, object] = field(default_factory=dict)


def register_reader(name: str, version: str = "1"):
    def deco(fn: Callable) -> Callable:
        if name in _READERS and _READERS[name] is not fn:
            raise ValueError(f"reader '{name}' is registered twice")
        fn.reader_name = name
        fn.reader_version = version
        _READERS[name] = fn
        return fn
    return deco


def get_reader(name: str) -> Callable:
    if name not in _READERS and name in READER_MODULES:
        importlib.import_module(READER_MODULES[name])
    try:
        return _READERS[name]
    except KeyError:
        raise KeyError(f"unknown dataset source '{name}'; available: {', '.join(sorted(READER_MODULES))}") from None


def read_dataset(source: str, root: Path, dataset_id: str, **options) -> RawDataset:
    root = Path(root)
    if source != "synthetic" and not root.exists():
        raise FileNotFoundError(f"dataset '{dataset_id}': root path '{root}' does not exist; set "
                                f"datasets.{dataset_id}.root in your config (or --config {dataset_id}_root=PATH)")
    reader = get_reader(source)
    _check_options(reader, source, dataset_id, options)
    raw = reader(root, dataset_id=dataset_id, **options)
    raw.reader = raw.reader or source
    return raw


def _check_options(reader: Callable, source: str, dataset_id: str, options: Dict[str, object]) -> None:
    """An unknown reader option is a config error naming the key, not a TypeError traceback."""
    import inspect

    params = inspect.signature(reader).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    known = sorted(n for n, p in params.items() if n not in ("root", "dataset_id")
                   and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD))
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"datasets.{dataset_id}.options: unknown option(s) {unknown} for source '{source}'; "
                         f"known: {', '.join(known) or 'none'}")
