"""`salesproc plan`: the plan file's mistakes at their place, the classic capacity
arithmetic reproduced by the simulation with variance turned off, and the optimiser's
answer making the number with the chance asked on fresh seeds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import salesproc
from salesproc.core.errors import InvalidProcessError
from salesproc.core.layout import LAYOUT_VERSION
from salesproc.experiments.plan import Evaluation
from salesproc.experiments.planfile import read_plan_text
from salesproc.process.loader import load
from salesproc.process.model import Process
from tests.conftest import run
from tests.test_result_contract import shape_errors, walk

# Three account executives closing every lead they work (2 working hours each, Mon-Fri
# 9-17), far more leads than they can work: closing capacity is the constraint.
CLOSERS = """\
salesproc: 1
name: Closers
time_unit: hour
calendar: {hours: 09:00-17:00, days: [mon, tue, wed, thu, fri]}
roles:
  ae: {title: Account executive, headcount: 3}
stages:
  - id: close
    name: Close
    owner: ae
    work: WORK
    next: {won: WON}
buyer_types:
  one: {name: One, share: 1, value: VALUE, path: [close]}
arrivals: {rate: RATE, per: hour}
simulation: {start: 2026-01-05, warmup: 24, horizon: 2000}
"""

PLAN = """\
months: 5
target:
  bookings: {2026-02: 200000, 2026-Q2: 1200000}
roles:
  ae:
    hires: {2026-03: 2}
    ramp: {weeks: 4, start: 0.25}
    attrition: 0.9
    backfill: 1
    quota: 100000
"""


def _process(folder: Path, **values: str) -> Process:
    text = CLOSERS
    for key, value in values.items():
        text = text.replace(key, value)
    path = folder / "closers.yaml"
    path.write_text(text, encoding="utf-8")
    return load(path)


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> Process:
    return _process(tmp_path_factory.mktemp("fixed"), WORK="2", WON="1.0", VALUE="1000",
                    RATE="4")


def test_no_variance_reproduces_the_classic_capacity_arithmetic(fixed: Process) -> None:
    plan = read_plan_text(PLAN, fixed)
    done = salesproc.plan(fixed, plan, replications=1, deterministic=True)
    classic = done.classic
    # by hand: February 2026 has 20 working days (160 h): 3 people x 160 h / 2 h a lead x
    # USD 1,000. March has 22 (176 h); the 2 hires join on the 1st and give the first
    # 160 h (4 weeks) at 0.25 rising to 1: 0.25 x 160 + 0.75 x 160 / 2 = 100 full-speed
    # hours, then 16 at full speed: (3 x 176 + 2 x 116) / 2 x 1,000
    assert classic.figure[0] == pytest.approx(3 * 160 / 2 * 1000)
    assert classic.figure[1] == pytest.approx((3 * 176 + 2 * 116) / 2 * 1000)
    assert classic.full_month["ae"] == pytest.approx(
        math.fsum(8 * d for d in (20, 22, 22, 21, 22)) / 5 / 2 * 1000)
    # attrition: 0.9 a year of 5 people passes one leaver in June's first day
    assert [rm.headcount for rm in classic.roles["ae"]] == [3, 5, 5, 5, 4]
    assert set(classic.constraint) == {"ae"}
    simulated = done.evaluation.runs[0]
    for month, (sim, spreadsheet) in enumerate(zip(simulated, classic.figure, strict=True)):
        assert abs(sim / spreadsheet - 1) < 0.01, (plan.labels[month], sim, spreadsheet)


def test_a_bad_plan_file_is_reported_at_its_place(tmp_path: Path, fixed: Process) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.replace("hires:", "hirse:").replace("2026-Q2", "2026-Q3")
                    .replace("  ae:", "  ea:\n    cost: 1\n  ae:"), encoding="utf-8")
    result = run("plan", str(fixed.source), "--target", str(plan))
    assert result.exit_code == 1
    err = result.stderr
    assert f"{plan}:3:31: error SP106 2026-Q3 is not within the plan's months" in err
    assert f"{plan}:5:3: error SP202 unknown role 'ea'" in err and "the roles are: ae" in err
    assert f"{plan}:8:5: error SP102 unknown key 'hirse'" in err
    assert "  hint: did you mean 'hires'?\n" in err  # said once, not wrapped in itself
    assert "Traceback" not in err and f"{plan} has 3 error(s)" in err
    with pytest.raises(InvalidProcessError) as caught:  # the library: every finding, no print
        salesproc.plan(fixed, plan)
    assert sorted(d.code for d in caught.value.diagnostics) == ["SP102", "SP106", "SP202"]


def test_the_optimiser_makes_the_number_with_the_chance_asked(tmp_path: Path) -> None:
    varied = _process(tmp_path, WORK="{exponential: {mean: 8}}", WON="0.5",
                      VALUE="{gamma: {mean: 1000, sd: 500}}", RATE="0.25")
    plan = tmp_path / "plan.yaml"
    plan.write_text("start: 2026-04\nmonths: 3\ntarget: {bookings: {2026-Q2: 130000}}\n"
                    "roles:\n"
                    "  ae: {cost: 120000, max_hires: 2, ramp: {weeks: 2, start: 0.5}}\n",
                    encoding="utf-8")
    result = run("plan", str(varied.source), "--target", str(plan), "--optimise", "-r", "12",
                 "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["layout"] == LAYOUT_VERSION and document["kind"] == "plan"
    assert [e for path, block in walk(document) for e in shape_errors(path, block)] == []
    data = document["optimisation"]
    best = data["answer"]
    assert best is not None and best["chance"] >= 0.8
    # the cheapest: every schedule tried that costs less misses the chance asked
    assert all(p["chance"] < 0.8 for p in data["frontier"] if p["cost"] < best["cost"])
    # and on fresh seeds its chance is not below the one asked (95% Wilson interval)
    assert data["check"]["replications"] == 24 and data["check"]["high"] >= 0.8
    assert "Hire " in data["explanation"]


def test_an_evaluation_counts_the_runs_that_make_the_number(fixed: Process) -> None:
    plan = read_plan_text(PLAN, fixed)
    made = Evaluation({}, 0.0, [[200000, 0, 600000, 600000, 0], [200000, 0, 600000, 599999, 0]])
    assert made.totals(plan) == [1400000, 1399999] and made.chance(plan) == 0.5


def test_sweep_target_says_how_many_make_the_number(fixed: Process) -> None:
    # 24 h warm-up, then 216 h (Tue 6 to Fri 14 Jan: 7 working days of 8 h) measured: one
    # AE closes 56 h / 2 h = 28 deals of USD 1,000 (a deal or so in work at either end),
    # so 2 make about 56,000 and 3 about 84,000: USD 70,000 takes 3
    result = run("sweep", str(fixed.source), "--set", "roles.ae.headcount=1..3",
                 "--target", "bookings=70000", "--horizon", "240h", "-r", "3",
                 "--format", "json")
    assert result.exit_code == 0, result.stderr
    target = json.loads(result.stdout)["target"]
    assert [c["mean"] for c in target["chances"]] == [0.0, 0.0, 1.0]
    assert target["answer"] == {"roles.ae.headcount": "3"}
    text = run("sweep", str(fixed.source), "--set", "roles.ae.headcount=1..3",
               "--target", "bookings=70000", "--horizon", "240h", "-r", "3").stdout
    assert "roles.ae.headcount=3 is the first that makes it in at least 80% of runs" in text
    bad = run("sweep", str(fixed.source), "--set", "roles.ae.headcount=1..3",
              "--target", "revenue=lots")
    assert bad.exit_code == 2 and "bookings=AMOUNT" in bad.stderr


def test_the_page_shows_the_target_chart(tmp_path: Path, fixed: Process) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    page = tmp_path / "plan.html"
    result = run("plan", str(fixed.source), "--target", str(plan), "-r", "1", "--no-variance",
                 "--format", "html", "-o", str(page))
    assert result.exit_code == 0, result.stderr
    text = page.read_text("utf-8")
    assert 'id="chart-plan-target"' in text and "<script" not in text
    # the chart's table holds the months' figures: February's 240,000 by the classic rule
    assert '<td class="n">2026-02</td><td>–</td><td class="n">240,000</td>' in text
    assert "chart-plan-tradeoff" not in text  # no optimisation, no trade-off curve
