"""The library's front door for simulation: simulate, compare and sweep in one call each.

Each takes processes (or paths to process files) and keyword settings, and returns a
result object with ``to_dict()`` and ``to_frame()``. Times are numbers in the process's
time unit (as Settings holds them), or text read as the command line reads it
(``"26w"``, ``"90d"``, ``"3mo"``; a bare ``"90"`` is days, and refused with a
:class:`~salesproc.core.units.SpanError` where the process counts time in another unit). One
worker process by default: a notebook should not start a process pool unasked
(``workers=2`` or more runs replications in parallel, with identical results). SimPy,
numpy and scipy are imported only when a function is called, so ``import salesproc``
stays light for validation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from salesproc.process.loader import load
from salesproc.process.model import Process, Settings
from salesproc.process.variants import Changes, change_list

if TYPE_CHECKING:
    import datetime as dt

    from salesproc.experiments.compare import Comparison, SweepResult
    from salesproc.experiments.results import SimulationResult
    from salesproc.history.read import Format
    from salesproc.history.table import History
    from salesproc.measuring.deal_measurement import DealMeasurement
    from salesproc.measuring.measurement import Measurement
    from salesproc.prediction.calibration import Calibration
    from salesproc.prediction.fitcheck import FitCheck

ProcessLike = Process | str | os.PathLike[str]
Time = float | str


def simulate(process: ProcessLike, *, changes: Changes = (),
             replications: int | None = None, horizon: Time | None = None,
             warmup: Time | None = None, seed: int | None = None, workers: int = 1,
             buyer: str | None = None, only_buyer: str | None = None,
             events: bool = False) -> SimulationResult:
    """Simulate *process* with the file's settings, overridden by these.

    With *buyer*, the result reports that buyer type's deals (``result.buyer``; its
    figures are ``result["buyer", buyer, "won"]``), as compare, sweep and measure do:
    every buyer type is simulated, for they share the team. *only_buyer* is a what-if
    instead: only that buyer type's leads arrive.

    *changes* are applied first, in memory (:meth:`Process.with_changes`): ``PATH=VALUE``
    settings as ``--set`` takes them (``["roles.se.headcount=3"]``), or a mapping of
    setting to value (``{"roles.se.headcount": 3}``). With *events*, the result's
    ``events`` holds every stage visit (``result.events_frame()`` as a DataFrame).

    >>> result = simulate("processes/five-step.yaml", replications=5)  # doctest: +SKIP
    >>> result["all", "won"].mean  # doctest: +SKIP
    """
    from salesproc.experiments import experiment

    model = _process(process, changes)
    settings = _settings(model, replications, horizon, warmup, seed, workers, only_buyer)
    return experiment.simulate(model, settings, events=events, buyer=buyer)


def compare(base: ProcessLike, *variants: ProcessLike, changes: Changes = (),
            replications: int | None = None, horizon: Time | None = None,
            warmup: Time | None = None, seed: int | None = None, workers: int = 1,
            buyer: str | None = None) -> Comparison:
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
        runs.append((_changes_label(changes), model.with_changes(changes)))
    if not runs:
        raise ValueError("compare needs at least one variant, or changes")
    settings = _settings(model, replications, horizon, warmup, seed, workers, None)
    return comparing.compare((_label(base), model), runs, settings, buyer=buyer)


def sweep(process: ProcessLike, values: Mapping[str, Sequence[object]], *,
          replications: int | None = None, horizon: Time | None = None,
          warmup: Time | None = None, seed: int | None = None, workers: int = 1,
          buyer: str | None = None) -> SweepResult:
    """Simulate the process at every combination of one or two settings' values, e.g.
    ``sweep("p.yaml", {"roles.ae.headcount": [2, 3, 4]})``, each point made in memory
    from the process read once; each step's change comes with an interval that holds,
    with the others, at 95% (Bonferroni). With *buyer*, the figures are that buyer
    type's deals."""
    from salesproc.experiments import compare as comparing

    specs = [comparing.Sweep(path, tuple(_yaml(v) for v in options))
             for path, options in values.items()]
    points = comparing.sweep_points(specs)
    base = _process(process, ())
    processes = [base.with_changes(point) for point in points]
    settings = _settings(processes[0], replications, horizon, warmup, seed, workers, None)
    return comparing.sweep(processes, points, settings, buyer=buyer)


def read_history(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                 process: ProcessLike, *, format: Format | None = None,
                 as_of: dt.date | dt.datetime | None = None) -> History:
    """The deal history in CRM export *paths*, mapped onto *process* (its `crm:` section),
    as it stood at *as_of* (default: the latest change in the export). What could not be
    used is in the result's ``notes``, with file and row; an export that cannot be used at
    all raises :class:`~salesproc.history.HistoryError`.

    >>> history = read_history(["Opportunity.csv", "OpportunityHistory.csv"],
    ...                        "processes/five-step.yaml")  # doctest: +SKIP
    >>> history.deals_frame()  # doctest: +SKIP
    """
    from salesproc.history import read_history as read

    return read(paths, _process(process, ()), format=format, as_of=as_of)


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


def calibrate(history: History, *, since: dt.datetime | None = None) -> Calibration:
    """Fit *history*'s process to it (arrivals, shares, values, routes, times in stage),
    each value with its sample size and 95% interval; ``result.to_yaml(path)`` is the
    variant file that extends the process's own."""
    from salesproc.prediction.calibration import calibrate as calibrating

    return calibrating(history, since=since)


def check_fit(history: History, calibration: Calibration, *, replications: int = 40,
              seed: int | None = None) -> FitCheck:
    """Simulate the calibrated process over the history's period, measure each run as the
    history is measured, and set each figure beside the runs' range (95% with 39 runs or
    more); a figure outside names the setting to change and the value the data suggests."""
    from salesproc.prediction.fitcheck import check_fit as checking

    return checking(history, calibration, replications=replications, seed=seed)


def _process(process: ProcessLike, changes: Changes) -> Process:
    """*process* (read from its file once) with *changes* made in memory."""
    model = process if isinstance(process, Process) else load(process)
    return model.with_changes(changes) if changes else model


def _label(process: ProcessLike) -> str:
    if isinstance(process, Process):
        return Path(process.source).stem if process.source else process.name
    return Path(process).stem


def _settings(process: Process, replications: int | None, horizon: Time | None,
              warmup: Time | None, seed: int | None, workers: int, only_buyer: str | None
              ) -> Settings:
    from salesproc.core.units import parse_span
    from salesproc.experiments.experiment import resolve_settings

    def time(value: Time | None) -> float | None:
        if value is None or isinstance(value, str):
            return None if value is None else parse_span(value, process.time_unit)
        return float(value)

    return resolve_settings(process, horizon=time(horizon), warmup=time(warmup),
                            replications=replications, seed=seed, workers=workers,
                            only_buyer=only_buyer)


def _changes_label(changes: Changes) -> str:
    """What a variant made of *changes* is called: its settings, as written."""
    return " ".join(c if isinstance(c, str) else f"{c[0]}={_yaml(c[1])}"
                    for c in change_list(changes))


def _yaml(value: object) -> str:
    """A sweep value as a setting's text: numbers as written, text as YAML."""
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value)
