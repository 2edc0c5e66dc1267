"""`read_history`: CRM exports in, one :class:`~salesproc.history.table.History` out.

Which reader reads a file is told by its columns (or by *format*): Salesforce
OpportunityHistory (with or without Opportunity), HubSpot deals, a generic stage-change
CSV, or salesproc's own event log. Several files of one CRM are read as one history
(Salesforce's User export among them names the deals' owners). A
table of one row per deal without stage history (Opportunity.csv alone, HubSpot deals
without `Date entered` columns, a generic deal table) is read as a deal table
(history/dealtable.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator, Sequence
from typing import Any, cast, get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from salesproc.core.defaults import CRM_FORMATS, CrmFormat
from salesproc.core.diagnostics import shown
from salesproc.core.units import plural
from salesproc.history import dealtable, events, generic, hubspot, quality, salesforce
from salesproc.history.assemble import Reading
from salesproc.history.csvfile import CsvFile, Export
from salesproc.history.frame import FrameExport, is_frame
from salesproc.history.mapping import LOSS_REASON_COLUMNS, Mapping, _yaml_key
from salesproc.history.notes import HistoryError, Note, Notebook
from salesproc.history.table import DEAL_TABLE, OUTCOME_LOST, STAGE_HISTORY, History
from salesproc.process.model import Process

Format = CrmFormat
#: An export: a file's path, or a pandas DataFrame (typed Any: pandas is optional).
Source = str | os.PathLike[str] | Any
FORMATS: tuple[Format, ...] = CRM_FORMATS
TABLE_LABEL = "deal table"


def read_history(paths: Source | Sequence[Source], process: Process, *,
                 format: Format | None = None, as_of: dt.date | dt.datetime | None = None,
                 today: dt.date | None = None, name: str = "DataFrame") -> History:
    """The deal history in *paths* (CRM export files, or pandas DataFrames of the same
    columns), mapped onto *process* by its `crm:` section, as it stood at *as_of*
    (default: the latest change in the export).

    A DataFrame is read as the CSV file it would write (history/frame.py), by the same
    readers and rules; notes call it ``<name>`` (``<name 2>``, … for several) and point
    at its rows by index label.

    Raises :class:`~salesproc.history.notes.HistoryError` when the files cannot be used at
    all; everything else that was wrong is in the result's ``notes``, with file and row.
    *today* (default: the machine's date) is when dates start being in the future.
    """
    sources = [paths] if isinstance(paths, str | os.PathLike) or is_frame(paths) else \
        list(cast(Sequence[Source], paths))
    if not sources:
        raise ValueError("read_history needs at least one file")
    if format is not None and format not in get_args(Format):
        raise ValueError(f"format {str(format)[:40]!r} is none of: "
                         f"{', '.join(get_args(Format))}")
    frames = [s for s in sources if is_frame(s)]
    with returning_memory():
        files: list[Export] = [
            FrameExport(s, name if len(frames) == 1 else
                        f"{name} {next(k for k, f in enumerate(frames, 1) if f is s)}", "CSV")
            if is_frame(s) else CsvFile(os.fspath(cast(str, s)), "CSV") for s in sources]
        return _read(files, process, format, as_of, today)


@contextlib.contextmanager
def returning_memory() -> Iterator[None]:
    """Arrow memory from jemalloc with no decay while exports are read: blocks of text
    freed after parsing go back to the system at once, instead of staying with the
    allocator (which can double the peak memory of a large export). The caller's memory
    pool is restored afterwards; where jemalloc is not built in, nothing changes."""
    before = pa.default_memory_pool()
    try:
        pool = pa.jemalloc_memory_pool()
        pa.jemalloc_set_decay_ms(0)
    except (NotImplementedError, pa.ArrowException):
        yield
        return
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(before)


def _read(files: list[Export], process: Process, format: Format | None,
          as_of: dt.date | dt.datetime | None, today: dt.date | None) -> History:
    reading = Reading(Mapping(process), Notebook(), today or dt.date.today())
    users = [f for f in files if salesforce.is_users(f)]
    if users and len(users) == len(files):
        raise HistoryError([Note("SP802", "a User export alone has no deals", users[0].path,
                                 users[0].header_row, hint="give it with Opportunity.csv "
                                 "and OpportunityHistory.csv: it names their owners")])
    files = [f for f in files if f not in users]
    names = [f.path for f in files]
    kinds = [format_of(f, reading, format) for f in files]
    chosen = {k for k, _ in kinds}
    if len(chosen) > 1:
        raise HistoryError([Note("SP818", "these files come from different CRMs: "
                                 + ", ".join(f"{shown(f.path)} ({k})" for f, (k, _) in
                                             zip(files, kinds, strict=True)), files[0].path,
                                 hint="measure the exports of one CRM at a time")])
    kind = chosen.pop()
    for file, (_, label) in zip(files, kinds, strict=True):
        file.kind = label
    if users and kind != "salesforce":
        raise HistoryError([Note("SP818", f"a Salesforce User export was given with {kind} "
                                 "files", users[0].path,
                                 hint="it names Salesforce Opportunity owners only")])
    _check_columns(reading, files, kind)
    changes_file = deals_file = names[0]  # the files the history's changes and deals are in
    if kind == "salesforce":
        opportunities = [f for f, (_, label) in zip(files, kinds, strict=True)
                         if label == "Salesforce Opportunity"]
        if len(opportunities) > 1:
            raise HistoryError([Note("SP818", "two Opportunity exports were given",
                                     opportunities[1].path, hint="give one Opportunity.csv "
                                     "and its OpportunityHistory.csv")])
        histories = [f for f in files if f not in opportunities]
        table = not histories
        visits, deals = dealtable.read_salesforce(reading, opportunities[0]) if table else \
            salesforce.read(reading, histories, opportunities[0] if opportunities else None)
        if users:
            deals = salesforce.owner_names(reading, users, deals)
        changes_file = histories[0].path if histories else names[0]
        deals_file = opportunities[0].path if opportunities else changes_file
    elif kind == "hubspot":
        if len(files) > 1:
            raise HistoryError([Note("SP818", "give one HubSpot deals export at a time",
                                     files[1].path)])
        table = not hubspot.has_stage_dates(files[0], reading.mapping)
        visits, deals = hubspot.read(reading, files[0])
    elif kind == "events":
        table = False
        visits, deals = events.read(reading, files[0])
    else:
        table = _deal_table(files)
        visits, deals = dealtable.read_generic(reading, files) if table else \
            generic.read(reading, files)
    unmapped = _unmapped(reading, changes_file, table)
    notes = [n for n in reading.notes.all() if not unmapped or n.code != "SP830"]
    if len(deals) == 0 or (len(visits) == 0 and not table):
        raise HistoryError([Note("SP813", "no deal in the export can be measured", names[0],
                                 hint="see the notes above for what was left out"),
                            *unmapped, *notes])
    if unmapped:  # a table only by the mistake: its note would mislead
        raise HistoryError([*unmapped, *notes])
    latest = max(_latest(deals.created), _latest(visits.entered), _latest(deals.closed),
                 _latest(reading.values.at if reading.values is not None else deals.created))
    history = History(process, deals, visits, latest, tuple(names), values=reading.values,
                      kind=DEAL_TABLE if table else STAGE_HISTORY)
    if as_of is not None:
        cut = as_of if isinstance(as_of, dt.datetime) else \
            dt.datetime.combine(as_of, dt.time(23, 59, 59))
        if cut < latest:
            after = np.datetime64(cut, "s")
            later = int((visits.entered > after).sum() + (deals.closed > after).sum())
            values = int((reading.values.at > after).sum()) if reading.values is not None \
                else 0  # changes of amount, probability or close date, counted apart
            reading.notes.add("SP815", f"{later:,} stage changes "
                              + (f"and {values:,} changes of amount, probability or close "
                                 "date " if values else "")
                              + f"after the as-of date ({cut.date().isoformat()}) are left "
                              "out", changes_file)
            if table:
                reading.notes.add("SP832", "a deal table holds each deal's stage at its "
                                  "export only: the deals open at the as-of date are taken "
                                  "to be at the first stage of their path, and what the CRM "
                                  "said of them then (probability, close date, forecast "
                                  "category) is unknown", deals_file,
                                  hint="give the stage history too, or measure as of the export")
        history = history.at(cut)
        if len(history.deals) == 0:
            raise HistoryError([Note("SP813", f"no deal was created by the as-of date "
                                     f"({cut.date().isoformat()})", names[0],
                                     hint="give a later as-of date")])
    quality.check(history, deals_file, reading.notes)
    if kind != "events":
        _unused_reasons(reading, files, history, deals_file)
    return History(process, history.deals, history.visits, history.as_of, tuple(names),
                   reading.notes.all(), history.values, history.kind)


def _unmapped(reading: Reading, file: str, table: bool) -> list[Note]:
    """The error (SP850) where the crm: stages mapping is missing or wrong (most stage
    names read, or all but the outcomes', match no stage of the process), or none:
    measuring what is left would be a confident report of a few deals."""
    tally = reading.mapping.tally
    if not tally.mapping_wrong():
        return []
    what = "stage entries" if table else "stage changes"
    only = "; only the outcomes (won, lost) matched" if tally.stages == 0 else ""
    unknown = len(tally.names)
    names = plural("name", unknown)
    return [Note("SP850", f"{tally.unknown:,} of {tally.total:,} {what} match no stage of "
                 f"the process{only} ({unknown} CRM stage {names} unknown)", file,
                 hint="map the CRM's stage names onto the process's stages in the process "
                 "file: crm: {stages: {CRM NAME: STAGE}}; a suggested mapping proposes every "
                 "line")]


def _unused_reasons(reading: Reading, files: list[Export], history: History,
                    file: str) -> None:
    """A note (SP852) where the export has one of the usual loss-reason columns that
    crm: lost_reason does not name, and the lost deals so have no reason."""
    if reading.mapping.crm.lost_reason:
        return
    found = next((c for f in files for c in [f.column(*LOSS_REASON_COLUMNS)] if c), None)
    lost = history.deals.outcome == OUTCOME_LOST
    if found is None or not lost.any():
        return
    reasons = history.deals.reason.take(pa.array(np.flatnonzero(lost)))
    if pc.any(pc.not_equal(reasons, "")).as_py():  # read by default (a deal table's)
        return
    count = int(lost.sum())
    reading.notes.add("SP852", f"the export's column '{shown(found)}' says why deals were "
                      f"lost, but crm: lost_reason does not name it: the {count:,} lost "
                      f"{'deal is' if count == 1 else 'deals are'} counted without their "
                      "reasons", file,
                      column=found,
                      hint=f"name it in the process file: crm: {{lost_reason: "
                      f"{_yaml_key(found)}}}")


def _deal_table(files: list[Export]) -> bool:
    """Generic files are all deal tables, or all stage-change CSVs (else SP818)."""
    tables = [f.kind == TABLE_LABEL for f in files]
    if any(tables) and not all(tables):
        raise HistoryError([Note("SP818", "a deal table and a stage-change CSV were given "
                                 "together", files[tables.index(True)].path,
                                 hint="give the stage-change CSV alone, or the deal table")])
    if len(files) > 1 and all(tables):
        raise HistoryError([Note("SP818", "give one deal table at a time", files[1].path)])
    return all(tables)


def _check_columns(reading: Reading, files: list[Export], kind: Format) -> None:
    """Stop (SP840) where the crm: section names a column the export lacks: in the files
    that hold the deals' fields (Salesforce: Opportunity.csv, when given; a simulated event
    log has none)."""
    if kind == "salesforce":
        files = [f for f in files if f.kind == "Salesforce Opportunity"]
    if kind == "events" or not files:
        return
    errors = reading.mapping.missing_columns(files)
    if errors:
        raise HistoryError(errors)


def _latest(times: np.ndarray) -> dt.datetime:
    valid = times[~np.isnat(times)]
    if not len(valid):
        return dt.datetime(1970, 1, 1)
    return valid.max().astype("datetime64[s]").astype(dt.datetime)  # type: ignore[no-any-return]


def format_of(file: Export, reading: Reading, given: Format | None) -> tuple[Format, str]:
    """The format of *file* (and how to name it), from its columns, or *given*."""
    found: list[tuple[Format, str]] = []
    if events.is_events(file):
        found.append(("events", "salesproc event log"))
    if salesforce.is_history(file):
        found.append(("salesforce", "Salesforce OpportunityHistory"))
    elif salesforce.is_opportunities(file):
        found.append(("salesforce", "Salesforce Opportunity"))
    if hubspot.is_hubspot(file):
        found.append(("hubspot", "HubSpot deals"))
    if generic.is_generic(file, reading):
        found.append(("generic", "stage-change CSV"))
    elif dealtable.is_deal_table(file, reading):
        found.append(("generic", TABLE_LABEL))
    if given is not None:
        for kind, label in found:
            if kind == given:
                return kind, label
        labels = {"salesforce": "Salesforce OpportunityHistory", "hubspot": "HubSpot deals",
                  "generic": "stage-change CSV", "events": "salesproc event log"}
        file.kind = labels[given]
        _require(file, given, reading)  # raises, naming the missing columns
    if found:
        return found[0]
    raise HistoryError([Note(
        "SP802", "cannot tell which CRM this export comes from", file.path, file.header_row,
        hint="Salesforce OpportunityHistory needs OpportunityId, StageName and CreatedDate; "
        "HubSpot deals need Deal Stage and Create Date; a stage-change CSV needs deal, stage "
        "and changed_at; a deal table needs deal, stage and created (or the names in crm: "
        "{columns: ...})")])


def _require(file: Export, kind: Format, reading: Reading) -> None:
    if kind == "salesforce":
        file.require(salesforce.HISTORY_COLUMNS, salesforce.HINT)
    elif kind == "hubspot":
        file.require(hubspot.COLUMNS, hubspot.HINT)
    elif kind == "events":
        file.require(events.COLUMNS, "a simulated event log has the columns replication, "
                     "deal, buyer_type, stage, entered, finished, outcome and value")
    else:
        file.require(generic.columns(reading)[0], generic.HINT)
    raise AssertionError("unreachable: a file with every column is of its format")
