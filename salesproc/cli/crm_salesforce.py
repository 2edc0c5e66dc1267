"""`salesproc export salesforce` and `salesproc import salesforce`: a process as SFDX
source for an admin to deploy, and Salesforce metadata read back into a process file."""

from __future__ import annotations

from pathlib import Path

import click

from salesproc.cli.app import Failure, echo
from salesproc.cli.crm_groups import export, import_
from salesproc.cli.reading import load_or_fail
from salesproc.core.diagnostics import shown


@export.command("salesforce")
@click.argument("process_file", metavar="PROCESS", type=click.Path(path_type=str))
@click.option("-o", "--output", "folder", required=True,
              type=click.Path(file_okay=False, path_type=str),
              help="The SFDX package folder to write into (e.g. force-app/main/default).")
@click.option("--force", is_flag=True, help="Overwrite metadata files that exist and differ.")
def export_salesforce(process_file: str, folder: str, force: bool) -> None:
    """Write PROCESS as Salesforce metadata: the Opportunity stages with their chance to
    win, a sales process, record type and Path per buyer type, and validation rules for
    required information; then list what the metadata cannot hold."""
    from salesproc.core.outputs import write_atomic
    from salesproc.crm_metadata.salesforce_export import to_salesforce

    process = load_or_fail(process_file)
    result = to_salesforce(process)
    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise Failure(f"{shown(folder)} is a file, not a folder; nothing was written")
    changed = [rel for rel, text in result.files.items() if (root / rel).exists()
               and _differs(root / rel, text)]
    if changed and not force:
        raise Failure(f"{len(changed)} of the files exist in {shown(folder)} with other "
                      f"content, e.g. {shown(changed[0])}; nothing was written",
                      hint="add --force to overwrite them (commit them first, to see what "
                      "changes), or write into an empty folder")
    for rel, text in result.files.items():
        target = root / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise Failure(f"cannot create {shown(str(target.parent))}: {exc.strerror}") from None
        write_atomic(target, text)
    lines = [f"wrote {len(result.files)} metadata files to {folder} (SFDX source; deploy "
             f"with: sf project deploy start --source-dir {folder}):"]
    lines += [f"  {rel}" for rel in result.files]
    lines.append("Not in the metadata (Salesforce has no place for it):")
    lines += [f"  - {item}" if not item.startswith("  ") else f"    {item.strip()}"
              for item in result.not_expressed]
    echo("\n".join(lines))


@import_.command("salesforce")
@click.argument("folder", metavar="DIR", type=click.Path(path_type=str))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="The process file to write (e.g. processes/from-salesforce.yaml).")
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
def import_salesforce(folder: str, output: str, force: bool) -> None:
    """Read the Salesforce metadata under DIR (SFDX or Metadata API source: the Opportunity
    stage set, record types, business processes, Paths, validation rules) into a process
    file, and list what it could not carry over."""
    from salesproc.core.outputs import write_atomic
    from salesproc.crm_metadata.salesforce_import import from_salesforce

    target = Path(output)
    if target.exists() and not force:
        raise Failure(f"{shown(output)} already exists; nothing was written",
                      hint="choose another name, or add --force to overwrite it")
    result = from_salesforce(folder)
    write_atomic(target, result.text)
    lines = [f"wrote {output}: a process from the Salesforce metadata in {folder}. Its "
             "routes are starting points made from Salesforce's probabilities; owners, "
             "times, shares and deal values are placeholders to replace."]
    if result.not_carried:
        lines.append("Not carried over (also listed at the top of the file):")
        lines += [f"  - {item}" for item in result.not_carried]
    lines.append(f"next: salesproc validate {output}")
    echo("\n".join(lines))


def _differs(path: Path, text: str) -> bool:
    try:
        return path.read_text("utf-8") != text
    except (OSError, UnicodeError):
        return True


__all__ = ["export_salesforce", "import_salesforce"]
