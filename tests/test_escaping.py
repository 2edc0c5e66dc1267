"""Everything written is escaped for where it goes: a process file full of attacks on
DOT, SVG, Mermaid, Markdown and HTML comes out as text, with every node kept apart."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from salesproc import graph, load
from salesproc.playbook import to_markdown
from salesproc.render import to_dot, to_image, to_mermaid
from tests.conftest import CASES
from tests.test_render import mermaid_parse

EVIL = CASES / "valid" / "adversarial-names.yaml"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed")


class Elements(HTMLParser):
    """Every element, attribute and comment of an HTML or SVG page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += attrs

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def elements(page: str) -> Elements:
    parser = Elements()
    parser.feed(page)
    return parser


def assert_only_text(page: str) -> None:
    found = elements(page)
    assert "script" not in found.tags and "img" not in found.tags and "a" not in found.tags
    assert not any(v and "javascript:" in v for _, v in found.attributes)
    assert not any(name.startswith("on") for name, _ in found.attributes)
    # comments are Graphviz's own (node ids), never text from the file
    assert not any("hidden" in c or "alert" in c for c in found.comments)


def test_stage_ids_never_collide_with_the_drawings_own_nodes() -> None:
    process = load(EVIL)
    dot = to_dot(graph.combined_graph(process), process.time_unit)
    nodes = re.findall(r'^\t+("[^"]+"|\w+) \[', dot, re.MULTILINE)
    assert len(nodes) == len(set(nodes))  # demo's lost deals are not the stage demo__lost
    for sid in ("demo", "demo_lost", "demo__lost"):
        assert f"\t\t{sid} [label=" in dot and f'"lost-{sid}" [label=' in dot
    mermaid = to_mermaid(graph.combined_graph(process), process.time_unit)
    ids = re.findall(r"^\s+(\w+)\[", mermaid, re.MULTILINE)
    assert len(ids) == len(set(ids)) == 6


def test_lost_reasons_of_several_buyer_types_appear_once_each() -> None:
    process = load(EVIL)
    combined = graph.combined_graph(process)
    assert combined.edges["demo", "lost", "lost"]["reasons"] == ["x / y",
                                                               "no fit / too expensive <b>"]
    assert combined.edges["demo_lost", "lost", "lost"]["reasons"] == ["a / b"]
    text = to_mermaid(combined, process.time_unit)
    assert text.count("a / b") == 2  # once for each of the two stages that lose for it


@needs_dot
def test_dot_source_is_accepted_and_svg_holds_only_text() -> None:
    process = load(EVIL)
    for diagram in (graph.combined_graph(process), graph.buyer_graph(process, "one")):
        source = to_dot(diagram, process.time_unit)
        done = subprocess.run(["dot", "-Tsvg"], input=source.encode(), capture_output=True,
                              check=False)
        assert done.returncode == 0 and not done.stderr, done.stderr
        svg = to_image(source, "svg").decode()
        assert_only_text(svg)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg  # shown, as text


def test_mermaid_has_no_injected_statements() -> None:
    process = load(EVIL)
    texts = [to_mermaid(graph.combined_graph(process), process.time_unit),
             *(to_mermaid(graph.buyer_graph(process, b), process.time_unit)
               for b in process.buyer_types)]
    for text in texts:
        assert "\r" not in text and "A --> B" not in text
        assert all(line.startswith(("flowchart", "  ")) for line in text.splitlines())
    parsed = mermaid_parse(texts)
    assert parsed == ["ok"] * len(texts)


def test_markdown_playbook_shows_process_text_as_text() -> None:
    text = to_markdown(load(EVIL))
    outside_code = re.sub(r"```mermaid.*?```", "", text, flags=re.DOTALL)
    assert "<script>" not in outside_code and "<img" not in outside_code
    assert "<!--" not in outside_code
    assert not re.search(r"(?<!\\)\]\(javascript:", outside_code)  # no link syntax
    assert r"\[click\](javascript:alert(3))" in outside_code  # escaped, not a link


@needs_dot
def test_html_playbook_shows_process_text_as_text(tmp_path: Path) -> None:
    from salesproc.report.html import POLICY, playbook

    page = playbook(load(EVIL))
    assert_only_text(page)
    # the reports' page shell: the same Content-Security-Policy, nothing from elsewhere
    assert f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">' in page
    # the comment opener in the description hides nothing: later sections are all there
    assert page.count("<h2>") >= 5 and "Two flowchart" in page
    assert "&lt;!-- hidden &lt;img src=x onerror=alert(2)&gt;" in page
