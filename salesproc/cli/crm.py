"""`salesproc export CRM`: the process as a CRM's configuration (HubSpot's deal pipelines
here)."""

from __future__ import annotations

import click

from salesproc.cli.app import Failure, cli, echo
from salesproc.cli.reading import load_or_fail
from salesproc.cli.writing import emit, guard_outputs
from salesproc.core.diagnostics import shown


@cli.group("export")
def export_group() -> None:
    """Write the process as a CRM's configuration (HubSpot's deal pipelines)."""


@export_group.command("hubspot")
@click.argument("process_file", metavar="FILE", type=click.Path(path_type=str))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str),
              help="Write the pipelines JSON to this file instead of the terminal.")
def export_hubspot(process_file: str, output: str | None) -> None:
    """The process as HubSpot's deal pipelines: the JSON of CRM API v3 (GET
    /crm/v3/pipelines/deals), one pipeline per buyer type (or as crm: hubspot: keeps
    them), each stage's probability the model's chance to win from it."""
    from salesproc.history.pipelines import PipelineError, dumps, to_hubspot

    process = load_or_fail(process_file)
    guard_outputs(process.files, output)
    try:
        document, said = to_hubspot(process)
    except PipelineError as exc:
        raise Failure(f"{shown(process_file)}: {exc.message}", exc.hint) from None
    emit(dumps(document), output)
    for line in said:
        echo(f"note: {line}", err=True)
