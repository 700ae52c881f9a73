"""Held-out validation split for model selection and post-hoc tuning.

The official training split holds many more samples than the long-tailed list keeps (NTU60-LT
X-Sub keeps 7 892 of about 40 000). The validation split takes **20 samples per class** from the
*unused* ones: for each class c = 0 … C−1 in order, the unused training samples of that class in
the benchmark's source order, then 20 drawn uniformly without replacement by one legacy
``RandomState(0)`` shared by all classes (the same generator kind the LT protocol uses). The split
is balanced (20 × C: 1 200 on NTU60, 2 400 on NTU120), deterministic, and by construction disjoint
from the LT list and from the test split; :func:`build_validation` checks both anyway.

It shares subjects and views with training, so it is an in-distribution split, used only to pick a
checkpoint (``best_val``) and to tune post-hoc τ. Where some class has fewer than 20 unused samples
(NW-UCLA-LT: 2 for class 0; Kinetics keeps its whole training split) there is no validation split
and runs report ``last`` only; :func:`validation_names` returns None with the reason.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

PER_CLASS = 20
SEED = 0
#: dataset families (and their readers) whose long-tailed training list leaves >= PER_CLASS unused
#: samples per class; other data (a generic dataset too) declare ``validation: true`` themselves
VALIDATION_FAMILIES = ("ntu",)
VALIDATION_SOURCES = ("pyskl_pickle", "ntu_skeleton")


class ValidationSplitError(ValueError):
    pass


def validation_names(train_names: Sequence[str], train_labels: Sequence[int], lt_names: Sequence[str],
                     num_classes: int, per_class: int = PER_CLASS, seed: int = SEED
                     ) -> Tuple[Optional[List[str]], str]:
    """(names, reason): the validation split drawn from ``train_names`` minus ``lt_names``.

    ``train_names``/``train_labels``: the benchmark's full training split in source order.
    Returns (None, reason) when some class has fewer than ``per_class`` unused samples."""
    names = list(train_names)
    labels = np.asarray(train_labels, dtype=np.int64)
    if len(names) != len(labels):
        raise ValidationSplitError(f"{len(names)} training names but {len(labels)} labels")
    used = set(lt_names)
    unknown = used - set(names)
    if unknown:
        raise ValidationSplitError(f"{len(unknown)} sample(s) of the LT list are not in the training split, "
                                   f"e.g. '{sorted(unknown)[0]}'")
    unused: Dict[int, List[str]] = {c: [] for c in range(num_classes)}
    for n, l in zip(names, labels.tolist()):
        if n not in used:
            unused[l].append(n)
    short = {c: len(v) for c, v in unused.items() if len(v) < per_class}
    if short:
        c = min(short, key=lambda k: (short[k], k))
        return None, (f"no held-out validation split: class {c} has only {short[c]} unused training "
                      f"sample(s), {per_class} are needed per class")
    rs = np.random.RandomState(seed)
    out: List[str] = []
    for c in range(num_classes):
        pick = rs.choice(len(unused[c]), size=per_class, replace=False)
        out.extend(unused[c][i] for i in sorted(pick))
    return out, f"{per_class} unused training samples per class (seed {seed})"


def planned_validation(dataset_cfg: Dict[str, Any], ratio: str, dataset_id: str = "") -> Tuple[bool, str]:
    """(expected, reason): whether a split of this config dataset entry has a held-out validation
    split, decided from the config alone (the workflow plans before any data is read).

    ``validation: true|false`` in the dataset's entry decides. Otherwise: NTU data (an NTU reader,
    layout ``ntu25``) on a long-tailed split (``ratio`` not ``natural``), whose LT list keeps a
    small part of the training split, has one; NW-UCLA (class 0 keeps all but 2 of its samples),
    Kinetics (natural tail, the whole training split is used), synthetic and generic data do not.
    The training run still builds the split from the data (:func:`build_validation`); where the
    plan expected one but the data have none, the run reports ``last`` only and a planned
    hyper-parameter sweep falls back to its fixed default."""
    from benchmark.recipes import family_of

    explicit = dataset_cfg.get("validation")
    if explicit is not None:
        if not isinstance(explicit, bool):
            raise ValidationSplitError(f"dataset '{dataset_id}': validation must be true or false, "
                                       f"not {explicit!r}")
        return explicit, f"datasets.{dataset_id}.validation: {str(explicit).lower()}"
    family = family_of(dataset_cfg, dataset_id)
    if family in VALIDATION_FAMILIES and dataset_cfg.get("source") in VALIDATION_SOURCES and str(ratio) != "natural":
        return True, f"{PER_CLASS} unused {family.upper()} training samples per class"
    if str(ratio) == "natural":
        return False, "no validation split: the natural tail uses the whole training split"
    return False, f"no validation split for {family or 'this'} data (set datasets.{dataset_id}.validation: true " \
                  "if every class keeps 20 unused training samples)"


def check_disjoint(val: Sequence[str], lt_names: Sequence[str], test_names: Sequence[str]) -> None:
    """The validation split must not overlap the LT training list or the test split."""
    v = set(val)
    if len(v) != len(val):
        raise ValidationSplitError("the validation split has duplicate names")
    for other, what in ((lt_names, "the long-tailed training list"), (test_names, "the test split")):
        both = v & set(other)
        if both:
            raise ValidationSplitError(f"the validation split shares {len(both)} sample(s) with {what}, "
                                       f"e.g. '{sorted(both)[0]}'")


def build_validation(ds, benchmark: str, lt_indices: np.ndarray, per_class: int = PER_CLASS,
                     seed: int = SEED) -> Tuple[Optional[np.ndarray], str]:
    """Validation indices into a prepared dataset (or None, reason), checked disjoint from the LT
    list and the test split. ``ds`` is a :class:`benchmark.data.canonical.CanonicalDataset`."""
    from benchmark.data.readers.generic import training_order

    table = ds.table
    order = training_order(table, benchmark)
    label_of = dict(zip(table["name"], table["label"].astype(int)))
    lt_names = table["name"].to_numpy()[np.asarray(lt_indices)].tolist()
    names, reason = validation_names(order, [label_of[n] for n in order], lt_names, ds.meta.num_classes,
                                     per_class, seed)
    if names is None:
        return None, reason
    test_names = table["name"].to_numpy()[ds.split_indices(benchmark, "test")].tolist()
    check_disjoint(names, lt_names, test_names)
    return ds.indices_of(names, source="validation split"), reason
