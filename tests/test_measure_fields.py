"""`measure --by FIELD` and `--by owner` on a simulated export whose truth per region is
known: EMEA deals go through a legal review (`when: {region: [emea]}`) that loses half of
them, so EMEA wins 0.8 × 0.5 × 0.9 × 0.9 of its deals and AMER 0.8 × 0.9 × 0.9 (the
security review at the agreement says no to one in ten). The region travels
in the export as a custom field (Region__c, mapped by crm: fields:), the owner as an
OwnerId that Salesforce's User export names."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pandas as pd
import pytest

import salesproc
from salesproc.core.stats import proportion
from salesproc.experiments.export import deals_of, write_hubspot, write_salesforce
from salesproc.prediction.calibration import PRIOR_OBSERVATIONS
from tests.conftest import run

PROCESS = """\
salesproc: 1
name: Regions
roles:
  ae: {title: Account executive, headcount: 50}
  counsel: {title: Counsel, headcount: 50}
fields:
  region: {label: Sales region, shares: {emea: 0.5, amer: 0.5}}
stages:
  - {id: proposal, name: Proposal, owner: ae, work: 1h, next: {legal_review: 0.8},
     lost_reasons: {chose a competitor: 0.6, "No": 0.4}}
  - {id: legal_review, name: Legal review, owner: counsel, work: 1h,
     when: {region: [emea]}, next: {agreement: 0.5}, lost_reason: legal}
  - {id: agreement, name: Agreement, owner: ae, work: 1h, next: {won: 0.9},
     approvals: [{name: Security review, by: counsel, reject: 0.1}]}
buyer_types:
  emea_buyer: {name: EMEA buyer, share: 0.5, value: 1000,
               fields: {region: {shares: {emea: 1}}}}
  amer_buyer: {name: AMER buyer, share: 0.5, value: 1000,
               fields: {region: {shares: {amer: 1}}}}
opportunity_stage: proposal
calendar: always
arrivals: {rate: 6, per: day}
simulation: {start: 2025-01-06, horizon: 120, replications: 1, seed: 11}
crm:
  stages: {Closed Won: won, Closed Lost: lost}
  buyer_types:
    - {field: Segment__c, is: emea_buyer, buyer_type: emea_buyer}
    - {field: Segment__c, is: amer_buyer, buyer_type: amer_buyer}
  fields: {region: Region__c}
  lost_reason: Loss_Reason__c
"""
TRUTH = {"emea": 0.8 * 0.5 * 0.9 * 0.9, "amer": 0.8 * 0.9 * 0.9}
REGION = {"emea_buyer": "EMEA", "amer_buyer": " Amer"}  # as a CRM holds them: folded
REASONS = {"chose a competitor": 0.6, "No": 0.4}  # at the proposal ('No': YAML's false)
OWNERS = {"0055000000AAAAA": "Ada Lovelace", "0055000000BBBBB": "Grace Hopper"}


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], pd.DataFrame]:
    """The process file, the export's files (Opportunity, OpportunityHistory, User) and
    the deals as written."""
    folder = tmp_path_factory.mktemp("regions")
    path = folder / "regions.yaml"
    path.write_text(PROCESS, "utf-8")
    process = salesproc.load(path)
    result = salesproc.simulate(process, events=True)
    assert result.events is not None
    opp, hist = write_salesforce(deals_of(result.events, process), folder)
    deals = pd.read_csv(opp, dtype=str, keep_default_na=False)
    deals["Region__c"] = deals["Segment__c"].map(REGION)
    ids = list(OWNERS)
    deals["OwnerId"] = [ids[k % 2] for k in range(len(deals))]
    deals.to_csv(opp, index=False)
    users = folder / "User.csv"
    # Data Loader writes the users' 18-character ids, a report the deals' 15-character ones
    pd.DataFrame({"Id": [f"{i}IAQ" for i in ids], "Name": list(OWNERS.values()),
                  "IsActive": ["true", "true"]}).to_csv(users, index=False)
    return path, [str(opp), str(hist), str(users)], deals


def _by(export: tuple[Path, list[str], pd.DataFrame], by: str) -> dict[str, dict[str, object]]:
    path, files, _ = export
    done = run("measure", *files, "--process", str(path), "--by", by, "--format", "json")
    assert done.exit_code == 0, done.output
    document = json.loads(done.stdout)
    assert document["kind"] == "breakdown" and document["by"] == by
    return {g["value"]: g for g in document["groups"]}


def test_each_regions_win_rate_interval_holds_its_truth(
        export: tuple[Path, list[str], pd.DataFrame]) -> None:
    groups = _by(export, "region")
    deals = export[2]
    assert set(groups) == {"emea", "amer"}
    for region, truth in TRUTH.items():
        g = groups[region]
        mine = deals[deals["Region__c"].str.strip().str.lower() == region]
        assert g["deals"] == len(mine)
        assert g["won"] == int((mine["IsWon"] == "true").sum())
        closed = mine["IsClosed"] == "true"
        assert g["lost"] == int((closed & (mine["IsWon"] != "true")).sum())
        rate = g["win_rate"]
        assert rate["n"] == g["won"] + g["lost"] >= 200  # enough deals to tell them apart
        assert rate["low"] <= rate["mean"] <= rate["high"]
        # the truth lies in the measured share's Wilson interval at 99.9% (the 95% one
        # misses it for one seed in twenty, per region); the 95% one is what is reported
        wide = proportion(g["won"], rate["n"], confidence=0.999)
        assert wide.low <= truth <= wide.high, (region, rate)
        assert wide.low <= rate["low"] and rate["high"] <= wide.high
    # the two regions' intervals tell them apart: EMEA loses half its deals at legal
    assert groups["emea"]["win_rate"]["high"] < groups["amer"]["win_rate"]["low"]
    emea_reasons = {r["reason"]: r["deals"] for r in groups["emea"]["lost_reasons"]}
    assert emea_reasons.get("legal", 0) > 0
    assert not any(r["reason"] == "legal" for r in groups["amer"]["lost_reasons"])


def test_calibrate_fits_the_loss_reasons_of_each_stage(
        export: tuple[Path, list[str], pd.DataFrame], tmp_path: Path) -> None:
    """The proposal loses deals for two reasons, 0.6 and 0.4: the calibrated variant
    writes the Dirichlet posterior's means (the file's shares weighing as
    PRIOR_OBSERVATIONS losses), which give back counts whose 99.9% Wilson interval holds
    the truth; the legal review's one reason is the file's, and so is the agreement's
    once the security review's refusals are left to the approval: nothing is written."""
    path, files, _ = export
    variant = tmp_path / "calibrated.yaml"
    done = run("calibrate", *files, "--process", str(path), "-o", str(variant))
    assert done.exit_code == 0, done.output
    text = variant.read_text("utf-8")
    assert 'stages.proposal.lost_reasons: {"chose a competitor": ' in text
    assert "stages.legal_review.lost_reasons" not in text
    assert "stages.agreement.lost_reasons" not in text
    fitted = salesproc.load(variant).stages["proposal"].lost_reasons
    assert [r for r, _ in fitted] == list(REASONS)  # most frequent first
    n = int(text.split("# why deals are lost at proposal: n=")[1].split(";")[0])
    assert n >= 100
    for reason, share in fitted:
        k = round(share * (n + PRIOR_OBSERVATIONS) - PRIOR_OBSERVATIONS * REASONS[reason])
        wide = proportion(k, n, confidence=0.999)
        assert wide.low <= REASONS[reason] <= wide.high, (reason, k, n)


def test_owners_are_named_from_the_user_export(
        export: tuple[Path, list[str], pd.DataFrame]) -> None:
    groups = _by(export, "owner")
    deals = export[2]
    assert set(groups) == set(OWNERS.values())
    for owner_id, name in OWNERS.items():
        assert groups[name]["deals"] == int((deals["OwnerId"] == owner_id).sum())
    total = sum(g["won"] for g in groups.values())
    assert total == int((deals["IsWon"] == "true").sum())


def test_the_table_shows_each_region_and_owner(
        export: tuple[Path, list[str], pd.DataFrame]) -> None:
    path, files, _ = export
    done = run("measure", *files, "--process", str(path), "--by", "owner")
    assert done.exit_code == 0, done.output
    assert "deals by owner" in done.stdout and "Grace Hopper" in done.stdout
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("  Ada")]
    assert rows and rows[0][:2] == ["Ada", "Lovelace"]


def test_without_the_user_export_owners_are_their_ids(
        export: tuple[Path, list[str], pd.DataFrame]) -> None:
    path, files, _ = export
    done = run("measure", *files[:2], "--process", str(path), "--by", "owner", "--format",
               "csv")
    assert done.exit_code == 0, done.output
    assert set(pd.read_csv(io.StringIO(done.stdout))["value"]) == set(OWNERS)


def test_an_unknown_by_is_a_usage_error_naming_the_fields(
        export: tuple[Path, list[str], pd.DataFrame]) -> None:
    path, files, _ = export
    done = run("measure", *files, "--process", str(path), "--by", "regoin")
    assert done.exit_code == 2
    assert "did you mean 'region'?" in done.output and "owner, region" in done.output


def test_a_number_field_is_cut_at_its_quartiles(tmp_path: Path) -> None:
    """A number field is broken down by quartiles, its unreadable values apart (SP854)."""
    process = tmp_path / "p.yaml"
    process.write_text(PROCESS.replace(
        "  region: {label: Sales region, shares: {emea: 0.5, amer: 0.5}}",
        "  region: {label: Sales region, shares: {emea: 0.5, amer: 0.5}}\n"
        "  discount: {number: {uniform: {low: 0, high: 0.4}}}").replace(
        "fields: {region: Region__c}",
        "fields: {region: Region__c, discount: Discount}").replace(
        "  lost_reason: Loss_Reason__c\n", ""),
        "utf-8")
    rows = ["deal,stage,changed_at,Discount,Segment__c"]
    for k in range(40):
        discount = "n/a" if k == 0 else f"{k / 100:.2f}"
        rows += [f"D{k},Proposal,2025-02-01,{discount},amer_buyer",
                 f"D{k},{'Closed Won' if k % 2 else 'Closed Lost'},2025-02-03,{discount},"
                 "amer_buyer"]
    export = tmp_path / "changes.csv"
    export.write_text("\n".join(rows) + "\n", "utf-8")
    done = run("measure", str(export), "--process", str(process), "--by", "discount",
               "--format", "json")
    assert done.exit_code == 0, done.output
    assert "SP854" in done.stderr
    groups = json.loads(done.stdout)["groups"]
    assert [g["value"] for g in groups][-1] == "(unknown)" and groups[-1]["deals"] == 1
    assert sum(g["deals"] for g in groups) == 40
    # 39 readable discounts, 0.01 to 0.39: a quarter of them (9 or 10) in each quartile
    assert sorted(g["deals"] for g in groups[:-1]) == [9, 10, 10, 10]
    assert groups[0]["value"] == "0.01 to 0.105" and groups[3]["value"].endswith("to 0.39")
    assert all(math.isclose(g["win_rate"]["mean"], g["won"] / g["deals"]) for g in groups)


def test_hubspot_regions_and_owners_as_they_come(tmp_path: Path) -> None:
    """A HubSpot deals export: the region a deal property, the owner its `Deal owner`
    as HubSpot writes it; as of an earlier date, the deals created by then keep theirs."""
    path = tmp_path / "regions.yaml"
    path.write_text(PROCESS.replace("Segment__c", "Segment").replace(
        "Loss_Reason__c", "Closed Lost Reason").replace("Region__c", "Region"), "utf-8")
    process = salesproc.load(path)
    result = salesproc.simulate(process, events=True)
    assert result.events is not None
    names = [s.name for s in process.stages.values()]
    export = write_hubspot(deals_of(result.events, process), tmp_path / "deals.csv", names)
    deals = pd.read_csv(export, dtype=str, keep_default_na=False)
    deals["Region"] = deals["Segment"].map(REGION)
    deals["Deal owner"] = ["Ada Lovelace (ada@example.com)" if k % 3 else "" for k in
                           range(len(deals))]
    deals.to_csv(export, index=False)
    done = run("measure", str(export), "--process", str(path), "--by", "region", "--format",
               "json")
    assert done.exit_code == 0, done.output
    groups = {g["value"]: g for g in json.loads(done.stdout)["groups"]}
    for region, truth in TRUTH.items():
        g = groups[region]
        wide = proportion(g["won"], g["win_rate"]["n"], confidence=0.999)  # as above
        assert wide.low <= truth <= wide.high, (region, g["win_rate"])
    done = run("measure", str(export), "--process", str(path), "--by", "owner", "--format",
               "json", "--as-of", "2025-03-01")
    assert done.exit_code == 0, done.output
    owners = {g["value"]: g["deals"] for g in json.loads(done.stdout)["groups"]}
    created = pd.to_datetime(deals["Create Date"]) <= pd.Timestamp("2025-03-01 23:59:59")
    named = deals["Deal owner"] != ""
    assert owners == {"Ada Lovelace (ada@example.com)": int((created & named).sum()),
                      "(none)": int((created & ~named).sum())}
