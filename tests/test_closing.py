"""When in the month deals close (salesproc.prediction.closing), against what theory says, and the
forecast placing its wins so."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from scipy import stats

from salesproc.core.stats import proportion
from salesproc.core.units import HOURS
from salesproc.experiments.results import Visit
from salesproc.prediction.closing import MIN_WINS, Bunching, MonthEnd, month_end, place
from salesproc.prediction.forecast import _placed
from salesproc.process.loader import load
from salesproc.sim.metrics import Key
from tests.conftest import ROOT

START = np.datetime64("2025-01-01T00:00:00")
YEAR = 365 * 86400


ALWAYS = MonthEnd(Bunching(MIN_WINS, proportion(MIN_WINS, MIN_WINS), 0.0, 0.0),
                  Bunching(MIN_WINS, proportion(MIN_WINS, MIN_WINS), 0.0, 0.0))


def _wins(n: int, rng: np.random.Generator, held: float, quarter_held: float) -> np.ndarray:
    """*n* wins spread evenly over 2025, a share of each month's held back to a time drawn
    evenly over its last DAYS days (where that is later), as closing.place does."""
    assert ALWAYS.held(1) == ALWAYS.held(3) == 1.0
    out = []
    for s in rng.uniform(0, YEAR, n):
        when = (START + np.timedelta64(int(s), "s")).astype(dt.datetime)
        share = quarter_held if when.month % 3 == 0 else held
        u = 0.0 if rng.random() < share else 1.0  # below ALWAYS's share of 1: moved
        out.append(place(when, ALWAYS, u, float(rng.random())))
    return np.array(out, dtype="datetime64[s]")


def test_wins_spread_evenly_are_seldom_read_as_bunched() -> None:
    """100 histories of 200 evenly spread wins: the test's false alarms, in either kind of
    month, are within the 99.9% binomial range of its 5% rate."""
    rng = np.random.default_rng(7)
    found = [month_end(_wins(200, rng, 0.0, 0.0)) for _ in range(100)]
    for kind in ("other", "quarter"):
        alarms = sum(getattr(f, kind).held > 0 for f in found)
        assert alarms <= stats.binom.ppf(0.999, 100, 0.05), kind


def test_the_share_held_back_is_recovered() -> None:
    """4,000 wins, 30% of the other months' and 70% of a quarter's last month's held back
    to the last days: each share recovered within 4 standard errors."""
    rng = np.random.default_rng(3)
    found = month_end(_wins(4000, rng, 0.3, 0.7))
    for b, truth in ((found.other, 0.3), (found.quarter, 0.7)):
        s = b.share.mean
        se = math.sqrt(s * (1 - s) / b.wins) / (1 - b.even)
        assert abs(b.held - truth) <= 4 * se, (b.held, truth)
        assert 3 / 31 <= b.even <= 3 / 28  # the last 3 of a month's 28 to 31 days
    assert found.held(12) == found.quarter.held and found.held(11) == found.other.held
    assert "closing bunches at the end of the month" in found.note()


def test_a_win_is_never_placed_earlier_nor_in_another_month() -> None:
    pattern = month_end(_wins(2000, np.random.default_rng(1), 1.0, 1.0))
    assert pattern.other.held > 0.9
    rng = np.random.default_rng(2)
    for s in rng.uniform(0, YEAR, 500):
        when = (START + np.timedelta64(int(s), "s")).astype(dt.datetime)
        moved = place(when, pattern, float(rng.random()), float(rng.random()))
        assert moved >= when
        assert (moved.year, moved.month) == (when.year, when.month)


def test_a_forecast_takes_the_wins_placed_past_its_end_out_of_its_figures() -> None:
    """Every win held back to the month's last days (a share of 1): wins simulated on the
    10th of a month fall after a forecast that ends on the 25th, and leave its wins and
    revenue, in total, that month and that quarter; the others stay."""
    process = load(ROOT / "tests" / "cases" / "history" / "steady-five-step.yaml")
    start = process.start
    zero = dt.datetime.combine(start, dt.time())
    tenth = dt.datetime(start.year, start.month, 10) + dt.timedelta(days=40)
    tenth = tenth.replace(day=10)
    until = tenth.replace(day=25)
    hours = (tenth - zero).total_seconds() / 3600
    unit = HOURS[process.time_unit]
    month = f"{tenth:%Y-%m}"
    quarter = f"{tenth.year}-Q{(tenth.month - 1) // 3 + 1}"
    run = {Key(scope, label, name): v for scope, label in (("all", ""), ("month", month),
                                                          ("quarter", quarter))
           for name, v in (("won", 3.0), ("revenue", 600.0))}
    events = [Visit(1, k, "standard", "agreement", 0.0, 0.0, hours / unit, "won", "ae", 100.0)
              for k in (1, 2)] + [Visit(1, 3, "standard", "agreement", 0.0, 0.0, hours / unit,
                                        "lost: no", "ae", 400.0)]
    kept = _placed(events, [run], process, until, ALWAYS, seed=1)
    assert [v.deal for v in kept] == [3]
    for scope, label in (("all", ""), ("month", month), ("quarter", quarter)):
        assert run[Key(scope, label, "won")] == 1.0
        assert run[Key(scope, label, "revenue")] == 400.0
