"""Replications, seeds, confidence intervals: from a process to trustworthy figures.

Each replication is one independent run (its own random streams, from the seed and its
number), so the results are identical whatever the number of worker processes. Every
figure is reported as the mean over replications with a 95% Student-t interval.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeAlias

from salesproc.core import execution
from salesproc.core.defaults import (
    MAX_HORIZON_DAYS,
    MAX_LEADS,
    MAX_REPLICATIONS,
    MAX_VISITS,
    MAX_WORKERS,
)
from salesproc.core.errors import SalesprocError, SettingsError
from salesproc.core.units import convert, describe
from salesproc.experiments.results import Runs, SimulationResult, Visit
from salesproc.process import analysis
from salesproc.process.model import Process, Settings
from salesproc.sim.engine import Engine, EventLog, Opening
from salesproc.sim.metrics import Key


def resolve_settings(process: Process, *, horizon: float | None = None,
                     warmup: float | None = None, replications: int | None = None,
                     seed: int | None = None, workers: int | None = None,
                     only_buyer: str | None = None) -> Settings:
    """The caller's values over the file's `simulation:` block, checked for sense.

    Raises :class:`SettingsError` naming the setting that is out of range. A warm-up taken
    from the file that leaves less measured than warmed up is kept, with a note.
    """
    base = process.simulation
    unit = process.time_unit
    chosen = Settings(
        horizon=base.horizon if horizon is None else horizon,
        warmup=(base.warmup if warmup is None else warmup),
        replications=base.replications if replications is None else replications,
        seed=base.seed if seed is None else seed,
        workers=1 if workers is None else workers,
        only_buyer=only_buyer)
    notes: list[str] = []
    if horizon is not None and warmup is None and base.warmup > 0:
        if base.warmup >= chosen.horizon:
            raise SettingsError(
                "horizon", f"a horizon of {describe(chosen.horizon, unit)} leaves nothing to "
                f"measure after the file's {describe(base.warmup, unit)} warm-up",
                hint="give a shorter warm-up (0 measures from the start), or a longer horizon")
        if chosen.horizon - base.warmup < base.warmup:
            notes.append(f"only the last {describe(chosen.horizon - base.warmup, unit)} of "
                         f"{describe(chosen.horizon, unit)} are measured, after the file's "
                         f"{describe(base.warmup, unit)} warm-up")
    _check(process, chosen)
    return replace(chosen, notes=tuple(notes))


def _check(process: Process, s: Settings) -> None:
    unit = process.time_unit
    if process.arrivals is None:
        raise SalesprocError(f"{process.source or process.name} has no arrivals: nothing to "
                             "simulate", hint="add e.g. `arrivals: {rate: 20, per: week}`")
    longest = convert(MAX_HORIZON_DAYS, "day", unit)
    if not 0 < s.horizon <= longest:
        raise SettingsError("horizon", f"a horizon of {describe(s.horizon, unit)} is not a "
                            "run salesproc makes", hint=f"give a horizon above 0 and at most "
                            f"{describe(longest, unit)}, e.g. 365 days")
    if not 0 <= s.warmup < s.horizon:
        raise SettingsError("warmup", f"a warm-up of {describe(s.warmup, unit)} must be at "
                            f"least 0 and shorter than the horizon "
                            f"({describe(s.horizon, unit)})")
    check_replications(s.replications)
    if not 1 <= s.workers <= MAX_WORKERS:
        raise SettingsError("workers", f"workers must be between 1 and {MAX_WORKERS}, "
                            f"not {s.workers:,}")
    if s.only_buyer is not None:
        check_buyer(process, s.only_buyer, "only-buyer")
    rates = analysis.lead_rates(process)
    if not any(rates.values()):
        raise SalesprocError("no leads arrive: arrivals.rate is 0 and no campaign falls "
                             "within the horizon", hint="set e.g. `arrivals: {rate: 20, per: "
                             "week}`, or add a campaign")


def check_replications(replications: int) -> None:
    """Raise :class:`SettingsError` unless *replications* is from 1 to MAX_REPLICATIONS."""
    if not 1 <= replications <= MAX_REPLICATIONS:
        raise SettingsError("replications", f"replications must be between 1 and "
                            f"{MAX_REPLICATIONS:,}, not {replications:,}")


def check_buyer(process: Process, buyer: str, setting: str = "buyer") -> None:
    """Raise :class:`SettingsError` naming *setting* unless *buyer* is a buyer type of
    *process*."""
    if buyer not in process.buyer_types:
        raise SettingsError(setting, f"unknown buyer type '{buyer}'",
                            hint=f"choose one of: {', '.join(process.buyer_types)}")


def check_budget(processes: Sequence[Process], settings: Settings) -> None:
    """Refuse a command whose runs together would take too long: the lead and stage-visit
    caps count every process (variant, sweep point) and every replication."""
    leads = visits = 0.0
    for process in processes:
        leads += sum(analysis.lead_rates(process).values()) * settings.horizon \
            * settings.replications
        visits += expected_visits(process, settings)
    runs = "these runs" if len(processes) > 1 else "this run"
    if leads > MAX_LEADS:
        raise SalesprocError(
            f"{runs} would simulate about {leads:,.0f} leads, more than {MAX_LEADS:,}",
            hint="shorten the horizon, lower the replications"
            + (", or compare fewer variants" if len(processes) > 1 else ""))
    if visits > MAX_VISITS:  # a rework loop that almost never exits
        raise SalesprocError(
            f"{runs} would simulate about {visits:,.0f} stage visits, more than "
            f"{MAX_VISITS:,}", hint="check the rework loops' probabilities, or shorten the "
            "horizon or lower the replications")


def expected_visits(process: Process, settings: Settings) -> float:
    """About how many stage visits all replications of *process* simulate (the rows of its
    event log): leads a time unit x visits a lead x horizon x replications."""
    return settings.horizon * settings.replications * math.fsum(
        rate * math.fsum(analysis.expected_visits(process.buyer_types[b]).values())
        for b, rate in analysis.lead_rates(process).items())


def capacity_warnings(process: Process) -> list[str]:
    """A sentence for each role offered more work than its headcount."""
    return [f"role '{rid}' is offered {u:.0%} of its capacity: its queue will grow without "
            f"bound, and the figures depend on the horizon"
            for rid, u in analysis.utilization(process).items() if u > 1.0]


def run_replication(process: Process, settings: Settings, replication: int,
                    event_log: EventLog | None = None, opening: Sequence[Opening] = ()
                    ) -> dict[Key, float]:
    """One replication of *process*: its figures (and, with *event_log*, every visit);
    with *opening*, the run starts from those open deals instead of an empty pipeline."""
    engine = Engine(process, settings.seed, replication, settings.horizon, settings.warmup,
                    event_log, settings.only_buyer, opening)
    return engine.run()


def simulate(process: Process, settings: Settings, *,
             progress: Callable[[int, int], None] | None = None,
             event_sink: Callable[[Visit], None] | None = None,
             events: bool = False, opening: Sequence[Opening] = (),
             outcomes: frozenset[str] | None = None,
             buyer: str | None = None) -> SimulationResult:
    """Run every replication and summarise: where the session open around the call runs
    work (:mod:`salesproc.core.execution`: local workers or a Dask cluster), else on
    settings.workers local processes (1: in this process).

    With *buyer*, the result reports that buyer type's deals (:attr:`SimulationResult.buyer`):
    every buyer type is still simulated, for they share the team (settings.only_buyer is
    the what-if in which no other buyer type's leads arrive).

    With *events*, the result holds every stage visit (:attr:`SimulationResult.events`),
    in order of replication; with an *event_sink*, each visit is passed to it as it
    happens instead (for logs too large to keep), and the replications run in this
    process, one after another. With *outcomes*, only the visits that ended so are kept.
    """
    if buyer is not None:
        check_buyer(process, buyer)
        if settings.only_buyer not in (None, buyer):
            raise SettingsError("buyer", f"only {settings.only_buyer}'s leads are simulated: "
                                f"there are no deals of buyer type '{buyer}' to report")
        reported = simulate(process, settings, progress=progress, event_sink=event_sink,
                            events=events, opening=opening, outcomes=outcomes)
        reported.buyer = buyer
        return reported
    if event_sink is None and not events and not opening:
        return simulate_many([process], settings, progress=progress)[0]
    check_budget([process], settings)
    if event_sink is None:
        return _simulate_spread(process, settings, progress, events, opening, outcomes)
    n = settings.replications
    done = Runs(n)
    for r in range(n):
        done.put(r, run_replication(process, settings, r, _bind(event_sink, r + 1), opening))
        if progress:
            progress(r + 1, n)
    return _result(process, settings, done)


REMEMBERED = 8  # short simulations of a file kept for the next caller that asks the same


_remembered: dict[tuple[str, Settings, bool], SimulationResult] = {}


def remembered(process: Process, settings: Settings, *, events: bool = False
               ) -> SimulationResult:
    """:func:`simulate`, remembering the last REMEMBERED results: the short simulations of
    a file that measure (its times in stage) and calibrate (the team's time) make are
    the same every time the same file is measured or calibrated in one session (a
    notebook, a backtest's origins, a test run), and a run is a pure function of the
    process and its settings. The process is told apart by its full description (every
    setting, its file included). The result is shared: read it, do not change it."""
    key = (repr(process), settings, events)
    found = _remembered.get(key)
    if found is None:
        found = simulate(process, settings, events=events)
        if len(_remembered) >= REMEMBERED:
            del _remembered[next(iter(_remembered))]
        _remembered[key] = found
    return found


def _keeping(kept: list[Visit], outcomes: frozenset[str] | None) -> Callable[[Visit], None]:
    """A sink that keeps every visit, or those that ended in one of *outcomes*."""
    if outcomes is None:
        return kept.append
    return lambda visit: kept.append(visit) if visit.outcome in outcomes else None


def _simulate_spread(process: Process, settings: Settings,
                     progress: Callable[[int, int], None] | None, events: bool,
                     opening: Sequence[Opening],
                     outcomes: frozenset[str] | None) -> SimulationResult:
    """simulate() where the session runs its work, each replication's visits sent back
    with its figures (a forecast's: a few thousand rows a run), kept in order of
    replication."""
    return _spread([(process, settings)], events, opening, outcomes, progress)[0]


def simulate_many(processes: Sequence[Process], settings: Settings, *,
                  progress: Callable[[int, int], None] | None = None
                  ) -> list[SimulationResult]:
    """Several processes with the same settings (and seeds), their replications spread as
    one run (:func:`simulate`'s session or workers)."""
    check_budget(processes, settings)
    return _spread([(p, settings) for p in processes], False, (), None, progress)


def simulate_each(runs: Sequence[tuple[Process, Settings]], *, events: bool = False,
                  opening: Sequence[Opening] = (), outcomes: frozenset[str] | None = None
                  ) -> list[SimulationResult]:
    """Several runs, each a process with its own settings, from the same open deals,
    their replications spread as one run (a forecast's groups, one per draw of the
    fitted values: all of them at once keep every worker busy, where one group after
    another would wait for each group's last run): each result is the one
    :func:`simulate` makes of that run alone."""
    for process, settings in runs:
        check_budget([process], settings)
    return _spread(runs, events, opening, outcomes, None)


def _spread(runs: Sequence[tuple[Process, Settings]], events: bool,
            opening: Sequence[Opening], outcomes: frozenset[str] | None,
            progress: Callable[[int, int], None] | None) -> list[SimulationResult]:
    """Every replication of *runs* as tasks of the session open around the call (else
    on the first run's settings.workers), each result packed in its place as it comes
    (:class:`Runs`: its dict of figures is dropped, so memory grows by bytes a figure a
    run, not by the dicts), its visits kept only when *events* asks for them."""
    tasks = [(i, r) for i, (_, settings) in enumerate(runs)
             for r in range(settings.replications)]
    packed = [Runs(settings.replications) for _, settings in runs]
    visits: list[list[Visit]] = [[] for _ in tasks] if events else []

    def take(index: int, result: tuple[Packed, list[Visit]]) -> None:
        run, replication = tasks[index]
        packed[run].put_named(replication, *result[0])
        if events:
            visits[index] = result[1]

    shared = (tuple(p for p, _ in runs), tuple(s for _, s in runs), tuple(opening), events,
              outcomes)
    with execution.spread(runs[0][1].workers if runs else 1) as session:
        session.run(_replication, shared, tasks, take, progress=progress)
    results = []
    start = 0
    for (process, settings), figures in zip(runs, packed, strict=True):
        result = _result(process, settings, figures)
        result.events = [v for rows in visits[start:start + settings.replications]
                         for v in rows] if events else None
        start += settings.replications
        results.append(result)
    return results


def _result(process: Process, settings: Settings, replications: Runs) -> SimulationResult:
    return SimulationResult(process, settings, replications,
                            [*settings.notes, *capacity_warnings(process)])


def _bind(sink: Callable[[Visit], None], replication: int) -> EventLog:
    return lambda row: sink(Visit(replication, *row))


#: What every replication of a run shares: the processes and the settings of each, the
#: open deals they start from, whether visits are kept, and which outcomes' visits.
Shared = tuple[Sequence[Process], Sequence[Settings], Sequence[Opening], bool,
               frozenset[str] | None]


def _replication(shared: Shared, task: tuple[int, int]
                 ) -> tuple[Packed, list[Visit]]:
    """Replication *task* = (process index, replication) of the shared run: its figures
    (:func:`_packed`) and, if visits are kept, its visits. A pure function of its
    arguments (the engine's random streams come from the seed and the replication), so it
    runs anywhere, and again, with the same result."""
    processes, settings, opening, events, outcomes = shared
    index, replication = task
    rows: list[Visit] = []
    log = _bind(_keeping(rows, outcomes), replication + 1) if events else None
    figures = run_replication(processes[index], settings[index], replication, log, opening)
    return _packed(figures), rows


#: A run's figures as they travel: their names (one tuple, the same object for every run
#: naming the same figures) and their values, 8 bytes each
Packed: TypeAlias = "tuple[tuple[Key, ...], array[float]]"

#: The names of runs' figures, once each in this process: pickle writes the names once
#: for a task's runs and refers back to them, and reads each run's values as one block of
#: bytes (a task of 300 funnel5 runs as their dicts: 1.3 MB, 58 ms to pickle and 53 ms to
#: read back; packed: 0.46 MB, 0.6 and 0.2 ms). Bounded by the processes simulated, and
#: emptied if it ever grows large.
_NAMES: dict[tuple[Key, ...], tuple[Key, ...]] = {}


def _packed(figures: dict[Key, float]) -> Packed:
    names = tuple(figures)
    shared = _NAMES.get(names)
    if shared is None:
        if len(_NAMES) >= 10_000:
            _NAMES.clear()
        shared = _NAMES[names] = names
    return shared, array("d", figures.values())
