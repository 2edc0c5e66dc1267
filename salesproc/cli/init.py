"""`salesproc init` (a starter file, or a team's repository) and `salesproc schema`."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import click

from salesproc.cli.app import Failure, cli, echo
from salesproc.core.diagnostics import shown


@cli.command()
@click.argument("name")
@click.option("--repo", is_flag=True,
              help="Set up the folder NAME (created if missing; '.' for this one) as a team's "
              "repository: a starter process in processes/, the schema for editors, a GitHub "
              "Actions workflow that validates and draws on every pull request, a pre-commit "
              "hook.")
@click.option("--force", is_flag=True, help="Overwrite the files if they exist.")
def init(name: str, repo: bool, force: bool) -> None:
    """Write a starter process file NAME.yaml, ready to edit (or set up a repository)."""
    from salesproc.core.outputs import write_atomic
    from salesproc.process import starter

    if repo:
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
    write_atomic(target, starter.render(name))
    quoted = shlex.quote(str(target))
    command = f"salesproc validate {'-- ' if quoted.startswith('-') else ''}{quoted}"
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
