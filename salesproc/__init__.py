"""salesproc: sales processes as YAML files in git, validated, drawn and simulated.

The library API (the command line is a thin layer over it)::

    import salesproc
    result = salesproc.check("processes/five-step.yaml")   # all findings, never raises
    process = salesproc.load("processes/five-step.yaml")   # a Process, or InvalidProcessError
    result = salesproc.simulate(process, replications=10)  # imports the simulator only when used
    result["all", "won"]                                   # Estimate(mean, low, high, n)
    result.to_frame()                                      # every figure, as a DataFrame
    history = salesproc.read_history(["OpportunityHistory.csv"], process)  # CRM exports
    salesproc.measure(history).to_dict()                   # the real pipeline, measured
    salesproc.forecast(history, horizon="13w")             # wins and revenue ahead

See docs/python.md for a walk-through.
"""

from salesproc.api import (
    backtest,
    breakdown,
    calibrate,
    check_fit,
    compare,
    executor,
    forecast,
    measure,
    plan,
    read_history,
    review,
    simulate,
    sweep,
)
from salesproc.core.diagnostics import Diagnostic, Severity
from salesproc.core.errors import InvalidProcessError, SalesprocError, ToolMissingError
from salesproc.core.stats import Estimate
from salesproc.process.loader import CheckResult, check, check_text, load
from salesproc.process.model import Process, Settings
from salesproc.version import __version__

__all__ = [
    "CheckResult",
    "Diagnostic",
    "Estimate",
    "InvalidProcessError",
    "Process",
    "SalesprocError",
    "Settings",
    "Severity",
    "ToolMissingError",
    "__version__",
    "backtest",
    "breakdown",
    "calibrate",
    "check",
    "check_fit",
    "check_text",
    "compare",
    "executor",
    "forecast",
    "load",
    "measure",
    "plan",
    "read_history",
    "review",
    "simulate",
    "sweep",
]
