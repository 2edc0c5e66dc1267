"""Measure a deal table: what one row per deal allows, and nothing it does not.

A deal table (history/dealtable.py) has each deal's creation, outcome, close, value and
current stage, but no stage history. So this reports the open pipeline by stage (its
age since creation: when a deal entered its stage is unknown), win rates with their 95%
Wilson interval, the cycle time from created to won (Kaplan–Meier, the open deals
counted as still going), new deals by month, why deals were lost, and when in the
quarter deals are won; and says plainly what is left out: time in each stage, the moves
from stage to stage and the stage where deals are lost. Times are in days.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from salesproc.core import layout, optional
from salesproc.core.stats import Estimate, proportion
from salesproc.core.survival import kaplan_meier
from salesproc.history.dealtable import LOST_WITHOUT_STAGES
from salesproc.history.table import (
    DEAL_TABLE_CUT,
    OUTCOME_LOST,
    OUTCOME_OPEN,
    OUTCOME_WON,
    History,
    after_the_fact,
)
from salesproc.measuring.measurement import ALL, NO_REASON, ROW_FIELDS
from salesproc.process.model import Process

if TYPE_CHECKING:
    import pandas

DAY = np.timedelta64(1, "D")
LAST_WEEK_DAYS = 7  # "the last week of the quarter": its last seven days
NOT_MEASURED = f"Without stage history, {LOST_WITHOUT_STAGES} cannot be measured: " \
    "this is what one row per deal allows."


@dataclass(frozen=True)
class OpenAt:
    """Open deals at one stage: how many, their worth, their age since they were created
    (not in the stage: when they entered it is unknown)."""

    stage: str
    deals: int
    value: float
    age_p50: float
    age_p90: float


@dataclass(frozen=True)
class Cycle:
    """Days from created to won: Kaplan–Meier over the won deals, with the open deals
    counted as still going at their age (lost deals are left out: they will not be won)."""

    won: int
    open: int
    median: float
    p90: float
    mean: Estimate  # the restricted mean, with its 95% interval


@dataclass(frozen=True)
class QuarterShare:
    """The share of won deals closed in one part of their quarter, with its interval, and
    the share expected if wins were spread evenly over the days."""

    part: str
    won: int
    share: Estimate
    even: float

    @property
    def outside(self) -> bool:
        """The even share lies outside the data's 95% interval."""
        return self.share.n > 0 and not self.share.low <= self.even <= self.share.high


@dataclass(frozen=True)
class DealScope:
    """What a deal table shows of one buyer type's deals, or of all (*name* 'all')."""

    name: str
    deals: int
    open: int
    won: int
    lost: int
    win_rate: Estimate  # won ÷ (won + lost)
    won_value: float
    open_value: float
    after_the_fact: int  # won within an hour of creation (table.after_the_fact)
    cycle: Cycle
    new_per_week: float
    pipeline: list[OpenAt]
    months: list[tuple[str, int]]  # new deals by month created
    quarter: list[QuarterShare]  # month 1, 2, 3 of the quarter, then its last week
    losses: list[tuple[str, int]]  # reason, deals


@dataclass
class DealMeasurement:
    """Everything `salesproc measure` reports of a deal table; :meth:`to_dict` is its
    JSON layout (`"kind": "deal table"`)."""

    process: Process
    as_of: dt.datetime
    sources: tuple[str, ...]
    overall: DealScope
    buyers: dict[str, DealScope]
    stages_known: bool  # False for a table cut before its export: stages then unknown
    notes: tuple[Any, ...] = ()
    first_created: dt.datetime | None = None
    warnings: list[str] = field(default_factory=list)

    not_measured = NOT_MEASURED

    def to_dict(self) -> dict[str, Any]:
        """The JSON layout; figures without data are null."""
        data: dict[str, Any] = layout.clean({
            **layout.header("deal table"),
            "not_measured": NOT_MEASURED,
            "process": {"name": self.process.name, "file": self.process.source,
                        "currency": self.process.currency, "names": self.process.names()},
            "sources": list(self.sources), "as_of": self.as_of.isoformat(),
            "first_created": self.first_created.isoformat() if self.first_created else None,
            "stages_known": self.stages_known,
            "interval": "95% interval: Wilson for shares, Kaplan–Meier (restricted mean) for "
                        "the cycle time; times in days; ages since the deal was created",
            "overall": _scope_dict(self.overall),
            "buyer_types": {b: _scope_dict(s) for b, s in self.buyers.items()},
            "notes": [n.to_dict() for n in self.notes], "warnings": self.warnings})
        return data

    def rows(self) -> list[list[Any]]:
        """One row per figure, in the columns of the stage-history measurement's CSV
        (ROW_FIELDS)."""
        rows: list[list[Any]] = []
        for s in [self.overall, *self.buyers.values()]:
            e = s.win_rate
            rows.append(["deals", s.name, "", "", "win_rate", e.mean, e.low, e.high, e.n, "",
                         ""])
            for name, value in (("deals", s.deals), ("open", s.open), ("won", s.won),
                                ("lost", s.lost), ("won_value", s.won_value),
                                ("open_value", s.open_value),
                                ("after_the_fact", s.after_the_fact),
                                ("new_per_week", s.new_per_week)):
                rows.append(["deals", s.name, "", "", name, float(value), "", "", "", "", ""])
            c = s.cycle
            rows.append(["cycle", s.name, "", "", "mean", c.mean.mean, c.mean.low,
                         c.mean.high, c.won, "", f"{c.open} open deals censored"])
            for name, value in (("median", c.median), ("p90", c.p90)):
                rows.append(["cycle", s.name, "", "", name, value, "", "", c.won, "", ""])
            for p in s.pipeline:
                for name, value in (("deals", p.deals), ("value", p.value),
                                    ("age_p50", p.age_p50), ("age_p90", p.age_p90)):
                    rows.append(["pipeline", s.name, p.stage, "", name, float(value), "", "",
                                 "", "", "age since created"])
            for month, count in s.months:
                rows.append(["new", s.name, "", "", "deals", float(count), "", "", "", "",
                             month])
            for q in s.quarter:
                rows.append(["quarter", s.name, "", "", q.part, q.share.mean, q.share.low,
                             q.share.high, q.share.n, "", f"even {q.even:.4f}"])
            for reason, count in s.losses:
                rows.append(["lost", s.name, "", "", "deals", float(count), "", "", "", "",
                             reason])
        return rows

    def to_frame(self) -> pandas.DataFrame:
        """The rows as a pandas DataFrame (needs pandas)."""
        return optional.pandas().DataFrame(self.rows(), columns=list(ROW_FIELDS))


def _scope_dict(s: DealScope) -> dict[str, Any]:
    c = s.cycle
    return {
        "deals": s.deals, "open": s.open, "won": s.won, "lost": s.lost,
        "win_rate": layout.estimate(s.win_rate), "won_value": s.won_value,
        "open_value": s.open_value,
        "after_the_fact": s.after_the_fact,
        "cycle_days": {"won": c.won, "open_censored": c.open, "median": c.median,
                       "p90": c.p90, "mean": layout.estimate(c.mean)},
        "new_per_week": s.new_per_week,
        "pipeline": [{"stage": p.stage, "deals": p.deals, "value": p.value,
                      "age_p50": p.age_p50, "age_p90": p.age_p90} for p in s.pipeline],
        "new_by_month": dict(s.months),
        "won_in_quarter": [{"part": q.part, "won": q.won, "share": layout.estimate(q.share),
                            "even": q.even, "outside": q.outside} for q in s.quarter],
        "lost_reasons": [{"reason": r, "deals": n} for r, n in s.losses],
    }


# --- measuring -----------------------------------------------------------------------------


def measure_deals(history: History) -> DealMeasurement:
    """Measure a deal table (a History whose ``has_stages`` is False)."""
    if history.has_stages:
        raise ValueError("measure_deals reads a deal table; measure a stage history with "
                         "salesproc.measure")
    process, d = history.process, history.deals
    buyers = {b: _scope(history, b, d.buyer == k)
              for k, b in enumerate(process.buyer_types) if (d.buyer == k).any()}
    created = d.created
    return DealMeasurement(
        process, history.as_of, history.sources,
        _scope(history, ALL, np.ones(len(d), dtype=bool)), buyers,
        history.kind != DEAL_TABLE_CUT, history.notes,
        created.min().astype(dt.datetime) if len(created) else None)


def _scope(history: History, name: str, mask: np.ndarray) -> DealScope:
    d = history.deals
    as_of = np.datetime64(history.as_of, "s")
    won_mask, lost_mask = mask & (d.outcome == OUTCOME_WON), mask & (d.outcome == OUTCOME_LOST)
    open_mask = mask & (d.outcome == OUTCOME_OPEN)
    won, lost = int(won_mask.sum()), int(lost_mask.sum())
    span = float((as_of - d.created[mask].min()) / DAY) if mask.any() else 0.0
    return DealScope(
        name=name, deals=int(mask.sum()), open=int(open_mask.sum()), won=won, lost=lost,
        win_rate=proportion(won, won + lost),
        won_value=float(np.nansum(d.value[won_mask])),
        open_value=float(np.nansum(d.value[open_mask])),
        after_the_fact=int((after_the_fact(d) & mask).sum()),
        cycle=cycle(history, won_mask, open_mask),
        new_per_week=int(mask.sum()) / (span / 7.0) if span > 0 else math.nan,
        pipeline=_pipeline(history, open_mask),
        months=_by_month(d.created[mask]),
        quarter=_quarter(d.closed[won_mask]),
        losses=losses(history, lost_mask))


def cycle(history: History, won: np.ndarray, still: np.ndarray) -> Cycle:
    """Days from created to won of the deals *won*, Kaplan–Meier, the deals *still* open
    counted as still going (censored at the as-of date)."""
    d = history.deals
    as_of = np.datetime64(history.as_of, "s")
    days = np.concatenate([(d.closed[won] - d.created[won]) / DAY,
                           (as_of - d.created[still]) / DAY])
    ended = np.concatenate([np.ones(int(won.sum()), bool), np.zeros(int(still.sum()), bool)])
    curve = kaplan_meier(days, ended)
    mean, low, high = curve.restricted_mean() if won.any() else (math.nan,) * 3
    return Cycle(int(won.sum()), int(still.sum()), curve.quantile(0.5), curve.quantile(0.9),
                 Estimate(mean, low, high, int(won.sum())))


def _pipeline(history: History, open_mask: np.ndarray) -> list[OpenAt]:
    """Open deals by the stage of their visit (a deal table's open deals have one each)."""
    v, d = history.visits, history.deals
    here = open_mask[v.deal]
    deal, stage = v.deal[here], v.stage[here]
    age = (np.datetime64(history.as_of, "s") - d.created[deal]) / DAY
    known = history.kind != DEAL_TABLE_CUT
    groups = list(enumerate(history.process.stages)) if known else [(-1, "")]
    out = []
    for s, sid in groups:
        mine = stage == s if s >= 0 else np.ones(len(stage), dtype=bool)
        q = np.quantile(age[mine], [0.5, 0.9]) if mine.any() else (math.nan, math.nan)
        out.append(OpenAt(sid, int(mine.sum()), float(np.nansum(d.value[deal[mine]])),
                          float(q[0]), float(q[1])))
    return out


def _by_month(created: np.ndarray) -> list[tuple[str, int]]:
    months, counts = np.unique(created.astype("datetime64[M]"), return_counts=True)
    return [(str(m), int(c)) for m, c in zip(months, counts, strict=True)]


def _quarter(closed: np.ndarray) -> list[QuarterShare]:
    """Won deals by month of their quarter (1, 2, 3) and in its last week, each beside the
    share of the days of those quarters that part holds (wins spread evenly)."""
    closed = closed[~np.isnat(closed)]
    n = len(closed)
    month = closed.astype("datetime64[M]")
    place = month.astype(np.int64) % 3  # months since 1970-01: calendar quarters align
    first = month - place.astype("timedelta64[M]")
    bounds = [(first + np.timedelta64(k, "M")).astype("datetime64[D]") for k in range(4)]
    lengths = np.stack([(bounds[k + 1] - bounds[k]) / DAY for k in range(3)])
    total = lengths.sum(axis=0)
    last = bounds[3].astype("datetime64[s]") - closed <= np.timedelta64(LAST_WEEK_DAYS, "D")
    parts = [place == 0, place == 1, place == 2, last]
    even = [*(lengths / total), LAST_WEEK_DAYS / total]
    names = ("month 1", "month 2", "month 3", "last week")
    return [QuarterShare(name, int(part.sum()), proportion(int(part.sum()), n),
                         float(np.mean(e)) if n else math.nan)
            for name, part, e in zip(names, parts, even, strict=True)]


def losses(history: History, lost: np.ndarray) -> list[tuple[str, int]]:
    """The deals *lost* by reason (most first)."""
    index = np.flatnonzero(lost)
    if not len(index):
        return []
    words = history.deals.reason.take(pa.array(index)).to_pylist()
    reasons, counts = np.unique([w or NO_REASON for w in words], return_counts=True)
    rows = [(str(r), int(c)) for r, c in zip(reasons, counts, strict=True)]
    return sorted(rows, key=lambda r: (-r[1], r[0]))
