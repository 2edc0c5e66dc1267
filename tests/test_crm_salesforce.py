"""`salesproc export salesforce` and `import salesforce`: SFDX source with Salesforce's own
element names, nesting and order; probabilities that are the model's chance to win;
names encoded as Salesforce writes them; what cannot be held listed; nothing the user had
overwritten."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from salesproc.crm_metadata import salesforce as sf
from salesproc.crm_metadata.salesforce_export import to_salesforce
from salesproc.process.loader import load
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
        == ["Discovery", "Signature", "Closed Won", "Closed Lost"]
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
        ["Budget & timing", "Champion's name"])
    second = path.findall("m:pathAssistantSteps", NS)[1]
    assert sf.read_guidance(second.findtext("m:info", namespaces=NS) or "").guidance == \
        "Send the quote.\nFollow up in two days."
    assert path.findtext("m:recordTypeName", namespaces=NS) == "mid_market"


def test_required_information_becomes_validation_rules(exported: Path) -> None:
    rules = {p.name.split(".")[0]: ET.parse(p).getroot()
             for p in (exported / OBJECT / "validationRules").iterdir()}
    assert set(rules) == {"discover_needs_budget", "discover_needs_budget_2", "sign_needs_po"}
    formula = rules["sign_needs_po"].findtext("m:errorConditionFormula", namespaces=NS)
    assert formula == sf.rule_formula(["Closed Won"], [], "PO_Number__c")  # both paths
    assert tags(rules["sign_needs_po"]) == ["fullName", "active", "description",
                                            "errorConditionFormula", "errorDisplayField",
                                            "errorMessage"]


def test_what_cannot_be_held_is_listed() -> None:
    found = to_salesforce(load(TWO_PATHS)).not_expressed
    assert "  approval 'Discount approval' at stage propose for mid_market (by finance)" in found
    assert any(line.endswith("not enforced: champion") for line in found)


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
