"""`salesproc forecast`: wins and revenue ahead from today's pipeline."""

from __future__ import annotations

from typing import Any

import click

from salesproc.cli.app import Failure, cli, echo
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
    worker_count,
)
from salesproc.cli.reading import history_or_fail, load_or_fail, read_json
from salesproc.cli.writing import emit_result, guard_charts, guard_targets, output_targets
from salesproc.core.diagnostics import shown


@cli.command()
@HISTORY_ARGUMENT
@click.option("--process", "process_file", metavar="FILE", required=True,
              type=click.Path(path_type=str), help="The process to forecast with: its "
              "arrivals bring the new deals (a calibrated one is best).")
@click.option("--as-of", "as_of", type=Date(), help="Forecast from the pipeline as it "
              "stood at the end of this day (default: the latest change in the export).")
@click.option("--until", type=Date(past=False), help="Forecast up to the end of this day.")
@click.option("--horizon", type=Duration(positive=True),
              help="Or: how far ahead (e.g. 13w, 90d).")
@CRM_OPTION
@click.option("--campaign", "campaigns", multiple=True, metavar="LEADS@DATE[:BUYER]",
              help="A campaign to plan, e.g. 500@2026-03-10 (repeatable): what it adds is "
              "shown by month.")
@click.option("-r", "--replications", type=RANGED, default=200, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), help="Random seed: same seed, same "
              "forecast.")
@EXECUTOR_OPTION
@click.option("--cases", default="10,50,90", show_default=True, metavar="WORST,NEUTRAL,BEST",
              help="The percentiles of the runs taken as worst, neutral and best case.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True, help="csv: one row per open deal (its chance to be won, "
              "likely month, value and the CRM's probability); html: one page with charts.")
@output_option()
@click.option("--track-record", "track_file", metavar="BACKTEST.json",
              type=click.Path(dir_okay=False, path_type=str),
              help="A saved `backtest --format json` of this forecast: show its errors beside "
              "the baselines', and the forecast of any baseline that beat it there.")
@click.option("--blend", "blended", is_flag=True,
              help="With --track-record: also the model's neutral case blended with the "
              "record's best baseline, by the weight that did best on the record.")
@CHARTS_OPTION
def forecast(history: tuple[str, ...], process_file: str, as_of: Any, until: Any,
             horizon: str | None, crm: Any, campaigns: tuple[str, ...], replications: int,
             seed: int | None, executor: str | None, cases: str, fmt: str,
             outputs: tuple[str, ...],
             track_file: str | None, blended: bool, charts_dir: str | None) -> None:
    """Forecast from today's pipeline: deals won, revenue and losses by a date, as worst,
    neutral and best case, by month; and each open deal's chance to be won.

    HISTORY is read as measure reads it; the open deals start in their stages, with the
    time they have spent there, and the process's arrivals bring the new deals.
    """
    from salesproc import api
    from salesproc.prediction.forecast import parse_campaign
    from salesproc.report import text

    targets = output_targets(outputs, fmt, FORMATS)
    where = executor_place(executor, None)
    planned = [parse_campaign(c) for c in campaigns]  # before any work: bad ones are typos
    percentiles = _cases(cases)
    if (until is None) == (horizon is None):  # neither, or both: say which
        raise click.UsageError("give --until DATE or --horizon (e.g. 13w)" + (
            ", not both" if until is not None else ": how far to forecast"))
    if blended and track_file is None:
        raise click.UsageError("--blend needs --track-record BACKTEST.json: the blend's "
                               "weight is the one that did best there")
    process = load_or_fail(process_file)
    guard_targets([*process.files, *history, *([track_file] if track_file else [])], targets)
    record = _track_record(track_file) if track_file is not None else None
    guard_charts(charts_dir)
    found = history_or_fail(history, process, crm, as_of, "forecast from")
    with running(where, None):
        result = api.forecast(found, until=until, horizon=span(horizon, "day", "--horizon"),
                              process=process, campaigns=planned,
                              replications=replications, seed=seed, cases=percentiles,
                              workers=worker_count(None), track_record=record, blend=blended)
    emit_result("forecast", result, targets, charts_dir)
    if {kind for _, kind in targets} == {"csv"}:  # a record does not fit the rows of deals
        for line in text.track_record_lines(result):
            echo(line, err=True)


def _track_record(path: str) -> Any:
    """The saved backtest in *path*, or exit 1 saying what is wrong with it."""
    from salesproc.prediction.backtest import from_dict

    hint = "save one with: salesproc backtest ... --format json -o BACKTEST.json"
    data = read_json(path, hint)
    try:
        return from_dict(data, source=path)
    except ValueError as exc:
        raise Failure(f"{shown(path)}: {shown(str(exc))}", hint) from None


def _cases(text: str) -> tuple[float, float, float]:
    """'10,50,90': three rising percentiles between 0 and 100 (the library's rule,
    checked before the history is read)."""
    from salesproc.prediction.forecast import check_cases

    try:
        parts = [float(x) for x in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 3:
        raise click.BadParameter(f"'{shown(text)}': give three percentiles, e.g. 10,50,90",
                                 param_hint="--cases")
    return check_cases(parts)
