"""Salesforce: `Opportunity.csv` and `OpportunityHistory.csv` as Data Loader or a report
export writes them, with the standard API field names.

OpportunityHistory (required): `OpportunityId`, `StageName`, `CreatedDate` (when the
stage was set); a row that repeats the stage (only the amount or close date changed) is
folded into the visit. Opportunity (optional, one row per deal): `Id`, `StageName`,
`CreatedDate`, and, when present, `Amount`, `CloseDate`, `IsClosed`, `IsWon`,
`CurrencyIsoCode`, `Probability`, `ForecastCategory` (or `ForecastCategoryName`),
`OwnerId`, and the columns the `crm:` rules and `crm.lost_reason` name (e.g. `Type`,
`RecordTypeId`, `LeadSource`, `Loss_Reason__c`). Without Opportunity.csv, each deal's
value is its last history row's `Amount`, and its outcome its last stage.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from salesproc.history.assemble import (
    DealColumns,
    Reading,
    concat,
    deals_from,
    first_rows,
    flags,
    rows_of,
    settle,
)
from salesproc.history.csvfile import CsvFile
from salesproc.history.notes import HistoryError, Note
from salesproc.history.table import Changes, Deals, Visits

HISTORY_COLUMNS = {"deal": ("OpportunityId", "Opportunity ID"), "stage": ("StageName", "Stage"),
                   "at": ("CreatedDate", "Created Date", "Last Modified")}
OPPORTUNITY_COLUMNS = {"id": ("Id", "Opportunity ID"), "stage": ("StageName", "Stage"),
                       "created": ("CreatedDate", "Created Date")}
OPTIONAL = {"amount": ("Amount",), "close": ("CloseDate", "Close Date"),
            "closed": ("IsClosed", "Closed"), "won": ("IsWon", "Won"),
            "currency": ("CurrencyIsoCode", "Opportunity Currency", "Currency"),
            "probability": ("Probability", "Probability (%)"),
            "category": ("ForecastCategory", "ForecastCategoryName", "Forecast Category"),
            "owner": ("OwnerId", "Owner ID", "Opportunity Owner")}
HINT = "a Salesforce OpportunityHistory export has OpportunityId, StageName and CreatedDate"
FILE_SHIFT = 40  # a change's order: its file's number above this bit, its row below
ROW_MASK = (1 << FILE_SHIFT) - 1


def is_history(file: CsvFile) -> bool:
    """The file has OpportunityHistory's columns."""
    return all(file.column(*names) for names in HISTORY_COLUMNS.values())


def is_opportunities(file: CsvFile) -> bool:
    """The file has Opportunity's columns (and is no history)."""
    return not is_history(file) and all(file.column(*n) for n in OPPORTUNITY_COLUMNS.values())


def read(reading: Reading, histories: list[CsvFile], opportunities: CsvFile | None
         ) -> tuple[Visits, Deals]:
    """Visits and deals from history files (and the opportunities file, when given)."""
    if not histories:
        raise HistoryError([Note(
            "SP802", "an Opportunity export alone has no stage history", opportunities.path
            if opportunities else "", 1, hint="give OpportunityHistory.csv too (Data Loader: "
            "export the OpportunityHistory object)")])
    ids: list[pa.Array] = []
    codes: list[np.ndarray] = []
    times: list[np.ndarray] = []
    order: list[np.ndarray] = []
    amounts: list[pa.Array] = []
    for k, file in enumerate(histories):
        cols = file.require(HISTORY_COLUMNS, HINT)
        amount = file.column("Amount") if opportunities is None else None  # else Opportunity's
        for batch in file.batches([*cols.values(), *([amount] if amount else [])],
                                  reading.notes):
            at, ok = reading.dates(file, cols["at"], batch.values[cols["at"]], batch.rows,
                                   required=True)
            code = reading.mapping.stage_codes(batch.values[cols["stage"]], batch.rows,
                                               file.path, cols["stage"], reading.notes)
            keep = pa.array(ok)
            ids.append(pc.filter(batch.values[cols["deal"]], keep))
            codes.append(code[ok])
            times.append(at[ok])
            order.append(batch.rows[ok] + (k << FILE_SHIFT))
            if amount:
                amounts.append(pc.filter(batch.values[amount], keep))
    encoded = pa.chunked_array(ids, pa.string()).dictionary_encode()  # one shared dictionary
    del ids
    unique_ids = encoded.chunks[0].dictionary if encoded.num_chunks else pa.array([], pa.string())
    deal_of_row = np.concatenate([c.indices.to_numpy(zero_copy_only=False)
                                  for c in encoded.chunks] or [np.zeros(0, np.int32)])
    del encoded
    code = np.concatenate(codes) if codes else np.zeros(0, np.int16)
    at = np.concatenate(times) if times else np.zeros(0, "datetime64[s]")
    seq = np.concatenate(order) if order else np.zeros(0, np.int64)
    del codes, times, order
    if opportunities is None:
        return _history_only(reading, histories[0], unique_ids, deal_of_row, code, at, seq,
                             amounts)
    return _with_opportunities(reading, histories[0], opportunities, unique_ids, deal_of_row,
                               code, at, seq)


def _with_opportunities(reading: Reading, history: CsvFile, file: CsvFile, unique_ids: pa.Array,
                        deal_of_row: np.ndarray, code: np.ndarray, at: np.ndarray,
                        seq: np.ndarray) -> tuple[Visits, Deals]:
    cols = file.require(OPPORTUNITY_COLUMNS, "a Salesforce Opportunity export has Id, "
                        "StageName and CreatedDate")
    optional = {role: file.column(*names) for role, names in OPTIONAL.items()}
    extra = [c for c in reading.mapping.rule_fields() if file.column(c)]
    wanted = [*cols.values(), *[c for c in optional.values() if c], *map(file.column, extra)]
    batches = list(file.batches([c for c in wanted if c], reading.notes))
    rows = rows_of(batches)
    created, ok = reading.dates(file, cols["created"], concat(batches, cols["created"]), rows,
                                required=True)
    keep = np.flatnonzero(ok)
    ids = concat(batches, cols["id"]).take(pa.array(keep))
    first = keep[first_rows(ids, rows[keep], file.path, reading.notes)]

    def col(name: str | None) -> pa.Array | None:
        return None if name is None else concat(batches, name).take(pa.array(first))

    close = None
    if optional["close"]:
        close, _ = reading.dates(file, optional["close"], concat(batches, optional["close"]),
                                 rows, required=False, planned=True)
        close = close[first]
    deals = deals_from(reading, DealColumns(
        file, rows[first], col(cols["id"]), col(optional["amount"]), col(optional["currency"]),
        col(optional["probability"]), col(optional["category"]), col(optional["owner"]),
        {name: col(file.column(name)) for name in extra}), created[first])
    # the history's rows by deal: each history id's row among the opportunities
    position = pc.index_in(unique_ids, value_set=deals.id).fill_null(-1).to_numpy(
        zero_copy_only=False).astype(np.int32)
    deal = position[deal_of_row]
    del deal_of_row
    unknown = deal < 0
    if unknown.any():
        reading.notes.add("SP811", "history rows of deals that the Opportunity export does "
                          "not list; left out", history.path,
                          rows=(seq[unknown][:5] & ROW_MASK).tolist(), count=int(unknown.sum()),
                          hint="export both files at the same time, with the same filters")
    early = ~unknown
    early[early] = at[early] < deals.created[deal[early]]
    if early.any():
        reading.notes.add("SP807", "a stage change is dated before its deal was created; "
                          "the row is left out", history.path,
                          rows=(seq[early][:5] & ROW_MASK).tolist(), count=int(early.sum()))
    fine = ~(unknown | early)
    changes = Changes(deal[fine], code[fine], at[fine], seq[fine])
    del deal, code, at, seq
    changes = _first_stage_at_creation(changes, deals, reading, file, col(cols["stage"]),
                                       rows[first])
    won, closed = flags(col(optional["won"])), flags(col(optional["closed"]))
    close_dates = close if close is not None else np.full(len(deals), np.datetime64("NaT", "s"))
    return settle(changes, deals, won, closed, close_dates, file.path, reading.notes)


def _first_stage_at_creation(changes: Changes, deals: Deals, reading: Reading, file: CsvFile,
                             stage: pa.Array | None, rows: np.ndarray) -> Changes:
    """A deal with no history row is taken to have been in its current stage since it was
    created (Salesforce writes a history row at creation; imported deals may lack it)."""
    seen = np.zeros(len(deals), dtype=bool)
    seen[changes.deal] = True
    missing = np.flatnonzero(~seen)
    if not len(missing) or stage is None:
        return changes
    code = reading.mapping.stage_codes(stage.take(pa.array(missing)), rows[missing],
                                       file.path, "StageName", reading.notes)
    return Changes(np.concatenate([changes.deal, missing]),
                   np.concatenate([changes.code, code]),
                   np.concatenate([changes.at, deals.created[missing]]),
                   np.concatenate([changes.order, np.full(len(missing), -1, np.int64)]))


def _history_only(reading: Reading, file: CsvFile, unique_ids: pa.Array, deal_of_row: np.ndarray,
                  code: np.ndarray, at: np.ndarray, seq: np.ndarray, amounts: list[pa.Array]
                  ) -> tuple[Visits, Deals]:
    """Deals known only from their history: created at the first change, valued at the
    last row's amount."""
    n = len(unique_ids)
    created = np.full(n, np.datetime64("9999-12-31", "s"))
    np.minimum.at(created, deal_of_row, at)
    last_row = np.full(n, -1, dtype=np.int64)
    ordering = np.lexsort((seq, at))
    last_row[deal_of_row[ordering]] = ordering
    amount = pa.concat_arrays(amounts).take(pa.array(last_row)) if amounts else None
    deals = deals_from(reading, DealColumns(file, seq[last_row] & ROW_MASK, unique_ids, amount),
                       created)
    return settle(Changes(deal_of_row, code, at, seq), deals, None, None,
                  np.full(n, np.datetime64("NaT", "s")), file.path, reading.notes)
