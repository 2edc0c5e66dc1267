"""The library's front door: one call each to simulate, compare and sweep a process, and
to read, measure, calibrate, check, forecast and backtest a CRM history. The command line
is a thin layer over these functions.

Each takes processes (or paths to process files) or a history, and keyword settings, and
returns a result object with ``to_dict()`` and ``to_frame()``. Times are numbers in the process's
time unit (as Settings holds them), or text read as the command line reads it
(``"26w"``, ``"90d"``, ``"3mo"``; a bare ``"90"`` is days, and refused where the process
counts time in another unit). A value out of range raises a
:class:`~salesproc.core.errors.SettingsError` naming its setting. One
worker process by default: a notebook should not start a process pool unasked
(``workers=2`` or more runs replications in parallel, with identical results). SimPy,
numpy and scipy are imported only when a function is called, so ``import salesproc``
stays light for validation.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from salesproc.core.defaults import MAX_FORECAST_DAYS
from salesproc.core.errors import SettingsError
from salesproc.core.units import SpanError, parse_span
from salesproc.process.loader import load
from salesproc.process.model import Process, Settings
from salesproc.process.variants import Changes, change_list, describe, value_text

if TYPE_CHECKING:
    import datetime as dt

    from salesproc.core.execution import Session
    from salesproc.experiments.compare import Comparison, SweepResult
    from salesproc.experiments.plan import PlanResult
    from salesproc.experiments.planfile import Plan
    from salesproc.experiments.results import SimulationResult, Visit
    from salesproc.history.read import Format, Source
    from salesproc.history.table import History
    from salesproc.measuring.breakdown import Breakdown
    from salesproc.measuring.deal_measurement import DealMeasurement
    from salesproc.measuring.measurement import Measurement
    from salesproc.measuring.review import Review
    from salesproc.prediction.backtest import Backtest
    from salesproc.prediction.calibration import Calibration
    from salesproc.prediction.fitcheck import FitCheck
    from salesproc.prediction.forecast import Campaign, Forecast

ProcessLike = Process | str | os.PathLike[str]
Time = float | str
Progress = Callable[[int, int], None]


def simulate(process: ProcessLike, *, changes: Changes = (),
             replications: int | None = None, horizon: Time | None = None,
             warmup: Time | None = None, seed: int | None = None, workers: int = 1,
             buyer: str | None = None, only_buyer: str | None = None,
             events: bool = False, event_sink: Callable[[Visit], None] | None = None,
             progress: Progress | None = None, hires: bool = False) -> SimulationResult:
    """Simulate *process* with the file's settings, overridden by these.

    With *buyer*, the result reports that buyer type's deals (``result.buyer``; its
    figures are ``result["buyer", buyer, "won"]``), as compare, sweep and measure do:
    every buyer type is simulated, for they share the team. *only_buyer* is a what-if
    instead: only that buyer type's leads arrive.

    *changes* are applied first, in memory (:meth:`Process.with_changes`): ``PATH=VALUE``
    settings as ``--set`` takes them (``["roles.se.headcount=3"]``), or a mapping of
    setting to value (``{"roles.se.headcount": 3}``). With *events*, the result's
    ``events`` holds every stage visit (``result.events_frame()`` as a DataFrame);
    *event_sink* instead receives each visit as it happens (nothing is kept: for long
    runs, e.g. :func:`salesproc.experiments.export.event_log`). *progress* is called with
    (replications done, replications in all) as they finish.

    With *hires*, one more person in each role deals waited for is simulated too, with
    the same seeds, and compared pair by pair (``result.hires``): ``result.bottleneck()``
    is then the role where one more person helps most, or None where none measurably
    helps (the progress then counts those runs as well, from 0 again).

    >>> result = simulate("processes/five-step.yaml", replications=5)  # doctest: +SKIP
    >>> result["all", "won"].mean  # doctest: +SKIP
    """
    from salesproc.experiments import compare as comparing
    from salesproc.experiments import experiment

    model = _process(process, changes)
    settings = _settings(model, replications, horizon, warmup, seed, workers, only_buyer)
    result = experiment.simulate(model, settings, events=events, buyer=buyer,
                                 event_sink=event_sink, progress=progress)
    return comparing.check_hires(result, progress=progress) if hires else result


def compare(base: ProcessLike, *variants: ProcessLike, changes: Changes = (),
            replications: int | None = None, horizon: Time | None = None,
            warmup: Time | None = None, seed: int | None = None, workers: int = 1,
            buyer: str | None = None, progress: Progress | None = None) -> Comparison:
    """Simulate *base* and each variant with the same seeds and the same deals (common
    random numbers), for paired differences with 95% intervals; with *buyer*, the figures
    are that buyer type's deals (every buyer type is still simulated).

    *changes* adds one more variant: *base* with those changes (``PATH=VALUE`` settings,
    or a mapping of setting to value), made in memory.
    ``result.difference(result.variants[0], ("all", "won"))`` is the paired difference
    of a figure.
    """
    from salesproc.experiments import compare as comparing

    model = _process(base, ())
    runs = [(_label(v), _process(v, ())) for v in variants]
    if changes:
        runs.append((describe(change_list(changes)), model.with_changes(changes)))
    if not runs:
        raise ValueError("compare needs at least one variant, or changes")
    settings = _settings(model, replications, horizon, warmup, seed, workers, None)
    return comparing.compare((_label(base), model), runs, settings, buyer=buyer,
                             progress=progress)


def sweep(process: ProcessLike, values: Mapping[str, Sequence[object]] | Sequence[str], *,
          replications: int | None = None, horizon: Time | None = None,
          warmup: Time | None = None, seed: int | None = None, workers: int = 1,
          buyer: str | None = None, progress: Progress | None = None) -> SweepResult:
    """Simulate the process at every combination of one or two settings' values, e.g.
    ``sweep("p.yaml", {"roles.ae.headcount": [2, 3, 4]})``, each point made in memory
    from the process read once; each step's change comes with an interval that holds,
    with the others, at 95% (Bonferroni). With *buyer*, the figures are that buyer
    type's deals. *values* may also be sweeps as the command line writes them
    (``["roles.ae.headcount=2..8"]``)."""
    from salesproc.experiments import compare as comparing

    specs = ([comparing.Sweep(path, tuple(value_text(v) for v in options))
              for path, options in values.items()] if isinstance(values, Mapping)
             else [comparing.parse_sweep(text) for text in values])
    points = comparing.sweep_points(specs)
    base = _process(process, ())
    processes = [base.with_changes(point) for point in points]
    settings = _settings(processes[0], replications, horizon, warmup, seed, workers, None)
    return comparing.sweep(processes, points, settings, buyer=buyer, progress=progress)


def plan(process: ProcessLike, targets: Plan | str | os.PathLike[str], *,
         changes: Changes = (), optimise_for: float | None = None,
         replications: int | None = None, seed: int | None = None, workers: int = 1,
         deterministic: bool = False, progress: Progress | None = None) -> PlanResult:
    """Will the team make the number? *targets* is a plan file (its months, targets and
    each role's hires, ramp, attrition, quota and cost; docs/format.md) or a Plan read
    with :func:`salesproc.experiments.planfile.read_plan_text`. The result holds
    bookings by month (worst, neutral, best case) against the targets, the chance to make
    each, the team by month, what bounds each month and the classic capacity
    arithmetic; with *optimise_for* (a chance, e.g. 0.8), also the cheapest hiring
    schedule that makes the number with that chance, checked on fresh seeds.
    *deterministic* fixes every time and value at its mean (the classic model's world).
    A plan file with mistakes raises InvalidProcessError with each finding located."""
    from salesproc.experiments.plan import run_plan
    from salesproc.experiments.planfile import Plan, read_plan

    base = _process(process, changes)
    chosen = targets if isinstance(targets, Plan) else read_plan(os.fspath(targets), base)
    return run_plan(base, chosen, replications=replications, seed=seed, workers=workers,
                    deterministic=deterministic, optimise_for=optimise_for,
                    progress=progress)


def read_history(paths: Source | Sequence[Source], process: ProcessLike, *,
                 format: Format | None = None, as_of: dt.date | dt.datetime | None = None,
                 name: str = "DataFrame") -> History:
    """The deal history in CRM export *paths*, mapped onto *process* (its `crm:` section),
    as it stood at *as_of* (default: the latest change in the export). What could not be
    used is in the result's ``notes``, with file and row; an export that cannot be used at
    all raises :class:`~salesproc.history.HistoryError`.

    A pandas DataFrame (or several) may stand for the files: the same columns, read by the
    same rules, its notes naming ``<name>`` and the frame's index labels as rows.

    >>> history = read_history(["Opportunity.csv", "OpportunityHistory.csv"],
    ...                        "processes/five-step.yaml")  # doctest: +SKIP
    >>> history = read_history(pandas.read_sql(query, crm), "processes/five-step.yaml",
    ...                        name="crm query")  # doctest: +SKIP
    >>> history.deals_frame()  # doctest: +SKIP
    """
    from salesproc.history import read_history as read

    return read(paths, _process(process, ()), format=format, as_of=as_of, name=name)


def measure(history: History, *, simulate_file: bool = True
            ) -> Measurement | DealMeasurement:
    """Measure *history* against its process: the pipeline now, flow, time in stage, win
    rates, loss reasons and cohorts, beside the file's numbers (its times from a short
    simulation, unless *simulate_file* is False). ``result.to_dict()`` is the JSON layout.
    A deal table (``history.has_stages`` False) gives a DealMeasurement: what one row per
    deal allows."""
    from salesproc.measuring.deal_measurement import measure_deals
    from salesproc.measuring.measurement import measure as measuring

    if not history.has_stages:
        return measure_deals(history)
    return measuring(history, simulate_file=simulate_file)


def breakdown(history: History, by: str) -> Breakdown:
    """The deals of *history* broken down by *by* ('owner', or a deal field crm: fields:
    maps: a category by its values, a number by its quartiles): deals, open, won, lost,
    the win rate with its 95% interval, the median cycle, the open value and the loss
    reasons of each group. A SettingsError (setting 'by') names the choices otherwise."""
    from salesproc.measuring.breakdown import breakdown as breaking_down

    return breaking_down(history, by)


def review(history: History, *, since: dt.datetime | dt.date, owner: str | None = None,
           untouched_days: float = 30.0, forecast: dt.datetime | dt.date | str | None = None,
           process: ProcessLike | None = None, replications: int = 200,
           seed: int | None = None, workers: int = 1) -> Review:
    """The pipeline review of *history* from *since* (a day alone: its start) to its
    as-of date: the movement, reconciled (open at the start + new + reopened − won −
    lost ± amount changes = open at the end, count and value, values as they stood at
    each date), each stage's moves, the deals that need attention, data hygiene at both
    dates, and each owner's part; with *owner*, that owner's deals alone. With
    *forecast* (a date, a day alone being its end; ``"month"``, ``"quarter"`` or
    ``"year"``: the end of the one the review ends in; or a span such as ``"13w"`` after
    the end), also the forecast of deals won and revenue from *since* to then, made at
    both dates (from *process*, default the history's, with *replications*, *seed* and
    *workers* as forecast takes them), its change and what moved it
    (prediction.change). A SettingsError names what is wrong with *since*, *owner* or
    *forecast*."""
    from salesproc.measuring.review import review as reviewing

    _history(history)
    done = reviewing(history, _moment(since, "since", end_of_day=False), owner=owner,
                     untouched_days=untouched_days)
    if forecast is None:
        return done
    from salesproc.prediction.change import forecast_change, forecast_end

    if owner is not None:
        raise SettingsError("forecast", "the forecast is of the whole pipeline, the new "
                            "deals to come included, not of one owner's deals",
                            hint="review the owner without a forecast, or everyone with one")
    until = forecast_end(forecast if isinstance(forecast, str)
                         else _moment(forecast, "forecast", end_of_day=True), history.as_of)
    return replace(done, forecast=forecast_change(
        history, done.start, until, replications=replications, seed=seed, workers=workers,
        process=None if process is None else _process(process, ())))


def calibrate(history: History, *, since: dt.datetime | None = None) -> Calibration:
    """Fit *history*'s process to it (arrivals, shares, values, routes, times in stage,
    deal fields, loss reasons),
    each value with its sample size and 95% interval; ``result.to_yaml(path)`` is the
    variant file that extends the process's own. *since* (fit only the deals created
    from then on) must be before the history's as-of date: a SettingsError otherwise."""
    from salesproc.prediction.calibration import calibrate as calibrating

    if since is not None and since >= history.as_of:
        raise SettingsError("since", f"no history after {since:%Y-%m-%d} (it ends "
                            f"{history.as_of:%Y-%m-%d})")
    return calibrating(history, since=since)


def check_fit(history: History, calibration: Calibration, *, replications: int = 40,
              seed: int | None = None, workers: int = 1) -> FitCheck:
    """Simulate the calibrated process over the history's period, measure each run as the
    history is measured, and set each figure beside the runs' range (95% with 39 runs or
    more); a figure outside names the setting to change and the value the data suggests."""
    from salesproc.prediction.fitcheck import check_fit as checking

    return checking(history, calibration, replications=replications, seed=seed,
                    workers=workers)


def forecast(history: History, *, until: dt.datetime | dt.date | None = None,
             horizon: Time | None = None, process: ProcessLike | None = None,
             campaigns: Sequence[Campaign | str] = (), replications: int = 200,
             seed: int | None = None, cases: tuple[float, float, float] = (10, 50, 90),
             workers: int = 1, track_record: Backtest | None = None,
             blend: bool = False) -> Forecast:
    """Forecast from *history*'s open pipeline up to *until* (a day alone: its end) or
    for *horizon* (days, or text such as ``"13w"``): deals won, revenue and losses as
    worst, neutral and best case (*cases*: their percentiles), by month, and each open
    deal's chance to be won. New deals come from the arrivals of *process* (default: the
    history's; a calibrated one is best) and from *campaigns* (``"500@2026-03-10"`` or
    :class:`~salesproc.prediction.forecast.Campaign`). With *track_record* (a saved
    backtest of this kind of forecast, read back with
    :func:`salesproc.prediction.backtest.from_dict`), the result says how the model and the
    baselines did there, and the forecasts of the baselines that beat it; with *blend*,
    also each figure's blend of the model with the record's best baseline. A calibrated
    process (a variant written by calibrate, or ``fitted_process(calibration)``) says how
    sure each fitted value is: the runs draw them from their sampling distributions, so
    the range holds how far they may be off."""
    import datetime as dt

    from salesproc.prediction.forecast import Campaign, parse_campaign
    from salesproc.prediction.forecast import forecast as forecasting

    _history(history)
    if (until is None) == (horizon is None):
        raise ValueError("give until or horizon" + (", not both" if until is not None else ""))
    for c in campaigns:
        if not isinstance(c, str | Campaign):
            raise TypeError(f"a campaign is 'LEADS@DATE' text or a Campaign, not "
                            f"{type(c).__name__}")
    if until is not None:
        end = _moment(until, "until", end_of_day=True)
    else:
        end = history.as_of + dt.timedelta(days=_days(horizon, "horizon"))
    from salesproc.prediction.backtest import track_record as record_of

    if blend and track_record is None:
        raise ValueError("a blend needs a track record")
    planned = [parse_campaign(c) if isinstance(c, str) else c for c in campaigns]
    done = forecasting(history, end, process=None if process is None else _process(process, ()),
                       replications=replications, seed=seed, campaigns=planned, cases=cases,
                       workers=workers)
    if track_record is None:
        return done
    notes = done.notes if done.process.fitted else [*done.notes, UNCALIBRATED]
    return replace(done, notes=notes,
                   track_record=record_of(track_record, history, done, blended=blend))


#: A track record is of forecasts calibrated at each origin: one from a process that is
#: not is not the forecast the record measured, and says so.
UNCALIBRATED = ("the track record is of forecasts from the process calibrated at each "
                "origin; this one uses the file's values as written: calibrate it "
                "(salesproc calibrate ... -o FILE) and forecast from that file for the "
                "forecast the record measured")


def backtest(history: History, *, origins: Sequence[dt.datetime] = (),
             first: dt.datetime | None = None, last: dt.datetime | None = None,
             every: str = "1mo", horizon: Time = 90.0, replications: int = 100,
             seed: int | None = None) -> Backtest:
    """Test the forecast on *history*'s past: at each origin (*origins*, or from *first*
    to *last* every *every*: ``"1mo"``, ``"2w"``), calibrate on the history before it,
    forecast *horizon* ahead (days, or text such as ``"13w"``), and set the errors beside
    the naive baselines' made at the same origins. Nothing is written; an origin whose
    calibration fails is in the result's ``failed``, with the reason."""
    from salesproc.prediction.backtest import backtest as backtesting
    from salesproc.prediction.backtest import origins as stepping

    _history(history)
    if not origins:
        if first is None or last is None:
            raise ValueError("give origins, or first and last")
        if not isinstance(every, str):
            raise TypeError(f"every is text such as '1mo' or '2w', not {type(every).__name__}")
        origins = stepping(_moment(first, "from"), _moment(last, "to", end_of_day=True), every)
    return backtesting(history, [_moment(o, "origins") for o in origins],
                       _days(horizon, "horizon"), replications=replications, seed=seed)


def executor(where: str = "local", *, workers: int = 1) -> AbstractContextManager[Session]:
    """Run the work of every call inside the ``with`` block at *where*: ``"local"``
    (*workers* processes), ``"local:N"`` (N processes) or ``"dask://HOST:PORT"`` (the
    scheduler of a Dask distributed cluster; ``pip install 'salesproc[dask]'``). The
    results are the same as on one worker, to the byte. A cluster is reached when the
    block begins (a SalesprocError says why it cannot be), and let go at its end::

        with salesproc.executor("dask://scheduler:8786"):
            result = salesproc.sweep("p.yaml", {"roles.ae.headcount": range(2, 12)})
    """
    from salesproc.core import execution

    return execution.session(execution.place(where), workers)


def _history(value: object) -> None:
    """A TypeError that says what to give unless *value* is a History."""
    from salesproc.history.table import History

    if not isinstance(value, History):
        raise TypeError(f"give a History (salesproc.read_history(...)), not "
                        f"{type(value).__name__}")


def _moment(value: object, setting: str, *, end_of_day: bool = False) -> dt.datetime:
    """A date or a time in the team's local time (as the exports' times are read): a day
    alone is its start, or its end with *end_of_day*; a time with a zone is refused."""
    import datetime as dt

    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            raise SettingsError(setting, f"{value.isoformat()} has a time zone; give the "
                                "team's local time without one, as the exports' times are")
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(23, 59, 59) if end_of_day else dt.time())
    raise TypeError(f"{setting} is a date or a datetime, not {type(value).__name__}")


def _process(process: ProcessLike, changes: Changes) -> Process:
    """*process* (read from its file once) with *changes* made in memory."""
    model = process if isinstance(process, Process) else load(process)
    return model.with_changes(changes) if changes else model


def _label(process: ProcessLike) -> str:
    if isinstance(process, Process):
        return Path(process.source).stem if process.source else process.name
    return Path(process).stem


def settings(process: ProcessLike, *, replications: int | None = None,
             horizon: Time | None = None, warmup: Time | None = None, seed: int | None = None,
             workers: int = 1, only_buyer: str | None = None) -> Settings:
    """The run settings :func:`simulate` would use: these values over the file's
    `simulation:` block, checked (a SettingsError names a setting out of range)."""
    return _settings(_process(process, ()), replications, horizon, warmup, seed, workers,
                     only_buyer)


def _settings(process: Process, replications: int | None, horizon: Time | None,
              warmup: Time | None, seed: int | None, workers: int, only_buyer: str | None
              ) -> Settings:
    from salesproc.experiments.experiment import resolve_settings

    def time(value: Time | None, setting: str) -> float | None:
        if value is None or not isinstance(value, str):
            return None if value is None else float(value)
        try:
            return parse_span(value, process.time_unit)
        except SpanError as exc:
            raise SettingsError(setting, str(exc), exc.hint) from None

    return resolve_settings(process, horizon=time(horizon, "horizon"),
                            warmup=time(warmup, "warmup"),
                            replications=replications, seed=seed, workers=workers,
                            only_buyer=only_buyer)


def _days(value: Time | None, setting: str) -> float:
    """A span in days: a number, or text as the command line reads it ('13w', '90d'),
    above 0 and at most a century (a forecast's look ahead; a longer one is a typo)."""
    if value is None:
        raise ValueError(f"give a {setting}")
    try:
        days = parse_span(value, "day") if isinstance(value, str) else float(value)
    except SpanError as exc:
        raise SettingsError(setting, str(exc), exc.hint) from None
    if not days > 0 or math.isinf(days):
        raise SettingsError(setting, f"{value!r} is not a span above 0")
    if days > MAX_FORECAST_DAYS:
        raise SettingsError(setting, f"{days:,.0f} days is more than a century "
                            f"({MAX_FORECAST_DAYS:,.0f} days): the farthest a forecast looks")
    return days
