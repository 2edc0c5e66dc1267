"""The `export` and `import` command groups: a process out to a CRM's own configuration
and back. Each CRM's module adds its commands to them (`export salesforce`, ...)."""

from __future__ import annotations

from salesproc.cli.app import cli


@cli.group("export")
def export() -> None:
    """Write a process as a CRM's own configuration: Salesforce metadata, HubSpot's deal
    pipelines."""


@cli.group("import")
def import_() -> None:
    """Read a CRM's own configuration (Salesforce metadata, HubSpot's deal pipelines)
    into a process file."""
