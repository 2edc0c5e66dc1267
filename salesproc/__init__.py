"""salesproc: sales processes as YAML files in git, validated, drawn and simulated.

The library API (the CLI is a thin layer over it)::

    import salesproc
    result = salesproc.check("processes/five-step.yaml")   # all findings, never raises
    process = salesproc.load("processes/five-step.yaml")   # a Process, or InvalidProcessError
    result = salesproc.simulate(process, replications=10)  # imports SimPy only when used
    result["all", "won"]                                   # Estimate(mean, low, high, n)
"""

from typing import Any

from salesproc.diagnostics import Diagnostic, Severity
from salesproc.errors import InvalidProcessError, SalesprocError, ToolMissingError
from salesproc.loader import CheckResult, check, check_text, load
from salesproc.model import Process

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """`salesproc.simulate` without importing SimPy and numpy for `validate`."""
    if name == "simulate":
        from salesproc.sim.experiment import simulate_process

        return simulate_process
    raise AttributeError(f"module 'salesproc' has no attribute {name!r}")


__all__ = [
    "CheckResult",
    "Diagnostic",
    "InvalidProcessError",
    "Process",
    "SalesprocError",
    "Severity",
    "ToolMissingError",
    "__version__",
    "check",
    "check_text",
    "load",
    "simulate",
]
