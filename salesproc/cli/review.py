"""`salesproc review`: the weekly pipeline review, from CRM exports."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from salesproc.cli.app import Failure, cli, echo
from salesproc.cli.options import (
    CHARTS_OPTION,
    CRM_OPTION,
    HISTORY_ARGUMENT,
    RANGED,
    Date,
    output_option,
    worker_count,
)
from salesproc.cli.reading import history_or_fail, load_or_fail, read_json
from salesproc.cli.writing import (
    draw_charts,
    emit,
    emit_file,
    guard_charts,
    guard_targets,
    output_targets,
    save_charts,
)
from salesproc.core.diagnostics import shown

STALE_EXPORT_DAYS = 14  # an export whose latest change is older is said to be so
REVIEW_FORMATS = ["table", "markdown", "json", "csv", "html", "xlsx"]


@cli.command()
@HISTORY_ARGUMENT
@click.option("--process", "process_file", metavar="FILE", required=True,
              type=click.Path(path_type=str),
              help="The process file whose crm: section maps the export onto its stages.")
@click.option("--since", type=Date(start_of_day=True), help="Review from the start of this "
              "day (default: a week before the end, or, with --against, where the saved "
              "review ended).")
@click.option("--week", "week", is_flag=True, help="Review the last 7 days (the default, "
              "but with --against: from where the saved review ended).")
@click.option("--as-of", "as_of", type=Date(), help="End the review at the end of this day "
              "(default: the latest change in the export).")
@click.option("--owner", help="Review this owner's deals alone.")
@click.option("--untouched-days", type=click.FloatRange(min=1, max=3650), default=30,
              show_default=True, help="An open deal with no change for this many days "
              "needs attention.")
@click.option("--against", "against", metavar="PREVIOUS.json",
              type=click.Path(dir_okay=False, path_type=str),
              help="A saved `review --format json`: say what changed since it (the open "
              "pipeline, the deals that newly need attention and those that no longer do, "
              "data hygiene).")
@click.option("--forecast", "forecast", metavar="WHEN",
              help="Also forecast deals won and revenue from the review's start to WHEN "
              "(a date, month, quarter or year: the end of the one the review ends in, or "
              "a span such as 13w after the end), as at the start and at the end, and say "
              "what moved it (wins, losses, new deals, slips...). After a saved review "
              "with a forecast (--against), its end is the default.")
@click.option("-r", "--replications", type=RANGED, default=200, show_default=True,
              help="Forecast runs (with --forecast).")
@click.option("--seed", type=click.IntRange(min=0), help="The forecast's random seed "
              "(default: the process's).")
@CRM_OPTION
@click.option("--format", "fmt", type=click.Choice(REVIEW_FORMATS), default="table",
              show_default=True, help="markdown: tables that read well pasted into Slack, "
              "an email or a GitHub issue; html: a page with the charts; xlsx: an Excel "
              "workbook, one sheet per table (needs -o FILE.xlsx).")
@output_option(REVIEW_FORMATS)
@CHARTS_OPTION
def review(history: tuple[str, ...], process_file: str, since: Any, week: bool, as_of: Any,
           owner: str | None, untouched_days: float, against: str | None,
           forecast: str | None, replications: int, seed: int | None, crm: Any,
           fmt: str, outputs: tuple[str, ...], charts_dir: str | None) -> None:
    """The weekly pipeline review: what moved between two dates (reconciled: open at the
    start + new + reopened - won - lost +- amount changes = open at the end), by stage;
    the deals that need attention (stale, past their close date, untouched, large and
    slipped, moved back), by owner; what is missing from the CRM; and each owner's part;
    with --forecast, how the forecast changed over the period and what moved it.

    HISTORY is read as measure reads it, and must hold the stage history.
    """
    from salesproc import api
    from salesproc.report import csv, html, json, markdown, text, xlsx

    if since is not None and week:
        raise click.UsageError("give --since DATE or --week, not both")
    if forecast is not None and owner is not None:
        raise click.UsageError("--forecast is of the whole pipeline (the new deals to come "
                               "included), not of one owner's deals: leave out --owner")
    targets = output_targets(outputs, fmt, REVIEW_FORMATS)
    guard_charts(charts_dir)
    process = load_or_fail(process_file)
    guard_targets([*process.files, *history, *([against] if against else [])], targets)
    saved = read_json(against, "give the file written by: salesproc review ... --format "
                      "json -o REVIEW.json") if against is not None else None
    found = history_or_fail(history, process, crm, as_of, "reviewed")
    age = (dt.datetime.now() - found.as_of).days
    if as_of is None and age > STALE_EXPORT_DAYS:
        echo(f"note: the export's latest change is from {found.as_of:%Y-%m-%d}, {age:,} days "
             "ago: the review ends there (is it this week's export?)", err=True)
    # --week: the week before the end; by default after a saved review, from where that one
    # ended (no gap, no overlap between reviews of exports cut at other times of day)
    week_ago = found.as_of - dt.timedelta(days=7)
    after = _saved_end(saved) if not week else None
    if after is not None and after >= found.as_of:
        echo(f"note: the export has no change after the saved review's end "
             f"({after:%Y-%m-%d %H:%M}): the review is of the week before its end", err=True)
        after = None
    start = since if since is not None else after or week_ago
    if forecast is None and owner is None:
        forecast = _saved_forecast(saved, found.as_of)
    done = api.review(found, since=start, owner=owner, untouched_days=untouched_days,
                      forecast=forecast, process=process, replications=replications,
                      seed=seed, workers=worker_count(None))
    if saved is not None:
        try:
            done = done.against(saved)
        except ValueError as exc:
            raise Failure(f"{shown(against or '')}: {exc}",
                          "give the file written by: salesproc review ... --format json "
                          "-o REVIEW.json") from None
    drawn = draw_charts("review", done, charts_dir)
    for output, kind in targets:
        if kind != "xlsx":
            writer = {"table": text, "markdown": markdown, "json": json, "csv": csv,
                      "html": html}[kind]
            emit(writer.review(done), output)
        elif output is not None:  # without -o, refused before any work
            emit_file(output, xlsx.review(done))
    save_charts(drawn, charts_dir)


def _saved_end(saved: Any) -> dt.datetime | None:
    """Where a saved review ended (None: no saved review, or one whose end cannot be read:
    --against then says what is wrong with it)."""
    from salesproc.measuring.review import previous_from

    try:
        return previous_from(saved).end if saved is not None else None
    except ValueError:
        return None


def _saved_forecast(saved: Any, end: dt.datetime) -> str | None:
    """The end of a saved review's forecast, to carry it on a week later (None: no saved
    review, one without a forecast, or one whose forecast ended by *end*: said so)."""
    from salesproc.measuring.review import previous_from

    try:
        until = previous_from(saved).forecast_until if saved is not None else None
    except ValueError:
        return None
    if until is None:
        return None
    if until <= end:
        echo(f"note: the saved review's forecast ended {until:%Y-%m-%d}: give --forecast "
             "for a new one", err=True)
        return None
    return until.isoformat()
