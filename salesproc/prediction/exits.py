"""How visits to a stage end, and when, by age: competing exits with the open visits
counted as censored (the Aalen–Johansen estimate).

A visit leaves its stage for one of several *targets* — won, lost, or another stage —
or is still there at the as-of date. Counting only the visits that ended biases every
share towards the fast exits: early in a history the quick wins have happened and the
slow losses have not. The product-limit estimate counts each open visit as at risk for
as long as it has been open, so the share of each exit is estimated as if every visit
had been followed to its end.

The same curves answer the forecast's question for a deal already *a* days in a stage:
what happens to deals that old there? (Not what happens to a new visit: a deal stalled
200 days at signing is not an ordinary signing deal.) Past the last exit seen — for a
deal older than that, or the share still there then — the curve ends and a *tail*
takes over: no visit seen left after that age, so the hazard is half an exit (a
Jeffreys prior) over the days the visits older than it were watched. A stage full of
zombie deals watched for months gets a tail that hardly ever ends; a deal just past
the last exit of a stage whose visits all ended soon gets one that ends soon. The tail
is split among the targets as the oldest exits were: those after the age by which
TAIL_FROM of the ended visits had left, leaning on all the exits with the weight of one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TAIL_FROM = 0.75  # the tail hazard is measured on visits older than this share's stay
GOLDEN = (math.sqrt(5) - 1) / 2  # spreads the tail's targets evenly over the draws


@dataclass(frozen=True)
class ExitCurve:
    """How the visits to one stage ended, by age (days), with the open ones censored.

    *targets* are exit codes (a stage index, or the history's WON_CODE / LOST_CODE);
    ``exits[j, k]`` visits left for ``targets[k]`` at age ``times[j]``, with
    ``at_risk[j]`` visits still there just before it."""

    targets: tuple[int, ...]
    times: np.ndarray  # distinct ages at which a visit left, ascending
    at_risk: np.ndarray
    exits: np.ndarray  # [len(times), len(targets)]
    days: np.ndarray  # every visit's age (days), ascending: the tail is measured on them
    tail_split: np.ndarray  # the targets' shares of the exits past the data
    edge: float  # the age by which TAIL_FROM of the ended visits had left
    visits: int
    ended: int

    def tail_hazard(self, since: float) -> float:
        """Exits per day past age *since*, where no exit was seen: half an exit over the
        days the visits older than *since* were watched after it (where none was older,
        those older than the age by which TAIL_FROM of the ended visits had left)."""
        for start in (since, self.edge):
            older = self.days[self.days > start]
            exposure = float((older - start).sum())
            if exposure > 0:
                return 0.5 / exposure
        return math.inf  # nothing to go by: the deal leaves at once, as the others did

    @property
    def survival(self) -> np.ndarray:
        """The share still in the stage just after each of *times*."""
        left: np.ndarray = np.cumprod(1.0 - self.exits.sum(axis=1) / self.at_risk)
        return left

    def shares(self) -> np.ndarray:
        """Each target's share of all the visits, had every one been followed to its end:
        the cumulative incidence at the oldest age seen, the rest split as the tail."""
        if not len(self.times):
            return np.array(self.tail_split)
        before = np.concatenate([[1.0], self.survival[:-1]])
        incidence = (before[:, None] * self.exits / self.at_risk[:, None]).sum(axis=0)
        shares: np.ndarray = incidence + self.survival[-1] * self.tail_split
        return shares

    def given_age(self, age: float, count: int) -> list[tuple[float, int]]:
        """*count* equally likely (days still to go, target) pairs for a visit already
        *age* days old: the visits of that age or older, and the tail past them.
        Deterministic (stratified), so a forecast is repeatable for a seed."""
        later = self.times > age
        if later.any():
            s = self.survival
            before = np.concatenate([[1.0], s[:-1]])
            first = int(np.argmax(later))
            alive = before[first]  # S(age): the share still there at that age
            mass = (before[later, None] * self.exits[later] / self.at_risk[later, None]
                    ) / alive
            left = float(s[-1] / alive)
            start = float(self.times[-1])  # the tail begins where the exits seen end
            times = self.times[later] - age
        else:
            mass = np.zeros((0, len(self.targets)))
            left, start, times = 1.0, age, np.zeros(0)
        hazard = self.tail_hazard(start)
        flat = mass.ravel()  # row-major: time by time, each split among the targets
        cumulative = np.cumsum(flat)
        inside = float(cumulative[-1]) if cumulative.size else 0.0
        u = (np.arange(count) + 0.5) / count
        wait = np.empty(count)
        to = np.empty(count, dtype=np.int64)
        seen = u < inside
        if seen.any():
            at = np.minimum(np.searchsorted(cumulative, u[seen], side="right"), flat.size - 1)
            wait[seen] = times[at // len(self.targets)]
            to[seen] = at % len(self.targets)
        tail = ~seen
        if tail.any():
            v = np.clip((u[tail] - inside) / max(left, 1e-300), 0.0, 1.0 - 1e-12)
            wait[tail] = start - age - np.log1p(-v) / hazard
            spread = (np.flatnonzero(tail) * GOLDEN) % 1.0
            to[tail] = np.minimum(np.searchsorted(np.cumsum(self.tail_split), spread,
                                                  side="right"), len(self.targets) - 1)
        codes = np.asarray(self.targets)[to]
        return [(float(w), int(c)) for w, c in zip(wait, codes, strict=True)]


def exit_curve(days: np.ndarray, target: np.ndarray, ended: np.ndarray,
               targets: tuple[int, ...]) -> ExitCurve:
    """The exit curve of visits lasting *days*, leaving for *target* where *ended* (the
    others still open: censored). Targets not among *targets* count as censored at the
    time they left (a move the process has no route for says nothing of its routes)."""
    days = np.maximum(np.asarray(days, dtype=float), 0.0)
    known = ended & np.isin(target, targets)
    order = np.argsort(days, kind="stable")
    days, known, target = days[order], known[order], target[order]
    n = len(days)
    ordered = np.asarray(sorted(targets))
    column = np.asarray([targets.index(t) for t in ordered])[
        np.searchsorted(ordered, target[known])]  # each ended visit's column in *targets*
    times = np.unique(days[known])
    exits = np.zeros((len(times), len(targets)))
    np.add.at(exits, (np.searchsorted(times, days[known]), column), 1.0)
    at_risk = n - np.searchsorted(days, times, side="left").astype(float)
    edge = float(np.quantile(days[known], TAIL_FROM)) if known.any() else 0.0
    return ExitCurve(tuple(targets), times, at_risk, exits, days,
                     _split(times, exits, edge), edge, n, int(known.sum()))


def _split(times: np.ndarray, exits: np.ndarray, edge: float) -> np.ndarray:
    """How the tail divides among the targets: as the exits after *edge*, with all the
    exits' shares worth one more."""
    columns = exits.shape[1]
    every = exits.sum(axis=0)
    overall = every / every.sum() if every.sum() else np.full(columns, 1 / columns)
    late = exits[times > edge].sum(axis=0)
    split: np.ndarray = (late + overall) / (late.sum() + 1.0)
    return split


@dataclass(frozen=True)
class Onward:
    """How long the visits to a stage that moved on (won, or went to another stage) took:
    the distribution of a stay *given* that it moved on, with the visits still open
    counted as censored and losses as the competing exit (the cumulative incidence of
    moving on, normalised; the Aalen–Johansen estimate).

    This is the time a simulated deal must take there for wins to come when they do: a
    process draws one stay per visit and then its route, so the stays of the visits that
    ended lost (a zombie deal closed after months, a clean-up of old deals) must not
    stretch the time to a win. Past the oldest move seen the estimate says nothing:
    the weights are those of the moves seen."""

    times: np.ndarray  # the ages (days) at which visits moved on, ascending
    weights: np.ndarray  # each age's share of the moves (they add up to 1)
    n: int  # the visits seen to move on

    def mean(self, up_to: float = math.inf) -> float:
        """The mean stay (days) of the visits that moved on, each counted up to *up_to*
        (NaN where none moved on)."""
        if not self.n:
            return math.nan
        return float(np.dot(self.weights, np.minimum(self.times, up_to)))

    def sd(self) -> float:
        """The standard deviation of those stays (NaN where none moved on)."""
        if not self.n:
            return math.nan
        mean = self.mean()
        return float(math.sqrt(max(0.0, float(np.dot(self.weights,
                                                      (self.times - mean) ** 2)))))

    def sample(self, count: int | None = None) -> np.ndarray:
        """*count* (default: as many as moved on) stays spread evenly over the
        distribution (its quantiles at (k + 0.5) / count): a sample without the visits
        still open, for fitting a family to."""
        count = self.n if count is None else count
        if not self.n or count <= 0:
            return np.zeros(0)
        cumulative = np.cumsum(self.weights)
        at = np.searchsorted(cumulative, (np.arange(count) + 0.5) / count * cumulative[-1])
        out: np.ndarray = self.times[np.minimum(at, len(self.times) - 1)]
        return out


def onward(days: np.ndarray, ended: np.ndarray, lost: np.ndarray) -> Onward:
    """The stays of the visits lasting *days* that moved on: *ended* ones that were not
    *lost*; the others still open (censored)."""
    curve = exit_curve(days, np.where(lost, 0, 1), ended, (0, 1))
    if not len(curve.times):
        return Onward(np.zeros(0), np.zeros(0), 0)
    before = np.concatenate([[1.0], curve.survival[:-1]])
    mass = before * curve.exits[:, 1] / curve.at_risk
    moved = mass > 0
    total = float(mass.sum())
    if total <= 0:
        return Onward(np.zeros(0), np.zeros(0), 0)
    return Onward(curve.times[moved], mass[moved] / total, int((ended & ~lost).sum()))
