"""Working time and dates: the clock arithmetic, and the simulator on a business calendar
against theory (tolerances: 4 standard errors of the replication mean)."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from salesproc.core.calendar import (
    Calendar,
    WorkingClock,
    business_days,
    first_day,
    month_label,
    months,
    parse_hours,
)
from salesproc.experiments.experiment import simulate
from salesproc.process.model import Settings
from tests.test_sim_theory import close, process

MONDAY = dt.date(2026, 1, 5)
WEEKDAYS_9_TO_5 = Calendar(parse_hours("09:00-17:00"), frozenset(range(5)))


def test_work_continues_in_the_next_working_hours() -> None:
    clock = WorkingClock(WEEKDAYS_9_TO_5, MONDAY)
    friday_1630 = 4 * 24 + 16.5
    assert clock.finish(friday_1630, 1.0) == 7 * 24 + 9.5  # Monday 9:30
    assert clock.finish(4 * 24 + 16, 1.0) == 4 * 24 + 17  # ends at 17:00 sharp, not Monday
    assert clock.finish(5 * 24 + 3, 2.0) == 7 * 24 + 11  # begun on Saturday: Monday 11:00
    assert clock.worked(7 * 24) == 40.0  # a working week


def test_holidays_and_breaks_are_not_working_time() -> None:
    calendar = Calendar(parse_hours("9-12, 13-17"), frozenset(range(5)),
                        frozenset({dt.date(2026, 1, 6)}))
    clock = WorkingClock(calendar, MONDAY)
    assert clock.finish(11.5, 1.0) == 13.5  # lunch from 12 to 13
    assert clock.finish(16.0, 2.0) == 2 * 24 + 10  # Tuesday is a holiday


def test_business_days_skip_weekends_and_holidays() -> None:
    clock = WorkingClock(business_days(WEEKDAYS_9_TO_5), MONDAY)
    assert clock.finish(4 * 24 + 10, 24.0) == 7 * 24 + 10  # Friday 10:00 + 1 -> Monday 10:00
    assert clock.finish(10.0, 3 * 24.0) == 3 * 24 + 10


def test_months_are_calendar_months() -> None:
    found = months(dt.date(2026, 1, 20), 24 * 45)
    assert [m.label for m in found] == ["2026-01", "2026-02", "2026-03"]
    assert found[0].begin == 0 and found[0].end == 12 * 24  # the 20th to the 1st


def test_a_run_from_a_time_of_day_starts_at_the_nearest_midnight() -> None:
    """From 23:59 on 30 April a run starts on 1 May, and its months begin with May; from
    08:00 it starts on 30 April. A month label is the month of time 0 plus the hours."""
    late = first_day(dt.datetime(2026, 4, 30, 23, 59))
    assert late == dt.date(2026, 5, 1)
    assert months(late, 24 * 40)[0].label == "2026-05" and month_label(late, 1.0) == "2026-05"
    early = first_day(dt.datetime(2026, 4, 30, 8))
    assert early == dt.date(2026, 4, 30) and months(early, 48)[0].label == "2026-04"
    assert [month_label(early, h) for h in (23.9, 24.0)] == ["2026-04", "2026-05"]
    assert first_day(dt.datetime(2026, 4, 30)) == dt.date(2026, 4, 30)  # midnight: no shift


def one_server(calendar: str, rate: float, extra: str = "") -> str:
    return f"""
salesproc: 1
name: One server
time_unit: hour
{calendar}
roles: {{r: {{title: R, headcount: 1}}}}
stages:
  - {{id: s, name: S, owner: r, work: {{exponential: {{mean: 1}}}}, next: {{won: 1}}}}
buyer_types: {{b: {{name: B, share: 1, value: 1}}}}
arrivals: {{rate: {rate}, per: day}}
simulation: {{start: 2026-01-05}}
{extra}"""


RUN = Settings(horizon=24 * 400, warmup=24 * 20, replications=12, seed=4, workers=1)


def test_a_server_working_8_of_24_hours_is_three_times_as_busy() -> None:
    """Utilization is offered work over the working time present: λ·E[work] / (8/24)."""
    always = simulate(process(one_server("calendar: always", 2.4)), RUN)
    business = simulate(process(one_server(
        "calendar: {hours: 09:00-17:00, days: [mon, tue, wed, thu, fri, sat, sun]}", 2.4)),
        RUN)
    rho = 2.4 / 24 * 1.0
    assert close(always["role", "r", "utilization"], rho)
    assert close(business["role", "r", "utilization"], 3 * rho)


def test_a_friday_afternoon_call_finishes_on_monday_morning() -> None:
    text = one_server("calendar: {hours: 09:00-17:00}", 0, """
""").replace("arrivals: {rate: 0, per: day}",
             "arrivals: {rate: 0, campaigns: [{at: 112.5, leads: 1}]}").replace(
        "work: {exponential: {mean: 1}}", "work: 1h")
    result = simulate(process(text), Settings(horizon=24 * 14, warmup=0, replications=1,
                                              seed=1), events=True)
    assert result.events is not None
    (visit,) = result.events
    assert (visit.entered, visit.started, visit.finished) == (112.5, 112.5, 177.5)


def test_always_gives_the_results_of_the_plain_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The general path (a working clock that happens to run always) against the fast one."""
    from salesproc.core.calendar import Calendar as Cal

    proc = process(one_server("calendar: always", 12.0))
    plain = simulate(proc, RUN)
    monkeypatch.setattr(Cal, "always", property(lambda self: False))
    general = simulate(proc, RUN)
    for key, estimate in plain.summary.items():
        other = general.summary[key]
        assert other.mean == pytest.approx(estimate.mean, rel=1e-9, abs=1e-9, nan_ok=True), key


def test_seasonality_shifts_monthly_arrivals_by_its_factor() -> None:
    text = one_server("calendar: always", 24.0).replace(
        "arrivals: {rate: 24.0, per: day}",
        "arrivals: {rate: 24.0, per: day, seasonality: {months: {jan: 1.5, feb: 0.5}}}")
    text = text.replace("headcount: 1", "headcount: 50").replace("start: 2026-01-05",
                                                                 "start: 2026-01-01")
    result = simulate(process(text), Settings(horizon=24 * 59, warmup=0, replications=10,
                                              seed=2, workers=1))
    assert close(result["month", "2026-01", "leads"], 24 * 31 * 1.5)
    assert close(result["month", "2026-02", "leads"], 24 * 28 * 0.5)


def test_a_ramping_hire_works_as_the_integral_of_their_speed() -> None:
    """A hire joins on day 1 at 30% of full speed, rising to 100% over 4 weeks, with more
    work waiting than they can do: completions are a Poisson process whose rate follows
    their speed, so their mean count over the ramp is ∫ speed / mean work."""
    proc = process("""
salesproc: 1
name: Ramp
roles: {r: {title: R, headcount: {2026-01-05: 0, 2026-01-06: 1}, ramp: {weeks: 4, start: 0.3}}}
stages:
  - {id: s, name: S, owner: r, work: {exponential: {mean: 0.5}}, next: {won: 1}}
buyer_types: {b: {name: B, share: 1, value: 1}}
arrivals: {rate: 0, campaigns: [{at: 0, leads: 2000}]}
simulation: {start: 2026-01-05}
""")
    result = simulate(proc, Settings(horizon=1 + 28, warmup=0, replications=40, seed=3,
                                     workers=1))
    speed_integral = 28 * (0.3 + 1.0) / 2
    assert close(result["stage", "s", "visits"], speed_integral / 0.5)
    assert not close(result["stage", "s", "visits"], 28 / 0.5)  # not at full speed


def test_a_ramp_works_out_its_length_once_not_at_every_work_start(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The ramp's length in working hours comes from the role's calendar when the run is
    set up; the hot path (each piece of work a ramping role starts) does not ask again."""
    proc = process("""
salesproc: 1
name: Ramp on a calendar
calendar: {hours: 09:00-17:00}
roles: {r: {title: R, headcount: {2026-01-05: 0, 2026-01-06: 3}, ramp: {weeks: 4, start: 0.3}}}
stages:
  - {id: s, name: S, owner: r, work: 1h, next: {won: 1}}
buyer_types: {b: {name: B, share: 1, value: 1}}
arrivals: {rate: 10}
simulation: {start: 2026-01-05}
""")
    asked: list[Calendar] = []
    weekly = Calendar.hours_per_week

    def counted(calendar: Calendar) -> float:
        asked.append(calendar)
        return weekly.fget(calendar)  # type: ignore[attr-defined, no-any-return]

    monkeypatch.setattr(Calendar, "hours_per_week", property(counted))
    result = simulate(proc, Settings(horizon=40, warmup=0, replications=1, seed=3))
    starts = result["stage", "s", "visits"].mean
    assert starts > 200
    assert len(asked) < starts / 10  # the clock's set-up asks, a work start does not


def test_utilization_counts_the_people_actually_there() -> None:
    """Two people from the start, four from day 50: the load over the mean headcount."""
    proc = process("""
salesproc: 1
name: Hires
roles: {r: {title: R, headcount: {2026-01-05: 2, 2026-02-24: 4}}}
stages:
  - {id: s, name: S, owner: r, work: {exponential: {mean: 0.5}}, next: {won: 1}}
buyer_types: {b: {name: B, share: 1, value: 1}}
arrivals: {rate: 2}
simulation: {start: 2026-01-05}
""")
    result = simulate(proc, Settings(horizon=100, warmup=0, replications=12, seed=5,
                                     workers=1))
    mean_people = (2 * 50 + 4 * 50) / 100
    assert close(result["role", "r", "utilization"], 2 * 0.5 / mean_people)
    assert math.isclose(proc.roles["r"].mean_headcount(100), mean_people)


def test_simulate_reports_months_and_quarters_in_every_format(tmp_path: object) -> None:
    import csv
    import json

    from tests.conftest import ROOT, run

    five = str(ROOT / "processes" / "five-step.yaml")
    text = run("simulate", five, "-r", "2", "--no-hires").output
    assert "From Mon 2026-01-05; the team works Mon-Fri 9:00-17:00, 5 holidays" in text
    assert "By month" in text and "2026-03 (part)" in text and "2026-12 " in text
    assert "By quarter" in text and "2026-Q1 (part)" in text
    data = json.loads(run("simulate", five, "-r", "2", "--no-hires", "--format", "json").output)
    assert data["process"]["start"] == "2026-01-05"
    assert set(data["months"]) == {f"2026-{m:02d}" for m in range(3, 13)}
    april = data["months"]["2026-04"]
    assert april["measured"]["mean"] == 1.0 and april["won"]["n"] == 2
    assert sum(m["won"]["mean"] for m in data["months"].values()) == pytest.approx(
        data["overall"]["won"]["mean"])  # every win falls in one month
    assert set(data["quarters"]) == {"2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"}
    rows = list(csv.DictReader(run("simulate", five, "-r", "2", "--no-hires", "--format", "csv")
                               .output.splitlines()))
    assert {r["subject"] for r in rows if r["scope"] == "month"} == set(data["months"])


def test_the_starter_works_business_hours_from_the_coming_monday() -> None:
    from salesproc import check_text
    from salesproc.process import starter

    text = starter.render("x", today=dt.date(2026, 11, 28))  # a Saturday
    assert "start: 2026-11-30" in text and "hours: 09:00-17:00" in text
    result = check_text(text)
    assert result.diagnostics == [] and result.process is not None
    assert result.process.calendar.hours_per_week == 40


def test_always_says_the_24_hour_clock_is_meant() -> None:
    from salesproc import check_text

    text = one_server("", 2.4)
    assert [d.code for d in check_text(text).diagnostics] == ["SP502"]  # work in hours
    assert check_text(one_server("calendar: always", 2.4)).diagnostics == []


def test_work_too_long_for_any_process_is_refused_as_a_number_too() -> None:
    """Found by the mutation test: the schema let approval work run to 10^12 days."""
    from salesproc import check_text

    text = one_server("calendar: {hours: 09:00-17:00}", 2.4).replace(
        "work: {exponential: {mean: 1}}", "work: 2657737")
    (diag,) = check_text(text).diagnostics
    assert diag.code == "SP106" and "'2,657,737' is longer than any time" in diag.message


def test_work_that_cannot_end_within_the_run_never_ends_and_costs_nothing() -> None:
    """A job longer than the run on a business calendar: no days are laid out beyond the
    run (the clock once walked to the year 9999 and overflowed)."""
    text = one_server("calendar: {hours: 09:00-17:00}", 0).replace(
        "arrivals: {rate: 0, per: day}", "arrivals: {rate: 0, campaigns: [{at: 1, leads: 1}]}"
    ).replace("work: {exponential: {mean: 1}}", "work: 900000")
    result = simulate(process(text), Settings(horizon=24 * 30, warmup=0, replications=1,
                                              seed=1))
    assert result["all", "won"].mean == 0 and result["all", "open"].mean == 1
    assert result["role", "r", "utilization"].mean == pytest.approx(1.0)  # busy all along
