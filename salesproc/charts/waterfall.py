"""The review's movement as a waterfall, by value: the pipeline open at the start, what
came in (new, reopened), what went out (won, lost), the amount changes, and the pipeline
open at the end, each step's deals in its label."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from salesproc.charts.base import Chart, Table
from salesproc.charts.style import (
    BLUE,
    FAINT,
    GREEN,
    INK,
    ORANGE,
    SKY,
    VERMILLION,
    axis_money,
    figure,
    money,
    number,
    title,
)

# each step of the movement: its JSON key, its label, its sign (0: a total) and colour;
# the amount changes first, so that the running total never dips below zero (a deal whose
# amount grew before it was won leaves at its grown amount)
STEPS = (("open_start", "open at start", 0, BLUE),
         ("amount_changes", "± amount changes", 1, ORANGE), ("new", "+ new", 1, SKY),
         ("reopened", "+ reopened", 1, SKY), ("won", "− won", -1, GREEN),
         ("lost", "− lost", -1, VERMILLION), ("open_end", "= open at end", 0, BLUE))


def chart(data: dict[str, Any]) -> Chart | None:
    """The movement of a review (``Review.to_dict()``), or None when no deal has an amount
    (every bar would be zero: the table shows the counts)."""
    movement, currency = data["movement"], data["currency"]
    steps: list[tuple[str, int | None, float, bool, str]] = []  # label, deals, change, total
    for key, label, sign, colour in STEPS:
        block = movement[key]
        deals = None if key == "amount_changes" else int(block["deals"])
        amount = float((block if key == "amount_changes" else block["value"]) or 0.0)
        steps.append((label, deals, amount if sign == 0 else sign * amount, sign == 0, colour))
    if not any(change for _, _, change, _, _ in steps):
        return None
    levels = _levels(steps)
    spans = [sorted((0.0 if total else before, after)) for (_, _, _, total, _), before, after
             in zip(steps, [0.0, *levels], levels, strict=False)]
    fig, ax = figure(height=4.2)
    xs = list(range(len(steps)))
    ax.bar(xs, [top - bottom for bottom, top in spans], bottom=[b for b, _ in spans],
           color=[colour for *_, colour in steps], width=0.65)
    for x in xs[:-1]:  # the open pipeline carried from one bar to the next
        ax.plot([x + 0.33, x + 0.67], [levels[x]] * 2, color=FAINT, lw=1)
    tallest = max(abs(v) for span in spans for v in span) or 1.0
    for x, (_, deals, change, total, _) in enumerate(steps):
        ax.text(x, spans[x][1] + tallest * 0.02,
                _signed(change, total) + ("" if deals is None else f"\n{deals:,} deals"),
                ha="center", va="bottom", fontsize=8, color=INK)
    ax.set_xticks(xs, [label for label, *_ in steps], rotation=20, ha="right")
    ax.set_ylim(min(0.0, *(b for b, _ in spans)) * 1.1, tallest * 1.22)
    ax.set_ylabel(f"value ({currency})" if currency else "value")
    axis_money(ax)
    ax.grid(axis="x", visible=False)
    title(ax, "What moved in the pipeline",
          f"{data['start'][:10]} to {data['end'][:10]}, by value; deals in each label")
    rows = tuple((label, "" if deals is None else f"{deals:,}",
                  _signed(change, total, lambda x: number(x, 0)), number(level, 0))
                 for (label, deals, change, total, _), level in zip(steps, levels, strict=True))
    return Chart("waterfall", "What moved in the pipeline",
                 "The pipeline open at the start, what came in and went out of it in the "
                 "period, and the pipeline open at the end, by value as it stood at each "
                 "date (an unknown amount counts as 0); the steps add up exactly.", fig,
                 Table(("step", "deals", f"value ({currency})" if currency else "value",
                        "open pipeline after it"), rows))


def _levels(steps: list[tuple[str, int | None, float, bool, str]]) -> list[float]:
    """The open pipeline's value after each step: a total sets it, a change moves it."""
    out, level = [], 0.0
    for _, _, change, total, _ in steps:
        level = change if total else level + change
        out.append(level)
    return out


def _signed(x: float, total: bool, show: Callable[[float], str] = money) -> str:
    """'+12k', '−3.4k' for a step, '1.2M' for a total ('–' without a number)."""
    if not math.isfinite(x) or total:
        return show(x).replace("-", "−")
    return ("+" if x >= 0 else "−") + show(abs(x))
