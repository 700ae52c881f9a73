"""The generated part of docs/methods.md: one section per registered method, read from the registry.

    python -m benchmark methods --markdown            # print the generated part
    python -m benchmark methods --update-docs         # rewrite it inside docs/methods.md

Everything in a section comes from the method's own file: its description and paper, the module
docstring (the formula in words), the stage-1 method it starts from, and its option table with the
paper default, the ``official_code`` value and the fidelity flag (docs/fidelity.md) the difference
belongs to. The text around the markers in docs/methods.md is written by hand; a test checks that
the generated part is current.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Dict

BEGIN = "<!-- BEGIN GENERATED: python -m benchmark methods --update-docs -->"
END = "<!-- END GENERATED -->"
DOC = Path(__file__).resolve().parents[1] / "docs" / "methods.md"

SUMMARY_HEADER = """## Summary

| method | what | from | options changed by `official_code` |
|---|---|---|---|"""

#: option -> fidelity flag for options outside BRL's own map (shared by the baselines' official variants)
SHARED_FLAGS = {"counts_source": "F7", "reduction": "F11", "schedule": "F8", "switch": "F8",
                "aa_switch_epoch": "F8", "rpm_device_batch": "F6"}


def _brl_flags() -> Dict[str, str]:
    from methods import brl

    return {opt: flag for flag, opt in brl.FIDELITY_FLAGS.items()}


def _fmt(v: Any) -> str:
    if v is None:
        return "`null`"
    if isinstance(v, float):
        return f"`{v:g}`"
    return f"`{v}`"


def _docstring(cls) -> str:
    doc = (sys.modules[cls.__module__].__doc__ or "").strip()
    # the section itself is in docs/methods.md: drop pointers to it
    doc = re.sub(r"\s*\(docs/methods\.md\)", "", doc)
    doc = re.sub(r"(;|,)?\s*(and )?docs/methods\.md\b", "", doc)
    return doc


def method_section(name: str) -> str:
    import methods

    cls = methods.get_method(name)
    flags = {**SHARED_FLAGS, **_brl_flags()}
    lines = [f"### `{name}`", "", f"**{cls.DESCRIPTION}.** From: {cls.PAPER}. Version {cls.VERSION}."]
    if cls.STAGE1:
        lines.append(f"Starts from the final model of `{cls.STAGE1}` (same split, backbone, stream and seed); "
                     "the workflow trains that run first.")
    doc = _docstring(cls)
    if doc:
        lines += ["", doc]
    if cls.DEFAULTS:
        lines += ["", "| option | `paper` default | `official_code` | flag |", "|---|---|---|---|"]
        options = list(cls.DEFAULTS) + [o for o in cls.OFFICIAL_CODE if o not in cls.DEFAULTS]
        for opt in options:
            val = cls.DEFAULTS.get(opt)
            if opt in cls.OFFICIAL_CODE:
                off = _fmt(cls.OFFICIAL_CODE[opt])
                flag = flags.get(opt, "method-specific")
            else:
                off, flag = "same", ""
            lines.append(f"| `{opt}` | {_fmt(val)} | {off} | {flag} |")
    else:
        lines += ["", "No options."]
    if not cls.OFFICIAL_CODE:
        lines += ["", "`official_code` changes nothing (the released code has no variant of this method)."]
    return "\n".join(lines)


def summary_table() -> str:
    import methods

    rows = [SUMMARY_HEADER]
    for name in methods.available_methods():
        cls = methods.get_method(name)
        diff = ", ".join(f"`{k}`: {cls.DEFAULTS.get(k)!r} → {v!r}" for k, v in cls.OFFICIAL_CODE.items()) or "—"
        stage = f" (starts from `{cls.STAGE1}`)" if cls.STAGE1 else ""
        rows.append(f"| `{name}` | {cls.DESCRIPTION}{stage} | {cls.PAPER} | {diff} |")
    return "\n".join(rows)


def methods_markdown() -> str:
    """The generated part of docs/methods.md (imports every method)."""
    import methods

    parts = [summary_table(), "## Every method", ""]
    parts += [method_section(n) + "\n" for n in methods.available_methods()]
    return "\n".join(parts).rstrip() + "\n"


def splice(doc_text: str, generated: str) -> str:
    if BEGIN not in doc_text or END not in doc_text:
        raise ValueError(f"{DOC}: markers {BEGIN!r} / {END!r} not found")
    head, rest = doc_text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n\n{generated}\n{END}{tail}"


def update_docs(path: Path = DOC) -> bool:
    text = path.read_text()
    new = splice(text, methods_markdown())
    if new != text:
        path.write_text(new)
    return new != text
