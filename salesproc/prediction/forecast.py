"""Forecast from today's pipeline: start the simulation from the deals open at the as-of
date (each in its stage, with its value, buyer type and age there), add the new deals
the arrival model brings, and report what may happen by a date.

Two kinds of interval, never confused: the **outcome range** — worst, neutral and best
case, the 10th, 50th and 90th percentile of the replications: what may actually happen —
and the **confidence interval of the mean** over replications: how sure the average is.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeGuard

import numpy as np

from salesproc.core import layout, units
from salesproc.core.calendar import first_day, month_label, quarter_of
from salesproc.core.defaults import MAX_CAMPAIGN_LEADS, MAX_FORECAST_DAYS
from salesproc.core.diagnostics import shown
from salesproc.core.errors import SettingsError
from salesproc.core.layout import number
from salesproc.core.stats import CASES, Estimate, outcome_range
from salesproc.history.table import (
    DEAL_TABLE_CUT,
    OPEN,
    OUTCOME_WON,
    History,
    after_the_fact,
    exit_targets,
)
from salesproc.prediction.closing import MonthEnd, month_end, place
from salesproc.prediction.exits import ExitCurve, exit_curve
from salesproc.prediction.uncertainty import DRAWS, draws, gamma_draw
from salesproc.prediction.uncertainty import drawn as drawn_values
from salesproc.process.model import WON, Process, Settings
from salesproc.sim.engine import Opening
from salesproc.sim.metrics import Key

if TYPE_CHECKING:
    import pandas

    from salesproc.history.quality import Burst
    from salesproc.prediction.backtest import TrackRecord

REPLICATIONS = 200
Stays = dict[tuple[str, str], np.ndarray]  # (buyer type, stage) -> simulated stays, days


@dataclass(frozen=True)
class Outcome:
    """One figure's worst, neutral and best case (the CASES percentiles of the runs), and
    its mean with the 95% confidence interval of that mean."""

    worst: float
    neutral: float
    best: float
    mean: Estimate

    @classmethod
    def of(cls, values: list[float], floor: float | None = 0.0,
           cases: tuple[float, float, float] = CASES) -> Outcome:
        """The outcome of the runs' *values* (a difference may be negative: floor None)."""
        data = [v for v in values if math.isfinite(v)]
        return cls(*outcome_range(data, cases), Estimate.of(data, floor=floor))

    def to_dict(self) -> dict[str, Any]:
        """A simulated figure's JSON form (the mean's estimate and the outcome range)."""
        return layout.figure(self.mean, (self.worst, self.neutral, self.best))


@dataclass(frozen=True)
class DealChance:
    """An open deal's chance to be won by the end of the period, the revenue it is
    expected to bring in it (the mean over the runs of its value when won, nothing when
    not), its most likely close month, and what the CRM itself says of it."""

    id: str
    buyer_type: str
    stage: str
    value: float
    chance: float
    expected_revenue: float
    month: str  # the month it is most often won in, '' when it rarely is
    crm_probability: float
    forecast_category: str


@dataclass
class Forecast:
    """What may happen between the as-of date and *until*."""

    process: Process
    as_of: dt.datetime
    until: dt.datetime
    replications: int
    totals: dict[str, Outcome]
    months: list[tuple[str, dict[str, Outcome]]]
    deals: list[DealChance]
    crm: dict[str, float]
    notes: list[str] = field(default_factory=list)
    campaigns: list[tuple[str, dict[str, Outcome]]] = field(default_factory=list)
    cases: tuple[float, float, float] = CASES
    quarters: list[tuple[str, dict[str, Outcome]]] = field(default_factory=list)
    track_record: TrackRecord | None = None  # its past, from a saved backtest
    runs: list[dict[str, float]] = field(default_factory=list)  # each run's totals

    COLUMNS = ("section", "period", "figure", "mean", "low", "high", "n", "worst",
               "neutral", "best")
    DEAL_COLUMNS = ("deal", "buyer_type", "stage", "value", "chance", "expected_revenue",
                    "month",
                    "crm_probability", "forecast_category")

    def rows(self) -> list[list[Any]]:
        """One row per figure (COLUMNS): the totals, each month, each quarter and what the
        campaigns add, each figure's mean with its 95% interval and its outcome range."""
        sections = [("total", [("", self.totals)]), ("month", self.months),
                    ("quarter", self.quarters), ("campaigns_add", self.campaigns)]
        return [[section, period, name, o.mean.mean, o.mean.low, o.mean.high, o.mean.n,
                 o.worst, o.neutral, o.best]
                for section, periods in sections for period, figures in periods
                for name, o in figures.items()]

    def to_frame(self) -> pandas.DataFrame:
        """The figures as a pandas DataFrame, one row each (needs pandas)."""
        return layout.frame(self.rows(), self.COLUMNS)

    def deal_rows(self) -> list[list[Any]]:
        """One row per open deal (DEAL_COLUMNS): its chance to be won in the period, its
        most likely month, and the CRM's probability and forecast category."""
        return [[d.id, d.buyer_type, d.stage, d.value, d.chance, d.expected_revenue, d.month,
                 d.crm_probability, d.forecast_category] for d in self.deals]

    def deals_frame(self) -> pandas.DataFrame:
        """The open deals as a pandas DataFrame (the CSV's rows; needs pandas)."""
        return layout.frame(self.deal_rows(), self.DEAL_COLUMNS)

    def runs_frame(self) -> pandas.DataFrame:
        """Each run's totals, one row per run (what the ranges are made of; needs pandas)."""
        names = list(self.totals)
        return layout.frame(([k, *(r.get(n, math.nan) for n in names)]
                             for k, r in enumerate(self.runs)), ["run", *names])

    def to_dict(self) -> dict[str, Any]:
        """The JSON layout of `salesproc forecast --format json`."""
        return {
            **layout.header("forecast"),
            "process": {"name": self.process.name, "file": self.process.source,
                        "currency": self.process.currency,
                        "names": self.process.names()},
            "as_of": self.as_of.isoformat(), "until": self.until.isoformat(),
            "replications": self.replications,
            "cases": {"worst": f"p{self.cases[0]:g}", "neutral": f"p{self.cases[1]:g}",
                      "best": f"p{self.cases[2]:g}"},
            "interval": "worst/neutral/best: percentiles of the runs (what may happen); "
                        "low/high: 95% confidence interval of the mean",
            "totals": {k: o.to_dict() for k, o in self.totals.items()},
            "months": {label: {k: o.to_dict() for k, o in figures.items()}
                       for label, figures in self.months},
            "quarters": {label: {k: o.to_dict() for k, o in figures.items()}
                         for label, figures in self.quarters},
            "deals": [{**d.__dict__, "value": number(d.value),
                       "expected_revenue": number(d.expected_revenue),
                       "crm_probability": number(d.crm_probability)} for d in self.deals],
            "crm": {k: number(v) for k, v in self.crm.items()},
            "campaigns_add": {label: {k: o.to_dict() for k, o in figures.items()}
                              for label, figures in self.campaigns},
            "notes": self.notes,
            **({} if self.track_record is None
               else {"track_record": self.track_record.to_dict()}),
        }


MIN_CURVE = 20  # ended visits behind a buyer type's own exit curve (else: the stage's)
MIN_DECIDED = 5  # ended visits of a stage for its open deals to go as the history says


def exit_curves(history: History) -> dict[tuple[int, int], ExitCurve]:
    """(buyer type, stage) -> how the history's visits there ended, by age (days), for
    every stage on every buyer type's path: its own visits where it has MIN_CURVE ended
    ones, else every visit of the stage. Exits go to won, lost, or a stage on its path;
    deals entered after the fact are left out (their one visit is no stay at all)."""
    process, v, d = history.process, history.visits, history.deals
    days, ended = history.stays
    usable = ~after_the_fact(d)[v.deal]
    stage_ids = list(process.stages)
    single = len(process.buyer_types) == 1
    out: dict[tuple[int, int], ExitCurve] = {}
    for b, buyer in enumerate(process.buyer_types.values()):
        for sid in buyer.path:
            s = stage_ids.index(sid)
            targets = exit_targets(stage_ids, buyer.path, sid)
            here = usable & (v.stage == s)
            mine = here if single else here & (d.buyer[v.deal] == b)
            if int((mine & ended & np.isin(v.exit, targets)).sum()) < MIN_CURVE:
                mine = here
            if mine.any():
                out[(b, s)] = exit_curve(days[mine], v.exit[mine], ended[mine], targets)
    return out


def known_fields(history: History) -> Callable[[int], tuple[tuple[str, float | str], ...]]:
    """Each deal's own field values that the export gives (crm: fields:), by the deal's
    index: a number as read, a category as the reader names it (a category the process
    does not declare is kept as the export has it, so no condition naming the declared
    ones holds for it). An unknown value is left out, for the simulation to draw."""
    declared = set(history.process.fields)
    columns: list[tuple[str, list[Any]]] = [
        (fid, [float(x) if math.isfinite(x) else None for x in col]
         if isinstance(col, np.ndarray) else [t or None for t in col.to_pylist()])
        for fid, col in history.deals.fields.items() if fid in declared]

    def of(deal: int) -> tuple[tuple[str, float | str], ...]:
        return tuple((fid, values[deal]) for fid, values in columns
                     if values[deal] is not None)

    return of


def openings(history: History, team: Mapping[str, float] | None = None,
             stays: Stays | None = None,
             curves: Mapping[tuple[int, int], ExitCurve] | None = None
             ) -> tuple[list[Opening], list[int], list[str]]:
    """The deals open at the history's as-of date as the engine's starting pipeline, the
    deals' rows, and notes on what was assumed.

    Where the history has seen MIN_DECIDED visits to a deal's stage end (*curves*), the
    deal leaves it as the history's deals *of its age there* did: when, and for where
    (exits.ExitCurve.given_age), so a deal stalled for months is not taken for a fresh
    one. Otherwise a deal of age *a* still has a stay T - a, T drawn from the stays the
    process gives that stage (*stays*: by buyer type and stage, in days, simulated)
    among those longer than *a*; the team's mean time there (*team*) is taken off, since
    the deal still goes through the team's work and approvals. Without *stays*, the
    stage's delay is drawn given the age less the team's time."""
    process, d, v = history.process, history.deals, history.visits
    unit = process.time_unit
    days, _ = history.stays
    as_of = np.datetime64(history.as_of, "s")
    kinds = list(process.buyer_types)
    out: list[Opening] = []
    rows: list[int] = []
    notes: list[str] = []
    guessed = off = decided = 0
    to_unit = units.convert(1.0, "day", unit)
    own_fields = known_fields(history)
    for i in np.flatnonzero(v.exit == OPEN):
        deal = int(v.deal[i])
        b = int(d.buyer[deal])
        if b < 0:
            b, guessed = 0, guessed + 1
        buyer = process.buyer_types[kinds[b]]
        sid = list(process.stages)[int(v.stage[i])]
        if sid not in buyer.stages:
            off += 1
            continue
        value = float(d.value[deal])
        if not math.isfinite(value):
            value = buyer.value.mean
        since = (as_of - d.created[deal]) / np.timedelta64(1, "D")
        own = (team or {}).get(sid, 0.0)
        waited = max(0.0, float(days[i]) - own)
        curve = (curves or {}).get((b, int(v.stage[i])))
        if _decides(curve):
            decided += 1
            exits = tuple((w * to_unit, to) for w, to in curve.given_age(float(days[i]),
                                                                          STAY_SAMPLE))
            out.append(Opening(kinds[b], sid, float(days[i]) * to_unit,
                               float(since) * to_unit, value, exits=exits,
                               fields=own_fields(deal)))
        else:
            out.append(Opening(kinds[b], sid, units.convert(waited, "day", unit),
                               units.convert(float(since), "day", unit), value,
                               _remaining(stays, kinds[b], sid, float(days[i]), own, unit),
                               fields=own_fields(deal)))
        rows.append(deal)
    if decided < len(out):
        notes.append(f"{len(out) - decided:,} of {len(out):,} open deals sit in stages whose "
                     f"visits the history has seen end fewer than {MIN_DECIDED} times: they "
                     "go as the process says")
    if guessed:
        notes.append(f"{guessed:,} open deals have no buyer type: forecast as {kinds[0]}")
    if off:
        notes.append(f"{off:,} open deals sit in a stage off their buyer type's path: left out")
    return out, rows, notes


BURST_RECENT_DAYS = 7  # a burst that ended this close to the as-of date may go on


def burst_under_way(history: History) -> list[Burst]:
    """The import bursts (history.quality.bursts) still going on at the history's as-of
    date: their last day within BURST_RECENT_DAYS of it."""
    from salesproc.history.quality import bursts

    day = history.as_of.date()
    return [b for b in bursts(history.deals.created, history.as_of)
            if (day - b.last).days <= BURST_RECENT_DAYS]


def _burst_under_way(history: History, under: Sequence[Burst]) -> list[str]:
    """What the forecast says of the bursts *under* way (burst_under_way)."""
    return [f"a burst of new deals is under way ({b.deals:,} created {b.first:%Y-%m-%d} to "
            f"{b.last:%Y-%m-%d}, about {b.expected:,.0f} usual): "
            + ("the forecast lets it go on for as long again as it has lasted, as likely "
               "shorter as longer (its runs spread over how long it may last)"
               if _going_on(history, b) else
               "it has stopped for now: new deals are forecast at the usual level; if it "
               "starts again there will be more") for b in under]


BURST_GOING_DAYS = 3  # a burst whose last day is this close to the as-of date goes on
BURST_STRATA = 10  # how long a burst goes on: this many equally likely lengths


def _going_on(history: History, burst: Burst) -> bool:
    """Whether *burst* still goes on at the as-of date: its last day within
    BURST_GOING_DAYS of it."""
    return (history.as_of.date() - burst.last).days <= BURST_GOING_DAYS


def _goes_on(history: History, under: Sequence[Burst], day: dt.date, days: float
             ) -> list[list[Campaign]]:
    """How long each burst *under* way that still goes on at the as-of date (_going_on)
    goes on: nothing says whether it is near its start or its end, so its remaining
    length *x* after *T* days has P(X > x) = T / (T + x) (as likely shorter than T as
    longer; the 'Copernican' estimate). BURST_STRATA equally likely lengths (the
    quantiles at (k + 0.5) / BURST_STRATA, at most the *days* forecast), each as
    campaigns of the burst's deals above the usual level, spread evenly over its days
    from *day* on. One empty list where no burst goes on."""
    going = [b for b in under if _going_on(history, b)]
    if not going:
        return [[]]
    strata: list[list[Campaign]] = []
    for k in range(BURST_STRATA):
        u = (k + 0.5) / BURST_STRATA
        extra: list[Campaign] = []
        for b in going:
            lasted = max(1, (day - b.first).days)
            per_day = max(0.0, b.deals - b.expected) / ((b.last - b.first).days + 1)
            length = min(days, lasted * u / (1 - u))
            total = round(per_day * length)
            span = max(1, math.ceil(length))
            for j in range(span):
                leads = total * (j + 1) // span - total * j // span
                if leads:
                    extra.append(Campaign(leads, day + dt.timedelta(days=j),
                                          name="burst going on"))
        strata.append(extra)
    return strata


def _undecided(history: History, curves: Mapping[tuple[int, int], ExitCurve]) -> bool:
    """Whether a deal open at the as-of date sits where the history has seen fewer than
    MIN_DECIDED visits end (openings then needs the process's own stays)."""
    v, d = history.visits, history.deals
    here = v.exit == OPEN
    return not all(_decides(curves.get((int(b), int(s)))) for b, s in zip(
        np.maximum(d.buyer[v.deal[here]], 0), v.stage[here], strict=True))


def _decides(curve: ExitCurve | None) -> TypeGuard[ExitCurve]:
    """Whether an exit curve has seen enough visits end (MIN_DECIDED) to decide how an
    open deal in its stage leaves it."""
    return curve is not None and curve.ended >= MIN_DECIDED


STAY_SAMPLE = 200  # remaining delays kept per open deal (each run draws one)


def _remaining(stays: Stays | None, buyer: str, stage: str,
               age: float, team: float, unit: str) -> tuple[float, ...]:
    """The delays an open deal of *age* days may still have: simulated stays longer than
    its age, less the age and the team's time; none known: () (the engine then draws the
    delay given the age)."""
    pool = (stays or {}).get((buyer, stage))
    if pool is None or not len(pool):
        return ()
    longer = pool[pool > age]
    if not len(longer):
        return (0.0,)  # longer than any simulated stay: only the team's part is left
    picks = longer[np.linspace(0, len(longer) - 1, min(STAY_SAMPLE, len(longer))).astype(int)]
    return tuple(units.convert(max(0.0, float(t) - age - team), "day", unit) for t in picks)


def stays_and_team(process: Process, replications: int = 5
                   ) -> tuple[Stays, dict[str, float]]:
    """From one short simulation of *process* (remembered: forecasts from the same pipeline
    and process share it): each (buyer type, stage)'s stays in days, sorted (what a visit
    there takes, queues and the team's work included), and the team's mean time per
    visit of each stage (calibration.team_time)."""
    from salesproc.experiments.experiment import remembered, resolve_settings
    from salesproc.prediction.calibration import team_time

    if process.arrivals is None:
        return {}, {}
    settings = resolve_settings(process, replications=replications, workers=1)
    result = remembered(process, settings, events=True)  # the same again for a like forecast
    days = units.convert(1.0, process.time_unit, "day")
    found: dict[tuple[str, str], list[float]] = {}
    for v in result.events or ():
        if v.finished == v.finished:  # ended (an open visit has no finish)
            found.setdefault((v.buyer_type, v.stage), []).append((v.finished - v.entered) * days)
    return {k: np.sort(np.asarray(t)) for k, t in found.items()}, team_time(result)


def forecast(history: History, until: dt.datetime, *, process: Process | None = None,
             replications: int = REPLICATIONS, seed: int | None = None,
             campaigns: Sequence[Campaign] = (),
             cases: tuple[float, float, float] = CASES, workers: int = 1) -> Forecast:
    """Simulate from the deals open at *history*'s as-of date, plus new deals from the
    arrival model of *process* (default: the history's; a calibrated one is better) and
    its campaigns still to come, until *until*: wins, revenue, losses and the open
    pipeline, as worst / neutral / best case, by month and in total; and each open
    deal's chance to be won. With *campaigns*, also what they add, month by month: the
    paired difference of runs with and without them (the same seeds). *cases* are the
    percentiles of the worst, neutral and best case; *workers* run the replications in
    parallel (the same seed gives the same forecast however many). A calibrated process
    (its `fitted:` says how sure each fitted value is) has the runs hold the estimation
    error too: they go in uncertainty.DRAWS groups, each with the fitted values drawn
    from their sampling distributions (prediction.uncertainty), and the after-the-fact
    stream's rate is drawn per run."""
    from salesproc.experiments.experiment import resolve_settings, simulate_each

    base = process or history.process
    start = history.as_of
    day = first_day(start)  # time 0: the midnight nearest the as-of
    days = (until - dt.datetime.combine(day, dt.time())).total_seconds() / 86400
    cases = check_cases(cases)
    if until <= start or days <= 0:
        raise SettingsError("until", f"the forecast must end after the as-of date "
                            f"({start:%Y-%m-%d})")
    if days > MAX_FORECAST_DAYS:
        raise SettingsError("until", f"the forecast's end ({until:%Y-%m-%d}) is more than a "
                            f"century after the as-of date ({start:%Y-%m-%d})")
    _check_campaigns(campaigns, base, start, until)
    model = _from(base, day, campaigns)
    unit = model.time_unit
    settings = resolve_settings(model, horizon=units.convert(days, "day", unit), warmup=0.0,
                                replications=replications, seed=seed, workers=workers)
    curves = exit_curves(history)
    # the simulated stays are needed only for deals in stages the history cannot decide
    stays, team = stays_and_team(model) if _undecided(history, curves) else ({}, {})
    opening, rows, notes = openings(history, team, stays, curves)
    under = burst_under_way(history)
    notes += _burst_under_way(history, under)
    if not history.has_stages:
        notes.append("a deal table has no stage history: each open deal's time in its "
                     "stage is taken to be its age since it was created"
                     + (", and at a date before the export each starts at the first stage "
                        "of its path" if history.kind == DEAL_TABLE_CUT else ""))
    runs: list[dict[Key, float]] = []
    simulated: list[Any] = []
    without: list[dict[Key, float]] = []
    strata = _goes_on(history, under, day, days)
    # one group of runs per length of a burst going on, and per draw of the fitted values
    uncertain = drawn_values(base)
    drawn = draws(base, DRAWS, settings.seed) if uncertain else []
    if drawn:
        notes.append(f"the range holds how sure the calibration is: the runs draw "
                     f"{len(uncertain)} of its fitted values (fitted:) from their "
                     f"sampling distributions, in {DRAWS} groups")
    groups = max(len(strata), len(drawn))
    made: list[tuple[Process, Process, Settings]] = []  # with the campaigns, without, how
    for k in range(groups):
        extra = strata[k * len(strata) // groups]
        values = drawn[k] if drawn else []
        group = replace(settings, replications=replications * (k + 1) // groups
                        - replications * k // groups, seed=settings.seed + k)
        if group.replications:
            made.append((_from(base, day, [*campaigns, *extra], values)
                         if extra or values else model,
                         _from(base, day, extra, values) if campaigns else model, group))
    # every group's runs at once; only the wins are needed of the event log: who was won,
    # and when
    for result in simulate_each([(p, group) for p, _, group in made], events=True,
                                opening=opening, outcomes=frozenset({WON})):
        simulated += [v._replace(replication=v.replication + len(runs))
                      for v in result.events or ()]
        runs += result.replications
    if campaigns:
        for result in simulate_each([(p, group) for _, p, group in made], opening=opening):
            without += result.replications
    added = _difference(runs, without, cases) if campaigns else []
    pattern = month_end(history.deals.closed[(history.deals.outcome == OUTCOME_WON)
                                             & ~after_the_fact(history.deals)])
    events = _placed(simulated, runs, model, until, pattern, settings.seed)
    if pattern.found:
        notes.append(pattern.note())
    won_open, won_new, month_of, worth = _open_wins(events, len(opening), model, replications)
    late, said = _after_the_fact(history, model, until, runs, settings.seed,
                                 drawn=bool(drawn))
    notes += said

    def figure(name: str) -> Outcome:
        return Outcome.of([r.get(Key("all", "", name), math.nan) for r in runs], cases=cases)

    totals = {"won": figure("won"), "revenue": figure("revenue"), "lost": figure("lost"),
              "won_from_pipeline": Outcome.of(won_open, cases=cases), "won_from_new_deals":
              Outcome.of(won_new, cases=cases),
              "won_entered_after_the_fact": Outcome.of(late, cases=cases),
              "open_at_end": figure("open"),
              "open_value_at_end": figure("open_value")}
    months, quarters = (_periods(runs, scope, cases) for scope in ("month", "quarter"))
    d = history.deals
    ids = d.id.to_pylist()
    chances = []
    for k, (o, deal) in enumerate(zip(opening, rows, strict=True)):
        won_in = month_of.get(k + 1, [])
        month = Counter(won_in).most_common(1)[0][0] if won_in else ""
        chances.append(DealChance(ids[deal], o.buyer, o.stage, o.value,
                                  len(won_in) / replications,
                                  worth.get(k + 1, 0.0) / replications, month,
                                  float(d.probability[deal]),
                                  str(d.forecast_category[deal].as_py() or "")))
    chances.sort(key=lambda c: (-c.chance * (c.value if math.isfinite(c.value) else 0), c.id))
    per_run = [{"won": r.get(Key("all", "", "won"), math.nan),
                "revenue": r.get(Key("all", "", "revenue"), math.nan),
                "lost": r.get(Key("all", "", "lost"), math.nan),
                "won_from_pipeline": float(pipeline), "won_from_new_deals": float(new),
                "won_entered_after_the_fact": float(entered),
                "open_at_end": r.get(Key("all", "", "open"), math.nan),
                "open_value_at_end": r.get(Key("all", "", "open_value"), math.nan)}
               for r, pipeline, new, entered in zip(runs, won_open, won_new, late, strict=True)]
    return Forecast(base, start, until, replications, totals, months, chances,
                    _crm(history, rows), notes, added, cases, quarters, runs=per_run)


def _periods(runs: list[dict[Key, float]], scope: str, cases: tuple[float, float, float]
             ) -> list[tuple[str, dict[str, Outcome]]]:
    """Deals won and revenue in each month or quarter (*scope*) of the runs: the totals
    of each run in it, so a quarter's cases are the runs' quarters, not sums of months'."""
    labels = sorted({k.subject for r in runs for k in r if k.scope == scope})
    return [(label, {m: Outcome.of([r.get(Key(scope, label, m), 0.0) for r in runs],
                                   cases=cases)
                     for m in ("won", "revenue")}) for label in labels]


def _placed(events: list[Any], runs: list[dict[Key, float]], model: Process,
            until: dt.datetime, pattern: MonthEnd, seed: int) -> list[Any]:
    """The wins of *events* placed in their month as the history's were (closing.place):
    a win moved past *until* is taken out of its run's wins and revenue, in total, by
    month and by quarter (*runs* changed in place). Returns the wins still in."""
    if not pattern.found:
        return events
    hours = units.convert(1.0, model.time_unit, "hour")
    zero = dt.datetime.combine(model.start, dt.time())
    rng = np.random.default_rng([seed, 0xC105E])
    kept = []
    for visit in events:
        if visit.outcome != WON:
            kept.append(visit)
            continue
        u, v = rng.random(2)
        when = zero + dt.timedelta(hours=visit.finished * hours)
        if place(when, pattern, float(u), float(v)) <= until:
            kept.append(visit)
            continue
        run = runs[visit.replication - 1]
        month = month_label(model.start, visit.finished * hours)
        for scope, label in (("all", ""), ("month", month), ("quarter", quarter_of(month))):
            for name, less in (("won", 1.0), ("revenue", float(visit.value))):
                key = Key(scope, label, name)
                if key in run:
                    run[key] -= less
    return kept


def _after_the_fact(history: History, model: Process, until: dt.datetime,
                    runs: list[dict[Key, float]], seed: int, drawn: bool = False
                    ) -> tuple[list[float], list[str]]:
    """Deals entered after the fact (history.table.after_the_fact) are their own stream:
    no stage of the process sees them, so the simulation does not bring them. Each run
    gets a Poisson number of them at their recent rate (rates.recent_rate), at uniform
    times from the as-of date until *until*, valued as the history's were; they are
    added to the run's wins and revenue, in total and by month (*runs* changed in place);
    *drawn*: each run's rate drawn from its sampling distribution (uncertainty.gamma_draw).
    Returns each run's count and a note."""
    from salesproc.prediction.rates import recent_rate

    d = history.deals
    flagged = after_the_fact(d)
    if not flagged.any():
        return [0.0] * len(runs), []
    as_of = np.datetime64(history.as_of, "s")
    rate = recent_rate(d.closed[flagged], d.created.min(), as_of)
    days = (until - history.as_of).total_seconds() / 86400
    zero = dt.datetime.combine(model.start, dt.time())  # the simulation's time 0
    ahead = (history.as_of - zero).total_seconds() / 3600
    values = d.value[flagged]
    values = values[np.isfinite(values)]
    rng = np.random.default_rng([seed, 0xAF7E])
    counts: list[float] = []
    for run in runs:
        per_day = gamma_draw(rng, rate.per_day, rate.low, rate.high) if drawn \
            else rate.per_day
        k = int(rng.poisson(per_day * days)) if math.isfinite(per_day) else 0
        worth = rng.choice(values, k) if len(values) else np.zeros(k)
        when = rng.uniform(0.0, days, k)
        for key in (Key("all", "", "won"), Key("all", "", "revenue")):
            run[key] = run.get(key, 0.0) + (k if key.metric == "won" else float(worth.sum()))
        for t, value in zip(when, worth, strict=True):
            month = month_label(model.start, ahead + float(t) * 24)
            for scope, label in (("month", month), ("quarter", quarter_of(month))):
                for name, add in (("won", 1.0), ("revenue", float(value))):
                    key = Key(scope, label, name)
                    if key in run:
                        run[key] += add
        counts.append(float(k))
    share = int(flagged.sum()) / max(1, int((d.outcome == OUTCOME_WON).sum()))
    return counts, [f"{int(flagged.sum()):,} wins ({share:.0%}) were entered after the fact "
                    "(won within an hour of being created): forecast as their own stream, "
                    f"{rate.per_day * units.convert(1.0, 'month', 'day'):,.1f} a month at "
                    "their recent rate"]


def _difference(with_: list[dict[Key, float]], without: list[dict[Key, float]],
                cases: tuple[float, float, float] = CASES
                ) -> list[tuple[str, dict[str, Outcome]]]:
    """What the campaigns add: per month (and 'total'), the run-by-run difference of
    new leads, wins and revenue."""
    labels = sorted({k.subject for r in with_ for k in r if k.scope == "month"})
    out = []
    for label in [*labels, "total"]:
        figures = {}
        for name in ("leads", "won", "revenue"):
            key = Key("all", "", name) if label == "total" else Key("month", label, name)
            figures[name] = Outcome.of([a.get(key, 0.0) - b.get(key, 0.0)
                                        for a, b in zip(with_, without, strict=True)],
                                       floor=None, cases=cases)
        out.append((label, figures))
    return out


@dataclass(frozen=True)
class Campaign:
    """Leads that arrive together on a day: a webinar, a trade show, a mailing."""

    leads: int
    on: dt.date
    buyer_type: str | None = None
    name: str = ""


def check_cases(cases: Sequence[float]) -> tuple[float, float, float]:
    """The percentiles taken as the worst, neutral and best case: three numbers rising
    between 0 and 100, else a SettingsError of the setting 'cases' (90, 50, 10 made a
    'worst case' above the best)."""
    try:
        worst, neutral, best = (float(c) for c in cases)
    except (TypeError, ValueError):
        raise SettingsError("cases", f"{shown(str(cases))[:60]!r}: give three percentiles, "
                            "e.g. 10,50,90") from None
    if not 0 <= worst < neutral < best <= 100:
        raise SettingsError("cases", f"{worst:g},{neutral:g},{best:g}: the three must rise, "
                            "between 0 and 100")
    return worst, neutral, best


def parse_campaign(text: str) -> Campaign:
    """'500@2026-03-10', or '500@2026-03-10:committee' for one buyer type's leads; what
    cannot be read raises a SettingsError of the setting 'campaign'."""
    count, _, rest = text.partition("@")
    day, _, buyer = rest.partition(":")
    try:
        leads, on = int(count), dt.date.fromisoformat(day.strip())
    except ValueError:
        raise SettingsError("campaign", f"'{shown(text)}' is not LEADS@DATE, e.g. "
                            "500@2026-03-10") from None
    if leads <= 0:
        raise SettingsError("campaign", f"'{shown(text)}': a campaign brings at least one lead")
    if leads > MAX_CAMPAIGN_LEADS:
        raise SettingsError("campaign", f"'{shown(text)}': a campaign brings at most "
                            f"{MAX_CAMPAIGN_LEADS:,} leads")
    return Campaign(leads, on, buyer.strip() or None, text)


def _check_campaigns(campaigns: Sequence[Campaign], process: Process, start: dt.datetime,
                     until: dt.datetime) -> None:
    """Each planned campaign is of one of the process's buyer types (or all) and falls
    within the forecast; else a SettingsError of the setting 'campaign'."""
    for c in campaigns:
        if c.buyer_type is not None and c.buyer_type not in process.buyer_types:
            raise SettingsError("campaign", f"unknown buyer type '{shown(c.buyer_type)}' in "
                                f"{shown(c.name)}; choose one of: "
                                f"{', '.join(process.buyer_types)}")
        if not start.date() <= c.on <= until.date():
            raise SettingsError("campaign", f"{shown(c.name)} is not within the forecast "
                                f"({start:%Y-%m-%d} to {until:%Y-%m-%d})")


def planned(process: Process, start: dt.date) -> list[Campaign]:
    """The file's campaigns still to come on or after *start* (a repeating one: its next
    occurrences, up to ten years on)."""
    out: list[Campaign] = []
    if process.arrivals is None:
        return out
    hours = units.convert(1.0, process.time_unit, "hour")
    origin = dt.datetime.combine(process.start, dt.time())
    for c in process.arrivals.campaigns:
        at = c.at
        for _ in range(520):
            day = (origin + dt.timedelta(hours=at * hours)).date()
            if day >= start:
                out.append(Campaign(c.leads, day, c.buyer_type, c.name))
            if not c.every or day > start + dt.timedelta(days=3650):
                break
            at += c.every
    return out


def _from(process: Process, start: dt.date, campaigns: Sequence[Campaign],
          values: Sequence[tuple[str, Any]] = ()) -> Process:
    """*process* simulated from *start* on (so its dates count from it), in memory, with
    the campaigns still to come and *campaigns* added, and the (setting, value) changes
    *values* (drawn fitted values)."""
    changes: list[tuple[str, Any]] = [*values, ("simulation.start", start),
                                      ("simulation.warmup", 0)]
    every = [*planned(process, start), *campaigns]
    if process.arrivals is not None:
        changes.append(("arrivals.campaigns", [
            {"at": c.on, "leads": c.leads, **({"buyer_type": c.buyer_type} if c.buyer_type
                                              else {}),
             **({"name": c.name} if c.name else {})} for c in every if c.on >= start]))
    if process.origin is None:
        raise ValueError("the forecast's process must come from a file")
    return process.with_changes(changes)


def _open_wins(events: list[Any], opened: int, process: Process, replications: int
               ) -> tuple[list[float], list[float], dict[int, list[str]], dict[int, float]]:
    """Per run (1 to *replications*), the wins of deals open at the start and of new
    deals; per open deal, the months it was won in (one entry per run it was won in) and
    the sum over the runs of its value when won."""
    hours = units.convert(1.0, process.time_unit, "hour")
    from_open: Counter[int] = Counter()
    from_new: Counter[int] = Counter()
    months: dict[int, list[str]] = {}
    worth: dict[int, float] = {}
    for visit in events:
        if visit.outcome != WON:
            continue
        if visit.deal <= opened:
            from_open[visit.replication] += 1
            months.setdefault(visit.deal, []).append(
                month_label(process.start, visit.finished * hours))
            worth[visit.deal] = worth.get(visit.deal, 0.0) + float(visit.value)
        else:
            from_new[visit.replication] += 1
    runs = range(1, replications + 1)
    return ([float(from_open[r]) for r in runs], [float(from_new[r]) for r in runs], months,
            worth)


def _crm(history: History, rows: list[int]) -> dict[str, float]:
    """The CRM's own view of the open deals: the weighted pipeline (amount × the CRM's
    probability) and the amounts by forecast category."""
    d = history.deals
    index = np.asarray(rows, dtype=np.int64)
    value, probability = d.value[index], d.probability[index]
    known = np.isfinite(value) & np.isfinite(probability)
    out = {"open_deals": float(len(index)), "open_value": float(np.nansum(value)),
           "weighted_pipeline": float(np.sum(value[known] * probability[known]))
           if known.any() else math.nan}
    categories = d.forecast_category.take(index).to_pylist() if len(index) else []
    for category in sorted({c for c in categories if c}):
        mine = np.array([c == category for c in categories])
        out[f"category {category}"] = float(np.nansum(value[mine]))
    return out
