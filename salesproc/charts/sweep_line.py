"""A sweep of one setting: each headline figure against the setting with its 95% band,
and the won deals each step adds."""

from __future__ import annotations

import math
from typing import Any

from salesproc.charts.base import Chart, Table
from salesproc.charts.style import (
    BAND_ALPHA,
    BLUE,
    GREY,
    INK,
    SERIES,
    axis_money,
    axis_percent,
    figure,
    heading,
    interval,
    panels,
    title,
    value,
)

FIGURES = (("won", "deals won"), ("revenue", "revenue"), ("lead_to_win", "lead-to-win rate"),
           ("cycle_mean", "cycle time"))


def varying(data: dict[str, Any]) -> list[str]:
    """The settings that take more than one value, in the order given."""
    points = [p["settings"] for p in data["points"]]
    return [k for k in points[0] if len({p[k] for p in points}) > 1]


def chart(data: dict[str, Any]) -> Chart | None:
    """The figures against the setting of a one-setting sweep (None for others)."""
    settings = varying(data)
    if len(settings) != 1:
        return None
    (setting,) = settings
    points = data["points"]
    labels = [p["settings"][setting] for p in points]
    xs = _positions(labels)
    unit = data.get("time_unit", "day")
    fig, axes = panels(len(FIGURES), width=7.2, height=6.4, across=False)
    for k, (ax, (metric, words)) in enumerate(zip(axes, FIGURES, strict=True)):
        means = [value(p["figures"][metric]) for p in points]
        lows = [value(p["figures"][metric], "low") for p in points]
        highs = [value(p["figures"][metric], "high") for p in points]
        colour = SERIES[k % len(SERIES)]
        if all(math.isfinite(v) for v in lows + highs):
            ax.fill_between(xs, lows, highs, color=colour, alpha=BAND_ALPHA, lw=0)
        ax.plot(xs, means, color=colour, lw=2, marker="o", ms=3)
        ax.set_ylabel(words + (f" ({unit}s)" if metric == "cycle_mean" else ""), fontsize=8)
        if metric == "lead_to_win":
            axis_percent(ax)
        elif metric == "revenue":
            axis_money(ax)
        ax.set_xticks(xs, labels)
    axes[-1].set_xlabel(setting)
    heading(fig, f"The headline figures against {setting}")
    rows = tuple((label, *(interval(p["figures"][m]) for m, _ in FIGURES))
                 for label, p in zip(labels, points, strict=True))
    return Chart("sweep", f"The headline figures against {setting}",
                 "Each figure's mean for each value of the setting, with its 95% confidence "
                 "band.", fig, Table((setting, *(w for _, w in FIGURES)), rows))


def steps(data: dict[str, Any]) -> Chart | None:
    """The won deals each step of a one-setting sweep adds, with the simultaneous
    interval of the steps."""
    settings = varying(data)
    if len(settings) != 1:
        return None
    (setting,) = settings
    points = data["points"][1:]
    found = [p["won_vs_previous"] for p in points]
    if not found or any(f is None or f["mean"] is None for f in found):
        return None
    labels = [p["settings"][setting] for p in points]
    xs = list(range(len(points)))
    fig, ax = figure()
    means = [value(f) for f in found]
    colours = [BLUE if f["significant"] else GREY for f in found]
    ax.bar(xs, means, color=colours, width=0.6)
    lows, highs = [value(f, "low") for f in found], [value(f, "high") for f in found]
    if all(math.isfinite(v) for v in lows + highs):
        ax.errorbar(xs, means, yerr=[[m - lo for m, lo in zip(means, lows, strict=True)],
                                     [h - m for m, h in zip(means, highs, strict=True)]],
                    fmt="none", ecolor=INK, capsize=3, lw=1)
    ax.axhline(0, color=INK, lw=1)
    previous = [p["settings"][setting] for p in data["points"][:-1]]
    ax.set_xticks(xs, [f"{a}→{b}" for a, b in zip(previous, labels, strict=True)])
    ax.set_xlabel(setting)
    ax.set_ylabel("more deals won")
    level = data.get("step_confidence", 0.95)
    title(ax, "What each step adds", f"won deals gained from the previous value; whiskers "
          f"hold together at 95% (each {level:.1%}); blue: a significant gain")
    rows = tuple((f"{a} → {b}", interval(f), "yes" if f["significant"] else "no")
                 for a, b, f in zip(previous, labels, found, strict=True))
    return Chart("sweep-steps", "What each step adds",
                 "Won deals gained by each step, paired with the previous value, with "
                 "intervals that hold together at 95%.", fig,
                 Table(("step", "more deals won", "significant"), rows))


def _positions(labels: list[str]) -> list[float]:
    """Numbers where the values are numbers (so uneven steps look uneven), else 0, 1, 2."""
    try:
        xs = [float(label) for label in labels]
    except ValueError:
        return [float(i) for i in range(len(labels))]
    return xs if len(set(xs)) == len(xs) else [float(i) for i in range(len(labels))]


