"""How often something happens, from when it happened: the recent level.

A CRM's deals do not arrive at one steady rate: a team grows, a market turns, an import
brings a year of old deals in a fortnight. A plain average over the whole history
follows none of that. The rate here weighs each event by its recency — an event
HALF_LIFE_DAYS before the end counts half — against the same weights over the time
watched, so a steady rate is estimated without bias and a changed one is followed
within a few months. Windows to leave out (an import burst) are taken off both the
events and the time watched.

The interval treats the weighted count as a Poisson count of its effective size
((Σw)² / Σw²), the usual approximation for a weighted Poisson sum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

HALF_LIFE_DAYS = 90.0
SHIFT_DAYS = 90.0  # a level shift is looked for between the last this many days and before
SHIFT_ALPHA = 0.01


@dataclass(frozen=True)
class Rate:
    """Events per day, with a 95% interval and the effective count it rests on."""

    per_day: float
    low: float
    high: float
    n: float  # the effective number of events behind it
    days: float  # the time watched, bursts left out


def recent_rate(times: np.ndarray, start: np.datetime64, end: np.datetime64, *,
                half_life: float = HALF_LIFE_DAYS,
                skip: Sequence[tuple[np.datetime64, np.datetime64]] = (),
                months: Sequence[float] = (1.0,) * 12) -> Rate:
    """The recent rate of the events at *times* (datetime64) watched from *start* to
    *end*, each weighed by 2^-(age / half_life); windows in *skip* ([from, to)) are left
    out of the events and of the time watched. *months* are the calendar months'
    multipliers of the rate (averaging 1): the rate returned is the level they multiply,
    so a history that ends in a slow month does not lower it."""
    from scipy.stats import chi2

    t = np.asarray(times).astype("datetime64[s]")
    start, end = _seconds(start), _seconds(end)
    keep = (t >= start) & (t <= end)
    for a, b in skip:
        keep &= ~((t >= _seconds(a)) & (t < _seconds(b)))
    w = np.exp2(-((end - t[keep]) / np.timedelta64(1, "D")) / half_life)
    watched, days = _exposure(start, end, half_life, skip, months)
    if watched <= 0 or days <= 0:
        return Rate(math.nan, math.nan, math.nan, 0.0, 0.0)
    total = float(w.sum())
    n_eff = total * total / float((w * w).sum()) if total > 0 else 0.0
    scale = (total / n_eff if n_eff > 0 else 1.0) / watched  # one effective event, per day
    low = chi2.ppf(0.025, 2 * n_eff) / 2 * scale if n_eff > 0 else 0.0
    high = chi2.ppf(0.975, 2 * n_eff + 2) / 2 * scale
    return Rate(total / watched, float(low), float(high), n_eff, days)


def _seconds(t: np.datetime64) -> Any:
    return np.asarray(t).astype("datetime64[s]")[()]


def _exposure(start: np.datetime64, end: np.datetime64, half_life: float,
              skip: Sequence[tuple[np.datetime64, np.datetime64]], months: Sequence[float]
              ) -> tuple[float, float]:
    """The weighted time watched (each hour's weight times its month's multiplier, in
    days) and the plain days watched, *skip* windows left out."""
    hours = np.arange(start, end, np.timedelta64(3600, "s"))
    if not len(hours):
        return 0.0, 0.0
    inside = np.ones(len(hours), dtype=bool)
    for a, b in skip:
        inside &= ~((hours >= _seconds(a)) & (hours < _seconds(b)))
    age = (end - hours[inside]) / np.timedelta64(1, "D")
    month = hours[inside].astype("datetime64[M]").astype(np.int64) % 12
    factor = np.asarray(months, dtype=float)[month]
    weighted = float((np.exp2(-age / half_life) * factor).sum()) / 24
    return weighted, float(inside.sum()) / 24


def level_shift(times: np.ndarray, start: np.datetime64, end: np.datetime64,
                recent: float = SHIFT_DAYS) -> tuple[float, float] | None:
    """Whether the last *recent* days' rate differs from the rate before them: (the
    ratio of the two, the two-sided p-value of the exact conditional binomial test), or
    None when the period is too short to have a 'before'."""
    from scipy.stats import binomtest

    t = np.asarray(times).astype("datetime64[s]")
    start, end = _seconds(start), _seconds(end)
    span = (end - start) / np.timedelta64(1, "D")
    if span <= recent * 1.5:
        return None
    cut = end - np.timedelta64(int(recent * 86400), "s")
    inside = (t >= start) & (t <= end)
    late = int((inside & (t >= cut)).sum())
    total = int(inside.sum())
    if total == 0:
        return None
    share = recent / span
    early_rate = (total - late) / (span - recent)
    ratio = (late / recent) / early_rate if early_rate > 0 else math.inf
    return ratio, float(binomtest(late, total, share).pvalue)
