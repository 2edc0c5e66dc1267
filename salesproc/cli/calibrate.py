"""`salesproc calibrate`: the process's numbers fitted to CRM history, and checked."""

from __future__ import annotations

from typing import Any

import click

from salesproc.cli.app import Failure, cli, echo
from salesproc.cli.options import CRM_OPTION, HISTORY_ARGUMENT, RANGED, WORKERS, Date, worker_count
from salesproc.cli.reading import history_or_fail, load_or_fail
from salesproc.cli.writing import emit_file, guard_outputs


@cli.command()
@HISTORY_ARGUMENT
@click.option("--process", "process_file", metavar="FILE", required=True,
              type=click.Path(path_type=str), help="The process file to calibrate (its "
              "structure stays; its numbers are fitted).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str),
              help="Write the calibrated variant here (it extends FILE); default: the "
              "terminal, its extends: written from the current folder.")
@click.option("--since", type=Date(), help="Fit only the deals created from this day on.")
@click.option("--as-of", "as_of", type=Date(), help="The history as it stood at the end of "
              "this day (default: the latest change in the export).")
@CRM_OPTION
@click.option("--check", is_flag=True, help="Simulate the calibrated process over the "
              "history's period and set each measured figure beside the simulated range.")
@click.option("--check-json", "check_json", metavar="FILE",
               type=click.Path(dir_okay=False, path_type=str),
               help="Also write the fit check as JSON to FILE (implies --check).")
@click.option("-r", "--replications", type=RANGED, default=40, show_default=True,
              help="Runs of the fit check (39 or more for a 95% range).")
@click.option("--seed", type=click.IntRange(min=0), help="Random seed of the fit check.")
@click.option("-w", "--workers", type=WORKERS, help="Parallel processes for the fit check.")
def calibrate(history: tuple[str, ...], process_file: str, output: str | None, since: Any,
              as_of: Any, crm: Any, check: bool, check_json: str | None, replications: int,
              seed: int | None, workers: int | None) -> None:
    """Fit the process file's numbers to CRM history: arrivals, buyer-type shares, deal
    values, routes and times in stage, each with its sample size and 95% interval.

    Writes a variant that extends FILE (the file keeps its structure; review sees a small
    diff). Values with too little data keep FILE's number and are listed.
    """
    import datetime as dt

    from salesproc import api
    from salesproc.report import json as json_report
    from salesproc.report import text

    process = load_or_fail(process_file)
    guard_outputs([*process.files, *history], output, check_json=check_json)
    if check_json == "-":  # the terminal has the calibrated file or the tables
        raise click.BadParameter("give a file to write the JSON to",
                                 param_hint="--check-json")
    found = history_or_fail(history, process, crm, as_of, "calibrated from")
    result = api.calibrate(found, since=dt.datetime.combine(since.date(), dt.time())
                           if since is not None else None)
    if not result.deals:  # an empty set: would be written as if fitted, exit 0
        raise Failure(f"no deal to calibrate from: none was created from "
                      f"{result.since:%Y-%m-%d} to {result.until:%Y-%m-%d}, apart from wins "
                      "entered after the fact", hint="give an earlier --since" if since
                      is not None else "the export's deals were all won within an hour of "
                      "being created: export the deals with their stage history")
    target = output if output not in (None, "-") else "calibrated.yaml"  # the terminal's
    # variant is most often redirected to a file in the current folder: extends: from there
    variant = result.to_yaml(target)
    if output in (None, "-"):
        echo(variant, nl=False)
    else:
        emit_file(output, variant)
    echo(text.calibration(result, output), nl=False, err=output in (None, "-"))
    if check or check_json is not None:
        done = api.check_fit(found, result, replications=replications, seed=seed,
                             workers=worker_count(workers))
        echo(text.fit_check(done), nl=False, err=output in (None, "-"))
        if check_json is not None:
            emit_file(check_json, json_report.fit_check(done))
