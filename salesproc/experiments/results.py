"""What a simulation gives back: every replication's figures, their estimates, the
bottleneck, the event log, and the stable dict and DataFrame forms of all of it.

Formats (text, JSON, CSV) live in :mod:`salesproc.report`; they only write down what
this module holds. :meth:`SimulationResult.to_dict` *is* the JSON layout.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple, overload

from salesproc.core import layout, optional
from salesproc.core.defaults import MATERIAL_CHANGE
from salesproc.core.stats import Estimate, outcome_range
from salesproc.process.model import Process, Settings
from salesproc.sim.metrics import CYCLE_QUANTILES, Key

if TYPE_CHECKING:
    import pandas

INTERVAL = "95% confidence interval of the mean over replications"
RANGE = ("worst, neutral and best case: the 10th, 50th and 90th percentile of the "
         "replications (what may happen in one run)")
ROW_FIELDS = ("scope", "subject", "metric", "mean", "low", "high", "n", "worst", "neutral",
              "best")
DEAL_METRICS = ("leads", "won", "lost", "lead_to_win", "opportunities", "opportunity_win_rate",
                "revenue", "throughput_week", "throughput_month", "cycle_mean", "cycle_p10",
                "cycle_p50", "cycle_p90", "open", "open_value", "open_weighted")
STAGE_METRICS = ("visits", "time", "delay", "queue", "after_hours", "work", "approval", "wip",
                 "lost", "win_chance", "open", "open_value", "open_weighted")
NO_DATA = Estimate(math.nan, math.nan, math.nan, 0)


def _wait(wait: Wait | None) -> dict[str, Any] | None:
    """A :class:`Wait` in the JSON layout."""
    return None if wait is None else {
        "stage": wait.stage, "role": wait.role,
        "queue_days": layout.estimate(wait.queue_days),
        "utilization": layout.estimate(wait.utilization),
        "queue_per_visit": layout.estimate(wait.queue_per_visit),
        "share_of_queueing": wait.share_of_queueing}


def _hire(hire: Hire) -> dict[str, Any]:
    """A :class:`Hire` in the JSON layout."""
    return {"role": hire.role, "headcount": hire.headcount,
            "cycle_change": layout.estimate(hire.cycle),
            "won_change": layout.estimate(hire.won), "helps": hire.helps}


def figure(replication: Mapping[Key, float], key: Key) -> float:
    """One run's value of a figure. A run holds no figure that counted nothing (a queue
    nobody waited in, a reason nobody was lost for, a move nobody made), so a missing
    figure is 0; a NaN is a figure the run could not measure (a cycle time without a
    win) and is left out of every estimate. The summary, the paired differences and
    the sweep's steps all read a run through this one rule."""
    return replication.get(key, ABSENT)


#: A run's value of a figure it does not have (it counted nothing): see :func:`figure`
ABSENT = 0.0


class Runs(Sequence[dict[Key, float]]):
    """Every replication's figures, packed by figure: what a result keeps of its runs.

    A run comes back as a dict of a few hundred figures, some 25 KB of Python objects;
    kept so, a sweep of 10,000 runs would hold 250 MB. Here each figure is a column of
    8-byte floats, one a run, with a byte a run saying whether the run has the figure
    (a run holds no figure that counted nothing): 9 bytes a figure a run, about 2 KB a
    run. Runs are put in their place as they come back (:meth:`put`, in any order) and
    their dicts dropped. Read back, a run is a dict of the figures it has (in the order
    of :meth:`figure_keys`), and :meth:`column` is one figure of every run."""

    def __init__(self, count: int = 0) -> None:
        self._count = count
        self._values: dict[Key, array[float]] = {}
        self._has: dict[Key, bytearray] = {}
        self._first: dict[Key, tuple[int, int]] = {}  # (run, place in it) first found
        self._order: list[Key] | None = None
        # the figures' names of a run put, the earliest such run, and their columns
        self._layouts: dict[tuple[Key, ...], tuple[int, list[tuple[array[float], bytearray]]]] = {}

    @classmethod
    def of(cls, runs: Iterable[Mapping[Key, float]]) -> Runs:
        """Runs from each run's figures, in order."""
        given = list(runs)
        packed = cls(len(given))
        for index, figures in enumerate(given):
            packed.put(index, figures)
        return packed

    def put(self, index: int, figures: Mapping[Key, float]) -> None:
        """Run *index*'s figures, in its place."""
        self.put_named(index, tuple(figures), list(figures.values()))

    def put_named(self, index: int, names: tuple[Key, ...], values: Sequence[float]) -> None:
        """Run *index*'s figures, named by *names* in order, in its place. The runs of a
        process mostly name the same figures in the same order: such a run is written
        column by column, with no look-up of a figure (a tenth of the time), once a run
        as early or earlier named them so."""
        known = self._layouts.get(names)
        if known is not None and known[0] <= index:
            for (written, has), value in zip(known[1], values, strict=True):
                written[index] = value
                has[index] = 1
            return
        self._order = None
        for place, (key, value) in enumerate(zip(names, values, strict=True)):
            column = self._values.get(key)
            if column is None:
                column = self._values[key] = array("d", bytes(8 * self._count))
                self._has[key] = bytearray(self._count)
                self._first[key] = (index, place)
            elif (index, place) < self._first[key]:
                self._first[key] = (index, place)
            column[index] = value
            self._has[key][index] = 1
        self._layouts[names] = (index, [(self._values[k], self._has[k]) for k in names])

    def figure_keys(self) -> list[Key]:
        """Every figure some run has: those of the first run in its order, then those
        the next run adds, and so on (as the runs' dicts, read in order, name them)."""
        if self._order is None:
            self._order = sorted(self._values, key=self._first.__getitem__)
        return self._order

    def column(self, key: Key) -> list[float]:
        """Every run's value of *key*, by the rule of :func:`figure` (ABSENT where a run
        does not have it)."""
        values, has = self._values.get(key), self._has.get(key)
        if values is None or has is None:
            return [ABSENT] * self._count
        return [v if h else ABSENT for v, h in zip(values, has, strict=True)]

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> dict[Key, float]: ...

    @overload
    def __getitem__(self, index: slice) -> Runs: ...

    def __getitem__(self, index: int | slice) -> dict[Key, float] | Runs:
        if isinstance(index, slice):
            return Runs.of(self[i] for i in range(*index.indices(self._count)))
        if not -self._count <= index < self._count:
            raise IndexError(index)
        index %= self._count
        return {key: self._values[key][index] for key in self.figure_keys()
                if self._has[key][index]}

    def __eq__(self, other: object) -> bool:
        """The same runs with the same figures, to the bit (a NaN, a figure a run could
        not measure, equals the same NaN), as runs or as a list of each run's dict."""
        if not isinstance(other, Sequence):
            return NotImplemented
        if not isinstance(other, Runs):
            if not all(isinstance(run, Mapping) for run in other):
                return False
            other = Runs.of(other)
        return (self._count == other._count and self._values.keys() == other._values.keys()
                and all(self._has[k] == other._has[k]
                        and self._values[k].tobytes() == other._values[k].tobytes()
                        for k in self._values))

    __hash__ = None  # type: ignore[assignment]


class Visit(NamedTuple):
    """One stage visit of one simulated deal: a row of the event log."""

    replication: int
    deal: int
    buyer_type: str
    stage: str
    entered: float
    started: float  # when the work began (after the delay and the wait for people)
    finished: float  # when the deal left the stage, approvals included
    outcome: str  # the next stage, won, 'lost: <reason>', 'rejected: back to <stage>', or
    #               'open' for a deal still in the stage at the end (started, finished NaN)
    role: str  # the stage's owner
    value: float  # the deal's value


@dataclass(frozen=True)
class Wait:
    """The stage and role where deals wait longest for busy people, in total: where the
    queue is, not by itself a reason to hire (see :class:`Bottleneck`)."""

    stage: str
    role: str
    queue_days: Estimate  # working time deals spent waiting for that role at that stage
    utilization: Estimate  # how busy the role is
    queue_per_visit: Estimate  # the stage's mean wait for busy people per visit
    share_of_queueing: float  # of all waiting for busy people, anywhere


@dataclass(frozen=True)
class Hire:
    """One more person of a role, simulated against the base with the same seeds and the
    same deals (common random numbers): the paired differences it makes."""

    role: str
    headcount: int  # the base's headcount at the start (the run had one more throughout)
    cycle: Estimate  # mean cycle time to win, one more person - base, paired
    won: Estimate  # won deals, one more person - base, paired
    base_cycle: float  # the base's mean cycle time and won deals, for what is material
    base_won: float

    @property
    def helps(self) -> bool:
        """Whether one more person measurably helps: the paired 95% interval of the cycle
        time's change lies below zero, or that of the won deals' above, and beyond
        MATERIAL_CHANGE of the base's (a consistent change of minutes in a cycle of weeks,
        which common random numbers can prove, is no reason to hire)."""
        return (self.cycle.high < -MATERIAL_CHANGE * abs(self.base_cycle)
                or self.won.low > MATERIAL_CHANGE * abs(self.base_won))


@dataclass(frozen=True)
class Bottleneck:
    """The role where one more person helps most (a checked :class:`Hire` that helps),
    the stage where deals wait longest for it, and the evidence: where to hire."""

    role: str
    hire: Hire
    wait: Wait | None  # None: nobody waited for the role (a hire helped all the same)
    utilization: Estimate  # how busy the role is

    @property
    def stage(self) -> str | None:
        return None if self.wait is None else self.wait.stage


@dataclass
class SimulationResult:
    """Every replication's figures and their estimates.

    ``result["all", "won"]`` or ``result[Key("stage", "demo", "wip")]`` is an
    :class:`~salesproc.core.stats.Estimate`: the mean over replications and its 95%
    confidence interval. :attr:`events` holds the event log when it was asked for.
    :attr:`buyer` is the buyer type the reports show in full (every buyer type was
    simulated); None for all of them together.
    """

    process: Process
    settings: Settings
    replications: Runs  # a list of each run's figures is packed into Runs
    warnings: list[str] = field(default_factory=list)
    events: list[Visit] | None = None
    buyer: str | None = None
    # one more person in each role deals waited for, paired against this run
    # (experiments.compare.check_hires); None while unchecked
    hires: tuple[Hire, ...] | None = None
    _summary: dict[Key, Estimate] | None = field(default=None, repr=False)
    _ranges: dict[Key, tuple[float, float, float]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.replications, Runs):  # a caller's list of dicts
            self.replications = Runs.of(self.replications)

    @property
    def summary(self) -> dict[Key, Estimate]:
        """Every figure's estimate over the replications."""
        if self._summary is None:
            runs = self.replications
            # every figure is a count, a time, a share or a value: never below 0
            self._summary = {k: Estimate.of(runs.column(k), floor=0.0) for k in runs.figure_keys()}
        return self._summary

    @property
    def ranges(self) -> dict[Key, tuple[float, float, float]]:
        """Every figure's worst, neutral and best case over the replications (the 10th,
        50th and 90th percentile: what may happen in one run, not how sure the mean is)."""
        if self._ranges is None:
            self._ranges = {k: outcome_range(self.replications.column(k))
                            for k in self.summary}
        return self._ranges

    def outcome(self, *key: str) -> tuple[float, float, float]:
        """(worst, neutral, best) of a figure; NaN where there is no range."""
        return self.ranges.get(Key.of(*key), (math.nan, math.nan, math.nan))

    def __getitem__(self, key: tuple[str, ...]) -> Estimate:
        return self.summary[Key.of(*key)]

    def get(self, *key: str) -> Estimate:
        """The estimate of a figure, or an estimate without data if there is none."""
        return self.summary.get(Key.of(*key), NO_DATA)

    def longest_wait(self, role: str | None = None) -> Wait | None:
        """The (stage, role) where deals waited longest for busy people, in total deal-time
        (of *role* only, if given); None if nobody ever did. Waiting for the working day
        (nights, weekends, holidays) is not waiting for people, and does not count."""
        queues = {k: e for k, e in self.summary.items() if k.scope == "queue" and e.mean > 0}
        if not queues:
            return None
        mine = [k for k in queues if role in (None, k.metric)]
        if not mine:
            return None
        key = max(mine, key=lambda k: queues[k].mean)
        return Wait(
            stage=key.subject, role=key.metric, queue_days=queues[key],
            utilization=self.summary[Key("role", key.metric, "utilization")],
            queue_per_visit=self.summary[Key("stage", key.subject, "queue")],
            share_of_queueing=queues[key].mean / math.fsum(e.mean for e in queues.values()))

    def bottleneck(self) -> Bottleneck | None:
        """The role where one more person helps most: of the checked hires
        (:attr:`hires`) that measurably help, the one that shortens the cycle most (then
        adds the most wins). None while unchecked, or when no hire helps: the one rule
        behind every "hire there"."""
        helping = [h for h in self.hires or () if h.helps]
        if not helping:
            return None

        def gain(hire: Hire) -> tuple[float, float]:  # the cycle shortened most, then wins
            cycle = hire.cycle.mean if hire.cycle.high < 0 else 0.0
            return (cycle, -(hire.won.mean if hire.won.low > 0 else 0.0))

        best = min(helping, key=gain)
        return Bottleneck(best.role, best, self.longest_wait(best.role),
                          self.get("role", best.role, "utilization"))

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON layout of a simulation (docs/commands.md)."""
        p, s, summary = self.process, self.settings, self.summary

        def block(scope: str, subject: str, names: tuple[str, ...]) -> dict[str, Any]:
            keys = {n: Key(scope, subject, n) for n in names}
            return {n: layout.figure(summary[k], self.ranges[k])
                    for n, k in keys.items() if k in summary}

        neck, wait = self.bottleneck(), self.longest_wait()
        return {
            **layout.header("simulation"),
            "process": {"name": p.name, "file": p.source, "time_unit": p.time_unit,
                        "currency": p.currency, "start": p.start.isoformat(),
                        "calendar": p.calendar.describe(),
                        "names": p.names()},
            "buyer": self.buyer,
            "settings": {"horizon": s.horizon, "warmup": s.warmup,
                         "replications": s.replications, "seed": s.seed,
                         "only_buyer": s.only_buyer,
                         "opportunity_stage": p.opportunity_stage},
            "interval": INTERVAL,
            "range": RANGE,
            "warnings": self.warnings,
            "overall": block("all", "", DEAL_METRICS),
            "buyer_types": {b: block("buyer", b, DEAL_METRICS) for b in p.buyer_types
                            if s.only_buyer in (None, b)},
            "stages": {sid: block("stage", sid, STAGE_METRICS) for sid in p.stages},
            "lost_reasons": [{"stage": k.subject, "reason": k.metric,
                              "deals": layout.estimate(e)}
                             for k, e in summary.items() if k.scope == "lost"],
            "roles": {r: {"headcount": role.headcount,
                          "utilization": layout.estimate(summary[Key("role", r, "utilization")]),
                          "queue_days": layout.estimate(summary[Key("role", r, "queue_days")])}
                      for r, role in p.roles.items()},
            "queues": [{"stage": k.subject, "role": k.metric, "deal_days": layout.estimate(e)}
                       for k, e in summary.items() if k.scope == "queue"],
            "moves": self._grouped("move"),
            "funnel": {b: v for b, v in self._grouped("reach").items()
                       if s.only_buyer in (None, b)},
            "cycle_distribution": {
                "percentiles": [f"p{q:02d}" for q in CYCLE_QUANTILES],
                "overall": self._grouped("cycle").get("", {}),
                "buyer_types": {b: v for b, v in self._grouped("cycle").items()
                                if b and s.only_buyer in (None, b)}},
            "months": self._grouped("month"),
            "quarters": self._grouped("quarter"),
            "waiting": {
                "people": layout.estimate(self.get("waiting", "", "people")),
                "working_day": layout.estimate(self.get("waiting", "", "working_day")),
                "longest": _wait(wait)},
            "hires": None if self.hires is None else [_hire(h) for h in self.hires],
            "bottleneck": None if neck is None else {
                "stage": neck.stage, "role": neck.role,
                "utilization": layout.estimate(neck.utilization),
                "wait": _wait(neck.wait), "hire": _hire(neck.hire)},
        }

    def with_hires(self, hires: Sequence[Hire]) -> SimulationResult:
        """This result with its hires checked (:attr:`hires`)."""
        return replace(self, hires=tuple(hires))

    def _grouped(self, scope: str) -> dict[str, dict[str, Any]]:
        """{subject: {metric: estimate and range}} of one scope's figures."""
        found: dict[str, dict[str, Any]] = {}
        for key, e in self.summary.items():
            if key.scope == scope:
                found.setdefault(key.subject, {})[key.metric] = layout.figure(
                    e, self.ranges[key])
        return found

    def rows(self) -> list[tuple[Any, ...]]:
        """One (scope, subject, metric, mean, low, high, n, worst, neutral, best) per
        figure: the CSV's rows."""
        return [(k.scope, k.subject, k.metric, e.mean, e.low, e.high, e.n, *self.ranges[k])
                for k, e in self.summary.items()]

    def to_frame(self) -> pandas.DataFrame:
        """Every figure as a pandas DataFrame, one row each: scope, subject, metric, mean,
        low, high, n, worst, neutral, best (needs pandas: pip install 'salesproc[pandas]')."""
        return optional.pandas().DataFrame(self.rows(), columns=list(ROW_FIELDS))

    def runs_frame(self) -> pandas.DataFrame:
        """Every replication's own figures, one row per replication and figure:
        replication, scope, subject, metric, value (what the estimates and ranges are
        made of); each replication's figures in the order of the summary's."""
        return layout.frame(([r, k.scope, k.subject, k.metric, v]
                             for r, figures in enumerate(self.replications)
                             for k, v in figures.items()),
                            ("replication", "scope", "subject", "metric", "value"))

    def events_frame(self) -> pandas.DataFrame:
        """The event log as a DataFrame, one row per stage visit (simulate with
        ``events=True``)."""
        if self.events is None:
            raise ValueError("this result has no event log: simulate with events=True")
        return optional.pandas().DataFrame(self.events, columns=list(Visit._fields))
