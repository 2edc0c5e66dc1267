"""`salesproc validate`: check process files, with file:line:column findings."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from salesproc.cli.app import EXIT_FINDINGS, EXIT_OK, Failure, cli, echo
from salesproc.cli.reading import echo_diagnostics
from salesproc.core.diagnostics import FORMATTERS, Diagnostic, Severity, summary


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATTERS)), default="text",
              show_default=True, help="text for people, json for tools, github for Actions.")
@click.option("--strict", is_flag=True, help="Warnings fail too (exit 1).")
@click.option("-q", "--quiet", is_flag=True, help="No summary line.")
def validate(paths: tuple[str, ...], fmt: str, strict: bool, quiet: bool) -> None:
    """Check process files (or folders of them) for mistakes.

    Reports every finding with file:line:column, a code (see docs/codes.md) and a hint.
    With no PATHS, checks the processes/ folder if there is one, else the current folder.
    """
    from salesproc.process.loader import check, discover

    if any(not p.strip() for p in paths):
        raise click.BadParameter("an empty path names no file", param_hint="PATHS")
    if not paths:
        paths = ("processes",) if Path("processes").is_dir() else (".",)
    found: list[Diagnostic] = []
    files = 0
    for item in discover(paths):
        if isinstance(item, Diagnostic):
            found.append(item)
            continue
        files += 1
        found.extend(check(item).diagnostics)
    if files == 0 and not found:
        raise Failure(f"no process files (*.yaml, *.yml) in {', '.join(paths)}")
    # a base file's finding, met again through each variant that extends it, is one finding
    found = list({(d.file, d.line, d.column, d.code, d.message): d for d in found}.values())
    if fmt == "text":
        echo_diagnostics(found)
    else:
        echo(FORMATTERS[fmt](found), nl=False)
    if not quiet and fmt != "json":
        echo(summary(found, files), err=True)
    failing = [d for d in found if d.is_error or (strict and d.severity is Severity.WARNING)]
    sys.exit(EXIT_FINDINGS if failing else EXIT_OK)
