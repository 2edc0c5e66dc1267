"""A deal table: one row per deal and no stage history, as many teams can only export it
(Salesforce's Opportunity.csv alone, a HubSpot deals export without its `Date entered`
columns, a CRM "deals" report, a spreadsheet).

A generic deal table has the columns `deal`, `stage` and `created`, and, when present,
`close_date`, `amount`, `currency`, `owner`, `probability` and `forecast_category` (other
names for them in the process file: `crm: {columns: {deal: Id, close_date: Closed}}`),
the loss reason (the column `crm.lost_reason` names, else `lost_reason`), and any column
the buyer-type rules name. `stage` is the CRM
stage the deal is in now, or its won or lost stage; `close_date` is when a closed deal
closed (an open deal's is its expected close, not read).

What such a table gives, and what this reader makes of it (the History's ``kind`` is
"deal table", so commands can say what they cannot do):

- every deal with its creation, value, owner, buyer type, loss reason, and the CRM's
  probability and forecast category;
- its outcome: the export's won/closed flags where it has them (Salesforce's IsWon and
  IsClosed), else its stage mapped to won or lost;
- a closed deal's close: its close date (a day; if that is the day it was created or
  earlier, when it was created). A closed deal without a usable close date is left out:
  when it closed is unknown, and counting it closed at every date would look ahead. A
  closed deal has **no stage visit**: the table does not say from which stage it was won
  or lost (Salesforce keeps the stage a lost deal left only in OpportunityHistory);
- an open deal has **one visit, at its current stage, entered when the deal was created**
  (when it entered that stage is unknown; its whole age is the most it can have spent
  there, so "time in stage" is an upper bound and is not measured). An open deal at a
  stage the mapping does not know is left out (SP804).

Lost without stage history: the time in each stage, the moves from stage to stage, and
the stage where deals are lost.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from salesproc.history import salesforce
from salesproc.history.assemble import (
    DealColumns,
    Reading,
    compact,
    concat,
    deals_from,
    first_rows,
    rows_of,
)
from salesproc.history.csvfile import Export
from salesproc.history.table import (
    LOST_CODE,
    NAT,
    OPEN,
    OUTCOME_LOST,
    OUTCOME_OPEN,
    OUTCOME_WON,
    UNMAPPED,
    WON_CODE,
    Deals,
    Visits,
)

DEFAULTS = {"deal": ("deal", "deal_id", "deal id"), "stage": ("stage", "stage_name"),
            "created": ("created", "created_at", "create date", "created date")}
OPTIONAL = {"close_date": ("close_date", "close date", "closed_at"),
            "amount": ("amount", "value"), "currency": ("currency",),
            "owner": ("owner", "deal owner"), "probability": ("probability",),
            "forecast_category": ("forecast_category", "forecast category"),
            "name": ("name", "deal name", "deal_name")}
REASON = ("lost_reason", "loss reason", "lost reason")  # where crm.lost_reason names none
HINT = "a deal table has deal, stage and created columns (other names: crm: {columns: ...} " \
    "in the process file)"
LOST_WITHOUT_STAGES = "time in each stage, moves from stage to stage and the stage where " \
    "deals are lost"


def columns(reading: Reading) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """The columns to look for: the process file's names (crm.columns) first, then the
    defaults."""
    return reading.columns(DEFAULTS, OPTIONAL)


def is_deal_table(file: Export, reading: Reading) -> bool:
    """The file has a generic deal table's columns (deal, stage, created). The caller
    asks first whether it is a stage-change CSV: one with changed_at too is that."""
    needed, _ = columns(reading)
    return all(file.column(*names) for names in needed.values())


def read_salesforce(reading: Reading, file: Export) -> tuple[Visits, Deals]:
    """Visits and deals from Salesforce's Opportunity.csv given alone."""
    known = salesforce._opportunities(reading, file)
    stage = file.column(*salesforce.OPPORTUNITY_COLUMNS["stage"]) or "StageName"
    return settle(reading, known.deals, known.stage, known.rows, file.path, stage,
                  known.close_dates, known.won, known.closed)


def read_generic(reading: Reading, files: list[Export]) -> tuple[Visits, Deals]:
    """Visits and deals from a generic deal table (one file: a deal is one row)."""
    file = files[0]
    needed, optional_names = columns(reading)
    cols = file.require(needed, HINT)
    optional = {r: file.column(*n) for r, n in optional_names.items()}
    reason = reading.mapping.crm.lost_reason
    own = file.column(reason) if reason else None  # present, or SP840 stopped the read
    reason_column = own or file.column(*REASON)
    fields = [f for f in reading.mapping.rule_fields() if file.column(f)]
    wanted = [*cols.values(), *[c for c in optional.values() if c],
              *([reason_column] if reason_column else []),
              *[c for f in fields if (c := file.column(f))]]
    batches = list(file.batches(wanted, reading.notes))
    rows = rows_of(batches)
    created, ok = reading.dates(file, cols["created"], concat(batches, cols["created"]), rows,
                                required=True)
    keep = np.flatnonzero(ok)
    first = keep[first_rows(concat(batches, cols["deal"]).take(pa.array(keep)), rows[keep],
                            file.path, reading.notes, cols["deal"])]

    def col(name: str | None) -> pa.Array | None:
        return None if name is None else concat(batches, name).take(pa.array(first))

    ids = col(cols["deal"])
    assert ids is not None
    close = np.full(len(first), NAT)
    if optional["close_date"]:
        close = reading.dates(file, optional["close_date"], col(optional["close_date"]),
                              rows[first], required=False, planned=True)[0]
    deals = deals_from(reading, DealColumns(
        file, rows[first], ids, col(optional["amount"]), col(optional["currency"]),
        col(optional["probability"]), col(optional["forecast_category"]),
        col(optional["owner"]), {f: a for f in fields if (a := col(file.column(f)))
                                 is not None}, close, name=col(optional["name"])),
        created[first])
    if reason_column is not None and not own:  # the default column: read as crm's is
        words = col(reason_column)
        assert words is not None
        deals = replace(deals, reason=compact(reading.mapping.reasons(words)))
    stage = col(cols["stage"])
    assert stage is not None
    return settle(reading, deals, stage, rows[first], file.path, cols["stage"], close)


def settle(reading: Reading, deals: Deals, stage: pa.Array, rows: np.ndarray, path: str,
           column: str, close: np.ndarray, won: np.ndarray | None = None,
           closed: np.ndarray | None = None) -> tuple[Visits, Deals]:
    """A deal table's visits and deals from each deal's *stage* (CRM names), its *close*
    date, and the export's won/closed flags where it has them (the module's rules)."""
    notes = reading.notes
    notes.add("SP830", "a table of one row per deal, without stage history: open deals are "
              "taken to be in their stage since they were created; "
              f"{LOST_WITHOUT_STAGES} cannot be measured", path,
              hint="for those, export the stage history too (Salesforce: "
              "OpportunityHistory.csv; HubSpot: the 'Date entered' columns)")
    n = len(deals)
    flagged = np.zeros(n, dtype=bool) if won is None or closed is None else closed
    code = np.full(n, UNMAPPED, dtype=np.int16)
    ask = np.flatnonzero(~flagged)  # a closed deal's stage name says nothing more
    if len(ask):
        names = pc.cast(stage, pa.string()).take(pa.array(ask, type=pa.int64()))
        code[ask] = reading.mapping.stage_codes(names, rows[ask], path, column, notes)
    outcome = np.select([code == WON_CODE, code == LOST_CODE], [OUTCOME_WON, OUTCOME_LOST],
                        OUTCOME_OPEN).astype(np.int8)
    if won is not None and closed is not None:
        outcome[flagged] = np.where(won[flagged], OUTCOME_WON, OUTCOME_LOST)
    ends = outcome != OUTCOME_OPEN
    when = _closed_at(reading, deals.created, close, ends, rows, path)
    keep = (ends & ~np.isnat(when)) | (~ends & (code >= 0))
    index = np.flatnonzero(keep)
    chosen = replace(deals.take(index), outcome=outcome[index],
                     closed=np.where(ends[index], when[index], NAT))
    is_open = np.flatnonzero(chosen.outcome == OUTCOME_OPEN)
    visits = Visits(is_open.astype(np.int32), code[index][is_open], chosen.created[is_open],
                    np.full(len(is_open), NAT), np.full(len(is_open), OPEN, dtype=np.int16))
    return visits, chosen


def _closed_at(reading: Reading, created: np.ndarray, close: np.ndarray, ends: np.ndarray,
               rows: np.ndarray, path: str) -> np.ndarray:
    """When each closed deal closed: its close date, at the earliest when it was created
    (a date has no time of day: a deal created and closed the same day closed when it was
    created). NaT, with a note, where the close date is missing or after today; a close
    date on a day before the deal was created gets SP807."""
    notes = reading.notes
    unusable = ends & (np.isnat(close) | (close > reading.latest))
    if unusable.any():
        notes.add("SP831", "won or lost deals without a usable close date (empty, or after "
                  "today); left out, since when they closed is unknown", path,
                  rows=rows[unusable][:5].tolist(), count=int(unusable.sum()),
                  hint="export the close date of every closed deal")
    earlier = ends & ~unusable & (close.astype("datetime64[D]") < created.astype("datetime64[D]"))
    if earlier.any():
        notes.add("SP807", "a close date is before the deal was created; it is taken as "
                  "closed when it was created", path, rows=rows[earlier][:5].tolist(),
                  count=int(earlier.sum()))
    return np.where(unusable, NAT, np.maximum(close, created))
