"""The forecast by month: the neutral case, the worst-to-best band, and the mean, for
deals won and revenue."""

from __future__ import annotations

import math
from typing import Any

from salesproc.charts.base import Chart, Table
from salesproc.charts.style import (
    BAND_ALPHA,
    BLUE,
    GREEN,
    INK,
    axis_money,
    heading,
    money,
    number,
    panels,
    value,
)


def _labels(data: dict[str, Any], months: list[str]) -> list[str]:
    """Month labels, the first and last saying where the forecast starts and ends."""
    import datetime as dt

    shown = list(months)
    start, end = (dt.date.fromisoformat(data[k][:10]) for k in ("as_of", "until"))
    if shown and f"{start:%Y-%m}" == shown[0] and start.day != 1:
        shown[0] += f"\nfrom {start.day} {start:%b}"
    if shown and f"{end:%Y-%m}" == shown[-1]:
        shown[-1] += f"\nto {end.day} {end:%b}"
    return shown


def chart(data: dict[str, Any]) -> Chart | None:
    """The fan chart of a forecast by month, or None without months."""
    months = list(data.get("months", {}).items())
    if not months:
        return None
    currency = data["process"]["currency"]
    cases = data.get("cases", {})
    fig, (wins, revenue) = panels(2, height=5.2, across=False)
    xs = list(range(len(months)))
    for ax, metric, colour, words in ((wins, "won", GREEN, "deals won"),
                                      (revenue, "revenue", BLUE, f"revenue ({currency})")):
        worst = [value(m[metric], "worst") for _, m in months]
        best = [value(m[metric], "best") for _, m in months]
        neutral = [value(m[metric], "neutral") for _, m in months]
        mean = [value(m[metric], "mean") for _, m in months]
        if all(math.isfinite(v) for v in worst + best):
            ax.fill_between(xs, worst, best, color=colour, alpha=BAND_ALPHA, lw=0,
                            label=f"worst to best case ({cases.get('worst', 'p10')}–"
                                  f"{cases.get('best', 'p90')})")
        ax.plot(xs, neutral, color=colour, lw=2, label=f"neutral case "
                f"({cases.get('neutral', 'p50')})")
        ax.plot(xs, mean, "o", color=INK, ms=3, label="mean")
        ax.set_ylabel(words)
        ax.set_ylim(bottom=0)
        ax.set_xticks(xs, _labels(data, [label for label, _ in months]))
        ax.legend(loc="upper left", fontsize=8)
    axis_money(revenue)
    heading(fig, f"Forecast from {data['as_of'][:10]} to {data['until'][:10]}")
    rows = tuple((label, *(number(value(m["won"], k)) for k in ("worst", "neutral", "best")),
                  number(value(m["won"], "mean")),
                  *(money(value(m["revenue"], k)) for k in ("worst", "neutral", "best")))
                 for label, m in months)
    return Chart("forecast", f"Forecast from {data['as_of'][:10]} to {data['until'][:10]}",
                 "What may happen each month: the neutral case (line), the worst to best case "
                 "of the runs (band) and the mean (dots).", fig,
                 Table(("month", "won: worst", "neutral", "best", "mean", "revenue: worst",
                        "neutral", "best"), rows))
