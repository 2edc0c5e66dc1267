"""Time until something happens, when for some it has not happened yet: the
Kaplan–Meier estimate, its quantiles, and its restricted mean with a 95% interval.

A deal still in a stage at the as-of date has been there *at least* its age so far: it
is a right-censored observation. Dropping such deals would leave the long stays out and
make every stage look faster than it is; the product-limit estimate counts them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from salesproc.core.stats import Z95


@dataclass(frozen=True)
class Survival:
    """The Kaplan–Meier curve: at each distinct event time, the share still waiting."""

    times: np.ndarray  # distinct times of an event, ascending
    survival: np.ndarray  # S(t) just after each of them
    at_risk: np.ndarray
    events: np.ndarray
    largest: float  # the largest time observed, event or not

    def quantile(self, q: float) -> float:
        """The smallest time by which a share *q* has had the event (NaN if never reached)."""
        reached = np.flatnonzero(self.survival <= 1.0 - q + 1e-12)
        return float(self.times[reached[0]]) if len(reached) else math.nan

    def restricted_mean(self, until: float | None = None) -> tuple[float, float, float]:
        """(mean, low, high): the area under the curve up to *until* (default: the largest
        time observed), with a 95% normal interval from its standard error (Klein &
        Moeschberger 4.5). Past the largest time observed the curve is taken as flat, so
        two samples can be compared by their mean up to one and the same time."""
        tau = self.largest if until is None else float(until)
        if (not len(self.times) and until is None) or not math.isfinite(self.largest):
            return math.nan, math.nan, math.nan
        keep = self.times < tau
        times, survival = self.times[keep], self.survival[keep]
        edges = np.concatenate([[0.0], times, [tau]])
        heights = np.concatenate([[1.0], survival])
        areas = heights * np.diff(edges)
        mean = float(areas.sum())
        beyond = np.cumsum(areas[::-1])[::-1][1:]  # the area after each event time
        n, d = self.at_risk[keep], self.events[keep]
        ok = n > d
        var = float(np.sum(beyond[ok] ** 2 * d[ok] / (n[ok] * (n[ok] - d[ok]))))
        half = Z95 * math.sqrt(var)
        return mean, max(0.0, mean - half), mean + half


def kaplan_meier(durations: np.ndarray, observed: np.ndarray) -> Survival:
    """The product-limit estimate from *durations* and whether each ended (*observed*
    False: still going on, censored)."""
    durations = np.asarray(durations, dtype=float)
    observed = np.asarray(observed, dtype=bool)
    if not len(durations):
        empty = np.zeros(0)
        return Survival(empty, empty, empty, empty, math.nan)
    times, inverse = np.unique(durations, return_inverse=True)
    events = np.bincount(inverse, weights=observed.astype(float), minlength=len(times))
    leaving = np.bincount(inverse, minlength=len(times)).astype(float)
    at_risk = len(durations) - np.concatenate([[0.0], np.cumsum(leaving)[:-1]])
    factor = 1.0 - events / at_risk
    survival = np.cumprod(factor)
    has = events > 0
    return Survival(times[has], survival[has], at_risk[has], events[has],
                    float(durations.max()))
