"""`salesproc render`: the process as a flowchart, or coloured by a simulation's results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from salesproc.cli.app import Failure, cli, echo
from salesproc.cli.reading import load_or_fail, read_json
from salesproc.cli.writing import emit_file, guard_outputs, refuse_process_name
from salesproc.core.diagnostics import shown
from salesproc.core.errors import SalesprocError
from salesproc.process.model import Process


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
    _guard_output(process, output)
    if results_file is not None:
        _render_results(process, process_file, results_file, fmt, output, direction,
                        buyer, combined)
        return
    if buyer is not None:
        from salesproc.experiments.experiment import check_buyer

        check_buyer(process, buyer)  # a usage error on --buyer, as in every command
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
            comment = "%%" if fmt == "mermaid" else "//"  # each language's own
            texts.append(content if single else f"{comment} buyer type: {name}\n{content!s}")
        else:
            emit_file(target, content, process.files)
    if texts:
        echo("\n".join(str(t) for t in texts), nl=False)


def _render_results(process: Process, process_file: str, results_file: str, fmt: str,
                    output: str | None, direction: str, buyer: str | None,
                    combined: bool) -> None:
    """render --results: one drawing, of what the simulation covered."""
    from salesproc.drawing import results_dot
    from salesproc.drawing.results import simulated_buyer

    if fmt == "mermaid":
        raise click.BadParameter("results are drawn with Graphviz: use svg, png, pdf or dot",
                                 param_hint="--format")
    data = read_json(results_file)
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
    emit_file(output, content, [*process.files, results_file])


def _guard_output(process: Process, output: str | None) -> None:
    """-o is never the process file, nor any YAML file: with one drawing per buyer type,
    the buyer id is added to -o's name, and 'sales.yaml' made 'sales.committee.yaml' (a
    sibling process file, overwritten by an image)."""
    if output is None or output == "-":
        return
    guard_outputs(process.files, output)
    refuse_process_name(output, "a drawing", "flow.svg")


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
