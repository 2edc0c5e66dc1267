"""Where results go: the terminal or `-o` (never onto an input), `--charts`, a progress bar."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import click
from click.core import ParameterSource

from salesproc.cli.app import Failure, echo
from salesproc.core.escaping import shown, visible

#: An output: its file (None: the terminal) and its format (a --format name)
Target = tuple[str | None, str]

#: A file's format by how its name ends: an -o without --format, or one of several -o
SUFFIXES = {".txt": "table", ".json": "json", ".csv": "csv", ".html": "html", ".htm": "html",
            ".md": "markdown", ".markdown": "markdown", ".xlsx": "xlsx"}


def emit(text: str, output: str | None) -> None:
    """A result's text on the terminal, or in the -o file: made visible either way."""
    if output is None or output == "-":
        echo(text, nl=False)
    else:
        emit_file(output, text)


def emit_file(target: str, content: str | bytes, inputs: Sequence[str] = ()) -> None:
    """-o: *content* written to *target* (never onto an input); text as the terminal would
    get it, its control characters made visible."""
    from salesproc.core.outputs import write_atomic

    refuse_overwrite(target, inputs)
    folder = os.path.dirname(target)
    if folder and not os.path.exists(folder):  # -o out/x.svg on a fresh clone
        try:
            os.makedirs(folder)
        except OSError as exc:
            raise Failure(f"cannot make the folder {folder}: {exc.strerror or exc}") from None
    write_atomic(target, visible(content) if isinstance(content, str) else content)
    echo(f"wrote {target}", err=True)


def same_file(a: str, b: str) -> bool:
    """Two paths name one regular file (devices such as /dev/null may be shared)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return not os.path.exists(a) or os.path.isfile(a)
    with contextlib.suppress(OSError):
        return os.path.isfile(a) and os.path.samefile(a, b)
    return False


def refuse_overwrite(target: str, inputs: Sequence[str], others: Sequence[str] = (),
                     option: str = "--output") -> None:
    """Never write an output onto a file the command reads, or onto another output;
    *option* is where the target was named."""
    for path in inputs:
        if same_file(target, path):
            raise click.BadParameter(f"{target} is an input of this command; writing there "
                                     "would destroy it", param_hint=option)
    for path in others:
        if same_file(target, path):
            raise click.BadParameter(f"{target} is named for two outputs; give each its own "
                                     "file", param_hint=option)


def guard_outputs(inputs: Sequence[str], output: str | None, **more: str | None) -> None:
    """Refuse, before any work, outputs that would land on an input or on each other
    (*more*: the other outputs by option, ``check_json=`` for --check-json); both are
    kept for --charts to check its files against (:func:`draw_charts`)."""
    named = [(o, option) for o, option in ((output, "--output"), *(
        (v, "--" + k.replace("_", "-")) for k, v in more.items())) if o is not None and o != "-"]
    _guard(inputs, named)


def guard_targets(inputs: Sequence[str], targets: Sequence[Target], *, reports: bool = True,
                  **more: str | None) -> None:
    """:func:`guard_outputs` for the files of several -o (:func:`output_targets`); none
    may be named as a process file when they are *reports* (a report over a sibling
    process)."""
    named = [(o, "--output") for o, _ in targets if o is not None and o != "-"]
    named += [(v, "--" + k.replace("_", "-")) for k, v in more.items()
              if v is not None and v != "-"]
    _guard(inputs, named)  # first: onto an input is the graver mistake, said as such
    for target, _ in targets:
        if reports and target is not None and target != "-":
            refuse_process_name(target, "a report", "results.json")


def refuse_process_name(target: str, what: str, example: str) -> None:
    """An output named like a process file (.yaml, .yml) would one day land on one."""
    if os.path.splitext(target)[1].lower() in (".yaml", ".yml"):
        raise click.BadParameter(f"{shown(target)} is named as a process file, not {what}: "
                                 f"give a name ending in the format, e.g. {example}",
                                 param_hint="--output")


def _guard(inputs: Sequence[str], named: list[tuple[str, str]]) -> None:
    outputs = [o for o, _ in named]
    for k, (target, option) in enumerate(named):
        refuse_overwrite(target, inputs, outputs[:k], option)
    context = click.get_current_context(silent=True)
    if context is not None:
        context.meta[GUARDED] = (*inputs, *outputs)


#: Where :func:`guard_outputs` leaves the command's inputs and outputs (click's context).
GUARDED = "salesproc.guarded"


def guard_charts(folder: str | None) -> None:
    """Refuse, before any work, a --charts folder that is a file."""
    if folder is not None and os.path.exists(folder) and not os.path.isdir(folder):
        raise click.BadParameter(f"{folder} is a file, not a folder", param_hint="--charts")


def draw_charts(kind: str, result: Any, folder: str | None) -> list[Any]:
    """--charts DIR: every chart of the result, each checked before anything is written:
    DIR/NAME.svg and DIR/NAME.png may not be a file the command reads or writes (an
    export named pipeline.svg, or -o DIR/forecast.svg)."""
    if folder is None:
        return []
    from salesproc import charts

    drawn: list[Any] = getattr(charts, kind)(result.to_dict())
    guarded = click.get_current_context().meta.get(GUARDED, ())
    for chart in drawn:
        for suffix in (".svg", ".png"):
            target = os.path.join(folder, chart.name + suffix)
            if any(same_file(target, path) for path in guarded):
                raise click.BadParameter(
                    f"the chart {target} would be written over a file this command reads "
                    "or writes; give --charts another folder", param_hint="--charts")
    return drawn


def save_charts(drawn: list[Any], folder: str | None) -> None:
    """The charts :func:`draw_charts` drew, written to *folder*."""
    if folder is None:
        return
    from salesproc import charts

    if not drawn:  # e.g. a comparison of one replication: no difference to draw
        echo(f"no charts written to {folder}: these results have nothing to draw", err=True)
        return
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise Failure(f"cannot make the folder {folder}: {exc.strerror or exc}") from None
    charts.save(drawn, folder)
    names = ", ".join(c.name for c in drawn)
    echo(f"wrote {len(drawn)} charts to {folder} (SVG and PNG): {names}", err=True)


def formatter(fmt: str) -> Any:
    """The report module for a --format: table (text), json, csv or html."""
    from salesproc.report import csv, html, json, text

    return {"table": text, "json": json, "csv": csv, "html": html}[fmt]


def output_targets(outputs: Sequence[str], fmt: str, formats: Sequence[str]
                   ) -> list[Target]:
    """Where a result goes and in which format: one -o (or none, the terminal) in
    --format, or, without --format, in the format its name ends with (--format's default
    where the name says none of *formats*, the command's); several -o, one file each in the
    format its name says (the result is made once), and then no --format."""
    told = click.get_current_context().get_parameter_source("fmt") is not ParameterSource.DEFAULT
    if len(outputs) <= 1:
        output = outputs[0] if outputs else None
        if output not in (None, "-") and not told:
            named = SUFFIXES.get(os.path.splitext(output)[1].lower())
            if named is not None and named in formats:
                fmt = named
        if fmt == "xlsx" and output in (None, "-"):
            raise click.UsageError("--format xlsx writes a workbook, not terminal text: give "
                                   "-o FILE.xlsx")
        return [(output, fmt)]
    endings = ", ".join(end for end, kind in SUFFIXES.items() if kind in formats)
    if told:
        raise click.UsageError(f"give --format with one -o, or several -o whose names say "
                               f"their formats ({endings}), not both")
    out: list[Target] = []
    for output in outputs:
        kind = SUFFIXES.get(os.path.splitext(output)[1].lower(), "")
        if kind not in formats or output == "-":
            raise click.UsageError(f"-o {shown(output)}: with several -o, each file's name "
                                   f"ends with its format: {endings}")
        out.append((output, kind))
    return out


def emit_result(kind: str, result: Any, targets: Sequence[Target],
                charts_dir: str | None) -> None:
    """A result in each of its *targets* (kind names the report function), then its
    --charts (drawn and checked first: a chart may not land on an output or an input)."""
    drawn = draw_charts(kind, result, charts_dir)
    for output, fmt in targets:
        emit(getattr(formatter(fmt), kind)(result), output)
    save_charts(drawn, charts_dir)


@contextlib.contextmanager
def progress_bar() -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr for the library's *progress* callback (done, in all): only
    on a terminal, and only for runs of 4 replications or more; it appears at the first
    replication done."""
    if not sys.stderr.isatty():
        yield None
        return
    with contextlib.ExitStack() as stack:
        bar: list[Any] = []
        shown = [0]

        def update(done: int, total: int) -> None:
            if not bar:
                if total < 4:
                    return
                bar.append(stack.enter_context(click.progressbar(
                    length=total, label="simulating", file=sys.stderr)))
            bar[0].update(done - shown[0])
            shown[0] = done

        yield update
