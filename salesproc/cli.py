"""The `salesproc` command: a thin click layer over the library.

Exit codes: 0 clean (warnings allowed unless --strict), 1 findings or bad input,
2 usage error, 3 internal error (a bug in salesproc).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import click

from salesproc import __version__
from salesproc.diagnostics import FORMATTERS, Diagnostic, Severity, format_text, summary
from salesproc.errors import InvalidProcessError, SalesprocError

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
ISSUES_URL = "https://github.com/salesproc/salesproc/issues"


class Failure(click.ClickException):
    """Bad input: a kind message (and hint) on stderr, exit code 1."""

    exit_code = EXIT_FINDINGS

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def show(self, file: object = None) -> None:
        click.echo(click.style("error: ", fg="red", bold=True) + self.message, err=True)
        if self.hint:
            click.echo(f"  hint: {self.hint}", err=True)


def echo_diagnostics(diagnostics: Sequence[Diagnostic], err: bool = False) -> None:
    text = format_text(diagnostics)
    if sys.stdout.isatty() and not err:
        text = text.replace(" error SP", " " + click.style("error", fg="red", bold=True) + " SP")
        text = text.replace(" warning SP",
                            " " + click.style("warning", fg="yellow", bold=True) + " SP")
    click.echo(text, nl=False, err=err)


def load_or_fail(path: str):  # type: ignore[no-untyped-def]
    """The process in *path*, or exit 1 with its diagnostics (used by every command)."""
    from salesproc.loader import load

    try:
        return load(path)
    except InvalidProcessError as exc:
        echo_diagnostics(exc.diagnostics, err=True)
        errors = sum(d.is_error for d in exc.diagnostics)
        raise Failure(f"{path} has {errors} error(s); fix them first",
                      hint=f"salesproc validate {path}") from None


class _Group(click.Group):
    """Maps library errors to exit code 1 and bugs to exit code 3, for every command."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SalesprocError as exc:
            raise Failure(exc.message, exc.hint) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            ctx.exit(EXIT_OK)
        except Exception:
            click.echo(traceback.format_exc(), err=True)
            click.echo(f"internal error: this is a bug in salesproc {__version__}, not in "
                       f"your file. Please report it, with the text above, at {ISSUES_URL}",
                       err=True)
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=_Group,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="salesproc")
def cli() -> None:
    """Define sales processes as YAML files in git; validate, draw and simulate them."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATTERS)), default="text",
              show_default=True, help="text for people, json for tools, github for Actions.")
@click.option("--strict", is_flag=True, help="Warnings fail too (exit 1).")
@click.option("-q", "--quiet", is_flag=True, help="No summary line.")
def validate(paths: tuple[str, ...], fmt: str, strict: bool, quiet: bool) -> None:
    """Check process files (or folders of them) for mistakes.

    Reports every finding with file:line:column, a code (see the README) and a hint.
    With no PATHS, checks the processes/ folder if there is one, else the current folder.
    """
    from salesproc.loader import check, discover

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
    if fmt == "text":
        echo_diagnostics(found)
    else:
        click.echo(FORMATTERS[fmt](found), nl=False)
    if not quiet and fmt != "json":
        click.echo(summary(found, files), err=True)
    failing = [d for d in found if d.is_error or (strict and d.severity is Severity.WARNING)]
    sys.exit(EXIT_FINDINGS if failing else EXIT_OK)


@cli.command()
@click.argument("name")
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
def init(name: str, force: bool) -> None:
    """Write a starter process file NAME.yaml, ready to edit."""
    from salesproc import starter
    from salesproc.outputs import write_atomic

    target = starter.target_path(name)
    if target.exists() and not force:
        raise Failure(f"{target} already exists; nothing was written",
                      hint="choose another name, or add --force to overwrite it")
    write_atomic(target, starter.render(name))
    click.echo(f"wrote {target}; next: salesproc validate {target}")


@cli.command("schema")
@click.option("--print", "show", is_flag=True, help="Print the schema itself, not its path.")
def schema_command(show: bool) -> None:
    """Where the JSON Schema of process files is (for editors' YAML language servers)."""
    from salesproc import schema

    if show:
        click.echo(Path(schema.schema_path()).read_text("utf-8"), nl=False)
    else:
        click.echo(schema.schema_path())


def main() -> None:
    """Console entry point (`salesproc` and `python -m salesproc`)."""
    cli(prog_name="salesproc")
