"""Behaviour fingerprints (benchmark/fingerprint.py): same version, same numbers.

Every versioned unit (each method, each backbone, the engine, data preparation) is recomputed on
its fixed tiny inputs and compared with tests/fingerprints/<unit>.json. A behaviour change without
a version bump fails and names the constant to bump; a bump without a refresh fails and names the
command. The tests below the parametrized one show that the check can fail: 1106b39's change of
the frame-index stream and of the mixing stream, each on its own, are caught.
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from benchmark import fingerprint as F

pytestmark = pytest.mark.usefixtures("single_torch_thread")

UNITS = F.units()
BY_KEY = {u.key: u for u in UNITS}


@pytest.mark.parametrize("key", sorted(BY_KEY))
def test_behaviour_matches_the_fingerprint_of_its_version(key):
    problem = F.check(BY_KEY[key])
    assert problem is None, problem


def test_every_fingerprint_file_belongs_to_a_unit():
    stale = F.stale_files(UNITS)
    assert not stale, (f"{[str(p) for p in stale]}: no such unit any more; run '{F.UPDATE_CMD}' (it removes them) "
                       "and commit")


def _stored(key):
    return json.loads(F.fingerprint_path(BY_KEY[key]).read_text())


def _values(stored):
    return {k: np.asarray(v["values"], dtype=np.int64 if v["dtype"] == "int" else np.float64)
            for k, v in stored["arrays"].items()}


def test_a_changed_number_names_the_constant_to_bump():
    unit, stored = BY_KEY["method-brl"], _stored("method-brl")
    vals = _values(stored)
    assert F.compare(unit, stored, vals, F.fingerprint_path(unit)) is None
    key = next(k for k in sorted(vals) if k.endswith("/loss"))
    vals[key] = vals[key] * 1.01
    msg = F.compare(unit, stored, vals, F.fingerprint_path(unit))
    assert msg and "methods/brl.py VERSION" in msg and "methods/_mixing.py" in msg, msg
    assert "tests/fingerprints/method-brl.json" in msg and f"{F.UPDATE_CMD} method-brl" in msg, msg
    # within the tolerance (last-bit differences between CPUs): no failure
    vals[key] = np.asarray(stored["arrays"][key]["values"]) * (1 + F.RTOL / 10)
    assert F.compare(unit, stored, vals, F.fingerprint_path(unit)) is None
    # an integer draw (sampler order) must match exactly
    vals = _values(stored)
    order = next(k for k in sorted(vals) if k.endswith("/order"))
    vals[order] = vals[order][::-1].copy()
    assert "behaviour changed" in F.compare(unit, stored, vals, F.fingerprint_path(unit))


def test_a_bumped_version_says_how_to_refresh(tmp_path):
    unit = BY_KEY["data"]
    shutil.copy(F.fingerprint_path(unit), tmp_path / "data.json")
    bumped = F.Unit(unit.key, unit.version + "+1", unit.bump, unit.compute)
    msg = F.check(bumped, tmp_path)
    assert msg and f"'{F.UPDATE_CMD} data'" in msg and "made with version" in msg, msg
    assert "no fingerprint" in F.check(BY_KEY["engine"], tmp_path)
    # the refresh writes the file the check then accepts
    rec = F.record(bumped, bumped.compute())
    (tmp_path / "data.json").write_text(F.dumps(rec))
    assert F.check(bumped, tmp_path) is None


def test_1106b39_frame_index_stream_without_a_bump_fails(monkeypatch):
    """The engine's frame indices drawn on the host with numpy (as before 1106b39) instead of on
    the device from the step generator: same distribution, another stream, another result."""
    from benchmark.data import transforms as T

    def host_stream(frames, clip_len, gen):
        import torch
        rng = np.random.default_rng([int(gen.initial_seed()), 1])
        return torch.from_numpy(T.train_frame_indices(frames.cpu().numpy(), clip_len, rng)).to(frames.device)

    monkeypatch.setattr(T, "train_frame_indices_device", host_stream)
    msg = F.check(BY_KEY["engine"])
    assert msg and "benchmark/versions.py ENGINE_VERSION" in msg and "tests/fingerprints/engine.json" in msg, msg


def test_1106b39_mixing_stream_without_a_bump_fails(monkeypatch):
    """Mixing draws seeded by one draw of the torch generator (before 1106b39) instead of by its
    seed: every mixing method's fingerprint moves, and the message names the shared helper."""
    import torch
    import methods._mixing as mixing

    def old_rng(gen):
        seed = torch.randint(0, 2 ** 62, (1,), generator=gen, device=gen.device).item()
        return np.random.default_rng(int(seed))

    monkeypatch.setattr(mixing, "numpy_rng_from", old_rng)
    msg = F.check(BY_KEY["method-mixup"])
    assert msg and "methods/mixup.py VERSION" in msg and "methods/_mixing.py" in msg, msg


def test_a_comment_only_edit_keeps_the_version(tmp_path, monkeypatch):
    """Versions come from the VERSION literals (read with ast), so a comment or docstring edit
    changes neither the version nor, being no behaviour, the fingerprint."""
    import methods

    copy = tmp_path / "methods"
    shutil.copytree(methods.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "brl.py").write_text("# a comment\n" + (copy / "brl.py").read_text().replace(
        '"""BRL:', '"""(edited) BRL:', 1))
    before = methods._read_index(methods.method_files())
    files = sorted(p for p in copy.glob("*.py") if not p.name.startswith("_"))
    monkeypatch.setattr(methods, "PACKAGE_DIR", copy)
    after = methods._read_index(files)
    assert after["brl"]["version"] == before["brl"]["version"]
