"""Charts of results, drawn with matplotlib: one small module per chart, styles in
:mod:`salesproc.charts.style`.

Every chart is built from a result's JSON layout (``result.to_dict()``), so a saved
result draws the same as a fresh one, and every chart carries a :class:`Table` of the
numbers it shows (the HTML page prints it under the picture). The sets below choose the
charts of each kind of result; a chart without data to show is left out.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from salesproc.charts.base import Chart, Table

__all__ = ["Chart", "Table", "backtest", "comparison", "forecast", "measurement", "plan",
           "review", "save", "simulation", "sweep"]


Maker = Callable[[dict[str, Any]], "Chart | list[Chart] | None"]


def save(charts: Sequence[Chart], folder: str | os.PathLike[str]) -> list[Path]:
    """Write each chart as FOLDER/NAME.svg and FOLDER/NAME.png (the folder must exist);
    the files written."""
    from salesproc.core.outputs import write_atomic

    written: list[Path] = []
    for chart in charts:
        base = Path(folder, chart.name)
        write_atomic(base.with_name(chart.name + ".svg"), chart.svg())
        write_atomic(base.with_name(chart.name + ".png"), chart.png())
        written += [base.with_name(chart.name + ".svg"), base.with_name(chart.name + ".png")]
    return written


def _draw(data: dict[str, Any], makers: Sequence[Maker]) -> list[Chart]:
    """Each maker's chart (or charts) of *data*, in order, drawn in the charts' style;
    a maker with nothing to show gives None and is left out."""
    from salesproc.charts.style import drawing

    drawn: list[Chart] = []
    with drawing():
        for make in makers:
            found = make(data)
            drawn += found if isinstance(found, list) else [] if found is None else [found]
    return drawn


def simulation(data: dict[str, Any]) -> list[Chart]:
    """The charts of a simulation (``SimulationResult.to_dict()``)."""
    from salesproc.charts import cycle, funnel, in_progress, monthly, stage_time, utilization

    return _draw(data, [funnel.chart, stage_time.chart, utilization.chart, cycle.chart,
                        in_progress.chart, monthly.chart])


def comparison(data: dict[str, Any]) -> list[Chart]:
    """The charts of a comparison (``Comparison.to_dict()``)."""
    from salesproc.charts import forest

    return _draw(data, [forest.chart])


def sweep(data: dict[str, Any]) -> list[Chart]:
    """The charts of a sweep (``SweepResult.to_dict()``): each figure against the
    setting, or a heatmap when two settings vary."""
    from salesproc.charts import heatmap, sweep_line

    return _draw(data, [sweep_line.chart, sweep_line.steps, heatmap.charts])


def measurement(data: dict[str, Any]) -> list[Chart]:
    """The charts of a measurement (``Measurement.to_dict()``)."""
    from salesproc.charts import measured_time, snapshot

    return _draw(data, [snapshot.chart, measured_time.chart])


def forecast(data: dict[str, Any]) -> list[Chart]:
    """The charts of a forecast (``Forecast.to_dict()``)."""
    from salesproc.charts import fan

    return _draw(data, [fan.chart])


def review(data: dict[str, Any]) -> list[Chart]:
    """The charts of a pipeline review (``Review.to_dict()``): the movement as a
    waterfall, what moved the forecast (with one), and the cohorts' win rate and days to
    win."""
    from salesproc.charts import cohort_trend, waterfall

    return _draw(data, [waterfall.chart, waterfall.bridge, cohort_trend.chart])


def backtest(data: dict[str, Any]) -> list[Chart]:
    """The charts of a backtest (``Backtest.to_dict()``)."""
    from salesproc.charts import forecast_vs_actual

    return _draw(data, [forecast_vs_actual.chart])


def plan(data: dict[str, Any]) -> list[Chart]:
    """The charts of a plan (``PlanResult.to_dict()``): the plan against its target, and
    the optimiser's trade-off of cost against chance."""
    from salesproc.charts import target

    return _draw(data, [target.chart, target.tradeoff])
