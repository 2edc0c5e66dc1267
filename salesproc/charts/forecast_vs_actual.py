"""The backtest: at each origin, the forecast's worst-to-best band and neutral case, what
actually happened, and the baselines' forecasts, for deals won and revenue."""

from __future__ import annotations

import math
from typing import Any

from salesproc.charts.base import Chart, Table
from salesproc.charts.style import (
    BAND_ALPHA,
    BLUE,
    GREEN,
    INK,
    SERIES,
    axis_money,
    heading,
    legend_below,
    money,
    number,
    panels,
    value,
)

#: A marker per baseline, so that they are told apart without colour too.
MARKERS = ("v", "^", "s", "D", "P", "X")


def chart(data: dict[str, Any]) -> Chart | None:
    """Forecast against actual at each origin (``Backtest.to_dict()``), or None without
    an origin."""
    origins = data.get("origins", [])
    if not origins:
        return None
    names: dict[str, str] = data.get("baselines", {})
    cases = data.get("cases", {})
    fig, (wins, revenue) = panels(2, height=6.0, across=False)
    xs = list(range(len(origins)))
    colours = [c for c in SERIES if c not in (BLUE, GREEN)]
    for ax, figure, colour, words in ((wins, "won", GREEN, "deals won"),
                                      (revenue, "revenue", BLUE, "revenue")):
        worst = [value(o[figure], "worst") for o in origins]
        best = [value(o[figure], "best") for o in origins]
        ax.vlines(xs, worst, best, color=colour, alpha=BAND_ALPHA * 2, lw=10,
                  label=f"worst to best case ({cases.get('worst', 'p10')}–"
                        f"{cases.get('best', 'p90')})" if ax is wins else "_band")
        ax.plot(xs, [value(o[figure], "neutral") for o in origins], "_", color=colour, ms=16,
                mew=2.5, label="neutral case" if ax is wins else None)
        for k, (key, name) in enumerate(names.items()):
            ys = [_baseline(o, key, figure) for o in origins]
            if any(math.isfinite(y) for y in ys):
                ax.plot(xs, ys, MARKERS[k % len(MARKERS)], color=colours[k % len(colours)],
                        ms=5, mec=INK, mew=0.4, label=name if ax is wins else None)
        ax.plot(xs, [_actual(o, figure) for o in origins], "o", color=INK, ms=7,
                label="actual" if ax is wins else None)
        ax.set_ylabel(words)
        ax.set_ylim(bottom=0)
        ax.set_xticks(xs, [o["at"][:10] for o in origins])
        ax.set_xlim(-0.6, len(origins) - 0.4)
    axis_money(revenue)
    legend_below(fig, columns=4)
    title = f"Forecast against what happened, {data['horizon_days']:g} days from each origin"
    heading(fig, title)
    rows = tuple((o["at"][:10], words, *(show(value(o[figure], k))
                                         for k in ("worst", "neutral", "best")),
                  show(_actual(o, figure)), *(show(_baseline(o, k, figure)) for k in names))
                 for o in origins
                 for figure, words, show in (("won", "deals won", number),
                                             ("revenue", "revenue", money)))
    return Chart("backtest", title,
                 "At each origin: the forecast's worst to best case (bar) and neutral case "
                 "(dash), what happened (black dot), and each baseline's forecast made at "
                 "the same origin (markers).", fig,
                 Table(("origin", "figure", "worst", "neutral", "best", "actual",
                        *names.values()), rows))


def _actual(origin: dict[str, Any], figure: str) -> float:
    found = origin["actual_won" if figure == "won" else "actual_revenue"]
    return math.nan if found is None else float(found)


def _baseline(origin: dict[str, Any], key: str, figure: str) -> float:
    return value(origin.get("baselines", {}).get(key), figure)
