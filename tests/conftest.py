"""Shared helpers: run the CLI in-process, find the example and case files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from salesproc.cli import cli

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = sorted((ROOT / "processes").glob("*.yaml"))
CASES = Path(__file__).resolve().parent / "cases"

# pytest-xdist already keeps every core busy: a command's own pool of workers would only
# add its start-up to every test (the tests that are about workers say how many)
os.environ.setdefault("SALESPROC_WORKERS", "1")


def run(*args: str, input: str | None = None) -> Result:
    """Invoke `salesproc ARGS` the way a user would, exceptions not swallowed."""
    runner = CliRunner()
    return runner.invoke(cli, list(args), input=input, catch_exceptions=False)


def dense_process(path: Path, stages: int, share: float) -> Path:
    """A process of *stages* stages each routed to every other with *share* (and to won
    with 0.05): n (n - 1) + n arrows, what Graphviz lays out slowest; written at *path*."""
    lines = "\n".join(
        f"  - {{id: s{i}, name: Stage {i}, owner: r, work: 0.1, next: "
        f"{{{', '.join(f's{t}: {share}' for t in range(stages) if t != i)}, won: 0.05}}}}"
        for i in range(stages))
    path.write_text("salesproc: 1\nname: Dense\nroles: {r: {title: R, headcount: 50}}\n"
                    f"stages:\n{lines}\nbuyer_types: {{b: {{name: B, share: 1, value: 1}}}}\n"
                    "arrivals: {rate: 1}\n")
    return path


@pytest.fixture
def five_step() -> Path:
    return ROOT / "processes" / "five-step.yaml"
