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


@pytest.fixture
def five_step() -> Path:
    return ROOT / "processes" / "five-step.yaml"
