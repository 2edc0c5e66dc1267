"""The `salesproc` command: a thin click layer over the library, one module per command.

Exit codes: 0 clean (warnings allowed unless --strict), 1 findings or bad input,
2 usage error, 3 internal error (a bug in salesproc).

``app`` holds the group and the mapping of errors to exit codes; ``options`` the option
types every command shares; ``reading`` how a command reads a process or an export
(findings and notes on stderr); ``writing`` where results go (the terminal, ``-o``,
``--charts``), never onto an input.
"""

from __future__ import annotations

import signal

from salesproc.cli import (  # noqa: F401  (each module adds its commands to the group)
    backtest,
    calibrate,
    compare,
    crm_hubspot,
    crm_salesforce,
    forecast,
    init,
    measure,
    plan,
    playbook,
    pull,
    render,
    review,
    simulate,
    validate,
)
from salesproc.cli.app import cli, terminate

__all__ = ["cli", "main"]


def main() -> None:
    """Console entry point (`salesproc` and `python -m salesproc`)."""
    signal.signal(signal.SIGTERM, terminate)
    cli(prog_name="salesproc")
