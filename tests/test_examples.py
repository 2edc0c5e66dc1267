"""The example processes are valid, warning-free, and say what the issue asks of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from salesproc import check, load
from salesproc.process import analysis
from tests.conftest import PROCESSES, ROOT, run


@pytest.mark.parametrize("path", PROCESSES, ids=lambda p: p.stem)
def test_example_is_clean(path: Path) -> None:
    result = check(path)
    assert result.diagnostics == []
    assert result.process is not None


@pytest.mark.parametrize("path", PROCESSES, ids=lambda p: p.stem)
def test_example_has_schema_modeline(path: Path) -> None:
    first = path.read_text("utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/process.schema.json"


def test_validate_processes_folder_exits_0() -> None:
    result = run("validate", str(ROOT / "processes"))
    assert result.exit_code == 0
    assert f"{len(PROCESSES)} files checked: no problems found" in result.output


def test_five_step_has_the_mission_stages_and_three_buyer_types(five_step: Path) -> None:
    process = load(five_step)
    assert list(process.stages) == ["inquiry", "call", "demo", "proposal", "agreement"]
    assert set(process.buyer_types) == {"single_decision_maker", "standard", "committee"}
    committee = process.buyer_types["committee"].stages["proposal"]
    departments = {process.roles[a.role].department for a in committee.approvals}
    assert {"Legal", "Security", "Finance"} <= departments
    assert any("procurement" in a.name.lower() for a in committee.approvals)


def test_enterprise_example_has_a_rework_loop() -> None:
    process = load(ROOT / "processes" / "enterprise-meddpicc.yaml")
    buyer = process.buyer_types["enterprise"]
    visits = analysis.expected_visits(buyer)
    # technical validation sends 20% back to solution design: more than one visit per entry
    entering = visits["qualify"] * 0.5
    assert visits["solution_design"] > entering
