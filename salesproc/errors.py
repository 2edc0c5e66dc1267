"""Typed errors. The library raises these; only the CLI prints them and picks exit codes."""

from __future__ import annotations

from collections.abc import Sequence

from salesproc.diagnostics import Diagnostic


class SalesprocError(Exception):
    """Base of every error salesproc raises on purpose (bad input, missing tool)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InvalidProcessError(SalesprocError):
    """A process file has errors; :attr:`diagnostics` says where and what."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        errors = [d for d in self.diagnostics if d.is_error]
        first = errors[0] if errors else None
        where = f"{first.file}:{first.line}:{first.column}: {first.message}" if first else ""
        super().__init__(f"{len(errors)} error(s) in process file; first: {where}")


class ToolMissingError(SalesprocError):
    """A system program (such as Graphviz's `dot`) is needed and not installed."""
