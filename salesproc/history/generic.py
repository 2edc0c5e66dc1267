"""A generic stage-change CSV, for any CRM: one row per change of stage, with the deal's
id (`deal`), the stage it moved to (`stage`) and when (`changed_at`), and, when present,
its `amount`, `currency`, `created` date, `probability`, expected `close_date`, `owner`
and `name`. Other
names for the columns are given in the process file (`crm: {columns: {deal: Opportunity,
changed_at: Modified}}`). Any other column may feed the buyer-type rules and the loss
reason; a deal's last row counts for them and for its amount. Each row's amount,
probability and close date are the deal's from that change on (an empty cell says
nothing), so that a history as of an earlier date has them as they stood. A deal is won or
lost when it moves to a stage mapped to won or lost.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from salesproc.history.assemble import (
    DealColumns,
    Reading,
    RowValues,
    deals_from,
    settle,
    with_id,
)
from salesproc.history.csvfile import Export
from salesproc.history.table import Changes, Deals, Visits, first_and_last

DEFAULTS = {"deal": ("deal", "deal_id", "deal id"), "stage": ("stage", "stage_name", "stage name"),
            "changed_at": ("changed_at", "changed at", "changed", "date")}
OPTIONAL = {"amount": ("amount", "value"), "currency": ("currency",),
            "created": ("created", "created_at", "create date"),
            "owner": ("owner", "deal owner"), "name": ("name", "deal name", "deal_name")}
#: Per row only, with these names (crm.columns does not rename them).
VALUES = (("amount", "value"), ("probability",), ("close_date", "close date", "expected close"))


HINT = "a stage-change CSV has deal, stage and changed_at columns (other names: crm: " \
    "{columns: ...} in the process file)"


def columns(reading: Reading) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """The columns to look for: the process file's names first, then the defaults."""
    return reading.columns(DEFAULTS, OPTIONAL)


def is_generic(file: Export, reading: Reading) -> bool:
    """The file has the stage-change columns."""
    needed, _ = columns(reading)
    return all(file.column(*names) for names in needed.values())


def read(reading: Reading, files: list[Export]) -> tuple[Visits, Deals]:
    """Visits and deals from stage-change files."""
    needed, optional_names = columns(reading)
    ids, codes, times, rows, created, extra = [], [], [], [], [], []
    fields = [c for c in reading.mapping.rule_fields()]
    optional: dict[str, str | None] = {}
    stood = RowValues((optional_names["amount"], *VALUES[1:]))
    read_rows = 0
    for file in files:
        cols = file.require(needed, HINT)
        optional = {r: file.column(*n) for r, n in optional_names.items()}
        present = [file.column(f) for f in fields]
        wanted = [*cols.values(), *[c for c in optional.values() if c],
                  *[c for c in present if c], *stood.columns(file)]
        for batch in file.batches(wanted, reading.notes):
            at, ok = reading.dates(file, cols["changed_at"], batch.values[cols["changed_at"]],
                                   batch.rows, required=True)
            code = reading.mapping.stage_codes(batch.values[cols["stage"]], batch.rows,
                                               file.path, cols["stage"], reading.notes)
            when = np.full(len(batch), np.datetime64("NaT", "s"))
            if optional["created"]:
                when, fine = reading.dates(file, optional["created"],
                                           batch.values[optional["created"]], batch.rows,
                                           required=False)
                ok &= fine
            ok &= with_id(batch.values[cols["deal"]], batch.rows, file.path, cols["deal"],
                          reading.notes)
            keep = pa.array(ok)
            kept = int(ok.sum())
            stood.add(reading, file, batch, ok, np.arange(read_rows, read_rows + kept), at[ok])
            read_rows += kept
            ids.append(pc.filter(batch.values[cols["deal"]], keep))
            codes.append(code[ok])
            times.append(at[ok])
            created.append(when[ok])
            rows.append(batch.rows[ok])
            extra.append({role: pc.filter(batch.values[name], keep)
                          for role, name in [*[(r, c) for r, c in optional.items() if c],
                                             *[(f, c) for f, c in zip(fields, present,
                                                                       strict=True) if c]]})
    encoded = pa.concat_arrays(ids).dictionary_encode() if ids else \
        pa.array([], pa.string()).dictionary_encode()
    deal = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    code = np.concatenate(codes) if codes else np.zeros(0, np.int16)
    at = np.concatenate(times) if times else np.zeros(0, "datetime64[s]")
    origin = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    born = np.concatenate(created) if created else np.zeros(0, "datetime64[s]")
    n = len(encoded.dictionary)
    first_at, last_row = first_and_last(deal, at, n)
    born_given = born[last_row] if len(last_row) else born
    start = np.where(np.isnat(born_given), first_at, np.minimum(born_given, first_at))

    def last(role: str) -> pa.Array | None:
        parts = [e[role] for e in extra if role in e]
        return pa.concat_arrays(parts).take(pa.array(last_row)) if parts else None

    deals = deals_from(reading, DealColumns(
        files[0], origin[last_row] if len(last_row) else origin, encoded.dictionary,
        last("amount"), last("currency"), owner=last("owner"),
        fields={f: a for f in fields if (a := last(f)) is not None}, name=last("name")),
        start)
    reading.values = stood.values(reading, deals, files[0].path, deal)
    if reading.values is not None:
        latest = reading.values.stood(deals)
        deals = replace(deals, probability=latest.probability, close_date=latest.close_date)
    return settle(Changes(deal, code, at), deals, None, None,
                  np.full(n, np.datetime64("NaT", "s")), files[0].path, reading.notes)
