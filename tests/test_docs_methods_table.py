"""docs/methods.md is generated from the registry and names only registered methods."""
import re

from conftest import REPO


def _generated_part() -> str:
    from benchmark.docs_methods import BEGIN, END

    generated = (REPO / "docs" / "methods.md").read_text().split(BEGIN, 1)[1].split(END, 1)[0]
    return generated.split("## Every method", 1)[0]         # the summary table


def test_methods_table_names_registered_methods_only():
    import methods

    text = _generated_part()
    documented = re.findall(r"^\| `([a-z0-9_]+)` \|", text, flags=re.M)
    registered = set(methods.method_index())
    assert documented and set(documented) <= registered
    assert {"brl", "ce", "focal", "kps"} <= set(documented)


def test_markdown_generator_matches_the_shipped_table_for_shipped_methods():
    from benchmark.cli import methods_markdown

    generated = {l for l in methods_markdown().splitlines() if l.startswith("| `")}
    shipped = {l for l in _generated_part().splitlines() if l.startswith("| `")}
    assert shipped <= generated, "docs/methods.md is stale: python -m benchmark methods --update-docs"
