"""`salesproc init NAME --from HISTORY...`: a process discovered from a CRM export, which
validates and which measure, calibrate and forecast read as it is (through the CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from salesproc.process.loader import load
from tests.conftest import ROOT, run

SALESFORCE = [str(ROOT / "examples" / "five-step-salesforce" / name)
              for name in ("Opportunity.csv", "OpportunityHistory.csv")]
HUBSPOT = str(ROOT / "examples" / "hubspot-first-export" / "deals.csv")
#: The Salesforce example was made from processes/five-step.yaml with these stage names.
SALESFORCE_STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote",
                     "Negotiation/Review"]


def froms(paths: list[str]) -> list[str]:
    return [arg for path in paths for arg in ("--from", path)]


@pytest.fixture(scope="module")
def salesforce(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The Salesforce example's process, discovered with its segments as buyer types."""
    target = tmp_path_factory.mktemp("discover") / "acme.yaml"
    result = run("init", str(target), *froms(SALESFORCE), "--buyer-field", "Segment__c")
    assert result.exit_code == 0, result.output
    return target, result.stderr


def test_the_discovered_process_has_the_crms_stages_routes_and_buyer_types(
        salesforce: tuple[Path, str]) -> None:
    target, said = salesforce
    assert run("validate", str(target)).exit_code == 0
    process = load(target)
    assert [s.name for s in process.stages.values()] == SALESFORCE_STAGES
    assert {b.name for b in process.buyer_types.values()} == {"SMB", "Mid-Market", "Enterprise"}
    assert sum(b.share for b in process.buyer_types.values()) == pytest.approx(1)
    assert process.crm.lost_reason == "Loss_Reason__c"
    assert process.crm.stages["closed won"] == "won" and process.crm.stages["closed lost"] == "lost"
    smb = next(b for b in process.buyer_types.values() if b.name == "SMB")
    routes = {r.to: r.probability for r in smb.stages["qualification"].next}
    assert routes["negotiation_review"] > 0.4 > routes.get("needs_analysis", 0.0)  # no demo
    text = target.read_text("utf-8")
    assert "fitted:" in text and "n=" in text  # each fitted value says what it rests on
    assert "currency_rates: {EUR: RATE, GBP: RATE}" in text  # said, not guessed
    assert "buyer type smb: Segment__c is SMB" in said


def test_measure_reads_the_export_with_the_discovered_process(
        salesforce: tuple[Path, str]) -> None:
    target, _ = salesforce
    result = run("measure", *SALESFORCE, "--process", str(target), "--format", "json")
    assert result.exit_code == 0, result.output
    assert "SP804" not in result.stderr and "SP850" not in result.stderr
    measured = json.loads(result.stdout)
    assert set(measured["buyer_types"]) == {"smb", "mid_market", "enterprise"}


def test_a_hubspot_export_is_discovered_and_measured(tmp_path: Path) -> None:
    target = tmp_path / "sales.yaml"
    result = run("init", str(target), "--from", HUBSPOT)
    assert result.exit_code == 0, result.output
    assert f"next: salesproc measure {HUBSPOT} --process {target}" in result.stdout
    process = load(target)
    assert [s.name for s in process.stages.values()] == ["Appointment Scheduled",
                                                        "Presentation Scheduled"]
    assert process.crm.lost_reason == "Closed Lost Reason"
    measured = run("measure", HUBSPOT, "--process", str(target))
    assert measured.exit_code == 0 and "SP804" not in measured.stderr
    again = run("init", str(target), "--from", HUBSPOT)
    assert again.exit_code == 1 and "already exists; nothing was written" in again.stderr


@pytest.mark.parametrize(("args", "code", "said"), [
    (["--from", HUBSPOT, "--buyer-field", "Region"], 1, "the column Region is not in the "
     "export"),
    (["--from", HUBSPOT, "--buyer-field", "Segment"], 1, "fewer than 2 or more than 10"),
    (["--buyer-field", "Segment"], 2, "--buyer-field names a column of the export"),
    (["--from", "missing.csv"], 1, "missing.csv"),
])
def test_discovery_mistakes_are_kind_errors(args: list[str], code: int, said: str,
                                            tmp_path: Path) -> None:
    target = tmp_path / "p.yaml"
    result = run("init", str(target), *args)
    assert result.exit_code == code, result.output
    assert said in result.output and "Traceback" not in result.output
    assert not target.exists()


def test_an_export_of_outcomes_alone_has_no_process(tmp_path: Path) -> None:
    export = tmp_path / "changes.csv"
    export.write_text("deal,stage,changed_at\nd1,Closed Won,2026-01-05\n"
                      "d2,Closed Lost,2026-01-06\n", "utf-8")
    result = run("init", str(tmp_path / "p.yaml"), "--from", str(export))
    assert result.exit_code == 1
    assert "the export shows no stage but won and lost" in result.stderr


def test_a_deal_table_gives_a_process_with_its_routes_said_to_be_guesses(
        tmp_path: Path) -> None:
    target = tmp_path / "p.yaml"
    result = run("init", str(target), "--from", SALESFORCE[0])
    assert result.exit_code == 0, result.output
    assert "no stage history (one row per deal)" in result.stderr
    assert "# The stages in the" in target.read_text("utf-8")
    assert "routes guessed" in target.read_text("utf-8")
    assert run("validate", str(target)).exit_code == 0


TRUTH = ROOT / "tests" / "cases" / "history" / "steady-five-step.yaml"


def test_discovery_recovers_a_known_process(tmp_path: Path) -> None:
    """A Salesforce export generated from a known process (300 days): discovery finds its
    stages in their order, its buyer types from the segment column with their shares, and
    each route the truth's deals take unchanged by approvals (inquiry on, the call's
    exits, the demo's) within 99.9% sampling error of the truth (Wilson's normal form)
    plus the most the prior of 10 visits can move a share (10 / (n + 10)); measure reads
    the export with the discovered file, no mapping written by hand."""
    import math

    from salesproc.prediction.discover import discover
    from salesproc.prediction.synthetic import Mess, generate, write

    truth = load(TRUTH)
    files = [str(f) for f in write(generate(TRUTH, Mess(days=300), seed=3), tmp_path,
                                   "salesforce")]
    found = discover(files, "known", buyer_field="Segment__c")
    target = tmp_path / "known.yaml"
    target.write_text(found.text, "utf-8")
    process = load(target)
    assert [s.name for s in process.stages.values()] == [s.name for s in
                                                         truth.stages.values()]
    sid = {s.name: k for k, s in process.stages.items()}
    stage = {k: sid[s.name] for k, s in truth.stages.items()}
    segment = {"smb": "single_decision_maker", "standard": "standard",
               "enterprise": "committee"}
    assert set(process.buyer_types) == set(segment)
    seen = {f.setting: f.n for f in found.calibration.fitted}

    def close(estimate: float, true: float, n: int) -> bool:
        return abs(estimate - true) <= 3.29 * math.sqrt(true * (1 - true) / n) + 10 / (n + 10)

    deals = found.calibration.deals
    for b, buyer in process.buyer_types.items():
        assert close(buyer.share, truth.buyer_types[segment[b]].share, deals), b
    clean = [("single_decision_maker", "inquiry", "call", 0.7),
             ("single_decision_maker", "call", "agreement", 0.5),
             ("standard", "inquiry", "call", 0.7), ("standard", "call", "demo", 0.55),
             ("standard", "demo", "proposal", 0.6), ("committee", "inquiry", "call", 0.7),
             ("committee", "call", "demo", 0.55)]
    found_ids = {v: k for k, v in segment.items()}
    for buyer, at, to, share in clean:
        b = found_ids[buyer]
        routes = {r.to: r.probability for r in process.buyer_types[b].stages[stage[at]].next}
        n = seen[f"buyer_types.{b}.stages.{stage[at]}.next"]
        assert n > 50 and close(routes[stage[to]], share, n), (buyer, at, to, routes, n)
    measured = run("measure", *files, "--process", str(target), "--format", "json")
    assert measured.exit_code == 0, measured.output
    assert json.loads(measured.stdout)["overall"]["deals"] == deals
