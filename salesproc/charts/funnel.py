"""The funnel: of the deals decided in the period, how many reached each stage and how many
were won, one panel per buyer type."""

from __future__ import annotations

from typing import Any

from salesproc.charts.base import Chart, Table
from salesproc.charts.style import (
    GREEN,
    INK,
    SERIES,
    heading,
    number,
    panels,
    percent,
    short,
    value,
)


def chart(data: dict[str, Any]) -> Chart | None:
    """The funnel of a simulation, or None when no deal was decided."""
    names = data["process"]["names"]
    order = list(data["stages"])
    rows: list[tuple[str, ...]] = []
    shown: list[tuple[str, list[tuple[str, float]]]] = []
    for buyer, block in data["buyer_types"].items():
        decided = value(block.get("won")) + value(block.get("lost"))
        if not decided > 0:
            continue
        reach = data.get("funnel", {}).get(buyer, {})
        stages = [(names["stages"].get(s, s), value(reach[s])) for s in order if s in reach]
        # every lead starts at the first stage, unless some enter later (enter:): only
        # then is the number of leads a bar of its own
        leads = [] if stages and abs(stages[0][1] - decided) <= 1e-9 * decided else \
            [("Leads won or lost", decided)]
        steps = [*leads, *stages, ("Won", value(block.get("won")))]
        label = names["buyer_types"].get(buyer, buyer)
        shown.append((label, steps))
        rows += [(label, step, number(n, 1), percent(n / decided))
                 for step, n in steps]
    if not shown:
        return None
    height = 0.5 + sum(0.45 + 0.32 * len(steps) for _, steps in shown)
    fig, axes = panels(len(shown), height=height, across=False)
    for k, (ax, (label, steps)) in enumerate(zip(axes, shown, strict=True)):
        top = steps[0][1]
        ys = list(range(len(steps)))[::-1]
        colours = [SERIES[k % len(SERIES)]] * (len(steps) - 1) + [GREEN]
        widths = [n / top for _, n in steps]
        ax.barh(ys, widths, color=colours, height=0.7)
        ax.set_yticks(ys, [short(step, 40, 1) for step, _ in steps])
        for y, w, (_, n) in zip(ys, widths, steps, strict=True):
            ax.text(w + 0.01, y, f"{number(n, 0)} · {percent(w)}", ha="left", va="center",
                    fontsize=8, color=INK)
        ax.set_xlim(0, 1.25)
        ax.set_xticks([])
        ax.grid(False)
        ax.spines["bottom"].set_visible(False)
        ax.set_title(short(label, 60, 1), fontsize=10, loc="left")
    heading(fig, "From lead to customer, per buyer type")
    return Chart("funnel", "From lead to customer, per buyer type",
                 "Of the deals won or lost in the period: how many reached each stage, and "
                 "how many were won (mean per run).", fig,
                 Table(("buyer type", "step", "deals", "share of leads"), tuple(rows)))
