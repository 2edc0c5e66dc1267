"""How busy each role is, against 100%, with the bottleneck marked."""

from __future__ import annotations

import math
from typing import Any

from salesproc.charts.base import Chart, Table
from salesproc.charts.style import (
    BLUE,
    INK,
    VERMILLION,
    axis_percent,
    figure,
    interval,
    number,
    percent,
    short,
    title,
    value,
)


def chart(data: dict[str, Any]) -> Chart | None:
    """How busy each role is in a simulation, or None without roles."""
    roles = data["roles"]
    if not roles:
        return None
    titles = data["process"]["names"]["roles"]
    neck = (data.get("bottleneck") or {}).get("role")
    items = list(roles.items())
    fig, ax = figure(height=1.2 + 0.36 * len(items))
    ys = list(range(len(items)))[::-1]
    means = [value(r["utilization"]) for _, r in items]
    means = [m if math.isfinite(m) else 0.0 for m in means]
    colours = [VERMILLION if rid == neck else BLUE for rid, _ in items]
    ax.barh(ys, means, color=colours, height=0.6)
    lows = [max(m - value(r["utilization"], "low"), 0.0) if math.isfinite(
        value(r["utilization"], "low")) else 0.0 for m, (_, r) in zip(means, items, strict=True)]
    highs = [max(value(r["utilization"], "high") - m, 0.0) if math.isfinite(
        value(r["utilization"], "high")) else 0.0 for m, (_, r) in zip(means, items, strict=True)]
    ax.errorbar(means, ys, xerr=[lows, highs], fmt="none", ecolor=INK, capsize=3, lw=1)
    ax.axvline(1.0, color=INK, lw=1, ls="--")
    labels = [short(titles.get(rid, rid)) + (" ◀ bottleneck" if rid == neck else "")
              for rid, _ in items]
    ax.set_yticks(ys, labels)
    ax.set_xlim(0, max(1.05, max(means) * 1.1))
    axis_percent(ax, "x")
    ax.set_xlabel("share of working time busy")
    ax.grid(axis="y", visible=False)
    title(ax, "How busy each team is", "against 100% of their working time; whisker: 95% "
          "interval; red: the bottleneck")
    rows = tuple((titles.get(rid, rid) + (" (bottleneck)" if rid == neck else ""),
                  str(r["headcount"]), interval(r["utilization"], percent),
                  number(value(r["queue_days"]))) for rid, r in items)
    unit = data["process"]["time_unit"]
    return Chart("utilization", "How busy each team is",
                 "Share of working time each role is busy, with its 95% interval; the "
                 "bottleneck is the role where one more person helps most (paired runs on "
                 "the same deals).", fig,
                 Table(("role", "people", "busy", f"deal-{unit}s waiting for them (busy)"),
                       rows))
