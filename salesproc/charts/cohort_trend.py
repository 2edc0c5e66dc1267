"""The review's cohorts: the win rate of the deals created each month, with its 95%
interval, and the median days they took to win, with its 95% interval."""

from __future__ import annotations

import math
from typing import Any

from salesproc.charts.base import Chart, Table
from salesproc.charts.style import (
    BLUE,
    GREEN,
    axis_percent,
    heading,
    interval,
    number,
    panels,
    percent,
    value,
)


def chart(data: dict[str, Any]) -> Chart | None:
    """The cohort trend of a review (``Review.to_dict()``), or None when no cohort has a
    deal closed yet."""
    cohorts = data["cohorts"]
    if not any(c["won"] + c["lost"] for c in cohorts):
        return None
    fig, (rates, days) = panels(2, height=5.0, across=False)
    xs = list(range(len(cohorts)))
    young = [c["open"] > 0 for c in cohorts]  # a rate of those closed so far
    for ax, colour, points in (
            (rates, BLUE, [(value(c["win_rate"]), value(c["win_rate"], "low"),
                            value(c["win_rate"], "high")) for c in cohorts]),
            (days, GREEN, [(_number(c["cycle_median_days"]), _number(c["cycle_low"]),
                            _number(c["cycle_high"])) for c in cohorts])):
        for x, (mid, low, high), part in zip(xs, points, young, strict=True):
            if not math.isfinite(mid):
                continue
            spread = ([[mid - low], [high - mid]] if math.isfinite(low) and math.isfinite(high)
                      else None)
            ax.errorbar([x], [mid], yerr=spread, fmt="o", color=colour, ms=6, capsize=4,
                        lw=1.2, mfc="white" if part else colour)
        shown = [(x, p[0]) for x, p in zip(xs, points, strict=True) if math.isfinite(p[0])]
        if len(shown) > 1:
            ax.plot(*zip(*shown, strict=True), color=colour, lw=1, alpha=0.5)
        ax.set_xticks(xs, [c["month"] for c in cohorts])
        ax.set_xlim(-0.5, len(xs) - 0.5)
        ax.set_ylim(bottom=0)
    axis_percent(rates)
    rates.set_ylim(0, 1)
    rates.set_ylabel("win rate (of closed)")
    days.set_ylabel("median days to win")
    heading(fig, "Win rate and days to win, by month created")
    rows = tuple((c["month"] + (" (still open deals)" if part else ""), f"{c['deals']:,}",
                  f"{c['won'] + c['lost']:,}", interval(c["win_rate"], percent),
                  _days(c)) for c, part in zip(cohorts, young, strict=True))
    return Chart("cohort-trend", "Win rate and days to win, by month created",
                 "Each month's deals: the share won of those closed (whiskers: its 95% "
                 "interval), and the median days from created to won (whiskers: its 95% "
                 "interval, where enough were won). A hollow dot: the month still has open "
                 "deals, so its figures are of those closed so far.", fig,
                 Table(("month created", "deals", "closed", "win rate (95% interval)",
                        "median days to win (95% interval)"), rows))


def _number(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _days(c: dict[str, Any]) -> str:
    mid, low = _number(c["cycle_median_days"]), _number(c["cycle_low"])
    if math.isnan(low):
        return number(mid)
    return f"{number(mid)} ({number(low)}–{number(_number(c['cycle_high']))})"
