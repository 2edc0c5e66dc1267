"""Calibrate a process from its deal history: fit the file's numbers to what happened, say
how sure each is, and write them as a variant that `extends:` the hand-written file.

What is fitted, and how (each with its sample size and 95% interval):

- **Arrivals**: the recent level of deals created per time unit (weighted by recency,
  import bursts left out, with a Poisson interval; salesproc.prediction.rates), and the monthly
  seasonality when the period spans twelve whole months and a chi-square test says the
  months differ.
- **Buyer-type shares** of the deals with a known buyer type (Wilson interval).
- **Deal fields** crm: fields: maps, per buyer type: a category's shares, a number's
  distribution (_fields).
- **Loss reasons** of each stage, as shares (_loss_reasons).
- **Deal values** per buyer type: lognormal or gamma, by maximum likelihood (scipy.stats),
  the better by AIC; written as the mean and sd of the values.
- **Routes** out of every stage, per buyer type: the share of the visits that leave for
  each target had every visit been followed to its end (competing risks, the visits still
  open counted as censored: salesproc.prediction.exits), shrunk towards the file's own shares for
  that buyer type by a Dirichlet prior worth PRIOR_VISITS visits (so a stage a buyer type
  visited 8 times leans on the file, one visited 800 times hardly at all); the interval
  is the Beta posterior's. Where the file's approvals send deals elsewhere, their share
  is taken off first, so the approvals stay as written.
- **Time in stage**, per stage: the stays of the visits that moved on (won or on to
  another stage: moved_on, the open visits censored and the lost ones a competing exit;
  a process draws one stay and then the route, so slow losses must not stretch the time
  to a win); exponential, lognormal, gamma and Weibull fitted to them by maximum
  likelihood, the best by AIC among those the data supports; when even the best misses
  the data's curve by more than the 95% Dvoretzky–Kiefer–Wolfowitz band, the empirical
  distribution (the curve's quantiles) instead.

The history shows how long a deal was in a stage, not who was busy: the fitted time goes
into the stage's `delay` (the prospect's side), with the team's mean work and wait at that
stage — from a short simulation of the file, whose `work` and headcount stay as written —
taken off its mean, and the variance of its work and approvals off its variance, so that
neither queueing nor an approval's spread is counted twice. That keeps the family of the
whole stay but not the split between waiting and working; a stage whose
time is mostly the team's work keeps at least DELAY_FLOOR of its fitted mean as delay.

Small teams still get their numbers: a rate, a deal value or a time in stage resting on
fewer than MIN_OBSERVATIONS observations is the file's number moved towards the data's,
the file weighing as PRIOR_OBSERVATIONS observations (so 29 visits that say 9.6 days
against a file that says 3 give 7.9), with its interval; routes lean on the file's
shares the same way. Below MIN_BLENDED
observations the file's number is kept and listed as "not enough data".
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa

from salesproc.core import layout, units
from salesproc.core.calendar import MONTHS
from salesproc.core.diagnostics import quoted, shown
from salesproc.core.errors import InvalidProcessError, SalesprocError
from salesproc.core.stats import Z95, Estimate, proportion
from salesproc.core.survival import Survival, kaplan_meier
from salesproc.experiments.results import SimulationResult
from salesproc.history.table import (
    LOST_CODE,
    OUTCOME_LOST,
    UNMAPPED,
    History,
    after_the_fact,
    exit_targets,
    first_visits,
    lost_stage,
)
from salesproc.measuring.measurement import inflation
from salesproc.prediction.exits import Onward, exit_curve, onward
from salesproc.prediction.rates import (
    HALF_LIFE_DAYS,
    SHIFT_ALPHA,
    SHIFT_DAYS,
    level_shift,
    recent_rate,
)
from salesproc.process import routing
from salesproc.process.model import LOST, WON, BuyerType, Process, fold
from salesproc.process.variants import related, said_by_setting
from salesproc.version import __version__

MIN_OBSERVATIONS = 30  # deals or visits behind a fitted value, distribution or rate
PRIOR_VISITS = 10.0  # weight of the file's shares in a buyer type's route shares
FIT_SAMPLE = 20_000  # at most this many observations are fitted (a seeded sample)
SHORTEST = 1 / 1440  # a stay of less than a minute is fitted as a minute (logs need > 0)
DELAY_FLOOR = 0.05  # the least share of a stage's fitted mean left to the delay
FAMILIES = ("exponential", "lognormal", "gamma", "weibull")
VALUE_FAMILIES = ("lognormal", "gamma")
DKW_ALPHA = 0.05
EMPIRICAL_POINTS = 50


@dataclass(frozen=True)
class Fitted:
    """A value fitted from the history: the setting it goes to (a `set:` path), its file
    form, what it is in words, how many observations it rests on, its headline number with
    a 95% interval, and how well the chosen form fits."""

    setting: str
    value: Any
    what: str
    n: int
    estimate: float
    low: float
    high: float
    quality: str = ""
    shares: tuple[Share, ...] = ()  # for routes: each target's share of the visits
    blended: bool = False  # the file's number moved towards thin data's (not refined)


@dataclass(frozen=True)
class Share:
    """One way out of a stage: the share of the visits that took it, with its interval."""

    target: str
    share: float
    low: float
    high: float


@dataclass(frozen=True)
class NotEnough:
    """A value the history has too few observations for: the file's number is kept."""

    setting: str
    what: str
    n: int
    needed: int


@dataclass
class Calibration:
    """The fitted values of a process, what was kept, and what to know about them."""

    process: Process
    since: dt.datetime
    until: dt.datetime
    deals: int
    fitted: list[Fitted] = field(default_factory=list)
    kept: list[NotEnough] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def changes(self) -> list[tuple[str, Any]]:
        """The fitted values as (setting, value) changes, values in the file's form (what
        :meth:`Process.with_changes` takes), with how sure each is (`fitted:`, which a
        forecast draws from)."""
        return [("fitted", self.certainty()), *((f.setting, f.value) for f in self.fitted)]

    def certainty(self) -> dict[str, dict[str, Any]]:
        """The `fitted:` block: for each fitted setting, the observations behind it and,
        where it has them, its estimate and 95% interval (four significant digits). A
        process calibrated before keeps the entries of the values not fitted again (the
        block replaces its base's)."""
        refit = {f.setting for f in self.fitted}
        out = {f.setting: _certainty(f.n, f.estimate, f.low, f.high)
               for f in self.process.fitted if not any(related(f.setting, s) for s in refit)}
        for f in self.fitted:  # a share's concentration is its n: its interval is implied
            out[f.setting] = _certainty(f.n) if f.shares else \
                _certainty(f.n, f.estimate, f.low, f.high)
        return out

    COLUMNS = ("setting", "what", "estimate", "low", "high", "n", "quality", "blended",
               "value")

    def rows(self) -> list[list[Any]]:
        """One row per fitted value (COLUMNS): its setting, what it is, its headline number
        with the 95% interval and the observations behind it, how well its form fits, and
        the value as the variant file writes it (YAML's flow form)."""
        import json

        return [[f.setting, f.what, f.estimate, f.low, f.high, f.n, f.quality, f.blended,
                 json.dumps(f.value)] for f in self.fitted]

    def to_frame(self) -> Any:
        """The fitted values as a pandas DataFrame (needs pandas)."""
        return layout.frame(self.rows(), self.COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        """The calibration as data: period, fitted values, values kept, notes."""
        return {**layout.header("calibration"), "process": self.process.source,
                "since": self.since.isoformat(), "until": self.until.isoformat(),
                "deals": self.deals,
                "fitted": [{"setting": f.setting, "value": f.value, "what": f.what,
                            "estimate": layout.estimate(Estimate(f.estimate, f.low, f.high,
                                                                 f.n)),
                            "quality": f.quality, "blended": f.blended,
                            "shares": [{"target": s.target, "share": layout.number(s.share),
                                        "low": layout.number(s.low),
                                        "high": layout.number(s.high)} for s in f.shares]}
                           for f in self.fitted],
                "not_enough_data": [k.__dict__ for k in self.kept], "notes": self.notes}

    def to_yaml(self, output: str | os.PathLike[str]) -> str:
        """The variant file to write at *output*: `extends:` the process's file, the fitted
        values under `set:`, each with a comment (n, 95% interval, fit). The path to the
        base is from where *output* really is (symlinked folders resolved), as a variant's
        `extends:` is read."""
        base = self.process.source or "process.yaml"
        extends = os.path.relpath(os.path.realpath(base),
                                  os.path.realpath(os.path.dirname(os.path.abspath(output))))
        lines = [
            f"# Calibrated by salesproc {__version__} from {self.deals:,} deals created "
            f"{self.since:%Y-%m-%d} to {self.until:%Y-%m-%d}.",
            "# Each value: the observations it rests on, its 95% interval, how it was fitted.",
            "# Times in stage are the prospect-side delay: the team's work and headcount stay",
            "# as in the base file, and their mean time is taken off (so queueing is not",
            "# counted twice).",
            "salesproc: 1",
            f"extends: {json.dumps(extends)}",
            f"name: {json.dumps(self.process.name + ' (calibrated)')}",
            "set:",
        ]
        for f in self.fitted:
            lines.append(shown(f"  # {f.what}: n={f.n:,}; " + (  # CRM words: one line
                f.quality if f.shares else f"95% {_num(f.low)}–{_num(f.high)}"
                + (f"; {f.quality}" if f.quality else ""))))
            lines.append(f"  {f.setting}: {flow(f.value)}")
        if self.fitted:
            lines += ["# How sure each value is (observations, estimate, 95% interval):",
                      "# `salesproc forecast` draws them from it; a later change drops one.",
                      "fitted:"]
            lines += [f"  {f}: {flow(v)}" for f, v in self.certainty().items()]
        if self.kept:
            lines.append("# Not enough data (the base file's value is kept):")
            lines += [f"#   {k.setting} ({k.what}): {k.n} observations, {k.needed} needed"
                      for k in self.kept]
        lines += [f"# Note: {shown(note)}" for note in self.notes]  # CRM words: one line each
        return "\n".join(lines) + "\n"


def _certainty(n: int, estimate: float = math.nan, low: float = math.nan,
               high: float = math.nan) -> dict[str, Any]:
    """One `fitted:` entry: the observations, and the estimate and interval it has (four
    significant digits)."""
    return {"n": int(n), **{k: _round(float(x)) for k, x in
                            (("estimate", estimate), ("low", low), ("high", high))
                            if math.isfinite(x)}}


def flow(value: Any) -> str:
    """A fitted value as YAML flow text: {lognormal: {mean: 6093.0, sd: 2122.0}}. Keys
    that are ids stay plain; the others (a CRM's loss reasons and categories, which may
    hold anything: 'No', 'price: too high', '#1') are quoted, as JSON strings are."""
    if isinstance(value, dict):
        return "{" + ", ".join(_pair(str(k), flow(v)) for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return _text(value) if isinstance(value, str) else json.dumps(value)


_PLAIN = re.compile(r"[a-z_][a-z0-9_]*")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}  # YAML 1.1's


LONGEST_KEY = 1000  # YAML's implicit keys end at 1024 characters: longer ones are explicit


def _pair(key: str, value: str) -> str:
    """One `key: value` of a flow mapping; a key too long for an implicit key (a CRM's
    free-text loss reason) written as an explicit one (`? "…" : value`)."""
    text = _key(key)
    return f"? {text} : {value}" if len(text) > LONGEST_KEY else f"{text}: {value}"


def _key(key: str) -> str:
    return key if _PLAIN.fullmatch(key) and key not in _YAML_WORDS else _text(key)


def _text(text: str) -> str:
    """*text* as a YAML double-quoted string (JSON's), letters as they are and what does
    not print escaped."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF
                   else f"\\U{ord(c):08x}" for c in json.dumps(text, ensure_ascii=False))


def _num(x: float) -> str:
    if not math.isfinite(x):
        return "–"
    return f"{x:,.4g}" if abs(x) < 1000 else f"{x:,.0f}"


# --- calibrating ---------------------------------------------------------------------------


def calibrate(history: History, *, since: dt.datetime | None = None,
              team: TeamTime | None = None, refine: bool = True) -> Calibration:
    """Fit *history*'s process to it: arrivals, shares, values, routes and times in stage
    of the deals created since *since* (or the first, if it is later). *team* is the
    team's time per visit of each stage (default: team_days, from a simulation of the
    process). With *refine*, each delay is then corrected by simulating the fitted
    process over the period until its mean time in stage meets the history's."""
    process = history.process
    created = history.deals.created
    first = created.min()  # before the first deal, no time counts (arrivals per week)
    start = max(np.datetime64(since, "s"), first) if since is not None else first
    late = after_the_fact(history.deals)
    chosen = (created >= start) & ~late
    cal = Calibration(process, _datetime(start), history.as_of, int(chosen.sum()))
    if not chosen.any():
        return cal
    if late.any():
        cal.notes.append(f"{int(late.sum()):,} deals were entered after the fact (won within "
                         "an hour of being created): left out of every fitted value (the "
                         "forecast adds them as their own stream)")
    _arrivals(cal, history, chosen, start)
    _shares(cal, history, chosen)
    _values(cal, history, chosen)
    _fields(cal, history, chosen)
    if not history.has_stages:  # a deal table: no visit says how deals moved
        cal.notes.append("a deal table has no stage history: the routes, times in stage and "
                         "entry stages keep the file's values")
        return cal
    _routes(cal, history, chosen)
    _times(cal, history, chosen, team_days(process) if team is None else team)
    _entries(cal, history, chosen)
    _loss_reasons(cal, history, chosen)
    if refine and process.arrivals is not None and process.origin is not None:
        _refine_delays(cal, history, chosen)
    return cal


def _datetime(t: np.datetime64) -> dt.datetime:
    return t.astype("datetime64[s]").astype(dt.datetime)  # type: ignore[no-any-return]


def _arrivals(cal: Calibration, history: History, chosen: np.ndarray,
              start: np.datetime64) -> None:
    """The arrival rate: the recent level (rates.recent_rate: weighted by recency, import
    bursts left out, measured against the months' multipliers the process will apply),
    blended with the file's rate by the weight of the evidence where it is thin; the
    monthly seasonality only where a test says the months differ."""
    process = cal.process
    end = np.datetime64(history.as_of, "s")
    days = (end - start) / np.timedelta64(1, "D")
    created = history.deals.created[chosen]
    per = process.arrivals.per if process.arrivals is not None else process.time_unit
    unit_days = units.convert(1.0, per, "day")
    if not len(created) or days <= 0:
        cal.kept.append(NotEnough("arrivals.rate", f"leads per {per}", len(created),
                                  MIN_OBSERVATIONS))
        return
    skip = _bursts(cal, created, history.as_of)
    seasons, p_value = _seasonality(created, start, end, skip)
    file_months = process.arrivals.months if process.arrivals is not None else (1.0,) * 12
    months = tuple(seasons.values()) if seasons is not None else file_months
    rate = recent_rate(created, start, end, skip=skip, months=months)
    n = round(rate.n)
    file_per_day = (process.arrivals.rate if process.arrivals is not None else 0.0) \
        / units.convert(1.0, process.time_unit, "day")  # the file's rate is per time unit
    per_day, low, high, words = rate.per_day, rate.low, rate.high, \
        f"the recent level (half-life {HALF_LIFE_DAYS:g} days) over {days:,.0f} days"
    if n < MIN_OBSERVATIONS and file_per_day > 0:
        per_day, low, high = (_blend(x, rate.n, file_per_day) for x in (per_day, low, high))
        words += (f"; blended with the file's {file_per_day * unit_days:,.4g} as if it were "
                  f"{PRIOR_OBSERVATIONS:g} observations")
    cal.fitted.append(Fitted("arrivals.rate", _round(per_day * unit_days),
                             f"new deals per {per}", n, per_day * unit_days,
                             low * unit_days, high * unit_days, words))
    shift = level_shift(created, start, end)
    if shift is not None and shift[1] < SHIFT_ALPHA:
        cal.notes.append(f"new deals: the last {SHIFT_DAYS:g} days ran at {shift[0]:.2f} times "
                         f"the rate before them (p = {shift[1]:.2g}): the recent level is "
                         "the one fitted")
    if process.arrivals is not None and process.arrivals.campaigns:
        cal.notes.append("the file's campaigns are kept: the fitted rate already includes "
                         "the leads of past campaigns, so leave out those that are over")
    if seasons is not None:
        has = process.arrivals is not None and process.arrivals.seasonal
        setting = "arrivals.seasonality.months" if has else "arrivals.seasonality"
        value: Any = seasons if has else {"months": seasons}
        cal.fitted.append(Fitted(setting, value, "new deals by month, as multipliers of the "
                                 "rate", len(created), 1.0, math.nan, math.nan,
                                 f"the months differ (chi-square p = {p_value:.2g}); "
                                 f"multipliers {min(seasons.values()):.2f} to "
                                 f"{max(seasons.values()):.2f}"))
    elif p_value == p_value:
        cal.notes.append(f"new deals by calendar month: no pattern the data supports "
                         f"(chi-square p = {p_value:.2g}); the file's months are kept")


PRIOR_OBSERVATIONS = 10.0  # the file's number weighs as much as this many observations


def _blend(data: float, n: float, prior: float) -> float:
    """The data's *data* (from *n* observations) and the file's *prior*, weighed by the
    evidence: the prior counts as PRIOR_OBSERVATIONS observations."""
    return (n * data + PRIOR_OBSERVATIONS * prior) / (n + PRIOR_OBSERVATIONS)


def _bursts(cal: Calibration, created: np.ndarray, as_of: dt.datetime
            ) -> list[tuple[np.datetime64, np.datetime64]]:
    """Import bursts (history.quality.bursts) as windows the arrival rate leaves out."""
    from salesproc.history.quality import bursts

    out: list[tuple[np.datetime64, np.datetime64]] = []
    for b in bursts(created, as_of):
        out.append((np.datetime64(b.first, "s"), np.datetime64(b.last, "s")
                    + np.timedelta64(1, "D")))
        cal.notes.append(f"{b.deals:,} deals created {b.first:%Y-%m-%d} to {b.last:%Y-%m-%d} "
                         f"(about {b.expected:,.0f} usual): an import burst, left out of the "
                         "arrival rate")
    return out


SEASON_ALPHA = 0.05


def _seasonality(created: np.ndarray, start: np.datetime64, end: np.datetime64,
                 skip: list[tuple[np.datetime64, np.datetime64]]
                 ) -> tuple[dict[str, float] | None, float]:
    """Monthly multipliers of the rate (averaging 1) and the p-value of the chi-square
    test that the calendar months share one rate, when the period holds every calendar
    month whole at least once (else None and NaN); multipliers only where p < SEASON_ALPHA.
    Months a *skip* window touches are left out."""
    from scipy.stats import chi2

    first = (start.astype("datetime64[M]") + 1)  # whole months only
    last = end.astype("datetime64[M]")  # the month of the end is not whole
    if last - first < 12:
        return None, math.nan
    months = created.astype("datetime64[M]")
    counts = np.zeros(12)
    days = np.zeros(12)
    for month in np.arange(first, last):
        begin, after = month.astype("datetime64[s]"), (month + 1).astype("datetime64[s]")
        if any(a < after and b > begin for a, b in skip):
            continue
        index = int(str(month)[5:7]) - 1
        counts[index] += int((months == month).sum())
        days[index] += ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")
                        ).astype(int)
    seen = days > 0
    if seen.sum() < 12 or counts.sum() <= 0:
        return None, math.nan
    expected = counts.sum() * days / days.sum()
    p_value = float(chi2.sf(float(((counts - expected) ** 2 / expected).sum()), 11))
    if p_value >= SEASON_ALPHA:
        return None, p_value
    rates = counts / days
    multipliers = rates / rates.mean()
    rounded = np.round(multipliers, 3)
    rounded[int(np.argmax(rounded))] += round(12 - float(rounded.sum()), 3)
    return {name: float(round(v, 3)) for name, v in zip(MONTHS, rounded, strict=True)}, \
        p_value


def _round(x: float) -> float:
    return float(f"{x:.4g}")


def _shares(cal: Calibration, history: History, chosen: np.ndarray) -> None:
    buyers = list(cal.process.buyer_types)
    kinds = history.deals.buyer[chosen]
    known = kinds[kinds >= 0]
    if len(buyers) < 2:
        return
    if len(known) < MIN_OBSERVATIONS:
        cal.kept.append(NotEnough("buyer_types.*.share", "buyer-type shares", len(known),
                                  MIN_OBSERVATIONS))
        return
    counts = np.bincount(known, minlength=len(buyers))
    shares = np.floor(counts / len(known) * 1e4) / 1e4
    shares[int(np.argmax(shares))] += 1.0 - shares.sum()
    for k, b in enumerate(buyers):
        e = proportion(int(counts[k]), len(known))
        cal.fitted.append(Fitted(f"buyer_types.{b}.share", round(float(shares[k]), 4),
                                 f"share of new deals that are {b}", len(known), e.mean,
                                 e.low, e.high))
    unknown = int((kinds < 0).sum())
    if unknown:
        cal.notes.append(f"{unknown:,} deals have no buyer type (no crm: rule matched): "
                         "left out of the shares")


def _values(cal: Calibration, history: History, chosen: np.ndarray) -> None:
    for k, b in enumerate(cal.process.buyer_types):
        values = history.deals.value[chosen & (history.deals.buyer == k)]
        values = values[np.isfinite(values) & (values > 0)]
        setting = f"buyer_types.{b}.value"
        if len(values) < MIN_BLENDED:
            cal.kept.append(NotEnough(setting, f"deal value of {b}", len(values),
                                      MIN_BLENDED))
            continue
        if len(values) < MIN_OBSERVATIONS:  # the file's value, moved towards the data's
            prior = cal.process.buyer_types[b].value
            mean = _blend(float(values.mean()), len(values), prior.mean)
            half = Z95 * values.std(ddof=1) / math.sqrt(len(values))
            cal.fitted.append(Fitted(
                setting, {"lognormal": {"mean": _round(mean),
                                        "sd": _round(prior.sd / prior.mean * mean)}}
                if prior.sd > 0 and prior.mean > 0 else {"fixed": _round(mean)},
                f"deal value of {b} ({cal.process.currency}), blended with the file's",
                len(values), mean, _blend(max(0.0, values.mean() - half), len(values),
                                          prior.mean),
                _blend(values.mean() + half, len(values), prior.mean),
                f"{len(values)} values, too few to fit a distribution: their mean and the "
                f"file's, the file weighing as {PRIOR_OBSERVATIONS:g} deals"))
            continue
        fit = fit_distribution(values, np.ones(len(values), dtype=bool), VALUE_FAMILIES)
        half = Z95 * values.std(ddof=1) / math.sqrt(len(values))
        cal.fitted.append(Fitted(setting, fit.spec(), f"deal value of {b} "
                                 f"({cal.process.currency})", len(values), fit.mean,
                                 max(0.0, values.mean() - half), values.mean() + half,
                                 fit.quality()))


# --- fitting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """The best of several families fitted to (possibly censored) observations."""

    family: str
    mean: float
    sd: float
    aic: dict[str, float]
    distance: float  # the largest gap between the fitted CDF and the Kaplan–Meier curve
    band: float  # the 95% DKW band that gap is judged against
    empirical: tuple[float, ...] = ()

    @property
    def fits(self) -> bool:
        return self.distance <= self.band

    def spec(self) -> Any:
        """The file form of the fitted distribution (mean and sd, or the values)."""
        if self.empirical:
            return {"empirical": [_round(v) for v in self.empirical]}
        if self.family == "fixed":
            return {"fixed": _round(self.mean)}
        if self.family == "exponential":
            return {"exponential": {"mean": _round(self.mean)}}
        return {self.family: {"mean": _round(self.mean), "sd": _round(self.sd)}}

    def quality(self) -> str:
        best = min(self.aic.values())
        others = ", ".join(f"{k} +{v - best:,.1f}" for k, v in sorted(self.aic.items(),
                                                                       key=lambda kv: kv[1])
                           if v > best)
        chosen = f"{self.family} by AIC" + (f" ({others})" if others else "")
        if math.isinf(self.distance):
            return (f"no family the data supports ({chosen}: its mean is outside what the "
                    "values seen allow): empirical")
        gap = f"gap to the data {self.distance:.3f} (95% band {self.band:.3f})"
        if self.empirical:
            return f"no family fits ({chosen}; {gap}): empirical"
        return f"{chosen}; {gap}"


_SCIPY = {"exponential": "expon", "lognormal": "lognorm", "gamma": "gamma",
          "weibull": "weibull_min"}


def fit_distribution(values: np.ndarray, ended: np.ndarray,
                     families: tuple[str, ...] = FAMILIES) -> Fit:
    """Fit each family by maximum likelihood with the unended observations right-censored
    (scipy.stats), choose by AIC, and judge the choice against the Kaplan–Meier curve."""
    from scipy import stats

    values, ended = _sample(np.maximum(values, SHORTEST), ended)
    if float(values.std()) <= 1e-4 * float(values.mean()):  # every stay as long (to seconds)
        return Fit("fixed", float(values.mean()), 0.0, {"fixed": 0.0}, 0.0, 1.0)
    data = stats.CensoredData(uncensored=values[ended], right=values[~ended])
    curve = kaplan_meier(values, ended)
    found: dict[str, Any] = {}
    aic: dict[str, float] = {}
    for family in families:
        dist = getattr(stats, _SCIPY[family])
        try:
            with np.errstate(all="ignore"):
                params = dist.fit(data, floc=0)
                frozen = dist(*params)
                loglik = float(frozen.logpdf(values[ended]).sum()
                               + frozen.logsf(values[~ended]).sum())
        except (stats.FitError, ValueError, RuntimeError):  # no fit of this family: others
            continue
        if not math.isfinite(loglik) or not math.isfinite(float(frozen.mean())):
            continue
        found[family] = frozen
        aic[family] = 2 * (1 if family == "exponential" else 2) - 2 * loglik
    if not aic:  # no family could be fitted at all: the curve itself
        return _empirical(curve, values, Fit("exponential", math.nan, math.nan,
                                             {"exponential": math.inf}, math.inf, 0.0))
    supported = {k: a for k, a in aic.items() if _supported(found[k], curve)}
    if not supported:  # no family the data can support: the curve itself
        return _empirical(curve, values, Fit(min(aic, key=lambda k: aic[k]), math.nan,
                                             math.nan, aic, math.inf, 0.0))
    best = min(supported, key=lambda k: supported[k])
    frozen = found[best]
    seen = 1.0 - curve.survival
    distance = float(np.max(np.abs(frozen.cdf(curve.times) - seen))) if len(curve.times) else 0.0
    band = math.sqrt(math.log(2 / DKW_ALPHA) / (2 * max(1, int(ended.sum()))))
    fit = Fit(best, float(frozen.mean()), float(frozen.std()), aic, distance, band)
    if fit.fits or len(curve.times) < 2:
        return fit
    return _empirical(curve, values, fit)


SUPPORT_SPAN = 2.0  # a fitted mean may be at most this many times the longest value seen


def _supported(frozen: Any, curve: Survival) -> bool:
    """Whether the data can support a fitted distribution: its mean restricted to the
    longest value seen lies within the 95% interval of the Kaplan–Meier one (like with
    like: censored data say nothing past that), and its mean is at most SUPPORT_SPAN
    times that longest value (a lognormal fitted to a few long open stays can put its
    mean at millions of days)."""
    mean = float(frozen.mean())
    if not math.isfinite(mean) or mean > SUPPORT_SPAN * curve.largest:
        return False
    _, low, high = curve.restricted_mean()
    from scipy.integrate import trapezoid

    grid = np.linspace(0.0, curve.largest, 400)
    restricted = float(trapezoid(frozen.sf(grid), grid))
    slack = 1e-9 * max(1.0, high)
    return not (math.isfinite(low) and math.isfinite(high)) or \
        low - slack <= restricted <= high + slack


def _empirical(curve: Survival, values: np.ndarray, fit: Fit) -> Fit:
    """The Kaplan–Meier curve's quantiles as the distribution (where it never falls that
    low: the longest value seen), keeping what *fit* said of the families."""
    points = [curve.quantile(q) for q in (np.arange(EMPIRICAL_POINTS) + 0.5) / EMPIRICAL_POINTS]
    kept = [p if math.isfinite(p) else float(values.max()) for p in points]
    return Fit(fit.family, float(np.mean(kept)), float(np.std(kept)), fit.aic, fit.distance,
               fit.band, tuple(kept))


def _sample(values: np.ndarray, ended: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(values) <= FIT_SAMPLE:
        return values, ended
    pick = np.random.default_rng(20).choice(len(values), FIT_SAMPLE, replace=False)
    return values[pick], ended[pick]


# --- routes --------------------------------------------------------------------------------


def stalled(history: History) -> np.ndarray:
    """Which visits are stalled: still open, and older than every visit of their stage
    that ended, where MIN_OBSERVATIONS visits there have ended (nothing in the history
    ever left that stage so late; with fewer, the longest stay seen says too little). A
    deal nobody closed is lost in all but name: routes count these visits as lost, and
    the fitted times in stage leave them out (how long they sat says nothing of how long
    a move takes)."""
    v = history.visits
    days, ended = history.stays
    stages = len(history.process.stages)
    longest = np.full(stages, -1.0)
    if ended.any():
        np.maximum.at(longest, v.stage[ended], days[ended])
    enough = np.bincount(v.stage[ended], minlength=stages) >= MIN_OBSERVATIONS
    out: np.ndarray = ~ended & (days > longest[v.stage]) & enough[v.stage]
    return out


def _routes(cal: Calibration, history: History, chosen: np.ndarray) -> None:
    """Each stage's routes per buyer type: the share of its visits that leave for each
    target, had every visit been followed to its end (exits.exit_curve: the visits still
    open at the as-of date count as censored, so slow exits are not undercounted)."""
    process, v = cal.process, history.visits
    stage_ids = list(process.stages)
    days, ended = history.stays
    stuck = stalled(history)
    exit_code = np.where(stuck, LOST_CODE, v.exit)
    ended = ended | stuck
    if (stuck & chosen[v.deal]).any():
        cal.notes.append(f"{int((stuck & chosen[v.deal]).sum()):,} open deals sit in their "
                         "stage longer than any deal ever left it: counted as lost in the "
                         "routes, and left out of the times in stage")
    seen = chosen[v.deal] & (v.exit != UNMAPPED)
    done = seen & ended
    single = len(process.buyer_types) == 1
    off_path = 0
    for s, sid in enumerate(stage_ids):
        here = seen & (v.stage == s)
        for k, (b, buyer) in enumerate(process.buyer_types.items()):
            if sid not in buyer.stages:
                continue
            targets = exit_targets(stage_ids, buyer.path, sid)
            mine = here & (history.deals.buyer[v.deal] == k)
            off_path += int((mine & done & ~np.isin(exit_code, targets)).sum())
            curve = exit_curve(days[mine], exit_code[mine], ended[mine], targets)
            total = curve.ended
            setting = f"stages.{sid}.next" if single else f"buyer_types.{b}.stages.{sid}.next"
            if total < MIN_BLENDED:
                cal.kept.append(NotEnough(setting, f"routes of {b} out of {sid}", total,
                                          MIN_BLENDED))
                continue
            names = [LOST, WON] + [stage_ids[t] for t in targets[2:]]
            # the prior: the file's own shares for this buyer type (the other buyer types'
            # visits would pull it towards routes its path may not even have)
            pooled = _file_shares(buyer, sid, names)
            counts = curve.shares() * total  # as many visits, none left open
            shares = (counts + PRIOR_VISITS * pooled) / (total + PRIOR_VISITS)
            cal.fitted.append(route_values(setting, b, buyer, sid, names, shares,
                                            counts, pooled, total))
    if off_path:
        cal.notes.append(f"{off_path:,} moves to stages off a buyer type's path are left out "
                         "of its routes (the base file's paths stay as written)")


def _file_shares(buyer: BuyerType, sid: str, targets: list[str]) -> np.ndarray:
    """The file's shares of each of *targets* out of *sid* for *buyer* (approvals
    included, as the history would see them)."""
    shares = dict.fromkeys(targets, 0.0)
    for e in routing.exits(buyer.stages[sid], buyer):
        if e.target in shares:
            shares[e.target] += e.share
    total = math.fsum(shares.values())
    return np.array([shares[t] / total if total > 0 else 1 / len(targets) for t in targets])


def route_values(setting: str, b: str, buyer: BuyerType, sid: str, targets: list[str],
                  shares: np.ndarray, counts: np.ndarray, pooled: np.ndarray, total: int
                  ) -> Fitted:
    """The `next:` of a stage from the shares of the visits' exits, with what the file's
    approvals decide taken off first (they stay as written), and one comment per route."""
    rejected = {e.target: e.share for e in routing.exits(buyer.stages[sid], buyer)
                if e.approval is not None}
    written = {t for t, _ in routing.routes(buyer.stages[sid])}
    passed = 1.0 - sum(rejected.values())
    own: dict[str, float] = {}
    extra: list[str] = []
    excess = 0.0
    for target, share in zip(targets, shares, strict=True):
        if target == LOST:
            continue
        mine = max(0.0, float(share) - rejected.get(target, 0.0)) / passed if passed > 0 \
            else 0.0
        if target in rejected and target not in written:  # only an approval sends deals
            if mine > 0:  # there: more than it rejects is its spread, no new route
                excess += mine
                extra.append(f"{mine:.1%} more went back to {target} than the approvals "
                             "send there: the approvals stay as written")
            continue
        own[target] = mine
    keep = 1.0 / (1.0 - excess) if excess < 1.0 else 1.0  # the rest share what is left
    # fewer rejections than the file says leave the others more than all who passed: the
    # shares are scaled to add up to one at most (the file's approvals stay as written)
    keep /= max(1.0, math.fsum(own.values()) * keep)
    routes = {t: math.floor(x * keep * 1e4) / 1e4 for t, x in own.items() if x > 0}
    _, low, high = _dirichlet(counts, pooled, PRIOR_VISITS)
    parts = tuple(Share(t, float(s), float(lo), float(hi)) for t, s, lo, hi in
                  zip(targets, shares, low, high, strict=True) if s > 0)
    detail = ", ".join(f"{p.target} {p.share:.1%} ({p.low:.1%}–{p.high:.1%})" for p in parts)
    won = next((p for p in parts if p.target == WON), Share(WON, 0.0, 0.0, 0.0))
    return Fitted(setting, routes, f"where {b} deals go from {sid}", total,
                  won.share, won.low, won.high,
                  f"{detail} of the visits (shrunk by a prior of {PRIOR_VISITS:g} visits)"
                  + "".join(f"; {x}" for x in extra), parts)


# --- time in stage -------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamTime:
    """The team's time per visit of each stage, in days: its *mean* (work, the wait for
    people and approvals) and the *variance* of the part from the start of the work to
    the end of the approvals (what a stage's delay must not hold a second time)."""

    mean: Mapping[str, float]
    variance: Mapping[str, float]


def team_days(process: Process) -> TeamTime:
    """The team's time per visit of each stage, from a short simulation of the file
    (nothing, without arrivals)."""
    if process.arrivals is None:
        return TeamTime({}, {})
    from salesproc.experiments.experiment import remembered, resolve_settings

    settings = resolve_settings(process, replications=min(process.simulation.replications, 5),
                                workers=1)
    result = remembered(process, settings, events=True)
    days = units.convert(1.0, process.time_unit, "day")
    spans: dict[str, list[float]] = {}
    for visit in result.events or ():
        if visit.finished == visit.finished:  # NaN: still there at the end
            spans.setdefault(visit.stage, []).append((visit.finished - visit.started) * days)
    return TeamTime(team_time(result), {sid: float(np.var(t)) for sid, t in spans.items()
                                        if len(t) >= 2})


def team_time(result: SimulationResult) -> dict[str, float]:
    """The team's mean work, wait for people (busy, or off for the day) and approval time
    per visit of each stage of a simulation, in days."""
    days = units.convert(1.0, result.process.time_unit, "day")
    out = {}
    for sid in result.process.stages:
        parts = [result.get("stage", sid, m).mean
                 for m in ("queue", "after_hours", "work", "approval")]
        out[sid] = math.fsum(p for p in parts if math.isfinite(p)) * days
    return out


def moved_on(history: History, here: np.ndarray) -> Onward:
    """The stays of the visits *here* (a mask of the history's visits, one stage) that
    moved on (exits.onward): the time a deal takes at a stage before it is won or goes
    on, the visits still open censored and the lost ones a competing exit. Moves to a
    stage the mapping does not know count as still going."""
    days, ended = history.stays
    v = history.visits
    known = ended[here] & (v.exit[here] != UNMAPPED)
    return onward(days[here], known, v.exit[here] == LOST_CODE)


def _times(cal: Calibration, history: History, chosen: np.ndarray,
           team: TeamTime) -> None:
    """Each stage's delay: the time its deals take there before they move on (moved_on),
    the team's work and waiting taken off. Not the time of every visit: a process draws
    one stay per visit and then its route, and the visits that ended lost (a deal
    closed after months of silence) would otherwise stretch the time to every win."""
    process, v = cal.process, history.visits
    unit = process.time_unit
    moving = chosen[v.deal] & ~stalled(history)
    for s, sid in enumerate(process.stages):
        here = moving & (v.stage == s)
        setting = f"stages.{sid}.delay"
        on = moved_on(history, here)
        own = team.mean.get(sid, 0.0)
        if on.n < MIN_OBSERVATIONS:
            if on.n < MIN_BLENDED:
                cal.kept.append(NotEnough(setting, f"time in {sid}", on.n, MIN_BLENDED))
            else:
                cal.fitted.append(_blended_delay(process, sid, on, own,
                                                 _mean_interval(on, history, here)))
            continue
        fit = fit_distribution(on.sample(), np.ones(on.n, dtype=bool))
        low, high = _mean_interval(on, history, here)
        spec = _delay(fit, max(fit.mean - own, DELAY_FLOOR * fit.mean),
                      team.variance.get(sid, 0.0), unit)
        team_words = f"; the team's {own:,.2f} days of work and waiting taken off" if own else ""
        others = int(here.sum()) - on.n
        cal.fitted.append(Fitted(setting, spec, f"days in {sid} before moving on ({others:,} "
                                 "other visits lost or still open, counted as such)", on.n,
                                 fit.mean, low, high, fit.quality() + team_words))


def _mean_interval(on: Onward, history: History, here: np.ndarray) -> tuple[float, float]:
    """The 95% interval of the mean stay of the visits that moved on (normal, on as many
    stays as moved on), widened where the stays at the stage hang together from month to
    month (measurement.inflation: deals that enter in a busy month all wait longer)."""
    days, ended = history.stays
    widen = math.sqrt(inflation(days[here], ended[here], history.visits.entered[here]))
    half = Z95 * widen * on.sd() / math.sqrt(max(1, on.n))
    return max(0.0, on.mean() - half), on.mean() + half


MIN_BLENDED = 5  # visits that moved on behind a time in stage blended with the file's


def _blended_delay(process: Process, sid: str, on: Onward, own: float,
                   interval: tuple[float, float]) -> Fitted:
    """A stage seen too few times for a distribution to be fitted: the file's delay with
    its mean moved towards the history's (the mean stay of the visits that moved on, the
    team's time taken off), the file's mean weighing as PRIOR_OBSERVATIONS visits, its
    spread kept in proportion."""
    unit = process.time_unit
    to_days = units.convert(1.0, unit, "day")
    delay = process.stages[sid].delay
    prior = delay.mean * to_days if delay is not None else 0.0
    seen = on.n
    mean = on.mean()
    low, high = interval
    data = max(mean - own, DELAY_FLOOR * mean)
    blended = _blend(data, seen, prior)
    spread = delay.sd / delay.mean if delay is not None and delay.mean > 0 else 1.0

    def time(x: float) -> float:
        return _round(units.convert(max(x, 0.0), "day", unit))

    spec: Any = {"exponential": {"mean": time(blended)}} if abs(spread - 1.0) < 1e-9 else \
        {"fixed": time(blended)} if spread <= 0 else \
        {"gamma": {"mean": time(blended), "sd": time(spread * blended)}}
    return Fitted(f"stages.{sid}.delay", spec, f"days in {sid}, blended with the file's",
                  seen, _blend(mean, seen, prior + own), _blend(low, seen, prior + own),
                  _blend(high, seen, prior + own),
                  f"{seen} visits moved on, too few to fit a distribution: the history's "
                  f"{mean:,.2f} days and the file's {prior + own:,.2f}, the file weighing "
                  f"as {PRIOR_OBSERVATIONS:g} visits", blended=True)


REFINE_ROUNDS = 2  # the first round moves each delay by the gap, the second by what is left
REFINE_RUNS = 4  # each a run of the whole period: thousands of visits a stage
REFINE_CLOSE = 0.02  # a simulated time in stage this close to the history's is met


def _refine_delays(cal: Calibration, history: History, chosen: np.ndarray) -> None:
    """Correct each stage's delay by simulation: the team's time in a stage is not simply
    added to the delay (work waits for working hours, queues depend on the load), so the
    fitted process is simulated over the history's period from an empty pipeline, and
    each delay's mean is moved by the gap between the history's time in stage and the
    simulated one, a few rounds. Like is compared with like: on both sides the mean
    stay before a move on (moved_on) up to the same age, the visits still open at the
    end of the period counted as censored (the simulated ones cut where the history's
    are) and the lost ones a competing exit."""
    from salesproc.experiments.experiment import resolve_settings, simulate

    days, _ = history.stays
    v = history.visits
    stuck = stalled(history)
    target: dict[str, tuple[float, float]] = {}  # stage -> (restricted mean, up to)
    for s, sid in enumerate(cal.process.stages):
        here = chosen[v.deal] & (v.stage == s) & ~stuck
        on = moved_on(history, here)
        if on.n:
            largest = float(days[here].max())
            target[sid] = (on.mean(largest), largest)
    unit = cal.process.time_unit
    to_days = units.convert(1.0, unit, "day")
    for _ in range(REFINE_ROUNDS):
        process = fitted_process(cal, period=True)
        result = simulate(process, resolve_settings(process, replications=REFINE_RUNS,
                                                    workers=1), events=True)
        simulated = _restricted_means(result, process.simulation.horizon * to_days, target)
        if all(abs(simulated[sid] - goal) <= REFINE_CLOSE * goal
               for sid, (goal, _) in target.items() if math.isfinite(simulated.get(
                   sid, math.nan))):
            return  # every stage within REFINE_CLOSE of the history's: no round helps
        for k, f in enumerate(cal.fitted):
            sid = f.setting.removeprefix("stages.").removesuffix(".delay")
            if not f.setting.endswith(".delay") or f.blended or not math.isfinite(
                    simulated.get(sid, math.nan)):
                continue
            mean = spec_mean(f.value) * to_days
            goal = target[sid][0]
            better = min(max(mean + goal - simulated[sid], DELAY_FLOOR * goal, mean / 2),
                         mean * 2)  # at most halved or doubled a round
            cal.fitted[k] = replace(f, value=with_mean(f.value, units.convert(
                better, "day", unit)))


def _restricted_means(result: SimulationResult, end: float,
                      target: Mapping[str, tuple[float, float]]) -> dict[str, float]:
    """Per stage, the mean stay of the simulated visits that moved on (exits.onward),
    each counted up to the history's age (*target*), the visits open at the period's
    *end* (days) censored and the lost ones a competing exit, as the history's are."""
    days = units.convert(1.0, result.process.time_unit, "day")
    found: dict[str, tuple[list[float], list[bool], list[bool]]] = {}
    for visit in result.events or ():
        stays, done, lost = found.setdefault(visit.stage, ([], [], []))
        over = visit.finished == visit.finished  # NaN: still there at the end
        stays.append(((visit.finished if over else end / days) - visit.entered) * days)
        done.append(over)
        lost.append(visit.outcome.startswith(LOST))
    return {sid: onward(np.asarray(t), np.asarray(e), np.asarray(x)).mean(target[sid][1])
            for sid, (t, e, x) in found.items() if sid in target}


def spec_mean(spec: Any) -> float:
    """The mean of a distribution in its file form ({gamma: {mean: 3, sd: 1}}: 3)."""
    ((family, params),) = spec.items()
    if family == "empirical":
        return float(np.mean(params))
    return float(params if family == "fixed" else params["mean"])


def with_mean(spec: Any, mean: float) -> Any:
    """A delay's file form with its mean moved to *mean* (its sd, or its shape, kept)."""
    ((family, params),) = spec.items()
    if family == "empirical":
        old = float(np.mean(params))
        return {"empirical": [_round(x * mean / old) if old > 0 else _round(mean)
                              for x in params]}
    if family == "fixed":
        return {"fixed": _round(mean)}
    return {family: {**params, "mean": _round(mean)}}


def _delay(fit: Fit, mean: float, variance: float, unit: str) -> Any:
    """The delay's file form in *unit*: the fitted family with *mean* days and the fitted
    spread less the team's (*variance*, days²: the work and approvals the stage keeps
    have their own spread, which the delay must not hold a second time), or the
    empirical values moved to that mean and spread."""
    def time(days: float) -> float:
        return _round(units.convert(max(days, 0.0), "day", unit))

    sd = math.sqrt(max(fit.sd ** 2 - variance, 0.0)) if math.isfinite(fit.sd) else fit.sd
    if fit.empirical:
        # v -> a v + b with the mean and sd wanted, where that keeps every value at 0 or
        # more; else scaled only (shifting would pile short stays up at 0)
        a = mean / fit.mean if fit.mean > 0 else 1.0
        if fit.sd > 0 and sd / fit.sd < a:
            a = sd / fit.sd
        return {"empirical": [time(v * a + mean - a * fit.mean) for v in fit.empirical]}
    if fit.family == "fixed" or sd <= 1e-9 * max(mean, 1e-12):
        return {"fixed": time(mean)}
    if fit.family == "exponential" and variance <= 0:
        return {"exponential": {"mean": time(mean)}}
    family = "gamma" if fit.family == "exponential" else fit.family
    return {family: {"mean": time(mean), "sd": time(sd)}}


# --- entries -------------------------------------------------------------------------------


MAX_REASONS = 8  # a stage's most frequent loss reasons fitted; the rest as OTHER_REASONS
OTHER_REASONS = "other reasons"


def _loss_reasons(cal: Calibration, history: History, chosen: np.ndarray) -> None:
    """Why deals are lost at each stage, as shares of the losses that give a reason (a
    stage's `lost_reasons`: its MAX_REASONS most frequent and the file's own, the rest as
    OTHER_REASONS),
    where at least MIN_OBSERVATIONS did. Where the file gives the stage's reasons, the
    shares are shrunk towards its, weighing as PRIOR_OBSERVATIONS losses."""
    lost = np.flatnonzero(chosen & (history.deals.outcome == OUTCOME_LOST))
    if not len(lost):
        return
    stage = lost_stage(history)[lost]
    reasons = np.array(history.deals.reason.take(pa.array(lost)).to_pylist(), dtype=object)
    for s, (sid, spec) in enumerate(cal.process.stages.items()):
        refused = {routing.refusal(routing.approval_label(mine, k))  # the approvals' own
                   for buyer in cal.process.buyer_types.values()
                   if (mine := buyer.stages.get(sid)) is not None
                   for k in range(len(mine.approvals))}
        here = [r for r in reasons[stage == s] if r and r not in refused]
        setting = f"stages.{sid}.lost_reasons"
        file = dict(spec.lost_reasons)
        if not file and set(here) <= {spec.lost_reason}:
            continue  # the file's one reason, and the history's: nothing to change
        if len(here) < MIN_OBSERVATIONS:
            if (stage == s).sum():
                cal.kept.append(NotEnough(setting, f"why deals are lost at {sid}", len(here),
                                          MIN_OBSERVATIONS))
            continue
        counted = Counter(here)
        top = {r for r, _ in counted.most_common(MAX_REASONS)} | set(file)  # never pooled
        kept = Counter({r: n for r, n in counted.items() if r in top})
        rest = sum(n for r, n in counted.items() if r not in top)
        if rest:
            kept[OTHER_REASONS] += rest  # with a reason of that very name, if there is one
        names = [r for r, _ in kept.most_common()] + [r for r in file if r not in kept]
        counts = [kept.get(r, 0) for r in names]
        prior = np.array([file.get(r, 0.0) for r in names])
        weight = PRIOR_OBSERVATIONS if file else 0.0
        unsaid = int((stage == s).sum()) - len(here)
        cal.fitted.append(_category_shares(
            setting, f"why deals are lost at {sid}", names, np.array(counts, dtype=float),
            prior / prior.sum() if file else prior, weight,
            f"of the {len(here):,} losses that give a reason" + (
                f" ({unsaid:,} do not)" if unsaid else "")))


def _category_shares(setting: str, what: str, names: list[str], counts: np.ndarray,
                     prior: np.ndarray, weight: float, words: str) -> Fitted:
    """Shares of *names* from their *counts*, shrunk towards *prior* (shares) weighing as
    *weight* observations (the Dirichlet posterior's means), with each one's 95% interval
    (its Beta marginal), written with four decimals that add up to 1."""
    total = float(counts.sum())
    shares, low, high = _dirichlet(counts, prior, weight)
    written = np.floor(shares * 1e4) / 1e4
    written[int(np.argmax(written))] += 1.0 - written.sum()
    parts = tuple(Share(n, float(x), float(lo), float(hi))
                  for n, x, lo, hi in zip(names, shares, low, high, strict=True) if x > 0)
    top = parts[int(np.argmax([p.share for p in parts]))]
    detail = ", ".join(f"{p.target} {p.share:.1%} ({p.low:.1%}–{p.high:.1%})" for p in parts)
    shrunk = f" (shrunk by the file's, as {weight:g} observations)" if weight else ""
    return Fitted(setting, {n: round(float(x), 4) for n, x in zip(names, written, strict=True)
                            if x > 0}, what, int(total), top.share, top.low, top.high,
                  f"{detail} {words}{shrunk}", parts)


def _dirichlet(counts: np.ndarray, prior: np.ndarray, weight: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shares from *counts* shrunk towards *prior* (shares adding up to 1) weighing as
    *weight* observations: the Dirichlet posterior's means and each share's 95% interval
    (its Beta marginal; 0 to 0 for a share nothing supports)."""
    from scipy.stats import beta

    total = float(counts.sum())
    a = counts + weight * prior
    b = np.maximum(total + weight - a, 1e-12)
    with np.errstate(all="ignore"):
        low = np.where(a > 0, beta.ppf(0.025, np.maximum(a, 1e-12), b), 0.0)
        high = np.where(a > 0, beta.ppf(0.975, np.maximum(a, 1e-12), b), 0.0)
    return a / (total + weight), low, high


def _fields(cal: Calibration, history: History, chosen: np.ndarray) -> None:
    """Each deal field that crm: fields: maps, per buyer type (`buyer_types.<id>.fields`):
    a category field's shares of the deals with a declared category (shrunk towards the
    file's, weighing as PRIOR_OBSERVATIONS deals); a number field's distribution, fitted
    as times in stage are (the best family by AIC that meets the data's curve, else the
    values' quantiles) where every value is above zero, else the values' quantiles."""
    d = history.deals
    for fid, column in d.fields.items():
        for k, (b, buyer) in enumerate(cal.process.buyer_types.items()):
            spec = buyer.fields.get(fid)
            if spec is None:
                continue
            mine = chosen & (d.buyer == k)
            setting = f"buyer_types.{b}.fields.{fid}"
            if spec.number is not None:
                assert isinstance(column, np.ndarray)
                _number_field(cal, setting + ".number", f"{fid} of {b} deals", column[mine])
                continue
            assert isinstance(column, pa.Array)
            names = [c for c, _ in spec.shares]
            seen: Counter[str] = Counter()
            for text, n in Counter(column.filter(pa.array(mine)).to_pylist()).items():
                seen[fold(text or "")] += n  # as the export's text is compared: folded
            counts = np.array([seen.pop(fold(c), 0) for c in names], dtype=float)
            seen.pop("", None)
            if seen:
                shown_ = ", ".join(shown(quoted(c, 40)) for c, _ in seen.most_common(5))
                cal.notes.append(f"{sum(seen.values()):,} {b} deals have a {fid} that "
                                 f"{b}'s shares do not name ({shown_}"
                                 + (", …" if len(seen) > 5 else "") + "): left out of the "
                                 "fitted shares")
            if counts.sum() < MIN_BLENDED:
                cal.kept.append(NotEnough(setting + ".shares", f"{fid} of {b} deals",
                                          int(counts.sum()), MIN_BLENDED))
                continue
            prior = np.array([p for _, p in spec.shares])
            cal.fitted.append(_category_shares(
                setting + ".shares", f"{fid} of {b} deals", names, counts,
                prior / prior.sum(), PRIOR_OBSERVATIONS,
                f"of the {int(counts.sum()):,} deals with a {fid}"))


def _number_field(cal: Calibration, setting: str, what: str, values: np.ndarray) -> None:
    values = values[np.isfinite(values)]
    if len(values) < MIN_OBSERVATIONS:
        cal.kept.append(NotEnough(setting, what, len(values), MIN_OBSERVATIONS))
        return
    if (values < 0).any():  # a field's distribution draws no value below zero
        cal.notes.append(f"{what}: {int((values < 0).sum()):,} of {len(values):,} values "
                         "are below zero, which no distribution of a field can draw: the "
                         "file's is kept")
        return
    half = Z95 * float(values.std(ddof=1)) / math.sqrt(len(values))
    mean = float(values.mean())
    if (values > 0).all():
        fit = fit_distribution(values, np.ones(len(values), dtype=bool))
        spec, quality = fit.spec(), fit.quality()
    else:
        points = np.quantile(values, (np.arange(EMPIRICAL_POINTS) + 0.5) / EMPIRICAL_POINTS)
        spec = {"empirical": [_round(float(v)) for v in points]}
        quality = "values at or below zero, which no family fitted has: empirical"
    cal.fitted.append(Fitted(setting, spec, what, len(values), mean, mean - half,
                             mean + half, quality))


ENTRY_FLOOR = 0.01  # a buyer type whose deals all but this share start at its first stage


def _entries(cal: Calibration, history: History, chosen: np.ndarray) -> None:
    """Where each buyer type's new deals first appear: written as its `enter:` when more
    than ENTRY_FLOOR of them first appear past the start of its path (a CRM updated
    after the fact, or deals taken over mid-way)."""
    process, v, d = cal.process, history.visits, history.deals
    index = np.flatnonzero(first_visits(v) & chosen[v.deal])
    stage_ids = list(process.stages)
    for k, (b, buyer) in enumerate(process.buyer_types.items()):
        mine = index[d.buyer[v.deal[index]] == k]
        counts = np.bincount(v.stage[mine], minlength=len(stage_ids))
        on_path = {sid: int(counts[stage_ids.index(sid)]) for sid in buyer.path}
        total = sum(on_path.values())
        late = total - on_path[buyer.start]
        if total < MIN_OBSERVATIONS or late <= ENTRY_FLOOR * total:
            if total >= MIN_OBSERVATIONS and buyer.entries:  # the file spread them: undo it
                cal.fitted.append(Fitted(f"buyer_types.{b}.enter", {buyer.start: 1.0},
                                         f"where new {b} deals enter", total, 1.0, 1.0, 1.0))
            continue
        shares = {sid: math.floor(n / total * 1e4) / 1e4 for sid, n in on_path.items() if n}
        shares[buyer.start] = round(shares.get(buyer.start, 0.0) + 1.0 - sum(shares.values()),
                                    4)
        e = proportion(late, total)
        parts = tuple(Share(sid, n / total, *proportion(n, total).interval())
                      for sid, n in on_path.items() if n)
        detail = ", ".join(f"{p.target} {p.share:.1%} ({p.low:.1%}–{p.high:.1%})"
                           for p in parts)
        cal.fitted.append(Fitted(f"buyer_types.{b}.enter", shares,
                                 f"where new {b} deals first appear", total, e.mean, e.low,
                                 e.high, f"{detail} of its new deals", parts))
    path_of = np.ones((len(process.buyer_types) + 1, len(stage_ids)), dtype=bool)
    for k, buyer in enumerate(process.buyer_types.values()):  # row -1: no buyer type
        path_of[k] = [sid in buyer.path for sid in stage_ids]
    off = int((~path_of[d.buyer[v.deal[index]], v.stage[index]]).sum())
    if off:
        cal.notes.append(f"{off:,} deals first appear at a stage off their buyer type's path: "
                         "counted as entering at its first stage")


def fitted_process(calibration: Calibration, period: bool = False) -> Process:
    """The calibrated process (the process with the fitted values, in memory); with
    *period*, set to simulate the history's own period from an empty pipeline, without
    the file's campaigns (the history's rate holds the leads they brought). Fitted values
    that make no valid process raise a SalesprocError naming each setting."""
    changes = calibration.changes()
    if period:
        unit = calibration.process.time_unit
        days = (calibration.until - calibration.since).total_seconds() / 86400
        changes += [("simulation.start", calibration.since.date()),
                    ("simulation.horizon", float(f"{units.convert(days, 'day', unit):.6g}")),
                    ("simulation.warmup", 0)]
        if calibration.process.arrivals is not None and calibration.process.arrivals.campaigns:
            changes.append(("arrivals.campaigns", []))
    try:
        return calibration.process.with_changes(changes)
    except InvalidProcessError as exc:  # name the fitted setting, not "<changes>:2"
        said = said_by_setting(exc.diagnostics, changes)
        raise SalesprocError(
            "the values fitted from the history do not make a valid process: "
            + "; ".join(said[:3]) + (f" (and {len(said) - 3} more)" if len(said) > 3 else ""),
            "the history cannot support these values: fit only the more recent deals, or "
            "check the export's notes (amounts, dates) for what misled the fit") from None
