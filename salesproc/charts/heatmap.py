"""A sweep of two settings as a grid: rows are the values of the first, columns those of
the second, each cell a figure's mean (won deals, then revenue)."""

from __future__ import annotations

import math
from typing import Any

from salesproc.charts.base import Chart, Table
from salesproc.charts.style import figure, interval, money, number, title, value
from salesproc.charts.sweep_line import varying

FIGURES = (("won", "deals won", number), ("revenue", "revenue", money))


def grid(data: dict[str, Any]) -> tuple[str, str, list[str], list[str],
                                         dict[tuple[str, str], dict[str, Any]]] | None:
    """(row setting, column setting, row values, column values, {(row, column): point})
    of a two-setting sweep; None for any other sweep."""
    settings = varying(data)
    if len(settings) != 2:
        return None
    down, across = settings
    cells = {(p["settings"][down], p["settings"][across]): p for p in data["points"]}
    rows = list(dict.fromkeys(p["settings"][down] for p in data["points"]))
    columns = list(dict.fromkeys(p["settings"][across] for p in data["points"]))
    return down, across, rows, columns, cells


def charts(data: dict[str, Any]) -> list[Chart]:
    """The heatmaps of a two-setting sweep (none for any other sweep)."""
    found = grid(data)
    if found is None:
        return []
    down, across, rows, columns, cells = found
    out = []
    for metric, words, show in FIGURES:
        matrix = [[value(cells[r, c]["figures"][metric]) if (r, c) in cells else math.nan
                   for c in columns] for r in rows]
        fig, ax = figure(width=max(5.0, 1.1 * len(columns) + 2.2),
                         height=max(2.6, 0.55 * len(rows) + 1.6))
        image = ax.imshow(matrix, cmap="cividis", aspect="auto")
        finite = [x for line in matrix for x in line if math.isfinite(x)]
        middle = (min(finite) + max(finite)) / 2 if finite else 0.0
        for i, line in enumerate(matrix):
            for j, x in enumerate(line):
                ax.text(j, i, show(x), ha="center", va="center", fontsize=8,
                        color="black" if math.isfinite(x) and x > middle else "white")
        ax.set_xticks(range(len(columns)), columns)
        ax.set_yticks(range(len(rows)), rows)
        ax.set_xlabel(across)
        ax.set_ylabel(down)
        ax.grid(False)
        fig.colorbar(image, ax=ax, label=words)
        title(ax, f"{words.capitalize()} for each pair of settings", f"{down} × {across}")
        table = Table((f"{down} \\ {across}", *columns),
                      tuple((r, *(interval(cells[r, c]["figures"][metric], show)
                                  if (r, c) in cells else "–" for c in columns))
                            for r in rows))
        out.append(Chart(f"grid-{metric.replace('_', '-')}",
                         f"{words.capitalize()} for each pair of settings",
                         f"Mean {words} per run for each combination (95% interval in the "
                         "table).", fig, table))
    return out
