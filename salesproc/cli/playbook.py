"""`salesproc playbook`: the onboarding guide for new reps."""

from __future__ import annotations

import click

from salesproc.cli.app import cli
from salesproc.cli.reading import load_or_fail
from salesproc.cli.writing import emit, guard_outputs


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
    guard_outputs(process.files, output)
    emit((to_html if fmt == "html" else to_markdown)(process, process_file), output)
