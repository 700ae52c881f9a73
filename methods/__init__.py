"""Training methods, one file each, registered by name.

A method is a module ``methods/<name>.py`` that declares the module-level literals ``NAME`` and
``VERSION`` (read without importing, by the workflow at parse time) and a class decorated with
:func:`register_method`. Dropping such a file here makes it available everywhere; nothing else needs
editing. Importing this package does not import torch: method modules are imported on demand.
"""
from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path
from typing import Dict, List, Type

_REGISTRY: Dict[str, type] = {}
_DISCOVERED = False
PACKAGE_DIR = Path(__file__).resolve().parent


class UnknownMethodError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


def register_method(cls: type) -> type:
    """Class decorator: add a method to the registry. Two methods under one name is an error."""
    name = getattr(cls, "NAME", None)
    if not name or not isinstance(name, str):
        raise TypeError(f"{cls.__qualname__}: a registered method needs a string NAME")
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        other = _REGISTRY[name]
        raise ValueError(f"method name '{name}' is registered twice: {other.__module__}.{other.__qualname__} "
                         f"and {cls.__module__}.{cls.__qualname__}")
    _REGISTRY[name] = cls
    return cls


def method_files() -> List[Path]:
    return sorted(p for p in PACKAGE_DIR.glob("*.py") if not p.name.startswith("_"))


_INDEX_CACHE: Dict[tuple, Dict[str, Dict[str, str]]] = {}


def method_index() -> Dict[str, Dict[str, str]]:
    """name -> {version, own_version, description, paper, stage1 (optional), file} read with ``ast``
    (no import, no torch). ``version`` is the effective version (:func:`effective_version`).

    Cached on the files' names and modification times (shared helpers included): the workflow asks
    for it once per job."""
    files = method_files()
    key = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(PACKAGE_DIR.glob("*.py")))
    if key not in _INDEX_CACHE:
        _INDEX_CACHE.clear()
        _INDEX_CACHE[key] = _read_index(files)
    return {k: dict(v) for k, v in _INDEX_CACHE[key].items()}


def _read_index(files: List[Path]) -> Dict[str, Dict[str, str]]:
    index: Dict[str, Dict[str, str]] = {}
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        lits: Dict[str, str] = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                key = node.targets[0].id
                if key in ("NAME", "VERSION", "DESCRIPTION", "PAPER", "STAGE1") and isinstance(node.value, ast.Constant):
                    lits[key.lower()] = str(node.value.value)
                elif key == "SWEEP":
                    # a validation sweep the workflow runs (e.g. wb's weight decay): a dict literal
                    lits["sweep"] = _sweep_literal(path, node.value)
        lits["deps"] = ",".join(sorted(_sibling_imports(tree)))
        if "name" not in lits:
            continue
        if lits["name"] in index:
            raise ValueError(f"method name '{lits['name']}' is declared by both {index[lits['name']]['file']} "
                             f"and {path.name}")
        lits["file"] = path.name
        lits.setdefault("version", "0")
        index[lits.pop("name")] = lits
    versions = _module_versions(files)
    for lits in index.values():
        lits["own_version"] = lits["version"]
        lits["version"] = _effective(Path(lits["file"]).stem, versions)
        lits.pop("deps")
    return index


def _sibling_imports(tree: ast.Module) -> set:
    """Names of the modules of this package that a module imports (``from methods.brl import BRL``,
    ``from methods._formulas import …``, ``import methods._mixing``; not the registry itself)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            mod = node.module if node.level == 0 else f"{__name__}.{node.module}"
            if mod.startswith(f"{__name__}."):
                names.add(mod.split(".", 1)[1].split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(f"{__name__}."):
                    names.add(alias.name.split(".", 1)[1].split(".")[0])
    return names


def _module_versions(method_paths: List[Path]) -> Dict[str, tuple]:
    """module stem -> (its VERSION literal, the sibling modules it imports), for every module of
    the package, the shared helpers ``_*.py`` included."""
    out: Dict[str, tuple] = {}
    for path in sorted(PACKAGE_DIR.glob("*.py")):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        version = "0"
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                    and node.targets[0].id == "VERSION" and isinstance(node.value, ast.Constant):
                version = str(node.value.value)
        out[path.stem] = (version, _sibling_imports(tree))
    return out


def _effective(stem: str, versions: Dict[str, tuple]) -> str:
    """A method's effective version: its own ``VERSION``, then ``module=VERSION`` for every module
    of this package it builds on, directly or through another (parents such as ``brl`` for
    ``brl_stae``, the shared helpers ``_base``, ``_formulas``, ``_mixing``, ``_samplers``). Bumping
    any of them changes the effective version of exactly the methods that use it."""
    seen, todo = set(), list(versions[stem][1])
    while todo:
        dep = todo.pop()
        if dep in seen or dep == stem or dep not in versions:
            continue
        seen.add(dep)
        todo.extend(versions[dep][1])
    return ";".join([versions[stem][0]] + [f"{d}={versions[d][0]}" for d in sorted(seen)])


def effective_version(name: str) -> str:
    """The effective version of the registered method ``name`` (see :func:`_effective`); what the
    workflow puts into every run's identity."""
    index = method_index()
    if name not in index:
        raise UnknownMethodError(f"unknown method '{name}'; available: {', '.join(sorted(index))}")
    return index[name]["version"]


def _sweep_literal(path: Path, node: ast.AST) -> dict:
    """``SWEEP = {"option": NAME, "grid": [values], "default": value, "id_prefix": TEXT}``."""
    try:
        sweep = ast.literal_eval(node)
    except ValueError:
        raise ValueError(f"{path.name}: SWEEP must be a literal dict (the workflow reads it without importing "
                         "the module)") from None
    need = {"option", "grid", "default", "id_prefix"}
    if not isinstance(sweep, dict) or not need <= set(sweep) or not sweep["grid"] \
            or sweep["default"] not in sweep["grid"]:
        raise ValueError(f"{path.name}: SWEEP needs keys {sorted(need)}, a non-empty grid and a default "
                         "taken from the grid")
    return sweep


def discover() -> None:
    """Import every method module so that their decorators fill the registry."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    for info in pkgutil.iter_modules([str(PACKAGE_DIR)]):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    _DISCOVERED = True


def available_methods() -> List[str]:
    discover()
    return sorted(_REGISTRY)


def get_method(name: str) -> Type:
    discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownMethodError(f"unknown method '{name}'; available: {', '.join(sorted(_REGISTRY))}") from None
