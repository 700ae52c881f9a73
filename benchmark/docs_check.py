"""Dangling-reference check for the repository's text (README, docs, configs, code comments).

Users only have this repository, so every pointer in its prose must lead somewhere inside it:

- a ``*.md`` file name must exist (relative to the repository root, to ``docs/`` or to the file);
- a numbered section (``§2.3``) must not appear: the documents here have named sections;
- a fidelity flag ``F<n>`` must be one that ``docs/fidelity.md`` defines;
- README, ``docs/`` and ``config/`` must not send readers to the developers' data folder
  (``../shared``) or to "the spec".

``python -m benchmark.docs_check`` lists problems (exit status 1 if any);
``python -m benchmark.docs_check --fix`` rewrites the old spec-style citations
(``methods.md §1.2``, ``(§3.4)``) into pointers at the documents of ``docs/``.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterable, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".smk", ".html", ".css", ".toml", ".cfg", ".txt", ""}
TEXT_NAMES = {"Snakefile", "Makefile", "run"}
#: files whose text is data, not prose
SKIP = {"benchmark/docs_check.py", "tests/test_docs_references.py"}

_SEC = r"§\s?\d+(?:\.\d+)*"
SECTION_CHAIN = (rf"{_SEC}(?:\s*[–-]\s*§?\s?\d+(?:\.\d+)*|\s*(?:,|/|and|&)\s*{_SEC})*"
                 r"(?:\s+(?:steps?|items?)\s+\d+(?:\s*[–/-]\s*\d+)?)?")
SPEC_FILES = ("methods", "training", "datasets", "backbones", "workflow", "brl_paper")
QUALIFIED = re.compile(rf"(?:\bspec:?\s*)?(?<![\w/.\"'-])({'|'.join(SPEC_FILES)})\.md(?:\s*({SECTION_CHAIN}))?")
BARE = re.compile(rf"(?:\bspec:?\s*)?({SECTION_CHAIN})")
MD_REF = re.compile(r"(?<![\w/.-])((?:\.\./|\./)?[\w./-]*\w\.md)\b")
FLAG = re.compile(r"(?<![\w-])F(\d{1,2})(?:\s*[–-]\s*F(\d{1,2}))?(?![\w])")
FLAG_CONTEXT = re.compile(r"flags?|fidelity|official|F\d", re.I)
USER_FACING = ("README.md", "docs/", "config/")
USER_FORBIDDEN = (re.compile(r"\.\./shared"), re.compile(r"\bthe spec\b|\bspec's\b|\bspec:|\(spec\)", re.I))


def _first_number(chain: Optional[str]) -> Optional[int]:
    m = re.search(r"\d+", chain or "")
    return int(m.group()) if m else None


def target_for(spec_file: str, chain: Optional[str]) -> str:
    """Which document of docs/ now explains what a spec section explained."""
    n = _first_number(chain)
    if spec_file == "methods":
        return "docs/fidelity.md" if n == 2 else "docs/methods.md"
    if spec_file == "training":
        return "docs/evaluation.md" if n in (6, 7, 8, 9, 10) else "docs/training.md"
    if spec_file == "datasets":
        return "docs/evaluation.md" if n == 9 else "docs/datasets.md"
    if spec_file == "backbones":
        return "docs/backbones.md"
    if spec_file == "workflow":
        return "docs/workflow.md"
    return "the BRL paper"


def default_target(path: str) -> str:
    """The document a bare ``§n`` in this file most likely meant."""
    p = path
    if p.startswith("methods/") or "methods" in Path(p).name:
        return "docs/methods.md"
    if "/models/" in p or "backbone" in p or "test_models" in p or p.endswith(("bench.py", "test_bench.py")):
        return "docs/backbones.md"
    if "gpu_slot" in p or "workflow" in p or p.endswith(".smk"):
        return "docs/workflow.md"
    if any(k in p for k in ("metrics", "stats", "aggregate", "ensemble", "report")):
        return "docs/evaluation.md"
    if any(k in p for k in ("transforms", "engine", "train")):
        return "docs/training.md"
    return "docs/datasets.md"


def rewrite(text: str, path: str) -> str:
    """Turn spec citations into pointers at docs/ (see module docstring)."""
    text = QUALIFIED.sub(lambda m: target_for(m.group(1), m.group(2)), text)
    text = BARE.sub(lambda m: default_target(path), text)
    # the same document cited twice in a row: keep one
    text = re.sub(r"(docs/\w+\.md)((?:\s*(?:,|;|/|and|&)\s*\1)+)", r"\1", text)
    text = re.sub(r"(docs/\w+\.md) +\1", r"\1", text)
    return text


def repo_files(root: Path = REPO) -> List[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=root,
                         capture_output=True, text=True).stdout.split()
    keep = []
    for f in out:
        p = Path(f)
        if f in SKIP or not (root / f).is_file():
            continue
        if p.suffix in TEXT_SUFFIXES and (p.suffix or p.name in TEXT_NAMES):
            keep.append(f)
    return keep


def defined_flags(root: Path = REPO) -> set:
    doc = root / "docs" / "fidelity.md"
    if not doc.exists():
        return set()
    return {int(n) for n in re.findall(r"^\|\s*\*{0,2}F(\d+)\*{0,2}\s*\|", doc.read_text(), re.M)}


def _md_exists(ref: str, path: str, root: Path) -> bool:
    if ref.startswith(("http", "www")):
        return True
    for base in (root, root / "docs", (root / path).parent):
        if (base / ref).exists():
            return True
    return False


def problems(files: Optional[Iterable[str]] = None, root: Path = REPO) -> List[Tuple[str, int, str]]:
    """(file, line, message) for every dangling reference."""
    flags = defined_flags(root)
    out: List[Tuple[str, int, str]] = []
    for f in (files if files is not None else repo_files(root)):
        try:
            text = (root / f).read_text()
        except UnicodeDecodeError:
            continue
        user = f.startswith(USER_FACING) and not f.startswith("docs/_")
        for i, line in enumerate(text.splitlines(), 1):
            if "§" in line:
                out.append((f, i, f"numbered section reference: {line.strip()[:100]}"))
            for m in MD_REF.finditer(line):
                ref = m.group(1)
                if "//" in ref or "://" in line[max(0, m.start() - 200):m.start() + 3]:
                    continue                                  # part of a URL
                if not _md_exists(ref, f, root):
                    out.append((f, i, f"'{ref}' is not a file of this repository"))
            if FLAG_CONTEXT.search(line):
                for m in FLAG.finditer(line):
                    lo = int(m.group(1))
                    hi = int(m.group(2) or lo)
                    missing = [n for n in range(lo, hi + 1) if n not in flags]
                    if missing:
                        out.append((f, i, f"flag(s) {['F%d' % n for n in missing]} not defined in docs/fidelity.md"))
            if user:
                for pat in USER_FORBIDDEN:
                    if pat.search(line):
                        out.append((f, i, f"points outside the repository ('{pat.search(line).group()}')"))
    return out


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmark.docs_check", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fix", action="store_true", help="rewrite spec-style citations in place first")
    args = p.parse_args(argv)
    if args.fix:
        for f in repo_files():
            path = REPO / f
            try:
                text = path.read_text()
            except UnicodeDecodeError:
                continue
            new = rewrite(text, f)
            if new != text:
                path.write_text(new)
                print(f"rewrote {f}")
    found = problems()
    for f, i, msg in found:
        print(f"{f}:{i}: {msg}")
    print(f"{len(found)} dangling reference(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
