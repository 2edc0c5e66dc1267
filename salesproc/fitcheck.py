"""Check a calibrated process against the history it was fitted to: simulate it over the
history's own period, from the same start, and set each measured figure beside the
range the simulation gives.

The history is one outcome, so it is judged against the *outcome range* of the
replications (their 2.5th to 97.5th percentile), not the confidence interval of their
mean: a well-fitted process puts about 95% of the history's figures inside, and a
figure outside is where the fit (or the model's structure) misses.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from salesproc import units
from salesproc.calibration import Calibration, fitted_process
from salesproc.history.table import OUTCOME_WON, History, first_visits
from salesproc.measurement import DAYS_PER_MONTH, measure
from salesproc.model import LOST, WON
from salesproc.sim.metrics import Key
from salesproc.sim.results import SimulationResult
from salesproc.stats import outcome_range

RANGE = (2.5, 97.5)  # percentiles of the replications: the 95% outcome range
REPLICATIONS = 40


@dataclass(frozen=True)
class Check:
    """One figure: what the history measured, and the simulation's median and range."""

    scope: str  # 'all' or a stage id
    figure: str
    history: float
    median: float
    low: float
    high: float

    @property
    def outside(self) -> bool:
        return math.isfinite(self.history) and math.isfinite(self.low) and not (
            self.low - 1e-9 <= self.history <= self.high + 1e-9)


@dataclass(frozen=True)
class FitCheck:
    """The history's figures beside the fitted process's simulated ranges."""

    checks: list[Check]
    replications: int
    start: dt.date
    days: float

    @property
    def outside(self) -> list[Check]:
        return [c for c in self.checks if c.outside]


def check_fit(history: History, calibration: Calibration, *,
              replications: int = REPLICATIONS, seed: int | None = None,
              workers: int = 1) -> FitCheck:
    """Simulate the calibrated process over the history's period and compare."""
    from salesproc.sim.experiment import resolve_settings, simulate

    process = fitted_process(calibration, period=True)
    settings = resolve_settings(process, replications=replications, seed=seed,
                                workers=workers)
    result = simulate(process, settings, events=True)
    since = np.datetime64(calibration.since, "s")
    measured = measure(_since(history, since), simulate_file=False)
    days = (calibration.until - calibration.since).total_seconds() / 86400
    to_days = units.convert(1.0, process.time_unit, "day")
    runs = result.replications

    def sim(key: Key, scale: float = 1.0) -> list[float]:
        return [r.get(key, math.nan) * scale for r in runs]

    o = measured.overall
    checks = [
        _check("all", "new deals", o.deals, sim(Key("all", "", "leads"))),
        _check("all", "won deals", o.won, sim(Key("all", "", "won"))),
        _check("all", "lost deals", o.lost, sim(Key("all", "", "lost"))),
        _check("all", "lead-to-win rate", o.lead_to_win.mean,
               sim(Key("all", "", "lead_to_win"))),
        _check("all", "cycle time of won deals (days)", o.cycle[0],
               sim(Key("all", "", "cycle_mean"), to_days)),
        _check("all", "won deals a month", o.won / (days / DAYS_PER_MONTH),
               sim(Key("all", "", "throughput_month"))),
    ]
    checks.append(_check("all", "share of wins first seen past the start",
                         _late_wins(_since(history, since)), _simulated_late_wins(result)))
    moves = {(m.source, m.target): m for m in o.moves}
    for t in o.times:
        if not t.visits:
            continue
        visits = sim(Key("stage", t.stage, "visits"))
        lost = sim(Key("stage", t.stage, "lost"))
        move = moves.get((t.stage, LOST))
        ended = sum(m.deals for (s, _), m in moves.items() if s == t.stage)
        checks += [
            _check(t.stage, "visits", t.visits, visits),
            _check(t.stage, "share moving on", 1 - (move.deals if move else 0) / ended
                   if ended else math.nan,
                   [1 - lo / v if v else math.nan for lo, v in zip(lost, visits, strict=True)]),
            _check(t.stage, "days in stage (mean)", t.mean.mean,
                   sim(Key("stage", t.stage, "time"), to_days)),
        ]
    return FitCheck(checks, replications, calibration.since.date(), days)


def _late_wins(history: History) -> float:
    """The share of the won deals whose first visit was past the start of their buyer
    type's path (deals that entered mid-process)."""
    v, d, process = history.visits, history.deals, history.process
    first = first_visits(v)
    kinds = list(process.buyer_types.values())
    starts = np.array([list(process.stages).index(k.start) for k in kinds] + [0])
    deal = v.deal[first]
    late = v.stage[first] != starts[d.buyer[deal]]
    won = d.outcome[deal] == OUTCOME_WON
    return float(late[won].mean()) if won.any() else math.nan


def _simulated_late_wins(result: SimulationResult) -> list[float]:
    """The same share in each simulated run, from its event log."""
    starts = {b: k.start for b, k in result.process.buyer_types.items()}
    first: dict[tuple[int, int], tuple[float, bool]] = {}
    won: dict[int, set[int]] = {}
    for visit in result.events or ():
        key = (visit.replication, visit.deal)
        late = visit.stage != starts[visit.buyer_type]
        if key not in first or visit.entered < first[key][0]:
            first[key] = (visit.entered, late)
        if visit.outcome == WON:
            won.setdefault(visit.replication, set()).add(visit.deal)
    shares = []
    for replication, deals in sorted(won.items()):
        shares.append(sum(first[(replication, deal)][1] for deal in deals) / len(deals))
    return shares


def _check(scope: str, figure: str, history: float, runs: list[float]) -> Check:
    low, median, high = outcome_range([r for r in runs if math.isfinite(r)],
                                      (RANGE[0], 50.0, RANGE[1]))
    return Check(scope, figure, float(history), median, low, high)


def _since(history: History, since: np.datetime64) -> History:
    """The history of the deals created since *since* only."""
    from dataclasses import replace

    keep = np.flatnonzero(history.deals.created >= since)
    renumber = np.full(len(history.deals), -1, dtype=np.int64)
    renumber[keep] = np.arange(len(keep))
    v = history.visits
    mine = renumber[v.deal] >= 0
    visits = v.where(mine)
    visits = replace(visits, deal=renumber[visits.deal].astype(np.int32))
    return replace(history, deals=history.deals.take(keep), visits=visits)
