"""Time in stage, split into waiting on the prospect, waiting for our people, our work and
approvals, with the 95% interval of the total."""

from __future__ import annotations

import math
from typing import Any

from salesproc.charts.base import Chart, Table
from salesproc.charts.style import (
    INK,
    PARTS,
    figure,
    interval,
    legend_below,
    number,
    short,
    title,
    value,
)


def chart(data: dict[str, Any]) -> Chart | None:
    """Time in stage of a simulation, or None when no stage was visited."""
    unit = data["process"]["time_unit"]
    names = data["process"]["names"]["stages"]
    stages = [(sid, block) for sid, block in data["stages"].items()
              if value(block.get("visits")) > 0]
    if not stages:
        return None
    fig, ax = figure(height=1.6 + 0.5 * len(stages))
    ys = list(range(len(stages)))[::-1]
    left = [0.0] * len(stages)
    for part, (label, colour) in PARTS.items():
        widths = [max(value(block.get(part)), 0.0) if math.isfinite(value(block.get(part)))
                  else 0.0 for _, block in stages]
        ax.barh(ys, widths, left=left, color=colour, label=label, height=0.6)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    totals = [block.get("time") for _, block in stages]
    means = [value(t) for t in totals]
    lows = [m - value(t, "low") if math.isfinite(value(t, "low")) else 0.0
            for m, t in zip(means, totals, strict=True)]
    highs = [value(t, "high") - m if math.isfinite(value(t, "high")) else 0.0
             for m, t in zip(means, totals, strict=True)]
    ax.errorbar(means, ys, xerr=[lows, highs], fmt="none", ecolor=INK, capsize=3, lw=1)
    ax.set_yticks(ys, [short(names.get(sid, sid)) for sid, _ in stages])
    ax.set_xlabel(f"{unit}s per visit")
    ax.grid(axis="y", visible=False)
    legend_below(fig)
    title(ax, "Where the time goes in each stage",
          "mean time per visit; the whisker is the 95% interval of the total")
    rows = tuple((names.get(sid, sid), *(number(value(block.get(p))) for p in PARTS),
                  interval(block.get("time"))) for sid, block in stages)
    return Chart("time-in-stage", "Where the time goes in each stage",
                 f"Mean {unit}s per visit, split into its parts; the total with its 95% "
                 "confidence interval.", fig,
                 Table(("stage", *(label for label, _ in PARTS.values()),
                        f"total ({unit}s)"), rows))
