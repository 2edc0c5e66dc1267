"""What every reader does the same way: dates checked against today, one row per deal
(duplicates noted), values in the process's currency, buyer types, and the outcome the
CRM's own flags give where its stage history has none."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from salesproc.core.diagnostics import quoted
from salesproc.history.csvfile import (
    Batch,
    Export,
    day_first,
    folded,
    parse_amounts,
    parse_dates,
)
from salesproc.history.mapping import Mapping as CrmMapping
from salesproc.history.notes import Notebook
from salesproc.history.table import (
    LOST_CODE,
    NAT,
    OPEN,
    OUTCOME_LOST,
    OUTCOME_WON,
    WON_CODE,
    Changes,
    Deals,
    Values,
    Visits,
    build,
    last_visits,
)

TRUE = ("true", "1", "yes", "y", "t", "x")


@dataclass
class Reading:
    """The state of one read: the mapping, the notes, and today (for dates in the future)."""

    mapping: CrmMapping
    notes: Notebook
    today: dt.date
    #: What the history rows said each deal's amount, probability and expected close date
    #: were (set by readers whose export has them; None: it has only today's).
    values: Values | None = None
    _order: dict[tuple[str, str], bool] = field(default_factory=dict)

    @property
    def latest(self) -> np.datetime64:
        """The last moment that is not in the future: the end of today."""
        return np.datetime64(self.today + dt.timedelta(days=1), "s") - np.timedelta64(1, "s")

    def columns(self, needed: Mapping[str, tuple[str, ...]],
                optional: Mapping[str, tuple[str, ...]]
                ) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
        """The names to look for of each role in *needed* and *optional* (role -> default
        names): the process file's name for it (crm.columns) alone, else the defaults."""
        given = self.mapping.crm.columns

        def names(role: str, defaults: tuple[str, ...]) -> tuple[str, ...]:
            return (given[role],) if role in given else defaults

        return ({r: names(r, d) for r, d in needed.items()},
                {r: names(r, d) for r, d in optional.items()})

    def dates(self, file: Export, column: str, values: pa.Array, rows: np.ndarray,
              *, required: bool, planned: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(times, usable): unreadable dates, and missing ones where *required*, get a
        note; dates after today get one too and are not usable, unless the column holds
        *planned* dates (an open deal's close date is in the future)."""
        times, bad = parse_dates(values, self._day_first(file, column, values))
        missing = np.isnat(times) & ~bad
        for mask, what in ((bad, "cannot be read as a date"),
                           (missing if required else np.zeros(0, bool), "is empty")):
            if mask.any():
                first = values[int(np.flatnonzero(mask)[0])].as_py()
                sample = f" ('{quoted(first)}')" if what.startswith("cannot") else ""
                self.notes.add("SP805", f"{column} {what}{sample}; the row is left out",
                               file.path, rows=rows[mask][:5].tolist(), count=int(mask.sum()),
                               column=column, key=f"{column} {what}",
                               hint="dates read are like 2026-03-01, 2026-03-01T10:15:00Z, "
                               "03/01/2026 and 01.03.2026")
        future = times > self.latest if not planned else np.zeros(len(times), dtype=bool)
        if future.any():
            self.notes.add("SP806", f"{column} is after today ({self.today.isoformat()}); "
                           "the row is left out", file.path, rows=rows[future][:5].tolist(),
                           count=int(future.sum()), column=column, key=column,
                           hint="check the dates, or the machine's clock")
        usable = ~np.isnat(times) & ~future if required else ~bad & ~future
        return np.where(future, NAT, times), usable

    def _day_first(self, file: Export, column: str, values: pa.Array) -> bool:
        """Day or month first, decided once per file and column from the first block."""
        key = (file.path, column)
        if key not in self._order:
            found = day_first(values)
            if found is None:
                found = self.mapping.crm.day_first
                self.notes.add("SP814", f"{column} has dates like 03/04/2026 that could be "
                               f"day or month first; read as {'day' if found else 'month'} "
                               "first", file.path, column=column,
                               hint="say which in the process file: crm: {dates: day_first} "
                               "or crm: {dates: month_first}")
            self._order[key] = found
        return self._order[key]


def with_id(ids: pa.Array, rows: np.ndarray, file: str, column: str,
            notes: Notebook) -> np.ndarray:
    """Which rows have a deal id; the others are noted (SP842): rows without one are no
    deal, and taken together they would be one deal made of many."""
    empty = np.asarray(pc.equal(pc.utf8_trim_whitespace(ids), "").to_numpy(
        zero_copy_only=False), dtype=bool)
    if empty.any():
        notes.add("SP842", f"rows have no deal id ({column} is empty); left out", file,
                  rows=rows[empty][:5].tolist(), count=int(empty.sum()), column=column,
                  key=f"no id {column}", hint="export the deal's record id with every row")
    return ~empty


def first_rows(ids: pa.Array, rows: np.ndarray, file: str, notes: Notebook,
               column: str = "id") -> np.ndarray:
    """Positions of each deal id's first row; later rows with the same id are noted, and
    rows without an id left out (SP842)."""
    named = with_id(ids, rows, file, column, notes)
    encoded = pc.dictionary_encode(ids)
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    if not named.all():  # every row without an id is its own 'first', then dropped
        indices = np.where(named, indices, -1 - np.arange(len(indices)))
    _, first = np.unique(indices, return_index=True)
    first.sort()
    if len(first) < len(ids):
        later = np.ones(len(ids), dtype=bool)
        later[first] = False
        notes.add("SP808", "a deal id appears again; the later row is left out", file,
                  rows=rows[later][:5].tolist(), count=int(later.sum()),
                  hint="export each deal once (remove repeated rows)")
    kept: np.ndarray = first[named[first]]
    return kept


def concat(batches: Sequence[Batch], column: str) -> pa.Array:
    """One column of every batch, as one array."""
    chunks = [b.values[column] for b in batches]
    return pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())


def rows_of(batches: Sequence[Batch]) -> np.ndarray:
    """The row numbers of every batch, in order."""
    return np.concatenate([b.rows for b in batches]) if batches else np.zeros(0, np.int64)


@dataclass(frozen=True)
class DealColumns:
    """One row per deal, as text, with where each came from."""

    file: Export
    rows: np.ndarray
    ids: pa.Array
    amount: pa.Array | None = None
    currency: pa.Array | None = None
    probability: pa.Array | None = None
    category: pa.Array | None = None
    owner: pa.Array | None = None
    fields: Mapping[str, pa.Array] = field(default_factory=dict)
    close_date: np.ndarray | None = None  # datetime64[s], the expected close date
    name: pa.Array | None = None  # the deal's name (Salesforce's Name, HubSpot's Deal Name)


def deals_from(reading: Reading, cols: DealColumns, created: np.ndarray) -> Deals:
    """Deals from their columns: values in the process's currency (notes for unreadable
    and empty amounts), the loss reason, the buyer type by the mapping's rules."""
    size = len(cols.ids)
    notes, path = reading.notes, cols.file.path
    blank = pa.array([""] * size, pa.string())
    value = np.full(size, np.nan)
    if cols.amount is not None:
        value, bad = parse_amounts(cols.amount)
        if bad.any():
            first = cols.amount[int(np.flatnonzero(bad)[0])].as_py()
            notes.add("SP809", f"an amount is not a number ('{quoted(first)}'); that deal's "
                      "value is unknown", path, rows=cols.rows[bad][:5].tolist(),
                      count=int(bad.sum()), key="amount",
                      hint="amounts read are like 1200, 1,200.50, 1.200,50 or $1,200")
        bad |= negative(value, cols.amount, cols.rows, path, notes, "that deal's value is "
                        "unknown", None)
        empty = np.isnan(value) & ~bad
        if empty.any():
            notes.add("SP817", "deals have no amount; their value is unknown", path,
                      rows=cols.rows[empty][:5].tolist(), count=int(empty.sum()),
                      key="empty amount")
        value = reading.mapping.values(value, cols.currency, cols.rows, path, notes)
    reason_column = reading.mapping.crm.lost_reason
    reason = cols.fields.get(reason_column) if reason_column else None
    probability = shares(probabilities(cols.probability, cols.rows, path, notes, None)) \
        if cols.probability is not None else np.full(size, np.nan)
    buyer = reading.mapping.buyers(cols.fields, value, size)
    if len(reading.mapping.process.buyer_types) > 1 and (buyer < 0).any():
        none = buyer < 0
        notes.add("SP812", "deals match no crm.buyer_types rule; they count in the totals "
                  "only", path, rows=cols.rows[none][:5].tolist(), count=int(none.sum()),
                  hint="add a rule for them, or crm: {default_buyer_type: ...}")
    return Deals(
        id=cols.ids, created=created, closed=np.full(size, NAT),
        close_date=cols.close_date if cols.close_date is not None else np.full(size, NAT),
        outcome=np.zeros(size, dtype=np.int8), value=value,
        buyer=buyer,
        reason=compact(reading.mapping.reasons(reason) if reason is not None else blank),
        currency=compact(cols.currency if cols.currency is not None else
                         pa.array([reading.mapping.process.currency] * size, pa.string())),
        probability=probability,
        forecast_category=compact(cols.category if cols.category is not None else blank),
        owner=compact(cols.owner if cols.owner is not None else blank),
        row=np.asarray(cols.rows, dtype=np.int64), fields=deal_fields(reading, cols),
        name=cols.name.cast(pa.string()) if cols.name is not None else None)


def deal_fields(reading: Reading, cols: DealColumns) -> dict[str, np.ndarray | pa.Array]:
    """The deal fields crm: fields: maps, from their columns: a number field read as
    amounts are (an unreadable one is unknown, with a note per row: SP854), a category
    folded as stage names are. A column the export lacks is noted (SP853) and the field
    unknown for every deal: what else the export holds can still be measured."""
    size, path, notes = len(cols.ids), cols.file.path, reading.notes
    numbers = reading.mapping.number_fields()
    out: dict[str, np.ndarray | pa.Array] = {}
    for fid, column in reading.mapping.crm.fields.items():
        text = cols.fields.get(column)
        if text is None:
            notes.add("SP853", f"the column '{quoted(column)}' that crm: fields: reads "
                      f"'{fid}' from is not in the export; every deal's {fid} is unknown",
                      path, row=cols.file.header_row, column=column, key=f"field {fid}",
                      hint="name the export's column in crm: fields:, or export the column")
            out[fid] = np.full(size, np.nan) if fid in numbers else \
                compact(pa.array([""] * size, pa.string()))
        elif fid in numbers:
            value, bad = parse_amounts(text.cast(pa.string()))
            if bad.any():
                first = text[int(np.flatnonzero(bad)[0])].as_py()
                notes.add("SP854", f"{fid} is not a number ('{quoted(first)}'); that deal's "
                          f"{fid} is unknown", path, rows=cols.rows[bad][:5].tolist(),
                          count=int(bad.sum()), column=column, key=f"field {fid}",
                          hint="numbers read are like 0.25, 1,200.50 or 1.200,50")
            out[fid] = value
        else:
            out[fid] = named(compact(folded(text.cast(pa.string()))),
                             reading.mapping.categories(fid))
    return out


def named(words: pa.DictionaryArray, names: Mapping[str, str]) -> pa.DictionaryArray:
    """Folded category text with the categories the process declares written as it
    writes them ('EMEA ' in the export is the file's 'EMEA'); the rest as folded."""
    if not names:
        return words
    dictionary = [names.get(w, w) for w in words.dictionary.to_pylist()]
    return pa.DictionaryArray.from_arrays(words.indices, pa.array(dictionary, pa.string()))


def negative(values: np.ndarray, text: pa.Array, rows: np.ndarray, file: str,
             notes: Notebook, what: str, column: str | None) -> np.ndarray:
    """Which *values* (amounts read from *text*) are below zero, made unknown (NaN, in
    place) with a note (SP843): a credit note or a refund is no deal's value, and as a
    negative revenue it would lower every total without a word."""
    below = values < 0
    if below.any():
        first = text[int(np.flatnonzero(below)[0])].as_py()
        notes.add("SP843", f"an amount is below zero ('{quoted(first)}'); {what}", file,
                  rows=rows[below][:5].tolist(), count=int(below.sum()), column=column,
                  key=f"negative {what}", hint="a credit note or a refund: leave it out of "
                  "the deals export, or give the deal's own value")
        values[below] = np.nan
    return below


def probabilities(text: pa.Array, rows: np.ndarray, file: str, notes: Notebook,
                  column: str | None) -> np.ndarray:
    """A column of CRM probabilities as numbers (percentages or shares: see
    :func:`shares`); those that are neither — below 0 or above 100 — are unknown (NaN),
    with a note (SP844), rather than a chance of 150% or -40%."""
    values, _ = parse_amounts(text)
    wrong = (values < 0) | (values > 100)
    if wrong.any():
        first = text[int(np.flatnonzero(wrong)[0])].as_py()
        notes.add("SP844", f"a probability is outside 0–100% ('{quoted(first)}'); the "
                  "deal's probability is unknown", file, rows=rows[wrong][:5].tolist(),
                  count=int(wrong.sum()), column=column, key="probability",
                  hint="a CRM probability is a percentage from 0 to 100")
        values[wrong] = np.nan
    return values


def shares(probabilities: np.ndarray) -> np.ndarray:
    """A column of probabilities as shares (0–1): percentages where any is above 1
    (Salesforce writes 60 for 60%)."""
    if np.nanmax(probabilities, initial=0.0) > 1.0:
        return probabilities / 100.0
    return probabilities


#: Names a history's amount, probability and expected close date columns go by.
ValueNames = tuple[Sequence[str], Sequence[str], Sequence[str]]


@dataclass
class RowValues:
    """What history rows say a deal's amount, probability and expected close date were,
    gathered a block at a time as numbers (the text is not kept), for :class:`Values`.
    A file without one of the columns says nothing of it."""

    names: ValueNames
    _deal: list[np.ndarray] = field(default_factory=list)
    _at: list[np.ndarray] = field(default_factory=list)
    _amount: list[np.ndarray] = field(default_factory=list)
    _probability: list[np.ndarray] = field(default_factory=list)
    _close: list[np.ndarray] = field(default_factory=list)
    _has: list[bool] = field(default_factory=lambda: [False, False, False])

    def columns(self, file: Export) -> list[str]:
        """The columns of *file* to read for the values."""
        return [c for names in self.names if (c := file.column(*names))]

    def add(self, reading: Reading, file: Export, batch: Batch, keep: np.ndarray,
            deal: np.ndarray, at: np.ndarray) -> None:
        """The rows *keep* (a mask of *batch*), of deals *deal* at times *at* (the kept
        rows'). An unreadable amount or date is noted and says nothing."""
        amount, probability, close = (file.column(*names) for names in self.names)
        if not (amount or probability or close):
            return
        rows, picked = batch.rows[keep], pa.array(keep)
        size = len(rows)
        self._deal.append(deal)
        self._at.append(at)
        values = np.full(size, np.nan)
        if amount:
            text = pc.filter(batch.values[amount], picked)
            values, bad = parse_amounts(text)
            if bad.any():
                reading.notes.add("SP809", f"an amount is not a number "
                                  f"('{quoted(text[int(np.flatnonzero(bad)[0])].as_py())}'); "
                                  "the row says nothing of the deal's value", file.path,
                                  rows=rows[bad][:5].tolist(), count=int(bad.sum()),
                                  key="row amount", column=amount)
            negative(values, text, rows, file.path, reading.notes,
                     "the row says nothing of the deal's value", amount)
        self._amount.append(values)
        self._probability.append(
            probabilities(pc.filter(batch.values[probability], picked), rows, file.path,
                          reading.notes, probability)
            if probability else np.full(size, np.nan))
        self._close.append(reading.dates(file, close, pc.filter(batch.values[close], picked),
                                         rows, required=False, planned=True)[0]
                           if close else np.full(size, NAT))
        for k, name in enumerate((amount, probability, close)):
            self._has[k] = self._has[k] or name is not None

    def values(self, reading: Reading, deals: Deals, file: str,
               renumber: np.ndarray | None = None) -> Values | None:
        """The table, amounts in the process's currency at each deal's own rate; the deals
        given to :meth:`add` are *renumber*'s indexes where it is given."""
        if not self._deal:
            return None
        deal = np.concatenate(self._deal)
        if renumber is not None:
            deal = renumber[deal]
        amount = None
        if self._has[0]:
            rate = reading.mapping.values(np.ones(len(deals)), deals.currency.cast(pa.string()),
                                          np.zeros(len(deals), np.int64), file, Notebook())
            amount = np.concatenate(self._amount) * rate[deal]  # the deals' notes say which
        return Values.of(deal, np.concatenate(self._at), amount,
                         shares(np.concatenate(self._probability)) if self._has[1] else None,
                         np.concatenate(self._close) if self._has[2] else None)


def compact(words: pa.Array) -> pa.Array:
    """Text that repeats (reasons, currencies, owners), each distinct word kept once."""
    return pc.dictionary_encode(words)


def flags(values: pa.Array | None) -> np.ndarray | None:
    """true/false columns (IsWon, IsClosed) as booleans."""
    if values is None:
        return None
    text = pc.utf8_lower(pc.utf8_trim_whitespace(values))
    return np.asarray(pc.is_in(text, value_set=pa.array(TRUE)).to_numpy(zero_copy_only=False),
                      dtype=bool)


def settle(changes: Changes, deals: Deals, won: np.ndarray | None, closed: np.ndarray | None,
           close_dates: np.ndarray, file: str, notes: Notebook) -> tuple[Visits, Deals]:
    """Build the visits, and where the CRM's flags (won, closed) say a deal is won or lost
    but its stage history does not, take the flags' outcome: the deal's last visit ends
    then, at its close date (or when the visit began, if that is later), with a note."""
    visits, built = build(changes, deals)
    if won is None or closed is None:
        return visits, built
    want = np.where(closed, np.where(won, OUTCOME_WON, OUTCOME_LOST), -1)
    wrong = (want >= 0) & (built.outcome != want)
    if not wrong.any():
        return visits, built
    notes.add("SP816", "deals the export marks as won or lost have no such last stage in "
              "their history; the export's outcome is used, at the close date", file,
              count=int(wrong.sum()),
              hint="map the CRM's closing stages to won or lost in crm: stages:")
    fix = np.flatnonzero(wrong)
    code = np.where(want[fix] == OUTCOME_WON, WON_CODE, LOST_CODE).astype(np.int16)
    last = last_visits(visits, len(deals))[fix]
    has = last >= 0
    k = last[has]
    exits, lefts = visits.exit.copy(), visits.left.copy()
    running = exits[k] == OPEN  # still in its stage by the history: it ends at the close
    other = (exits[k] == WON_CODE) | (exits[k] == LOST_CODE)  # the history's other outcome
    ends = np.where(np.isnat(close_dates[fix][has]), visits.entered[k],
                    np.maximum(close_dates[fix][has], visits.entered[k]))
    lefts[k[running]] = ends[running]
    exits[k[running | other]] = code[has][running | other]
    outcome, closed_at = built.outcome.copy(), built.closed.copy()
    outcome[fix] = want[fix]
    when = np.where(np.isnat(close_dates[fix]), np.datetime64("NaT", "s"), close_dates[fix])
    when[has] = np.where(np.isnat(lefts[k]), ends, lefts[k])
    closed_at[fix] = when
    return (Visits(visits.deal, visits.stage, visits.entered, lefts, exits),
            replace(built, outcome=outcome, closed=closed_at))
