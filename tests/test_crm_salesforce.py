"""`salesproc export salesforce` and `import salesforce`: SFDX source with Salesforce's own
element names, nesting and order; probabilities that are the model's chance to win;
names encoded as Salesforce writes them; what cannot be held listed; nothing the user had
overwritten."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from salesproc.crm_metadata import salesforce as sf
from salesproc.crm_metadata.salesforce_export import (
    approval_problem,
    effective_approvals,
    outcome_values,
    stage_values,
    to_salesforce,
)
from salesproc.process.analysis import stage_win_chances
from salesproc.process.loader import load
from salesproc.process.model import Process, Stage
from tests.conftest import ROOT, run

CASES = ROOT / "tests" / "cases" / "salesforce"
TWO_PATHS = CASES / "two-paths.yaml"
NS = {"m": sf.NAMESPACE}
OBJECT = "objects/Opportunity"


def tags(element: ET.Element) -> list[str]:
    return [child.tag.split("}")[1] for child in element]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sfdx") / "force-app"
    result = run("export", "salesforce", str(TWO_PATHS), "-o", str(folder))
    assert result.exit_code == 0, result.output
    return folder


def test_stage_set_in_order_with_the_models_chance_to_win(exported: Path) -> None:
    root = ET.parse(exported / "standardValueSets/OpportunityStage.standardValueSet-meta.xml")
    values = root.findall("m:standardValue", NS)
    assert tags(root.getroot())[0] == "sorted"
    for value in values:
        assert tags(value) == ["fullName", "default", "label", "closed", "forecastCategory",
                               "probability", "won"]
    got = {v.findtext("m:fullName", namespaces=NS): (
        v.findtext("m:probability", namespaces=NS), v.findtext("m:forecastCategory",
                                                               namespaces=NS),
        v.findtext("m:closed", namespaces=NS), v.findtext("m:won", namespaces=NS))
        for v in values}
    assert list(got) == ["Discovery", "Proposal/Price Quote", "Signature", "Closed Won",
                         "Closed Lost"]
    # by hand: smb wins 0.4 x 0.8 from discovery and 0.8 from signature; mid-market
    # 0.5 x 0.8 x 0.5, 0.8 x 0.5 and 0.5; equal shares, and as many of each reach
    # discovery (all) and signature (0.4 of the leads each)
    assert got["Discovery"] == ("26", "Pipeline", "false", "false")  # (0.32 + 0.2) / 2
    assert got["Proposal/Price Quote"] == ("40", "BestCase", "false", "false")
    assert got["Signature"] == ("65", "BestCase", "false", "false")  # (0.8 + 0.5) / 2
    assert got["Closed Won"] == ("100", "Closed", "true", "true")
    assert got["Closed Lost"] == ("0", "Omitted", "true", "false")


def test_business_process_and_record_type_per_buyer_type(exported: Path) -> None:
    process = ET.parse(exported / f"{OBJECT}/businessProcesses/smb.businessProcess-meta.xml")
    assert tags(process.getroot())[:2] == ["fullName", "isActive"]
    assert [v.findtext("m:fullName", namespaces=NS) for v in process.findall("m:values", NS)] \
        == ["Closed Lost", "Closed Won", "Discovery", "Signature"]  # by name, as retrieved
    mid = (exported / f"{OBJECT}/businessProcesses/mid_market.businessProcess-meta.xml")
    assert "<fullName>Proposal%2FPrice Quote</fullName>" in mid.read_text("utf-8")
    record = ET.parse(exported / f"{OBJECT}/recordTypes/mid_market.recordType-meta.xml")
    assert tags(record.getroot()) == ["fullName", "active", "businessProcess", "description",
                                      "label"]
    assert record.findtext("m:label", namespaces=NS) == "Mid-market"
    assert record.findtext("m:businessProcess", namespaces=NS) == "mid_market"


def test_path_guidance_is_escaped_html_with_key_fields(exported: Path) -> None:
    text = (exported / "pathAssistants/mid_market.pathAssistant-meta.xml").read_text("utf-8")
    assert "&lt;p&gt;&lt;b&gt;Discovery call&lt;/b&gt;" in text  # HTML, escaped in XML
    path = ET.fromstring(text)
    assert tags(path) == ["active", "entityName", "fieldName", "masterLabel",
                          "pathAssistantSteps", "pathAssistantSteps", "pathAssistantSteps",
                          "recordTypeName"]
    first = path.find("m:pathAssistantSteps", NS)
    assert first is not None
    assert tags(first) == ["fieldNames", "info", "picklistValueName"]
    info = first.findtext("m:info", namespaces=NS) or ""
    assert "Ask about the &lt;current&gt; tool &amp; its cost." in info  # the HTML's own
    assert sf.read_guidance(info) == sf.Guidance(
        "Discovery call", "", "Ask about the <current> tool & its cost.",
        ["Champion's name"])  # the budget is a key field: Budget__c
    second = path.findall("m:pathAssistantSteps", NS)[1]
    assert sf.read_guidance(second.findtext("m:info", namespaces=NS) or "").guidance == \
        "Send the quote.\nFollow up in two days."
    assert path.findtext("m:recordTypeName", namespaces=NS) == "mid_market"


def test_required_information_becomes_validation_rules(exported: Path) -> None:
    rules = {p.name.split(".")[0]: ET.parse(p).getroot()
             for p in (exported / OBJECT / "validationRules").iterdir()}
    assert set(rules) == {"Discovery_needs_Budget_c", "Discovery_needs_Budget_c_2",
                          "Signature_needs_PO_Number_c"}
    found = {name: sf.read_rule(rule.findtext("m:errorConditionFormula", namespaces=NS) or "")
             for name, rule in rules.items()}
    assert found["Signature_needs_PO_Number_c"] == (["Closed Won"], [], "PO_Number__c")
    assert sorted(v for v in found.values() if v and v[2] == "Budget__c") == [
        (["Proposal/Price Quote", "Signature", "Closed Won"], ["mid_market"], "Budget__c"),
        (["Signature", "Closed Won"], ["smb"], "Budget__c")]
    assert tags(rules["Signature_needs_PO_Number_c"]) == ["fullName", "active", "description",
                                            "errorConditionFormula", "errorDisplayField",
                                            "errorMessage"]


def test_approvals_where_the_metadata_can_express_them(exported: Path) -> None:
    approval = ET.parse(exported / "approvalProcesses/"
                        "Opportunity.Proposal_Price_Quote_approvals.approvalProcess-meta.xml")
    root = approval.getroot()
    assert tags(root) == ["active", "allowRecall", "allowedSubmitters", "approvalPageFields",
                          "approvalStep", "description", "enableMobileDeviceAccess",
                          "entryCriteria", "finalApprovalRecordLock",
                          "finalRejectionRecordLock", "label", "processOrder",
                          "recordEditability", "showApprovalHistory"]
    assert root.findtext("m:entryCriteria/m:formula", namespaces=NS) == sf.approval_formula(
        ["Proposal/Price Quote"], [], [("gte", 50000.0)])  # mid-market alone has the stage
    assert root.findtext("m:approvalStep/m:assignedApprover/m:approver/m:name",
                         namespaces=NS) == "finance"
    listed = to_salesforce(load(TWO_PATHS)).not_expressed
    assert any("create the queues (finance for finance)" in line for line in listed)
    assert "approval 'Discount approval' at stage propose: its chance of a no (0.1) and " \
        "where a rejected deal goes" in listed
    assert any(line.endswith("not enforced: champion") for line in listed)
    enterprise = to_salesforce(load(ROOT / "processes/enterprise-meddpicc.yaml"))
    assert not any(p.startswith("approvalProcesses/Opportunity.Business")
                   for p in enterprise.files)
    assert "approval 'Discount review' at stage business_case for enterprise, strategic (by " \
        "deal_desk): a condition on deal fields or with any: is not one Salesforce's " \
        "approval entry criteria hold here" in enterprise.not_expressed


def test_export_keeps_what_the_user_changed(exported: Path, tmp_path: Path) -> None:
    again = run("export", "salesforce", str(TWO_PATHS), "-o", str(exported))
    assert again.exit_code == 0  # the same files again: nothing to lose
    folder = tmp_path / "out"
    assert run("export", "salesforce", str(TWO_PATHS), "-o", str(folder)).exit_code == 0
    edited = folder / f"{OBJECT}/recordTypes/smb.recordType-meta.xml"
    edited.write_text("mine", "utf-8")
    refused = run("export", "salesforce", str(TWO_PATHS), "-o", str(folder))
    assert refused.exit_code == 1
    assert "nothing was written" in refused.output and "Traceback" not in refused.output
    assert edited.read_text("utf-8") == "mine"
    forced = run("export", "salesforce", str(TWO_PATHS), "-o", str(folder), "--force")
    assert forced.exit_code == 0 and edited.read_text("utf-8").startswith("<?xml")


# --- import, and export -> import ---------------------------------------------------------


def held(process: Process) -> dict[str, object]:
    """What Salesforce can hold of a process, without salesproc's own ids: the stages in
    order (values, name, description, guidance, what each buyer type must find out and in
    which CRM field: a Path lists the fields apart from the rest, so not in its order;
    its approvals where Salesforce can hold them: name, role and value bounds),
    the buyer types (record type, name, description, path), and each stage's chance to
    win to the percent. Descriptions are one paragraph in Salesforce."""
    values = stage_values(process)
    won, lost = outcome_values(process)
    chances = stage_win_chances(process)

    def approvals(stage: Stage, buyer: str) -> list[object]:
        found = effective_approvals(stage, buyer)
        if approval_problem(found):  # listed as not expressed: not carried
            return []
        return [(a.name, a.role, a.when.value if a.when else None) for a in found]

    def needs(stage: Stage) -> list[tuple[str, str | None]]:
        return sorted((process.information[i].label if i not in process.crm.information
                       else "", process.crm.information.get(i) or "") for i in stage.requires)

    return {
        "stages": [(values[s], st.name, " ".join(st.description.split()), st.guidance.strip(),
                    round(100 * chances[s])) for s, st in process.stages.items()],
        "outcomes": (won, lost),
        "buyers": sorted((b.id, b.name, " ".join(b.description.split()),
                          [values[s][0] for s in b.path],
                          [(values[s][0], b.stages[s].guidance.strip(),
                            needs(b.stages[s]), approvals(b.stages[s], b.id))
                           for s in b.path])
                         for b in process.buyer_types.values())}


EXAMPLES = [*sorted((ROOT / "processes").glob("*.yaml")),
            ROOT / "examples/hubspot-first-export/acme-sales.yaml", TWO_PATHS]


@pytest.mark.parametrize("source", EXAMPLES, ids=lambda p: p.name)
def test_export_then_import_gives_back_what_salesforce_holds(source: Path,
                                                              tmp_path: Path) -> None:
    original = load(source)
    folder = tmp_path / "sfdx"
    for rel, text in to_salesforce(original).files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, "utf-8")
    result = run("import", "salesforce", str(folder), "-o", str(tmp_path / "back.yaml"))
    assert result.exit_code == 0, result.output
    assert "Not carried over" not in result.output  # the round trip found no difference
    back = load(tmp_path / "back.yaml")
    assert held(back) == held(original)


# --- hand-written metadata: import -> export ---------------------------------------------


def canonical(text: str) -> str:
    return ET.canonicalize(text, strip_text=True)


def assert_comes_back(project: Path, files: dict[str, str]) -> None:
    """Every XML file of *project* is exported again, the same element for element."""
    written = {p.relative_to(project).as_posix(): p.read_text("utf-8")
               for p in project.rglob("*.xml")}
    assert set(files) == set(written)
    for rel, text in written.items():
        assert canonical(files[rel]) == canonical(text), rel


def exported_again(project: Path, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """The import's report, and the files the imported process exports."""
    target = tmp_path / "back.yaml"
    result = run("import", "salesforce", str(project), "-o", str(target))
    assert result.exit_code == 0, result.output
    return result.output, to_salesforce(load(target)).files


@pytest.mark.parametrize("project", ["sfdx", "master"])
def test_import_then_export_gives_the_same_metadata(project: str, tmp_path: Path) -> None:
    """sfdx: a customised stage set (a label of its own, a default, a forecast category
    other than the chance implies, a French translation), two record types on their own
    business processes (one without a Path), a Path with guidance and key fields, a
    validation rule of the admin's; master: an org without record types (two won
    values, a Path for every record type). Every file exported again is the same,
    element for element."""
    report, files = exported_again(CASES / project, tmp_path)
    assert "Not carried over" not in report
    assert_comes_back(CASES / project, files)
    if project == "master":
        return
    back = (tmp_path / "back.yaml").read_text("utf-8")
    assert "Prospecting: prospecting   # Salesforce: 10%" not in back  # (a YAML key, quoted)
    assert '"Prospecting": prospecting' in back and "# Salesforce: 10%" in back


def test_import_of_metadata_as_salesforce_retrieves_it(tmp_path: Path) -> None:
    """As a retrieve from a real org writes it: the business process lists its values
    by name (one of them URL-encoded, as Salesforce writes a parenthesis) and offers
    one of the two won values; the Path lists its steps by name (one for the lost
    value, one with an empty guidance), an admin's own guidance HTML with a bold
    heading; an open stage at 0% (deals parked), a won value among the open ones and one
    at 95%, stage values with descriptions and a color, a record type with a compact
    layout. The path follows the stage set, the heading is not taken for the stage's
    name, the process is valid, and every file comes back the same."""
    project = CASES / "retrieved"
    report, files = exported_again(project, tmp_path)
    assert "will differ" not in report and "left out" not in report
    assert "stage value Parked has probability 0" in report  # said, and kept
    assert_comes_back(project, files)
    process = load(tmp_path / "back.yaml")
    buyer = process.buyer_types["direct"]
    assert list(buyer.path) == ["lead_in", "scoping", "parked", "offer_made_final"]
    assert process.stages["lead_in"].name == "Lead In"
    assert buyer.stages["lead_in"].guidance == "Start here.\n- Log the first call & its date."
    chances = stage_win_chances(process)
    assert round(100 * chances["lead_in"]) == 10 and round(100 * chances["offer_made_final"]) == 60
    assert chances["parked"] > 0  # the model cannot hold an open stage nobody wins from


def test_values_listed_in_the_stage_sets_order_stay_so(tmp_path: Path) -> None:
    """A hand-written project may list a business process's values and a Path's steps
    in the stages' order rather than by name, as a retrieve does: they come back so."""
    project = tmp_path / "project"
    shutil.copytree(CASES / "retrieved", project)

    def reorder(rel: str, tag: str, key: str, order: list[str]) -> None:
        path = project / rel
        text = path.read_text("utf-8")
        entries = re.findall(rf"    <{tag}>.*?</{tag}>\n", text, re.S)
        named = {}
        for entry in entries:
            found = re.search(rf"<{key}>(.*?)</{key}>", entry)
            assert found is not None
            named[found.group(1)] = entry
        start = text.index(entries[0])
        rest = text[start:].replace("".join(entries), "".join(named[v] for v in order))
        path.write_text(text[:start] + rest, "utf-8")

    reorder("objects/Opportunity/businessProcesses/Direct Sales.businessProcess-meta.xml",
            "values", "fullName", ["Lead In", "Scoping", "Parked", "Signed",
                                   "Offer Made %28Final%29", "Dropped"])
    reorder("pathAssistants/Direct_Path.pathAssistant-meta.xml", "pathAssistantSteps",
            "picklistValueName", ["Lead In", "Scoping", "Dropped"])
    report, files = exported_again(project, tmp_path)
    assert "will differ" not in report
    for rel in ("objects/Opportunity/businessProcesses/Direct Sales.businessProcess-meta.xml",
                "pathAssistants/Direct_Path.pathAssistant-meta.xml"):
        assert canonical(files[rel]) == canonical((project / rel).read_text("utf-8")), rel


def test_what_salesforce_said_is_rewritten_once_changed(tmp_path: Path) -> None:
    """An admin's guidance HTML and Salesforce's own probabilities are written back only
    while the process still says what it said: changed guidance, or routes calibrated
    to other chances, are written as the process now has them."""
    back = tmp_path / "back.yaml"
    assert run("import", "salesforce", str(CASES / "retrieved"), "-o", str(back)).exit_code == 0
    text = back.read_text("utf-8")
    assert '"Start here.\\n- Log the first call & its date."' in text
    assert "next: {offer_made_final: 0.5}   # Salesforce: 0%" in text  # parked, 30% onwards
    back.write_text(text.replace('guidance: "Start here.', 'guidance: "Begin here.').replace(
        "next: {offer_made_final: 0.5}", "next: {offer_made_final: 0.8}"), "utf-8")
    files = to_salesforce(load(back)).files
    values = ET.fromstring(files["standardValueSets/OpportunityStage.standardValueSet-meta.xml"])
    chances = {v.findtext("m:fullName", namespaces=NS): v.findtext("m:probability",
                                                                     namespaces=NS)
               for v in values.findall("m:standardValue", NS)}
    assert chances["Parked"] == "48"  # 0.8 x 0.6, the model's now, no longer Salesforce's 0
    assert chances["Renewed"] == "95"  # a won value's: the model's is still 100
    path = files["pathAssistants/Direct_Path.pathAssistant-meta.xml"]
    assert "&lt;p&gt;Begin here.&lt;/p&gt;&lt;p&gt;- Log the first call &amp;amp; its " \
        "date.&lt;/p&gt;" in path  # salesproc's own HTML for the changed step
    assert "Start here" not in path
    assert "Say why it was lost." in path  # the kept step of the lost value


def test_one_path_for_every_record_type_and_what_is_inactive(tmp_path: Path) -> None:
    """A Path for every record type (__MASTER__), inactive, in an org with two record
    types, one of them on an inactive business process: each buyer type reads the steps
    of its own stages, and the Path and business process come back as they were (an
    export that activated them would change the org on deploy)."""
    project = CASES / "shared-path"
    report, files = exported_again(project, tmp_path)
    assert "will differ" not in report and "left out" not in report
    assert_comes_back(project, files)
    process = load(tmp_path / "back.yaml")
    assert process.buyer_types["field"].stages["contract"].guidance == "Send the order form."
    assert process.buyer_types["self"].stages["intro"].guidance == "Book a call."
    assert process.crm.information == {"trial_end": "Trial_End__c"}


def test_import_of_a_metadata_api_retrieve(tmp_path: Path) -> None:
    report, files = exported_again(CASES / "mdapi", tmp_path)
    assert "Not carried over" not in report
    stage_set = (CASES / "mdapi/standardValueSets/OpportunityStage.standardValueSet")
    assert canonical(files["standardValueSets/OpportunityStage.standardValueSet-meta.xml"]
                     ) == canonical(stage_set.read_text("utf-8"))
    process = ET.parse(CASES / "mdapi/objects/Opportunity.object").getroot()
    def shape(element: ET.Element) -> list[object]:
        return [(c.tag, (c.text or "").strip(), shape(c)) for c in element]

    for folder, kind in (("businessProcesses", "businessProcess"),
                         ("recordTypes", "recordType")):
        for element in process.findall(f"m:{folder}", NS):
            name = element.findtext("m:fullName", namespaces=NS)
            again = ET.fromstring(files[f"{OBJECT}/{folder}/{name}.{kind}-meta.xml"])
            assert shape(element) == shape(again)


def test_every_difference_is_reported(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(CASES / "sfdx", project)
    path = project / "pathAssistants/New_Business_Path.pathAssistant-meta.xml"
    path.write_text(path.read_text("utf-8").replace(
        "&lt;p&gt;Send the quote from CPQ.&lt;/p&gt;",
        "&lt;ul&gt;&lt;li&gt;Send the quote&lt;/li&gt;&lt;/ul&gt;").replace(
        "<pathAssistantSteps>", "<pathAssistantSteps><picklistValueName>Gone</picklistValueName>"
        "</pathAssistantSteps><pathAssistantSteps>", 1), "utf-8")  # no value of the set
    stage_set = project / "standardValueSets/OpportunityStage.standardValueSet-meta.xml"
    stage_set.write_text(stage_set.read_text("utf-8").replace(
        "<probability>10</probability>", "<probability>10</probability><highPriority>false"
        "</highPriority>").replace("<default>false</default>", "", 2), "utf-8")
    (project / "approvalProcesses").mkdir()
    (project / "approvalProcesses/Opportunity.Discount.approvalProcess-meta.xml").write_text(
        f'<ApprovalProcess xmlns="{sf.NAMESPACE}"><active>true</active></ApprovalProcess>',
        "utf-8")
    report, files = exported_again(project, tmp_path)
    assert "approval process Discount" in report
    assert "Path New_Business_Path: the step of 'Gone' (no open stage of its record type): " \
        "left out" in report  # the admin's own HTML of the others is kept as it was
    assert "PathAssistant New_Business_Path will differ on export: element 5 of " \
        "PathAssistant is the pathAssistantSteps of 'Gone' in Salesforce, of 'Proposal/Price" \
        " Quote' on export\n" in report  # and not the shifted steps after it
    assert "StandardValueSet will differ on export: element 7 of standardValue is " \
        "highPriority, on export won (and 2 more differences)" in report  # each value's
    written = {p.relative_to(project).as_posix() for p in project.rglob("*-meta.xml")}
    differing = {rel for rel in written if rel in files and canonical(files[rel]) !=
                 canonical((project / rel).read_text("utf-8"))} | (written - set(files))
    assert differing == {"approvalProcesses/Opportunity.Discount.approvalProcess-meta.xml",
                         "pathAssistants/New_Business_Path.pathAssistant-meta.xml",
                         "standardValueSets/OpportunityStage.standardValueSet-meta.xml"}


# --- bad input -----------------------------------------------------------------------------


BAD = {
    "malformed": (b"<StandardValueSet><standardValue>", "not well-formed XML"),
    "billion laughs": (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                       b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
                       b"<StandardValueSet>&lol2;</StandardValueSet>", "refused"),
    "xxe": (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b"<StandardValueSet><standardValue><fullName>&e;</fullName></standardValue>"
            b"</StandardValueSet>", "refused"),
    "absurd probability": (
        b'<StandardValueSet xmlns="http://soap.sforce.com/2006/04/metadata"><standardValue>'
        b"<fullName>A</fullName><probability>1e308</probability></standardValue>"
        b"</StandardValueSet>", "probability 1e308 is not a number from 0 to 100"),
    "not a stage set": (b"<Flow/>", "holds a Flow, not a StandardValueSet"),
    "no open stage": (
        b'<StandardValueSet xmlns="http://soap.sforce.com/2006/04/metadata"><standardValue>'
        b"<fullName>Closed Won</fullName><closed>true</closed><won>true</won>"
        b"</standardValue></StandardValueSet>", "no open stage"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_metadata_is_a_located_error(case: str, tmp_path: Path) -> None:
    data, message = BAD[case]
    (tmp_path / "in/standardValueSets").mkdir(parents=True)
    (tmp_path / "in/standardValueSets/OpportunityStage.standardValueSet-meta.xml"
     ).write_bytes(data)
    target = tmp_path / "out.yaml"
    result = run("import", "salesforce", str(tmp_path / "in"), "-o", str(target))
    assert result.exit_code == 1
    assert message in result.output and "OpportunityStage.standardValueSet-meta.xml" in \
        result.output
    assert "Traceback" not in result.output and "root:" not in result.output
    assert not target.exists()


def test_missing_folder_stage_set_and_kept_output(tmp_path: Path) -> None:
    missing = run("import", "salesforce", str(tmp_path / "nope"), "-o", str(tmp_path / "a"))
    assert missing.exit_code == 1 and "does not exist" in missing.output
    empty = tmp_path / "empty"
    empty.mkdir()
    none = run("import", "salesforce", str(empty), "-o", str(tmp_path / "a.yaml"))
    assert none.exit_code == 1 and "no Opportunity stage set" in none.output
    mine = tmp_path / "mine.yaml"
    mine.write_text("keep me", "utf-8")
    kept = run("import", "salesforce", str(CASES / "sfdx"), "-o", str(mine))
    assert kept.exit_code == 1 and mine.read_text("utf-8") == "keep me"


def test_malformed_x_salesforce_is_a_kind_error(tmp_path: Path) -> None:
    process = tmp_path / "p.yaml"
    process.write_text(TWO_PATHS.read_text("utf-8") +
                       "x-salesforce: {forecast_categories: {Discovery: Maybe}}\n", "utf-8")
    result = run("export", "salesforce", str(process), "-o", str(tmp_path / "out"))
    assert result.exit_code == 1 and "'Maybe' is no forecast category" in result.output
    assert not (tmp_path / "out").exists()


def test_names_from_anywhere_are_written_harmlessly(tmp_path: Path) -> None:
    """A control character in a name is written as its escape (XML cannot hold it, and it
    would drive a terminal); a stage value called Won is a stage, not the outcome."""
    process = tmp_path / "p.yaml"
    process.write_text(TWO_PATHS.read_text("utf-8").replace(
        "name: Proposal\n", 'name: "Pro\\x1bposal"\n').replace(
        "Discovery: discover", "Won: discover"), "utf-8")
    folder = tmp_path / "out"
    assert run("export", "salesforce", str(process), "-o", str(folder)).exit_code == 0
    path = ET.parse(folder / "pathAssistants/mid_market.pathAssistant-meta.xml")
    infos = [s.findtext("m:info", namespaces=NS) or "" for s in
             path.findall("m:pathAssistantSteps", NS)]
    assert any("<p><b>Pro\\x1bposal</b></p>" in info for info in infos)
    back = run("import", "salesforce", str(folder), "-o", str(tmp_path / "back.yaml"))
    assert back.exit_code == 0, back.output
    assert '"Won": won_2' in (tmp_path / "back.yaml").read_text("utf-8")
