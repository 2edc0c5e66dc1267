"""`salesproc export hubspot` and `import hubspot`: HubSpot's deal pipelines (the JSON of
CRM API v3, GET /crm/v3/pipelines/deals) from a process and back, through the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from salesproc.process import analysis
from salesproc.process.loader import load
from tests.conftest import CASES, PROCESSES, ROOT, run

FIXTURES = sorted((CASES / "hubspot").glob("*.json"))
#: What HubSpot adds to what it returns: its bookkeeping, which a process does not hold.
BOOKKEEPING = {"createdAt", "updatedAt", "archived", "archivedAt", "writePermissions"}


def without_bookkeeping(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_bookkeeping(v) for k, v in value.items() if k not in BOOKKEEPING}
    if isinstance(value, list):
        return [without_bookkeeping(v) for v in value]
    return value


def exported(process: Path, tmp_path: Path, name: str = "out.json") -> dict[str, Any]:
    target = tmp_path / name
    result = run("export", "hubspot", str(process), "-o", str(target))
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(target.read_text("utf-8"))
    return document


def imported(pipelines: Path, tmp_path: Path, name: str = "process.yaml") -> Path:
    target = tmp_path / name
    result = run("import", "hubspot", str(pipelines), "-o", str(target))
    assert result.exit_code == 0, result.output
    return target


# ------------------------------------------------------------------ the model's chances


def test_win_chances_by_hand_and_from_the_start() -> None:
    """five-step's single decision-maker: agreement 0.9 won; call 0.5 on to agreement;
    inquiry 0.7 on to call. From the first stage the chance is the closed form's win
    probability (another formula: the traffic equations)."""
    process = load(ROOT / "processes" / "five-step.yaml")
    chances = analysis.win_chances(process.buyer_types["single_decision_maker"])
    assert chances == pytest.approx({"agreement": 0.9, "call": 0.45, "inquiry": 0.315})
    for buyer in process.buyer_types.values():
        assert analysis.win_chances(buyer)[buyer.start] == \
            pytest.approx(analysis.win_probability(buyer))


# ------------------------------------------------------------------ export


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.stem)
def test_export_has_hubspots_shape_and_the_models_chances(process: Path,
                                                          tmp_path: Path) -> None:
    """One pipeline per buyer type: its path's stages, then Closed Won and Closed Lost,
    numbered in order; metadata as HubSpot writes it (strings), each open stage's
    probability the model's chance to win from it, to HubSpot's tenth."""
    document = exported(process, tmp_path)
    model = load(process)
    assert list(document) == ["results"]
    pipelines = document["results"]
    assert len(pipelines) == len(model.buyer_types)
    for k, (pipeline, buyer) in enumerate(zip(pipelines, model.buyer_types.values(),
                                              strict=True)):
        assert set(pipeline) == {"id", "label", "displayOrder", "stages"}
        assert pipeline["displayOrder"] == k
        stages = pipeline["stages"]
        assert [s["id"] for s in stages] == [*buyer.path, "closedwon", "closedlost"]
        assert [s["displayOrder"] for s in stages] == list(range(len(stages)))
        chances = analysis.win_chances(buyer)
        for stage in stages:
            assert set(stage) == {"id", "label", "displayOrder", "metadata"}
            closed, probability = stage["metadata"]["isClosed"], stage["metadata"]["probability"]
            assert set(stage["metadata"]) == {"isClosed", "probability"}
            assert isinstance(probability, str) and len(probability) == 3  # "0.4"
            if stage["id"] in chances:
                assert closed == "false"
                assert stage["label"] == buyer.stages[stage["id"]].name
                assert abs(float(probability) - chances[stage["id"]]) <= 0.05 + 1e-9
            else:
                assert closed == "true"
                assert float(probability) == (stage["id"] == "closedwon")


def test_export_writes_to_the_terminal_and_never_over_its_input(tmp_path: Path) -> None:
    process = ROOT / "processes" / "inside-sales.yaml"
    shown = run("export", "hubspot", str(process))
    assert shown.exit_code == 0
    assert json.loads(shown.stdout) == exported(process, tmp_path)
    refused = run("export", "hubspot", str(process), "-o", str(process))
    assert refused.exit_code == 2 and "is an input of this command" in refused.output


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("pipelines", FIXTURES, ids=lambda p: p.stem)
def test_import_then_export_gives_the_same_pipelines(pipelines: Path, tmp_path: Path) -> None:
    """Hand-written pipelines, as HubSpot's API returns them: imported, then exported,
    they are the same JSON but for HubSpot's bookkeeping (timestamps, archived,
    permissions), which the import says it does not keep."""
    process = imported(pipelines, tmp_path)
    assert run("validate", str(process)).exit_code == 0
    original = json.loads(pipelines.read_text("utf-8"))
    assert exported(process, tmp_path) == without_bookkeeping(original)
    said = run("import", "hubspot", str(pipelines)).stderr
    assert "bookkeeping is not part of the process" in said and "createdAt" in said


def test_imported_routes_give_hubspots_probabilities(tmp_path: Path) -> None:
    """The routes are set so that the model's chance to win from each stage is the
    probability HubSpot has for it, in each pipeline (a buyer type each)."""
    pipelines = CASES / "hubspot" / "two-pipelines.json"
    model = load(imported(pipelines, tmp_path))
    original = json.loads(pipelines.read_text("utf-8"))["results"]
    assert [b.name for b in model.buyer_types.values()] == [p["label"] for p in original]
    for buyer, pipeline in zip(model.buyer_types.values(), original, strict=True):
        open_stages = [s for s in pipeline["stages"] if s["metadata"]["isClosed"] == "false"]
        assert [buyer.stages[s].name for s in buyer.path] == [s["label"] for s in open_stages]
        chances = analysis.win_chances(buyer)
        assert [chances[s] for s in buyer.path] == pytest.approx(
            [float(s["metadata"]["probability"]) for s in open_stages], abs=1e-3)
    lost = [n for n, t in model.crm.stages.items() if t == "lost"]
    assert sorted(lost) == ["churned", "closed lost", "disqualified"]


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.stem)
def test_export_then_import_keeps_what_hubspot_holds(process: Path, tmp_path: Path) -> None:
    """Exported and imported, a process has its stages (ids, names), its buyer types
    (ids, names, paths) and chances to win from each stage within HubSpot's tenth; and
    exported again it gives the same pipelines."""
    first = exported(process, tmp_path)
    back = load(imported(tmp_path / "out.json", tmp_path))
    model = load(process)
    used = [s for s in model.stages if any(s in b.path for b in model.buyer_types.values())]
    assert list(back.stages) == used
    assert {s: back.stages[s].name for s in back.stages} == \
        {s: model.stages[s].name for s in used}
    assert {b: (bt.name, bt.path) for b, bt in back.buyer_types.items()} == \
        {b: (bt.name, bt.path) for b, bt in model.buyer_types.items()}
    for bid, buyer in model.buyer_types.items():
        theirs, ours = analysis.win_chances(buyer), analysis.win_chances(back.buyer_types[bid])
        assert all(math.isclose(ours[s], theirs[s], abs_tol=0.05 + 1e-3) for s in buyer.path)
    assert exported(tmp_path / "process.yaml", tmp_path, "again.json") == first


# ------------------------------------------------------------------ bad input


def stage(label: str = "Demo", probability: Any = "0.5", closed: Any = "false",
          **more: Any) -> dict[str, Any]:
    return {"id": "".join(c for c in label.lower() if c.isalnum()), "label": label,
            "displayOrder": 0, "metadata": {"isClosed": closed, "probability": probability}, **more}


def pipelines_of(*stages: dict[str, Any]) -> str:
    return json.dumps({"results": [{"id": "default", "label": "Sales", "displayOrder": 0,
                                    "stages": list(stages)}]})


@pytest.mark.parametrize(("text", "said"), [
    ("{\"results\": [", "not valid JSON"),
    ("\u00ff\u00fe".encode("latin-1").decode("latin-1"), "not valid JSON"),
    ("[\"Sales\"]", "results[0]: expected an object, found text"),
    ("{\"results\": []}", "expected {\"results\": [pipeline, ...]}"),
    (pipelines_of(stage(probability="20")), "results[0].stages[0].metadata.probability: "
     "\"20\" is not a probability from 0.0 to 1.0"),
    (pipelines_of(stage(probability="NaN")), "metadata.probability"),
    (pipelines_of(stage(probability=True)), "metadata.probability"),
    (pipelines_of(stage(probability="-0.1")), "metadata.probability"),
    (pipelines_of(stage(closed="maybe")), "metadata.isClosed"),
    (pipelines_of({"id": "x", "label": "Done", "displayOrder": 0,
                   "metadata": {"ticketState": "OPEN"}}),
     "results[0].stages[0].metadata: a deal stage needs metadata with its probability"),
    (pipelines_of(stage("\x1b[31mDemo")), "results[0].stages[0].label: \\x1b[31mDemo holds a "
     "control character (\\x1b)"),
    (pipelines_of(stage("Demo\u202e")), "holds a control character (\\u202e)"),
    (pipelines_of(stage(), stage()), "the stage id demo is there twice"),
    (pipelines_of(stage("Won", "1.0", "true")), "every stage is closed"),
    (pipelines_of({**stage(), "displayOrder": -1}), "stages[0].displayOrder"),
    (pipelines_of({**stage(), "label": ""}), "stages[0].label: expected text, found empty"),
])
def test_bad_pipelines_are_a_located_error(text: str, said: str, tmp_path: Path) -> None:
    source = tmp_path / "pipelines.json"
    source.write_text(text, "utf-8")
    target = tmp_path / "process.yaml"
    result = run("import", "hubspot", str(source), "-o", str(target))
    assert result.exit_code == 1, result.output
    assert said in result.stderr and "Traceback" not in result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert not target.exists()


def test_import_keeps_an_existing_file_unless_forced(tmp_path: Path) -> None:
    pipelines = CASES / "hubspot" / "default-pipeline.json"
    target = tmp_path / "process.yaml"
    target.write_text("mine\n", "utf-8")
    kept = run("import", "hubspot", str(pipelines), "-o", str(target))
    assert kept.exit_code == 1 and "already exists; nothing was written" in kept.stderr
    assert target.read_text("utf-8") == "mine\n"
    forced = run("import", "hubspot", str(pipelines), "-o", str(target), "--force")
    assert forced.exit_code == 0 and target.read_text("utf-8").startswith("# Imported")
    onto = run("import", "hubspot", str(pipelines), "-o", str(pipelines), "--force")
    assert onto.exit_code == 2 and "is an input of this command" in onto.output


def test_archived_stages_and_odd_probabilities_are_reported(tmp_path: Path) -> None:
    source = tmp_path / "pipelines.json"
    source.write_text(pipelines_of(stage("Intro", "0.25"), stage("Old", "0.3", archived=True),
                                   stage("Won", "1.0", "true")), "utf-8")
    result = run("import", "hubspot", str(source), "-o", str(tmp_path / "p.yaml"))
    assert result.exit_code == 0, result.output
    assert "results[0].stages[1] (Old): archived in HubSpot; left out" in result.stderr
    assert "probability 0.25 is not in HubSpot's tenths: export hubspot writes 0.3" \
        in result.stderr


def test_measure_reads_a_hubspot_export_with_the_imported_process(tmp_path: Path) -> None:
    """The imported crm: section maps HubSpot's deals export (its Deal Stage and Date
    entered columns, labels with the pipeline added) with nothing written by hand."""
    process = imported(CASES / "hubspot" / "default-pipeline.json", tmp_path)
    export = ROOT / "examples" / "hubspot-first-export" / "deals.csv"
    result = run("measure", str(export), "--process", str(process), "--format", "json")
    assert result.exit_code == 0, result.output
    measured = json.loads(result.stdout)["overall"]
    assert "SP804" not in result.stderr and "SP850" not in result.stderr  # every stage mapped
    entered = {row["stage"] for row in measured["pipeline"]}
    assert {"appointment_scheduled", "presentation_scheduled"} <= entered


KEPT = """\
salesproc: 1
name: Kept
roles: {rep: {title: Rep, headcount: 1}}
stages:
  - {id: demo, name: Demo, owner: rep, next: {won: 0.4}}
buyer_types: {standard: {name: Standard, share: 1, value: 100}}
crm:
  hubspot:
    - {id: default, label: Sales, buyer_type: BUYER,
       stages: {"1": Demo, "2": LABEL, closedwon: Closed Won}}
"""


def test_kept_pipelines_are_checked(tmp_path: Path) -> None:
    """crm: hubspot: names a buyer type that exists (SP204), and export hubspot places each
    label on the process or says which it cannot."""
    wrong_buyer = tmp_path / "buyer.yaml"
    wrong_buyer.write_text(KEPT.replace("BUYER", "standrd").replace("LABEL", "Demo 2"))
    checked = run("validate", str(wrong_buyer))
    assert checked.exit_code == 1 and "SP204" in checked.output and "standard" in checked.output
    unmapped = tmp_path / "label.yaml"
    unmapped.write_text(KEPT.replace("BUYER", "standard").replace("LABEL", "Trial"))
    result = run("export", "hubspot", str(unmapped))
    assert result.exit_code == 1
    assert "crm: hubspot: Sales: Trial: the label maps onto no stage" in result.stderr
    mapped = tmp_path / "mapped.yaml"
    mapped.write_text(KEPT.replace("BUYER", "standard").replace("LABEL", "Closed Lost"))
    stages = json.loads(run("export", "hubspot", str(mapped)).stdout)["results"][0]["stages"]
    assert [(s["id"], s["metadata"]["probability"]) for s in stages] == \
        [("1", "0.4"), ("2", "0.0"), ("closedwon", "1.0")]
