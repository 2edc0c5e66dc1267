"""Calibrating and forecasting on messy CRM histories: each mechanism that made a real
export's forecast lose to a run rate, on a generated history whose truth is known
(salesproc.prediction.synthetic)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from salesproc.core.calendar import first_day
from salesproc.core.survival import kaplan_meier
from salesproc.core.units import HOURS
from salesproc.experiments.experiment import resolve_settings, simulate
from salesproc.history.quality import bursts
from salesproc.history.read import read_history
from salesproc.history.table import OUTCOME_WON, History, after_the_fact
from salesproc.prediction.calibration import (
    SUPPORT_SPAN,
    _seasonality,
    calibrate,
    fit_distribution,
    fitted_process,
    stalled,
)
from salesproc.prediction.forecast import (
    BURST_STRATA,
    _burst_under_way,
    _goes_on,
    burst_under_way,
    exit_curves,
    forecast,
)
from salesproc.prediction.rates import level_shift, recent_rate
from salesproc.prediction.synthetic import PRESETS, SyntheticHistory, generate, reading, write
from salesproc.process.loader import load
from salesproc.process.model import WON
from salesproc.sim.engine import Opening
from tests.conftest import ROOT

STEADY = ROOT / "tests" / "cases" / "history" / "steady-five-step.yaml"
START = dt.date(2025, 6, 2)
PER_MONTH = 40


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> tuple[SyntheticHistory, History]:
    """The real export's mess, at 40 process deals a month, read from its Salesforce
    export as a user's would be."""
    truth = generate(STEADY, replace(PRESETS["real"], per_month=PER_MONTH), seed=3,
                     start=START)
    folder = tmp_path_factory.mktemp("real")
    files = write(truth, folder, "salesforce")
    return truth, read_history([str(f) for f in files], reading(truth, "salesforce"),
                               today=truth.end.date())


def test_an_import_burst_and_after_the_fact_wins_stay_out_of_the_arrival_rate(
        real: tuple[SyntheticHistory, History]) -> None:
    truth, history = real
    cal = calibrate(history.at(dt.datetime(2026, 4, 1)), refine=False)
    (rate,) = [f for f in cal.fitted if f.setting == "arrivals.rate"]
    arrivals = truth.process.arrivals
    assert arrivals is not None
    per_week = arrivals.rate * HOURS["week"] / HOURS[truth.process.time_unit]
    assert "week" in rate.what  # the file gives its rate per week
    assert rate.low <= per_week <= rate.high, (rate.low, per_week, rate.high)
    assert any("import burst" in n for n in cal.notes)
    assert any("after the fact" in n for n in cal.notes)


def test_stalled_deals_are_lost_in_the_routes_and_left_out_of_the_stays(
        real: tuple[SyntheticHistory, History]) -> None:
    truth, history = real
    before = history.at(dt.datetime(2026, 4, 1))
    stuck = stalled(before)
    ids = np.array(before.deals.id.to_pylist(), dtype=object)[before.visits.deal[stuck]]
    kinds = {d.id: d.kind for d in truth.deals}
    # the stalled visits are the zombies the generator made, hardly ever a live deal
    assert stuck.sum() >= 10
    zombies = sum(kinds[i] == "zombie" for i in ids)
    assert zombies >= 0.8 * len(ids)
    cal = calibrate(before, refine=False)
    assert any("longer than any deal ever left it" in n for n in cal.notes)


def test_zombies_closed_after_months_do_not_stretch_the_time_to_a_win(
        tmp_path: Path) -> None:
    """Zombie deals sit in a stage and are lost 90 to 240 days later. A process draws one
    stay per visit and then its route, so calibrate fits the stay before a move on (won
    or on), not every visit's: each stage's fitted mean lies within 4 standard errors of
    the true mean stay of the process's deals that moved on there, where the
    Kaplan–Meier mean of every visit (what was fitted before) lies far above it."""
    truth = generate(STEADY, replace(PRESETS["clean"], per_month=PER_MONTH, zombies=0.15,
                                     zombie_lost=1.0), seed=5, start=START)
    files = write(truth, tmp_path, "salesforce")
    history = read_history([str(f) for f in files], reading(truth, "salesforce"),
                           today=truth.end.date())
    cal = calibrate(history, refine=False)
    fitted = {f.setting: f for f in cal.fitted}
    moves: dict[str, list[float]] = {}
    for d in truth.deals:
        if d.kind != "process":
            continue
        ends = [t for _, t in d.stages[1:]] + ([d.closed] if d.outcome == "won" else [])
        for (sid, entered), left in zip(d.stages, ends, strict=False):
            if left is not None:
                moves.setdefault(sid, []).append((left - entered).total_seconds() / 86400)
    days, ended = history.stays
    stretched = 0
    for s, sid in enumerate(truth.process.stages):
        stays = np.asarray(moves[sid])
        f = fitted[f"stages.{sid}.delay"]
        assert abs(f.estimate - stays.mean()) <= 4 * stays.std() / math.sqrt(len(stays)), sid
        here = history.visits.stage == s
        every = kaplan_meier(days[here], ended[here]).restricted_mean()[0]
        stretched += every > stays.mean() + 8 * stays.std() / math.sqrt(len(stays))
    assert stretched >= 2


def test_a_stalled_deal_has_a_smaller_chance_than_a_live_one_in_its_stage(
        real: tuple[SyntheticHistory, History]) -> None:
    """The real export's zombies got the stage's ordinary win share; now the history's
    deals of their age decide: in the final stage, zombies are forecast far fewer wins."""
    truth, history = real
    at = dt.datetime(2026, 4, 1)
    before = history.at(at)
    result = forecast(before, at + dt.timedelta(days=60), replications=30, seed=1)
    kinds = {d.id: d.kind for d in truth.deals}
    chances: dict[str, list[float]] = {"zombie": [], "live": []}
    for d in result.deals:
        if d.stage == "agreement":
            chances["zombie" if kinds[d.id] == "zombie" else "live"].append(d.chance)
    assert chances["zombie"] and chances["live"]
    assert np.mean(chances["zombie"]) < 0.5 * np.mean(chances["live"])


def test_deals_entered_after_the_fact_are_forecast_as_their_own_stream(
        real: tuple[SyntheticHistory, History]) -> None:
    _, history = real
    at = dt.datetime(2026, 4, 1)
    before = history.at(at)
    flagged = after_the_fact(before.deals)
    assert flagged.sum() >= 20
    runs = 40
    result = forecast(before, at + dt.timedelta(days=60), replications=runs, seed=2)
    late = result.totals["won_entered_after_the_fact"]
    rate = recent_rate(before.deals.closed[flagged], before.deals.created.min(),
                       np.datetime64(at, "s"))
    expected = rate.per_day * 60
    # the runs' mean count is Poisson(expected) averaged over the runs
    assert abs(late.mean.mean - expected) < 4 * math.sqrt(expected / runs)
    assert any("after the fact" in n for n in result.notes)
    # 40% of the wins (80% in a quarter's last month) are pulled to the month's end
    assert any(n.startswith("closing bunches at the end of the month") for n in result.notes)


def test_a_fit_the_data_cannot_support_is_not_kept() -> None:
    """Thirty quick exits and two hundred visits open for months: a lognormal fitted by
    censored likelihood may put its mean anywhere; the fit kept is bounded by the data."""
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.lognormal(0.0, 0.5, 30), rng.uniform(150, 200, 200)])
    ended = np.concatenate([np.ones(30, dtype=bool), np.zeros(200, dtype=bool)])
    fit = fit_distribution(values, ended)
    assert math.isfinite(fit.mean)
    assert fit.mean <= SUPPORT_SPAN * values.max()


def test_seasonality_is_fitted_only_where_a_test_supports_it() -> None:
    rng = np.random.default_rng(6)
    start, end = np.datetime64("2024-01-01T00:00:00"), np.datetime64("2026-01-01T00:00:00")
    days = (end - start) / np.timedelta64(1, "D")

    def times(rate: np.ndarray) -> np.ndarray:
        t = rng.uniform(0, days, rng.poisson(3000))
        month = (start + (t * 86400).astype("timedelta64[s]")).astype("datetime64[M]")
        keep = rng.uniform(size=len(t)) < rate[month.astype(np.int64) % 12] / rate.max()
        return np.sort(start + (t[keep] * 86400).astype("timedelta64[s]"))

    trials = 100  # a test at 5%: so many false alarms on flat streams, and power
    alarms = sum(_seasonality(times(np.ones(12)), start, end, [])[0] is not None
                 for _ in range(trials))
    assert alarms <= stats.binom.ppf(0.999, trials, 0.05)
    shaped = np.array([1.3, 1.3, 1.3, 1, 1, 1, 0.6, 0.6, 0.6, 1, 1, 1])
    found, p_shaped = _seasonality(times(shaped), start, end, [])
    assert found is not None and p_shaped < 0.05
    assert found["jan"] > found["aug"]


def test_the_recent_rate_follows_a_level_shift_and_says_so() -> None:
    """Two deals a day for a year, then four a day for 120 days: the recency-weighted
    rate leans on the new level; the plain average does not; the shift is significant."""
    rng = np.random.default_rng(7)
    start = np.datetime64("2025-01-01T00:00:00")

    def poisson(rate: float, begin: float, days: float) -> np.ndarray:
        return start + ((begin + rng.uniform(0, days, rng.poisson(rate * days))) * 86400
                        ).astype("timedelta64[s]")

    t = np.sort(np.concatenate([poisson(2.0, 0, 365), poisson(4.0, 365, 120)]))
    end = start + np.timedelta64(485 * 86400, "s")
    rate = recent_rate(t, start, end)
    plain = len(t) / 485
    assert abs(rate.per_day - 4.0) < abs(plain - 4.0)
    shift = level_shift(t, start, end)
    assert shift is not None and shift[0] > 1.5 and shift[1] < 0.01


def test_a_steady_recent_rate_covers_the_truth() -> None:
    """On a steady Poisson stream the weighted rate's 95% interval holds the true rate:
    checked on 200 streams, the misses are within the binomial 99.9% bound for 5%."""
    rng = np.random.default_rng(8)
    start, end = np.datetime64("2025-01-01T00:00:00"), np.datetime64("2025-12-31T00:00:00")
    misses = 0
    for _ in range(200):
        t = start + (rng.uniform(0, 364, rng.poisson(1.5 * 364)) * 86400).astype(
            "timedelta64[s]")
        r = recent_rate(t, start, end)
        misses += not r.low <= 1.5 <= r.high
    assert misses <= stats.binom.ppf(0.999, 200, 0.05)


def test_an_open_deal_whose_exit_is_decided_leaves_then_for_there() -> None:
    process = load(STEADY)
    settings = resolve_settings(process, horizon=30.0, warmup=0.0, replications=3, seed=1,
                                workers=1)
    quiet = replace(process, arrivals=None)
    opening = [Opening("standard", "agreement", 3.0, 10.0, 1000.0, exits=((5.0, -1),)),
               Opening("standard", "agreement", 3.0, 10.0, 2000.0, exits=((99.0, -1),))]
    result = simulate(quiet, settings, events=True, opening=opening)
    for r in {v.replication for v in result.events or ()}:
        visits = [v for v in result.events or () if v.replication == r]
        first = next(v for v in visits if v.deal == 1)
        assert first.outcome == WON and first.finished == pytest.approx(5.0)
        second = next(v for v in visits if v.deal == 2)
        assert second.outcome == "open"  # 99 days: past the horizon of 30
    assert all(r[("all", "", "won")] == 1 for r in result.replications)


def test_exit_curves_leave_out_deals_entered_after_the_fact(
        real: tuple[SyntheticHistory, History]) -> None:
    _, history = real
    before = history.at(dt.datetime(2026, 4, 1))
    curves = exit_curves(before)
    stage = list(before.process.stages).index("agreement")
    v = before.visits
    late = after_the_fact(before.deals)[v.deal] & (v.stage == stage)
    assert late.sum() >= 10
    shortest = min(float(c.times[0]) for (b, s), c in curves.items()
                   if s == stage and len(c.times))
    assert shortest > 1 / 24  # none of the within-the-hour wins is an exit of the stage
    assert int((before.deals.outcome == OUTCOME_WON).sum()) > 0


@pytest.mark.fresh_runs  # the engine's own runs, not ones handed again
def test_a_forecast_on_two_workers_is_the_forecast_on_one() -> None:
    process = load(ROOT / "processes" / "five-step.yaml")
    folder = ROOT / "examples" / "five-step-salesforce"
    history = read_history([str(folder / "Opportunity.csv"),
                            str(folder / "OpportunityHistory.csv")], process)
    until = history.as_of + dt.timedelta(days=30)
    one = forecast(history, until, replications=6, seed=5, workers=1).to_dict()
    two = forecast(history, until, replications=6, seed=5, workers=2).to_dict()
    assert one == two


def test_more_rejections_than_the_file_says_make_no_new_route(tmp_path: Path) -> None:
    """An approval sends a contract back to the proposal 30% of the time where the file
    says 10%: the excess is the approval's, not a route from contract to proposal."""
    base = ROOT / "tests" / "cases" / "history" / "calibrate.yaml"
    harsher = tmp_path / "harsher.yaml"
    harsher.write_text(base.read_text("utf-8").replace("reject: 0.1,", "reject: 0.3,"),
                       encoding="utf-8")
    truth = generate(load(harsher), seed=9, days=200)
    files = write(truth, tmp_path / "export", "salesforce")
    process = replace(load(base), crm=reading(truth, "salesforce").crm)
    history = read_history([str(f) for f in files], process, today=truth.end.date())
    cal = calibrate(history, refine=False)
    routes = [f for f in cal.fitted if f.setting.endswith("contract.next")]
    assert routes
    for f in routes:
        assert "proposal" not in f.value, f.value
        assert "more went back to proposal" in f.quality


def test_a_forecast_during_a_burst_of_new_deals_lets_it_go_on(
        real: tuple[SyntheticHistory, History]) -> None:
    """The import runs from day 180 for 60 days. A forecast from day 200 says the burst is
    under way and spreads its runs over how long it may go on: ten equally likely
    lengths, the quantiles of P(X > x) = T / (T + x) after T days, so half the runs let
    it go on for less than T days and half for more, each with the burst's deals above
    the usual level, day by day. One from months later does not."""
    truth, history = real
    start = dt.datetime.combine(START, dt.time())
    inside = history.at(start + dt.timedelta(days=200))
    (burst,) = burst_under_way(inside)
    result = forecast(inside, inside.as_of + dt.timedelta(days=30), replications=10, seed=1)
    assert any("burst of new deals is under way" in n and "as long again" in n
               for n in result.notes)
    day = first_day(inside.as_of)
    strata = _goes_on(inside, burst_under_way(inside), day, 90.0)
    assert len(strata) == BURST_STRATA
    per_day = (burst.deals - burst.expected) / ((burst.last - burst.first).days + 1)
    lasted = (day - burst.first).days
    leads = [sum(c.leads for c in s) for s in strata]
    assert leads == sorted(leads)
    assert leads[BURST_STRATA // 2 - 1] <= per_day * lasted + 1 <= leads[BURST_STRATA // 2] + 2
    assert max(leads) <= round(per_day * 90.0)
    for s in strata:
        assert all(day <= c.on < day + dt.timedelta(days=90) for c in s)
    later = history.at(start + dt.timedelta(days=330))
    (ended,) = bursts(later.deals.created, later.as_of)
    # a few days after it stopped, it is still under way but no longer goes on
    quiet = [history.at(dt.datetime.combine(ended.last, dt.time()) + dt.timedelta(days=k))
             for k in range(1, 9)]
    stopped = [q for q in quiet if any("it has stopped for now" in n
                                       for n in _burst_under_way(q, burst_under_way(q)))]
    assert stopped
    assert all(_goes_on(q, burst_under_way(q), first_day(q.as_of), 90.0) == [[]]
               for q in stopped)
    assert not burst_under_way(later)
    assert _goes_on(later, burst_under_way(later), first_day(later.as_of), 90.0) == [[]]
    assert truth.mess.burst is not None


def test_fewer_rejections_than_the_file_says_never_make_routes_above_one(
        tmp_path: Path) -> None:
    """An approval that sends 10% back by the file and hardly any in the history: taking
    its share off first left the others more than all who passed (1.011 in a small
    team's backtest, a process that would not load)."""
    base = ROOT / "tests" / "cases" / "history" / "calibrate.yaml"
    softer = tmp_path / "softer.yaml"
    softer.write_text(base.read_text("utf-8").replace("reject: 0.1,", "reject: 0.001,")
                      .replace("next: {won: 0.85}", "next: {won: 0.99}"), encoding="utf-8")
    truth = generate(load(softer), seed=2, days=150)
    files = write(truth, tmp_path / "export", "salesforce")
    process = replace(load(base), crm=reading(truth, "salesforce").crm)
    history = read_history([str(f) for f in files], process, today=truth.end.date())
    cal = calibrate(history, refine=False)
    for f in cal.fitted:
        if f.setting.endswith(".next"):
            assert math.fsum(f.value.values()) <= 1.0, (f.setting, f.value)
    fitted_process(cal)  # loads: every route adds up to one at most
