"""Typed errors. The library raises these; only the CLI prints them and picks exit codes."""

from __future__ import annotations

from collections.abc import Sequence

from salesproc.core.diagnostics import Diagnostic


class SalesprocError(Exception):
    """Base of every error salesproc raises on purpose (bad input, missing tool)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __reduce__(self) -> tuple[type, tuple[str, str | None]]:
        """Errors raised in a worker process reach the parent whole, hint included."""
        return (self.__class__, (self.message, self.hint))


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


class SettingsError(SalesprocError):
    """A run setting given by the caller is out of range; *setting* names it
    ('horizon', 'warmup', 'replications', 'workers', 'buyer') so a front end can point at
    the option it came from."""

    def __init__(self, setting: str, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.setting = setting

    def __reduce__(self) -> tuple[type, tuple[str, str, str | None]]:  # type: ignore[override]
        return (self.__class__, (self.setting, self.message, self.hint))
