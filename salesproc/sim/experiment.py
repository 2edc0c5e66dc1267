"""Replications, seeds, confidence intervals: from a process to trustworthy figures.

Each replication is one independent run (its own random streams, from the seed and its
number), so the results are identical whatever the number of worker processes. Every
figure is reported as the mean over replications with a 95% Student-t interval.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from salesproc import analysis
from salesproc.errors import SalesprocError
from salesproc.model import Process
from salesproc.sim.engine import Engine, EventLog
from salesproc.sim.metrics import Key

MAX_LEADS = 50_000_000  # over all replications: beyond this a run takes minutes
MAX_VISITS = 100_000_000  # stage visits over all replications: ~10 minutes on one core

# Student t quantiles t(0.975, df) for df = 1..30; larger df use the Cornish-Fisher series.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile(df: int) -> float:
    """The 97.5% quantile of Student's t with *df* degrees of freedom (two-sided 95%)."""
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


@dataclass(frozen=True)
class Estimate:
    """Mean over replications and its 95% confidence interval."""

    mean: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Estimate:
        data = [v for v in values if not math.isnan(v)]
        n = len(data)
        if n == 0:
            return cls(math.nan, math.nan, math.nan, 0)
        mean = math.fsum(data) / n
        if n == 1:
            return cls(mean, math.nan, math.nan, 1)
        var = math.fsum((v - mean) ** 2 for v in data) / (n - 1)
        half = t_quantile(n - 1) * math.sqrt(var / n)
        return cls(mean, mean - half, mean + half, n)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


@dataclass(frozen=True)
class Settings:
    horizon: float
    warmup: float
    replications: int
    seed: int
    workers: int = 1
    buyer: str | None = None


@dataclass
class SimulationResult:
    process: Process
    settings: Settings
    replications: list[dict[Key, float]]
    warnings: list[str] = field(default_factory=list)
    _summary: dict[Key, Estimate] | None = field(default=None, repr=False)

    @property
    def summary(self) -> dict[Key, Estimate]:
        if self._summary is None:
            keys: dict[Key, None] = {}
            for figures in self.replications:
                keys.update(dict.fromkeys(figures))
            self._summary = {k: Estimate.of([f.get(k, 0.0) for f in self.replications])
                             for k in keys}
        return self._summary

    def __getitem__(self, key: Key) -> Estimate:
        return self.summary[key]

    def bottleneck(self) -> dict[str, Any] | None:
        """The (stage, role) whose queue costs the most deal-days, with the evidence."""
        queues = {k: e for k, e in self.summary.items() if k[0] == "queue" and e.mean > 0}
        if not queues:
            return None
        key = max(queues, key=lambda k: queues[k].mean)
        _, stage, role = key
        return {"stage": stage, "role": role, "queue_days": queues[key],
                "utilization": self.summary[("role", role, "utilization")],
                "queue_per_visit": self.summary[("stage", stage, "queue")],
                "share_of_queueing": queues[key].mean / math.fsum(e.mean
                                                                 for e in queues.values())}


def resolve_settings(process: Process, *, horizon: float | None = None,
                     warmup: float | None = None, replications: int | None = None,
                     seed: int | None = None, workers: int | None = None,
                     buyer: str | None = None) -> Settings:
    """Command-line values over the file's `simulation:` block, checked for sense."""
    base = process.simulation
    chosen = Settings(
        horizon=base.horizon if horizon is None else horizon,
        warmup=(base.warmup if warmup is None else warmup),
        replications=base.replications if replications is None else replications,
        seed=base.seed if seed is None else seed,
        workers=(os.cpu_count() or 1) if workers is None else workers,
        buyer=buyer)
    if horizon is not None and warmup is None and chosen.warmup >= chosen.horizon:
        chosen = Settings(chosen.horizon, 0.0, chosen.replications, chosen.seed,
                          chosen.workers, buyer)
    _check(process, chosen)
    return chosen


def _check(process: Process, s: Settings) -> None:
    unit = process.time_unit
    if process.arrivals is None:
        raise SalesprocError(f"{process.source or process.name} has no arrivals: nothing to "
                             "simulate", hint="add e.g. `arrivals: {rate: 20, per: week}`")
    if not 0 < s.horizon <= 1e7:
        raise SalesprocError(f"horizon {s.horizon:g} {unit}s is not a sensible run length",
                             hint="use a horizon above 0, e.g. --horizon 365")
    if not 0 <= s.warmup < s.horizon:
        raise SalesprocError(f"warm-up {s.warmup:g} must be at least 0 and shorter than the "
                             f"horizon {s.horizon:g}")
    if not 1 <= s.replications <= 10_000:
        raise SalesprocError("replications must be between 1 and 10,000")
    if not 1 <= s.workers <= 256:
        raise SalesprocError("workers must be between 1 and 256")
    if s.buyer is not None and s.buyer not in process.buyer_types:
        raise SalesprocError(f"unknown buyer type '{s.buyer}'",
                             hint=f"choose one of: {', '.join(process.buyer_types)}")
    rates = analysis.lead_rates(process)
    if not any(rates.values()):
        raise SalesprocError("no leads arrive: arrivals.rate is 0 and no campaign falls "
                             "within the horizon", hint="set e.g. `arrivals: {rate: 20, per: "
                             "week}`, or add a campaign")
    leads = sum(rates.values()) * s.horizon * s.replications
    if leads > MAX_LEADS:
        raise SalesprocError(
            f"this run would simulate about {leads:,.0f} leads, more than {MAX_LEADS:,}",
            hint="shorten --horizon or lower --replications")
    visits = s.horizon * s.replications * math.fsum(
        rate * math.fsum(analysis.expected_visits(process.buyer_types[b]).values())
        for b, rate in rates.items())
    if visits > MAX_VISITS:  # a rework loop that almost never exits
        raise SalesprocError(
            f"this run would simulate about {visits:,.0f} stage visits, more than "
            f"{MAX_VISITS:,}", hint="check the rework loops' probabilities, or shorten "
            "--horizon or lower --replications")


def capacity_warnings(process: Process) -> list[str]:
    return [f"role '{rid}' is offered {u:.0%} of its capacity: its queue will grow without "
            f"bound, and the figures depend on the horizon"
            for rid, u in analysis.utilization(process).items() if u > 1.0]


def run_replication(process: Process, settings: Settings, replication: int,
                    event_log: EventLog | None = None) -> dict[Key, float]:
    engine = Engine(process, settings.seed, replication, settings.horizon, settings.warmup,
                    event_log, settings.buyer)
    return engine.run()


def simulate_process(process: Process, *, replications: int | None = None,
                     horizon: float | None = None, warmup: float | None = None,
                     seed: int | None = None, workers: int | None = None,
                     buyer: str | None = None) -> SimulationResult:
    """The library's one-call simulation: the file's settings, with these overrides.

    Times are in the process's time unit. ``result["all", "won"]`` is an :class:`Estimate`.
    """
    settings = resolve_settings(process, horizon=horizon, warmup=warmup,
                                replications=replications, seed=seed, workers=workers,
                                buyer=buyer)
    return simulate(process, settings)


def simulate(process: Process, settings: Settings, *,
             progress: Callable[[int, int], None] | None = None,
             event_sink: Callable[[int, tuple[Any, ...]], None] | None = None
             ) -> SimulationResult:
    """Run every replication (in parallel when settings.workers > 1) and summarise.

    With an *event_sink*, every stage visit is passed to it as (replication, row), and
    the replications run in this process, one after the other.
    """
    if event_sink is None:
        return simulate_many([process], settings, progress=progress)[0]
    n = settings.replications
    done = []
    for r in range(n):
        done.append(run_replication(process, settings, r, _bind(event_sink, r + 1)))
        if progress:
            progress(r + 1, n)
    return SimulationResult(process, settings, done, capacity_warnings(process))


def simulate_many(processes: Sequence[Process], settings: Settings, *,
                  progress: Callable[[int, int], None] | None = None
                  ) -> list[SimulationResult]:
    """Several processes with the same settings (and seeds), sharing one pool of workers."""
    tasks = [(i, r) for i in range(len(processes)) for r in range(settings.replications)]
    figures: dict[tuple[int, int], dict[Key, float]] = {}
    if settings.workers == 1 or len(tasks) == 1:
        for count, (i, r) in enumerate(tasks, start=1):
            figures[(i, r)] = run_replication(processes[i], settings, r)
            if progress:
                progress(count, len(tasks))
    else:
        _run_parallel(processes, settings, tasks, figures, progress)
    return [SimulationResult(p, settings, [figures[(i, r)] for r in range(settings.replications)],
                             capacity_warnings(p)) for i, p in enumerate(processes)]


def _bind(sink: Callable[[int, tuple[Any, ...]], None], replication: int) -> EventLog:
    return lambda row: sink(replication, row)


def _start_method() -> str:
    """fork starts workers at once with the model already in memory; from Python 3.12 on
    it warns when the parent has threads (numpy's BLAS pool), so forkserver is used there."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and sys.version_info < (3, 12):
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _run_parallel(processes: Sequence[Process], settings: Settings,
                  tasks: list[tuple[int, int]], figures: dict[tuple[int, int], dict[Key, float]],
                  progress: Callable[[int, int], None] | None) -> None:
    context = multiprocessing.get_context(_start_method())
    workers = min(settings.workers, len(tasks))
    # the models go to each worker once; each task is then just two numbers
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=_init_worker, initargs=(processes, settings)) as pool:
        futures = {pool.submit(_worker_replication, i, r): (i, r) for i, r in tasks}
        for done, future in enumerate(as_completed(futures), start=1):
            figures[futures[future]] = future.result()
            if progress:
                progress(done, len(tasks))


_WORKER: tuple[Sequence[Process], Settings] | None = None


def _init_worker(processes: Sequence[Process], settings: Settings) -> None:
    global _WORKER
    _WORKER = (processes, settings)


def _worker_replication(index: int, replication: int) -> dict[Key, float]:
    assert _WORKER is not None
    processes, settings = _WORKER
    return run_replication(processes[index], settings, replication)
