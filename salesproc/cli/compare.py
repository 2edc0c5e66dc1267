"""`salesproc compare` and `salesproc sweep`: what-ifs on common random numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from salesproc.cli.app import cli, warn
from salesproc.cli.options import (
    FORMATS,
    executor_place,
    running,
    simulation_options,
    worker_count,
)
from salesproc.cli.reading import changed_or_fail, load_or_fail
from salesproc.cli.writing import (
    emit_result,
    guard_charts,
    guard_targets,
    output_targets,
    progress_bar,
)


@cli.command()
@click.argument("base_file", metavar="BASE", type=click.Path(path_type=str))
@click.argument("variant_files", metavar="[VARIANT]...", nargs=-1,
                type=click.Path(path_type=str))
@click.option("--set", "settings", multiple=True, metavar="PATH=VALUE",
              help="A variant of BASE with this change (repeatable; combined into one "
              "variant), e.g. --set roles.se.headcount=3.")
@simulation_options
def compare(base_file: str, variant_files: tuple[str, ...], settings: tuple[str, ...],
            replications: int | None, horizon: str | None, warmup: str | None,
            seed: int | None, workers: int | None, executor: str | None, buyer: str | None,
            fmt: str, outputs: tuple[str, ...], charts_dir: str | None) -> None:
    """What changes if...: compare BASE with variant files and/or --set changes.

    Every variant sees the same deals (common random numbers); differences come with
    95% intervals from paired replications, and a verdict in plain words.
    """
    from salesproc import api
    from salesproc.experiments import compare as comparing
    from salesproc.process.variants import describe

    if not variant_files and not settings:
        raise click.UsageError("name at least one VARIANT file or --set PATH=VALUE")
    targets = output_targets(outputs, fmt, FORMATS)
    where = executor_place(executor, workers)
    base = (describe((), base_file), load_or_fail(base_file))
    variants = [(describe((), f), load_or_fail(f)) for f in variant_files]
    if settings:  # made once, here, where its findings can point at the --set options
        variants.append((describe(settings), changed_or_fail(base[1], base_file, settings)))
    guard_targets([f for _, p in [base, *variants] for f in p.files], targets)
    run = api.settings(base[1], replications=replications, horizon=horizon, warmup=warmup,
                       seed=seed, workers=worker_count(workers))
    _warn_capacity([base, *variants])
    guard_charts(charts_dir)
    with running(where, workers), progress_bar() as progress:
        result = comparing.compare(base, variants, run, buyer=buyer, progress=progress)
    emit_result("comparison", result, targets, charts_dir)


@cli.command()
@click.argument("process_file", metavar="PROCESS", type=click.Path(path_type=str))
@click.option("--set", "sweeps", multiple=True, required=True, metavar="PATH=VALUES",
              help="A setting and its values: 2..8, 2..10:2, or 0.5,1,2 (one or two "
              "settings may vary).")
@click.option("--target", "target", metavar="MEASURE=AMOUNT",
              help="How many to make the number: bookings=5000000 or deals=300 over the "
              "measured period; says the first value that makes it with --chance.")
@click.option("--chance", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.8, show_default=True, help="The chance --target asks for.")
@simulation_options
def sweep(process_file: str, sweeps: tuple[str, ...], target: str | None, chance: float,
          replications: int | None, horizon: str | None, warmup: str | None,
          seed: int | None, workers: int | None, executor: str | None, buyer: str | None,
          fmt: str, outputs: tuple[str, ...], charts_dir: str | None) -> None:
    """Headline figures for each value of a setting, and the gain of each step.

    E.g. salesproc sweep processes/five-step.yaml --set roles.se.headcount=1..5
    """
    from salesproc import api
    from salesproc.experiments import compare as comparing

    targets = output_targets(outputs, fmt, FORMATS)
    wanted = None if target is None else comparing.parse_target(target, chance)
    points = comparing.sweep_points([comparing.parse_sweep(s) for s in sweeps])
    where = executor_place(executor, workers)
    read = load_or_fail(process_file)
    processes = [changed_or_fail(read, process_file, point) for point in points]
    guard_targets(read.files, targets)
    run = api.settings(processes[0], replications=replications, horizon=horizon,
                       warmup=warmup, seed=seed, workers=worker_count(workers))
    _warn_capacity([(" ".join(point), p) for point, p in zip(points, processes, strict=True)])
    guard_charts(charts_dir)
    with running(where, workers), progress_bar() as progress:
        result = comparing.sweep(processes, points, run, buyer=buyer, progress=progress,
                                 target=wanted)
    emit_result("sweep", result, targets, charts_dir)


def _warn_capacity(processes: Sequence[tuple[str, Any]]) -> None:
    from salesproc.experiments.experiment import capacity_warnings

    for label, process in processes:
        for warning in capacity_warnings(process):
            warn(f"{label}: {warning}")
