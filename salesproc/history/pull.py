"""Pulling deal history through a CRM's API (`salesproc pull`): the files an export of
the CRM gives, so that every reader and command takes them as it takes an export.

What both CRMs share lives here: how long to wait on a busy or failing API
(:class:`Patience`, :func:`patiently`), the CSV files a pull writes (read back, merged
with the changes an incremental pull fetched, written all or nothing) and the latest
change a folder already holds. Each CRM's own module (history/pull_salesforce.py,
history/pull_hubspot.py) talks to it through the CRM's own client library, imported
only when a pull runs: the libraries are the optional extra ``salesproc[crm]``.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import email.utils
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from salesproc.core.errors import SalesprocError
from salesproc.core.outputs import atomic_open
from salesproc.history.mapping import Mapping
from salesproc.process.model import Process

T = TypeVar("T")

#: How to install the client libraries a pull needs.
INSTALL = "pip install 'salesproc[crm]'"


class PullError(SalesprocError):
    """A pull that cannot go on (credentials refused, the API failing, a folder that is
    not a pull's): nothing was written."""


class Refused(PullError):
    """A request the CRM refused for good (a 4xx other than 401 and 429): *status* says
    how, for a caller that can go on without it."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status

    def __reduce__(self) -> tuple[type, tuple[str, int | None]]:  # type: ignore[override]
        return (self.__class__, (self.message, self.status))


def missing_client(library: str) -> PullError:
    """The error for a client library that is not installed."""
    return PullError(f"pulling from the CRM needs the {library} library, which is not "
                     "installed", hint=f"install it with: {INSTALL}")


@dataclass(frozen=True)
class Patience:
    """How long a pull waits on a CRM that is busy or failing, before it gives up.

    A request the API refuses for its rate limit (HTTP 429) is tried again after the wait
    its ``Retry-After`` asks for (or the backoff, without one), *rate_tries* times in
    all; one that fails on the server's side (5xx) or gets no answer, *tries* times in
    all, after *first_wait* seconds, doubled each time (or what a 503's Retry-After asks
    for, up to *longest_wait*). A rate limit that asks for a wait longer than
    *longest_wait* is not waited: the pull stops and says to try again later. *wait* is
    what waits (the tests give one that does not sleep).
    """

    tries: int = 3
    rate_tries: int = 8
    first_wait: float = 1.0
    longest_wait: float = 120.0
    wait: Callable[[float], None] = lambda seconds: time.sleep(seconds)


@dataclass(frozen=True)
class Refusal:
    """What a failed request said: its HTTP status (None: no answer at all), the
    ``Retry-After`` it came with, and its own words."""

    status: int | None
    retry_after: str | None
    detail: str


@dataclass(frozen=True)
class Api:
    """One CRM's API as :func:`patiently` sees it: its name, how to read a client
    library's exception (None: not a failed request), and what to say about
    credentials when the API refuses them."""

    name: str
    refusal: Callable[[Exception], Refusal | None]
    credentials: str


def patiently(request: Callable[[], T], what: str, api: Api, patience: Patience) -> T:
    """*request*'s answer, tried again while the API is rate-limited or failing (as
    *patience* allows); a kind :class:`PullError` once it has refused for good. *what*
    says what was asked for (in the error)."""
    rated = failed = 0
    while True:
        try:
            return request()
        except Exception as exc:
            said = api.refusal(exc)
            if said is None:
                raise
        if said.status == 401:
            raise PullError(f"{api.name} refused the credentials ({what}: {said.detail})",
                            hint=api.credentials) from None
        if said.status == 429:
            rated += 1
            pause = _retry_after(said.retry_after, patience.first_wait * 2 ** (rated - 1))
            if rated >= patience.rate_tries or pause > patience.longest_wait:
                raise PullError(f"{api.name} is rate-limiting the pull ({what}: still refused "
                                f"after {rated} tries, asked to wait {pause:g} s); nothing was "
                                "written", hint="try again later; a pull into the same folder "
                                "then fetches only what changed") from None
        elif said.status is None or said.status >= 500:
            failed += 1
            pause = min(_retry_after(said.retry_after, patience.first_wait * 2 ** (failed - 1)),
                        patience.longest_wait)
            if failed >= patience.tries:
                answer = "gave no answer" if said.status is None else f"answered {said.status}"
                raise PullError(f"{api.name} {answer} {failed} times ({what}: {said.detail}); "
                                "nothing was written", hint="the CRM may be down or "
                                "unreachable: try again later") from None
        else:
            raise Refused(f"{api.name} refused the request ({what}): {said.status} "
                          f"{said.detail}", said.status) from None
        patience.wait(pause)


def _retry_after(header: str | None, otherwise: float) -> float:
    """The seconds a ``Retry-After`` header asks for (a number, or an HTTP date)."""
    if not header:
        return otherwise
    with contextlib.suppress(ValueError):
        return max(0.0, float(header))
    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(header)
        return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())
    return otherwise


@contextlib.contextmanager
def as_documented(crm: str) -> Iterator[None]:
    """Reading a CRM's answers: one that lacks what its API documents (a field missing,
    null where a list should be) is a kind error, not a crash."""
    try:
        yield
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise PullError(f"{crm}'s answer is not what its API documents "
                        f"({type(exc).__name__}: {str(exc)[:200]}); nothing was written",
                        hint="a proxy between salesproc and the CRM may have changed it; "
                        "if not, please report it") from None


@dataclass
class Table:
    """One CSV file of a pull: its header and rows (text, "" for no value), and the
    column that names a row (a record's id: an incremental pull's rows replace those
    of the same id)."""

    name: str
    header: list[str]
    rows: list[list[str]]
    key: str

    def merged_into(self, old: Table | None) -> Table:
        """The rows of *old* (what the folder held) with this pull's rows over those of
        the same key, and its new rows after them; the columns of both."""
        if old is None:
            return self
        header = [*old.header, *[c for c in self.header if c not in old.header]]
        at = header.index(self.key)
        rows = [_widened(row, old.header, header) for row in old.rows]
        placed = {row[at]: k for k, row in enumerate(rows)}
        for row in self.rows:
            wide = _widened(row, self.header, header)
            if wide[at] in placed:
                rows[placed[wide[at]]] = wide
            else:
                placed[wide[at]] = len(rows)
                rows.append(wide)
        return Table(self.name, header, rows, self.key)


def _widened(row: Sequence[str], columns: Sequence[str], header: Sequence[str]) -> list[str]:
    values = dict(zip(columns, row, strict=False))
    return [values.get(c, "") for c in header]


def read_table(folder: str, name: str, key: str) -> Table | None:
    """The file *name* in *folder* as a pull wrote it (None when there is none); a file
    without the *key* column is no pull's, and is not merged into."""
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        return None
    _allow_long_fields()
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            lines = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PullError(f"cannot read {path} to add the changes to it: {exc}",
                        hint="pull into another folder") from None
    if not lines or key not in lines[0]:
        raise PullError(f"{path} has no {key} column: it is not a file a pull wrote, and "
                        "is left as it is", hint="pull into another folder")
    return Table(name, lines[0], [r for r in lines[1:] if r], key)


def _allow_long_fields() -> None:
    """Long descriptions in a CRM's fields: the csv module's limit (128 KB) raised."""
    with contextlib.suppress(OverflowError):
        csv.field_size_limit(sys.maxsize)


def latest(table: Table | None, column: str) -> dt.datetime | None:
    """The latest time in *column* of *table* (ISO 8601 text, UTC): where an incremental
    pull starts. None when there is no such column or time."""
    if table is None or column not in table.header:
        return None
    at = table.header.index(column)
    times = [t for row in table.rows if (t := parse_time(row[at] if at < len(row) else ""))]
    return max(times, default=None)


def resume_from(table: Table | None, column: str, folder: str) -> dt.datetime | None:
    """Where an incremental pull into *folder* starts: the latest *column* of the file a
    pull wrote there (None: nothing there, everything is fetched). A file without such a
    time is no pull's: an error, so that nothing of the user's is merged into unasked."""
    if table is None:
        return None
    since = latest(table, column)
    if since is None:
        raise PullError(f"{folder} holds {table.name} without {column}: not a pull's, so "
                        "there is no telling what changed since", hint="give the day to "
                        "start from (what changed since then is added to the file), or pull "
                        "into another folder")
    return since


def in_utc(when: dt.datetime | None) -> dt.datetime | None:
    """*when* in UTC, as the CRMs' APIs keep time (a time without a zone is taken to be
    in UTC already)."""
    if when is None:
        return None
    return when.replace(tzinfo=dt.timezone.utc) if when.tzinfo is None else \
        when.astimezone(dt.timezone.utc)


def parse_time(text: str) -> dt.datetime | None:
    """An ISO 8601 time as the APIs write it (``2026-01-05T03:10:42.000+0000``, ``...Z``),
    in UTC; None for anything else."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc)


def write_tables(folder: str, tables: Iterable[Table]) -> list[str]:
    """Every table written into *folder* (made if needed), each to a temporary file first:
    none replaces what the folder held until all are written. The paths written."""
    tables = list(tables)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise PullError(f"cannot make the folder {folder}: {exc.strerror or exc}") from None
    paths = [os.path.join(folder, t.name) for t in tables]
    with contextlib.ExitStack() as files:
        for table, path in zip(tables, paths, strict=True):
            writer = csv.writer(files.enter_context(atomic_open(path)), quoting=csv.QUOTE_ALL,
                                lineterminator="\n")
            writer.writerow(table.header)
            writer.writerows(table.rows)
    return paths


@dataclass
class Pulled:
    """What a pull fetched and wrote: records fetched per file, the time it started from
    (None: everything), the files written, and what it could not fetch but went on
    without (notes to show)."""

    fetched: dict[str, int] = field(default_factory=dict)
    since: dt.datetime | None = None
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def named_fields(process: Process | None) -> list[str]:
    """The deal fields a process's `crm:` section reads (its buyer-type rules, loss
    reason and deal fields): a pull fetches them beside the reader's own."""
    return [] if process is None else Mapping(process).rule_fields()
