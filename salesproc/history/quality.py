"""Data-quality notes on a history as it stands at its as-of date: what a real CRM export
holds that is not the sales process — close dates left in the past, deals nobody has
touched for months, wins entered after the fact, and deals imported in a burst.

:func:`bursts` is the one home of the rule that finds import bursts; calibration uses it
too, so that an import is not taken for demand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from salesproc.history.notes import MAX_ROWS_SHOWN, Notebook
from salesproc.history.table import OUTCOME_OPEN, OUTCOME_WON, History, after_the_fact

#: An open deal with no change for this many days is untouched.
UNTOUCHED_DAYS = 90
#: The chance that a history whose deals arrive as a Poisson process at its local rate
#: shows a burst anyway (a union bound over every window tested).
BURST_FALSE_ALARM = 0.001
#: Window lengths, in days, in which creations are counted: a one-day import, or one
#: spread over a week or a month.
BURST_WINDOWS = (1, 7, 28)
#: A burst holds at least this many deals.
BURST_MIN_DEALS = 10
#: The usual level around a day: the median week among this many weeks on either side.
BURST_WEEKS_AROUND = 13
#: Fewer weeks than this around a day: no usual level to judge it by.
BURST_MIN_WEEKS = 4
DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class Burst:
    """A run of days whose deal creations far exceed the usual level: its first and last
    day, how many deals were created in it, and how many the usual level expects."""

    first: dt.date
    last: dt.date
    deals: int
    expected: float


def bursts(created: np.ndarray, as_of: dt.datetime) -> list[Burst]:
    """The import bursts among creation times *created* (datetime64[s]; NaT and those after
    *as_of* are left out), in time order.

    Creations are counted per day. A day's usual level is the median of the weekly counts
    in the BURST_WEEKS_AROUND weeks on either side of it (weeks aligned on that day, the
    history's own span only), divided by 7: a median, so that a burst shorter than a
    quarter does not raise its own baseline. Windows of 1, 7 and 28 days starting at every
    day are tested: a window is flagged when its count is above the Poisson quantile of
    its expected count at the level 1 - BURST_FALSE_ALARM / (windows tested), and it holds
    at least BURST_MIN_DEALS deals. So a history of Poisson arrivals at its local rate
    shows a burst with probability at most BURST_FALSE_ALARM (0.1%; a union bound over
    the windows). Where windows are flagged, the usual level is found again without the
    weeks they touch (so that a long burst does not raise its own baseline) and the
    windows tested again. The days of flagged windows that touch are joined, and each run
    trimmed to its core: the span whose creations exceed twice the usual level by the most
    in all (see :func:`_core`).
    """
    counts, start = _daily(created, as_of)
    days = len(counts)
    if days < 7 * BURST_MIN_WEEKS:
        return []
    level = _usual_level(counts, np.zeros(days, dtype=bool))
    flagged = _flagged(counts, level)
    if flagged.any():  # the usual level again, without the weeks of the bursts found
        level = _usual_level(counts, flagged)
        flagged = _flagged(counts, level)
    level = _nearest(level)
    out = []
    for run_first, run_last in _runs(flagged):
        first, last = _core(counts[run_first:run_last + 1], level[run_first:run_last + 1])
        first, last = run_first + first, run_first + last
        deals = int(counts[first:last + 1].sum())
        if deals < BURST_MIN_DEALS:
            continue
        out.append(Burst((start + first * DAY).astype(dt.date), (start + last * DAY).astype(
            dt.date), deals, float(level[first:last + 1].sum())))
    return out


def _nearest(level: np.ndarray) -> np.ndarray:
    """*level* with each day too few weeks surround (NaN) given the nearest day's level
    (0 where no day has one): the days just after a long burst at the end of a history
    have no usual weeks around them, and a level of 0 would make them part of it."""
    known = np.flatnonzero(~np.isnan(level))
    if not len(known):
        return np.zeros_like(level)
    at = np.clip(np.searchsorted(known, np.arange(len(level))), 0, len(known) - 1)
    before = known[np.maximum(at - 1, 0)]
    after = known[at]
    days = np.arange(len(level))
    nearest = np.where(np.abs(days - before) <= np.abs(after - days), before, after)
    out: np.ndarray = level[nearest]
    return out


def _daily(created: np.ndarray, as_of: dt.datetime) -> tuple[np.ndarray, np.datetime64]:
    """Deals created each day from the first creation to the as-of day, and the first day."""
    day = created.astype("datetime64[D]")
    end = np.datetime64(as_of, "D")
    day = day[~np.isnat(day) & (day <= end)]
    if not len(day):
        return np.zeros(0, dtype=np.int64), end
    start = day.min()
    counts = np.bincount((day - start).astype(np.int64), minlength=int((end - start) / DAY) + 1)
    return counts.astype(np.float64), start


def _flagged(counts: np.ndarray, level: np.ndarray) -> np.ndarray:
    """The days in windows whose count is above the Poisson quantile of the usual level
    (see :func:`bursts`)."""
    from scipy.special import pdtrc  # P(X > k) for a Poisson X; lighter than scipy.stats

    days = len(counts)
    flagged = np.zeros(days, dtype=bool)
    tests = sum(days - w + 1 for w in BURST_WINDOWS if w <= days)
    cumulative = np.concatenate([[0.0], np.cumsum(counts)])
    expected_cum = np.concatenate([[0.0], np.cumsum(np.nan_to_num(level))])
    for width in BURST_WINDOWS:
        if width > days:
            continue
        seen = cumulative[width:] - cumulative[:-width]
        expected = expected_cum[width:] - expected_cum[:-width]
        judged = ~np.isnan(level[: days - width + 1])  # a usual level at the window's start
        tail = pdtrc(np.maximum(seen - 1, 0), np.maximum(expected, 1e-9))  # P(X >= seen)
        above = (tail <= BURST_FALSE_ALARM / tests) & (seen >= max(BURST_MIN_DEALS, 1))
        for k in np.flatnonzero(judged & above):
            flagged[k:k + width] = True
    return flagged


def _usual_level(counts: np.ndarray, left_out: np.ndarray) -> np.ndarray:
    """Each day's usual number of creations (NaN where too few weeks surround it), from
    the weeks with no day *left_out*."""
    days = len(counts)
    weekly = np.convolve(counts, np.ones(7), mode="valid")  # weekly[i]: days i .. i+6
    weekly[np.convolve(left_out, np.ones(7), mode="valid") > 0] = np.nan
    offsets = 7 * np.arange(-BURST_WEEKS_AROUND, BURST_WEEKS_AROUND + 1)
    starts = np.arange(days)[:, None] + offsets[None, :]
    inside = (starts >= 0) & (starts < len(weekly))
    sums = np.where(inside, weekly[np.clip(starts, 0, len(weekly) - 1)], np.nan)
    inside &= ~np.isnan(sums)
    enough = inside.sum(axis=1) >= BURST_MIN_WEEKS
    level = np.full(days, np.nan)
    level[enough] = np.nanmedian(sums[enough], axis=1) / 7.0
    return level


def _core(counts: np.ndarray, level: np.ndarray) -> tuple[int, int]:
    """The first and last index of the span whose sum of counts - 2 x level is largest: the
    burst itself within a run of flagged windows (a usual day adds -level on average, so
    the span does not drift into the days around it; a burst of more than twice the usual
    level adds to it)."""
    prefix = np.concatenate([[0.0], np.cumsum(counts - 2.0 * level)])
    lowest = np.minimum.accumulate(prefix[:-1])
    last = int(np.argmax(prefix[1:] - lowest))
    first = int(np.argmin(prefix[:last + 1]))
    return first, last


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of True in *flags*."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(),
                    (np.flatnonzero(edges == -1) - 1).tolist(), strict=True))


def check(history: History, file: str, notes: Notebook) -> None:
    """Add the data-quality notes (SP821 to SP824) on *history* to *notes*, naming *file*
    (the deals' export) and the deals' rows there."""
    rows = history.deals.row
    _past_close_dates(history, rows, file, notes)
    if history.has_stages:  # a deal table holds no date of a deal's last change
        _untouched(history, rows, file, notes)
    _after_the_fact(history, rows, file, notes)
    cut = np.datetime64(history.as_of, "s")
    created = history.deals.created
    for burst in bursts(created, history.as_of):
        day = created.astype("datetime64[D]")
        inside = (day >= np.datetime64(burst.first)) & (day <= np.datetime64(burst.last)) & \
            (created <= cut)
        span = burst.first.isoformat() if burst.first == burst.last else \
            f"{burst.first.isoformat()} to {burst.last.isoformat()}"
        notes.add("SP824", f"{burst.deals:,} deals were created {span}, far above the "
                  f"usual level (about {burst.expected:,.0f}): an import or a campaign",
                  file, rows=_first(rows, inside), count=burst.deals, key=f"burst {span}",
                  hint="deals loaded at once from a list or another system carry the "
                  "import's date as their created date, and are no sign of demand")


def _first(rows: np.ndarray, mask: np.ndarray) -> list[int]:
    return [int(r) for r in np.sort(rows[mask])[:MAX_ROWS_SHOWN] if r >= 0]


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "–"


def _past_close_dates(history: History, rows: np.ndarray, file: str,
                      notes: Notebook) -> None:
    d = history.deals
    day = np.datetime64(history.as_of, "D").astype("datetime64[s]")
    is_open = d.outcome == OUTCOME_OPEN
    past = is_open & (d.close_date < day)  # NaT compares False: no close date, no note
    if past.any():
        count, total = int(past.sum()), int(is_open.sum())
        notes.add("SP821", f"{count:,} open deals ({_share(count, total)} of {total:,}) have "
                  f"an expected close date before the as-of date "
                  f"({history.as_of.date().isoformat()})", file, rows=_first(rows, past),
                  count=count, key="past close date",
                  hint="the CRM's close dates are out of date: these deals may be stalled")


def last_touched(history: History) -> np.ndarray:
    """For each deal, its last change the history holds: created, a stage entered or left,
    or a change of amount, probability or close date (datetime64[s]). A CRM row that
    changed none of these (Salesforce writes rows for these, and for the forecast category
    that follows the stage) is not kept, so it does not count."""
    d, v = history.deals, history.visits
    out: np.ndarray = d.created.copy()
    for deal, at in ((v.deal, v.entered), (v.deal, v.left)):
        known = ~np.isnat(at)
        _latest(out, deal[known], at[known])
    if history.values is not None:
        _latest(out, history.values.deal, history.values.at)
    return out


def _latest(out: np.ndarray, deal: np.ndarray, at: np.ndarray) -> None:
    """out[deal] = max(out[deal], at), for repeated deals too."""
    seconds = out.astype(np.int64)
    np.maximum.at(seconds, deal, at.astype(np.int64))
    out[:] = seconds.astype("datetime64[s]")


def _untouched(history: History, rows: np.ndarray, file: str, notes: Notebook) -> None:
    d = history.deals
    is_open = d.outcome == OUTCOME_OPEN
    idle = (np.datetime64(history.as_of, "s") - last_touched(history)) / DAY
    stale = is_open & (idle >= UNTOUCHED_DAYS)
    if stale.any():
        count, total = int(stale.sum()), int(is_open.sum())
        notes.add("SP822", f"{count:,} open deals ({_share(count, total)} of {total:,}) have "
                  f"had no change of stage, amount, probability or close date for "
                  f"{UNTOUCHED_DAYS} days or more", file,
                  rows=_first(rows, stale), count=count, key="untouched",
                  hint="deals nobody works on: close them in the CRM, or they count as "
                  "pipeline")


def _after_the_fact(history: History, rows: np.ndarray, file: str,
                    notes: Notebook) -> None:
    d = history.deals
    late = after_the_fact(d)
    if late.any():
        count, wins = int(late.sum()), int((d.outcome == OUTCOME_WON).sum())
        notes.add("SP823", f"{count:,} of the {wins:,} won deals ({_share(count, wins)}) were "
                  "won within an hour of being created: entered after the fact", file,
                  rows=_first(rows, late), count=count, key="after the fact",
                  hint="the sale happened outside the CRM: these deals' times in stage say "
                  "nothing of the process")

