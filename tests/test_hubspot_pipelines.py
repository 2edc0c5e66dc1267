"""`salesproc export hubspot`: HubSpot's deal pipelines (the JSON of CRM API v3, GET
/crm/v3/pipelines/deals) from a process, through the CLI."""

from __future__ import annotations

import json
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
