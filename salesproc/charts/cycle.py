"""How long won deals take: the share of won deals closed within so many days, overall
(with the 95% interval of each percentile) and per buyer type."""

from __future__ import annotations

import math
from typing import Any

from salesproc.charts.base import Chart, Table
from salesproc.charts.style import (
    BAND_ALPHA,
    INK,
    SERIES,
    axis_percent,
    figure,
    number,
    title,
    value,
)


def chart(data: dict[str, Any]) -> Chart | None:
    """The cycle-time chart of a simulation, or None without won deals."""
    dist = data.get("cycle_distribution") or {}
    names = data["process"]["names"]["buyer_types"]
    unit = data["process"]["time_unit"]
    labels = dist.get("percentiles", [])
    overall = dist.get("overall", {})
    if not labels or not all(math.isfinite(value(overall.get(p))) for p in labels):
        return None
    shares = [int(p[1:]) / 100 for p in labels]
    fig, ax = figure()
    mean = [value(overall[p]) for p in labels]
    low = [value(overall[p], "low") for p in labels]
    high = [value(overall[p], "high") for p in labels]
    if all(math.isfinite(x) for x in low + high):
        ax.fill_betweenx(shares, low, high, color=INK, alpha=BAND_ALPHA, lw=0,
                         label="all deals: 95% interval")
    ax.plot(mean, shares, color=INK, lw=2, label="all deals")
    columns = [("all deals", mean)]
    per_buyer = dist.get("buyer_types", {})
    if len(per_buyer) > 1:
        for k, (buyer, block) in enumerate(per_buyer.items()):
            xs = [value(block.get(p)) for p in labels]
            if all(math.isfinite(x) for x in xs):
                name = names.get(buyer, buyer)
                ax.plot(xs, shares, color=SERIES[k % len(SERIES)], lw=1.4, label=name)
                columns.append((name, xs))
    axis_percent(ax)
    ax.set_ylim(0, 1)
    ax.set_xlim(left=0)
    ax.set_xlabel(f"{unit}s from lead to won")
    ax.set_ylabel("share of won deals")
    ax.legend(loc="lower right", fontsize=8)
    title(ax, "How long it takes to win a deal",
          "share of won deals closed within so many days of arriving")
    rows = tuple((p, *(number(xs[i]) for _, xs in columns)) for i, p in enumerate(labels))
    return Chart("cycle-time", "How long it takes to win a deal",
                 f"Percentiles of the cycle time of won deals ({unit}s from lead to won), "
                 "mean over runs.", fig,
                 Table(("percentile", *(f"{name} ({unit}s)" for name, _ in columns)), rows))
