"""`salesproc export hubspot` and `salesproc import hubspot`: the process as HubSpot's deal
pipelines, and HubSpot's deal pipelines as a process file."""

from __future__ import annotations

import os

import click

from salesproc.cli.app import Failure, echo
from salesproc.cli.crm_groups import export, import_
from salesproc.cli.reading import load_or_fail, read_json
from salesproc.cli.writing import emit, guard_outputs, refuse_overwrite
from salesproc.core.diagnostics import shown


@export.command("hubspot")
@click.argument("process_file", metavar="FILE", type=click.Path(path_type=str))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str),
              help="Write the pipelines JSON to this file instead of the terminal.")
def export_hubspot(process_file: str, output: str | None) -> None:
    """The process as HubSpot's deal pipelines: the JSON of CRM API v3 (GET
    /crm/v3/pipelines/deals), one pipeline per buyer type (or as crm: hubspot: keeps
    them), each stage's probability the model's chance to win from it."""
    from salesproc.crm_metadata.hubspot import PipelineError, dumps, to_hubspot

    process = load_or_fail(process_file)
    guard_outputs(process.files, output)
    try:
        document, said = to_hubspot(process)
    except PipelineError as exc:
        raise Failure(f"{shown(process_file)}: {exc.message}", exc.hint) from None
    emit(dumps(document), output)
    for line in said:
        echo(f"note: {line}", err=True)


@import_.command("hubspot")
@click.argument("pipelines", metavar="FILE.json", type=click.Path(path_type=str))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str),
              help="Write the process file here (not over a file that exists, unless "
              "--force) instead of the terminal.")
@click.option("--force", is_flag=True, help="Overwrite the -o file if it exists.")
def import_hubspot(pipelines: str, output: str | None, force: bool) -> None:
    """A process file from HubSpot's deal pipelines (the JSON of GET
    /crm/v3/pipelines/deals): its stages, one buyer type per pipeline, routes that give
    HubSpot's probabilities as starting points, and the crm: section that maps it all.
    What it could not carry over is listed on stderr."""
    from salesproc.crm_metadata.hubspot import PipelineError, from_hubspot

    guard_outputs([pipelines], output)
    if output not in (None, "-") and os.path.exists(output) and not force:
        raise Failure(f"{shown(output)} already exists; nothing was written",
                      hint="choose another name, or add --force to overwrite it")
    document = read_json(pipelines, hint="give the JSON HubSpot's API returns for GET "
                         "/crm/v3/pipelines/deals")
    try:
        imported = from_hubspot(document, os.path.basename(pipelines))
    except PipelineError as exc:
        raise Failure(f"{shown(pipelines)}: {exc.message}", exc.hint) from None
    if output not in (None, "-"):
        refuse_overwrite(output, [pipelines])
    emit(imported.text, output)
    for line in imported.report:
        echo(f"note: {line}", err=True)
