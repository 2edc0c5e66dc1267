"""A plan against its target: bookings (or deals won) by month and added up, the
worst-to-best band of the runs, the classic capacity arithmetic, and the targets; and the
optimiser's trade-off of cost against the chance to make the number."""

from __future__ import annotations

import math
from typing import Any

from salesproc.charts.base import Chart, Table
from salesproc.charts.style import (
    BAND_ALPHA,
    BLUE,
    GREY,
    INK,
    ORANGE,
    VERMILLION,
    axis_money,
    axis_percent,
    figure,
    heading,
    money,
    number,
    panels,
    percent,
    value,
)


def _show(data: dict[str, Any]) -> Any:
    currency = data["currency"]
    if data["measure"] == "bookings":
        return lambda x: money(x, currency)
    return lambda x: number(x, 0)


def chart(data: dict[str, Any]) -> Chart | None:
    """By month and added up: the runs' band and neutral case, the classic figure, and
    each target where its period ends; None without months."""
    months = data.get("months", [])
    if not months:
        return None
    show = _show(data)
    words = f"bookings ({data['currency']})" if data["measure"] == "bookings" else "deals won"
    fig, (monthly, added) = panels(2, height=5.4, across=False)
    xs = list(range(len(months)))
    labels = [m["month"] for m in months]
    worst = [value(m, "worst") for m in months]
    best = [value(m, "best") for m in months]
    if all(math.isfinite(v) for v in worst + best):
        monthly.fill_between(xs, worst, best, color=BLUE, alpha=BAND_ALPHA, lw=0,
                             label="worst to best case (p10–p90)")
    neutral = [value(m, "neutral") if m["neutral"] is not None else value(m, "mean")
               for m in months]
    monthly.plot(xs, neutral, color=BLUE, lw=2, label="neutral case (p50)")
    monthly.plot(xs, [m["classic"] for m in months], "--", color=ORANGE, lw=1.5,
                 label="classic capacity arithmetic")
    monthly.set_ylabel(f"{words} a month")
    cumulative = [m["cumulative"] for m in months]
    low = [value(c, "worst") for c in cumulative]
    high = [value(c, "best") for c in cumulative]
    if all(math.isfinite(v) for v in low + high):
        added.fill_between(xs, low, high, color=BLUE, alpha=BAND_ALPHA, lw=0)
    added.plot(xs, [value(c, "neutral") for c in cumulative], color=BLUE, lw=2)
    ends = {t["last"]: t for t in data["targets"]}
    marks = [(i, m["targets_so_far"], ends[m["month"]]) for i, m in enumerate(months)
             if m["month"] in ends]
    added.plot([i for i, _, _ in marks], [y for _, y, _ in marks], "D", color=VERMILLION,
               ms=6, label="targets so far")
    for i, y, t in marks:
        added.annotate(f"{t['period']}: {percent(value(t['chance']))}", (i, y),
                       textcoords="offset points", xytext=(4, 6), fontsize=7, color=INK)
    added.set_ylabel(f"{words} so far")
    for ax in (monthly, added):
        ax.set_ylim(bottom=0)
        ax.set_xticks(xs, labels, rotation=45 if len(xs) > 8 else 0)
        ax.legend(loc="upper left", fontsize=8)
        if data["measure"] == "bookings":
            axis_money(ax)
    heading(fig, f"{data['process']}: the plan against its target")
    rows = tuple((m["month"], show(value(m, "worst")), show(neutral[i]),
                  show(value(m, "best")), show(m["classic"]), m["constraint"],
                  show(value(m["cumulative"], "neutral")),
                  show(m["targets_so_far"]) if m["month"] in ends else "")
                 for i, m in enumerate(months))
    return Chart("plan-target", "The plan against its target",
                 "Each month (top) and added up (bottom): the runs' neutral case (line) and "
                 "worst to best case (band), the classic capacity arithmetic (dashed) and "
                 "each target where its period ends, with its chance.", fig,
                 Table(("month", "worst", "neutral", "best", "classic", "constraint",
                        "so far (neutral)", "targets so far"), rows))


def tradeoff(data: dict[str, Any]) -> Chart | None:
    """The optimiser's trade-off curve: the cheapest schedule tried for each chance, the
    chance asked, and the answer; None without an optimisation."""
    o = data.get("optimisation")
    if not o or not o["frontier"]:
        return None
    currency = data["currency"]
    fig, ax = figure()
    costs = [p["cost"] for p in o["frontier"]]
    chances = [p["chance"] for p in o["frontier"]]
    ax.step(costs, chances, where="post", color=BLUE, lw=1.5)
    ax.plot(costs, chances, "o", color=BLUE, ms=4, label="cheapest schedule tried")
    ax.axhline(o["chance_asked"], color=GREY, lw=1, ls=":", label="chance asked")
    if o["answer"] is not None:
        ax.plot([o["answer"]["cost"]], [o["answer"]["chance"]], "D", color=VERMILLION, ms=7,
                label="the answer")
    ax.set_xlabel(f"cost over the plan ({currency})")
    ax.set_ylabel("chance to make the number")
    ax.set_ylim(0, 1.05)
    axis_money(ax, "x")
    axis_percent(ax)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("What each chance costs", loc="left")
    rows = tuple((money(p["cost"], currency), percent(p["chance"]),
                  "; ".join(f"{rid}: {', '.join(ms) or 'none'}"
                            for rid, ms in p["hires"].items()))
                 for p in o["frontier"])
    return Chart("plan-tradeoff", "What each chance costs",
                 "The cheapest hiring schedule the optimiser tried for each chance to make "
                 "the number (on the same seeds), the chance asked, and the answer.", fig,
                 Table(("cost", "chance", "hires"), rows))
