"""A `crm:` section proposed from an export: its stage names in their usual order (by
where they fall in deals' timelines), with counts, each mapped to the closest stage of the
process by name, else to the outcome its name says, else by its place in the order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from salesproc.diagnostics import did_you_mean
from salesproc.history import generic, hubspot, salesforce
from salesproc.history.assemble import Reading
from salesproc.history.csvfile import CsvFile, parse_amounts
from salesproc.history.mapping import OUTCOME_NAMES, Mapping, _yaml_key
from salesproc.history.notes import Notebook
from salesproc.history.read import Format, format_of
from salesproc.model import LOST, WON, Process, fold


def stage_names(files: Sequence[CsvFile], reading: Reading, kind: Format
                ) -> list[tuple[str, int, int, float]]:
    """(name, rows, deals, usual place 0..1) of each CRM stage name, in their usual order."""
    names: list[pa.Array] = []
    deals: list[pa.Array] = []
    times: list[np.ndarray] = []
    for file in files:
        if kind == "hubspot":
            entered = [c for c in file.header if hubspot.ENTERED.match(c)]
            header = [file.column(*hubspot.COLUMNS["created"]) or "", *entered]
            for batch in file.batches(header, reading.notes):
                for c in entered:
                    stage = hubspot.ENTERED.match(c).group("stage")  # type: ignore[union-attr]
                    at, ok = reading.dates(file, c, batch.values[c], batch.rows, required=False)
                    has = ok & ~np.isnat(at)
                    names.append(pa.array([stage] * int(has.sum()), pa.string()))
                    deals.append(pa.array([str(r) for r in batch.rows[has]], pa.string()))
                    times.append(at[has].astype(np.int64).astype(float))
            continue
        if kind == "salesforce":
            if not salesforce.is_history(file):
                continue
            found = file.require(salesforce.HISTORY_COLUMNS, salesforce.HINT)
            deal, stage, at_col = found["deal"], found["stage"], found["at"]
        elif kind == "events":
            deal, stage, at_col = "deal", "stage", "entered"
        else:
            found = file.require(generic.columns(reading)[0], "")
            deal, stage, at_col = found["deal"], found["stage"], found["changed_at"]
        for batch in file.batches([deal, stage, at_col], reading.notes):
            if kind == "events":
                at = parse_amounts(batch.values[at_col])[0]
                ok = ~np.isnan(at)
            else:
                dated, ok = reading.dates(file, at_col, batch.values[at_col], batch.rows,
                                          required=True)
                at = dated.astype(np.int64).astype(float)
            names.append(pc.filter(batch.values[stage], pa.array(ok)))
            deals.append(pc.filter(batch.values[deal], pa.array(ok)))
            times.append(at[ok])
    if not names:
        return []
    name = pa.concat_arrays(names).dictionary_encode()
    code = name.indices.to_numpy(zero_copy_only=False)
    deal = pa.concat_arrays(deals).dictionary_encode().indices.to_numpy(
        zero_copy_only=False).astype(np.int64)
    at = np.concatenate(times)
    order = np.lexsort((at, deal))
    d = deal[order]
    start = np.ones(len(d), dtype=bool)
    start[1:] = d[1:] != d[:-1]
    group = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    size = np.diff(np.append(first, len(d)))
    rank = (np.arange(len(d)) - first[group]) / np.maximum(size[group] - 1, 1)
    place = np.empty(len(d))
    place[order] = rank
    out = []
    for k, word in enumerate(name.dictionary.to_pylist()):
        mine = code == k
        out.append((str(word), int(mine.sum()), len(np.unique(deal[mine])),
                    float(np.median(place[mine]))))
    return sorted(out, key=lambda r: (r[3], -r[1]))


def suggest_mapping(paths: Sequence[str], process: Process, kind: Format | None = None,
                    today: dt.date | None = None) -> str:
    """A `crm:` section to paste into the process file, as YAML with comments."""
    reading = Reading(Mapping(process), Notebook(), today or dt.date.today())
    files = [CsvFile(p, "CSV") for p in paths]
    kinds = {format_of(f, reading, kind)[0] for f in files}
    found = stage_names(files, reading, kinds.pop())
    stages = list(process.stages)
    by_name = {fold(s.name): sid for sid, s in process.stages.items()} | \
        {fold(sid): sid for sid in stages}
    outcomes = {n: o for o, names in OUTCOME_NAMES.items() for n in names}
    lines = ["# A crm: section proposed from the export: CRM stage names in their usual order",
             "# (rows, deals). Check each target, then paste it into the process file.",
             "crm:", "  stages:"]
    plain = [r for r in found if fold(r[0]) not in outcomes and
             not any(w in fold(r[0]) for w in ("won", "lost"))]
    for name, rows, deal_count, _ in found:
        key = fold(name)
        if key in by_name:
            target, why = by_name[key], "same name"
        elif key in outcomes or "won" in key or "lost" in key:
            target = outcomes.get(key, WON if "won" in key else LOST)
            why = "an outcome"
        else:
            guess = did_you_mean(key, list(by_name))
            if guess:
                target, why = by_name[guess.split("'")[1]], "similar name"
            else:
                place = [r[0] for r in plain].index(name)
                target = stages[min(len(stages) - 1, place * len(stages) // max(len(plain), 1))]
                why = "guessed from its place in the order"
        lines.append(f"    {_yaml_key(name)}: {target}".ljust(42)
                     + f"  # {rows:,} rows, {deal_count:,} deals; {why}")
    return "\n".join(lines) + "\n"
