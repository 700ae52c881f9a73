"""The repository's text stands alone: no pointer to a file, section or flag that is not in it,
and the generated part of docs/methods.md matches the method registry."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmark import docs_check
from conftest import REPO


def test_no_dangling_references_in_the_repository():
    found = docs_check.problems()
    assert not found, "dangling references (python -m benchmark.docs_check lists them; --fix rewrites " \
                      "spec-style citations):\n" + "\n".join(f"{f}:{i}: {m}" for f, i, m in found[:40])


def _fake_repo(tmp_path: Path, text: str, name: str = "docs/page.md") -> list:
    (tmp_path / "docs").mkdir(exist_ok=True)
    (tmp_path / "docs" / "fidelity.md").write_text("| F1 | x |\n| **F2** | y |\n")
    (tmp_path / "docs" / "methods.md").write_text("# Methods\n")
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(text)
    return docs_check.problems([name], root=tmp_path)


@pytest.mark.parametrize("text, expect", [
    ("see methods.md §2 for the flags", "numbered section"),
    ("as training.md §12.3 says", "numbered section"),
    ("(backbones.md §6–7)", "numbered section"),
    ("details in workflow.md", "'workflow.md' is not a file"),
    ("every difference (flags F1–F18) is an option", "['F3'"),
    ("the official_code flag F13", "['F13']"),
    ("read ../shared/data/brl_lt_splits", "points outside"),
    ("weights as in the spec", "points outside"),
])
def test_checker_catches_each_kind(tmp_path, text, expect):
    found = _fake_repo(tmp_path, text)
    assert any(expect in msg for _, _, msg in found), found


@pytest.mark.parametrize("text", [
    "see docs/methods.md and [methods](methods.md)", "the flags F1 and F2 (fidelity)",
    "https://example.org/spec/methods.md is a URL", "F1 score outside any flag context? no: F1 is defined",
])
def test_checker_accepts_valid_references(tmp_path, text):
    assert _fake_repo(tmp_path, text) == []


def test_code_comments_are_checked_too(tmp_path):
    found = _fake_repo(tmp_path, '"""Loss (methods.md §3.4)."""\n', name="pkg/mod.py")
    assert found and found[0][:2] == ("pkg/mod.py", 1)


@pytest.mark.parametrize("before, after", [
    ("(spec: datasets.md §8–9).", "(docs/datasets.md)."),
    ("x (training.md §9.1, datasets.md §9.1)", "x (docs/evaluation.md)"),
    ("(methods.md §2, flags F1–F18)", "(docs/fidelity.md, flags F1–F18)"),
    ("as training.md §12.3)", "as docs/training.md)"),
    ('path = REPO / "docs" / "methods.md"', 'path = REPO / "docs" / "methods.md"'),
    ("see docs/methods.md", "see docs/methods.md"),
])
def test_rewrite_of_spec_citations(before, after):
    assert docs_check.rewrite(before, "benchmark/x.py") == after


def _doc_sections() -> dict:
    from benchmark.docs_methods import BEGIN, DOC, END

    generated = DOC.read_text().split(BEGIN, 1)[1].split(END, 1)[0]
    body = generated.split("## Every method", 1)[1]
    return {m.group(1): m.group(0).rstrip() for m in re.finditer(r"### `(\w+)`\n.*?(?=\n### `|\Z)", body, re.S)}


def test_generated_methods_doc_is_current():
    """Each documented method's section equals what the registry generates now; every method file of
    the repository is documented (a method you just added only needs --update-docs before committing)."""
    import subprocess

    import methods
    from benchmark.docs_methods import method_section

    sections = _doc_sections()
    for name, text in sections.items():
        assert name in methods.available_methods(), f"docs/methods.md documents unknown method {name}"
        assert text == method_section(name).rstrip(), \
            f"docs/methods.md: section {name} is stale; run python -m benchmark methods --update-docs"
    tracked = subprocess.run(["git", "ls-files", "methods"], cwd=REPO, capture_output=True, text=True).stdout.split()
    for f in tracked:
        name = Path(f).stem
        if not name.startswith("_") and f.endswith(".py") and name in methods.method_index():
            assert name in sections, f"{f} is not documented; run python -m benchmark methods --update-docs"


def test_every_registered_method_is_documented_with_its_options():
    import methods

    text = (REPO / "docs" / "methods.md").read_text()
    for name in methods.available_methods():
        cls = methods.get_method(name)
        section = text.split(f"### `{name}`\n", 1)[1].split("\n### ", 1)[0]
        assert cls.PAPER in section
        for opt, val in cls.OFFICIAL_CODE.items():
            assert f"| `{opt}` |" in section, (name, opt)


def test_every_defined_flag_is_explained_once():
    flags = docs_check.defined_flags()
    assert flags == set(range(1, 19))
