"""HubSpot: a deals export (one row per deal) with `Deal Stage`, `Create Date`, and, when
present, `Record ID` (or `Deal ID`), `Amount`, `Close Date`, `Pipeline`, `Deal owner`
(or `hubspot_owner_id`, as it comes), `Deal probability`, `Forecast category`,
`Currency`, the columns the `crm:` rules, `crm.lost_reason` and `crm.fields` name (e.g.
`Closed Lost Reason`, `Region`), and a `Date entered "<stage>"` column
for each stage (HubSpot may add the pipeline: `Date entered "Demo (Sales Pipeline)"`).

HubSpot keeps one entry date per stage, so a deal that went back to a stage shows only its
last entry there: rework loops are not visible in this export. Without any `Date entered`
column of a process stage, the export is a deal table (history/dealtable.py): each open
deal is taken to have been in its current stage since it was created, a closed deal
closed at its close date. The export holds only today's amount, probability and close
date: a history as of an earlier date has those, not the ones that stood then.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from salesproc.core.diagnostics import shown
from salesproc.core.units import plural
from salesproc.history import dealtable
from salesproc.history.assemble import (
    DealColumns,
    Reading,
    concat,
    deals_from,
    first_rows,
    rows_of,
    settle,
)
from salesproc.history.csvfile import Export, folded
from salesproc.history.mapping import Mapping, _yaml_key, without_pipeline
from salesproc.history.table import LOST_CODE, UNMAPPED, WON_CODE, Changes, Deals, Visits
from salesproc.process.model import fold

COLUMNS = {"stage": ("Deal Stage", "Dealstage"), "created": ("Create Date", "Createdate")}
OPTIONAL = {"id": ("Record ID", "Deal ID", "Deal Record ID", "hs_object_id"),
            "amount": ("Amount",), "close": ("Close Date", "Closedate"),
            "pipeline": ("Pipeline",), "owner": ("Deal owner", "Deal Owner", "HubSpot Owner",
                                                 "hubspot_owner_id"),
            "probability": ("Deal probability", "Probability"),
            "category": ("Forecast category", "Forecast Category"),
            "currency": ("Currency", "Deal currency code"), "name": ("Deal Name", "dealname")}
ENTERED = re.compile(r'^date entered\s+["“](?P<stage>.+)["”]$', re.IGNORECASE)
HINT = "a HubSpot deals export has Deal Stage and Create Date"


def is_hubspot(file: Export) -> bool:
    """The file has HubSpot's deal columns."""
    return all(file.column(*names) for names in COLUMNS.values())


def has_stage_dates(file: Export, mapping: Mapping) -> bool:
    """The export has a `Date entered "<stage>"` column of a stage of the process (else
    it is a deal table: entry dates of won and lost alone are no stage history)."""
    return any(mapping.lookup(fold(m.group("stage"))) >= 0 for name in file.header
               if (m := ENTERED.match(name)))


def read(reading: Reading, file: Export) -> tuple[Visits, Deals]:
    """Visits and deals from a HubSpot deals export."""
    cols = file.require(COLUMNS, HINT)
    optional = {role: file.column(*names) for role, names in OPTIONAL.items()}
    entered = {name: m.group("stage") for name in file.header if (m := ENTERED.match(name))}
    extra = [c for c in reading.mapping.rule_fields() if file.column(c)]
    wanted = [*cols.values(), *[c for c in optional.values() if c], *entered,
              *[file.column(c) or c for c in extra]]
    batches = list(file.batches(wanted, reading.notes))
    rows = rows_of(batches)
    created, ok = reading.dates(file, cols["created"], concat(batches, cols["created"]), rows,
                                required=True)
    pipeline = reading.mapping.crm.pipeline
    if pipeline and optional["pipeline"]:
        ok &= np.asarray(pc.equal(folded(concat(batches, optional["pipeline"])),
                                  pipeline.lower()).to_numpy(zero_copy_only=False), dtype=bool)
    keep = np.flatnonzero(ok)
    if not pipeline and optional["pipeline"]:
        _several_pipelines(concat(batches, optional["pipeline"]).take(pa.array(keep)),
                           file.path, optional["pipeline"], reading)
    ids = concat(batches, optional["id"]).take(pa.array(keep)) if optional["id"] else \
        pa.array([str(r) for r in rows[keep]], pa.string())
    first = keep[first_rows(ids, rows[keep], file.path, reading.notes,
                            optional["id"] or "row")]

    def col(name: str | None) -> pa.Array | None:
        return None if name is None else concat(batches, name).take(pa.array(first))

    n = len(first)
    close = np.full(n, np.datetime64("NaT", "s"))
    if optional["close"]:
        close = reading.dates(file, optional["close"], col(optional["close"]), rows[first],
                              required=False, planned=True)[0]
    given = col(optional["id"])
    deal_ids = given if given is not None else \
        pa.array([f"row {r}" for r in rows[first]], pa.string())
    deals = deals_from(reading, DealColumns(
        file, rows[first], deal_ids, col(optional["amount"]), col(optional["currency"]),
        col(optional["probability"]), col(optional["category"]), col(optional["owner"]),
        {name: col(file.column(name)) for name in extra}, close,
        name=col(optional["name"])), created[first])
    stage_text = col(cols["stage"])
    assert stage_text is not None
    if not has_stage_dates(file, reading.mapping):  # no stage dates: a deal table
        # stage dates of stages nobody mapped: a mapping's mistake (SP850); a deal's
        # current stage is counted once, by settle, not again by its own date
        current = np.array([without_pipeline(fold(str(s))) for s in stage_text.to_pylist()])
        for column, stage in entered.items():
            if reading.mapping.lookup(fold(stage)) == UNMAPPED:
                dated = ~np.isnat(reading.dates(file, column, col(column), rows[first],
                                                required=False)[0])
                name = without_pipeline(fold(stage))
                filled = int((dated & (current != name)).sum())
                reading.mapping.tally.count(np.full(filled, UNMAPPED), [name])
        return dealtable.settle(reading, deals, stage_text, rows[first], file.path,
                                cols["stage"], close)
    stage_now = reading.mapping.stage_codes(stage_text, rows[first], file.path,
                                            cols["stage"], reading.notes)
    deal_parts, code_parts, at_parts = [], [], []
    for column, stage in entered.items():
        code_of_stage = reading.mapping.lookup(fold(stage))
        times, usable = reading.dates(file, column, col(column), rows[first], required=False)
        has = usable & ~np.isnat(times)
        if code_of_stage == UNMAPPED:  # a stage the mapping does not know: noted by column
            if has.any():
                reading.mapping.stage_codes(pa.array([stage] * int(has.sum())),
                                            rows[first][has], file.path, column, reading.notes)
            continue
        early = has & (times < deals.created)
        if early.any():
            reading.notes.add("SP807", f"{column} is before the deal was created; left out",
                              file.path, rows=rows[first][early][:5].tolist(),
                              count=int(early.sum()), column=column, key=column)
        has &= ~early
        deal_parts.append(np.flatnonzero(has))
        code_parts.append(np.full(int(has.sum()), code_of_stage, dtype=np.int16))
        at_parts.append(times[has])
    deal = np.concatenate(deal_parts) if deal_parts else np.zeros(0, np.int64)
    code = np.concatenate(code_parts) if code_parts else np.zeros(0, np.int16)
    at = np.concatenate(at_parts) if at_parts else np.zeros(0, "datetime64[s]")
    won = stage_now == WON_CODE
    lost = stage_now == LOST_CODE
    return settle(Changes(deal.astype(np.int64), code, at),
                  deals, won, won | lost, close, file.path, reading.notes)


def _several_pipelines(names: pa.Array, file: str, column: str, reading: Reading) -> None:
    """A note (SP851) where the deals come from several pipelines and crm: pipeline names
    none: each pipeline with its deals, measured together as one process."""
    counts = pc.value_counts(pc.utf8_trim_whitespace(names)).to_pylist()
    found = sorted(((c["values"], c["counts"]) for c in counts if c["values"]),
                   key=lambda vc: -vc[1])
    if len(found) < 2:
        return
    listed = ", ".join(f"{shown(name)} ({count:,} {plural('deal', count)})"
                       for name, count in found[:6])
    reading.notes.add("SP851", f"the export holds {len(found)} pipelines, measured as one "
                      f"process: {listed}{', …' if len(found) > 6 else ''}", file,
                      column=column, hint="measure one pipeline at a time: crm: {pipeline: "
                      f"{_yaml_key(found[0][0])}}} in the process file")
