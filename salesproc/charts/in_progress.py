"""Deals in progress at the end of each month, with the worst-to-best range of a run."""

from __future__ import annotations

import math
from typing import Any

from salesproc.charts.base import Chart, Table
from salesproc.charts.style import BAND_ALPHA, BLUE, figure, interval, money, number, title, value


def chart(data: dict[str, Any]) -> Chart | None:
    """Deals in progress by month, or None for a run shorter than two months."""
    months = [(label, m) for label, m in data.get("months", {}).items()
              if math.isfinite(value(m.get("open")))]
    if len(months) < 2:
        return None
    xs = list(range(len(months)))
    mean = [value(m["open"]) for _, m in months]
    worst = [value(m["open"], "worst") for _, m in months]
    best = [value(m["open"], "best") for _, m in months]
    fig, ax = figure()
    if all(math.isfinite(x) for x in worst + best):
        ax.fill_between(xs, worst, best, color=BLUE, alpha=BAND_ALPHA, lw=0,
                        label="worst–best case of a run")
    ax.plot(xs, mean, color=BLUE, lw=2, marker="o", ms=3, label="mean")
    ax.set_xticks(xs, [label for label, _ in months], rotation=45, ha="right")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("open deals")
    ax.legend(loc="upper left", fontsize=8)
    title(ax, "Deals in progress", "open deals at the end of each month")
    currency = data["process"]["currency"]
    rows = tuple((label, interval(m["open"]), f"{number(value(m['open'], 'worst'), 0)}–"
                  f"{number(value(m['open'], 'best'), 0)}",
                  interval(m.get("open_value"), lambda x: money(x)))
                 for label, m in months)
    return Chart("in-progress", "Deals in progress",
                 "Open deals at each month's end: the mean with its 95% interval, and the "
                 "worst-to-best case of a single run.", fig,
                 Table(("month", "open deals", "worst–best", f"their value ({currency})"),
                       rows))
