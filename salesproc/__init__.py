"""salesproc: sales processes as YAML files in git, validated, drawn and simulated.

The library API (the CLI is a thin layer over it)::

    import salesproc
    result = salesproc.check("processes/five-step.yaml")   # all findings, never raises
    process = salesproc.load("processes/five-step.yaml")   # a Process, or InvalidProcessError
"""

from salesproc.diagnostics import Diagnostic, Severity
from salesproc.errors import InvalidProcessError, SalesprocError, ToolMissingError
from salesproc.loader import CheckResult, check, check_text, load
from salesproc.model import Process

__version__ = "0.1.0"

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
]
