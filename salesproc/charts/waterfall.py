"""The review's movement as a waterfall, by value: the pipeline open at the start, what
came in (new, reopened), what went out (won, lost), the amount changes, and the pipeline
open at the end, each step's deals in its label; and, with a forecast, what moved it (the
forecast bridge)."""

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


#: label, what it holds, change (a total: the level), whether a total, colour
Step = tuple[str, str, float, bool, str]


def chart(data: dict[str, Any]) -> Chart | None:
    """The movement of a review (``Review.to_dict()``), or None when no deal has an amount
    (every bar would be zero: the table shows the counts)."""
    movement, currency = data["movement"], data["currency"]
    steps: list[Step] = []
    for key, label, sign, colour in STEPS:
        block = movement[key]
        deals = "" if key == "amount_changes" else f"{int(block['deals']):,} deals"
        amount = float((block if key == "amount_changes" else block["value"]) or 0.0)
        steps.append((label, deals, amount if sign == 0 else sign * amount, sign == 0, colour))
    if not any(change for _, _, change, _, _ in steps):
        return None
    fig, rows = bars(steps, f"value ({currency})" if currency else "value")
    title(fig.axes[0], "What moved in the pipeline",
          f"{data['start'][:10]} to {data['end'][:10]}, by value; deals in each label")
    return Chart("waterfall", "What moved in the pipeline",
                 "The pipeline open at the start, what came in and went out of it in the "
                 "period, and the pipeline open at the end, by value as it stood at each "
                 "date (an unknown amount counts as 0); the steps add up exactly.", fig,
                 Table(("step", "deals", f"value ({currency})" if currency else "value",
                        "open pipeline after it"), rows))


def bridge(data: dict[str, Any]) -> Chart | None:
    """What moved the review's forecast (``Review.to_dict()``'s ``forecast``): the
    revenue forecast at the start, each cause's part, and the forecast at the end; None
    without a forecast."""
    f, currency = data.get("forecast"), data["currency"]
    if not f:
        return None
    steps: list[Step] = [("forecast at start", _deals(f["before"]["won"]["mean"], False),
                          float(f["before"]["revenue"]["mean"] or 0.0), True, BLUE)]
    for m in f["moves"]:
        change = float(m["revenue"] or 0.0)
        steps.append((m["cause"], _deals(m["won"] or 0.0, True), change, False,
                      GREEN if change >= 0 else VERMILLION))
    steps.append(("forecast at end", _deals(f["after"]["won"]["mean"], False),
                  float(f["after"]["revenue"]["mean"] or 0.0), True, BLUE))
    until = f["until"][:10]
    fig, rows = bars(steps, f"revenue ({currency})" if currency else "revenue")
    title(fig.axes[0], f"What moved the forecast to {until}",
          f"revenue won from {data['start'][:10]} to {until}; expected deals in each label")
    return Chart("forecast-bridge", f"What moved the forecast to {until}",
                 "The revenue forecast as it stood at the start, each cause's part in its "
                 "change (each deal's expected revenue at the end less at the start, and "
                 "the new deals still to come), and the forecast at the end, what was won "
                 "in the period included; the parts add up to the change.", fig,
                 Table(("step", "deals won", f"revenue ({currency})" if currency
                        else "revenue", "forecast after it"), rows))


def _deals(x: float, signed: bool) -> str:
    """'+1.9 deals', '38.8 deals'."""
    text = f"{x:+,.1f}" if signed else f"{x:,.1f}"
    return text.replace("-", "−") + " deals"


def bars(steps: list[Step], ylabel: str) -> tuple[Any, tuple[tuple[str, str, str, str], ...]]:
    """A waterfall of *steps* (a total sets the level, a change moves it), each bar
    labelled with its change and what it holds; the figure and its table's rows."""
    levels = _levels(steps)
    spans = [sorted((0.0 if total else before, after)) for (_, _, _, total, _), before, after
             in zip(steps, [0.0, *levels], levels, strict=False)]
    fig, ax = figure(height=4.2)
    xs = list(range(len(steps)))
    ax.bar(xs, [top - bottom for bottom, top in spans], bottom=[b for b, _ in spans],
           color=[colour for *_, colour in steps], width=0.65)
    for x in xs[:-1]:  # the level carried from one bar to the next
        ax.plot([x + 0.33, x + 0.67], [levels[x]] * 2, color=FAINT, lw=1)
    tallest = max(abs(v) for span in spans for v in span) or 1.0
    for x, (_, holds, change, total, _) in enumerate(steps):
        ax.text(x, spans[x][1] + tallest * 0.02,
                _signed(change, total) + (f"\n{holds}" if holds else ""),
                ha="center", va="bottom", fontsize=8, color=INK)
    ax.set_xticks(xs, [label for label, *_ in steps], rotation=20, ha="right")
    ax.set_ylim(min(0.0, *(b for b, _ in spans)) * 1.1, tallest * 1.22)
    ax.set_ylabel(ylabel)
    axis_money(ax)
    ax.grid(axis="x", visible=False)
    rows = tuple((label, holds.removesuffix(" deals"),
                  _signed(change, total, lambda x: number(x, 0)), number(level, 0))
                 for (label, holds, change, total, _), level in zip(steps, levels, strict=True))
    return fig, rows


def _levels(steps: list[Step]) -> list[float]:
    """The level after each step: a total sets it, a change moves it."""
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
