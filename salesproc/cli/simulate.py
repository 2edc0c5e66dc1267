"""`salesproc simulate`: the pipeline simulated, with an optional CSV event log."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from salesproc.process.model import Process

if TYPE_CHECKING:
    from salesproc.experiments.results import Visit
from salesproc.cli.app import cli, echo, warn
from salesproc.cli.options import (
    CHARTS_OPTION,
    DURATION,
    EXECUTOR_OPTION,
    FORMAT_HELP,
    FORMATS,
    REPLICATIONS,
    WORKERS,
    Duration,
    executor_place,
    output_option,
    running,
    worker_count,
)
from salesproc.cli.reading import load_or_fail
from salesproc.cli.writing import (
    emit_result,
    guard_charts,
    guard_targets,
    output_targets,
    progress_bar,
)


@cli.command()
@click.argument("process_file", metavar="PROCESS", type=click.Path(path_type=str))
@click.option("-r", "--replications", type=REPLICATIONS, help="Independent runs (default: "
              "the file's, else 20).")
@click.option("--horizon", type=Duration(positive=True),
              help=f"How long to simulate ({DURATION}).")
@click.option("--warmup", type=Duration(), help="Initial time left out of the figures.")
@click.option("--seed", type=click.IntRange(min=0), help="Random seed: same seed, same "
              "results.")
@click.option("-w", "--workers", type=WORKERS, help="Parallel processes "
              "(default: all cores). Results do not depend on it.")
@EXECUTOR_OPTION
@click.option("--buyer", help="Report this buyer type's deals in full (every buyer type is "
              "still simulated: they share the team).")
@click.option("--only-buyer", "only_buyer", help="A what-if: let only this buyer type's "
              "leads arrive (the others never do), as if it had the team to itself.")
@click.option("--set", "settings", multiple=True, metavar="PATH=VALUE",
              help="Change the process for this run, e.g. --set roles.se.headcount=3.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True, help=FORMAT_HELP)
@output_option()
@CHARTS_OPTION
@click.option("--events", type=click.Path(dir_okay=False, path_type=str),
              help="Also write a CSV event log, one row per stage visit (runs the "
              "replications in one process).")
@click.option("--hires/--no-hires", "hires", default=True, show_default=True,
              help="Find the bottleneck: simulate one more person in each role deals waited "
              "for (up to 3), with the same deals, and name the role where one more helps "
              "most. Takes up to 3 more runs of at most 10 replications each.")
def simulate(process_file: str, replications: int | None, horizon: str | None,
             warmup: str | None, seed: int | None, workers: int | None, executor: str | None,
             buyer: str | None, only_buyer: str | None, settings: tuple[str, ...], fmt: str,
             outputs: tuple[str, ...], charts_dir: str | None, events: str | None,
             hires: bool) -> None:
    """Simulate the pipeline: wins, revenue, time in stage, waiting, bottleneck, end
    pipeline."""
    from salesproc import api
    from salesproc.experiments import compare, experiment

    targets = output_targets(outputs, fmt, FORMATS)
    where = executor_place(executor, workers)
    process = load_or_fail(process_file, settings)
    if events == "-":
        raise click.BadParameter("write the event log to a file", param_hint="--events")
    guard_targets(process.files, targets, events=events)
    options: dict[str, Any] = dict(replications=replications, horizon=horizon, warmup=warmup,
                                   seed=seed, workers=worker_count(workers),
                                   only_buyer=only_buyer)
    if events is not None:
        _warn_event_log_size(process, api.settings(process, **options))
    for warning in experiment.capacity_warnings(process):
        warn(warning)
    guard_charts(charts_dir)
    with running(where, workers):
        with progress_bar() as progress, _event_log(events) as sink:
            result = api.simulate(process, buyer=buyer, event_sink=sink, progress=progress,
                                  **options)
        if hires:  # the same workers: one more person in each role waited for
            with progress_bar() as progress:
                result = compare.check_hires(result, progress=progress)
    emit_result("simulation", result, targets, charts_dir)


def _warn_event_log_size(process: Process, run: Any) -> None:
    from salesproc.core.defaults import EVENT_LOG_WARNING_BYTES
    from salesproc.experiments.experiment import expected_visits

    rows = expected_visits(process, run)
    size = rows * 90  # bytes in an average row of the log
    if size > EVENT_LOG_WARNING_BYTES:
        warn(f"the event log will hold about {rows:,.0f} rows ({size / 1e9:,.1f} GB)")


@contextlib.contextmanager
def _event_log(path: str | None) -> Iterator[Callable[[Visit], None] | None]:
    """--events: the CSV event log (it appears only once the run completed)."""
    if path is None:
        yield None
        return
    from salesproc.experiments.export import event_log

    with event_log(path) as write:
        yield write
    echo(f"wrote {path}", err=True)
