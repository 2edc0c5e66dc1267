"""The pipeline now: open deals and their value by stage, with the stale ones marked."""

from __future__ import annotations

from typing import Any

from salesproc.charts.base import Chart, Table
from salesproc.charts.style import (
    BLUE,
    ORANGE,
    VERMILLION,
    axis_money,
    heading,
    money,
    number,
    panels,
    short,
)


def chart(data: dict[str, Any]) -> Chart | None:
    """The open pipeline of a measurement, or None without open deals."""
    pipeline = [p for p in data["overall"]["pipeline"] if p["deals"]]
    if not pipeline:
        return None
    names = data["process"].get("names", {}).get("stages", {})
    currency = data["process"]["currency"]
    labels = [short(names.get(p["stage"], p["stage"]), 20) for p in pipeline]
    xs = list(range(len(pipeline)))
    fig, (deals, worth) = panels(2, width=7.2, height=3.4)
    fresh = [p["deals"] - p["stale"] for p in pipeline]
    stale = [p["stale"] for p in pipeline]
    deals.bar(xs, fresh, color=BLUE, width=0.65, label="open")
    deals.bar(xs, stale, bottom=fresh, color=VERMILLION, width=0.65, label="stale")
    deals.set_ylabel("open deals")
    deals.legend(loc="upper right", fontsize=8)
    worth.bar(xs, [p["value"] for p in pipeline], color=ORANGE, width=0.65)
    worth.set_ylabel(f"value ({currency})")
    axis_money(worth, currency)
    for ax in (deals, worth):
        ax.set_xticks(xs, labels, rotation=30, ha="right")
    heading(fig, f"The pipeline on {data['as_of'][:10]}")
    rows = tuple((names.get(p["stage"], p["stage"]), str(p["deals"]), money(p["value"]),
                  number(p["age_p50"]), number(p["age_p90"]), str(p["stale"]))
                 for p in pipeline)
    return Chart("pipeline", f"The pipeline on {data['as_of'][:10]}",
                 "Open deals by stage and what they are worth; red: deals older than the "
                 "stage usually takes (stale).", fig,
                 Table(("stage", "open deals", f"value ({currency})", "median age (days)",
                        "p90 age (days)", "stale"), rows))
