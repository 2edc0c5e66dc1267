"""Hints where a newcomer stumbles: a buyer type written without its list, a unit
written out, a tab or a line indented out of line: each says what to write, and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from salesproc.process import starter
from tests.conftest import run


def starter_with(tmp_path: Path, old: str, new: str) -> Path:
    """The starter process that `init` writes, with *old* replaced by *new*."""
    text = starter.render("case")
    assert old in text
    path = tmp_path / "case.yaml"
    path.write_text(text.replace(old, new, 1), "utf-8")
    return path


def hint_of(path: Path) -> tuple[str, str]:
    result = run("validate", str(path))
    assert result.exit_code == 1
    first, *rest = result.stdout.splitlines()
    (hint,) = [line for line in rest if line.startswith("  hint: ")]
    return first, hint.removeprefix("  hint: ")


@pytest.mark.parametrize(("written", "hint"), [
    ("2 weeks", "write 2w: a number with min, h, d or w (or bd, business days, for a delay)"),
    ("3 days", "write 3d: a number with min, h, d or w (or bd, business days, for a delay)"),
    ("1.5 hours", "write 1.5h: a number with min, h, d or w (or bd, business days, for a "
     "delay)"),
    ("20 mins", "write 20min: a number with min, h, d or w (or bd, business days, for a "
     "delay)"),
    ("a fortnight", "write a number in the file's time_unit, or a number with min, h, d or w "
     "(e.g. 4h, 3d, 2w)"),
])
def test_a_unit_written_out_says_how_to_write_it(tmp_path: Path, written: str,
                                                 hint: str) -> None:
    path = starter_with(tmp_path, "delay: {exponential: {mean: 3}}", f"delay: {written}")
    first, said = hint_of(path)
    assert f"error SP107 '{written}' is not a duration" in first
    assert said == hint


def test_a_buyer_type_condition_without_its_list_says_write_the_list(tmp_path: Path) -> None:
    path = starter_with(tmp_path, "    work: 0.5\n", "    work: 0.5\n    approvals:\n"
                        "      - {by: ae, when: {buyer_type: standard}, work: 1h}\n")
    first, said = hint_of(path)
    assert first.endswith("error SP104 expected a list, got the text 'standard'")
    assert said == "buyer_type: takes a list, even of one: write [standard]"


def test_a_tab_says_which_line_and_column(tmp_path: Path) -> None:
    path = starter_with(tmp_path, "    owner: ae\n", "\towner: ae\n")
    first, said = hint_of(path)
    assert "error SP005" in first and ":33:1:" in first
    assert said.startswith("line 33 has a tab at column 1: YAML indents with spaces")


def test_a_key_indented_deeper_than_its_neighbours_says_so(tmp_path: Path) -> None:
    path = starter_with(tmp_path, "    owner: ae\n", "     owner: ae\n")
    _, said = hint_of(path)
    assert said == ("line 33 is indented 5 spaces, deeper than line 32 above it (4), which "
                    "opens no block: the keys of one mapping start in the same column")


def test_a_list_item_out_of_line_names_the_lines_around_it(tmp_path: Path) -> None:
    path = starter_with(tmp_path, "  - id: meeting\n", "   - id: meeting\n")
    _, said = hint_of(path)
    assert said == ("line 31 is indented 3 spaces, which lines up with no line above it "
                    "(line 30: 4, line 23: 2): indent it like the lines it belongs with")


def test_a_colon_in_a_value_still_says_quote_it(tmp_path: Path) -> None:
    path = starter_with(tmp_path, "name: \"Case\"", "name: Sales: EMEA")
    _, said = hint_of(path)
    assert said == 'a value containing \': \' must be quoted, e.g. title: "Sales: EMEA"'


def test_opportunities_of_a_buyer_type_that_goes_around_the_stage_are_named_so(
        tmp_path: Path) -> None:
    """With opportunity_stage: demo, single decision-makers (inquiry, call, agreement)
    never reach the demo: their opportunities are the deals that reached a later stage,
    and the report says so instead of 'after reaching demo'."""
    from salesproc import load

    five = (Path(__file__).resolve().parent.parent / "processes" / "five-step.yaml")
    path = tmp_path / "p.yaml"
    path.write_text(five.read_text("utf-8").replace("\nstages:", "\nopportunity_stage: demo"
                                                    "\nstages:", 1), "utf-8")
    process = load(path)
    assert process.opportunities_reach("single_decision_maker") == "demo or a later stage"
    assert process.opportunities_reach("committee") == "demo"
    assert process.opportunities_reach() == "demo or a later stage"
    result = run("simulate", str(path), "-r", "2", "--horizon", "60d", "--warmup", "10d",
                 "--buyer", "committee")
    assert "of opportunities that ended (deals that reached demo)" in result.stdout
