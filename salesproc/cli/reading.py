"""How a command reads its inputs: a process file (findings on stderr, exit 1), a saved
JSON result, a CRM export (its notes on stderr)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from salesproc.cli.app import Failure, echo
from salesproc.core.diagnostics import Diagnostic, format_text, read_source_lines, shown
from salesproc.core.errors import InvalidProcessError
from salesproc.process.model import Process


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

    _once_each(settings)
    try:
        return load(path, settings)
    except InvalidProcessError as exc:
        raise _invalid(exc, path, settings) from None


def changed_or_fail(process: Process, path: str, settings: Sequence[str]) -> Process:
    """*process* (read from *path*) with --set changes made in memory, or exit 1 with the
    findings as load_or_fail shows them."""
    _once_each(settings)
    try:
        return process.with_changes(settings)
    except InvalidProcessError as exc:
        raise _invalid(exc, path, settings) from None


def _once_each(settings: Sequence[str]) -> None:
    """Each setting changed once: of two --set options for one setting, one would be
    dropped without a word."""
    seen: set[str] = set()
    for text in settings:
        path = text.partition("=")[0].strip()
        if path in seen:
            raise click.BadParameter(f"{shown(path)} is given twice; give each setting once",
                                     param_hint="--set")
        seen.add(path)


def _invalid(exc: InvalidProcessError, path: str, settings: Sequence[str]) -> Failure:
    """The findings on stderr; the failure to raise."""
    from salesproc.process.variants import COMMAND_LINE

    echo_diagnostics(exc.diagnostics, err=True, settings=settings)
    changes = f" with {' '.join('--set ' + s for s in settings)}" if settings else ""
    errors = sum(d.is_error for d in exc.diagnostics)
    hint = "fix the --set options shown above" if settings and all(
        d.file == COMMAND_LINE for d in exc.diagnostics) else f"salesproc validate {path}"
    return Failure(f"{path}{changes} has {errors} error(s); fix them first", hint=hint)


def read_json(path: str, hint: str = "give the file written by: salesproc simulate "
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


def history_paths(history: Sequence[str]) -> list[str]:
    """The export files named, none of them empty."""
    if any(not h.strip() for h in history):
        raise click.BadParameter("an empty path names no file", param_hint="HISTORY")
    return list(history)


def history_failure(exc: Any, verb: str) -> Failure:
    """The notes of an export that cannot be used, on stderr; the failure to raise."""
    for note in exc.notes:
        echo_note(note)
    errors = sum(n.is_error for n in exc.notes)
    unmapped = next((n for n in exc.notes if n.code == "SP850"), None)
    if unmapped is not None:  # the summary at the end, and the command that helps
        return Failure(f"the export cannot be {verb}: {unmapped.message}",
                       hint="add --suggest-mapping to the measure command: it proposes a crm: "
                       "section for the process file, one line per CRM stage")
    return Failure(f"the export cannot be {verb} ({errors} error(s) above)")


def history_or_fail(history: Sequence[str], process: Process, crm: Any, as_of: Any,
                     verb: str) -> Any:
    """The deal history in the export files (notes on stderr), or exit 1 with its errors:
    the one way measure, calibrate, forecast and backtest read an export."""
    from salesproc import api
    from salesproc.history import HistoryError

    try:
        found = api.read_history(history_paths(history), process, format=crm, as_of=as_of)
    except HistoryError as exc:
        raise history_failure(exc, verb) from None
    for note in found.notes:
        echo_note(note)
    return found


def echo_note(note: Any) -> None:
    """A note of reading an export on stderr, each of its lines shown (a value it quotes
    cannot start a line of its own), its level coloured on a terminal."""
    level = note.level.value

    def colour(text: str) -> str:
        return text.replace(f" {level} SP", " " + click.style(
            level, fg="red" if note.is_error else "cyan", bold=True) + " SP", 1)

    echo("\n".join(shown(line) for line in note.format().split("\n")), err=True,
         style=colour if sys.stderr.isatty() else None)
