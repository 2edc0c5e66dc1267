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
    labels = [short(names.get(p["stage"], p["stage"])) for p in pipeline]
    ys = list(range(len(pipeline)))[::-1]
    fig, (deals, worth) = panels(2, width=7.2, height=1.4 + 0.45 * len(pipeline))
    fresh = [p["deals"] - p["stale"] for p in pipeline]
    stale = [p["stale"] for p in pipeline]
    deals.barh(ys, fresh, color=BLUE, height=0.6, label="open")
    deals.barh(ys, stale, left=fresh, color=VERMILLION, height=0.6, label="stale")
    deals.set_xlabel("open deals")
    deals.legend(loc="lower right", fontsize=8)
    deals.set_yticks(ys, labels)
    worth.barh(ys, [p["value"] for p in pipeline], color=ORANGE, height=0.6)
    worth.set_xlabel(f"value ({currency})")
    worth.set_yticks(ys, [])
    axis_money(worth, "x")
    for ax in (deals, worth):
        ax.grid(axis="y", visible=False)
    heading(fig, f"The pipeline on {data['as_of'][:10]}")
    rows = tuple((names.get(p["stage"], p["stage"]), str(p["deals"]), money(p["value"]),
                  number(p["age_p50"]), number(p["age_p90"]), str(p["stale"]))
                 for p in pipeline)
    return Chart("pipeline", f"The pipeline on {data['as_of'][:10]}",
                 "Open deals by stage and what they are worth; red: deals older than the "
                 "stage usually takes (stale).", fig,
                 Table(("stage", "open deals", f"value ({currency})", "median age (days)",
                        "p90 age (days)", "stale"), rows))
