"""Every version that enters a run's identity, in one place.

Torch-free and import-light: the workflow reads it at parse time and the engine, the data
preparation and the model registry read it at run time, so the version a run records is always
the version its identity hashed. Method versions live in each method file's ``VERSION`` literal
(and the shared helpers' ``VERSION`` in ``methods/_*.py``); :func:`methods.effective_version`
combines a method's own version with those of the modules it builds on.

When to bump (the behaviour-fingerprint test, ``tests/test_fingerprints.py``, fails and names the
constant when behaviour changed without a bump):

- ``ENGINE_VERSION``: anything in ``benchmark/engine`` or ``benchmark/data/transforms.py`` that can
  change a run's numbers (random streams, batch order, augmentation, schedule, evaluation).
- ``DATA_VERSION``: the prepared arrays or their metadata for unchanged raw input.
- ``BACKBONE_VERSIONS[name]``: a backbone's forward or backward (layers, initialisation).
"""
from __future__ import annotations

from typing import Dict

#: 1: first release. 2: frame indices and mixing draws come from the device generator (1106b39,
#: whose bump was missed), and the identity resolves ``precision: auto`` before hashing.
ENGINE_VERSION = "2"
DATA_VERSION = "1"
BACKBONE_VERSIONS: Dict[str, str] = {"stgcnpp": "1", "ctrgcn": "1", "msg3d": "1"}


def backbone_version(name: str) -> str:
    """The version of a registered backbone ("0" for one this file does not know: a user's model
    outside the package; add it here to version it)."""
    return BACKBONE_VERSIONS.get(name, "0")


def all_versions() -> Dict[str, object]:
    """Engine, data and backbone versions as one dict (what a fingerprint file records)."""
    return {"engine": ENGINE_VERSION, "data": DATA_VERSION, "backbones": dict(BACKBONE_VERSIONS)}
