"""Charts of results, drawn with matplotlib: one small module per chart, styles in
:mod:`salesproc.charts.style`.

Every chart is built from a result's JSON layout (``result.to_dict()``), so a saved
result draws the same as a fresh one, and every chart carries a :class:`Table` of the
numbers it shows (the HTML page prints it under the picture). The sets below choose the
charts of each kind of result; a chart without data to show is left out.
"""

from __future__ import annotations

from typing import Any

from salesproc.charts.base import Chart, Table

__all__ = ["Chart", "Table", "comparison", "forecast", "measurement", "simulation", "sweep"]


def simulation(data: dict[str, Any]) -> list[Chart]:
    """The charts of a simulation (``SimulationResult.to_dict()``)."""
    from salesproc.charts import cycle, funnel, in_progress, monthly, stage_time, utilization
    from salesproc.charts.style import drawing

    with drawing():
        found = [funnel.chart(data), stage_time.chart(data), utilization.chart(data),
                 cycle.chart(data), in_progress.chart(data), monthly.chart(data)]
    return [c for c in found if c is not None]


def comparison(data: dict[str, Any]) -> list[Chart]:
    """The charts of a comparison (``Comparison.to_dict()``)."""
    from salesproc.charts import forest
    from salesproc.charts.style import drawing

    with drawing():
        found = [forest.chart(data)]
    return [c for c in found if c is not None]


def sweep(data: dict[str, Any]) -> list[Chart]:
    """The charts of a sweep (``SweepResult.to_dict()``): each figure against the
    setting, or a heatmap when two settings vary."""
    from salesproc.charts import heatmap, sweep_line
    from salesproc.charts.style import drawing

    with drawing():
        found = [sweep_line.chart(data), sweep_line.steps(data), *heatmap.charts(data)]
    return [c for c in found if c is not None]


def measurement(data: dict[str, Any]) -> list[Chart]:
    """The charts of a measurement (``Measurement.to_dict()``)."""
    from salesproc.charts import measured_time, snapshot
    from salesproc.charts.style import drawing

    with drawing():
        found = [snapshot.chart(data), measured_time.chart(data)]
    return [c for c in found if c is not None]


def forecast(data: dict[str, Any]) -> list[Chart]:
    """The charts of a forecast (``Forecast.to_dict()``)."""
    from salesproc.charts import fan
    from salesproc.charts.style import drawing

    with drawing():
        found = [fan.chart(data)]
    return [c for c in found if c is not None]
