"""The forecast's change over a review's period, and what moved it.

The review (measuring.review) says what happened between two dates; this says what that
did to the forecast. The same forecast (prediction.forecast, the same process, seed and
number of runs) is made as the history stood at the start and as it stands at the end,
both of the deals won and the revenue from the start to the same date, *until*: at the
start all of it is forecast; at the end, what was won in the period is known and the
rest is forecast. The change is taken run by run (run k of one less run k of the other:
common random numbers), so its interval is that of a paired difference.

What moved it is told deal by deal. A deal's part in a forecast is its chance to be won
by *until* and the revenue it is expected to bring (prediction.forecast.DealChance); a
deal won in the period counts as won (1, and its value). Each deal's part at the end less
its part at the start goes to one cause, by the review's own states (one rule for both,
measuring.review.deal_states): won or lost in the period, new, reopened, and for deals
open at both dates moved forward, moved back, slipped (expected in the period, now
after it), amount changed, or no change (only time passed: deals that sit lose chance).
What is left is the new deals still to come (and wins entered after the fact): the start
expected them for the whole period, the end for what is left of it. As a forecast's
mean is the sum of its deals' parts and the rest, the causes sum to the change's mean
exactly.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

import numpy as np

from salesproc.core.errors import SettingsError
from salesproc.core.stats import Estimate
from salesproc.measuring.review import (
    FORECAST_CAUSES,
    DealStates,
    ForecastChange,
    ForecastMove,
    deal_states,
)
from salesproc.prediction.forecast import REPLICATIONS, Forecast, forecast

if TYPE_CHECKING:
    from salesproc.history.table import History
    from salesproc.process.model import Process

FIGURES = ("won", "revenue")
PERIODS = ("month", "quarter", "year")  # the forecast to the end of the review's current one


def forecast_end(when: str | dt.datetime, end: dt.datetime) -> dt.datetime:
    """The forecast's end for a review ending at *end*: a date as given (text too: a day
    alone is its end), the last moment of *end*'s month, quarter or year (PERIODS), or
    a span after *end* ('13w', units.parse_span; a bare number is days). A
    SettingsError ('forecast') for anything else."""
    from salesproc.core.units import SpanError, parse_span

    if isinstance(when, dt.datetime):
        return when
    text = when.strip().lower()
    if len(text) >= 10 and text[4:5] == "-":  # a date, or a date and time
        try:
            day = dt.datetime.fromisoformat(text)
        except ValueError:
            raise SettingsError("forecast", f"'{when[:40]}' is not a date like 2026-12-31"
                                ) from None
        if day.tzinfo is not None:
            raise SettingsError("forecast", f"'{when[:40]}' has a time zone; give the "
                                "team's local time without one, as the exports' times are")
        return day + dt.timedelta(days=1, seconds=-1) if len(text) == 10 else day
    if text in PERIODS:
        months = {"month": 1, "quarter": 3, "year": 12}[text]
        first = (end.month - 1) // months * months  # the period's first month, from 0
        year, month = divmod(first + months, 12)  # the next period's
        return dt.datetime(end.year + year, month + 1, 1) - dt.timedelta(seconds=1)
    try:
        return end + dt.timedelta(days=parse_span(text, "day"))
    except SpanError as exc:
        raise SettingsError("forecast", f"'{when[:40]}' is not a forecast's end: a date, "
                            "month, quarter, year or a span such as 13w",
                            hint=exc.hint) from None


def forecast_change(history: History, since: dt.datetime, until: dt.datetime, *,
                    process: Process | None = None, replications: int = REPLICATIONS,
                    seed: int | None = None, workers: int = 1) -> ForecastChange:
    """The forecast of deals won and revenue from *since* to *until*, made as *history*
    stood at *since* and as it stands at its as-of date, the change and what moved it
    (see the module's docstring). A SettingsError ('until') when *until* is not after
    the history's as-of date."""
    end = history.as_of
    if until <= end:
        raise SettingsError("forecast", f"the forecast must end after the review's end "
                            f"({end:%Y-%m-%d %H:%M}), not on {until:%Y-%m-%d}")
    states = deal_states(history, since)
    before, after = (forecast(h, until, process=process, replications=replications,
                              seed=seed, workers=workers) for h in (states.before, history))
    won = states.won
    actual = {"won": float(won.sum()), "revenue": math.fsum(states.value_end[won].tolist())}
    parts_before = _parts(before, history)
    parts_after = _parts(after, history)
    moves = _moves(states, parts_before, parts_after, actual_revenue=states.value_end)
    rest = {k: (_mean(after, k) - float(parts_after[k].sum()))
            - (_mean(before, k) - float(parts_before[k].sum())) for k in FIGURES}
    moves.append(ForecastMove("new deals still to come", 0, rest["won"], rest["revenue"]))
    return ForecastChange(
        until, replications,
        before={k: _estimate(before, k, 0.0) for k in FIGURES},
        after={k: _estimate(after, k, actual[k]) for k in FIGURES},
        change={k: Estimate.of([actual[k] + a[k] - b[k] for a, b in
                                zip(after.runs, before.runs, strict=True)])
                for k in FIGURES},
        actual=actual, moves=moves)


def _mean(result: Forecast, figure: str) -> float:
    return result.totals[figure].mean.mean


def _estimate(result: Forecast, figure: str, known: float) -> Estimate:
    """A forecast's figure with what is known already added to each run."""
    return Estimate.of([known + r[figure] for r in result.runs], floor=0.0)


def _parts(result: Forecast, history: History) -> dict[str, np.ndarray]:
    """Each deal's part in *result* (by its index in *history*, the end's): its chance to
    be won by the forecast's end and the revenue it is expected to bring."""
    index = {deal: k for k, deal in enumerate(history.deals.id.to_pylist())}
    out = {k: np.zeros(len(history.deals)) for k in FIGURES}
    for d in result.deals:
        k = index[d.id]
        out["won"][k] += d.chance
        out["revenue"][k] += d.expected_revenue
    return out


def _moves(s: DealStates, before: dict[str, np.ndarray], after: dict[str, np.ndarray], *,
           actual_revenue: np.ndarray) -> list[ForecastMove]:
    """Each deal's part at the end (a deal won in the period: 1 and its value) less its
    part at the start, summed by cause (the first that holds, in FORECAST_CAUSES' order);
    the causes no deal has are left out."""
    delta = {"won": after["won"] + s.won - before["won"],
             "revenue": after["revenue"] + np.where(s.won, actual_revenue, 0.0)
             - before["revenue"]}
    both = s.was_open & s.is_open
    changed = both & (s.value_end != s.value_start)
    masks = [s.was_open & s.won, s.was_open & s.lost, s.absent, s.reopened, s.forward,
             s.back, s.slipped, changed, both]
    taken = np.zeros(len(s.stop), dtype=bool)
    out = []
    for cause, mask in zip(FORECAST_CAUSES, masks, strict=False):
        mine = mask & ~taken
        taken |= mine
        if mine.any():
            out.append(ForecastMove(cause, int(mine.sum()),
                                    math.fsum(delta["won"][mine].tolist()),
                                    math.fsum(delta["revenue"][mine].tolist())))
    return out
