"""`salesproc backtest`: the forecast tested on the past against naive baselines."""

from __future__ import annotations

from typing import Any

import click

from salesproc.cli.app import Failure, cli, warn
from salesproc.cli.options import (
    CHARTS_OPTION,
    CRM_OPTION,
    EXECUTOR_OPTION,
    FORMATS,
    HISTORY_ARGUMENT,
    RANGED,
    Date,
    Duration,
    executor_place,
    output_option,
    running,
    span,
)
from salesproc.cli.reading import history_or_fail, load_or_fail
from salesproc.cli.writing import emit_result, guard_charts, guard_targets, output_targets
from salesproc.core.diagnostics import shown


@cli.command()
@HISTORY_ARGUMENT
@click.option("--process", "process_file", metavar="FILE", required=True,
              type=click.Path(path_type=str), help="The process to calibrate at each origin.")
@click.option("--from", "first", type=Date(start_of_day=True), required=True,
              help="The first origin (a day alone: as the day began).")
@click.option("--to", "last", type=Date(), required=True,
              help="The last origin (at the latest: the end of that day).")
@click.option("--every", default="1mo", show_default=True,
              help="Between origins: 1mo (calendar months), or a duration such as 2w.")
@click.option("--horizon", type=Duration(positive=True), default="90d", show_default=True,
              help="How far each forecast looks ahead.")
@CRM_OPTION
@click.option("-r", "--replications", type=RANGED, default=100, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), help="Random seed.")
@EXECUTOR_OPTION
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True, help="table for the terminal, json for tools (and for "
              "forecast --track-record), csv: one row per origin, figure and forecaster, "
              "html: one page with the forecast-vs-actual chart.")
@output_option()
@CHARTS_OPTION
def backtest(history: tuple[str, ...], process_file: str, first: Any, last: Any, every: str,
             horizon: str, crm: Any, replications: int, seed: int | None,
             executor: str | None, fmt: str, outputs: tuple[str, ...],
             charts_dir: str | None) -> None:
    """Test the forecast on the past: at each origin, calibrate on the history before it,
    forecast, and compare with what happened and with the baselines made at the same
    origins (run rate, seasonal naive, the CRM's weighted pipeline, a stage-to-stage
    Markov chain): errors, bias, the coverage of the worst-to-best range.

    Nothing is written beside the process file; an origin whose calibration fails is
    reported with the reason, and the others go on.
    """
    from salesproc import api
    from salesproc.prediction.backtest import origins as stepping

    targets = output_targets(outputs, fmt, FORMATS)
    where = executor_place(executor, None)
    origins = stepping(first, last, every)
    process = load_or_fail(process_file)
    guard_targets([*process.files, *history], targets)
    guard_charts(charts_dir)
    found = history_or_fail(history, process, crm, None, "backtested on")
    with running(where, None):  # the origins go to the workers, one task each
        result = api.backtest(found, origins=origins,
                              horizon=span(horizon, "day", "--horizon") or 90.0,
                              replications=replications, seed=seed)
    if not result.origins:
        reasons = [f"{f.at:%Y-%m-%d}: {f.reason}" for f in result.failed] + result.notes
        raise Failure("no origin could be backtested", hint="; ".join(reasons))
    for failed in result.failed:
        warn(f"the origin {failed.at:%Y-%m-%d} failed: {shown(failed.reason)}")
    emit_result("backtest", result, targets, charts_dir)
