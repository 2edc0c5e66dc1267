"""When in the month deals close: sales teams bunch their closes at the end of the month,
and more so at the end of a quarter (the rep's number is counted then).

The history's wins say how much: the share of them closed in the last DAYS days of their
month, against the share those days hold of the month (what an even spread gives), for
a quarter's last month and for the other months apart. Where a one-sided binomial test
says the end of the month holds more wins than an even spread would (at ALPHA, with at
least MIN_WINS wins), the pattern is read as a share *q* of the wins held back to the
month's last days: an even spread puts a share *e* there, so *s = e + q (1 - e)*, and
*q = (s - e) / (1 - e)*.

The forecast places its simulated wins the same way: each is moved, with chance *q*, to a
time drawn evenly over the last DAYS days of its month, never earlier than it was won
and never into another month. The month's total stays as simulated (the stays fitted
from the history already hold the wait, on average); what moves is where in the month a
win falls, which decides whether it comes before the end of a forecast that ends
mid-month.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import numpy as np

from salesproc.core.stats import Estimate, proportion

DAYS = 3  # "the end of the month": its last three days
MIN_WINS = 10  # wins of a kind of month needed before its pattern is read (the test guards
#                the rest: 4 of 10 in the last 3 days is p = 0.013 against an even 10%)
ALPHA = 0.05  # the binomial test's false-alarm rate


@dataclass(frozen=True)
class Bunching:
    """How a kind of month's wins bunch at its end: *share* of the *wins* closed in its
    last DAYS days (with its interval), against *even*, the share those days hold; *held*
    is the share of the wins held back to then (0 where the test does not say so)."""

    wins: int
    share: Estimate
    even: float
    p_value: float

    @property
    def held(self) -> float:
        if self.wins < MIN_WINS or self.p_value >= ALPHA or self.even >= 1:
            return 0.0
        return max(0.0, (self.share.mean - self.even) / (1 - self.even))


@dataclass(frozen=True)
class MonthEnd:
    """The history's month-end pattern: in a quarter's last month, and in the others."""

    quarter: Bunching
    other: Bunching

    @property
    def found(self) -> bool:
        return self.quarter.held > 0 or self.other.held > 0

    def held(self, month: int) -> float:
        """The share of the wins of a month (1 to 12) held back to its last days."""
        return (self.quarter if month % 3 == 0 else self.other).held

    def note(self) -> str:
        """What the history shows, in words ('' where it shows no bunching)."""
        if not self.found:
            return ""
        parts = [f"{b.share.mean:.0%} of the wins in {name} ({b.share.low:.0%}–"
                 f"{b.share.high:.0%}; {b.even:.0%} if spread evenly)"
                 for name, b in (("a quarter's last month", self.quarter),
                                 ("the other months", self.other)) if b.wins]
        return (f"closing bunches at the end of the month: {' and '.join(parts)} closed in "
                f"its last {DAYS} days; the forecast places its wins so")


def month_end(closed: np.ndarray) -> MonthEnd:
    """The month-end pattern of wins closed at *closed* (datetime64)."""
    from scipy.special import bdtrc  # not scipy.stats: half a second to import

    closed = np.asarray(closed, dtype="datetime64[s]")
    closed = closed[~np.isnat(closed)]
    month = closed.astype("datetime64[M]")
    length = ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")
              ).astype(np.int64)
    start = (month + 1).astype("datetime64[s]") - np.timedelta64(DAYS * 86400, "s")
    late = closed >= start
    quarter_end = (month.astype(np.int64) % 12) % 3 == 2  # months since 1970-01

    def bunching(mask: np.ndarray) -> Bunching:
        n = int(mask.sum())
        if not n:
            return Bunching(0, proportion(0, 0), 0.0, 1.0)
        k = int(late[mask].sum())
        even = float(np.mean(DAYS / length[mask]))
        p = float(bdtrc(k - 1, n, even)) if k else 1.0  # P(K >= k), K ~ Binomial(n, even)
        return Bunching(n, proportion(k, n), even, p)

    return MonthEnd(bunching(quarter_end), bunching(~quarter_end))


def place(when: dt.datetime, pattern: MonthEnd, u: float, v: float) -> dt.datetime:
    """Where a win simulated at *when* falls: with chance the pattern's share for its
    month (*u* < it, *u* and *v* uniform draws), at a time drawn evenly (*v*) over the
    month's last DAYS days, if that is later; else when it was."""
    if u >= pattern.held(when.month):
        return when
    days = calendar.monthrange(when.year, when.month)[1]
    end = dt.datetime(when.year, when.month, days) + dt.timedelta(days=1)
    moved = end - dt.timedelta(seconds=v * DAYS * 86400)
    return moved if moved > when else when
