"""Wins and revenue per month, with the worst, neutral and best case of a run."""

from __future__ import annotations

import math
from typing import Any

from salesproc.charts.base import Chart, Table
from salesproc.charts.style import (
    BLUE,
    GREEN,
    INK,
    axis_money,
    heading,
    legend_below,
    money,
    number,
    panels,
    percent,
    value,
)


def chart(data: dict[str, Any]) -> Chart | None:
    """Wins and revenue by month of a simulation, or None without months."""
    months = [(label, m) for label, m in data.get("months", {}).items() if "won" in m]
    if not months:
        return None
    currency = data["process"]["currency"]
    fig, (wins, revenue) = panels(2, height=5.2, across=False)
    xs = list(range(len(months)))
    partial = [value(m.get("measured")) < 0.999 for _, m in months]
    for ax, metric, colour, label in ((wins, "won", GREEN, "deals won"),
                                      (revenue, "revenue", BLUE, f"revenue ({currency})")):
        means = [value(m[metric]) for _, m in months]
        worst = [value(m[metric], "worst") for _, m in months]
        neutral = [value(m[metric], "neutral") for _, m in months]
        best = [value(m[metric], "best") for _, m in months]
        ax.bar(xs, means, color=[colour] * len(xs), alpha=0.85, width=0.7,
               label="mean" if ax is wins else None)
        for x, cut in zip(xs, partial, strict=True):
            if cut:
                ax.bar([x], [means[x]], color="white", alpha=0.55, width=0.7, hatch="//",
                       edgecolor=colour)
        if all(math.isfinite(v) for v in worst + best):
            ax.errorbar(xs, neutral, yerr=[[max(n - w, 0) for n, w in zip(neutral, worst,
                                                                         strict=True)],
                                           [max(b - n, 0) for n, b in zip(neutral, best,
                                                                          strict=True)]],
                        fmt="o", color=INK, ms=3, capsize=3, lw=1,
                        label="neutral case, worst to best" if ax is wins else None)
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        ax.set_xticks(xs, [m for m, _ in months], rotation=45, ha="right")
    legend_below(fig, 2)
    axis_money(revenue)
    heading(fig, "Wins and revenue per month")
    rows = tuple((label + (" (part)" if cut else ""), number(value(m["won"])),
                  f"{number(value(m['won'], 'worst'))} / {number(value(m['won'], 'neutral'))}"
                  f" / {number(value(m['won'], 'best'))}", money(value(m["revenue"])),
                  f"{money(value(m['revenue'], 'worst'))} / "
                  f"{money(value(m['revenue'], 'neutral'))} / "
                  f"{money(value(m['revenue'], 'best'))}",
                  percent(value(m.get("measured"))))
                 for (label, m), cut in zip(months, partial, strict=True))
    return Chart("monthly", "Wins and revenue per month",
                 "Bars: the mean per month; dots and whiskers: the neutral case and the "
                 "worst to best case of one run (10th, 50th, 90th percentile). Hatched: a "
                 "month only partly inside the period.", fig,
                 Table(("month", "won (mean)", "won worst / neutral / best",
                        f"revenue ({currency})", "revenue worst / neutral / best",
                        "share of month simulated"), rows))
