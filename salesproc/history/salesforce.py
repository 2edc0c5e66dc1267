"""Salesforce: `Opportunity.csv` and `OpportunityHistory.csv` as Data Loader or a report
export writes them, with the standard API field names.

OpportunityHistory (required): `OpportunityId`, `StageName`, `CreatedDate` (when the
stage was set); a row that repeats the stage (only the amount or close date changed) is
folded into the visit. Each row's `Amount`, `Probability` and `CloseDate` (report labels:
`Amount`, `Probability (%)`, `Close Date`), where present, are what they were then: a
history as of an earlier date has them as they stood (see
:class:`~salesproc.history.table.Values`). Opportunity (optional, one row per deal): `Id`,
`StageName`, `CreatedDate`, and, when present, `Amount`, `CloseDate`, `IsClosed`, `IsWon`,
`CurrencyIsoCode`, `Probability`, `ForecastCategory` (or `ForecastCategoryName`),
`OwnerId` (named where Salesforce's User export, `User.csv` with `Id` and `Name`, is
given too), and the columns the `crm:` rules and `crm.lost_reason` name (e.g. `Type`,
`RecordTypeId`, `LeadSource`, `Loss_Reason__c`). Without Opportunity.csv, each deal's
value is its last history row's `Amount`, and its outcome its last stage.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from salesproc.history.assemble import (
    DealColumns,
    Reading,
    RowValues,
    ValueNames,
    compact,
    deals_from,
    first_rows,
    flags,
    settle,
    with_id,
)
from salesproc.history.csvfile import Export
from salesproc.history.ids import IdIndex
from salesproc.history.notes import HistoryError, Note
from salesproc.history.table import Changes, Deals, Visits, first_and_last

HISTORY_COLUMNS = {"deal": ("OpportunityId", "Opportunity ID"),
                   "stage": ("StageName", "Stage", "To Stage"),  # API names, report labels
                   "at": ("CreatedDate", "Created Date", "Last Modified", "Edit Date")}
OPPORTUNITY_COLUMNS = {"id": ("Id", "Opportunity ID"), "stage": ("StageName", "Stage"),
                       "created": ("CreatedDate", "Created Date")}
OPTIONAL = {"amount": ("Amount",), "close": ("CloseDate", "Close Date"),
            "closed": ("IsClosed", "Closed"), "won": ("IsWon", "Won"),
            "currency": ("CurrencyIsoCode", "Opportunity Currency", "Currency"),
            "probability": ("Probability", "Probability (%)"),
            "category": ("ForecastCategory", "ForecastCategoryName", "Forecast Category"),
            "owner": ("OwnerId", "Owner ID", "Opportunity Owner"),
            "name": ("Name", "Opportunity Name")}
HINT = "a Salesforce OpportunityHistory export has OpportunityId, StageName and CreatedDate"
#: A history row's amount, probability and expected close date (API names, report labels).
VALUES: ValueNames = (("Amount",), ("Probability", "Probability (%)"),
                      ("CloseDate", "Close Date"))


def is_users(file: Export) -> bool:
    """The file is Salesforce's User export (Id and Name, no stage): the names of the
    owners that Opportunity's OwnerId holds the ids of."""
    return bool(file.column("Id") and file.column("Name")) and not file.column(
        *OPPORTUNITY_COLUMNS["stage"], *HISTORY_COLUMNS["stage"], "Deal Stage", "Dealstage")


def owner_names(reading: Reading, users: list[Export], deals: Deals) -> Deals:
    """*deals* with each owner id that a User export lists replaced by the user's name
    (ids it does not list stay as they are). Ids match in their 15- or 18-character
    forms (a report writes the one, Data Loader the other)."""
    names: dict[str, str] = {}
    for file in users:
        id_column, name_column = file.column("Id"), file.column("Name")
        assert id_column is not None and name_column is not None
        for batch in file.batches([id_column, name_column], reading.notes):
            names.update(zip(map(_short_id, batch.values[id_column].to_pylist()),
                             batch.values[name_column].to_pylist(), strict=True))
    owners = deals.owner.cast(pa.string()).to_pylist()
    return replace(deals, owner=compact(pa.array(
        [names.get(_short_id(o), o) if o else o for o in owners], pa.string())))


def _short_id(text: str | None) -> str:
    """A Salesforce record id in its 15-character form (the 18-character one adds three
    characters of a checksum for case)."""
    key = (text or "").strip()
    return key[:15] if len(key) == 18 else key


def is_history(file: Export) -> bool:
    """The file has OpportunityHistory's columns."""
    return all(file.column(*names) for names in HISTORY_COLUMNS.values())


def is_opportunities(file: Export) -> bool:
    """The file has Opportunity's columns (and is no history)."""
    return not is_history(file) and all(file.column(*n) for n in OPPORTUNITY_COLUMNS.values())


def read(reading: Reading, histories: list[Export], opportunities: Export | None
         ) -> tuple[Visits, Deals]:
    """Visits and deals from history files (and the opportunities file, when given).

    The opportunities are read first and kept as typed columns, so that their text is
    gone before the (much longer) history is read.
    """
    if not histories:
        raise HistoryError([Note(
            "SP802", "an Opportunity export alone has no stage history", opportunities.path
            if opportunities else "", 1, hint="give OpportunityHistory.csv too (Data Loader: "
            "export the OpportunityHistory object)")])
    if opportunities is None:
        return _history_only(reading, histories[0], _history(reading, histories))
    known = _opportunities(reading, opportunities)
    values = RowValues(VALUES)
    changes = _first_stage_at_creation(_linked_history(reading, histories, known.deals, values),
                                       known, reading)
    reading.values = values.values(reading, known.deals, histories[0].path)
    return settle(changes, known.deals, known.won, known.closed, known.close_dates,
                  opportunities.path, reading.notes)


def _linked_history(reading: Reading, histories: list[Export], deals: Deals,
                    values: RowValues) -> Changes:
    """The history rows as changes of the opportunities' deals, each block matched to its
    deals as it is read (the ids are not kept), and their *values*. Rows of deals the
    Opportunity file does not list, or dated before their deal was created, are noted and
    left out."""
    index = IdIndex(deals.id)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for file in histories:
        cols = file.require(HISTORY_COLUMNS, HINT)
        for batch in file.batches([*cols.values(), *values.columns(file)], reading.notes):
            at, ok = reading.dates(file, cols["at"], batch.values[cols["at"]], batch.rows,
                                   required=True)
            code = reading.mapping.stage_codes(batch.values[cols["stage"]], batch.rows,
                                               file.path, cols["stage"], reading.notes)
            deal = index.find(batch.values[cols["deal"]])
            unknown = ok & (deal < 0)
            if unknown.any():
                reading.notes.add(
                    "SP811", "history rows of deals that the Opportunity export does not "
                    "list; left out", file.path, rows=batch.rows[unknown][:5].tolist(),
                    count=int(unknown.sum()),
                    hint="export both files at the same time, with the same filters")
            early = ok & (deal >= 0)
            early[early] = at[early] < deals.created[deal[early]]
            if early.any():
                reading.notes.add("SP807", "a stage change is dated before its deal was "
                                  "created; the row is left out", file.path,
                                  rows=batch.rows[early][:5].tolist(), count=int(early.sum()))
            fine = ok & (deal >= 0) & ~early
            parts.append((deal[fine], code[fine], at[fine]))
            values.add(reading, file, batch, fine, deal[fine], at[fine])
    if not parts:
        return Changes(np.zeros(0, np.int32), np.zeros(0, np.int16),
                       np.zeros(0, "datetime64[s]"))
    deal_parts, code_parts, at_parts = zip(*parts, strict=True)
    del parts
    return Changes(np.concatenate(deal_parts), np.concatenate(code_parts),
                   np.concatenate(at_parts))


@dataclass
class _Rows:
    """History rows as read without an Opportunity file: each row's deal (an index into
    *ids*), stage code, time, row number, amount, and the values of each row (gathered
    with the row's place among those read as its deal)."""

    ids: pa.Array
    deal: np.ndarray
    code: np.ndarray
    at: np.ndarray
    rows: np.ndarray
    amounts: pa.Array | None
    values: RowValues


def _history(reading: Reading, histories: list[Export]) -> _Rows:
    ids: list[pa.Array] = []
    codes: list[np.ndarray] = []
    times: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    values: list[pa.Array] = []
    stood = RowValues(VALUES)
    read = 0
    for file in histories:
        cols = file.require(HISTORY_COLUMNS, HINT)
        amount = file.column("Amount")
        for batch in file.batches([*cols.values(), *stood.columns(file)], reading.notes):
            at, ok = reading.dates(file, cols["at"], batch.values[cols["at"]], batch.rows,
                                   required=True)
            code = reading.mapping.stage_codes(batch.values[cols["stage"]], batch.rows,
                                               file.path, cols["stage"], reading.notes)
            ok &= with_id(batch.values[cols["deal"]], batch.rows, file.path, cols["deal"],
                          reading.notes)
            keep = pa.array(ok)
            ids.append(pc.filter(batch.values[cols["deal"]], keep))
            codes.append(code[ok])
            times.append(at[ok])
            rows.append(batch.rows[ok])
            if amount:
                values.append(pc.filter(batch.values[amount], keep))
            kept = int(ok.sum())
            stood.add(reading, file, batch, ok, np.arange(read, read + kept), at[ok])
            read += kept
    encoded = pa.chunked_array(ids, pa.string()).dictionary_encode()  # one shared dictionary
    del ids
    unique = encoded.chunks[0].dictionary if encoded.num_chunks else pa.array([], pa.string())
    deal = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in encoded.chunks]
                          or [np.zeros(0, np.int32)])
    del encoded
    return _Rows(unique, deal, np.concatenate(codes or [np.zeros(0, np.int16)]),
                 np.concatenate(times or [np.zeros(0, "datetime64[s]")]),
                 np.concatenate(rows or [np.zeros(0, np.int64)]),
                 pa.concat_arrays(values) if values else None, stood)


@dataclass(frozen=True)
class _Opportunities:
    """The deals of Opportunity.csv, with their current stage and the CRM's outcome."""

    deals: Deals
    file: Export
    rows: np.ndarray
    stage: pa.Array
    won: np.ndarray | None
    closed: np.ndarray | None
    close_dates: np.ndarray


def _opportunities(reading: Reading, file: Export) -> _Opportunities:
    cols = file.require(OPPORTUNITY_COLUMNS, "a Salesforce Opportunity export has Id, "
                        "StageName and CreatedDate")
    optional = {role: file.column(*names) for role, names in OPTIONAL.items()}
    extra = [c for c in reading.mapping.rule_fields() if file.column(c)]
    dates = {cols["created"], optional["close"]} - {None}
    wanted = [c for c in [*cols.values(), *optional.values(), *map(file.column, extra)] if c]
    kept: dict[str, list[pa.Array]] = {c: [] for c in wanted if c not in dates}
    rows_in, created_in, ok_in, close_in = [], [], [], []
    for batch in file.batches(wanted, reading.notes):  # each block made compact at once
        rows_in.append(batch.rows)
        created, ok = reading.dates(file, cols["created"], batch.values[cols["created"]],
                                    batch.rows, required=True)
        created_in.append(created)
        ok_in.append(ok)
        if optional["close"]:
            close_in.append(reading.dates(file, optional["close"],
                                          batch.values[optional["close"]], batch.rows,
                                          required=False, planned=True)[0])
        for name, parts in kept.items():
            values = batch.values[name]
            parts.append(values if name in (cols["id"], optional["amount"],
                                            optional["probability"])
                         else pc.dictionary_encode(values))  # repeated words: kept once
    rows = np.concatenate(rows_in or [np.zeros(0, np.int64)])
    keep = np.flatnonzero(np.concatenate(ok_in or [np.zeros(0, bool)]))
    ids = _text(kept[cols["id"]], keep)
    first = keep[first_rows(ids, rows[keep], file.path, reading.notes, cols["id"])]
    del ids

    def col(name: str | None) -> pa.Array | None:
        return None if name is None else _text(kept[name], first)

    created = np.concatenate(created_in or [np.zeros(0, "datetime64[s]")])[first]
    close = np.concatenate(close_in)[first] if close_in else \
        np.full(len(first), np.datetime64("NaT", "s"))
    deals = deals_from(reading, DealColumns(
        file, rows[first], col(cols["id"]), col(optional["amount"]), col(optional["currency"]),
        col(optional["probability"]), col(optional["category"]), col(optional["owner"]),
        {name: col(file.column(name)) for name in extra}, close,
        name=col(optional["name"])), created)
    won, closed = flags(col(optional["won"])), flags(col(optional["closed"]))
    blocks = kept[cols["stage"]]  # none in an export of its header alone
    stage = pa.chunked_array(blocks) if blocks else pa.chunked_array([], _ENCODED)
    return _Opportunities(deals, file, rows[first],
                          stage.take(pa.array(first, type=pa.int64())).combine_chunks(),
                          won, closed, close)


#: The type of a column of repeated words read in blocks (pc.dictionary_encode's).
_ENCODED = pa.dictionary(pa.int32(), pa.string())


def _text(chunks: list[pa.Array], index: np.ndarray) -> pa.Array:
    """The values at *index* of a column read in blocks (text, or dictionary-encoded)."""
    column = pa.chunked_array(chunks) if chunks else pa.chunked_array([], pa.string())
    picked = column.take(pa.array(index, type=pa.int64()))
    if pa.types.is_dictionary(picked.type):
        picked = picked.cast(pa.string())
    return picked.combine_chunks()


def _first_stage_at_creation(changes: Changes, known: _Opportunities, reading: Reading
                             ) -> Changes:
    """A deal with no history row is taken to have been in its current stage since it was
    created (Salesforce writes a history row at creation; imported deals may lack it)."""
    seen = np.zeros(len(known.deals), dtype=bool)
    seen[changes.deal] = True
    missing = np.flatnonzero(~seen)
    if not len(missing):
        return changes
    stage = known.stage.take(pa.array(missing)).cast(pa.string())
    code = reading.mapping.stage_codes(stage, known.rows[missing], known.file.path,
                                       "StageName", reading.notes)
    return Changes(np.concatenate([changes.deal, missing.astype(changes.deal.dtype)]),
                   np.concatenate([changes.code, code]),
                   np.concatenate([changes.at, known.deals.created[missing]]))


def _history_only(reading: Reading, file: Export, rows: _Rows) -> tuple[Visits, Deals]:
    """Deals known only from their history: created at the first change, valued at the
    last row's amount, with the probability and expected close date last said."""
    n = len(rows.ids)
    created, last_row = first_and_last(rows.deal, rows.at, n)
    amount = rows.amounts.take(pa.array(last_row)) if rows.amounts is not None else None
    deals = deals_from(reading, DealColumns(file, rows.rows[last_row], rows.ids, amount),
                       created)
    reading.values = rows.values.values(reading, deals, file.path, rows.deal)
    if reading.values is not None:
        latest = reading.values.stood(deals)
        deals = replace(deals, probability=latest.probability, close_date=latest.close_date)
    return settle(Changes(rows.deal, rows.code, rows.at), deals, None, None,
                  np.full(n, np.datetime64("NaT", "s")), file.path, reading.notes)
