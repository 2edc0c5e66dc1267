"""salesproc's own event log (`salesproc simulate --events`): one row per stage visit of
a simulated deal, with `replication`, `deal`, `buyer_type`, `stage`, `entered`,
`finished`, `outcome` and `value`; times count in the process's time unit from its start
date. Simulated deals so go through the same measurement as a CRM's; each row's value is
the deal's value from its entry on. Only the first replication in the log is read (each
is a separate, whole history).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from salesproc.core.diagnostics import quoted
from salesproc.core.units import HOURS
from salesproc.history.assemble import Reading
from salesproc.history.csvfile import Export, parse_numbers
from salesproc.history.table import (
    LOST_CODE,
    NAT,
    WON_CODE,
    Changes,
    Deals,
    Values,
    Visits,
    build,
    first_and_last,
)

COLUMNS = {name: (name,) for name in ("replication", "deal", "buyer_type", "stage", "entered",
                                       "finished", "outcome", "value")}


#: An event log covers at most a century of simulated time: a later time is a broken number.
MAX_HOURS = 100 * 366 * 24.0


def is_events(file: Export) -> bool:
    """The file has the event log's columns."""
    return all(file.column(*names) for names in COLUMNS.values())


def read(reading: Reading, file: Export) -> tuple[Visits, Deals]:
    """Visits and deals from the first replication of an event log."""
    cols = file.require(COLUMNS, "a simulated event log has the columns replication, deal, "
                        "buyer_type, stage, entered, finished, outcome and value")
    batches = list(file.batches(list(cols.values()), reading.notes))
    table = {c: pa.concat_arrays([b.values[c] for b in batches]) for c in cols.values()}
    rows = np.concatenate([b.rows for b in batches]) if batches else np.zeros(0, np.int64)
    replication = parse_numbers(table["replication"])[0]
    first = np.nanmin(replication) if len(replication) else 0.0
    if len(np.unique(replication[~np.isnan(replication)])) > 1:
        reading.notes.add("SP819", f"the event log holds several replications; replication "
                          f"{first:g} is read", file.path,
                          hint="simulate one replication to log one history")
    mine = pa.array(replication == first)
    table = {c: pc.filter(a, mine) for c, a in table.items()}
    rows = rows[np.asarray(replication == first)]
    process = reading.mapping.process
    hours = HOURS[process.time_unit]
    start = np.datetime64(process.start, "s")

    def times(column: str) -> np.ndarray:
        t, bad = parse_numbers(table[column])
        bad |= (t < 0) | (t * hours > MAX_HOURS)
        if bad.any():
            reading.notes.add("SP805", f"{column} is not a time of the simulation "
                              f"('{quoted(table[column][int(np.flatnonzero(bad)[0])].as_py())}')"
                              "; the row is left out", file.path, column=column,
                              rows=rows[bad][:5].tolist(), count=int(bad.sum()),
                              key=f"{column} time", hint="an event log's times are numbers "
                              "of the process's time unit from its start, as simulate writes")
            t[bad] = np.nan
        out = start + np.round(np.nan_to_num(t) * hours * 3600.0).astype("timedelta64[s]")
        return np.where(np.isnan(t), NAT, out)

    entered = times("entered")
    timed = ~np.isnat(entered)  # a row without a time is no visit
    if not timed.all():
        table = {c: pc.filter(a, pa.array(timed)) for c, a in table.items()}
        rows, entered = rows[timed], entered[timed]
    ids = pc.binary_join_element_wise(table["replication"], table["deal"], "-")
    encoded = ids.dictionary_encode()
    deal = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    n = len(encoded.dictionary)
    stage = reading.mapping.stage_codes(table["stage"], rows, file.path, "stage",
                                        reading.notes)
    finished = times("finished")
    outcome = table["outcome"]
    won = np.asarray(pc.equal(outcome, "won").to_numpy(zero_copy_only=False), dtype=bool)
    lost = np.asarray(pc.starts_with(outcome, "lost").to_numpy(zero_copy_only=False), dtype=bool)
    created, _ = first_and_last(deal, entered, n)
    row_value = parse_numbers(table["value"])[0]
    value = np.zeros(n)
    value[deal] = row_value
    buyers = reading.mapping.buyer_index
    kind = np.array([buyers.get(b, -1) for b in table["buyer_type"].to_pylist()], np.int16)
    buyer = np.full(n, -1, dtype=np.int16)
    buyer[deal] = kind
    reason = np.full(n, "", dtype=object)
    reason[deal[lost]] = [r.removeprefix("lost:").strip() for r in
                          pc.filter(outcome, pa.array(lost)).to_pylist()]
    ends = won | lost
    changes = Changes(np.concatenate([deal, deal[ends]]),  # each end after all visits
                      np.concatenate([stage, np.where(won[ends], WON_CODE, LOST_CODE)]).astype(
                          np.int16),
                      np.concatenate([entered, finished[ends]]))
    blank = pa.array([""] * n, pa.string())
    reading.values = Values.of(deal, entered, row_value, None, None)
    deals = Deals(id=encoded.dictionary, created=created, closed=np.full(n, NAT),
                  close_date=np.full(n, NAT),
                  outcome=np.zeros(n, np.int8), value=value, buyer=buyer,
                  reason=pc.dictionary_encode(pa.array(reason.tolist(), pa.string())),
                  currency=pa.array([process.currency] * n, pa.string()),
                  probability=np.full(n, np.nan), forecast_category=blank, owner=blank,
                  row=np.full(n, -1, dtype=np.int64))
    return build(changes, deals)
