"""What a change does: each figure's difference from the base with its 95% interval (a
forest plot), one panel per figure, one row per variant."""

from __future__ import annotations

import math
from typing import Any

from salesproc.charts.base import Chart, Table
from salesproc.charts.style import BLUE, GREY, INK, VERMILLION, heading, panels, short, value
from salesproc.experiments.compare import HEADLINE, Headline


def _scale(h: Headline, base_mean: float, unit: str) -> tuple[float, str]:
    """How a difference is said: % of the base, percentage points, or time units."""
    if h.style == "relative":
        return (100.0 / abs(base_mean), "% change") if base_mean else (math.nan, "")
    if h.style == "points":
        return 100.0, "percentage points"
    return 1.0, f"{unit}s" if h.style == "time" else ""


def chart(data: dict[str, Any]) -> Chart | None:
    """The forest plot of a comparison, or None when nothing can be judged (one run)."""
    variants = data["variants"]
    if not variants or data["settings"]["replications"] < 2:
        return None
    unit = data["base"].get("time_unit", "day")
    shown = [h for h in HEADLINE if h.key.metric in variants[0]["figures"]]
    fig, axes = panels(len(shown), height=0.8 + len(shown) * (0.75 + 0.28 * len(variants)),
                       across=False)
    rows: list[tuple[str, ...]] = []
    for ax, h in zip(axes, shown, strict=True):
        ys = list(range(len(variants)))[::-1]
        for y, variant in zip(ys, variants, strict=True):
            figure = variant["figures"][h.key.metric]
            scale, words = _scale(h, value(figure["base"]), unit)
            diff = figure["difference"]
            mean, low, high = (value(diff, k) * scale for k in ("mean", "low", "high"))
            colour = (GREY if not figure["significant"] or not math.isfinite(mean) else
                      BLUE if h.better(mean) else VERMILLION)
            if math.isfinite(mean):
                ax.plot([mean], [y], "o", color=colour, ms=5)
            if math.isfinite(low) and math.isfinite(high):
                ax.plot([low, high], [y, y], color=colour, lw=2)
            verdict = ("no" if not figure["significant"] else
                       "yes: better" if h.better(mean) else "yes: worse")
            rows.append((h.label, title(variant, data["base"]), _said(mean, words),
                         _said(low, words) + " to " + _said(high, words), verdict))
            ax.set_xlabel(words, fontsize=8)
        ax.axvline(0, color=INK, lw=1)
        ax.set_yticks(ys, [short(title(v, data["base"]), 34) for v in variants])
        ax.set_ylim(-0.6, len(variants) - 0.4)
        ax.set_title(h.label, fontsize=9, loc="left")
        ax.grid(axis="y", visible=False)
    heading(fig, "What each change does, against the base")
    return Chart("differences", "What each change does, against the base",
                 "Each dot is the mean difference from the base over paired runs, the line "
                 "its 95% confidence interval; blue: a significant change for the better "
                 "(more wins or revenue, a shorter cycle), red: a significant change for the "
                 "worse, grey: no difference the run-to-run spread cannot explain.", fig,
                 Table(("figure", "variant", "change", "95% interval", "significant"),
                       tuple(rows)))


def title(variant: dict[str, Any], base: dict[str, Any]) -> str:
    """A variant as a reader knows it: its process's name: where it is a file of its own
    (a --set change keeps the base's name, so its label, the change, says more)."""
    name = variant.get("name") or ""
    return str(name) if name and name != base.get("name") else str(variant["label"])


def _said(x: float, words: str) -> str:
    if not math.isfinite(x):
        return "–"
    suffix = "%" if words == "% change" else f" {words}" if words else ""
    return f"{x:+,.1f}{suffix}"
