"""`salesproc init` (a starter file, or a team's repository) and `salesproc schema`."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

import click

from salesproc.cli.app import Failure, cli, echo
from salesproc.cli.options import CRM_OPTION
from salesproc.cli.reading import echo_note, history_failure, history_paths
from salesproc.cli.writing import guard_outputs
from salesproc.core.diagnostics import shown


@cli.command()
@click.argument("name")
@click.option("--repo", is_flag=True,
              help="Set up the folder NAME (created if missing; '.' for this one) as a team's "
              "repository: a starter process in processes/, the schema for editors, a GitHub "
              "Actions workflow that validates and draws on every pull request, a pre-commit "
              "hook.")
@click.option("--from", "history", metavar="HISTORY", multiple=True,
              type=click.Path(path_type=str),
              help="Discover the process from a CRM export instead (repeat it for each "
              "file: --from Opportunity.csv --from OpportunityHistory.csv): its stages in "
              "the CRM's order, the routes deals took, loss reasons, times in stage, "
              "arrivals and deal values, fitted.")
@click.option("--buyer-field", "buyer_field", metavar="COLUMN",
              help="With --from: the export's column whose values are the buyer types "
              "(e.g. Segment__c).")
@CRM_OPTION
@click.option("--force", is_flag=True, help="Overwrite the files if they exist.")
def init(name: str, repo: bool, history: tuple[str, ...], buyer_field: str | None,
         crm: Any, force: bool) -> None:
    """Write a starter process file NAME.yaml, ready to edit (or set up a repository, or
    discover the process from a CRM export with --from)."""
    from salesproc.core.outputs import write_atomic
    from salesproc.process import starter

    if buyer_field is not None and not history:
        raise click.UsageError("--buyer-field names a column of the export given by --from")
    if repo:
        if history:
            raise click.UsageError("--from writes one process file; set up the repository "
                                   "first (init --repo), then init --from in processes/")
        _init_repository(name, force)
        return
    if not name.strip() or name.strip() in (".", "..") or name.endswith(("/", os.sep)):
        raise click.BadParameter("give the new file a name, e.g. salesproc init my-process",
                                 param_hint="NAME")
    target = starter.target_path(name)
    if target.exists() and not force:
        raise Failure(f"{shown(str(target))} already exists; nothing was written",
                      hint="choose another name, or add --force to overwrite it")
    if not target.parent.is_dir():
        folder = shlex.quote(str(target.parent))
        raise Failure(f"folder {shown(str(target.parent))} does not exist; nothing was written",
                      hint=f"create it first (mkdir -p {shown(folder)}), or set up a whole "
                      "repository with: salesproc init --repo FOLDER")
    if history:
        _discover(target, history, buyer_field, crm)
        return
    write_atomic(target, starter.render(name))
    quoted = shlex.quote(str(target))
    command = f"salesproc validate {'-- ' if quoted.startswith('-') else ''}{quoted}"
    echo(f"wrote {shown(str(target))}; next: {shown(command)}")


def _discover(target: Path, history: tuple[str, ...], buyer_field: str | None,
              crm: Any) -> None:
    """init --from: the process discovered from the export, written to *target* (the
    export's notes and what to know on stderr), and the command that measures with it."""
    from salesproc.core.outputs import write_atomic
    from salesproc.history import HistoryError
    from salesproc.prediction.discover import discover
    from salesproc.process.starter import title_from

    guard_outputs(history, str(target))
    try:
        found = discover(history_paths(history), title_from(target.name),
                         buyer_field=buyer_field, kind=crm)
    except HistoryError as exc:
        raise history_failure(exc, "read") from None
    for note in found.notes:
        echo_note(note)
    for line in found.report:
        echo(f"note: {line}", err=True)
    write_atomic(target, found.text)
    files = " ".join(shlex.quote(h) for h in history)
    command = f"salesproc measure {files} --process {shlex.quote(str(target))}"
    echo(f"wrote {shown(str(target))}; next: {shown(command)}")


def _init_repository(name: str, force: bool) -> None:
    """`init --repo`: write the repository's files that are missing (all of them with
    --force), keep those that exist, and say which is which and what comes next."""
    from salesproc.core.outputs import write_atomic
    from salesproc.process import schema, starter

    folder = Path(name.strip() or ".")
    if folder.exists() and not folder.is_dir():
        raise Failure(f"{shown(str(folder))} is a file, not a folder; nothing was written",
                      hint="give the folder to set up, e.g. salesproc init --repo .")
    schema_text = Path(schema.schema_path()).read_text("utf-8")
    files = starter.repository(folder, schema_text)
    purposes = {starter.SCHEMA_FILE: "the file format, for your editor's checks",
                starter.WORKFLOW_FILE: "validates and draws on every pull request",
                starter.PRE_COMMIT_FILE: "validates before each commit (pre-commit install)"}
    width = max(len(p.as_posix()) for p in files)
    lines = []
    for relative, text in files.items():
        target = folder / relative
        what = purposes.get(relative, "your first process: edit it")
        if target.exists() and not force:
            lines.append(f"  kept  {relative.as_posix():{width}}  it exists; nothing changed")
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise Failure(f"cannot create {shown(str(target.parent))}: {exc.strerror}") from None
        write_atomic(target, text)
        lines.append(f"  wrote {relative.as_posix():{width}}  {what}")
    place = shown(str(folder))
    echo(f"set up {place} for salesproc:\n" + "\n".join(lines))
    enter = "" if folder.resolve() == Path.cwd().resolve() else f"cd {shlex.quote(place)} && "
    echo(f"next: {enter}salesproc validate")


@cli.command("schema")
@click.option("--print", "show", is_flag=True, help="Print the schema itself, not its path.")
@click.option("--write", "folder", type=click.Path(file_okay=False, path_type=str),
              help="Copy the schema into this folder (e.g. schemas/ in your repository), "
              "so that process files can name it by a relative path.")
def schema_command(show: bool, folder: str | None) -> None:
    """Where the JSON Schema of process files is (for editors' YAML language servers)."""
    from salesproc.core.outputs import write_atomic
    from salesproc.process import schema

    text = Path(schema.schema_path()).read_text("utf-8")
    if folder is not None:
        target = Path(folder) / "process.schema.json"
        write_atomic(target, text)
        echo(f"wrote {shown(str(target))}", err=True)
    elif show:
        echo(text, nl=False)
    else:
        echo(schema.schema_path())
