"""What validate says to a sales-ops user: one error per mistake, at the right place, with
a hint that, followed literally, gives a file without that error."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesproc import check_text
from salesproc.core.diagnostics import Diagnostic
from tests.conftest import CASES, run

BASE = (CASES / "invalid" / "SP109-no-as-text.yaml").read_text().split("# expect")[0] \
    .replace("    lost_reason: no\n", "")


def findings(text: str) -> list[Diagnostic]:
    return list(check_text(text, "p.yaml").diagnostics)


def only(text: str) -> Diagnostic:
    found = [d for d in findings(text) if d.is_error]
    assert len(found) == 1, [str(d) for d in found]
    return found[0]


def test_the_base_is_valid() -> None:
    assert findings(BASE) == []


@pytest.mark.parametrize(("written", "number"), [
    ("35k", "35000"), ('"$150,000"', "150000"), ("1.5M", "1500000"), ('"EUR 2,500"', "2500"),
])
def test_a_deal_value_written_as_text_gets_its_own_message(written: str, number: str) -> None:
    diag = only(BASE.replace("value: 1000", f"value: {written}"))
    assert diag.code == "SP104" and "a deal value is a plain number" in diag.message
    assert diag.hint == f"write {number}"
    assert findings(BASE.replace("value: 1000", f"value: {number}")) == []


def test_a_percentage_gets_the_share_to_write() -> None:
    diag = only(BASE.replace("next: {second: 0.5}", "next: {second: 75%}"))
    assert diag.hint is not None and diag.hint.startswith("write 0.75")


def test_a_route_written_as_a_stage_id_gets_the_mapping_to_write() -> None:
    diag = only(BASE.replace("next: {second: 0.5}", "next: second"))
    assert diag.hint is not None and diag.hint.endswith("next: {second: 1}")
    assert findings(BASE.replace("next: {second: 0.5}", "next: {second: 1}")) == []


def test_a_condition_written_as_code_gets_the_structured_form() -> None:
    approval = '    approvals: [{by: ae, when: "value >= 50k"}]\n'
    diag = only(BASE.replace("    work: 0.1\n", "    work: 0.1\n" + approval))
    assert diag.hint == "conditions are data, not code: when: {value: {gte: 50000}}"
    fixed = approval.replace('"value >= 50k"', "{value: {gte: 50000}}")
    assert findings(BASE.replace("    work: 0.1\n", "    work: 0.1\n" + fixed)) == []


def test_a_dedented_override_is_one_error_on_the_line_that_lost_its_indent() -> None:
    override = ("  std:\n    name: Standard\n    share: 1\n    value: 1000\n    stages:\n"
                "      second:\n      work: 0.5\n")
    text = BASE.replace("  std: {name: Standard, share: 1, value: 1000}\n", override)
    diag = only(text)
    assert (diag.line, diag.column) == (text.splitlines().index("      work: 0.5") + 1, 7)
    assert "'work' stands beside 'second' instead of under it" in diag.message
    assert findings(text.replace("      work: 0.5", "        work: 0.5")) == []


def test_one_mistake_one_error() -> None:
    diag = only(BASE.replace("headcount: 2", "headcount: 0.5"))
    assert diag.code == "SP104"  # not also SP106 'below 1'


def test_messages_name_a_stage_by_its_id() -> None:
    diag = only(BASE.replace("    owner: ae\n    requires", "    owner: ae\n    colour: red\n"
                             "    requires", 1))
    assert diag.message == "unknown key 'colour' in stage 'first'"


def test_a_buyer_type_is_named_once_and_every_unreachable_stage_is_reported() -> None:
    extra = ("  - id: third\n    name: Third\n    owner: ae\n    next: {won: 1}\n"
             "  - id: fourth\n    name: Fourth\n    owner: ae\n    next: {won: 1}\n")
    text = BASE.replace("  - id: second\n", extra + "  - id: second\n").replace(
        "std: {name: Standard, share: 1, value: 1000}",
        "std: {name: Standard, share: 1, value: 1000, path: [first, second, third, fourth]}")
    messages = [d.message for d in findings(text)]
    assert messages == ["stage 'third' is never reached (buyer type std)",
                        "stage 'fourth' is never reached (buyer type std)"]


def test_following_the_hint_for_a_stage_called_won_gives_a_valid_file() -> None:
    stage = "  - id: won\n    name: Signed\n    owner: ae\n    work: 0.1\n"
    text = BASE.replace("buyer_types:", stage + "buyer_types:")
    diag = only(text)
    assert diag.code == "SP207" and diag.hint is not None and "remove this stage" in diag.hint
    assert findings(BASE) == []  # the file without it: the hint, followed literally
    # the old hint's way (rename it) now names the dead end itself
    renamed = [d.code for d in findings(text.replace("id: won", "id: closed_won"))]
    assert renamed == ["SP303", "SP301"]


def test_an_id_with_a_line_break_is_not_an_id() -> None:
    diag = only(BASE.replace("  - id: first\n", '  - id: "first\\n"\n'))
    assert diag.code == "SP105" and diag.message == "'first\\n' is not a valid id"


def test_yes_and_no_in_extension_keys_are_flagged() -> None:
    diag = only(BASE + "x-countries: [no, se]\n")
    assert diag.code == "SP109" and diag.message == "'no' is read as false, not as the text 'no'"


@pytest.mark.parametrize("written", ["999999999999999w", "9" * 400 + "d"])
def test_durations_written_as_text_obey_the_maximum(written: str) -> None:
    for where in ("    work: 0.1\n", "    work: {exponential: {mean: 0.1}}\n"):
        text = BASE.replace("    work: 0.1\n", where).replace("0.1", written, 1)
        diag = only(text)
        assert diag.code == "SP106" and "longer than any time in a process can be" in \
            diag.message


def test_a_horizon_longer_than_salesproc_simulates_is_located(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    text = BASE + "simulation: {horizon: 99999999999w}\n"
    path.write_text(text)
    result = run("validate", str(path))
    line = len(text.splitlines())
    assert result.exit_code == 1
    assert f"p.yaml:{line}:23: error SP106 a horizon of 699,999,999,993 days is longer " \
           "than salesproc simulates (1,000,000 days)" in result.output
    assert "1 file checked: 1 error" in result.output


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcxyz_-0é", max_size=16),
       st.lists(st.text(alphabet="abcxyz_-0é", max_size=16), max_size=12))
def test_did_you_mean_ranks_by_difflibs_own_bound(word: str, options: list[str]) -> None:
    """closest() ranks the options by difflib's quick_ratio computed from character
    counts: the very numbers SequenceMatcher gives (so the same names are suggested)."""
    import difflib

    from salesproc.core.diagnostics import _letters, _quick_ratio

    for option in options:
        if option or word:
            matcher = difflib.SequenceMatcher(None, option, word, autojunk=False)
            assert _quick_ratio(_letters(option), _letters(word), len(option) + len(word)) \
                == matcher.quick_ratio()
