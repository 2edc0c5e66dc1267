"""Waiting for the working day is not waiting for busy people, and the bottleneck is the
role where one more person helps: the newcomer's two teams, through the command line.

A team whose leads arrive around the clock while its SDRs work Mon-Fri 9-17 has leads
waiting every night and weekend whoever is free; at 19% busy it must not be told to hire
SDRs. The same team with five times the SDR work (95% busy) must be, and one more SDR
must shorten the cycle by a paired interval that excludes zero.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from salesproc import check_text
from salesproc.experiments.experiment import simulate
from salesproc.process import analysis
from salesproc.process.model import Settings
from tests.conftest import run

# 12 leads a day around the clock; 3 SDRs qualify each (exponential work, in working
# days of 8 hours), half go on to a demo with one of 4 AEs five days later
TEAM = """\
salesproc: 1
name: Night leads
calendar: {{hours: 09:00-17:00, days: [mon, tue, wed, thu, fri]}}
roles:
  sdr: {{title: SDR, headcount: 3}}
  ae: {{title: AE, headcount: 4}}
stages:
  - {{id: inquiry, name: Inquiry, owner: sdr, work: {{exponential: {{mean: {work}}}}},
     next: {{demo: 0.5}}}}
  - {{id: demo, name: Demo, owner: ae, delay: 5, work: {{exponential: {{mean: 0.1}}}},
     next: {{won: 0.5}}}}
buyer_types: {{b: {{name: B, share: 1, value: 1000}}}}
arrivals: {{rate: 12, per: day}}
simulation: {{horizon: 120, warmup: 20, replications: 5, seed: 4}}
"""
# 84 leads a week x W working days x 8 h over 3 x 40 working hours: 19% and 95% busy
NIGHT_WORK, BUSY_WORK = 0.0339, 0.1696


def team(tmp_path_factory: pytest.TempPathFactory, name: str, work: float) -> Path:
    path = tmp_path_factory.mktemp(name) / f"{name}.yaml"
    path.write_text(TEAM.format(work=work), "utf-8")
    return path


def simulated(path: Path, *extra: str) -> dict[str, Any]:
    result = run("simulate", str(path), "-w", "1", "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return simulated(team(tmp_path_factory, "night", NIGHT_WORK))


@pytest.fixture(scope="module")
def busy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return team(tmp_path_factory, "busy", BUSY_WORK)


@pytest.fixture(scope="module")
def busy(busy_file: Path) -> dict[str, Any]:
    return simulated(busy_file)


def hire(data: dict[str, Any], role: str) -> dict[str, Any]:
    (found,) = [h for h in data["hires"] if h["role"] == role]
    return found


def test_the_teams_are_as_busy_as_the_story_says() -> None:
    for work, busy in ((NIGHT_WORK, 0.19), (BUSY_WORK, 0.95)):
        checked = check_text(TEAM.format(work=work))
        assert checked.process is not None, checked.diagnostics
        assert analysis.utilization(checked.process)["sdr"] == pytest.approx(busy, abs=0.005)


def test_a_night_team_waits_for_the_morning_and_is_not_told_to_hire(
        night: dict[str, Any]) -> None:
    inquiry, sdr = night["stages"]["inquiry"], night["roles"]["sdr"]
    assert sdr["utilization"]["high"] < 0.25  # as idle as the story says (19% offered)
    # most of a lead's wait is for the working day, not for a busy SDR: it is reported
    # apart, and the wait for people alone no longer makes the SDRs look short-handed
    assert inquiry["after_hours"]["low"] > 5 * inquiry["queue"]["high"]
    assert night["waiting"]["working_day"]["low"] > 5 * night["waiting"]["people"]["high"]
    # one more SDR was tried on the same deals: no material gain, so no advice to hire
    sdr_hire = hire(night, "sdr")
    assert sdr_hire["headcount"] == 3 and not sdr_hire["helps"]
    assert night["bottleneck"] is None or night["bottleneck"]["role"] != "sdr"


def test_a_team_at_95_percent_is_told_to_hire_and_the_hire_shortens_the_cycle(
        busy: dict[str, Any]) -> None:
    assert busy["roles"]["sdr"]["utilization"]["low"] > 0.85
    neck = busy["bottleneck"]
    assert neck is not None and neck["role"] == "sdr" and neck["stage"] == "inquiry"
    change = neck["hire"]["cycle_change"]  # one more SDR - as is, pair by pair
    # the paired interval excludes zero (and the 1% of the cycle that is not material)
    assert change["high"] < -0.01 * busy["overall"]["cycle_mean"]["mean"]
    assert neck["hire"]["helps"] and neck["wait"]["role"] == "sdr"


def test_the_table_says_where_to_hire_and_without_the_check_that_it_did_not(
        busy_file: Path) -> None:
    short = ("-r", "2", "--horizon", "60", "--warmup", "10", "-w", "1")
    unchecked = run("simulate", str(busy_file), *short, "--no-hires")
    assert unchecked.exit_code == 0, unchecked.output
    lines = {line.split()[0]: line for line in unchecked.output.splitlines()
             if line.startswith("  ") and line.split()}
    assert "for the working day (nights, weekends, holidays)" in lines["Waiting"]
    assert lines["Bottleneck"].split(None, 1)[1] == \
        "not checked (one more person per role was not simulated)"


def test_a_wait_over_the_weekend_is_split_exactly() -> None:
    """Two leads at 18:00 on a Friday, one SDR, an hour's work each: the first waits for
    Monday 9:00 (2.625 days, all of it for the working day), the second also for the
    first lead's hour on Monday (an hour for the busy person)."""
    checked = check_text("""\
salesproc: 1
name: Friday evening
calendar: {hours: 09:00-17:00, days: [mon, tue, wed, thu, fri]}
roles: {sdr: {title: SDR, headcount: 1}}
stages:
  - {id: inquiry, name: Inquiry, owner: sdr, work: 1h, next: {won: 1}}
buyer_types: {b: {name: B, share: 1, value: 1}}
arrivals: {rate: 0, campaigns: [{at: 4.75, leads: 2}]}
""")
    assert checked.process is not None, checked.diagnostics
    result = simulate(checked.process, Settings(horizon=14, warmup=0, replications=1, seed=1,
                                                workers=1))
    hour = 1 / 24
    assert result["stage", "inquiry", "after_hours"].mean == pytest.approx(2.625)
    assert result["stage", "inquiry", "queue"].mean == pytest.approx(hour / 2)
    assert result["stage", "inquiry", "work"].mean == pytest.approx(hour)
    assert result["role", "sdr", "queue_days"].mean == pytest.approx(hour)
    assert result["waiting", "", "working_day"].mean == pytest.approx(2 * 2.625)
    assert result["all", "cycle_mean"].mean == pytest.approx(2.625 + 1.5 * hour)



def test_the_page_card_says_where_to_hire_with_the_evidence(busy: dict[str, Any],
                                                            night: dict[str, Any]) -> None:
    from salesproc.report.html import _neck_text

    change = busy["bottleneck"]["hire"]["cycle_change"]
    assert _neck_text(busy, busy["bottleneck"]).endswith(
        f"at Inquiry; one more: cycle time {change['mean']:,.1f} days "
        f"[{change['low']:,.1f}, {change['high']:,.1f}], same deals: hire there")
    assert night["bottleneck"] is None  # (one more AE: a consistent but immaterial gain)
    assert _neck_text(night, None) == "one more person measurably helps in no role"
