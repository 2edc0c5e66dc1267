"""The `salesproc` command: a thin click layer over the library.

Exit codes: 0 clean (warnings allowed unless --strict), 1 findings or bad input,
2 usage error, 3 internal error (a bug in salesproc).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shlex
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from salesproc.core.defaults import MAX_REPLICATIONS, MAX_WORKERS
from salesproc.core.diagnostics import (
    FORMATTERS,
    Diagnostic,
    Severity,
    format_text,
    read_source_lines,
    shown,
    summary,
)
from salesproc.core.errors import InvalidProcessError, SalesprocError, SettingsError
from salesproc.core.escaping import visible
from salesproc.core.units import SPAN_HELP
from salesproc.process.model import Process
from salesproc.version import __version__

if TYPE_CHECKING:
    from salesproc.experiments.results import Visit

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
MAX_ORIGINS = 240  # a backtest's origins: twenty years of months
ISSUES_URL = "https://github.com/salesproc/salesproc/issues"


def echo(text: str, *, err: bool = False, nl: bool = True, prefix: str = "",
         style: Callable[[str], str] | None = None) -> None:
    """Write *text* to the terminal (stdout, or stderr with *err*): the one way the command
    writes text, so that no report or message, whatever it quotes from a CRM export or a
    process file, can drive the terminal: its control characters are made visible
    (:func:`salesproc.core.escaping.visible`; ESC is written as ``\\x1b``). *prefix* (a word
    the program colours) and *style* (colour the program adds to the escaped text) are
    the only escape sequences that get through. `-o` files get the same (`_emit_file`)."""
    safe = visible(text)
    click.echo(prefix + (style(safe) if style else safe), err=err, nl=nl)


def warn(text: str) -> None:
    """A warning on stderr."""
    echo(text, err=True, prefix=click.style("warning: ", fg="yellow", bold=True))


class Failure(click.ClickException):
    """Bad input: a kind message (and hint) on stderr, exit code 1."""

    exit_code = EXIT_FINDINGS

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def show(self, file: object = None) -> None:
        echo(self.message, err=True, prefix=click.style("error: ", fg="red", bold=True))
        if self.hint:
            echo(f"  hint: {self.hint}", err=True)


def echo_diagnostics(diagnostics: Sequence[Diagnostic], err: bool = False,
                     settings: Sequence[str] = ()) -> None:
    """Print findings as text with caret snippets (coloured on a terminal)."""
    from salesproc.process.variants import COMMAND_LINE

    def lines(file: str) -> Sequence[str] | None:
        return [shown(s) for s in settings] if file == COMMAND_LINE else read_source_lines(file)

    def colour(text: str) -> str:
        if not sys.stdout.isatty() or err:
            return text
        text = text.replace(" error SP", " " + click.style("error", fg="red", bold=True) + " SP")
        return text.replace(" warning SP",
                            " " + click.style("warning", fg="yellow", bold=True) + " SP")

    echo(format_text(diagnostics, lines), nl=False, err=err, style=colour)


def load_or_fail(path: str, settings: Sequence[str] = ()) -> Process:
    """The process in *path* (with --set changes), or exit 1 with its findings."""
    from salesproc.process.loader import load

    try:
        return load(path, settings)
    except InvalidProcessError as exc:
        raise _invalid(exc, path, settings) from None


def changed_or_fail(process: Process, path: str, settings: Sequence[str]) -> Process:
    """*process* (read from *path*) with --set changes made in memory, or exit 1 with the
    findings as load_or_fail shows them."""
    try:
        return process.with_changes(settings)
    except InvalidProcessError as exc:
        raise _invalid(exc, path, settings) from None


def _invalid(exc: InvalidProcessError, path: str, settings: Sequence[str]) -> Failure:
    """The findings on stderr; the failure to raise."""
    from salesproc.process.variants import COMMAND_LINE

    echo_diagnostics(exc.diagnostics, err=True, settings=settings)
    changes = f" with {' '.join('--set ' + s for s in settings)}" if settings else ""
    errors = sum(d.is_error for d in exc.diagnostics)
    hint = "fix the --set options shown above" if settings and all(
        d.file == COMMAND_LINE for d in exc.diagnostics) else f"salesproc validate {path}"
    return Failure(f"{path}{changes} has {errors} error(s); fix them first", hint=hint)


class Terminated(BaseException):
    """SIGTERM, raised where the program stands so that temporary files and worker
    processes are cleaned up on the way out (like Ctrl-C)."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


class _Group(click.Group):
    """Maps library errors to exit code 1, bad option values to 2 and bugs to 3."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            try:
                return super().invoke(ctx)
            finally:  # a full disk or closed pipe is reported here, not at exit
                sys.stdout.flush()
        except SettingsError as exc:
            raise _shown_usage(click.BadParameter(
                exc.message + (f" ({exc.hint})" if exc.hint else ""), ctx=ctx,
                param_hint=f"--{exc.setting}")) from None
        except SalesprocError as exc:
            raise Failure(exc.message, exc.hint) from None
        except click.UsageError as exc:
            raise _shown_usage(exc) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            echo("interrupted", err=True)
            ctx.exit(130)
        except Terminated:
            echo("terminated", err=True)
            ctx.exit(143)
        except BrokenPipeError:
            _quiet_stdout()
            ctx.exit(EXIT_OK)
        except OSError as exc:  # writing to the terminal or a pipe failed (e.g. a full disk)
            _quiet_stdout()
            raise Failure(f"cannot write the output: {exc.strerror or exc}") from None
        except Exception:
            echo(traceback.format_exc(), err=True)
            echo(f"internal error: this is a bug in salesproc {__version__}, not in "
                 f"your file. Please report it, with the text above, at {ISSUES_URL}",
                 err=True)
            ctx.exit(EXIT_INTERNAL)


def _shown_usage(exc: click.UsageError) -> click.UsageError:
    """A usage error whose message shows the control characters it quotes: click writes
    these itself, not through echo()."""
    message = visible(exc.message)
    if message == exc.message:
        return exc
    if isinstance(exc, click.BadParameter):
        return click.BadParameter(message, ctx=exc.ctx, param=exc.param,
                                  param_hint=exc.param_hint)
    return click.UsageError(message, ctx=exc.ctx)


def _quiet_stdout() -> None:
    """After stdout failed, point it at /dev/null so the interpreter's last flush is silent."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


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


@cli.command()
@click.argument("process_file", metavar="PROCESS", type=click.Path(path_type=str))
@click.option("--buyer", help="Draw only this buyer type.")
@click.option("--combined", is_flag=True, help="One diagram of all buyer types together.")
@click.option("--format", "fmt", type=click.Choice(["svg", "png", "pdf", "dot", "mermaid"]),
              default="svg", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str),
              help="Output file (default: next to the process file; dot and mermaid: the "
              "terminal). With one diagram per buyer type, the buyer id is added to it.")
@click.option("--direction", type=click.Choice(["LR", "TB"]), default="LR", show_default=True,
              help="Left to right, or top to bottom.")
@click.option("--results", "results_file", metavar="RESULT.json",
              type=click.Path(dir_okay=False, path_type=str),
              help="Colour the drawing by a simulation of this process (simulate --format "
              "json): deals a month, share moving on and time in stage on every card, arrows "
              "as wide as the flow, the bottleneck highlighted.")
def render(process_file: str, buyer: str | None, combined: bool, fmt: str,
           output: str | None, direction: str, results_file: str | None) -> None:
    """Draw the process as a flowchart: one per buyer type, or --combined."""
    from salesproc.drawing import graph, to_dot, to_mermaid

    process = load_or_fail(process_file)
    if results_file is not None:
        _render_results(process, process_file, results_file, fmt, output, direction,
                        buyer, combined)
        return
    if buyer is not None and buyer not in process.buyer_types:
        raise Failure(f"unknown buyer type '{buyer}'",
                      hint=f"choose one of: {', '.join(process.buyer_types)}")
    diagrams: dict[str | None, Any]
    if combined:
        diagrams = {None: graph.combined_graph(process)}
    else:
        chosen = [buyer] if buyer else list(process.buyer_types)
        diagrams = {b: graph.buyer_graph(process, b) for b in chosen}
    single = len(diagrams) == 1
    texts = []
    for name, diagram in diagrams.items():
        if fmt == "mermaid":
            content: str | bytes = to_mermaid(diagram, process.time_unit, direction)
        else:
            content = to_dot(diagram, process.time_unit, direction)
            if fmt != "dot":
                content = _image(content, fmt)
        target = _render_target(process_file, output, fmt, None if single else name)
        if target is None:
            texts.append(content if single else f"%% buyer type: {name}\n{content!s}")
        else:
            _emit_file(target, content, process.files)
    if texts:
        echo("\n".join(str(t) for t in texts), nl=False)


def _render_results(process: Process, process_file: str, results_file: str, fmt: str,
                    output: str | None, direction: str, buyer: str | None,
                    combined: bool) -> None:
    """render --results: one drawing, of what the simulation covered."""
    from salesproc.core.errors import SalesprocError
    from salesproc.drawing import results_dot
    from salesproc.drawing.results import simulated_buyer

    if fmt == "mermaid":
        raise click.BadParameter("results are drawn with Graphviz: use svg, png, pdf or dot",
                                 param_hint="--format")
    data = _read_json(results_file)
    simulated = simulated_buyer(data) if isinstance(data, dict) and isinstance(
        data.get("settings"), dict) else None
    if (buyer is not None and buyer != simulated) or (combined and simulated is not None):
        which = f"buyer type {simulated!r} alone" if simulated else "every buyer type"
        raise click.BadParameter(
            f"the results are of {which}; they are drawn as simulated (the moves of a run "
            "are every buyer type's together; simulate --only-buyer B simulates one buyer "
            "type's leads alone)", param_hint="--buyer" if buyer is not None else "--combined")
    try:
        source = results_dot(process, data, direction)
    except SalesprocError as exc:
        raise Failure(f"{results_file}: {exc.message}", exc.hint) from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # edited by hand
        raise Failure(f"{results_file}: the results are damaged ({type(exc).__name__}: "
                      f"{shown(str(exc))[:80]})", "simulate again with --format json") from None
    content: str | bytes = source if fmt == "dot" else _image(source, fmt)
    if output is None and fmt != "dot":
        base = Path(results_file)
        output = str(base.with_name(base.stem + f".{fmt}"))
    if output is None or output == "-":
        if fmt != "dot":
            raise click.BadParameter(f"{fmt.upper()} is not text: write it to a file",
                                     param_hint="--output")
        echo(source, nl=False)
        return
    _emit_file(output, content, [*process.files, results_file])


def _read_json(path: str, hint: str = "give the file written by: salesproc simulate "
               "PROCESS --format json -o RESULT.json") -> Any:
    """A JSON document that salesproc wrote, from a file, or a located error: never a
    wait on a pipe or a device, nor a file too large, too deep or with numbers too long to
    be a result (each would hang, fill the memory or fail inside the JSON reader)."""
    import json

    from salesproc.core.defaults import MAX_RESULTS_BYTES

    try:
        if not os.path.isfile(path):
            what = "does not exist" if not os.path.exists(path) else "is not a regular file"
            raise Failure(f"{shown(path)} {what}", hint)
        with open(path, "rb") as handle:
            raw = handle.read(MAX_RESULTS_BYTES + 1)
        if len(raw) > MAX_RESULTS_BYTES:
            raise Failure(f"{shown(path)}: larger than {MAX_RESULTS_BYTES:,} bytes, more "
                          "than any result salesproc writes", hint)
        return json.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise Failure(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise Failure(f"{shown(path)} is not a JSON file: not a text file (UTF-8 expected)",
                      hint) from None
    except RecursionError:
        raise Failure(f"{shown(path)}: nested too deeply to be a result", hint) from None
    except ValueError as exc:
        if not isinstance(exc, json.JSONDecodeError):  # an integer of thousands of digits
            raise Failure(f"{shown(path)}: not a result: {shown(str(exc))[:80]}", hint) from None
        raise Failure(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}",
                      hint) from None


def _image(source: str, fmt: str) -> bytes:
    """Graphviz's drawing; without Graphviz, the hint also names the formats that need
    no install."""
    from salesproc.core.errors import ToolMissingError
    from salesproc.drawing import to_image

    try:
        return to_image(source, fmt)
    except ToolMissingError as exc:
        raise Failure(exc.message, f"{exc.hint}; or use --format dot or --format mermaid, "
                      "which need no install") from None


def _render_target(process_file: str, output: str | None, fmt: str, buyer: str | None
                   ) -> str | None:
    """Where a diagram goes: -o (with the buyer id added), beside the file, or stdout."""
    suffix = {"mermaid": ".mmd"}.get(fmt, f".{fmt}")
    if output == "-":
        if fmt in ("dot", "mermaid"):
            return None
        raise click.BadParameter(f"{fmt.upper()} is not text: write it to a file",
                                 param_hint="--output")
    if output is None:
        if fmt in ("dot", "mermaid"):
            return None
        base = Path(process_file)
        return str(base.with_name(base.stem + (f".{buyer}" if buyer else "") + suffix))
    if buyer is None:
        return output
    path = Path(output)
    return str(path.with_name(f"{path.stem}.{buyer}{path.suffix or suffix}"))


def _emit_file(target: str, content: str | bytes, inputs: Sequence[str] = ()) -> None:
    """-o: *content* written to *target* (never onto an input); text as the terminal would
    get it, its control characters made visible."""
    from salesproc.core.outputs import write_atomic

    _refuse_overwrite(target, inputs)
    folder = os.path.dirname(target)
    if folder and not os.path.exists(folder):  # -o out/x.svg on a fresh clone
        try:
            os.makedirs(folder)
        except OSError as exc:
            raise Failure(f"cannot make the folder {folder}: {exc.strerror or exc}") from None
    write_atomic(target, visible(content) if isinstance(content, str) else content)
    echo(f"wrote {target}", err=True)


def _same_file(a: str, b: str) -> bool:
    """Two paths name one regular file (devices such as /dev/null may be shared)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return not os.path.exists(a) or os.path.isfile(a)
    with contextlib.suppress(OSError):
        return os.path.isfile(a) and os.path.samefile(a, b)
    return False


def _refuse_overwrite(target: str, inputs: Sequence[str], others: Sequence[str] = ()) -> None:
    """Never write an output onto a file the command reads, or onto another output."""
    for path in inputs:
        if _same_file(target, path):
            raise click.BadParameter(f"{target} is an input of this command; writing there "
                                     "would destroy it", param_hint="--output")
    for path in others:
        if _same_file(target, path):
            raise click.BadParameter(f"{target} is named for two outputs; give each its own "
                                     "file", param_hint="--output")


@cli.command()
@click.argument("process_file", metavar="PROCESS", type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(["markdown", "html"]), default="markdown",
              show_default=True, help="Markdown with Mermaid diagrams (GitHub draws them), "
              "or one HTML page with the diagrams inline (needs Graphviz).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str),
              help="Write the playbook to this file (default: the terminal).")
def playbook(process_file: str, fmt: str, output: str | None) -> None:
    """Write the onboarding playbook for new reps, with diagrams."""
    from salesproc.drawing.playbook import to_markdown
    from salesproc.report.html import playbook as to_html

    process = load_or_fail(process_file)
    _guard_outputs(process.files, output)
    _emit((to_html if fmt == "html" else to_markdown)(process, process_file), output)


DURATION = SPAN_HELP
FORMATS = ["table", "json", "csv", "html"]
FORMAT_HELP = ("table for the terminal, json or csv for other tools, html for one page with "
               "charts that opens offline.")
CHARTS_OPTION = click.option(
    "--charts", "charts_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=str),
    help="Also write each chart as DIR/NAME.svg and DIR/NAME.png, for slides.")
REPLICATIONS = click.IntRange(1, MAX_REPLICATIONS)
RANGED = click.IntRange(3, MAX_REPLICATIONS)  # a worst-to-best range needs 3 runs or more
WORKERS = click.IntRange(1, MAX_WORKERS)


class _Duration(click.ParamType):  # type: ignore[type-arg]
    """A span of time (units.parse_span: a bare number is days, in every command): its
    form checked here and kept as text, read in the process's time unit by _span once
    the process is loaded."""

    name = "duration"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        from salesproc.core.units import is_span_text, parse_span

        text = str(value).strip()
        try:
            amount = float(text)
        except ValueError:
            if not is_span_text(text):
                self.fail(f"{text!r} is not a duration ({DURATION})", param, ctx)
            amount = parse_span(text, "day")
        if not math.isfinite(amount) or amount < 0 or (self.positive and amount == 0):
            self.fail(f"{text!r} is not a duration {'above' if self.positive else 'of at least'}"
                      " 0", param, ctx)
        return text

    def __init__(self, positive: bool = False) -> None:
        self.positive = positive


def _span(text: str | None, unit: str, option: str) -> float | None:
    """*text* given to *option* (checked by _Duration), in *unit*; a bare number where a
    process counts time in another unit is a usage error that says what to write."""
    from salesproc.core.units import SpanError, parse_span

    if text is None:
        return None
    try:
        return parse_span(text, unit)
    except SpanError as exc:
        raise click.BadParameter(f"{exc}: {exc.hint}", param_hint=option) from None


@cli.command()
@click.argument("process_file", metavar="PROCESS", type=click.Path(path_type=str))
@click.option("-r", "--replications", type=REPLICATIONS, help="Independent runs (default: "
              "the file's, else 20).")
@click.option("--horizon", type=_Duration(positive=True),
              help=f"How long to simulate ({DURATION}).")
@click.option("--warmup", type=_Duration(), help="Initial time left out of the figures.")
@click.option("--seed", type=click.IntRange(min=0), help="Random seed: same seed, same "
              "results.")
@click.option("-w", "--workers", type=WORKERS, help="Parallel processes "
              "(default: all cores). Results do not depend on it.")
@click.option("--buyer", help="Report this buyer type's deals in full (every buyer type is "
              "still simulated: they share the team).")
@click.option("--only-buyer", "only_buyer", help="A what-if: let only this buyer type's "
              "leads arrive (the others never do), as if it had the team to itself.")
@click.option("--set", "settings", multiple=True, metavar="PATH=VALUE",
              help="Change the process for this run, e.g. --set roles.se.headcount=3.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True, help=FORMAT_HELP)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str),
              help="Write the results to this file instead of the terminal.")
@CHARTS_OPTION
@click.option("--events", type=click.Path(dir_okay=False, path_type=str),
              help="Also write a CSV event log, one row per stage visit (runs the "
              "replications in one process).")
def simulate(process_file: str, replications: int | None, horizon: str | None,
             warmup: str | None, seed: int | None, workers: int | None, buyer: str | None,
             only_buyer: str | None, settings: tuple[str, ...], fmt: str, output: str | None,
             charts_dir: str | None, events: str | None) -> None:
    """Simulate the pipeline: wins, revenue, time in stage, bottleneck, end pipeline."""
    from salesproc.experiments import experiment

    process = load_or_fail(process_file, settings)
    if events == "-":
        raise click.BadParameter("write the event log to a file", param_hint="--events")
    _guard_outputs(process.files, output, events)
    if buyer is not None:
        experiment.check_buyer(process, buyer)
    run = experiment.resolve_settings(
        process, horizon=_span(horizon, process.time_unit, "--horizon"),
        warmup=_span(warmup, process.time_unit, "--warmup"), replications=replications,
        seed=seed,
        workers=_workers(workers), only_buyer=only_buyer)
    if events is not None:
        _warn_event_log_size(process, run)
    for warning in experiment.capacity_warnings(process):
        warn(warning)
    _guard_charts(charts_dir)
    with _progress(run.replications) as progress, _event_log(events) as sink:
        result = experiment.simulate(process, run, progress=progress, event_sink=sink,
                                     buyer=buyer)
    _emit_result("simulation", result, fmt, output, charts_dir)


class _Date(click.ParamType):  # type: ignore[type-arg]
    """A date (2026-03-31) or a date and time (2026-03-31T18:00), in the team's local
    time (no zone: times in exports are read so too), from 1900 on (as dates in exports
    are). A *past* date is not after today: the history as of a later day does not
    exist yet; a later one (the end of a forecast) is at most a century ahead. A day
    alone is the end of that day, or its start where *start_of_day* (a backtest's origin:
    the history as it stood when the day began)."""

    name = "date"
    _FORM = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?")

    def __init__(self, past: bool = True, start_of_day: bool = False) -> None:
        self.past = past
        self.start_of_day = start_of_day

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        import datetime as dt

        text = str(value).strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+)?\s*(?:Z|UTC|[+-]\d{2}(?::?\d{2})?)",
                        text):
            self.fail(f"{shown(text)!r} has a time zone; give the team's local time "
                      "without one (2026-03-31T18:00), as the export's times are read",
                      param, ctx)
        try:
            if not self._FORM.fullmatch(text):
                raise ValueError(text)
            day_time = dt.time() if self.start_of_day else dt.time(23, 59, 59)
            when = dt.datetime.combine(dt.date.fromisoformat(text), day_time) \
                if len(text) == 10 else dt.datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{shown(text)!r} is not a date like 2026-03-31 (or 2026-03-31T18:00)",
                      param, ctx)
        today = dt.date.today()
        if when.year < 1900:
            self.fail(f"{text} is before 1900: no CRM history is that old", param, ctx)
        if self.past and when.date() > today:
            self.fail(f"{when:%Y-%m-%d} is after today ({today.isoformat()}): the history "
                      "as it stood then is not known yet", param, ctx)
        if when.year > today.year + 100:
            self.fail(f"{when:%Y-%m-%d} is more than a century ahead", param, ctx)
        return when


@cli.command()
@click.argument("history", metavar="HISTORY...", nargs=-1, required=True,
                type=click.Path(path_type=str))
@click.option("--process", "process_file", metavar="FILE", required=True,
              type=click.Path(path_type=str),
              help="The process file whose crm: section maps the export onto its stages.")
@click.option("--as-of", "as_of", type=_Date(), help="Measure the pipeline as it stood at "
              "the end of this day (default: the latest change in the export).")
@click.option("--crm", "crm", type=click.Choice(["salesforce", "hubspot", "generic", "events"]),
              help="Which export this is (default: told by its columns).")
@click.option("--buyer", help="Report on this buyer type's deals in full (the table and the HTML "
              "page; JSON and CSV always hold every buyer type).")
@click.option("--suggest-mapping", is_flag=True, help="Print a crm: section for the process "
              "file from the export's stage names (in their usual order, with counts).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str),
              help="Write the results to this file instead of the terminal.")
@CHARTS_OPTION
def measure(history: tuple[str, ...], process_file: str, as_of: Any, crm: Any,
            buyer: str | None, suggest_mapping: bool, fmt: str, output: str | None,
            charts_dir: str | None) -> None:
    """Measure the real pipeline from CRM exports: open deals by stage, flow, time in stage,
    win rates, loss reasons, and where the data and the process file disagree.

    HISTORY is Salesforce's OpportunityHistory.csv (with Opportunity.csv), a HubSpot deals
    export, a stage-change CSV (deal, stage, changed_at, ...), or salesproc's --events log;
    or a deal table without stage history (Opportunity.csv alone, a deals report): then
    what one row per deal allows (no time in stage, moves or where deals are lost).
    """
    from salesproc.history import HistoryError
    from salesproc.history.suggest import suggest_mapping as suggest
    from salesproc.measuring.measurement import measure as measuring

    process = load_or_fail(process_file)
    _guard_outputs([*process.files, *history], output)
    if buyer is not None and buyer not in process.buyer_types:
        raise Failure(f"unknown buyer type '{buyer}'",
                      hint=f"choose one of: {', '.join(process.buyer_types)}")
    if suggest_mapping:
        try:
            _emit(suggest(_paths(history), process, crm), output)
        except HistoryError as exc:
            raise _history_failure(exc, "read") from None
        return
    _guard_charts(charts_dir)
    found = _history_or_fail(history, process, crm, as_of, "measured")
    if not found.has_stages:
        _measure_deal_table(found, buyer, fmt, output, charts_dir)
        return
    result = measuring(found)
    if buyer is not None and buyer not in result.buyers:
        raise Failure(f"no deal in the export is of buyer type '{buyer}'",
                      hint="check the crm: buyer_types rules in the process file")
    if fmt in ("table", "html"):  # the page, like the table, can show one buyer type
        drawn = _draw_charts("measurement", result, charts_dir)
        _emit(_formatter(fmt).measurement(result, buyer), output)
        _save_charts(drawn, charts_dir)
    else:
        _emit_result("measurement", result, fmt, output, charts_dir)


def _measure_deal_table(found: Any, buyer: str | None, fmt: str, output: str | None,
                        charts_dir: str | None) -> None:
    """measure of a deal table (one row per deal, no stage history): what it allows."""
    from salesproc.measuring.deal_measurement import measure_deals

    result = measure_deals(found)
    if buyer is not None and buyer not in result.buyers:
        raise Failure(f"no deal in the export is of buyer type '{buyer}'",
                      hint="check the crm: buyer_types rules in the process file")
    report = _formatter(fmt).deal_measurement
    _emit(report(result, buyer) if fmt in ("table", "html") else report(result), output)
    if charts_dir is not None:
        echo(f"no charts written to {charts_dir}: a deal table has no charts yet", err=True)


@cli.command()
@click.argument("history", metavar="HISTORY...", nargs=-1, required=True,
                type=click.Path(path_type=str))
@click.option("--process", "process_file", metavar="FILE", required=True,
              type=click.Path(path_type=str), help="The process file to calibrate (its "
              "structure stays; its numbers are fitted).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str),
              help="Write the calibrated variant here (it extends FILE); default: the "
              "terminal, its extends: written from the current folder.")
@click.option("--since", type=_Date(), help="Fit only the deals created from this day on.")
@click.option("--as-of", "as_of", type=_Date(), help="The history as it stood at the end of "
              "this day (default: the latest change in the export).")
@click.option("--crm", "crm", type=click.Choice(["salesforce", "hubspot", "generic", "events"]),
              help="Which export this is (default: told by its columns).")
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

    from salesproc.prediction.calibration import calibrate as calibrating
    from salesproc.prediction.fitcheck import check_fit
    from salesproc.report import json as json_report
    from salesproc.report import text

    process = load_or_fail(process_file)
    _guard_outputs([*process.files, *history], output, check_json)
    if check_json == "-":  # the terminal has the calibrated file or the tables
        raise click.BadParameter("give a file to write the JSON to",
                                 param_hint="--check-json")
    found = _history_or_fail(history, process, crm, as_of, "calibrated from")
    if since is not None and since >= found.as_of:
        raise click.BadParameter(f"no history after {since:%Y-%m-%d} (it ends "
                                 f"{found.as_of:%Y-%m-%d})", param_hint="--since")
    result = calibrating(found, since=dt.datetime.combine(since.date(), dt.time())
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
        _emit_file(output, variant)
    echo(text.calibration(result, output), nl=False, err=output in (None, "-"))
    if check or check_json is not None:
        with _progress(replications) as _:
            done = check_fit(found, result, replications=replications, seed=seed,
                             workers=_workers(workers))
        echo(text.fit_check(done), nl=False, err=output in (None, "-"))
        if check_json is not None:
            _emit_file(check_json, json_report.fit_check(done))


@cli.command()
@click.argument("history", metavar="HISTORY...", nargs=-1, required=True,
                type=click.Path(path_type=str))
@click.option("--process", "process_file", metavar="FILE", required=True,
              type=click.Path(path_type=str), help="The process to forecast with: its "
              "arrivals bring the new deals (a calibrated one is best).")
@click.option("--as-of", "as_of", type=_Date(), help="Forecast from the pipeline as it "
              "stood at the end of this day (default: the latest change in the export).")
@click.option("--until", type=_Date(past=False), help="Forecast up to the end of this day.")
@click.option("--horizon", type=_Duration(positive=True),
              help="Or: how far ahead (e.g. 13w, 90d).")
@click.option("--crm", "crm", type=click.Choice(["salesforce", "hubspot", "generic", "events"]),
              help="Which export this is (default: told by its columns).")
@click.option("--campaign", "campaigns", multiple=True, metavar="LEADS@DATE[:BUYER]",
              help="A campaign to plan, e.g. 500@2026-03-10 (repeatable): what it adds is "
              "shown by month.")
@click.option("-r", "--replications", type=RANGED, default=200, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), help="Random seed: same seed, same "
              "forecast.")
@click.option("--cases", default="10,50,90", show_default=True, metavar="WORST,NEUTRAL,BEST",
              help="The percentiles of the runs taken as worst, neutral and best case.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True, help="csv: one row per open deal (its chance to be won, "
              "likely month, value and the CRM's probability); html: one page with charts.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str),
              help="Write the forecast to this file instead of the terminal.")
@click.option("--track-record", "track_file", metavar="BACKTEST.json",
              type=click.Path(dir_okay=False, path_type=str),
              help="A saved `backtest --format json` of this forecast: show its errors beside "
              "the baselines', and the forecast of any baseline that beat it there.")
@click.option("--blend", "blended", is_flag=True,
              help="With --track-record: also the model's neutral case blended with the "
              "record's best baseline, by the weight that did best on the record.")
@CHARTS_OPTION
def forecast(history: tuple[str, ...], process_file: str, as_of: Any, until: Any,
             horizon: str | None, crm: Any, campaigns: tuple[str, ...], replications: int,
             seed: int | None, cases: str, fmt: str, output: str | None,
             track_file: str | None, blended: bool, charts_dir: str | None) -> None:
    """Forecast from today's pipeline: deals won, revenue and losses by a date, as worst,
    neutral and best case, by month; and each open deal's chance to be won.

    HISTORY is read as measure reads it; the open deals start in their stages, with the
    time they have spent there, and the process's arrivals bring the new deals.
    """
    import datetime as dt
    import json as json_module

    from salesproc.prediction.forecast import forecast as forecasting
    from salesproc.prediction.forecast import parse_campaign
    from salesproc.report import text

    try:
        planned = [parse_campaign(c) for c in campaigns]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--campaign") from None
    percentiles = _cases(cases)
    if (until is None) == (horizon is None):  # neither, or both: say which
        raise click.UsageError("give --until DATE or --horizon (e.g. 13w)" + (
            ", not both" if until is not None else ": how far to forecast"))
    if blended and track_file is None:
        raise click.UsageError("--blend needs --track-record BACKTEST.json: the blend's "
                               "weight is the one that did best there")
    process = load_or_fail(process_file)
    _guard_outputs([*process.files, *history, *([track_file] if track_file else [])], output)
    record = _track_record(track_file) if track_file is not None else None
    for c in planned:
        if c.buyer_type is not None and c.buyer_type not in process.buyer_types:
            raise click.BadParameter(f"unknown buyer type '{c.buyer_type}' in {c.name}; "
                                     f"choose one of: {', '.join(process.buyer_types)}",
                                     param_hint="--campaign")
    _guard_charts(charts_dir)
    found = _history_or_fail(history, process, crm, as_of, "forecast from")
    end = until if until is not None else found.as_of + dt.timedelta(
        days=_span(horizon, "day", "--horizon") or 0.0)
    if end <= found.as_of:
        raise click.BadParameter(f"the forecast must end after the as-of date "
                                 f"({found.as_of:%Y-%m-%d})", param_hint="--until")
    for c in planned:
        if not found.as_of.date() <= c.on <= end.date():
            raise click.BadParameter(f"{c.name} is not within the forecast "
                                     f"({found.as_of:%Y-%m-%d} to {end:%Y-%m-%d})",
                                     param_hint="--campaign")
    result = forecasting(found, end, process=process, replications=replications, seed=seed,
                         campaigns=planned, cases=percentiles, workers=_workers(None))
    drawn = _draw_charts("forecast", result, charts_dir)
    said: list[str] = []
    beaten: list[Any] = []
    blends: list[Any] = []
    if record is not None:
        from salesproc.prediction.backtest import beaten_by

        beaten = beaten_by(record, found, end)
        said = text.track_record(record, beaten, result, str(track_file))
        if blended:
            from salesproc.prediction.backtest import blend

            blends = [b for b in (blend(record, found, end, figure,
                                        result.totals[figure].neutral)
                                  for figure in ("won", "revenue")) if b is not None]
            said += text.blends(blends)
    if fmt == "json":
        data = result.to_dict()
        if record is not None:
            data["track_record"] = {"file": track_file, "backtest": record.to_dict(),
                                    "beaten_by": [b.to_dict() for b in beaten]}
            if blended:
                data["track_record"]["blend"] = [b.to_dict() for b in blends]
        _emit(json_module.dumps(data, indent=2, allow_nan=False) + "\n", output)
    elif fmt == "csv":
        from salesproc.report import csv

        _emit(csv.forecast_deals(result), output)
        for line in said:  # a record does not fit the rows of deals: it goes to stderr
            echo(line, err=True)
    elif fmt == "html":
        from salesproc.report import html

        _emit(html.forecast(result, said), output)
    else:
        _emit(text.forecast(result) + "".join(
            line + "\n" for line in ["", *said] if said), output)
    _save_charts(drawn, charts_dir)


def _track_record(path: str) -> Any:
    """The saved backtest in *path*, or exit 1 saying what is wrong with it."""
    from salesproc.prediction.backtest import from_dict

    hint = "save one with: salesproc backtest ... --format json -o BACKTEST.json"
    data = _read_json(path, hint)
    try:
        return from_dict(data)
    except ValueError as exc:
        raise Failure(f"{shown(path)}: {shown(str(exc))}", hint) from None


def _cases(text: str) -> tuple[float, float, float]:
    """'10,50,90': three rising percentiles between 0 and 100."""
    try:
        worst, neutral, best = (float(x) for x in text.split(","))
    except ValueError:
        raise click.BadParameter(f"{text!r}: give three percentiles, e.g. 10,50,90",
                                 param_hint="--cases") from None
    if not 0 <= worst < neutral < best <= 100:
        raise click.BadParameter(f"{text!r}: the three must rise, between 0 and 100",
                                 param_hint="--cases")
    return worst, neutral, best


@cli.command()
@click.argument("history", metavar="HISTORY...", nargs=-1, required=True,
                type=click.Path(path_type=str))
@click.option("--process", "process_file", metavar="FILE", required=True,
              type=click.Path(path_type=str), help="The process to calibrate at each origin.")
@click.option("--from", "first", type=_Date(start_of_day=True), required=True,
              help="The first origin (a day alone: as the day began).")
@click.option("--to", "last", type=_Date(), required=True,
              help="The last origin (at the latest: the end of that day).")
@click.option("--every", default="1mo", show_default=True,
              help="Between origins: 1mo (calendar months), or a duration such as 2w.")
@click.option("--horizon", type=_Duration(positive=True), default="90d", show_default=True,
              help="How far each forecast looks ahead.")
@click.option("--crm", "crm", type=click.Choice(["salesforce", "hubspot", "generic", "events"]),
              help="Which export this is (default: told by its columns).")
@click.option("-r", "--replications", type=RANGED, default=100, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), help="Random seed.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True, help="table for the terminal, json for tools (and for "
              "forecast --track-record), csv: one row per origin, figure and forecaster, "
              "html: one page with the forecast-vs-actual chart.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str),
              help="Write the results to this file instead of the terminal.")
@CHARTS_OPTION
def backtest(history: tuple[str, ...], process_file: str, first: Any, last: Any, every: str,
             horizon: str, crm: Any, replications: int, seed: int | None, fmt: str,
             output: str | None, charts_dir: str | None) -> None:
    """Test the forecast on the past: at each origin, calibrate on the history before it,
    forecast, and compare with what happened and with the baselines made at the same
    origins (run rate, seasonal naive, the CRM's weighted pipeline, a stage-to-stage
    Markov chain): errors, bias, the coverage of the worst-to-best range.

    Nothing is written beside the process file; an origin whose calibration fails is
    reported with the reason, and the others go on.
    """
    from salesproc.prediction.backtest import backtest as backtesting

    origins = _origins(first, last, every)
    process = load_or_fail(process_file)
    _guard_outputs([*process.files, *history], output)
    _guard_charts(charts_dir)
    found = _history_or_fail(history, process, crm, None, "backtested on")
    start = list(origins)  # never before --from: a time given is kept
    result = backtesting(found, start, _span(horizon, "day", "--horizon") or 90.0,
                         replications=replications, seed=seed)
    if not result.origins:
        reasons = [f"{f.at:%Y-%m-%d}: {f.reason}" for f in result.failed] + result.notes
        raise Failure("no origin could be backtested", hint="; ".join(reasons))
    for failed in result.failed:
        warn(f"the origin {failed.at:%Y-%m-%d} failed: {shown(failed.reason)}")
    _emit_result("backtest", result, fmt, output, charts_dir)


def _origins(first: Any, last: Any, every: str) -> list[Any]:
    """The forecast origins from *first* to *last*, both included: by calendar months
    (1mo, 3mo: the same day each month, or the month's last day where it is shorter) or
    by a duration (2w, 30d)."""
    import datetime as dt

    from salesproc.prediction.backtest import add_months

    if last < first:
        raise click.BadParameter("the last origin is before the first", param_hint="--to")
    text = every.strip().lower()
    months = text[:-2] if text.endswith("mo") else None
    if months is not None:
        if not months.isdigit() or int(months) < 1:
            raise click.BadParameter(f"{every!r}: give 1mo, 3mo, or a duration such as 2w",
                                     param_hint="--every")
        out: list[Any] = []
        for k in range(MAX_ORIGINS + 1):
            origin = add_months(first, k * int(months))
            if origin > last:
                return out
            out.append(origin)
        raise click.BadParameter(f"more than {MAX_ORIGINS} origins: use a longer --every",
                                 param_hint="--every")
    step = _Duration(positive=True).convert(every, None, None)
    days = _span(step, "day", "--every") or 0.0
    count = int((last - first).total_seconds() // (days * 86400)) + 1
    if count > MAX_ORIGINS:
        raise click.BadParameter(f"more than {MAX_ORIGINS} origins: use a longer --every",
                                 param_hint="--every")
    return [first + dt.timedelta(days=days * k) for k in range(count)]


def _paths(history: Sequence[str]) -> list[str]:
    if any(not h.strip() for h in history):
        raise click.BadParameter("an empty path names no file", param_hint="HISTORY")
    return list(history)


def _history_failure(exc: Any, verb: str) -> Failure:
    """The notes of an export that cannot be used, on stderr; the failure to raise."""
    for note in exc.notes:
        _echo_note(note)
    errors = sum(n.is_error for n in exc.notes)
    unmapped = next((n for n in exc.notes if n.code == "SP850"), None)
    if unmapped is not None:  # the summary at the end, and the command that helps
        return Failure(f"the export cannot be {verb}: {unmapped.message}",
                       hint="add --suggest-mapping to the measure command: it proposes a crm: "
                       "section for the process file, one line per CRM stage")
    return Failure(f"the export cannot be {verb} ({errors} error(s) above)")


def _history_or_fail(history: Sequence[str], process: Process, crm: Any, as_of: Any,
                     verb: str) -> Any:
    """The deal history in the export files (notes on stderr), or exit 1 with its errors:
    the one way measure, calibrate, forecast and backtest read an export."""
    from salesproc.history import HistoryError, read_history

    try:
        found = read_history(_paths(history), process, format=crm, as_of=as_of)
    except HistoryError as exc:
        raise _history_failure(exc, verb) from None
    for note in found.notes:
        _echo_note(note)
    return found


def _echo_note(note: Any) -> None:
    """A note of reading an export on stderr, each of its lines shown (a value it quotes
    cannot start a line of its own), its level coloured on a terminal."""
    level = note.level.value

    def colour(text: str) -> str:
        return text.replace(f" {level} SP", " " + click.style(
            level, fg="red" if note.is_error else "cyan", bold=True) + " SP", 1)

    echo("\n".join(shown(line) for line in note.format().split("\n")), err=True,
         style=colour if sys.stderr.isatty() else None)


def _simulation_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by compare and sweep (the same as simulate's)."""
    for option in reversed([
        click.option("-r", "--replications", type=REPLICATIONS, help="Paired replications "
                     "(default: the base file's, else 20)."),
        click.option("--horizon", type=_Duration(positive=True),
                     help=f"How long to simulate ({DURATION})."),
        click.option("--warmup", type=_Duration(), help="Initial time left out."),
        click.option("--seed", type=click.IntRange(min=0), help="Random seed."),
        click.option("-w", "--workers", type=WORKERS,
                     help="Parallel processes (default: all cores)."),
        click.option("--buyer", help="Report this buyer type's deals (every buyer type "
                     "is still simulated: they share the team)."),
        click.option("--format", "fmt", type=click.Choice(FORMATS),
                     default="table", show_default=True, help=FORMAT_HELP),
        click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str),
                     help="Write the results to this file instead of the terminal."),
        CHARTS_OPTION,
    ]):
        func = option(func)
    return func


def _warn_capacity(processes: Sequence[tuple[str, Any]]) -> None:
    from salesproc.experiments.experiment import capacity_warnings

    for label, process in processes:
        for warning in capacity_warnings(process):
            warn(f"{label}: {warning}")


@cli.command()
@click.argument("base_file", metavar="BASE", type=click.Path(path_type=str))
@click.argument("variant_files", metavar="[VARIANT]...", nargs=-1,
                type=click.Path(path_type=str))
@click.option("--set", "settings", multiple=True, metavar="PATH=VALUE",
              help="A variant of BASE with this change (repeatable; combined into one "
              "variant), e.g. --set roles.se.headcount=3.")
@_simulation_options
def compare(base_file: str, variant_files: tuple[str, ...], settings: tuple[str, ...],
            replications: int | None, horizon: str | None, warmup: str | None,
            seed: int | None, workers: int | None, buyer: str | None, fmt: str,
            output: str | None, charts_dir: str | None) -> None:
    """What changes if...: compare BASE with variant files and/or --set changes.

    Every variant sees the same deals (common random numbers); differences come with
    95% intervals from paired replications, and a verdict in plain words.
    """
    from salesproc.experiments import compare as comparing
    from salesproc.experiments import experiment
    from salesproc.process.variants import describe

    if not variant_files and not settings:
        raise click.UsageError("name at least one VARIANT file or --set PATH=VALUE")
    base = load_or_fail(base_file)
    variants = [(describe((), f), load_or_fail(f)) for f in variant_files]
    if settings:
        variants.append((describe(settings), changed_or_fail(base, base_file, settings)))
    _guard_outputs([f for _, p in [("", base), *variants] for f in p.files], output)
    run = experiment.resolve_settings(
        base, horizon=_span(horizon, base.time_unit, "--horizon"),
        warmup=_span(warmup, base.time_unit, "--warmup"),
        replications=replications, seed=seed, workers=_workers(workers))
    _warn_capacity([(describe((), base_file), base), *variants])
    for _, process in variants:
        if process.time_unit != base.time_unit:
            raise Failure(f"{process.source} counts time in {process.time_unit}s, the base in "
                          f"{base.time_unit}s", hint="compare processes with one time_unit")
    _check_buyer(buyer, [base, *(p for _, p in variants)])
    _guard_charts(charts_dir)
    with _progress((len(variants) + 1) * run.replications) as progress:
        result = comparing.compare((describe((), base_file), base), variants, run,
                                   buyer=buyer, progress=progress)
    _emit_result("comparison", result, fmt, output, charts_dir)


@cli.command()
@click.argument("process_file", metavar="PROCESS", type=click.Path(path_type=str))
@click.option("--set", "sweeps", multiple=True, required=True, metavar="PATH=VALUES",
              help="A setting and its values: 2..8, 2..10:2, or 0.5,1,2 (one or two "
              "settings may vary).")
@_simulation_options
def sweep(process_file: str, sweeps: tuple[str, ...], replications: int | None,
          horizon: str | None, warmup: str | None, seed: int | None, workers: int | None,
          buyer: str | None, fmt: str, output: str | None, charts_dir: str | None) -> None:
    """Headline figures for each value of a setting, and the gain of each step.

    E.g. salesproc sweep processes/five-step.yaml --set roles.se.headcount=1..5
    """
    from salesproc.experiments import compare as comparing
    from salesproc.experiments import experiment

    points = comparing.sweep_points([_parse_sweep(s) for s in sweeps])
    read = load_or_fail(process_file)
    processes = [changed_or_fail(read, process_file, point) for point in points]
    base = processes[0]
    _guard_outputs(base.files, output)
    run = experiment.resolve_settings(
        base, horizon=_span(horizon, base.time_unit, "--horizon"),
        warmup=_span(warmup, base.time_unit, "--warmup"),
        replications=replications, seed=seed, workers=_workers(workers))
    labels = [" ".join(point) for point in points]
    _warn_capacity(list(zip(labels, processes, strict=True)))
    _check_buyer(buyer, processes)
    _guard_charts(charts_dir)
    with _progress(len(points) * run.replications) as progress:
        result = comparing.sweep(processes, points, run, buyer=buyer, progress=progress)
    _emit_result("sweep", result, fmt, output, charts_dir)


def _parse_sweep(option: str) -> Any:
    """'roles.ae.headcount=2..8', '...=2..10:2', '...=0.2,0.4,0.6' or a single value."""
    from salesproc.experiments.compare import Sweep

    def bad(message: str) -> click.BadParameter:
        return click.BadParameter(f"{shown(option)!r}: {message}", param_hint="--set")

    setting, sep, spec = option.partition("=")
    spec = spec.strip()
    if not sep or not setting.strip() or not spec:
        raise bad("give PATH=VALUES, e.g. roles.ae.headcount=2..8 or "
                  "stages.demo.work=0.5,1,2")
    if ".." in spec and not spec.startswith(("{", "[")):
        values = _sweep_range(spec, bad)
    else:
        values = tuple(v.strip() for v in spec.split(",")) if not spec.startswith(
            ("{", "[")) else (spec,)
    if any(not v for v in values):
        raise bad("a value is empty")
    return Sweep(setting.strip(), values)


def _sweep_range(spec: str, bad: Callable[[str], click.BadParameter]) -> tuple[str, ...]:
    from salesproc.core.defaults import MAX_SWEEP_POINTS

    bounds, _, step_text = spec.partition(":")
    low_text, _, high_text = bounds.partition("..")
    try:
        low, high = _number(low_text), _number(high_text)
        step = _number(step_text) if step_text else 1.0
    except ValueError:
        raise bad("a range is FROM..TO or FROM..TO:STEP with ordinary numbers, e.g. 2..8 "
                  "or 0.5..2:0.5") from None
    if step <= 0 or high < low:
        raise bad("the range must go up, with a step above 0")
    count = math.floor((high - low) / step + 1e-9) + 1
    if count > MAX_SWEEP_POINTS:
        raise bad(f"{count} values are more than {MAX_SWEEP_POINTS}; use a larger step")
    whole = all(x == int(x) for x in (low, high, step))
    return tuple(str(int(low + i * step)) if whole else f"{low + i * step:g}"
                 for i in range(count))


def _number(text: str) -> float:
    """A finite number of sensible size (not nan, inf or hundreds of digits)."""
    text = text.strip()
    value = float(text) if len(text) <= 30 else math.inf
    if not math.isfinite(value) or abs(value) > 1e15:
        raise ValueError(text)
    return value


def _formatter(fmt: str) -> Any:
    """The report module for a --format: table (text), json, csv or html."""
    from salesproc.report import csv, html, json, text

    return {"table": text, "json": json, "csv": csv, "html": html}[fmt]


def _emit_result(kind: str, result: Any, fmt: str, output: str | None,
                 charts_dir: str | None) -> None:
    """A result in its --format (kind names the report function), then its --charts
    (drawn and checked first: a chart may not land on the output or an input)."""
    drawn = _draw_charts(kind, result, charts_dir)
    _emit(getattr(_formatter(fmt), kind)(result), output)
    _save_charts(drawn, charts_dir)


def _check_buyer(buyer: str | None, processes: Sequence[Process]) -> None:
    for process in processes:
        if buyer is not None and buyer not in process.buyer_types:
            raise click.BadParameter(f"{process.source} has no buyer type '{buyer}'; choose "
                                     f"one of: {', '.join(process.buyer_types)}",
                                     param_hint="--buyer")


def _guard_charts(folder: str | None) -> None:
    """Refuse, before any work, a --charts folder that is a file."""
    if folder is not None and os.path.exists(folder) and not os.path.isdir(folder):
        raise click.BadParameter(f"{folder} is a file, not a folder", param_hint="--charts")


def _draw_charts(kind: str, result: Any, folder: str | None) -> list[Any]:
    """--charts DIR: every chart of the result, each checked before anything is written:
    DIR/NAME.svg and DIR/NAME.png may not be a file the command reads or writes (an
    export named pipeline.svg, or -o DIR/forecast.svg)."""
    if folder is None:
        return []
    from salesproc import charts

    drawn: list[Any] = getattr(charts, kind)(result.to_dict())
    guarded = click.get_current_context().meta.get(_GUARDED, ())
    for chart in drawn:
        for suffix in (".svg", ".png"):
            target = os.path.join(folder, chart.name + suffix)
            if any(_same_file(target, path) for path in guarded):
                raise click.BadParameter(
                    f"the chart {target} would be written over a file this command reads "
                    "or writes; give --charts another folder", param_hint="--charts")
    return drawn


def _save_charts(drawn: list[Any], folder: str | None) -> None:
    """The charts :func:`_draw_charts` drew, written to *folder*."""
    if folder is None:
        return
    from salesproc.core.outputs import write_atomic

    if not drawn:  # e.g. a comparison of one replication: no difference to draw
        echo(f"no charts written to {folder}: these results have nothing to draw", err=True)
        return
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise Failure(f"cannot make the folder {folder}: {exc.strerror or exc}") from None
    for chart in drawn:
        base = os.path.join(folder, chart.name)
        write_atomic(base + ".svg", chart.svg())
        write_atomic(base + ".png", chart.png())
    names = ", ".join(c.name for c in drawn)
    echo(f"wrote {len(drawn)} charts to {folder} (SVG and PNG): {names}", err=True)


WORKERS_VARIABLE = "SALESPROC_WORKERS"


def _workers(given: int | None) -> int:
    """The command line uses every core unless told otherwise: by its option, or by the
    environment's SALESPROC_WORKERS (a CI job or a container allowed fewer cores than the
    machine shows, a test run that already keeps every core busy); the library, one."""
    if given is not None:
        return given
    said = os.environ.get(WORKERS_VARIABLE, "").strip()
    if said:
        if not said.isdigit() or not 1 <= int(said) <= MAX_WORKERS:
            raise Failure(f"{WORKERS_VARIABLE}={said!r} is no number of workers",
                          hint=f"set it to a whole number from 1 to {MAX_WORKERS}, or unset it "
                          "to use every core")
        return int(said)
    return min(os.cpu_count() or 1, MAX_WORKERS)


def _guard_outputs(inputs: Sequence[str], output: str | None, *more: str | None) -> None:
    """Refuse, before any work, outputs that would land on an input or on each other;
    both are kept for --charts to check its files against (:func:`_draw_charts`)."""
    outputs = [o for o in (output, *more) if o is not None and o != "-"]
    for k, target in enumerate(outputs):
        _refuse_overwrite(target, inputs, outputs[:k])
    context = click.get_current_context(silent=True)
    if context is not None:
        context.meta[_GUARDED] = (*inputs, *outputs)


#: Where :func:`_guard_outputs` leaves the command's inputs and outputs (click's context).
_GUARDED = "salesproc.guarded"


def _warn_event_log_size(process: Process, run: Any) -> None:
    from salesproc.core.defaults import EVENT_LOG_WARNING_BYTES
    from salesproc.experiments.experiment import expected_visits

    rows = expected_visits(process, run)
    size = rows * 90  # bytes in an average row of the log
    if size > EVENT_LOG_WARNING_BYTES:
        warn(f"the event log will hold about {rows:,.0f} rows ({size / 1e9:,.1f} GB)")


def _emit(text: str, output: str | None) -> None:
    """A result's text on the terminal, or in the -o file: made visible either way."""
    if output is None or output == "-":
        echo(text, nl=False)
    else:
        _emit_file(output, text)


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr, only on a terminal and only for runs that take a while."""
    if total < 4 or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=total, label="simulating", file=sys.stderr) as bar:
        shown = [0]

        def update(done: int, _total: int) -> None:
            bar.update(done - shown[0])
            shown[0] = done

        yield update


@contextlib.contextmanager
def _event_log(path: str | None) -> Iterator[Callable[[Visit], None] | None]:
    """A CSV event log, written atomically (it appears only once the run completed)."""
    if path is None:
        yield None
        return
    import csv

    from salesproc.core.outputs import atomic_open
    from salesproc.experiments.results import Visit

    with atomic_open(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(Visit._fields)

        def write(visit: Visit) -> None:  # an open deal's missing times are empty cells
            writer.writerow(["" if isinstance(v, float) and math.isnan(v) else v
                             for v in visit])

        yield write
    echo(f"wrote {path}", err=True)


def main() -> None:
    """Console entry point (`salesproc` and `python -m salesproc`)."""
    signal.signal(signal.SIGTERM, _terminate)
    cli(prog_name="salesproc")
