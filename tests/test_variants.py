"""Variants: `extends:` files and `--set`, merged with positions in the right file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from salesproc import check, load
from salesproc.process import analysis
from salesproc.process.variants import COMMAND_LINE
from tests.conftest import ROOT, run

TRIAL = ROOT / "processes" / "five-step-free-trial.yaml"
FIVE = ROOT / "processes" / "five-step.yaml"


def test_free_trial_example_adds_a_stage_and_changes_a_route() -> None:
    base, variant = load(FIVE), load(TRIAL)
    assert list(variant.stages) == ["inquiry", "call", "demo", "trial", "proposal",
                                    "agreement"]
    assert variant.name == "Five-step with a free trial"
    assert [(r.to, r.probability) for r in variant.stages["demo"].next] == [("trial", 0.75)]
    assert variant.buyer_types["committee"].path == (
        "inquiry", "call", "demo", "trial", "proposal", "agreement")
    assert variant.buyer_types["single_decision_maker"].path == \
        base.buyer_types["single_decision_maker"].path
    assert variant.roles == base.roles


def test_set_changes_values_and_adds_keys() -> None:
    process = load(FIVE, ["roles.se.headcount=3", "stages.demo.work={exponential: {mean: 2}}",
                          "roles.csm={title: CSM, headcount: 1}",
                          "stages.demo.owner=csm"])
    assert process.roles["se"].headcount == 3
    assert process.stages["demo"].work.mean == 2.0
    assert process.stages["demo"].owner == "csm"


def test_remove_stages(tmp_path: Path) -> None:
    variant = tmp_path / "no-demo.yaml"
    variant.write_text(f"""salesproc: 1
extends: {FIVE}
remove_stages: [demo]
set:
  stages.call.next: {{proposal: 0.4}}
  stages.proposal.next: {{agreement: 0.7}}
""")
    process = load(variant)
    assert "demo" not in process.stages
    assert analysis.win_probability(process.buyer_types["standard"]) == pytest.approx(
        0.7 * 0.4 * 0.7 * 0.9)


def test_errors_point_into_the_file_that_holds_them(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(FIVE.read_text().replace("next: {call: 0.7}", "next: {cal: 0.7}"))
    variant = tmp_path / "variant.yaml"
    variant.write_text("salesproc: 1\nextends: base.yaml\nset:\n  stages.demo.next: "
                       "{proposl: 0.5}\n")
    found = {(d.file, d.code) for d in check(variant).diagnostics}
    assert found == {(str(base), "SP201"), (str(variant), "SP201")}


def test_variant_of_a_variant(tmp_path: Path) -> None:
    second = tmp_path / "more-se.yaml"
    second.write_text(f"salesproc: 1\nextends: {TRIAL}\nset:\n  roles.se.headcount: 4\n")
    process = load(second)
    assert process.roles["se"].headcount == 4 and "trial" in process.stages


def test_cycle_between_two_variants(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("salesproc: 1\nextends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("salesproc: 1\nextends: a.yaml\n")
    assert [d.code for d in check(tmp_path / "a.yaml").diagnostics] == ["SP602"]


@pytest.mark.parametrize(("option", "code", "column"), [
    ("roles.sse.headcount=3", "SP604", 1),
    ("roles.se.headcount=three", "SP104", 20),
    ("roles.se.headcount=-1", "SP106", 20),
    ("stages.demo.next={proposal: 1.5}", "SP106", 29),
    ("roles.se.headcount", "SP605", 1),
    ("stages.demo.next={won: [", "SP605", 18),
])
def test_bad_set_is_located_on_the_command_line(option: str, code: str, column: int) -> None:
    (diag,) = check(FIVE, [option]).diagnostics
    assert (diag.file, diag.line, diag.code, diag.column) == (COMMAND_LINE, 1, code, column)


def test_set_that_breaks_the_flow_is_reported() -> None:
    codes = {d.code for d in check(FIVE, ["stages.agreement.next={}"]).diagnostics}
    assert "SP302" in codes


def test_compare_with_bad_set_shows_the_option_with_a_caret() -> None:
    result = run("compare", str(FIVE), "--set", "roles.se.headcount=-1", "-r", "2")
    assert result.exit_code == 1
    assert "<command line>:1:20: error SP106 -1 is out of range" in result.output
    assert "    1 | roles.se.headcount=-1\n" in result.output
    assert "      |                    ^~\n" in result.output
    assert "Traceback" not in result.output


def test_a_finding_in_a_base_is_reported_once_for_the_folder(tmp_path: Path) -> None:
    from tests.conftest import ROOT

    base = (ROOT / "processes" / "five-step.yaml").read_text()
    (tmp_path / "five-step.yaml").write_text(base.replace("  counsel:     {title:",
                                                          "  x-note: 1\n  counsel:     {title:"))
    (tmp_path / "trial.yaml").write_text(
        (ROOT / "processes" / "five-step-free-trial.yaml").read_text())
    result = run("validate", str(tmp_path))
    assert result.output.count(": error SP104 ") == 1  # not once more through the variant
    assert "2 files checked: 1 error" in result.output


def test_a_setting_may_make_a_buyer_types_first_override_of_a_stage(five_step: Path) -> None:
    from salesproc import load

    process = load(five_step, ["buyer_types.standard.stages.call.next={demo: 0.5}"])
    call = process.buyer_types["standard"].stages["call"]
    assert [(r.to, r.probability) for r in call.next] == [("demo", 0.5)]
    assert process.buyer_types["committee"].stages["call"].next != call.next
    # the committee's own overrides (its proposal approvals) are kept beside a new one
    process = load(five_step, ["buyer_types.committee.stages.demo.delay=2"])
    assert len(process.buyer_types["committee"].stages["proposal"].approvals) == 4
    assert process.buyer_types["committee"].stages["demo"].delay.mean == 2


# --- Process.with_changes: a changed process in memory ---------------------------------------


def test_with_changes_takes_text_pairs_and_objects_and_matches_the_file_with_set() -> None:
    """The three forms give the process `--set` gives; a distribution goes in as its file
    form, not as text; the base is not changed."""
    base = load(FIVE)
    text = base.with_changes(["roles.se.headcount=3",
                              "stages.demo.delay={gamma: {mean: 3.5, sd: 1.25}}"])
    pairs = base.with_changes([("roles.se.headcount", np.int64(3)),  # numpy's numbers too
                               ("stages.demo.delay", {"gamma": {"mean": np.float64(3.5),
                                                                "sd": 1.25}})])
    mapping = base.with_changes({"roles.se.headcount": 3,
                                 "stages.demo.delay": {"gamma": {"mean": 3.5, "sd": 1.25}}})
    from_file = load(FIVE, ["roles.se.headcount=3",
                            "stages.demo.delay={gamma: {mean: 3.5, sd: 1.25}}"])
    assert text == pairs == mapping == from_file != base
    assert base.roles["se"].headcount != 3
    assert text.source == str(FIVE) and text.files == base.files
    # changes stack: a changed process changes again
    assert pairs.with_changes([("roles.se.headcount", 4)]).stages == pairs.stages
    assert pairs.with_changes([("roles.se.headcount", 4)]).roles["se"].headcount == 4


def test_with_changes_reads_no_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once loaded, a process changes without its file: the reader is never called."""
    from salesproc.process import variants, yamlio

    base = load(FIVE)

    def refuse(path: object) -> None:
        raise AssertionError(f"read {path}")

    monkeypatch.setattr(yamlio, "load_file", refuse)
    monkeypatch.setattr(variants, "load_file", refuse)
    changed = base.with_changes({"simulation.start": "2026-01-05", "roles.se.headcount": 5})
    assert str(changed.start) == "2026-01-05" and changed.roles["se"].headcount == 5


@pytest.mark.parametrize(("changes", "where", "code", "said"), [
    ({"roles.se.headcount": 2, "buyer_types.standard.value":
      {"lognormal": {"mean": 1e15, "sd": 1.0}}}, ("<changes>", 2), "SP106",
     "buyer_types.standard.value: 1000000000000000.0 is out of range"),
    ([("roles.sse.headcount", 3)], ("<changes>", 1), "SP604",
     "roles.sse.headcount: cannot set"),
    ([("roles.se.headcount", float("nan"))], ("<changes>", 1), "SP010",
     "roles.se.headcount: nan is not a finite number"),
    ([("roles.se.headcount", "three")], ("<changes>", 1), "SP104",
     "roles.se.headcount: expected a whole number"),
    (["stages.demo.work=2", ("roles.ae.headcount", 2), "roles.se.headcount=-1"],
     (COMMAND_LINE, 2), "SP106", "roles.se.headcount: -1 is out of range"),
])
def test_a_bad_change_is_located_at_the_change_and_named_by_its_setting(
        changes: Any, where: tuple[str, int], code: str, said: str) -> None:
    """The finding lies at the change (line n of '<changes>' for the n-th object change,
    of '<command line>' for the n-th text), and said_by_setting words it by the setting."""
    from salesproc.core.errors import InvalidProcessError
    from salesproc.process.variants import said_by_setting

    with pytest.raises(InvalidProcessError) as caught:
        load(FIVE).with_changes(changes)
    errors = [d for d in caught.value.diagnostics if d.is_error]
    assert [(d.code, d.file, d.line) for d in errors] == [(code, *where)]
    (worded,) = said_by_setting(caught.value.diagnostics, changes)
    assert worded.startswith(said)


def test_a_process_built_from_data_cannot_be_changed() -> None:
    from dataclasses import replace

    with pytest.raises(ValueError, match="read from a file or text"):
        replace(load(FIVE), origin=None).with_changes({"roles.se.headcount": 3})
    with pytest.raises(TypeError):
        load(FIVE).with_changes([("roles.se.headcount", object())])
    with pytest.raises(TypeError):
        load(FIVE).with_changes([("stages.demo.next", {1: 0.5})])
