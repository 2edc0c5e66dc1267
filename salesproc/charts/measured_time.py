"""Time in stage as measured (Kaplan-Meier restricted mean with its 95% interval) beside
what the process file expects."""

from __future__ import annotations

import math
from typing import Any

from salesproc.charts.base import Chart, Table
from salesproc.charts.style import (
    BLUE,
    INK,
    ORANGE,
    figure,
    legend_below,
    number,
    short,
    title,
    value,
)


def chart(data: dict[str, Any]) -> Chart | None:
    """Measured time in stage of a measurement, or None without stays."""
    times = [t for t in data["overall"]["time_in_stage"]
             if t["mean"] and t["mean"].get("mean") is not None]
    if not times:
        return None
    names = data["process"].get("names", {}).get("stages", {})
    fig, ax = figure(height=1.2 + 0.42 * len(times))
    ys = list(range(len(times)))[::-1]
    means = [value(t["mean"], "mean") for t in times]
    lows = [m - value(t["mean"], "low") for m, t in zip(means, times, strict=True)]
    highs = [value(t["mean"], "high") - m for m, t in zip(means, times, strict=True)]
    ax.barh(ys, means, color=BLUE, height=0.55, label="measured")
    ax.errorbar(means, ys, xerr=[[x if math.isfinite(x) else 0 for x in lows],
                                 [x if math.isfinite(x) else 0 for x in highs]],
                fmt="none", ecolor=INK, capsize=3, lw=1)
    files = [value(t, "file_mean") for t in times]
    ax.plot(files, ys, "D", color=ORANGE, ms=6, label="the process file")
    ax.set_yticks(ys, [short(names.get(t["stage"], t["stage"])) for t in times])
    ax.set_xlabel("days per visit")
    ax.grid(axis="y", visible=False)
    legend_below(fig, 2)
    title(ax, "Time in stage: measured against the file",
          "mean days per visit, open visits counted (Kaplan–Meier); whisker: 95% interval")
    rows = tuple((names.get(t["stage"], t["stage"]), str(t["visits"]), str(t["open"]),
                  f"{number(m)} ({number(m - lo)}–{number(m + hi)})", number(t["median"]),
                  number(f), "yes" if t["outside"] else "")
                 for t, m, lo, hi, f in zip(times, means, lows, highs, files, strict=True))
    return Chart("measured-time", "Time in stage: measured against the file",
                 "Mean days per visit as measured, with open visits counted as at least "
                 "their age, beside the file's expectation.", fig,
                 Table(("stage", "visits", "still open", "mean days (95% interval)",
                        "median days", "file's mean", "file outside the interval"), rows))
