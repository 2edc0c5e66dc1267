"""Mapping mistakes are errors, not silence: an export whose stages the crm: section does
not map stops with a summary (SP850); several pipelines (SP851) and a loss-reason column
left unused (SP852) are said; --suggest-mapping names the columns that may tell buyer
types apart."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from salesproc import load
from salesproc.history import HistoryError, read_history
from salesproc.history.mapping import StageTally
from salesproc.history.table import LOST_CODE, UNMAPPED, WON_CODE
from tests.conftest import ROOT, run

FIRST = ROOT / "examples" / "hubspot-first-export"
FIVE = ROOT / "examples" / "five-step-salesforce"
EXPORT = [str(FIVE / "Opportunity.csv"), str(FIVE / "OpportunityHistory.csv")]


def without_crm(source: Path, target: Path) -> Path:
    """*source* without its crm: section."""
    lines = source.read_text("utf-8").splitlines(keepends=True)
    kept, skipping = [], False
    for line in lines:
        if line.startswith("crm:"):
            skipping = True
            continue
        if skipping and line[:1] not in (" ", "#", "\n"):
            skipping = False
        if not skipping:
            kept.append(line)
    target.write_text("".join(kept), "utf-8")
    return target


@pytest.mark.parametrize(("codes", "wrong"), [
    ([0] * 60 + [UNMAPPED] * 3 + [WON_CODE] * 10, False),   # a few stray names
    ([0] * 10 + [UNMAPPED] * 57 + [LOST_CODE] * 3, True),   # most match nothing
    ([UNMAPPED] * 8 + [WON_CODE] * 17 + [LOST_CODE] * 104, True),  # only outcomes matched
    ([WON_CODE] * 5 + [LOST_CODE] * 5, False),              # all closed, all known
    ([0] * 35 + [UNMAPPED] * 35, False),                    # half is not most
])
def test_a_mapping_is_wrong_when_most_names_or_all_but_outcomes_match_nothing(
        codes: list[int], wrong: bool) -> None:
    import numpy as np

    tally = StageTally()
    tally.count(np.array(codes, dtype=np.int16), ["x"] if UNMAPPED in codes else [])
    assert tally.mapping_wrong() is wrong
    assert tally.total == len(codes)


def test_measure_without_a_mapping_stops_with_a_summary_at_the_end(tmp_path: Path) -> None:
    process = without_crm(ROOT / "processes" / "five-step.yaml", tmp_path / "p.yaml")
    result = run("measure", *EXPORT, "--process", str(process))
    assert result.exit_code == 1
    assert result.stdout == ""  # no confident report of the few deals left
    summary = ("error: the export cannot be measured: 5,041 of 6,505 stage changes match no "
               "stage of the process; only the outcomes (won, lost) matched (5 CRM stage "
               "names unknown)")
    assert result.stderr.splitlines()[-2:] == [
        summary, "  hint: add --suggest-mapping to the measure command: it proposes a crm: "
        "section for the process file, one line per CRM stage"]
    assert "error SP850" in result.stderr and "note SP804" in result.stderr


def test_calibrate_stops_on_the_same_mistake(tmp_path: Path) -> None:
    process = without_crm(ROOT / "processes" / "five-step.yaml", tmp_path / "p.yaml")
    result = run("calibrate", *EXPORT, "--process", str(process), "-o",
                 str(tmp_path / "fitted.yaml"))
    assert result.exit_code == 1
    assert "the export cannot be calibrated from: 5,041 of 6,505 stage changes" in result.stderr
    assert not (tmp_path / "fitted.yaml").exists()


def test_a_hubspot_export_whose_stages_nobody_mapped_is_no_deal_table() -> None:
    """Its Date entered columns name stages the starter process does not know: the
    mistake is said (SP850), not a deal table measured from its outcomes (SP830)."""
    process = load(FIRST / "acme-sales.yaml")
    with pytest.raises(HistoryError) as caught:
        read_history(FIRST / "deals.csv", process)
    codes = [n.code for n in caught.value.notes]
    assert codes[0] == "SP850" and "SP830" not in codes and "SP804" in codes
    # each deal's stages, once each: those it has a date of entering, and its current one
    import csv
    import re as regex

    with (FIRST / "deals.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    entered = {c: m.group(1) for c in rows[0]
               if (m := regex.fullmatch(r'Date entered "(.+) \(Sales Pipeline\)"', c))}
    stages = [{s for c, s in entered.items() if r[c]} | {r["Deal Stage"]} for r in rows]
    unknown = {"Appointment Scheduled", "Presentation Scheduled"}
    total = sum(len(s) for s in stages)
    unmapped = sum(len(s & unknown) for s in stages)
    assert caught.value.notes[0].message == (
        f"{unmapped} of {total} stage entries match no stage of the process; only the "
        "outcomes (won, lost) matched (2 CRM stage names unknown)")
    readme = " ".join((ROOT / "README.md").read_text("utf-8").split())
    assert f"`{unmapped} of {total} stage entries match no stage" in readme  # as it quotes


def test_the_suggested_mapping_pasted_in_measures_every_deal(tmp_path: Path) -> None:
    process = tmp_path / "acme-sales.yaml"
    process.write_text((FIRST / "acme-sales.yaml").read_text("utf-8"), "utf-8")
    suggested = run("measure", str(FIRST / "deals.csv"), "--process", str(process),
                    "--suggest-mapping")
    assert suggested.exit_code == 0
    with process.open("a", encoding="utf-8") as f:
        f.write(suggested.stdout)
    history = read_history(FIRST / "deals.csv", load(process))
    assert history.has_stages and len(history.deals) == 129
    assert not [n for n in history.notes if n.code in ("SP804", "SP850", "SP852")]


def test_suggest_mapping_names_the_columns_that_may_tell_buyer_types(tmp_path: Path) -> None:
    process = without_crm(ROOT / "processes" / "five-step.yaml", tmp_path / "p.yaml")
    result = run("measure", *EXPORT, "--process", str(process), "--suggest-mapping")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "  #   Segment__c: Mid-Market (730), SMB (443), Enterprise (339)" in lines
    assert "  #   - {field: Segment__c, is: Mid-Market, buyer_type: BUYER_TYPE}" in lines
    assert "  lost_reason: Loss_Reason__c" in result.stdout
    # pasted as it is, the section is valid: the rule to fill in is a comment
    section = yaml.safe_load(result.stdout)
    assert "buyer_types" not in section["crm"]
    assert section["crm"]["lost_reason"] == "Loss_Reason__c"


def test_suggest_mapping_proposes_no_buyer_columns_where_rules_exist() -> None:
    result = run("measure", *EXPORT, "--process", str(ROOT / "processes" / "five-step.yaml"),
                 "--suggest-mapping")
    assert result.exit_code == 0 and "buyer_types" not in result.stdout
