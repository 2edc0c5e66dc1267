"""`measure --suggest-mapping`: the export's own stage order and outcomes, two CRM stages on
one process stage said out loud, and names matched by the reader's own rules; and columns
the crm: section names that the export lacks, which are errors (SP840), not silence."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import run

PROCESS = """
salesproc: 1
name: Four steps
roles: {ae: {title: AE, headcount: 2}}
stages:
  - {id: lead, name: Lead, owner: ae, delay: 1, next: {meeting: 0.7}}
  - {id: meeting, name: Meeting, owner: ae, delay: 2, next: {offer: 0.6}}
  - {id: offer, name: Offer, owner: ae, delay: 3, next: {negotiation: 0.7}}
  - {id: negotiation, name: NAME, owner: ae, delay: 4, next: {won: 0.8}}
buyer_types: {b: {name: B, share: 1, value: 1000}}
arrivals: {rate: 1, per: day}
simulation: {start: 2025-01-06}
"""

# Three deals; Offers comes after Contract in two of their timelines, before it in the
# export's own sort order.
PATHS = {"D1": ["Lead", "Discovery", "Offer", "Contract", "Offers", "Signed"],
         "D2": ["Lead", "Discovery", "Offer", "Contract", "Offers", "Dropped"],
         "D3": ["Lead", "Discovery", "Offer", "Offers", "Contract", "Signed"]}
SORT = ["Lead", "Discovery", "Offer", "Offers", "Legal", "Contract", "Signed", "Dropped"]


def _process(folder: Path, name: str = "Negotiation") -> Path:
    path = folder / "process.yaml"
    path.write_text(PROCESS.replace("NAME", f'"{name}"'), "utf-8")
    return path


def _salesforce(folder: Path) -> list[Path]:
    history = ['"OpportunityId","StageName","CreatedDate"']
    opportunities = ['"Id","StageName","CreatedDate","IsClosed","IsWon"']
    for deal, stages in PATHS.items():
        for day, stage in enumerate(stages, start=1):
            history.append(f'"{deal}","{stage}","2025-02-{day:02d}T10:00:00.000Z"')
        last = stages[-1]
        opportunities.append(f'"{deal}","{last}","2025-02-01T10:00:00.000Z","true",'
                             f'"{str(last == "Signed").lower()}"')
    (folder / "OpportunityHistory.csv").write_text("\n".join(history) + "\n", "utf-8")
    (folder / "Opportunity.csv").write_text("\n".join(opportunities) + "\n", "utf-8")
    return [folder / "Opportunity.csv", folder / "OpportunityHistory.csv"]


def _suggested(out_text: str) -> dict[str, str]:
    return yaml.safe_load(out_text)["crm"]["stages"]  # type: ignore[no-any-return]


def _comments(out_text: str) -> dict[str, str]:
    """Each suggested line's comment, by CRM stage."""
    found = {}
    for line in out_text.splitlines():
        if line.startswith("    ") and "#" in line:
            key, _, comment = line.strip().partition("#")
            found[key.split(":")[0].strip('"')] = comment
    return found


def test_the_export_says_which_stages_are_won_and_lost(tmp_path: Path) -> None:
    """Signed and Dropped say nothing by their names; Opportunity.csv's IsClosed and IsWon
    say which is which."""
    out = run("measure", *map(str, _salesforce(tmp_path)), "--process",
              str(_process(tmp_path)), "--suggest-mapping")
    assert out.exit_code == 0, out.output
    proposed = _suggested(out.stdout)
    assert proposed["Signed"] == "won" and proposed["Dropped"] == "lost"
    assert "marks it closed" in _comments(out.stdout)["Signed"]


def test_the_stage_list_orders_the_stages_and_no_two_share_a_stage_in_silence(
        tmp_path: Path) -> None:
    """Salesforce's OpportunityStage (as Data Loader writes it: upper-case headers) gives
    the order, even against the deals' timelines, and a stage no deal reached yet (Legal).
    Offers is close to Offer by name, but Offer is Offer: Offers is placed by its order;
    where CRM stages then share a process stage, every one of their lines says so."""
    files = _salesforce(tmp_path)
    stage_list = tmp_path / "OpportunityStage.csv"
    stage_list.write_text('"ID","MASTERLABEL","APINAME","SORTORDER","ISCLOSED","ISWON",'
                          '"DEFAULTPROBABILITY"\n' + "".join(
                              f'"01J{k}","{s}","{s}","{k}","{s in ("Signed", "Dropped")!s}",'
                              f'"{s == "Signed"!s}","{k * 10}"\n'
                              for k, s in enumerate(SORT, start=1)), "utf-8")
    out = run("measure", *map(str, files), str(stage_list), "--process",
              str(_process(tmp_path)), "--suggest-mapping")
    assert out.exit_code == 0, out.output
    proposed = _suggested(out.stdout)
    assert list(proposed) == SORT
    assert "stage sort order" in out.stdout.splitlines()[0]
    assert proposed["Lead"] == "lead" and proposed["Offer"] == "offer"
    assert proposed["Discovery"] == "meeting"  # the one free stage between Lead and Offer
    assert proposed["Offers"] != "offer"
    comments = _comments(out.stdout)
    assert "which Offer matches better" in comments["Offers"]
    targets = [t for s, t in proposed.items() if t not in ("won", "lost")]
    for crm_stage, target in proposed.items():
        others = [s for s, t in proposed.items() if t == target and s != crm_stage]
        if target not in ("won", "lost") and others:
            assert f"shares {target} with" in comments[crm_stage], crm_stage
            assert all(o in comments[crm_stage] for o in others)
    assert len(set(targets)) < len(targets)  # five open CRM stages, four process stages
    assert "land on negotiation" in out.stdout
    assert comments["Legal"].startswith(" 0 rows, 0 deals")


def test_a_suggestion_pasted_into_the_file_maps_every_stage(tmp_path: Path) -> None:
    files = [str(p) for p in _salesforce(tmp_path)]
    process = _process(tmp_path)
    out = run("measure", *files, "--process", str(process), "--suggest-mapping")
    assert out.exit_code == 0, out.output
    process.write_text(process.read_text("utf-8") + out.stdout, "utf-8")
    measured = run("measure", *files, "--process", str(process), "--format", "json")
    assert measured.exit_code == 0, measured.output
    assert "unknown CRM stage" not in measured.output
    assert "crm: section already" not in out.stdout
    again = run("measure", *files, "--process", str(process), "--suggest-mapping")
    assert again.exit_code == 0, again.output  # the first hour's >> line run a second time
    assert again.stdout.startswith("# The process has a crm: section already: merge these "
                                   "lines into it")


def test_an_apostrophe_in_a_stage_name_gives_a_suggestion(tmp_path: Path) -> None:
    """The process's "Buyer's review" and the CRM's "Buyers review" are similar names by
    the reader's own rule (it once crashed: KeyError 'buyer', exit 3)."""
    export = tmp_path / "changes.csv"
    export.write_text("deal,stage,changed_at\nA,Lead,2025-01-02\nA,Buyers review,2025-01-03\n"
                      "A,Closed Won,2025-01-04\n", "utf-8")
    process = _process(tmp_path, "Buyer's review")
    out = run("measure", str(export), "--process", str(process), "--suggest-mapping")
    assert out.exit_code == 0, out.output
    assert _suggested(out.stdout)["Buyers review"] == "negotiation"
    assert "similar to 'buyer's review'" in _comments(out.stdout)["Buyers review"]
    measured = run("measure", str(export), "--process", str(process))
    assert "did you mean 'buyer's review'?" in measured.output  # the reader's hint: one rule


def test_hubspot_deal_probability_orders_the_stages(tmp_path: Path) -> None:
    """A HubSpot deals export without `Date entered` columns: each deal's current stage,
    ordered by HubSpot's deal probability (written 0..1), the outcomes last."""
    export = tmp_path / "deals.csv"
    rows = [("contractsent", 0.9)] * 4 + [("appointmentscheduled", 0.2)] * 2 + \
        [("qualifiedtobuy", 0.4)] * 3 + [("closedwon", 1.0), ("closedlost", 0.0)]
    export.write_text("Record ID,Deal Stage,Create Date,Deal probability\n" + "".join(
        f"{k},{stage},2025-02-01,{p}\n" for k, (stage, p) in enumerate(rows, start=1)), "utf-8")
    out = run("measure", str(export), "--process", str(_process(tmp_path)), "--suggest-mapping")
    assert out.exit_code == 0, out.output
    proposed = _suggested(out.stdout)
    assert list(proposed) == ["appointmentscheduled", "qualifiedtobuy", "contractsent",
                              "closedwon", "closedlost"]
    assert proposed["closedwon"] == "won" and proposed["closedlost"] == "lost"
    assert "probability 90%" in _comments(out.stdout)["contractsent"]
    assert "lost_reason" not in yaml.safe_load(out.stdout)["crm"]  # the export has none
    assert _comments(out.stdout)["contractsent"].startswith(" 4 rows, 4 deals")

    entered = tmp_path / "entered.csv"  # HubSpot names the pipeline in its stage dates
    entered.write_text('Record ID,Deal Stage,Create Date,Deal probability,Closed Lost Reason,'
                       '"Date entered ""qualifiedtobuy (Sales Pipeline)"""\n' + "".join(
                           f"{k},{stage},2025-02-01,{p},,"
                           f"{'2025-02-02' if stage == 'qualifiedtobuy' else ''}\n"
                           for k, (stage, p) in enumerate(rows, start=1)), "utf-8")
    again = run("measure", str(entered), "--process", str(tmp_path / "process.yaml"),
                "--suggest-mapping")
    assert again.exit_code == 0, again.output
    assert yaml.safe_load(again.stdout)["crm"]["lost_reason"] == "Closed Lost Reason"
    assert list(_suggested(again.stdout)) == [  # one line for the one stage, under the
        "appointmentscheduled", "qualifiedtobuy", "contractsent",  # name the reader maps
        "closedwon", "closedlost"]  # both to, with its probability
    assert "probability 40%" in _comments(again.stdout)["qualifiedtobuy"]


def test_names_yaml_would_misread_and_words_that_only_look_like_outcomes(
        tmp_path: Path) -> None:
    """'- Prospecting' stays a key (not a list item) and "Won't buy" is no win; 'Closed-Won'
    and 'Lost (no budget)' are outcomes by their names."""
    export = tmp_path / "changes.csv"
    export.write_text("deal,stage,changed_at\nA,- Prospecting,2025-01-02\n"
                      "A,Won't buy,2025-01-03\nB,- Prospecting,2025-01-02\n"
                      "B,Closed-Won,2025-01-04\nC,Lost (no budget),2025-01-05\n", "utf-8")
    out = run("measure", str(export), "--process", str(_process(tmp_path)), "--suggest-mapping")
    assert out.exit_code == 0, out.output
    proposed = _suggested(out.stdout)
    assert set(proposed) == {"- Prospecting", "Won't buy", "Closed-Won", "Lost (no budget)"}
    assert proposed["Won't buy"] not in ("won", "lost")
    assert proposed["Closed-Won"] == "won" and proposed["Lost (no budget)"] == "lost"


def test_a_crm_column_the_export_lacks_is_an_error_with_did_you_mean(tmp_path: Path) -> None:
    """`lost_reason: Lost Reason` where HubSpot writes `Closed Lost Reason`: exit 1, located
    at the header, with the column it probably means; a buyer type whose rules read
    Segment__c (Salesforce) or Segment (HubSpot) is fine when one of them is there."""
    export = tmp_path / "deals.csv"
    export.write_text("Record ID,Deal Stage,Create Date,Segment,Closed Lost Reason\n"
                      "1,Lead,2025-02-01,SMB,\n2,closedlost,2025-02-01,SMB,price\n", "utf-8")
    process = _process(tmp_path)
    rules = ("crm:\n  buyer_types:\n    - {field: Segment__c, is: SMB, buyer_type: b}\n"
             "    - {field: Segment, is: SMB, buyer_type: b}\n")
    process.write_text(process.read_text("utf-8") + rules + "  lost_reason: Lost Reason\n",
                       "utf-8")
    out = run("measure", str(export), "--process", str(process))
    assert out.exit_code == 1
    assert f"{export}:1: error SP840 the column 'Lost Reason' named in crm: lost_reason" \
        in out.stderr
    assert "did you mean 'Closed Lost Reason'?" in out.stderr
    assert "Segment" not in out.stderr.split("its columns are")[0]
    process.write_text(process.read_text("utf-8").replace("Lost Reason\n",
                                                          "Closed Lost Reason\n"), "utf-8")
    fixed = run("measure", str(export), "--process", str(process), "--format", "json")
    assert fixed.exit_code == 0, fixed.output


def test_a_deal_table_gets_a_suggestion_that_maps_every_stage(tmp_path: Path) -> None:
    """One row per deal (deal, stage, created): the stage names are ordered by when their
    deals were created, a name that only looks like an outcome ("Won't buy") is no
    outcome, and the suggestion pasted into the file maps every stage."""
    rows = ["deal,stage,created", "1,Lead,2025-02-01", "2,Won't buy,2025-02-02",
            "3,Meeting,2025-02-03", "4,Closed Won,2025-02-04", "5,Lost - no budget,2025-02-05"]
    table = tmp_path / "deals.csv"
    table.write_text("\n".join(rows) + "\n", "utf-8")
    process = _process(tmp_path)
    out = run("measure", str(table), "--process", str(process), "--suggest-mapping")
    assert out.exit_code == 0, out.output
    stages = _suggested(out.stdout)
    assert stages["Closed Won"] == "won" and stages["Lost - no budget"] == "lost"
    assert stages["Won't buy"] not in ("won", "lost")
    process.write_text(process.read_text("utf-8") + out.stdout, "utf-8")
    measured = run("measure", str(table), "--process", str(process), "--format", "json")
    assert measured.exit_code == 0, measured.output
    assert "unknown CRM stage" not in measured.output


def test_a_stage_name_too_long_for_the_file_is_said_not_proposed(tmp_path: Path) -> None:
    """A 'stage' of 300 characters (a wrong column, a note pasted into the stage): the
    crm: section could not hold it, so the suggestion says so in a comment and the pasted
    section still validates."""
    long = "x" * 300
    rows = ["deal,stage,changed_at", "1,Lead,2025-02-01", f"1,{long},2025-02-02",
            "2,Lead,2025-02-03", "2,Closed Won,2025-02-04"]
    changes = tmp_path / "changes.csv"
    changes.write_text("\n".join(rows) + "\n", "utf-8")
    process = _process(tmp_path)
    out = run("measure", str(changes), "--process", str(process), "--suggest-mapping")
    assert out.exit_code == 0, out.output
    assert "# a stage name of 300 characters" in out.stdout
    assert long not in _suggested(out.stdout)
    process.write_text(process.read_text("utf-8") + out.stdout, "utf-8")
    checked = run("validate", str(process))
    assert checked.exit_code == 0, checked.output
