"""The official NTU60-LT / NTU120-LT training lists, shipped as package resources.

The BRL authors published twelve lists (two datasets × two benchmarks × imbalance ratios 10, 50,
100); every later long-tailed skeleton paper trains on the same files, so a faithful reproduction
must use them verbatim rather than regenerate them. They are stored gzip-compressed under
``benchmark/resources/lt_splits/`` with their MIT licence and a manifest of SHA-256 hashes of the
uncompressed content; :func:`load_official_list` refuses a copy whose hash differs.

Configs refer to them symbolically (``lt.split_list: official``); :func:`resolve_split_list`
turns that into a key such as ``official:NTU60_xsub_exp_100``. Standard library only: the workflow
imports this module at parse time.
"""
from __future__ import annotations

import gzip
import hashlib
from importlib import resources
from typing import Any, Dict, List, Mapping, Optional

PREFIX = "official:"
RESOURCE_DIR = "resources/lt_splits"
#: dataset family -> benchmarks that have official lists
FAMILIES = {"NTU60": ("xsub", "xview"), "NTU120": ("xsub", "xset")}
RATIOS = ("10", "50", "100")


class OfficialListError(ValueError):
    pass


def _res(name: str):
    return resources.files("benchmark").joinpath(f"{RESOURCE_DIR}/{name}")


def manifest() -> Dict[str, str]:
    """List name (e.g. ``NTU60_xsub_exp_100``) -> SHA-256 of its uncompressed content."""
    out = {}
    for line in _res("MANIFEST.sha256").read_text().splitlines():
        if line.strip():
            digest, name = line.split()
            out[name] = digest
    return out


def available() -> List[str]:
    return sorted(manifest())


def official_name(family: str, benchmark: str, ratio: Any) -> str:
    """``NTU60``, ``xsub``, 100 -> ``NTU60_xsub_exp_100`` (checked against what is packaged)."""
    fam = family.upper()
    r = str(ratio)
    r = str(int(float(r))) if r.replace(".", "", 1).isdigit() and float(r).is_integer() else r
    if fam not in FAMILIES or benchmark not in FAMILIES[fam] or r not in RATIOS:
        raise OfficialListError(
            f"no official list for {family} / {benchmark} / ratio {ratio}: official lists exist for "
            f"NTU60 (xsub, xview) and NTU120 (xsub, xset) at ratios 10, 50, 100; give a path to your own "
            "list in lt.split_list instead")
    return f"{fam}_{benchmark}_exp_{r}"


def load_official_bytes(name: str) -> bytes:
    """Uncompressed content of one packaged list, verified against MANIFEST.sha256."""
    name = name[len(PREFIX):] if name.startswith(PREFIX) else name
    digests = manifest()
    if name not in digests:
        raise OfficialListError(f"'{name}' is not a packaged official list; available: {', '.join(sorted(digests))}")
    data = gzip.decompress(_res(f"{name}.txt.gz").read_bytes())
    got = hashlib.sha256(data).hexdigest()
    if got != digests[name]:
        raise OfficialListError(f"packaged list {name}: SHA-256 {got} does not match the manifest "
                                f"({digests[name]}); the installed copy is corrupt, reinstall the package")
    return data


def load_official_list(name: str) -> List[str]:
    """Sample names of one packaged list (``NTU60_xsub_exp_100`` or ``official:NTU60_xsub_exp_100``)."""
    return load_official_bytes(name).decode().split()


def _family(ds_id: str, dataset: Mapping[str, Any]) -> Optional[str]:
    """NTU60 / NTU120 from the dataset id or its pickle's file name (``ntu120_3danno.pkl``)."""
    for text in (ds_id, str((dataset.get("options") or {}).get("file", ""))):
        t = text.lower()
        if t.startswith("ntu120"):
            return "NTU120"
        if t.startswith("ntu60"):
            return "NTU60"
    return None


def resolve_split_list(ds_id: str, dataset: Mapping[str, Any], benchmark: str) -> Optional[str]:
    """The value of ``datasets.<id>.lt.split_list`` for one benchmark, resolved.

    ``split_list`` may be ``official`` (one word for every benchmark), a mapping benchmark -> value,
    or absent. A value is ``official`` (the packaged list chosen by the dataset family, the
    benchmark and ``lt.ratio``), ``official:<NAME>`` (one packaged list by name) or a file path.
    Returns ``official:<NAME>``, a path, or None (no list: the split is built by the protocol)."""
    lt = dataset.get("lt") or {}
    sl = lt.get("split_list")
    value = sl.get(benchmark) if isinstance(sl, Mapping) else sl
    if value in (None, ""):
        return None
    value = str(value)
    if value == "official":
        fam = _family(ds_id, dataset)
        if fam is None:
            raise OfficialListError(
                f"dataset '{ds_id}': lt.split_list 'official' needs an NTU60 or NTU120 dataset (an id or "
                "options.file starting with ntu60 / ntu120); name the list (official:NTU60_xsub_exp_100) "
                "or give a path")
        return PREFIX + official_name(fam, benchmark, lt.get("ratio"))
    if value.startswith(PREFIX):
        name = value[len(PREFIX):]
        if name not in manifest():
            raise OfficialListError(f"dataset '{ds_id}': lt.split_list '{value}': no such packaged list; "
                                    f"available: {', '.join(available())}")
    return value
