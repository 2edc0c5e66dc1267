"""The deal history: one typed, columnar table of deals and one of their stage visits,
whatever CRM it came from. Measuring, calibrating and forecasting all read this.

Readers (one module per CRM) turn an export into *changes* — a deal entered a stage, or
was won or lost, at a time — and :func:`build` makes the visits from them: the one home
of the rules that sort changes, fold repeated rows, and end a visit at the next change.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from salesproc.core import optional
from salesproc.history.notes import Note
from salesproc.process.model import LOST, WON, Process

if TYPE_CHECKING:
    import pandas

# Codes of a change or of a visit's exit, besides stage indexes (0, 1, ... in file order).
WON_CODE, LOST_CODE, UNMAPPED, OPEN = -1, -2, -3, -4
OUTCOME_OPEN, OUTCOME_WON, OUTCOME_LOST = 0, 1, 2
OUTCOMES = ("open", WON, LOST)
NAT = np.datetime64("NaT", "s")
# What a History knows of its deals' stages (History.kind): a stage history; a deal table
# (one row per deal: the open deals' current stage, since an unknown time); a deal table
# cut before its export (where the deals open then were is unknown).
STAGE_HISTORY, DEAL_TABLE, DEAL_TABLE_CUT = "stage history", "deal table", "deal table, cut"


@dataclass(frozen=True)
class Deals:
    """One row per deal. Times are datetime64[s] (NaT: none); *value* is in the process's
    currency (NaN: unknown); *buyer* an index into the process's buyer types (-1: none)."""

    id: pa.Array  # text
    created: np.ndarray
    closed: np.ndarray  # when won or lost; NaT while open
    close_date: np.ndarray  # the expected close date the CRM holds (CloseDate); NaT: none
    outcome: np.ndarray  # int8: OUTCOME_OPEN, OUTCOME_WON, OUTCOME_LOST
    value: np.ndarray  # float64
    buyer: np.ndarray  # int16
    reason: pa.Array  # text: why it was lost ('' when not lost or not said)
    currency: pa.Array  # text: the currency the CRM holds the amount in
    probability: np.ndarray  # float64: the CRM's own chance to win (NaN: none)
    forecast_category: pa.Array  # text: the CRM's forecast category ('' when none)
    owner: pa.Array  # text
    row: np.ndarray  # int64: its row in the export (its last, in a file of changes); -1: none
    #: The deal fields crm: fields: maps, by field id: a number field's float64 (NaN:
    #: unknown), a category field's text, folded as stage names are ('' when empty).
    fields: Mapping[str, np.ndarray | pa.Array] = field(default_factory=dict)
    name: pa.Array | None = None  # text: the deal's name in the CRM (None: not exported)

    def __len__(self) -> int:
        return len(self.created)

    def take(self, index: np.ndarray) -> Deals:
        """The deals at *index* (int positions), in that order."""
        picked = pa.array(index, type=pa.int64())

        def taken(col: np.ndarray | pa.Array | None) -> np.ndarray | pa.Array | None:
            if col is None:
                return None
            return col.take(picked) if isinstance(col, pa.Array) else col[index]

        columns: dict[str, Any] = {
            name: {f: taken(c) for f, c in col.items()} if name == "fields" else taken(col)
            for name, col in self.__dict__.items()}
        return Deals(**columns)


@dataclass(frozen=True)
class Visits:
    """One row per stage visit: *deal* is a row of :class:`Deals`, *stage* a stage index,
    *left* NaT while the deal is still in the stage, *exit* the stage it went to next, or
    WON_CODE, LOST_CODE, UNMAPPED (a stage the mapping does not know) or OPEN."""

    deal: np.ndarray  # int32
    stage: np.ndarray  # int16
    entered: np.ndarray  # datetime64[s]
    left: np.ndarray  # datetime64[s]
    exit: np.ndarray  # int16

    def __len__(self) -> int:
        return len(self.deal)

    def where(self, mask: np.ndarray) -> Visits:
        return Visits(self.deal[mask], self.stage[mask], self.entered[mask], self.left[mask],
                      self.exit[mask])


@dataclass(frozen=True)
class Changes:
    """What readers give: deal *deal* (a row of the deals) entered *code* (a stage index,
    WON_CODE, LOST_CODE or UNMAPPED) at *at*. Changes at the same time keep the order
    they are given in: readers give them in file order."""

    deal: np.ndarray
    code: np.ndarray
    at: np.ndarray


@dataclass(frozen=True)
class Values:
    """What a deal's amount, probability and expected close date were, as each history row
    gave them: *deal* (a row of :class:`Deals`) from *at* on, until its next row. Rows run
    in order of deal, then time; a row that repeats the deal's last is left out, and an
    empty cell says nothing (the deal's previous value stands). A column is None when the
    export does not hold it (the deal's exported value is then the only one).

    *value* is in the process's currency, *probability* a share (0–1), *close_date*
    datetime64[s] (NaT, NaN: not said yet)."""

    deal: np.ndarray  # int32
    at: np.ndarray  # datetime64[s]
    value: np.ndarray | None  # float64
    probability: np.ndarray | None  # float64
    close_date: np.ndarray | None  # datetime64[s]

    def __len__(self) -> int:
        return len(self.deal)

    @staticmethod
    def of(deal: np.ndarray, at: np.ndarray, value: np.ndarray | None,
           probability: np.ndarray | None, close_date: np.ndarray | None) -> Values | None:
        """The table from history rows in any order (None when no column is given)."""
        columns = [c for c in (value, probability, close_date) if c is not None]
        if not columns:
            return None
        order = _by_deal_and_time(deal, at)
        d = deal[order]
        start = np.ones(len(d), dtype=bool)
        start[1:] = d[1:] != d[:-1]
        value, probability, close_date = (None if c is None else _carried(c[order], start)
                                          for c in (value, probability, close_date))
        keep = start.copy()
        for column in (c for c in (value, probability, close_date) if c is not None):
            keep[1:] |= _changed(column)
        return Values(d[keep].astype(np.int32), at[order][keep],
                      None if value is None else value[keep],
                      None if probability is None else probability[keep],
                      None if close_date is None else close_date[keep])

    def until(self, cut: np.datetime64, renumber: np.ndarray) -> Values:
        """The rows at or before *cut* of the deals *renumber* keeps (-1: left out), with
        the deals renumbered."""
        mask = (self.at <= cut) & (renumber[self.deal] >= 0)
        return Values(renumber[self.deal[mask]].astype(np.int32), self.at[mask],
                      *(None if c is None else c[mask]
                        for c in (self.value, self.probability, self.close_date)))

    def stood(self, deals: Deals) -> Deals:
        """*deals* with the amount, probability and expected close date of each deal's last
        row here (its exported ones where it has no row)."""
        if not len(self.deal):
            return deals
        last = np.flatnonzero(np.append(self.deal[1:] != self.deal[:-1], True))
        who = self.deal[last]
        changed = {}
        for name, column in (("value", self.value), ("probability", self.probability),
                             ("close_date", self.close_date)):
            if column is not None:
                out = getattr(deals, name).copy()
                out[who] = column[last]
                changed[name] = out
        return replace(deals, **changed)


def _carried(column: np.ndarray, start: np.ndarray) -> np.ndarray:
    """*column* (NaN or NaT: not said) with each deal's last said value carried forward;
    *start* marks each deal's first row."""
    said = ~np.isnat(column) if column.dtype.kind == "M" else ~np.isnan(column)
    source = np.where(said | start, np.arange(len(column)), 0)
    np.maximum.accumulate(source, out=source)
    carried: np.ndarray = column[source]
    return carried


def _changed(column: np.ndarray) -> np.ndarray:
    """For each row but the first, whether it differs from the row before (two unknowns
    are the same)."""
    a, b = column[1:], column[:-1]
    unknown = np.isnat if column.dtype.kind == "M" else np.isnan
    differs: np.ndarray = (a != b) & ~(unknown(a) & unknown(b))
    return differs


@dataclass(frozen=True)
class History:
    """Deals and their stage visits as they stood at *as_of*, with what reading found.

    ``history.deals`` and ``history.visits`` are columnar (numpy and pyarrow);
    ``deals_frame()`` and ``visits_frame()`` give them as pandas DataFrames. *values*
    holds what each history row said a deal's amount, probability and expected close date
    were, so that :meth:`at` gives them as they stood (None: the export has only today's).
    """

    process: Process
    deals: Deals
    visits: Visits
    as_of: dt.datetime
    sources: tuple[str, ...] = ()
    notes: tuple[Note, ...] = field(default=())
    values: Values | None = None
    kind: str = STAGE_HISTORY  # STAGE_HISTORY, DEAL_TABLE or DEAL_TABLE_CUT

    @property
    def has_stages(self) -> bool:
        """Whether the visits are a stage history (time in stage, moves between stages and
        where deals are lost can be measured), not a deal table's one row per deal."""
        return self.kind == STAGE_HISTORY

    @functools.cached_property
    def stays(self) -> tuple[np.ndarray, np.ndarray]:
        """Each visit's days in its stage (until the as-of date, for a deal still there),
        and whether the visit ended: the deals still in a stage are censored."""
        v = self.visits
        ended = ~np.isnat(v.left)
        end = np.where(ended, v.left, np.datetime64(self.as_of, "s"))
        days: np.ndarray = (end - v.entered) / np.timedelta64(1, "D")
        return days, ended

    @property
    def stage_ids(self) -> list[str]:
        return list(self.process.stages)

    @property
    def buyer_ids(self) -> list[str]:
        return list(self.process.buyer_types)

    def at(self, as_of: dt.datetime) -> History:
        """The history as it stood at *as_of*: later deals, changes and outcomes left out,
        visits still running then open again, and each deal's amount, probability and
        expected close date those of its last history row by then (its exported ones where
        it has none). The buyer type stays the one the exported deal has."""
        cut = np.datetime64(as_of, "s")
        if cut >= np.datetime64(self.as_of, "s"):
            return replace(self, as_of=as_of)
        deals = self.deals
        kept = np.flatnonzero(deals.created <= cut)
        renumber = np.full(len(deals), -1, dtype=np.int64)
        renumber[kept] = np.arange(len(kept))
        chosen = deals.take(kept)
        later = chosen.closed > cut  # NaT compares False: open deals stay open
        chosen = replace(chosen, outcome=np.where(later, OUTCOME_OPEN, chosen.outcome).astype(
            np.int8), closed=np.where(later, NAT, chosen.closed))
        v = self.visits
        mask = (renumber[v.deal] >= 0) & (v.entered <= cut)
        v = v.where(mask)
        running = v.left > cut
        visits = Visits(renumber[v.deal].astype(np.int32), v.stage, v.entered,
                        np.where(running, NAT, v.left),
                        np.where(running, OPEN, v.exit).astype(np.int16))
        values = self.values.until(cut, renumber) if self.values is not None else None
        if values is not None:
            chosen = values.stood(chosen)
        if not self.has_stages:  # a deal table: where its deals were then is unknown, and
            n = len(chosen)  # what the CRM said of them then (as exported, a closed deal's
            chosen = replace(  # probability, close date and category are its outcome's)
                chosen, probability=np.full(n, np.nan), close_date=np.full(n, NAT),
                forecast_category=pa.array([""] * n, pa.string()))
            return replace(self, deals=chosen, visits=entry_visits(self.process, chosen),
                           as_of=as_of, values=values, kind=DEAL_TABLE_CUT)
        return replace(self, deals=_closed_then(chosen, visits), visits=visits, as_of=as_of,
                       values=values)

    def deals_frame(self) -> pandas.DataFrame:
        """One row per deal: id, name (where the export has it), buyer_type, created, closed,
        close_date (expected), outcome, value, reason, currency, probability,
        forecast_category, owner, and field_<id> for each deal field crm: fields: maps
        (needs pandas)."""
        d = self.deals
        buyers = np.array([*self.buyer_ids, ""], dtype=object)
        return optional.pandas().DataFrame({
            "id": d.id.to_pylist(),
            **({"name": d.name.to_pylist()} if d.name is not None else {}),
            "buyer_type": buyers[d.buyer], "created": d.created,
            "closed": d.closed, "close_date": d.close_date,
            "outcome": np.array(OUTCOMES, dtype=object)[d.outcome],
            "value": d.value, "reason": d.reason.to_pylist(),
            "currency": d.currency.to_pylist(), "probability": d.probability,
            "forecast_category": d.forecast_category.to_pylist(), "owner": d.owner.to_pylist(),
            **{f"field_{fid}": c.to_pylist() if isinstance(c, pa.Array) else c
               for fid, c in d.fields.items()}})

    def visits_frame(self) -> pandas.DataFrame:
        """One row per stage visit: deal (its id), stage, entered, left, next (a stage id,
        won, lost, unmapped, or '' while open), days (NaN while open) (needs pandas)."""
        v = self.visits
        return optional.pandas().DataFrame({
            "deal": self.deals.id.take(pa.array(v.deal)).to_pylist(),
            "stage": np.array(self.stage_ids, dtype=object)[v.stage],
            "entered": v.entered, "left": v.left, "next": exit_names(self)[v.exit],
            "days": (v.left - v.entered) / np.timedelta64(1, "D")})


def entry_visits(process: Process, deals: Deals) -> Visits:
    """A deal table's visits at a date before its export: each deal open then at the first
    stage of its buyer type's path (the process's first stage without a buyer type) since
    it was created. The table holds only each deal's stage at the export, so where the
    deals open at an earlier date were is unknown; the start is what every deal passed."""
    first = np.array([list(process.stages).index(b.start) for b in
                      process.buyer_types.values()] + [0], dtype=np.int16)
    deal = np.flatnonzero(deals.outcome == OUTCOME_OPEN)
    n = len(deal)
    return Visits(deal.astype(np.int32), first[deals.buyer[deal]], deals.created[deal],
                  np.full(n, NAT), np.full(n, OPEN, dtype=np.int16))


def exit_names(history: History) -> np.ndarray:
    """Names of exit codes, indexable by the code itself (negative codes from the end)."""
    return np.array([*history.stage_ids, "", "unmapped", LOST, WON], dtype=object)


def build(changes: Changes, deals: Deals) -> tuple[Visits, Deals]:
    """Visits from changes, and the deals with their outcome from their last change. The
    visits run in order of deal, then time: readers and measures rely on it.

    Changes are sorted by deal and time (ties kept in the order given); a change to the
    stage the deal is already in (the CRM logs one whenever an amount or date changes) is
    folded into the visit. A visit ends at the deal's next change: another stage, won,
    lost, or a stage the mapping does not know. A deal whose last change is won or lost is
    closed then.
    """
    order = _by_deal_and_time(changes.deal, changes.at)
    d, c = changes.deal[order], changes.code[order]
    keep = np.ones(len(d), dtype=bool)
    keep[1:] = (d[1:] != d[:-1]) | (c[1:] != c[:-1])
    if not keep.all():  # gathered once: a history of millions of rows is large
        d, c, order = d[keep], c[keep], order[keep]
    t = changes.at[order]
    del order
    del keep
    n = len(d)
    same = np.zeros(n, dtype=bool)
    same[:-1] = d[1:] == d[:-1]
    nxt = np.full(n, OPEN, dtype=np.int16)
    nxt[:-1] = np.where(same[:-1], c[1:], OPEN)
    left = np.full(n, NAT)
    left[:-1] = np.where(same[:-1], t[1:], NAT)
    is_stage = c >= 0
    visits = Visits(d[is_stage].astype(np.int32), c[is_stage].astype(np.int16), t[is_stage],
                    left[is_stage], nxt[is_stage])
    last = ~same
    outcome = np.full(len(deals), OUTCOME_OPEN, dtype=np.int8)
    closed = np.full(len(deals), NAT)
    final = c[last]
    outcome[d[last]] = np.select([final == WON_CODE, final == LOST_CODE],
                                 [OUTCOME_WON, OUTCOME_LOST], OUTCOME_OPEN)
    terminal = (final == WON_CODE) | (final == LOST_CODE)
    closed[d[last][terminal]] = t[last][terminal]
    return visits, replace(deals, outcome=outcome, closed=closed)


def _by_deal_and_time(deal: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The stable order of rows by *deal*, then time *at*: one sort of one 64-bit key (deal
    above bit 34, seconds since the first row below) where deals and times fit it."""
    if not len(at):
        return np.zeros(0, dtype=np.int64)
    key = at.astype(np.int64)  # seconds, made the key in place
    key -= key.min()
    if key.max() < (1 << 34) and int(deal.max()) < (1 << 28):
        key |= deal.astype(np.int64) << 34
        return np.argsort(key, kind="stable")
    return np.lexsort((at, deal))


def first_and_last(deal: np.ndarray, at: np.ndarray, deals: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """For each of *deals*: the time of its earliest row, and the index of its latest row
    (ties: the later in the order given), -1 and NaT for a deal without rows. Rows are a
    deal's changes as a reader has them, in file order."""
    order = np.argsort(at, kind="stable")
    latest = np.full(deals, -1, dtype=np.int64)
    latest[deal[order]] = order  # a repeated index takes the last value assigned
    earliest = np.full(deals, NAT)
    backwards = order[::-1]
    earliest[deal[backwards]] = at[backwards]
    return earliest, latest


def first_visits(visits: Visits) -> np.ndarray:
    """Which visits are their deal's first (visits run in order of deal, then time)."""
    first = np.ones(len(visits), dtype=bool)
    first[1:] = visits.deal[1:] != visits.deal[:-1]
    return first


def _closed_then(deals: Deals, visits: Visits) -> Deals:
    """*deals* as their visits by a cut leave them: a deal whose last visit then had ended
    won or lost was closed then, though it was reopened later (its exported outcome is its
    last); one still in a stage was open. Deals without a visit, and those whose exported
    outcome came by the cut (their last change: a loss set right to a win without a stage
    between keeps the win), keep what they have."""
    last = last_visits(visits, len(deals))
    has = (last >= 0) & np.isnat(deals.closed)
    exit_ = np.where(has, visits.exit[np.maximum(last, 0)], OPEN)
    left = np.where(has, visits.left[np.maximum(last, 0)], NAT)
    won, lost = has & (exit_ == WON_CODE), has & (exit_ == LOST_CODE)
    still = has & (exit_ == OPEN)
    outcome = np.where(won, OUTCOME_WON, np.where(lost, OUTCOME_LOST, np.where(
        still, OUTCOME_OPEN, deals.outcome))).astype(np.int8)
    closed = np.where(won | lost, left, np.where(still, NAT, deals.closed))
    return replace(deals, outcome=outcome, closed=closed)


def last_visits(visits: Visits, deals: int) -> np.ndarray:
    """For each of *deals*, the index of its last visit (visits run in order of deal, then
    time, as :func:`build` makes them), or -1 for a deal without one."""
    out = np.full(deals, -1, dtype=np.int64)
    if len(visits):
        ends = np.flatnonzero(np.append(visits.deal[1:] != visits.deal[:-1], True))
        out[visits.deal[ends]] = ends
    return out


def exit_targets(stage_ids: list[str], path: tuple[str, ...] | list[str], sid: str
                 ) -> tuple[int, ...]:
    """Where a visit to stage *sid* may go for a buyer type with *path*, as exit codes:
    lost, won, then its path's other stages in file order (calibration's routes, the fit
    check and the forecast's exit curves all count these)."""
    return (LOST_CODE, WON_CODE, *(t for t, tid in enumerate(stage_ids)
                                   if tid in path and tid != sid))


def lost_stage(history: History) -> np.ndarray:
    """For each deal, the stage it was lost from (its last visit's stage), else -1."""
    v = history.visits
    out = np.full(len(history.deals), -1, dtype=np.int16)
    lost = v.exit == LOST_CODE
    out[v.deal[lost]] = v.stage[lost]  # a deal lost twice (reopened): the last, in order
    out[history.deals.outcome != OUTCOME_LOST] = -1
    return out


#: A deal won this soon after it was created was entered in the CRM after the fact (the
#: sale happened elsewhere and was recorded at the end): its stay says nothing about the
#: process, so fits leave it out and forecasts model such deals as their own stream.
AFTER_THE_FACT = np.timedelta64(3600, "s")


def after_the_fact(deals: Deals) -> np.ndarray:
    """Which deals were won within AFTER_THE_FACT of being created (bool per deal)."""
    flagged: np.ndarray = (deals.outcome == OUTCOME_WON) & (
        deals.closed - deals.created <= AFTER_THE_FACT)
    return flagged
