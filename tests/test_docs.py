"""The docs stay an index of what exists: every doc is indexed, every relative link resolves, and
docs/architecture.md names every node and non-plot dataset of the registered pipelines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DOCS = PROJECT_ROOT / "docs"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _relative_links(markdown: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(markdown.read_text())
        if not re.match(r"[a-z]+://", target)
    ]


def test_the_index_lists_every_doc():
    listed = set(_relative_links(DOCS / "README.md"))
    docs = sorted(path.name for path in DOCS.glob("*.md") if path.name != "README.md")
    assert [name for name in docs if name not in listed] == [], "add it to docs/README.md"


@pytest.mark.parametrize(
    "markdown", [DOCS / "README.md", DOCS / "architecture.md", PROJECT_ROOT / "README.md"]
)
def test_relative_links_resolve(markdown):
    broken = [
        target
        for target in _relative_links(markdown)
        if not (markdown.parent / target).resolve().exists()
    ]
    assert broken == []


def test_the_readme_links_the_docs_index():
    assert "docs/README.md" in _relative_links(PROJECT_ROOT / "README.md")


def test_architecture_names_every_node_and_dataset():
    bootstrap_project(PROJECT_ROOT)
    text = (DOCS / "architecture.md").read_text()
    nodes, datasets = set(), set()
    for name in (
        "data_generation",
        "preparation",
        "tuning",
        "tuning_regression",
        "reporting",
        "scoring",
    ):
        pipeline = pipelines[name]
        nodes |= {node.name.split(".")[-1] for node in pipeline.nodes}
        datasets |= {
            dataset.split("@")[0]
            for dataset in pipeline.datasets()
            if not dataset.startswith("params:") and not dataset.endswith("_plot")
        }
    missing = sorted(name for name in nodes | datasets if f"`{name}" not in text)
    assert missing == [], "describe them in docs/architecture.md"
