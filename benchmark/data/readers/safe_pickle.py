"""A restricted unpickler for annotation pickles downloaded from the internet (datasets.md §2.4).

``pickle.load`` on an untrusted file can run arbitrary code: the pickle names a global (e.g.
``os.system``) and calls it. pyskl's annotation files only need plain containers (which pickle
encodes with opcodes, no global at all) and numpy arrays / scalars, so :class:`SafeUnpickler`
resolves exactly these globals and refuses every other one *before* anything is called:

- ``numpy.core.multiarray._reconstruct`` / ``numpy._core.multiarray._reconstruct`` (array rebuild)
- ``numpy.core.multiarray.scalar`` / ``numpy._core.multiarray.scalar`` (numpy scalars)
- ``numpy.ndarray``, ``numpy.dtype``
- ``numpy.core.numeric._frombuffer`` / ``numpy._core.numeric._frombuffer``: pickle protocol 5
  (Python 3.14's default) rebuilds arrays from a bytes buffer with it; it only wraps bytes.
- ``_codecs.encode``: pickle protocol ≤ 2 writes the raw bytes of an array as
  ``_codecs.encode(text, 'latin1')``; it only turns a str into bytes (no side effect), so it is
  admitted to read files written with the old protocols.
"""
from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path
from typing import Any, Union

import numpy as np

from benchmark.data.canonical import DatasetError

try:  # numpy >= 2 moved the module; both names appear in pickles written by numpy 1.x and 2.x
    from numpy._core import multiarray as _multiarray  # type: ignore[attr-defined]
    from numpy._core import numeric as _numeric  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]
    from numpy.core import numeric as _numeric  # type: ignore[no-redef]


class UnsafePickleError(DatasetError):
    """The pickle names a global outside the allow-list (it could run code on load)."""


#: (module, name) -> object; the only globals a pickle may reference.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy.core.numeric", "_frombuffer"): _numeric._frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _numeric._frombuffer,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


#: largest array a pickle may ask for (elements). Arrays rebuilt from bytes in the file are bounded
#: by the file's size anyway; this stops a tiny file from requesting a huge empty allocation.
MAX_ARRAY_ELEMENTS = 1 << 30


class SafeUnpickler(pickle.Unpickler):
    """Unpickler that only resolves :data:`ALLOWED_GLOBALS`; ``source`` names the file in errors.

    Arrays may not have an object dtype (they would hold arbitrary Python objects instead of
    numbers) and may not exceed :data:`MAX_ARRAY_ELEMENTS` elements."""

    def __init__(self, file, source: str = "<pickle>"):
        super().__init__(file)
        self.source = source
        self.arrays = 0
        self._guarded = {
            np.dtype: self._dtype,
            np.ndarray: self._ndarray,
            _multiarray._reconstruct: self._reconstruct,
        }

    def _refuse(self, what: str) -> None:
        raise UnsafePickleError(f"{self.source}: refusing to load: array #{max(self.arrays, 1)} in the file {what}; "
                                "annotation files hold numeric arrays only. Re-create the file from trusted data.")

    def _dtype(self, *args, **kwargs):
        d = np.dtype(*args, **kwargs)
        if d.hasobject:
            self._refuse(f"has the object dtype '{d}' (it could hold arbitrary objects)")
        return d

    def _check_size(self, shape) -> None:
        try:
            n = int(np.prod([int(x) for x in (shape if isinstance(shape, (tuple, list)) else (shape,))],
                            dtype=np.float64))
        except (TypeError, ValueError):
            return
        if n > MAX_ARRAY_ELEMENTS:
            self._refuse(f"asks for {n:,} elements (limit {MAX_ARRAY_ELEMENTS:,})")

    def _ndarray(self, shape=(), dtype=float, *args, **kwargs):
        self.arrays += 1
        self._check_size(shape)
        if np.dtype(dtype).hasobject:
            self._refuse("has an object dtype")
        return np.ndarray(shape, dtype, *args, **kwargs)

    def _reconstruct(self, cls, shape, dtype):
        if cls == self._ndarray:          # the pickle named numpy.ndarray, which resolved to our guard
            cls = np.ndarray
        if cls is not np.ndarray:
            self._refuse(f"is rebuilt as '{cls}', not a numpy array")
        self.arrays += 1
        self._check_size(shape)
        return _multiarray._reconstruct(cls, shape, dtype)

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102 - pickle hook
        try:
            obj = ALLOWED_GLOBALS[(module, name)]
            return self._guarded.get(obj, obj)
        except KeyError:
            raise UnsafePickleError(
                f"{self.source}: refusing to load: the pickle references the global '{module}.{name}', "
                "which is not a plain container or numpy array (a pickle can run code on load). "
                "Only pyskl-style annotation files (dicts/lists of numbers, strings and numpy arrays) "
                "are accepted; re-create the file from trusted data if this is unexpected.") from None

    def persistent_load(self, pid: Any) -> Any:  # pragma: no cover - never used by pyskl files
        raise UnsafePickleError(f"{self.source}: refusing to load: persistent ids are not allowed")


def safe_load(path: Union[str, Path]) -> Any:
    """Load a pickle file with :class:`SafeUnpickler`; a truncated file is a :class:`DatasetError`."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: file not found")
    with open(path, "rb") as f:
        return _load(f, str(path))


def safe_loads(data: bytes, source: str = "<bytes>") -> Any:
    return _load(io.BytesIO(data), source)


def _load(f, source: str) -> Any:
    try:
        return SafeUnpickler(f, source).load()
    except UnsafePickleError:
        raise
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, IndexError, AttributeError,
            UnicodeDecodeError) as e:
        raise DatasetError(f"{source}: not a readable pickle (truncated or corrupt?): "
                           f"{type(e).__name__}: {e}; download the file again") from e
