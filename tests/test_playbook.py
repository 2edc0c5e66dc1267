"""The onboarding playbook: every stage, checklist, approval and diagram, per buyer type."""

from __future__ import annotations

import html
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from salesproc import load
from salesproc.drawing.playbook import to_markdown
from tests.conftest import PROCESSES, run
from tests.test_render import mermaid_parse


@pytest.mark.parametrize("path", PROCESSES, ids=lambda p: p.stem)
def test_playbook_covers_every_buyer_stage_and_approval(path: Path) -> None:
    process = load(path)
    text = to_markdown(process, str(path))
    assert text.startswith(f"# {process.name}: onboarding playbook\n")
    for buyer in process.buyer_types.values():
        section = text.split(f"\n## {buyer.name}\n", 1)[1].split("\n## ", 1)[0]
        headings = re.findall(r"^### \d+\. (.+)$", section, re.MULTILINE)
        assert headings == [s.name for s in buyer.flow()]
        for stage in buyer.flow():
            for item in stage.requires:
                assert f"  - [ ] {process.information[item].label}" in section
            for approval in stage.approvals:
                assert f"**Approval:** {approval.name} by the " in section
        assert section.count("```mermaid") == 1
    assert text.count("```mermaid") == len(process.buyer_types) + 1


def test_playbook_says_how_long_and_what_happens_next(five_step: Path) -> None:
    text = to_markdown(load(five_step))
    committee = text.split("\n## Buying committee\n", 1)[1]
    proposal = committee.split("### 4. Team submits a proposal\n", 1)[1].split("\n### ", 1)[0]
    assert "- **How long:** waiting on the prospect 3 days on average, most between" in proposal
    # the triangular delay averages 31/3 days; half a working day of counsel, who works
    # 4 days of 8 hours, spans 4 x 168/32 hours = 0.875 days: 11.2 in all
    assert "Legal redlines by the Commercial counsel; usually 11.2 days (10% say no; a no " \
           "sends the deal back to proposal)" in proposal
    assert "are sent back to Team submits a proposal by Legal redlines" in proposal
    assert "- **Don't let it wait:** a deal left 6 weeks without attention goes stale" in proposal
    agreement = committee.split("### 5. ", 1)[1]
    assert "**90% are won**" in agreement


def test_playbook_diagrams_parse_as_mermaid(five_step: Path) -> None:
    text = to_markdown(load(five_step))
    blocks = re.findall(r"```mermaid\n(.*?)```", text, re.DOTALL)
    assert mermaid_parse(blocks) == ["ok"] * len(blocks)


def test_playbook_command_writes_file(five_step: Path, tmp_path: Path) -> None:
    out = tmp_path / "playbook.md"
    result = run("playbook", str(five_step), "-o", str(out))
    assert result.exit_code == 0
    assert out.read_text().startswith("# Five-step B2B sales process: onboarding playbook")
    assert run("playbook", str(five_step)).output == out.read_text()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` missing")
def test_html_playbook_is_one_page_with_inline_drawings(five_step: Path, tmp_path: Path) -> None:
    out = tmp_path / "playbook.html"
    result = run("playbook", str(five_step), "--format", "html", "-o", str(out))
    assert result.exit_code == 0
    page = out.read_text()
    process = load(five_step)
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert page.count("<svg") == len(process.buyer_types) + 1
    assert page.count('<div class="diagram">') == len(process.buyer_types)  # natural size
    assert page.count('<div class="diagram zoom">') == 1  # the whole process, fitted
    assert "<table>" in page and "<!--diagram" not in page
    for stage in process.stages.values():
        assert f"{html.escape(stage.name, quote=False)}</h3>" in page
    assert "<li>☐ Completed security questionnaire</li>" in page
    HTMLParser().feed(page)  # well-formed enough for the standard library's parser


def test_work_is_shown_as_working_time_on_a_business_calendar(five_step: Path) -> None:
    """work: 6h on a 9-17 calendar is 6 working hours (not 0.75 x 24 = 18 hours)."""
    text = to_markdown(load(five_step))
    demo = text.split("### 3. In-person meeting and product demo\n", 1)[1].split("###")[0]
    assert "our work 6 working hours" in demo
    inquiry = text.split("### 1. Prospect requests information\n", 1)[1].split("###")[0]
    assert "our work 45 working minutes" in inquiry
    # 3 business days span 3 x 7/5 = 4.2 calendar days, and 2 working hours of a 40-hour
    # week span 2 x 168/40 hours = 0.35 days: 4.55, shown as 4.5
    assert "Finance sign-off by the Finance controller; usually 4.5 days" in text


def test_columns_empty_for_the_whole_process_are_left_out(five_step: Path) -> None:
    from dataclasses import replace

    process = load(five_step)
    full = to_markdown(process)
    assert "| role | title | department | people | what they do |" in full
    bare = replace(process, roles={rid: replace(role, department="", description="")
                                   for rid, role in process.roles.items()})
    text = to_markdown(bare)
    header = next(line for line in text.splitlines() if line.startswith("| role |"))
    assert header == "| role | title | people |"
    rows = text.split(header, 1)[1].splitlines()[1:1 + len(process.roles)]
    assert rows[0] == "|---|---|---|" and all(r.count("|") == 4 for r in rows[1:])
