"""The one entry point from a file to a model: read, schema check, lint, build.

Every command goes through :func:`check` (report all findings) or :func:`load`
(a ready :class:`~salesproc.process.model.Process`, or an :class:`InvalidProcessError`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from salesproc.core.diagnostics import Diagnostic, make
from salesproc.core.errors import InvalidProcessError
from salesproc.process import lint, model, schema, variants, yamlio
from salesproc.process.model import Process

PROCESS_SUFFIXES = (".yaml", ".yml")
PSEUDO_FILES = (variants.COMMAND_LINE, variants.CHANGES)  # where changes are said to be


@dataclass
class CheckResult:
    """What checking one file found; :attr:`process` is set when there is no error."""

    file: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    process: Process | None = None

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


@dataclass(frozen=True)
class Checked:
    """The resolved document a Process was built from: the process's :class:`model.Origin`,
    which changes it in memory (:func:`variants.apply_changes`) and checks it again as a
    file is checked. Nothing is read again or written."""

    doc: yamlio.Document = field(repr=False)

    def with_changes(self, changes: variants.Changes) -> Process:
        result = check_document(variants.apply_changes(self.doc, changes))
        if result.process is None:
            raise InvalidProcessError(result.diagnostics)
        return result.process


def check_document(doc: yamlio.Document) -> CheckResult:
    """Every finding for a loaded (and resolved) document, and its Process when there is
    no error."""
    found = list(doc.findings)
    found += schema.check(doc)
    if any(d.is_error for d in found):
        return CheckResult(doc.file, _sorted(found))
    found += lint.references(doc)
    if any(d.is_error for d in found):
        return CheckResult(doc.file, _sorted(found))
    read = tuple(dict.fromkeys([doc.file, *doc.files.values()]))
    process = model.build(doc.data, doc.file, tuple(f for f in read if f not in PSEUDO_FILES),
                          origin=Checked(doc))
    found += lint.flow(process, doc)
    if any(d.is_error for d in found):
        return CheckResult(doc.file, _sorted(found))
    return CheckResult(doc.file, _sorted(found), process)


def check(path: str | os.PathLike[str], settings: Sequence[str] = ()) -> CheckResult:
    """All findings for one process file (never raises for bad input).

    A variant file (with `extends:`) is checked as the process it makes; *settings* are
    `--set PATH=VALUE` changes applied on top, reported against '<command line>'.
    """
    try:
        doc = variants.apply_changes(variants.resolve(yamlio.load_file(path)), settings)
    except InvalidProcessError as exc:
        return CheckResult(os.fspath(path), _sorted(exc.diagnostics))
    return check_document(doc)


def check_text(text: str, name: str = "<string>") -> CheckResult:
    """Like check, for process text that is not in a file (name: how findings refer to it)."""
    try:
        doc = variants.resolve(yamlio.load_text(text, name))
    except InvalidProcessError as exc:
        return CheckResult(name, exc.diagnostics)
    return check_document(doc)


def load(path: str | os.PathLike[str], settings: Sequence[str] = ()) -> Process:
    """The process in *path*; raises :class:`InvalidProcessError` if it has errors."""
    result = check(path, settings)
    if result.process is None:
        raise InvalidProcessError(result.diagnostics)
    return result.process


def _sorted(found: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(found, key=Diagnostic.sort_key)


def discover(paths: Iterable[str | os.PathLike[str]]) -> Iterator[str | Diagnostic]:
    """Process files named by *paths*: files as given, folders searched for *.yaml / *.yml.

    A path that does not exist yields an SP001 diagnostic instead of a file name.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in PROCESS_SUFFIXES
                           and p.is_file() and not any(part.startswith(".")
                                                       for part in p.relative_to(path).parts))
            yield from (str(p) for p in found)
        elif path.exists():
            yield str(path)
        else:
            yield make("SP001", "no such file or folder", file=str(path),
                       hint="check the path and its spelling")
