"""`salesproc review`: the weekly pipeline review, from CRM exports."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from salesproc.cli.app import Failure, cli
from salesproc.cli.options import CHARTS_OPTION, CRM_OPTION, HISTORY_ARGUMENT, Date
from salesproc.cli.reading import history_or_fail, load_or_fail, read_json
from salesproc.cli.writing import (
    draw_charts,
    emit,
    emit_file,
    guard_charts,
    guard_outputs,
    save_charts,
)
from salesproc.core.diagnostics import shown

REVIEW_FORMATS = ["table", "markdown", "json", "csv", "html", "xlsx"]


@cli.command()
@HISTORY_ARGUMENT
@click.option("--process", "process_file", metavar="FILE", required=True,
              type=click.Path(path_type=str),
              help="The process file whose crm: section maps the export onto its stages.")
@click.option("--since", type=Date(start_of_day=True), help="Review from the start of this "
              "day (default: a week before the end).")
@click.option("--week", "week", is_flag=True, help="Review the last 7 days (the default).")
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
@CRM_OPTION
@click.option("--format", "fmt", type=click.Choice(REVIEW_FORMATS), default="table",
              show_default=True, help="markdown: tables that read well pasted into Slack, "
              "an email or a GitHub issue; html: a page with the charts; xlsx: an Excel "
              "workbook, one sheet per table (needs -o FILE.xlsx).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str),
              help="Write the review to this file instead of the terminal.")
@CHARTS_OPTION
def review(history: tuple[str, ...], process_file: str, since: Any, week: bool, as_of: Any,
           owner: str | None, untouched_days: float, against: str | None, crm: Any,
           fmt: str, output: str | None, charts_dir: str | None) -> None:
    """The weekly pipeline review: what moved between two dates (reconciled: open at the
    start + new + reopened - won - lost +- amount changes = open at the end), by stage;
    the deals that need attention (stale, past their close date, untouched, large and
    slipped, moved back), by owner; what is missing from the CRM; and each owner's part.

    HISTORY is read as measure reads it, and must hold the stage history.
    """
    from salesproc import api
    from salesproc.report import csv, html, json, markdown, text, xlsx

    if since is not None and week:
        raise click.UsageError("give --since DATE or --week, not both")
    if fmt == "xlsx" and output in (None, "-"):
        raise click.UsageError("--format xlsx writes a workbook, not terminal text: give "
                               "-o FILE.xlsx")
    guard_charts(charts_dir)
    process = load_or_fail(process_file)
    guard_outputs([*process.files, *history, *([against] if against else [])], output)
    saved = read_json(against, "give the file written by: salesproc review ... --format "
                      "json -o REVIEW.json") if against is not None else None
    found = history_or_fail(history, process, crm, as_of, "reviewed")
    start = since if since is not None else found.as_of - dt.timedelta(days=7)
    done = api.review(found, since=start, owner=owner, untouched_days=untouched_days)
    if saved is not None:
        try:
            done = done.against(saved)
        except ValueError as exc:
            raise Failure(f"{shown(against or '')}: {exc}",
                          "give the file written by: salesproc review ... --format json "
                          "-o REVIEW.json") from None
    drawn = draw_charts("review", done, charts_dir)
    if fmt != "xlsx":
        writer = {"table": text, "markdown": markdown, "json": json, "csv": csv,
                  "html": html}[fmt]
        emit(writer.review(done), output)
    elif output is not None:  # without -o, refused before any work
        emit_file(output, xlsx.review(done))
    save_charts(drawn, charts_dir)
