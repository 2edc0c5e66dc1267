"""Check a calibrated process against the history it was fitted to: simulate it over the
history's own period, from the same start, and set each figure of the history beside the
range of the same figure in the runs.

**Like with like.** Each run's event log is made into a history of its own (the visits
built from its changes by the same rule a CRM export's are, deals entered after the fact
left out on both sides), cut at the end of the period so that the visits still open then
are open in it exactly as they are in the history, and every figure is computed from the
history and from each run by one and the same function (:func:`figures`):

- new deals, won deals and lost deals (by the end of the period);
- the win rate: the share of new deals won had every one been followed to its end (the
  deals still open counted as censored: salesproc.prediction.exits, the competing-risks estimate);
- the cycle time of the deals won by the end of the period, and the share of wins whose
  deal first appeared past the start of its buyer type's path;
- per stage: its visits, and the mean days its deals stay before they move on (won or
  on to another stage; calibration.moved_on: the open visits censored, the lost ones a
  competing exit), each stay counted up to one time for both sides (the history's 90th
  percentile of stays there, ended or not);
- per buyer type and stage: the share of its visits leaving for each target but lost
  (lost is the rest), had every visit been followed to its end (``exit_curve(...)
  .shares()``, the open ones censored).

**The range.** A history is one outcome of its process, so it is judged against the
outcome range of the runs, each one history the fitted process could have made: their
spread is the history's sampling error. The simulation's own error — the range rests on
a finite number of runs, not on the process's exact percentiles — is accounted for by
taking the range between order statistics: if the history and the runs come from the same
process, the history lies between the k-th smallest and the k-th largest of R runs with
chance exactly (R + 1 - 2k) / (R + 1), whatever the figure's distribution. k is the
largest with that chance at least 95% (R = 40: the whole range of the runs, 95.1%); with
fewer than 39 runs it is the whole range and its lower chance is said. A figure outside
is a figure the fit (or the process's structure) misses, and each says which setting to
change, and to what the data suggests. The calibration's own estimation error is not in
the range; since the values were fitted to this history it makes the check lenient on
the figures fitted most directly, never strict.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa

from salesproc.core import layout, units
from salesproc.core.dists import Distribution, Exponential, Gamma, Lognormal, Weibull
from salesproc.experiments.results import SimulationResult, Visit
from salesproc.history.table import (
    LOST_CODE,
    NAT,
    OUTCOME_LOST,
    OUTCOME_OPEN,
    OUTCOME_WON,
    UNMAPPED,
    WON_CODE,
    Changes,
    Deals,
    History,
    after_the_fact,
    build,
    exit_targets,
    first_visits,
)
from salesproc.prediction.calibration import (
    Calibration,
    fit_distribution,
    fitted_process,
    moved_on,
    route_values,
    team_time,
    with_mean,
)
from salesproc.prediction.exits import Onward, exit_curve
from salesproc.process.model import LOST, WON, Process

COVERAGE = 0.95  # the least chance the range gives a history of the process itself
REPLICATIONS = 40  # 39 runs or more give a 95% range
STAY_QUANTILE = 0.9  # days in stage are compared by their mean up to this stay of the history


@dataclass(frozen=True)
class Check:
    """One figure: the history's value, the runs' median and range, and where it lies
    outside, the setting that moves it and the value the data suggests."""

    scope: str  # 'all' or a stage id
    figure: str
    history: float
    median: float
    low: float
    high: float
    setting: str = ""  # the `set:` path that moves this figure ('' when none does alone)
    suggested: Any = None  # the value the data suggests for *setting*
    advice: str = ""  # what to change, in words (for a figure outside its range)

    @property
    def outside(self) -> bool:
        return math.isfinite(self.history) and math.isfinite(self.low) and not (
            self.low - 1e-9 <= self.history <= self.high + 1e-9)

    def to_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "figure": self.figure,
                "history": layout.number(self.history),
                "runs": layout.outcome(self.low, self.median, self.high),
                "outside": self.outside,
                "setting": self.setting or None,
                "suggested": self.suggested if self.outside else None,
                "advice": self.advice if self.outside else None}


@dataclass(frozen=True)
class FitCheck:
    """The history's figures beside the fitted process's simulated ranges."""

    checks: list[Check]
    replications: int
    start: dt.date
    days: float
    coverage: float  # the chance a history of the fitted process lies inside a range

    @property
    def outside(self) -> list[Check]:
        return [c for c in self.checks if c.outside]

    @property
    def judged(self) -> list[Check]:
        """The figures with a history value and a range."""
        return [c for c in self.checks if math.isfinite(c.history) and math.isfinite(c.low)]

    @property
    def expected(self) -> float:
        """How many figures a history of the fitted process itself puts outside, on average."""
        return (1.0 - self.coverage) * len(self.judged)

    COLUMNS = ("scope", "figure", "history", "low", "median", "high", "outside", "setting",
               "suggested")

    def rows(self) -> list[list[Any]]:
        """One row per figure checked (COLUMNS): the history's value beside the runs' range
        and median, whether it lies outside, and the setting to change with the value the
        data suggests."""
        return [[c.scope, c.figure, c.history, c.low, c.median, c.high, c.outside,
                 c.setting, c.suggested if c.outside else None] for c in self.checks]

    def to_frame(self) -> Any:
        """The figures checked as a pandas DataFrame (needs pandas)."""
        return layout.frame(self.rows(), self.COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        """The check as data: period, runs, the range's coverage and every figure (with the
        setting and suggested value where it lies outside)."""
        return {**layout.header("fit check"), "start": self.start.isoformat(),
                "days": self.days,
                "replications": self.replications, "coverage": self.coverage,
                "outside": len(self.outside), "judged": len(self.judged),
                "expected_outside": self.expected,
                "checks": [c.to_dict() for c in self.checks]}


def check_fit(history: History, calibration: Calibration, *,
              replications: int = REPLICATIONS, seed: int | None = None,
              workers: int = 1) -> FitCheck:
    """Simulate the calibrated process over the history's period from an empty pipeline
    and compare each figure of the history with the same figure of every run."""
    from salesproc.experiments.experiment import resolve_settings, simulate

    process = fitted_process(calibration, period=True)
    settings = resolve_settings(process, replications=replications, seed=seed,
                                workers=workers)
    result = simulate(process, settings, events=True)
    mine = _since(history, np.datetime64(calibration.since, "s"))
    taus = _restrictions(mine)
    seen = figures(mine, taus)
    runs = [figures(h, taus) for h in simulated_histories(result, history.process)]
    k = order_rank(len(runs))
    coverage = (len(runs) + 1 - 2 * k) / (len(runs) + 1) if k else math.nan
    days = (calibration.until - calibration.since).total_seconds() / 86400
    context = _Context(_without(mine, after_the_fact(mine.deals)), process, calibration, taus,
                       team_time(result), days)
    checks = []
    for key, value in seen.items():
        if not history.has_stages and key not in DEAL_TABLE_FIGURES:
            continue  # a deal table's visits are no stage history: nothing to judge there
        values = np.sort([r[key] for r in runs if key in r and math.isfinite(r[key])])
        if not math.isfinite(value) or (value == 0 and not values.any()):
            continue  # neither side has any: nothing to judge
        if k and len(values) >= len(runs) // 2 + 1:
            low, high = float(values[k - 1]), float(values[-k])
        else:
            low = high = math.nan
        median = float(np.median(values)) if len(values) else math.nan
        checks.append(_advised(Check(key[0], key[1], value, median, low, high), context))
    return FitCheck(checks, len(runs), calibration.since.date(), days, coverage)


#: The figures a deal table (one row per deal, no stage history) has of its own.
DEAL_TABLE_FIGURES = frozenset(("all", f) for f in (
    "new deals", "won deals", "lost deals", "win rate (censored)",
    "cycle time of won deals (days)"))


def order_rank(runs: int) -> int:
    """The k of the range between the k-th smallest and the k-th largest of *runs* values:
    the largest k whose chance of holding one more value of the same distribution,
    (runs + 1 - 2k) / (runs + 1), is at least COVERAGE; 1 (the whole range) with fewer
    runs than that needs, 0 with fewer than two."""
    if runs < 2:
        return 0
    return max(1, math.floor((1.0 - COVERAGE) / 2 * (runs + 1) + 1e-9))


# --- the figures: one function for the history and for every run ---------------------------

Key = tuple[str, str]


def figures(history: History, taus: dict[int, float]) -> dict[Key, float]:
    """Every figure of *history* (deals entered after the fact left out), by (scope,
    figure); days in stage *s* restricted to ``taus[s]`` days."""
    history = _without(history, after_the_fact(history.deals))
    d, v, process = history.deals, history.visits, history.process
    as_of = np.datetime64(history.as_of, "s")
    won, lost = d.outcome == OUTCOME_WON, d.outcome == OUTCOME_LOST
    out: dict[Key, float] = {("all", "new deals"): float(len(d)),
                             ("all", "won deals"): float(won.sum()),
                             ("all", "lost deals"): float(lost.sum())}
    open_ = d.outcome == OUTCOME_OPEN
    end = np.where(open_, as_of, d.closed)
    age = (end - d.created) / np.timedelta64(1, "D")
    code = np.where(won, WON_CODE, LOST_CODE)
    out["all", "win rate (censored)"] = (
        float(exit_curve(age, code, ~open_, (LOST_CODE, WON_CODE)).shares()[1])
        if len(d) else math.nan)
    out["all", "cycle time of won deals (days)"] = float(age[won].mean()) if won.any() \
        else math.nan
    out["all", "share of wins first seen past the start"] = _late_wins(history)
    days, ended = history.stays
    stage_ids = list(process.stages)
    for s, sid in enumerate(stage_ids):
        here = v.stage == s
        out[sid, "visits"] = float(here.sum())
        out[sid, STAY] = moved_on(history, here).mean(taus[s]) if s in taus else math.nan
        seen = here & (v.exit != UNMAPPED)
        for k, (b, buyer) in enumerate(process.buyer_types.items()):
            if sid not in buyer.stages:
                continue
            targets = exit_targets(stage_ids, buyer.path, sid)
            mine = seen & (d.buyer[v.deal] == k)
            if not mine.any():
                continue
            curve = exit_curve(days[mine], v.exit[mine], ended[mine], targets)
            shares = curve.shares() if curve.ended else np.full(len(targets), math.nan)
            for t, share in zip(targets[1:], shares[1:], strict=True):  # lost: the rest
                out[sid, _route_figure(process, b, _name(stage_ids, t))] = float(share)
    return out


STAY = "days before moving on (mean)"


def _name(stage_ids: list[str], code: int) -> str:
    return {LOST_CODE: LOST, WON_CODE: WON}.get(code) or stage_ids[code]


def _route_figure(process: Process, buyer: str, target: str) -> str:
    if len(process.buyer_types) == 1:
        return f"share leaving for {target}"
    return f"share of {buyer} deals leaving for {target}"


def _restrictions(history: History) -> dict[int, float]:
    """The time each stage's mean days are restricted to, on both sides: the history's
    STAY_QUANTILE of its stays there (ended or still open)."""
    history = _without(history, after_the_fact(history.deals))
    days, _ = history.stays
    out = {}
    for s in range(len(history.process.stages)):
        here = days[history.visits.stage == s]
        if len(here):
            out[s] = float(np.quantile(here, STAY_QUANTILE))
    return out


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


# --- the runs as histories -----------------------------------------------------------------


def simulated_histories(result: SimulationResult, process: Process) -> list[History]:
    """Each run of *result* (simulated with its event log) as a history of *process*'s
    stages, as it stood at the end of the run: visits built from the run's changes by
    the rule every CRM reader's are (a rejection back to the stage the deal is in is no
    move), the visits still going on then open."""
    start = dt.datetime.combine(result.process.start, dt.time())
    as_of = start + dt.timedelta(hours=result.process.simulation.horizon
                                 * units.HOURS[result.process.time_unit])
    by_run: dict[int, list[Visit]] = {}
    for visit in result.events or ():
        by_run.setdefault(visit.replication, []).append(visit)
    return [_history(by_run.get(r, []), process, start, as_of, units.HOURS[
        result.process.time_unit]) for r in range(1, len(result.replications) + 1)]


def _history(visits: list[Visit], process: Process, start: dt.datetime, as_of: dt.datetime,
             hours: float) -> History:
    stage_index = {sid: s for s, sid in enumerate(process.stages)}
    buyer_index = {b: k for k, b in enumerate(process.buyer_types)}
    origin = np.datetime64(start, "s")

    def times(t: np.ndarray) -> np.ndarray:
        return origin + np.round(t * hours * 3600.0).astype("timedelta64[s]")

    ids = sorted({v.deal for v in visits})
    number = {deal: k for k, deal in enumerate(ids)}
    deal = np.array([number[v.deal] for v in visits], dtype=np.int64)
    stage = np.array([stage_index[v.stage] for v in visits], dtype=np.int16)
    entered = times(np.array([v.entered for v in visits], dtype=float))
    finished = np.array([v.finished for v in visits], dtype=float)
    won = np.array([v.outcome == WON for v in visits], dtype=bool)
    lost = np.array([v.outcome.startswith(LOST) for v in visits], dtype=bool)
    ends = (won | lost) & np.isfinite(finished)
    n = len(ids)
    created = np.full(n, NAT)
    order = np.argsort(entered, kind="stable")[::-1]
    created[deal[order]] = entered[order]  # each deal's earliest visit
    buyer = np.full(n, -1, dtype=np.int16)
    buyer[deal] = [buyer_index.get(v.buyer_type, -1) for v in visits]
    changes = Changes(np.concatenate([deal, deal[ends]]),
                      np.concatenate([stage, np.where(won[ends], WON_CODE, LOST_CODE)]
                                     ).astype(np.int16),
                      np.concatenate([entered, times(np.nan_to_num(finished[ends]))]))
    blank = pa.array([""] * n, pa.string())
    deals = Deals(id=pa.array([str(i) for i in ids], pa.string()), created=created,
                  closed=np.full(n, NAT), outcome=np.zeros(n, np.int8), value=np.zeros(n),
                  buyer=buyer, reason=blank, currency=blank, probability=np.full(n, np.nan),
                  close_date=np.full(n, NAT), forecast_category=blank, owner=blank,
                  row=np.full(n, -1, np.int64))
    built, deals = build(changes, deals)
    return History(process, deals, built, as_of).at(as_of)


def _since(history: History, since: np.datetime64) -> History:
    """The history of the deals created since *since* only."""
    return _without(history, history.deals.created < since)


def _without(history: History, drop: np.ndarray) -> History:
    """*history* without the deals where *drop* is set (and their visits)."""
    if not drop.any():
        return history
    keep = np.flatnonzero(~drop)
    renumber = np.full(len(history.deals), -1, dtype=np.int64)
    renumber[keep] = np.arange(len(keep))
    v = history.visits
    visits = v.where(renumber[v.deal] >= 0)
    visits = replace(visits, deal=renumber[visits.deal].astype(np.int32))
    return replace(history, deals=history.deals.take(keep), visits=visits)


# --- what to change ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    history: History
    process: Process  # the calibrated process, as simulated
    calibration: Calibration
    taus: dict[int, float]
    team: dict[str, float]  # the team's mean work and waiting per visit of each stage, days
    days: float


def _advised(check: Check, context: _Context) -> Check:
    """*check* with the setting that moves it and, where it lies outside, the value the
    data suggests for that setting and what to do, in words."""
    for matches, advise in _ADVICE:
        if matches(check):
            setting, value, words = advise(check, context)
            return replace(check, setting=setting, suggested=value if check.outside else None,
                           advice=words if check.outside else "")
    return check


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def _arrivals(check: Check, c: _Context) -> tuple[str, Any, str]:
    """New deals: the rate scaled by the history's count over the runs' (so the file's
    seasonality and weekdays stay as they are)."""
    arrivals = c.process.arrivals
    if arrivals is None or not check.outside or check.median <= 0:
        return ("arrivals.rate" if arrivals is not None else ""), None, ""
    rate = arrivals.rate * units.convert(1.0, arrivals.per, c.process.time_unit)
    value = float(f"{rate * check.history / check.median:.4g}")
    seasons = " (or, if the months are what is off, arrivals.seasonality: its multipliers " \
        "decide how many deals this period's months get)" \
        if any(m != 1.0 for m in arrivals.months) else ""
    return ("arrivals.rate", value,
            f"the history has {_num(check.history)} new deals in {c.days:,.0f} days; the "
            f"calibrated process about {_num(check.median)} at its rate of {_num(rate)} per "
            f"{arrivals.per}: set arrivals.rate to about {_num(value)} per "
            f"{arrivals.per}{seasons}")


def _stay(check: Check, c: _Context) -> tuple[str, Any, str]:
    """A stage's days: the delay whose mean is the history's stays there before a move on
    (fitted as calibrate fits them: calibration.moved_on, not restricted) less the
    team's mean work and waiting at the stage in the runs."""
    sid = check.scope
    setting = f"stages.{sid}.delay"
    if not check.outside:
        return setting, None, ""
    s = list(c.process.stages).index(sid)
    unit = c.process.time_unit
    to_days = units.convert(1.0, unit, "day")
    delay = c.process.stages[sid].delay
    on = moved_on(c.history, c.history.visits.stage == s)
    stay = _mean_stay(on)
    team = c.team.get(sid, 0.0)
    better = max(stay - team, 0.0)
    value = _delay_with_mean(setting, delay, units.convert(better, "day", unit), c)
    in_unit = "" if unit == "day" else f" (in the file's {unit}s)"
    team_words = f" and the team's work and waiting there {_num(team)} days" \
        if team >= 0.01 else ""
    return (setting, value,
            f"the history's deals stay {_num(stay)} days at {sid} before they move on (the "
            f"{on.n:,} visits that did, the open ones counted as still going); the file's "
            f"delay there averages {_num(delay.mean * to_days)} days{team_words}: set "
            f"{setting} to about {_num(better)} days on average: {_flow(value)}{in_unit} "
            f"(compared up to {_num(c.taus.get(s, math.nan))} days, the history's "
            f"{_num(check.history)} against the calibrated process's {_num(check.median)})")


def _mean_stay(on: Onward) -> float:
    """The mean stay before a move on as calibrate fits it (the best family's mean); the
    estimate's own mean where no family can be fitted (too few moves, or all alike)."""
    if on.n >= 2:
        try:
            return fit_distribution(on.sample(), np.ones(on.n, dtype=bool)).mean
        except (RuntimeError, ValueError):  # scipy's FitError is a RuntimeError
            pass
    return on.mean()


def _delay_with_mean(setting: str, delay: Distribution, mean: float, c: _Context) -> Any:
    """The delay's file form with its mean moved to *mean* (in the file's time unit): the
    calibrated value's form where it was fitted, else the file's family with its spread;
    a family given otherwise than by its mean becomes a fixed time."""
    fitted = next((f for f in c.calibration.fitted if f.setting == setting), None)
    if fitted is not None:
        return with_mean(fitted.value, mean)
    rounded = float(f"{mean:.4g}")
    if isinstance(delay, Exponential):
        return {"exponential": {"mean": rounded}}
    if isinstance(delay, Lognormal | Gamma | Weibull):
        return {type(delay).__name__.lower(): {"mean": rounded,
                                               "sd": float(f"{delay.sd:.4g}")}}
    return {"fixed": rounded}


def _route(check: Check, c: _Context) -> tuple[str, Any, str]:
    sid = check.scope
    process, history = c.process, c.history
    single = len(process.buyer_types) == 1
    for k, (b, buyer) in enumerate(process.buyer_types.items()):
        if not check.figure.startswith(_route_figure(process, b, "")) or \
                sid not in buyer.stages:
            continue
        setting = f"stages.{sid}.next" if single else f"buyer_types.{b}.stages.{sid}.next"
        if not check.outside:
            return setting, None, ""
        stage_ids = list(process.stages)
        targets = exit_targets(stage_ids, buyer.path, sid)
        v = history.visits
        days, ended = history.stays
        mine = (v.stage == stage_ids.index(sid)) & (v.exit != UNMAPPED) & (
            history.deals.buyer[v.deal] == k)
        curve = exit_curve(days[mine], v.exit[mine], ended[mine], targets)
        shares = curve.shares()
        names = [_name(stage_ids, t) for t in targets]
        fitted = route_values(setting, b, buyer, sid, names, shares, shares * curve.ended,
                               shares, curve.ended)
        target = check.figure.removeprefix(_route_figure(process, b, ""))
        who = f"{b} deals" if not single else "deals"
        return (setting, fitted.value,
                f"the history's {who} leave {sid} for {target} {check.history:.0%} of the "
                f"time (had every visit been followed to its end; {curve.ended:,} ended); "
                f"the calibrated process's {check.median:.0%}: set {setting} to about "
                f"{_flow(fitted.value)}")
    return "", None, ""


def _flow(value: Any) -> str:
    from salesproc.prediction.calibration import flow

    return flow(value)


def _follows(what: str) -> Callable[[Check, _Context], tuple[str, Any, str]]:
    def advise(check: Check, c: _Context) -> tuple[str, Any, str]:
        return "", None, (f"the history has {_num(check.history)}, the calibrated process "
                          f"about {_num(check.median)}; no one setting moves it: it follows "
                          f"from {what}")
    return advise


def _entries(check: Check, c: _Context) -> tuple[str, Any, str]:
    return ("buyer_types.*.enter", None,
            f"{check.history:.0%} of the history's wins came from deals first seen past the "
            f"start of their path, the calibrated process's {check.median:.0%}: set each "
            "buyer type's enter (buyer_types.<id>.enter) to where its new deals first appear "
            "(calibrate writes it when the data holds 30 deals of the type)")


_ADVICE: tuple[tuple[Callable[[Check], bool], Callable[[Check, _Context],
                                                       tuple[str, Any, str]]], ...] = (
    (lambda c: c.figure == "new deals", _arrivals),
    (lambda c: c.figure == STAY, _stay),
    (lambda c: " leaving for " in c.figure, _route),
    (lambda c: c.figure == "share of wins first seen past the start", _entries),
    (lambda c: c.figure == "visits", lambda c, x: _follows(
        f"the routes into {c.scope} and the arrivals")(c, x)),
    (lambda c: c.figure == "cycle time of won deals (days)",
     _follows("the stages' delays (see each stage's days before moving on)")),
    (lambda c: c.scope == "all", _follows("the arrivals and the routes (see each stage's "
                                          "shares)")),
)
