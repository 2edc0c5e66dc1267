"""The version of salesproc: one place, read by the package, the results and setup.cfg."""

__version__ = "0.1.0"
