"""`salesproc plan`: a hiring plan against a target, month by month, and the cheapest
schedule that makes the number with a chosen chance."""

from __future__ import annotations

import click

from salesproc.cli.app import Failure, cli
from salesproc.cli.options import (
    EXECUTOR_OPTION,
    REPLICATIONS,
    WORKERS,
    executor_place,
    output_option,
    running,
    worker_count,
)
from salesproc.cli.reading import echo_diagnostics, load_or_fail
from salesproc.cli.writing import (
    emit_result,
    guard_charts,
    guard_targets,
    output_targets,
    progress_bar,
)
from salesproc.core.errors import InvalidProcessError

PLAN_FORMATS = ["table", "json", "html"]


@cli.command()
@click.argument("process_file", metavar="PROCESS", type=click.Path(path_type=str))
@click.option("--target", "plan_file", required=True, metavar="PLAN.yaml",
              type=click.Path(path_type=str), help="The plan file: months, targets, and "
              "each role's hires, ramp, attrition, quota and cost (docs/format.md).")
@click.option("--optimise", "--optimize", "optimise", is_flag=True,
              help="Find the cheapest hiring schedule of the roles with a cost that makes "
              "the number with the --chance asked, and report on it.")
@click.option("--chance", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.8, show_default=True, help="The chance to make the number that "
              "--optimise asks for.")
@click.option("--no-variance", "deterministic", is_flag=True,
              help="Fix every time and value at its mean (the classic model's world): "
              "arrivals and routes are still drawn.")
@click.option("--set", "settings", multiple=True, metavar="PATH=VALUE",
              help="Change the process for this plan, e.g. --set roles.ae.headcount=2.")
@click.option("-r", "--replications", type=REPLICATIONS,
              help="Runs (default: the process file's, else 20).")
@click.option("--seed", type=click.IntRange(min=0), help="Random seed.")
@click.option("-w", "--workers", type=WORKERS, help="Parallel processes (default: all "
              "cores). Results do not depend on it.")
@EXECUTOR_OPTION
@click.option("--format", "fmt", type=click.Choice(PLAN_FORMATS), default="table",
              show_default=True, help="table for the terminal, json for other tools, html for "
              "one page with the target chart and the trade-off curve.")
@output_option(PLAN_FORMATS)
def plan(process_file: str, plan_file: str, optimise: bool, chance: float,
         deterministic: bool, settings: tuple[str, ...], replications: int | None, seed: int | None,
         workers: int | None, executor: str | None, fmt: str, outputs: tuple[str, ...]) -> None:
    """Will the team make the number? Bookings by month against the targets.

    PROCESS is the (calibrated) process file; --target the plan file. Prints the chance
    to make each target, the worst-to-best case by month, the team by month, what bounds
    each month (pipeline or a role's capacity) and the classic capacity arithmetic.
    """
    from salesproc import api
    from salesproc.experiments.planfile import read_plan

    targets = output_targets(outputs, fmt, PLAN_FORMATS)
    where = executor_place(executor, workers)
    process = load_or_fail(process_file, settings)
    try:
        planned = read_plan(plan_file, process)
    except InvalidProcessError as exc:
        echo_diagnostics(exc.diagnostics, err=True)
        errors = sum(d.is_error for d in exc.diagnostics)
        raise Failure(f"{plan_file} has {errors} error(s); fix them first",
                      hint="the plan file's keys: docs/format.md#the-plan-file") from None
    guard_targets([*process.files, plan_file], targets)
    guard_charts(None)
    with running(where, workers), progress_bar() as progress:
        result = api.plan(process, planned, replications=replications, seed=seed,
                          workers=worker_count(workers), deterministic=deterministic,
                          optimise_for=chance if optimise else None, progress=progress)
    emit_result("plan", result, targets, None)
