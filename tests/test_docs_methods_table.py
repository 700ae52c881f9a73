"""docs/methods.md is generated from the registry and names only registered methods."""
import re

from conftest import REPO


def test_methods_table_names_registered_methods_only():
    import methods

    text = (REPO / "docs" / "docs/methods.md").read_text()
    documented = re.findall(r"^\| `([a-z0-9_]+)` \|", text, flags=re.M)
    registered = set(methods.method_index())
    assert documented and set(documented) <= registered
    assert {"brl", "ce", "focal", "kps"} <= set(documented)


def test_markdown_generator_matches_the_shipped_table_for_shipped_methods():
    from benchmark.cli import methods_markdown

    generated = {l for l in methods_markdown().splitlines() if l.startswith("| `")}
    shipped = {l for l in (REPO / "docs" / "docs/methods.md").read_text().splitlines() if l.startswith("| `")}
    assert shipped <= generated, "docs/methods.md is stale: python -m benchmark methods --markdown > docs/methods.md"
