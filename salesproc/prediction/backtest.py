"""Backtest the forecast on the team's own past: at each origin, calibrate on the history
before it, forecast the next period, and compare with what happened — beside the plain
forecasts a sales team could make without salesproc, made at the same origins.

The baselines, each a point forecast of the deals won and the revenue of the period
(*H* days from the origin), from nothing the team did not know at the origin:

- **run rate**: the wins and revenue of the last *H* days before the origin, carried
  forward;
- **seasonal naive**: the wins and revenue of the same window one quarter earlier, and one
  year earlier (each where the history has that window whole before the origin);
- **the CRM's weighted pipeline**: the open deals' amounts times the CRM's probability as
  they stood at the origin (``history.at(origin)``); its wins are the sum of the
  probabilities;
- **stage-to-stage Markov chain**: each stage's constant exit hazard to each next stage,
  won and lost (exits over days at risk, open visits counted as at risk until the
  origin), fitted on the visits before the origin; each open deal's chance to be won
  within *H* days from its stage (the chain's transition matrix, ``expm`` of the
  generator), summed, plus new deals at the creation rate of the last
  ARRIVAL_WINDOW_DAYS times a new deal's chance to be won by the end, integrated over
  when it arrives.

Scores per forecaster and figure (the model's point forecast is its neutral case): mean
absolute error, mean absolute percentage error (origins with an actual of 0 are left out
and counted), bias (mean forecast less actual); for the model also the pinball loss at its
three case percentiles, the interval score of its worst-to-best band, and the share of
actuals inside that band with its Wilson 95% interval.

An origin whose calibration or forecast fails (data the fit cannot take) is reported with
the reason, and the others go on.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from salesproc.core import execution, layout
from salesproc.core.defaults import MAX_FORECAST_DAYS, MAX_ORIGINS
from salesproc.core.diagnostics import shown
from salesproc.core.errors import SalesprocError, SettingsError
from salesproc.core.layout import number
from salesproc.core.stats import CASES, Estimate, proportion
from salesproc.core.units import SpanError, parse_span
from salesproc.history.table import (
    LOST_CODE,
    OUTCOME_OPEN,
    OUTCOME_WON,
    WON_CODE,
    History,
    first_visits,
)
from salesproc.prediction.calibration import TeamTime, calibrate, fitted_process, team_days
from salesproc.prediction.forecast import Forecast, Outcome, forecast
from salesproc.process.model import Process

MIN_DEALS = 30  # an origin with fewer deals before it is left out: nothing to calibrate on
ARRIVAL_WINDOW_DAYS = 90  # the Markov baseline's new deals come at the rate of these days

MODEL = "model"
#: The baselines, by key, with their names in reports.
BASELINES = {"run_rate": "run rate", "seasonal_quarter": "seasonal naive (a quarter back)",
             "seasonal_year": "seasonal naive (a year back)",
             "weighted_pipeline": "CRM weighted pipeline", "markov": "stage-to-stage Markov"}
FIGURES = ("won", "revenue")


def add_months(when: dt.datetime, months: int) -> dt.datetime:
    """*when* moved by whole calendar months (negative: back), the day kept where the
    month has it and else the month's last day (31 January + 1 month: 28 or 29 February)."""
    index = when.year * 12 + when.month - 1 + months
    year, month = divmod(index, 12)
    day = min(when.day, calendar.monthrange(year, month + 1)[1])
    return when.replace(year=year, month=month + 1, day=day)


def origins(first: dt.datetime, last: dt.datetime, every: str) -> list[dt.datetime]:
    """A backtest's forecast origins from *first* to *last*, both included, never before
    *first*: every few calendar months (*every* '1mo', '3mo': the same day each month, or
    the month's last day where it is shorter), or every span of time ('2w', '30d'; a bare
    number is days). More than MAX_ORIGINS, a span that cannot be read or a *last* before
    *first* raise a SettingsError naming the setting ('every' or 'to')."""
    if last < first:
        raise SettingsError("to", "the last origin is before the first")
    too_many = SettingsError("every", f"more than {MAX_ORIGINS} origins: use a longer step")
    text = every.strip().lower()
    if text.endswith("mo"):
        months = text[:-2].strip()
        if not months.isdigit() or int(months) < 1:
            raise SettingsError("every", f"'{shown(every)}': give 1mo, 3mo, or a span such "
                                "as 2w")
        found: list[dt.datetime] = []
        for k in range(MAX_ORIGINS + 1):
            # a step past the calendar's last year is past any *last* too
            if (first.year * 12 + first.month - 1 + k * int(months)) // 12 > dt.MAXYEAR:
                return found
            origin = add_months(first, k * int(months))
            if origin > last:
                return found
            found.append(origin)
        raise too_many
    try:
        days = parse_span(text, "day")
    except SpanError as exc:
        raise SettingsError("every", str(exc), exc.hint) from None
    if days <= 0:
        raise SettingsError("every", f"'{shown(every)}': the step must be above 0")
    count = int((last - first).total_seconds() // (days * 86400)) + 1
    if count > MAX_ORIGINS:
        raise too_many
    return [first + dt.timedelta(days=days * k) for k in range(count)]


@dataclass(frozen=True)
class Point:
    """A point forecast of the period's deals won and revenue (NaN: not available)."""

    won: float
    revenue: float

    def get(self, figure: str) -> float:
        return self.won if figure == "won" else self.revenue


@dataclass(frozen=True)
class Origin:
    """One forecast origin: the forecast of the next period, the baselines' forecasts of
    it, and what happened."""

    at: dt.datetime
    until: dt.datetime
    won: Outcome
    revenue: Outcome
    actual_won: int
    actual_revenue: float
    baselines: dict[str, Point]

    def outcome(self, figure: str) -> Outcome:
        return self.won if figure == "won" else self.revenue

    def actual(self, figure: str) -> float:
        return float(self.actual_won) if figure == "won" else self.actual_revenue

    def forecast(self, figure: str, forecaster: str) -> float:
        """The point forecast of *forecaster* (MODEL: the neutral case, or a baseline)."""
        if forecaster == MODEL:
            return self.outcome(figure).neutral
        return self.baselines[forecaster].get(figure)

    def inside(self, figure: str) -> bool:
        """The actual lies in the worst-to-best band (False where there is no band)."""
        o = self.outcome(figure)
        return bool(o.worst <= self.actual(figure) <= o.best)

    @property
    def won_inside(self) -> bool:
        return self.inside("won")

    @property
    def revenue_inside(self) -> bool:
        return self.inside("revenue")


@dataclass(frozen=True)
class Failed:
    """An origin whose calibration or forecast failed, and why."""

    at: dt.datetime
    until: dt.datetime
    reason: str


@dataclass(frozen=True)
class Score:
    """How close one forecaster came on one figure over the origins it forecast."""

    origins: int  # origins with a forecast from this forecaster
    mae: float
    mape: float  # a share (0.2: 20%), over the origins with an actual above 0
    mape_left_out: int  # origins with an actual of 0, left out of the MAPE
    bias: float  # mean forecast less actual

    def to_dict(self) -> dict[str, Any]:
        return {"origins": self.origins, "mae": number(self.mae), "mape": number(self.mape),
                "mape_left_out": self.mape_left_out, "bias": number(self.bias)}


@dataclass(frozen=True)
class Spread:
    """How well the model's range did on one figure: the pinball loss at each of its case
    percentiles, the interval score of the worst-to-best band, and the share of actuals
    inside the band (Wilson 95% interval)."""

    pinball: dict[float, float]  # percentile -> mean pinball loss
    interval_score: float
    coverage: Estimate  # n: origins with a band
    inside: int

    def to_dict(self) -> dict[str, Any]:
        c = self.coverage
        return {"pinball": {f"p{q:g}": number(v) for q, v in self.pinball.items()},
                "interval_score": number(self.interval_score),
                "coverage": {"inside": self.inside, **layout.estimate(c)}}


@dataclass
class Backtest:
    """Every origin, the failed ones with their reasons, and the scores over the origins
    forecast."""

    origins: list[Origin]
    horizon_days: float
    notes: list[str] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    cases: tuple[float, float, float] = CASES
    process: Process | None = None  # the process backtested (its name and currency)
    source: str = ""  # the file it was read back from (from_dict), if it was
    saved: dict[str, Any] = field(default_factory=dict)  # read back: its process's name,
    # file and currency as saved (the Process itself is not)

    COLUMNS = ("origin", "until", "figure", "forecaster", "forecast", "actual", "error",
               "worst", "best", "inside", "failed")

    def rows(self) -> list[list[Any]]:
        """One row per origin, figure (won, revenue) and forecaster (model, then each
        baseline; COLUMNS): the point forecast (the model's neutral case), the actual, the
        error (forecast less actual); for the model its worst and best case and whether
        the actual was inside. A failed origin is one row per figure with its reason."""
        rows: list[list[Any]] = []
        for o in self.origins:
            for figure in FIGURES:
                actual = o.actual(figure)
                out = o.outcome(figure)
                for forecaster in (MODEL, *BASELINES):
                    point = o.forecast(figure, forecaster)
                    model = forecaster == MODEL
                    rows.append([o.at.isoformat(), o.until.isoformat(), figure, forecaster,
                                 point, actual, point - actual,
                                 out.worst if model else math.nan,
                                 out.best if model else math.nan,
                                 o.inside(figure) if model else "", ""])
        for f in self.failed:
            rows += [[f.at.isoformat(), f.until.isoformat(), figure, MODEL, math.nan,
                      math.nan, math.nan, math.nan, math.nan, "", f.reason]
                     for figure in FIGURES]
        return rows

    def to_frame(self) -> Any:
        """The rows as a pandas DataFrame (needs pandas)."""
        return layout.frame(self.rows(), self.COLUMNS)

    def score(self, figure: str, forecaster: str) -> Score:
        """MAE, MAPE and bias of *forecaster* (MODEL or a baseline key) on *figure*, over
        the origins where it gave a forecast."""
        pairs = [(o.forecast(figure, forecaster), o.actual(figure)) for o in self.origins]
        pairs = [(f, a) for f, a in pairs if math.isfinite(f)]
        if not pairs:
            return Score(0, math.nan, math.nan, 0, math.nan)
        f, a = (np.array(x, dtype=float) for x in zip(*pairs, strict=True))
        some = a != 0
        mape = float(np.mean(np.abs(f[some] - a[some]) / np.abs(a[some]))) if some.any() \
            else math.nan
        return Score(len(pairs), float(np.mean(np.abs(f - a))), mape, int((~some).sum()),
                     float(np.mean(f - a)))

    def scores(self, figure: str) -> dict[str, Score]:
        """The model's score and every baseline's, on *figure*."""
        return {k: self.score(figure, k) for k in (MODEL, *BASELINES)}

    def spread(self, figure: str) -> Spread:
        """The model's pinball losses, interval score and coverage on *figure*."""
        judged = [o for o in self.origins if math.isfinite(o.outcome(figure).worst)]
        actual = np.array([o.actual(figure) for o in judged], dtype=float)
        pinball = {}
        for q, name in zip(self.cases, ("worst", "neutral", "best"), strict=True):
            f = np.array([getattr(o.outcome(figure), name) for o in judged], dtype=float)
            pinball[q] = float(np.mean(pinball_loss(actual, f, q / 100))) if judged \
                else math.nan
        low = np.array([o.outcome(figure).worst for o in judged], dtype=float)
        high = np.array([o.outcome(figure).best for o in judged], dtype=float)
        alpha = 1 - (self.cases[2] - self.cases[0]) / 100
        score = float(np.mean(interval_score(actual, low, high, alpha))) if judged \
            else math.nan
        inside = sum(o.inside(figure) for o in judged)
        return Spread(pinball, score, proportion(inside, len(judged)), inside)

    def coverage(self, figure: str = "won") -> float:
        """The share of origins whose actual lies in the forecast's worst-to-best band (of
        those with a band: a forecast of fewer than 3 runs has none)."""
        return self.spread(figure).coverage.mean

    def best_baseline(self, figure: str) -> str | None:
        """The baseline with the least MAE on *figure* over the origins it forecast (None
        when no baseline forecast any)."""
        scored = {k: s.mae for k, s in self.scores(figure).items()
                  if k != MODEL and math.isfinite(s.mae)}
        return min(scored, key=lambda k: scored[k]) if scored else None

    def against(self, figure: str, baseline: str) -> tuple[int, float, float]:
        """The origins where *baseline* forecast *figure*, and the MAE of the model and
        of the baseline over just those origins."""
        both = [o for o in self.origins if math.isfinite(o.forecast(figure, baseline))]
        if not both:
            return 0, math.nan, math.nan
        actual = np.array([o.actual(figure) for o in both])
        model = np.array([o.forecast(figure, MODEL) for o in both])
        other = np.array([o.forecast(figure, baseline) for o in both])
        return len(both), float(np.mean(np.abs(model - actual))), \
            float(np.mean(np.abs(other - actual)))

    def verdict(self, figure: str) -> dict[str, Any]:
        """The best baseline on MAE, and whether the model beat it over the origins that
        baseline forecast (a tie goes to the model)."""
        best = self.best_baseline(figure)
        if best is None:
            return {"best_baseline": None, "origins": 0, "best_baseline_mae": None,
                    "model_mae": None, "model_beats_it": None}
        n, model, other = self.against(figure, best)
        return {"best_baseline": best, "origins": n, "best_baseline_mae": number(other),
                "model_mae": number(model), "model_beats_it": bool(model <= other)}

    def to_dict(self) -> dict[str, Any]:
        """The JSON layout of `salesproc backtest --format json` (what `forecast
        --track-record` reads)."""
        p = self.process
        return {
            **layout.header("backtest"),
            "process": {"name": p.name, "file": p.source, "currency": p.currency}
                       if p else {k: self.saved.get(k) for k in ("name", "file", "currency")},
            "horizon_days": self.horizon_days,
            "cases": {"worst": f"p{self.cases[0]:g}", "neutral": f"p{self.cases[1]:g}",
                      "best": f"p{self.cases[2]:g}"},
            "baselines": dict(BASELINES),
            "origins": [{"at": o.at.isoformat(), "until": o.until.isoformat(),
                         "won": o.won.to_dict(), "revenue": o.revenue.to_dict(),
                         "actual_won": o.actual_won, "actual_revenue": o.actual_revenue,
                         "baselines": {k: {"won": number(p.won), "revenue": number(p.revenue)}
                                       for k, p in o.baselines.items()},
                         "won_inside": o.won_inside, "revenue_inside": o.revenue_inside}
                        for o in self.origins],
            "failed": [{"at": f.at.isoformat(), "until": f.until.isoformat(),
                        "reason": f.reason} for f in self.failed],
            "scores": {figure: {k: s.to_dict() for k, s in self.scores(figure).items()}
                       for figure in FIGURES},
            "spread": {figure: self.spread(figure).to_dict() for figure in FIGURES},
            "verdict": {figure: self.verdict(figure) for figure in FIGURES},
            "notes": self.notes,
        }


def from_dict(data: Any, source: str = "") -> Backtest:
    """A backtest saved as JSON (``Backtest.to_dict()``) read back: its origins, failures
    and scores as they were. ValueError, saying what is missing, on anything else."""
    if not isinstance(data, dict) or data.get("kind") != "backtest":
        raise ValueError("not a saved backtest (its kind is not 'backtest')")
    if data.get("layout") != layout.LAYOUT_VERSION:
        raise ValueError(f"a backtest in layout {str(data.get('layout'))[:20]}, not "
                         f"{layout.LAYOUT_VERSION}: saved by another version of salesproc; "
                         "run the backtest again")
    try:
        worst, neutral, best = (float(str(data["cases"][k]).removeprefix("p"))
                                for k in ("worst", "neutral", "best"))
        origins = [Origin(dt.datetime.fromisoformat(o["at"]),
                          dt.datetime.fromisoformat(o["until"]), _outcome(o["won"]),
                          _outcome(o["revenue"]), int(o["actual_won"]),
                          _number(o["actual_revenue"]),
                          {k: Point(_number(o["baselines"].get(k, {}).get("won")),
                                    _number(o["baselines"].get(k, {}).get("revenue")))
                           for k in BASELINES}) for o in data["origins"]]
        failed = [Failed(dt.datetime.fromisoformat(f["at"]),
                         dt.datetime.fromisoformat(f["until"]), str(f["reason"]))
                  for f in data.get("failed", [])]
        horizon = float(data["horizon_days"])
        block = data.get("process")
        saved: dict[str, Any] = block if isinstance(block, dict) else {}
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        what = (f"it has no '{shown(str(exc.args[0]))[:40]}'" if isinstance(exc, KeyError)
                else "a value in it is not what a backtest writes")
        raise ValueError(f"not a saved backtest ({what})") from None
    if not 0 < horizon <= MAX_FORECAST_DAYS:  # an edited file (a backtest's own bound)
        raise ValueError(f"not a saved backtest (it looks {horizon:g} days ahead)")
    if not 0 < worst < neutral < best < 100:
        raise ValueError(f"not a saved backtest (its cases p{worst:g}, p{neutral:g}, "
                         f"p{best:g} are not percentiles from worst to best)")
    return Backtest(origins, horizon, [str(n) for n in data.get("notes", [])], failed,
                    (worst, neutral, best), source=source,
                    saved={k: v for k, v in saved.items()
                           if k in ("name", "file", "currency") and isinstance(v, str)})


def _number(x: Any) -> float:
    return math.nan if x is None else float(x)


def _outcome(block: Any) -> Outcome:
    mean = layout.read_estimate(block)
    return Outcome(_number(block["worst"]), _number(block["neutral"]), _number(block["best"]),
                   mean)


@dataclass(frozen=True)
class TrackRecord:
    """A forecast's past: a saved backtest of the same kind of forecast (*source*: where it
    was read from), the baselines that beat the model there with their forecasts of the
    new period, and, when asked for, each figure's blend of the model with the best
    baseline."""

    source: str
    backtest: Backtest
    beaten: list[Beaten]
    blends: list[Blend] | None = None  # None: no blend asked for

    def to_dict(self) -> dict[str, Any]:
        """What a forecast's JSON holds under ``track_record``."""
        return {"file": self.source, "backtest": self.backtest.to_dict(),
                "beaten_by": [b.to_dict() for b in self.beaten],
                **({} if self.blends is None
                   else {"blend": [b.to_dict() for b in self.blends]})}


def track_record(record: Backtest, history: History, done: Forecast, *,
                 blended: bool = False) -> TrackRecord:
    """*done*'s track record on *record* (a saved backtest of the same kind of forecast):
    the baselines that beat the model there, each with its forecast of *done*'s period
    from *history*, and with *blended* each figure's blend of *done*'s neutral case with
    the record's best baseline."""
    currency = record.process.currency if record.process else record.saved.get("currency")
    if currency is not None and currency != done.process.currency:
        raise SalesprocError(f"the track record's money is in {shown(str(currency))}, the "
                             f"forecast's in {done.process.currency}",
                             hint="use a backtest of a process in the same currency")
    blends = None
    if blended:
        blends = [b for b in (blend(record, history, done.until, figure,
                                    done.totals[figure].neutral) for figure in FIGURES)
                  if b is not None]
    return TrackRecord(record.source, record, beaten_by(record, history, done.until),
                       blends)


def pinball_loss(actual: np.ndarray, forecast: np.ndarray, q: float) -> np.ndarray:
    """The pinball (quantile) loss of forecasting the *q* quantile as *forecast*."""
    gap = actual - forecast
    return np.maximum(q * gap, (q - 1) * gap)  # type: ignore[no-any-return]


def interval_score(actual: np.ndarray, low: np.ndarray, high: np.ndarray,
                   alpha: float) -> np.ndarray:
    """Gneiting and Raftery's interval score of the central (1 - *alpha*) interval
    [low, high]: its width, plus 2/alpha times how far the actual falls outside it."""
    return (high - low) + 2 / alpha * (np.maximum(low - actual, 0)  # type: ignore[no-any-return]
                                       + np.maximum(actual - high, 0))


# --- running it ----------------------------------------------------------------------------


def backtest(history: History, origins: Sequence[dt.datetime], horizon_days: float, *,
             replications: int = 100, seed: int | None = None,
             cases: tuple[float, float, float] = CASES) -> Backtest:
    """At each origin: calibrate the process on the history before it, forecast
    *horizon_days* ahead, compute the baselines, and compare with the history after it.
    The calibrated processes live in memory (Process.with_changes): nothing is written,
    and the process's folder may be read-only. An origin whose calibration or forecast
    raises a salesproc error or a ValueError is recorded as failed, with the reason; the
    others go on. The origins are tasks of the session open around the call, if any
    (core.execution: local workers or a Dask cluster), each a pure function of the
    history, so the backtest is the same wherever they ran."""
    from salesproc.experiments.experiment import check_replications

    check_replications(replications)  # else every origin would fail alike
    team = team_days(history.process)  # the file's, so the same at every origin
    found: list[Origin | Failed | str] = [""] * len(origins)

    def take(index: int, done: Origin | Failed | str) -> None:
        found[index] = done

    with execution.spread(1) as session:  # a caller's session spreads the origins
        session.run(_origin, (history, team, horizon_days, replications, seed, cases),
                    list(origins), take)
    return Backtest([o for o in found if isinstance(o, Origin)], horizon_days,
                    [o for o in found if isinstance(o, str)],
                    [o for o in found if isinstance(o, Failed)], cases, history.process)


#: What every origin of a backtest shares: the history, the team's days, the horizon in
#: days, the replications, the seed and the cases.
Shared = tuple[History, TeamTime, float, int, int | None, tuple[float, float, float]]


def _origin(shared: Shared, at: dt.datetime) -> Origin | Failed | str:
    """One origin of a backtest: its forecast set beside what happened and the baselines,
    the reason it failed, or the note that says why it is left out. A pure function of
    its arguments (the calibration and the forecast are), so it runs anywhere."""
    history, team, horizon_days, replications, seed, cases = shared
    until = at + dt.timedelta(days=horizon_days)
    before = history.at(at)
    if len(before.deals) < MIN_DEALS or until > history.as_of:
        return f"{at:%Y-%m-%d}: left out (" + (
            f"fewer than {MIN_DEALS} deals before it" if len(before.deals) < MIN_DEALS
            else "the history ends before its period does") + ")"
    try:
        result = forecast(before, until, process=fitted_process(calibrate(before, team=team)),
                          replications=replications, seed=seed, cases=cases)
    except SalesprocError as exc:
        return Failed(at, until, exc.message)
    except ValueError as exc:
        return Failed(at, until, str(exc))
    won, revenue = actuals(history, at, until)
    return Origin(at, until, result.totals["won"], result.totals["revenue"], won, revenue,
                  baselines(before, until))


def actuals(history: History, start: dt.datetime, end: dt.datetime) -> tuple[int, float]:
    """The deals won in (start, end] and their revenue (unknown amounts count 0)."""
    won = _won_between(history, start, end)
    return int(won.sum()), float(np.nansum(history.deals.value[won]))


def _won_between(history: History, start: dt.datetime, end: dt.datetime) -> np.ndarray:
    d = history.deals
    won: np.ndarray = (d.outcome == OUTCOME_WON) & (d.closed > np.datetime64(start, "s")) \
        & (d.closed <= np.datetime64(end, "s"))
    return won


# --- baselines -----------------------------------------------------------------------------


def baselines(history: History, until: dt.datetime) -> dict[str, Point]:
    """Every baseline's forecast, made at *history*'s as-of date (the origin: pass the
    history as it stood then), of the period up to *until*."""
    return {k: baseline(history, k, until) for k in BASELINES}


def baseline(history: History, name: str, until: dt.datetime) -> Point:
    """Baseline *name*'s forecast of the deals won and revenue from *history*'s as-of date
    to *until*, from the history as it stands (NaN where the history lacks what the
    baseline needs)."""
    at = history.as_of
    days = (until - at).total_seconds() / 86400
    if name == "run_rate":
        return _window(history, at - dt.timedelta(days=days), at)
    if name in ("seasonal_quarter", "seasonal_year"):
        back = add_months(at, -3 if name == "seasonal_quarter" else -12)
        return _window(history, back, back + dt.timedelta(days=days))
    if name == "weighted_pipeline":
        return _weighted_pipeline(history)
    if name == "markov":
        return _markov(history, days)
    raise ValueError(f"unknown baseline '{name}'; choose one of: {', '.join(BASELINES)}")


def _window(history: History, start: dt.datetime, end: dt.datetime) -> Point:
    """The wins and revenue of (start, end], where the history holds it whole: it starts
    at the first deal's creation and ends at the as-of date."""
    d = history.deals
    if not len(d) or end > history.as_of or \
            np.datetime64(start, "s") < d.created.min():
        return Point(math.nan, math.nan)
    won, revenue = actuals(history, start, end)
    return Point(float(won), revenue)


def _weighted_pipeline(history: History) -> Point:
    """The open deals' CRM probabilities summed, and their amounts times them (the deals
    with a probability; NaN when none has one)."""
    d = history.deals
    known = (d.outcome == OUTCOME_OPEN) & np.isfinite(d.probability)
    if not known.any():
        return Point(math.nan, math.nan)
    priced = known & np.isfinite(d.value)
    return Point(float(d.probability[known].sum()),
                 float(np.sum(d.value[priced] * d.probability[priced])))


@dataclass(frozen=True)
class Chain:
    """A continuous-time Markov chain of the stages: *generator* holds each stage's exit
    hazards per day to each stage, then won and lost (the two absorbing states, last);
    *entry* the share of new deals entering each stage."""

    generator: np.ndarray
    entry: np.ndarray

    @property
    def won(self) -> int:
        return len(self.generator) - 2

    def won_within(self, days: float) -> np.ndarray:
        """For a deal in each stage now, its chance to be won within *days*."""
        from scipy.linalg import expm

        return expm(self.generator * days)[:-2, self.won]  # type: ignore[no-any-return]

    def new_wins(self, days: float) -> float:
        """The expected wins within *days* of deals arriving at a rate of one a day over
        those days: the integral over the arrival time u of the chance to be won in the
        days - u left, done exactly as the corner of one larger matrix exponential (Van
        Loan)."""
        from scipy.linalg import expm

        n = len(self.generator)
        block = np.zeros((2 * n, 2 * n))
        block[:n, :n] = self.generator
        block[:n, n:] = np.eye(n)
        integral = expm(block * days)[:n, n:]  # the integral of expm(Q s), s from 0 to days
        return float(self.entry @ integral[:-2, self.won])


def chain(history: History) -> Chain | None:
    """The stage-to-stage chain fitted on *history*'s visits: a stage's hazard to each
    exit is its exits there over its days at risk (visits still open at the as-of date
    count their days so far; an exit to a stage the mapping does not know ends the days
    at risk without counting as an exit). None without any visit."""
    v = history.visits
    stages = len(history.process.stages)
    if not len(v):
        return None
    days, _ = history.stays
    at_risk = np.bincount(v.stage, weights=np.maximum(days, 0.0), minlength=stages)
    target = np.select([v.exit == WON_CODE, v.exit == LOST_CODE, v.exit >= 0],
                       [stages, stages + 1, v.exit], -1)
    counted = target >= 0
    exits = np.zeros((stages + 2, stages + 2))
    np.add.at(exits, (v.stage[counted], target[counted]), 1.0)
    risk = np.append(at_risk, [0.0, 0.0])[:, None]  # won and lost are never left
    rates = np.divide(exits, risk, out=np.zeros_like(exits), where=risk > 0)
    np.fill_diagonal(rates, 0.0)
    generator = rates - np.diag(rates.sum(axis=1))
    first = v.stage[first_visits(v)]
    entry = np.bincount(first, minlength=stages).astype(float)
    return Chain(generator, entry / entry.sum())


def _markov(history: History, days: float) -> Point:
    """The chain's expected wins: each open deal's chance from its stage, plus new deals
    at the creation rate of the last ARRIVAL_WINDOW_DAYS; revenue at each open deal's
    amount (the mean won amount where unknown) and the mean won amount for new deals."""
    fitted = chain(history)
    d = history.deals
    if fitted is None or days <= 0 or not history.has_stages:  # a deal table: no moves
        return Point(math.nan, math.nan)
    v = history.visits
    here = np.isnat(v.left) & (d.outcome[v.deal] == OUTCOME_OPEN)
    chance = fitted.won_within(days)[v.stage[here]]
    won_values = d.value[(d.outcome == OUTCOME_WON) & np.isfinite(d.value)]
    typical = float(won_values.mean()) if len(won_values) else math.nan
    values = d.value[v.deal[here]]
    values = np.where(np.isfinite(values), values, typical)
    cut = np.datetime64(history.as_of, "s")
    window = min(ARRIVAL_WINDOW_DAYS, float((cut - d.created.min()) / np.timedelta64(1, "D")))
    recent = int(((d.created > cut - np.timedelta64(int(window * 86400), "s"))
                  & (d.created <= cut)).sum())
    rate = recent / window if window > 0 else 0.0
    new = rate * fitted.new_wins(days)
    return Point(float(chance.sum()) + new,
                 float(np.nansum(chance * values)) + new * typical)


# --- a forecast's track record -------------------------------------------------------------


@dataclass(frozen=True)
class Beaten:
    """A baseline that beat the model on a backtest's history (its MAE below the model's
    over the origins it forecast), and its forecast of a new period."""

    figure: str
    baseline: str
    origins: int
    baseline_mae: float
    model_mae: float
    forecast: float  # the baseline's figure for the new period

    def to_dict(self) -> dict[str, Any]:
        return {"figure": self.figure, "baseline": self.baseline, "origins": self.origins,
                "baseline_mae": number(self.baseline_mae), "model_mae": number(self.model_mae),
                "forecast": number(self.forecast)}


def beaten_by(record: Backtest, history: History, until: dt.datetime) -> list[Beaten]:
    """The baselines that beat the model in *record* (a backtest of the same kind of
    forecast), each with its forecast of the period from *history*'s as-of date to
    *until*: what to set beside a forecast that its own past does not back."""
    found = []
    for figure in FIGURES:
        for key in BASELINES:
            origins, model, other = record.against(figure, key)
            if origins and other < model:
                found.append(Beaten(figure, key, origins, other, model,
                                    baseline(history, key, until).get(figure)))
    return found


BLEND_STEP = 0.05  # the weights tried for a blend: 0, 0.05, ..., 1


@dataclass(frozen=True)
class Blend:
    """The model's neutral case blended with a baseline, by the weight that did best on a
    backtest: weight × model + (1 − weight) × baseline."""

    figure: str
    baseline: str
    weight: float  # the model's
    origins: int
    mae: float  # the blend's over the backtest's origins
    model_mae: float
    forecast: float  # the blend for the new period

    def to_dict(self) -> dict[str, Any]:
        return {"figure": self.figure, "baseline": self.baseline, "model_weight": self.weight,
                "origins": self.origins, "mae": number(self.mae),
                "model_mae": number(self.model_mae), "forecast": number(self.forecast)}


def blend(record: Backtest, history: History, until: dt.datetime, figure: str,
          neutral: float) -> Blend | None:
    """The blend of the model's *neutral* case for *figure* with the best baseline of
    *record* (a backtest of the same kind of forecast), by the weight that gave the least
    MAE over its origins (a grid of BLEND_STEP; ties to the model), for the period from
    *history*'s as-of date to *until*; None when no baseline forecast an origin."""
    best = record.best_baseline(figure)
    if best is None:
        return None
    both = [o for o in record.origins if math.isfinite(o.forecast(figure, best))]
    actual = np.array([o.actual(figure) for o in both])
    model = np.array([o.forecast(figure, MODEL) for o in both])
    other = np.array([o.forecast(figure, best) for o in both])
    weights = np.linspace(1.0, 0.0, round(1 / BLEND_STEP) + 1)  # the model's first
    errors = [float(np.mean(np.abs(w * model + (1 - w) * other - actual))) for w in weights]
    k = int(np.argmin(errors))
    new = baseline(history, best, until).get(figure)
    w = float(weights[k])
    value = w * neutral + (1 - w) * new if math.isfinite(new) else neutral
    return Blend(figure, best, w, len(both), errors[k], errors[0], value)
