"""Measure the real pipeline from a deal history: what is open where, how deals flow, how
long they stay, and how that compares with the process file.

Every share comes with its 95% Wilson interval, every time in stage counts the deals still
in it as censored (Kaplan–Meier), and each is set beside the process file's own number:
route shares from the routing rule, times from a short simulation of the file (which
counts waiting for people, as the history does). Times are in days.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from salesproc.core import layout, optional
from salesproc.core.layout import number
from salesproc.core.stats import Estimate, proportion
from salesproc.core.survival import kaplan_meier
from salesproc.core.units import DAYS_PER_MONTH, HOURS
from salesproc.history.table import (
    LOST_CODE,
    OPEN,
    OUTCOME_LOST,
    OUTCOME_OPEN,
    OUTCOME_WON,
    UNMAPPED,
    WON_CODE,
    History,
    first_visits,
    lost_stage,
)
from salesproc.process import analysis, routing
from salesproc.process.model import LOST, WON, BuyerType, Process

if TYPE_CHECKING:
    import pandas

DAY = np.timedelta64(1, "D")
ALL = "all"
NO_REASON = "(no reason given)"
SIMULATED_RUNS = 10  # replications of the file behind its times in stage
ROW_FIELDS = ("section", "scope", "stage", "target", "metric", "value", "low", "high", "n",
              "deal", "detail")


@dataclass(frozen=True)
class StageNow:
    """Open deals in one stage at the as-of date: how many, their worth, their age there."""

    stage: str
    deals: int
    value: float
    age_p50: float
    age_p90: float
    stale: int


@dataclass(frozen=True)
class OpenDeal:
    """One open deal and what its stage still needs before it can move on."""

    id: str
    buyer_type: str
    stage: str
    age: float  # days in the stage
    value: float
    stale: bool
    requires: tuple[str, ...]
    approvals: tuple[str, ...]


@dataclass(frozen=True)
class Move:
    """Deals that left *source* for *target* (a stage, won or lost): how many, their share
    of the deals that left it, and the file's share (None where the file has no number)."""

    source: str
    target: str
    deals: int
    share: Estimate
    file_share: float | None
    allowed: bool

    @property
    def outside(self) -> bool:
        """The file's share lies outside the data's 95% interval."""
        return self.file_share is not None and not (
            self.share.low - 1e-12 <= self.file_share <= self.share.high + 1e-12)


@dataclass(frozen=True)
class StageTime:
    """Time in one stage, in days: Kaplan–Meier median and p90 with the open visits as
    censored, the restricted mean with its 95% interval (widened where deals' times hang
    together from month to month), and the file's simulated mean."""

    stage: str
    visits: int
    open: int
    median: float
    p90: float
    mean: Estimate
    median_complete: float  # of finished visits only (biased low: for comparison)
    file_mean: float | None

    @property
    def outside(self) -> bool:
        """The file's mean lies outside the data's 95% interval; never where there is no
        interval: no visit, or one alone, has ended (one stay has no spread to judge by:
        its interval is the stay itself), though NaN compares as outside everything."""
        return self.file_mean is not None and self.visits - self.open >= 2 \
            and math.isfinite(self.mean.low) \
            and math.isfinite(self.mean.high) \
            and not self.mean.low <= self.file_mean <= self.mean.high


@dataclass(frozen=True)
class Cohort:
    """The deals created in one month, and how far they have come."""

    month: str
    created: int
    reached: dict[str, int]
    won: int
    lost: int
    open: int


@dataclass(frozen=True)
class Scope:
    """The measurement of one buyer type's deals, or of all of them (*name* 'all')."""

    name: str
    deals: int
    open: int
    won: int
    lost: int
    lead_to_win: Estimate  # won ÷ closed deals
    opportunities: int  # closed deals that reached the opportunity stage
    opportunity_win_rate: Estimate
    won_value: float
    cycle: tuple[float, float, float, float]  # won deals: mean, p10, p50, p90 days
    velocity: float  # value a month: open opportunities × win rate × average won ÷ cycle
    open_opportunities: int
    new_per_week: float
    pipeline: list[StageNow]
    moves: list[Move]
    times: list[StageTime]
    entered_at: dict[str, int]
    skipped: dict[str, int]
    backwards: int
    losses: list[tuple[str, str, int]]  # stage, reason, deals
    months: list[tuple[str, int]]  # new deals by month created
    cohorts: list[Cohort]


@dataclass
class Measurement:
    """Everything `salesproc measure` reports; :meth:`to_dict` is the JSON layout."""

    process: Process
    as_of: dt.datetime
    sources: tuple[str, ...]
    overall: Scope
    buyers: dict[str, Scope]
    open_deals: OpenDeals
    unused_stages: list[str]
    disallowed: list[Move]
    notes: tuple[Any, ...] = ()
    first_created: dt.datetime | None = None
    file_runs: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON layout (docs/commands.md); figures without data are null."""
        data: dict[str, Any] = layout.clean({
            **layout.header("measurement"),
            "process": {"name": self.process.name, "file": self.process.source,
                        "currency": self.process.currency,
                        "names": self.process.names()},
            "sources": list(self.sources), "as_of": self.as_of.isoformat(),
            "first_created": self.first_created.isoformat() if self.first_created else None,
            "interval": "95% interval: Wilson for shares, Kaplan–Meier (restricted mean) for "
                        "times; times in days",
            "file_runs": self.file_runs,
            "overall": _scope_dict(self.overall),
            "buyer_types": {b: _scope_dict(s) for b, s in self.buyers.items()},
            "open_deals": [d.__dict__ | {"requires": list(d.requires),
                                         "approvals": list(d.approvals)}
                           for d in self.open_deals.rows()],
            "unused_stages": self.unused_stages,
            "disallowed_moves": [_move_dict(m) for m in self.disallowed],
            "notes": [n.to_dict() for n in self.notes],
            "warnings": self.warnings,
        })
        return data

    def rows(self) -> list[list[Any]]:
        """One row per figure (ROW_FIELDS: section, scope, stage, target, metric, value,
        low, high, n, deal, detail), then one per open deal: the CSV's rows."""
        rows: list[list[Any]] = []
        for s in scopes(self):
            for name, e in (("lead_to_win", s.lead_to_win),
                            ("opportunity_win_rate", s.opportunity_win_rate)):
                rows.append(["deals", s.name, "", "", name, e.mean, e.low, e.high, e.n, "", ""])
            for name, value in (("deals", s.deals), ("open", s.open), ("won", s.won),
                                ("lost", s.lost), ("won_value", s.won_value),
                                ("cycle_mean", s.cycle[0]), ("cycle_p10", s.cycle[1]),
                                ("cycle_p50", s.cycle[2]), ("cycle_p90", s.cycle[3]),
                                ("velocity_per_month", s.velocity),
                                ("new_per_week", s.new_per_week)):
                rows.append(["deals", s.name, "", "", name, float(value), "", "", "", "", ""])
            for p in s.pipeline:
                for name, value in (("deals", p.deals), ("value", p.value), ("age_p50", p.age_p50),
                                    ("age_p90", p.age_p90), ("stale", p.stale)):
                    rows.append(["pipeline", s.name, p.stage, "", name, float(value), "", "", "",
                                 "", ""])
            for t in s.times:
                rows.append(["time_in_stage", s.name, t.stage, "", "mean", t.mean.mean, t.mean.low,
                             t.mean.high, t.visits, "", ""])
                for name, value in (("median", t.median), ("p90", t.p90),
                                    ("file_mean", t.file_mean if t.file_mean is not None
                                     else math.nan)):
                    rows.append(["time_in_stage", s.name, t.stage, "", name, value, "", "",
                                 t.visits, "", ""])
            for m in s.moves:
                rows.append(["flow", s.name, m.source, m.target, "share", m.share.mean, m.share.low,
                             m.share.high, m.share.n, "", "" if m.allowed else "not allowed"])
            for stage, reason, count in s.losses:
                rows.append(["lost", s.name, stage, "", "deals", float(count), "", "", "", "",
                             reason])
        for d in self.open_deals.rows():
            rows.append(["open_deal", d.buyer_type, d.stage, "", "age_days", d.age, "", "", "",
                         d.id, "; ".join([*d.requires, *(f"approval: {a}" for a in d.approvals)])])
        return rows

    def to_frame(self) -> pandas.DataFrame:
        """The rows as a pandas DataFrame (needs pandas: pip install 'salesproc[pandas]')."""
        return optional.pandas().DataFrame(self.rows(), columns=list(ROW_FIELDS))


def _move_dict(m: Move) -> dict[str, Any]:
    return {"from": m.source, "to": m.target, "deals": m.deals, "share": layout.estimate(m.share),
            "file_share": m.file_share, "allowed": m.allowed, "outside": m.outside}


def _scope_dict(s: Scope) -> dict[str, Any]:
    mean, p10, p50, p90 = s.cycle
    return {
        "deals": s.deals, "open": s.open, "won": s.won, "lost": s.lost,
        "lead_to_win": layout.estimate(s.lead_to_win), "opportunities": s.opportunities,
        "opportunity_win_rate": layout.estimate(s.opportunity_win_rate), "won_value": s.won_value,
        "cycle_days": {"mean": number(mean), "p10": number(p10), "p50": number(p50),
                       "p90": number(p90)},
        "velocity_per_month": number(s.velocity), "open_opportunities": s.open_opportunities,
        "new_per_week": number(s.new_per_week),
        "pipeline": [{"stage": p.stage, "deals": p.deals, "value": p.value,
                      "age_p50": number(p.age_p50), "age_p90": number(p.age_p90),
                      "stale": p.stale} for p in s.pipeline],
        "moves": [_move_dict(m) for m in s.moves],
        "time_in_stage": [{"stage": t.stage, "visits": t.visits, "open": t.open,
                           "median": number(t.median), "p90": number(t.p90),
                           "mean": layout.estimate(t.mean),
                           "median_complete": number(t.median_complete),
                           "file_mean": t.file_mean, "outside": t.outside} for t in s.times],
        "entered_at": s.entered_at, "skipped": s.skipped, "backwards": s.backwards,
        "lost_reasons": [{"stage": a, "reason": b, "deals": c} for a, b, c in s.losses],
        "new_by_month": dict(s.months),
        "cohorts": [c.__dict__ for c in s.cohorts],
    }


# --- measuring -----------------------------------------------------------------------------


def measure(history: History, *, simulate_file: bool = True) -> Measurement:
    """Measure *history* against its process. With *simulate_file*, the file's time in
    each stage comes from a short simulation of it (otherwise it is left out)."""
    process = history.process
    file_times, runs, warnings = _file_times(process) if simulate_file else ({}, 0, [])
    limits = _stale_limits(history)
    buyers = {}
    for k, b in enumerate(process.buyer_types):
        if (history.deals.buyer == k).any():
            buyers[b] = _scope(history, b, history.deals.buyer == k, file_times, limits)
    overall = _scope(history, ALL, np.ones(len(history.deals), dtype=bool), file_times, limits)
    used = {m.source for m in overall.moves} | {t.stage for t in overall.times if t.visits}
    created = history.deals.created
    return Measurement(
        process, history.as_of, history.sources, overall, buyers,
        _open_deals(history, limits), [s for s in process.stages if s not in used],
        [m for scope in [overall, *buyers.values()] for m in scope.moves if not m.allowed
         and scope.name == ALL], history.notes,
        created.min().astype(dt.datetime) if len(created) else None, runs, warnings)


def _file_times(process: Process) -> tuple[dict[str, float], int, list[str]]:
    """Mean days per visit of each stage, from a short simulation of the file."""
    if process.arrivals is None:
        return {}, 0, ["the process file has no arrivals: its times in stage are not shown"]
    from salesproc.experiments.experiment import remembered, resolve_settings

    runs = min(process.simulation.replications, SIMULATED_RUNS)
    settings = resolve_settings(process, replications=runs, workers=1)
    result = remembered(process, settings)
    days = HOURS[process.time_unit] / 24.0
    times = {}
    for sid in process.stages:
        e = result.get("stage", sid, "time")
        if e.n:
            times[sid] = e.mean * days
    return times, runs, []


def _days(delta: np.ndarray) -> np.ndarray:
    return delta / DAY


def _durations(history: History, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days in stage of the visits in *mask*, and whether each ended (not still open)."""
    days, ended = history.stays
    return days[mask], ended[mask]


def _quantiles(values: np.ndarray) -> tuple[float, float, float, float]:
    if not len(values):
        return (math.nan,) * 4
    p10, p50, p90 = np.quantile(values, [0.1, 0.5, 0.9])
    return float(values.mean()), float(p10), float(p50), float(p90)


def _scope(history: History, name: str, deals_mask: np.ndarray, file_times: dict[str, float],
           limits: np.ndarray) -> Scope:
    process, d, v = history.process, history.deals, history.visits
    stage_ids = list(process.stages)
    buyer = process.buyer_types.get(name)
    vmask = deals_mask[v.deal]
    outcome = d.outcome[deals_mask]
    won, lost = int((outcome == OUTCOME_WON).sum()), int((outcome == OUTCOME_LOST).sum())
    # opportunities: deals with a visit at the opportunity stage or any stage after it
    reached_opp = np.zeros(len(d), dtype=bool)
    late = vmask & (v.stage >= process.opportunity_index)
    reached_opp[v.deal[late]] = True
    closed_opp = reached_opp & deals_mask & (d.outcome != OUTCOME_OPEN)
    won_opp = int((closed_opp & (d.outcome == OUTCOME_WON)).sum())
    won_mask = deals_mask & (d.outcome == OUTCOME_WON)
    cycle = _quantiles(_days(d.closed[won_mask] - d.created[won_mask]))
    won_values = d.value[won_mask]
    won_value = float(np.nansum(won_values))
    opp_rate = proportion(won_opp, int(closed_opp.sum()))
    open_opps = int((reached_opp & deals_mask & (d.outcome == OUTCOME_OPEN)).sum())
    average = float(np.nanmean(won_values)) if np.isfinite(won_values).any() else math.nan
    velocity = open_opps * opp_rate.mean * average / cycle[0] * DAYS_PER_MONTH \
        if cycle[0] and cycle[0] > 0 else math.nan
    created = d.created[deals_mask]
    span = _days(np.datetime64(history.as_of, "s") - created.min()) if len(created) else 0.0
    positions = _positions(history, vmask)  # both skips and backward moves read them
    return Scope(
        name=name, deals=int(deals_mask.sum()), open=int((outcome == OUTCOME_OPEN).sum()),
        won=won, lost=lost, lead_to_win=proportion(won, won + lost),
        opportunities=int(closed_opp.sum()), opportunity_win_rate=opp_rate,
        won_value=won_value, cycle=cycle, velocity=velocity, open_opportunities=open_opps,
        new_per_week=float(len(created) / (span / 7.0)) if span > 0 else math.nan,
        pipeline=_pipeline(history, vmask, limits),
        moves=_moves(history, vmask, buyer),
        times=[_time(history, vmask & (v.stage == s), sid, file_times.get(sid)
                     if name == ALL else None) for s, sid in enumerate(stage_ids)],
        entered_at=_entered_at(history, vmask),
        skipped=_skipped(history, positions),
        backwards=_backwards(positions),
        losses=_losses(history, deals_mask),
        months=_by_month(created),
        cohorts=_cohorts(history, deals_mask))


def _path_of(process: Process, buyer: int) -> list[str]:
    if buyer < 0:
        return list(process.stages)
    return list(list(process.buyer_types.values())[buyer].path)


def _pipeline(history: History, vmask: np.ndarray, limits: np.ndarray) -> list[StageNow]:
    v, d = history.visits, history.deals
    out = []
    ages_all, _ = _durations(history, vmask & (v.exit == OPEN))
    stages = v.stage[vmask & (v.exit == OPEN)]
    deal = v.deal[vmask & (v.exit == OPEN)]
    for s, sid in enumerate(history.process.stages):
        here = stages == s
        ages = ages_all[here]
        stale = int((ages > limits[d.buyer[deal[here]] + 1, s]).sum())
        value = float(np.nansum(d.value[deal[here]]))
        q = np.quantile(ages, [0.5, 0.9]) if len(ages) else (math.nan, math.nan)
        out.append(StageNow(sid, int(here.sum()), value, float(q[0]), float(q[1]), stale))
    return out


def _stale_limits(history: History) -> np.ndarray:
    """[buyer type + 1, stage] -> days after which a deal there is stale: the stage's
    patience for that buyer type, else the stage's p90 time in stage in the history (row 0:
    deals without a buyer type); and never more than the longest stay of a deal that left
    the stage, so that a deal older than every finished stay is stale even where too few
    stays have finished for a p90."""
    process = history.process
    days = HOURS[process.time_unit] / 24.0
    kinds: list[BuyerType | None] = [None, *process.buyer_types.values()]
    table = np.full((len(kinds), len(process.stages)), math.nan)
    for s, sid in enumerate(process.stages):
        mask = history.visits.stage == s
        stays, ended = _durations(history, mask)
        p90 = kaplan_meier(stays, ended).quantile(0.9) if mask.any() else math.nan
        longest = float(stays[ended].max()) if ended.any() else math.nan
        for b, kind in enumerate(kinds):
            stage = process.stages[sid] if kind is None else kind.stages.get(sid)
            patience = stage.patience if stage is not None else None
            table[b, s] = np.fmin(patience * days if patience is not None else p90, longest)
    return table


def _file_shares(process: Process, buyer: BuyerType | None, sid: str) -> dict[str, float]:
    """The file's share of deals leaving *sid* for each target: the buyer type's exits,
    or for all buyer types their exits weighted by how many deals visit the stage."""
    kinds = [buyer] if buyer is not None else list(process.buyer_types.values())
    rates = analysis.lead_rates(process)
    total: dict[str, float] = {}
    weight = 0.0
    for b in kinds:
        if sid not in b.stages:
            continue
        w = rates.get(b.id, 0.0) * analysis.expected_visits(b).get(sid, 0.0) \
            if buyer is None else 1.0
        weight += w
        for e in routing.exits(b.stages[sid], b):
            total[e.target] = total.get(e.target, 0.0) + w * e.share
    total.pop(sid, None)  # a CRM never shows a move from a stage to itself (a rejection
    kept = math.fsum(total.values())  # back to it): shares of the moves it can show
    return {t: s / kept for t, s in total.items()} if weight > 0 and kept > 0 else {}


def _allowed(process: Process, buyer: BuyerType | None, sid: str) -> set[str]:
    kinds = [buyer] if buyer is not None else list(process.buyer_types.values())
    out: set[str] = set()
    for b in kinds:
        if sid in b.stages:
            out |= routing.targets(b.stages[sid], b)
    return out | {LOST}


def _target_name(history: History, code: int) -> str:
    if code == WON_CODE:
        return WON
    if code == LOST_CODE:
        return LOST
    return list(history.process.stages)[code]


def _moves(history: History, vmask: np.ndarray, buyer: BuyerType | None) -> list[Move]:
    v = history.visits
    done = vmask & (v.exit != OPEN) & (v.exit != UNMAPPED)
    out = []
    for s, sid in enumerate(history.process.stages):
        here = done & (v.stage == s)
        total = int(here.sum())
        if not total:
            continue
        shares = _file_shares(history.process, buyer, sid)
        allowed = _allowed(history.process, buyer, sid)
        codes, counts = np.unique(v.exit[here], return_counts=True)
        for code, count in zip(codes.tolist(), counts.tolist(), strict=True):
            target = _target_name(history, code)
            out.append(Move(sid, target, count, proportion(count, total),
                            shares.get(target, 0.0) if shares else None, target in allowed))
    return out


def _time(history: History, mask: np.ndarray, sid: str, file_mean: float | None
          ) -> StageTime:
    durations, ended = _durations(history, mask)
    curve = kaplan_meier(durations, ended)
    mean, low, high = mean_interval(durations, ended, history.visits.entered[mask])
    complete = durations[ended]
    return StageTime(sid, int(mask.sum()), int((~ended).sum()), curve.quantile(0.5),
                     curve.quantile(0.9), Estimate(mean, low, high, int(mask.sum())),
                     float(np.median(complete)) if len(complete) else math.nan, file_mean)


BATCH_VISITS = 30  # a month's visits needed for its mean to count in the inflation


def mean_interval(durations: np.ndarray, ended: np.ndarray, entered: np.ndarray
                  ) -> tuple[float, float, float]:
    """(mean, low, high) of a time in stage: the Kaplan–Meier restricted mean, its 95%
    interval widened where deals' times hang together from month to month. All NaN (no
    figure) where no visit has ended: max(0, NaN) would be 0."""
    mean, low, high = kaplan_meier(durations, ended).restricted_mean()
    if math.isnan(mean):
        return mean, low, high
    widen = math.sqrt(inflation(durations, ended, entered))
    return mean, max(0.0, mean - (mean - low) * widen), mean + (high - mean) * widen


def inflation(durations: np.ndarray, ended: np.ndarray, entered: np.ndarray) -> float:
    """How much wider than for independent deals the interval of a mean time in stage
    must be (at least 1): deals that enter in a busy month all wait longer, so their
    times are not independent. Estimated by monthly batch means over the months whose
    visits have (almost) all ended: the variance of the months' means over that of
    their visits' times, times the visits in a month."""
    months, month = np.unique(entered.astype("datetime64[M]"), return_inverse=True)
    count = np.bincount(month, minlength=len(months))
    done = np.bincount(month, weights=ended, minlength=len(months))
    eligible = (count >= BATCH_VISITS) & (done >= 0.95 * count)
    if eligible.sum() < 4:
        return 1.0
    use = ended & eligible[month]
    sums = np.bincount(month[use], weights=durations[use], minlength=len(months))
    means = sums[eligible] / done[eligible]
    independent = durations[use].var(ddof=1) / use.sum()
    batched = np.var(means, ddof=1) / len(means)
    return max(1.0, float(batched / independent)) if independent > 0 else 1.0


def _entered_at(history: History, vmask: np.ndarray) -> dict[str, int]:
    first = np.flatnonzero(first_visits(history.visits) & vmask)  # vmask holds whole deals
    counts = np.bincount(history.visits.stage[first], minlength=len(history.process.stages))
    return {sid: int(c) for sid, c in zip(history.process.stages, counts, strict=True) if c}


def _positions(history: History, vmask: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                              np.ndarray]:
    """For moves from a stage to a stage: the deal's buyer, and both stages' places on
    that buyer's path (-1 when off it)."""
    v = history.visits
    move = vmask & (v.exit >= 0)
    buyers = history.deals.buyer[v.deal[move]]
    place = np.full((len(history.process.buyer_types) + 1, len(history.process.stages)), -1)
    for b in range(-1, len(history.process.buyer_types)):
        for k, sid in enumerate(_path_of(history.process, b)):
            place[b, list(history.process.stages).index(sid)] = k
    return buyers, place[buyers, v.stage[move]], place[buyers, v.exit[move]]


Positions = tuple[np.ndarray, np.ndarray, np.ndarray]


def _skipped(history: History, positions: Positions) -> dict[str, int]:
    """Stages on the deal's path jumped over by a move forward, and how many deals did."""
    buyers, a, b = positions
    jump = (a >= 0) & (b > a + 1)
    out: dict[str, int] = {}
    for buyer in np.unique(buyers[jump]).tolist():
        mine = jump & (buyers == buyer)
        for k, sid in enumerate(_path_of(history.process, buyer)):
            count = int((mine & (a < k) & (b > k)).sum())
            if count:
                out[sid] = out.get(sid, 0) + count
    return out


def _backwards(positions: Positions) -> int:
    """Moves to a stage earlier on the deal's path."""
    _, a, b = positions
    return int(((a >= 0) & (b >= 0) & (b < a)).sum())


def _losses(history: History, deals_mask: np.ndarray) -> list[tuple[str, str, int]]:
    lost = np.flatnonzero(deals_mask & (history.deals.outcome == OUTCOME_LOST))
    if not len(lost):
        return []
    stage = lost_stage(history)[lost].astype(np.int64)
    encoded = history.deals.reason.take(pa.array(lost)).dictionary_encode()
    words = [w or NO_REASON for w in encoded.dictionary.to_pylist()]
    key = (stage + 1) * len(words) + encoded.indices.to_numpy(zero_copy_only=False)
    keys, counts = np.unique(key, return_counts=True)
    ids = ["", *history.process.stages]
    rows = [(ids[k // len(words)], words[k % len(words)], int(c))
            for k, c in zip(keys.tolist(), counts.tolist(), strict=True)]
    return sorted(rows, key=lambda r: (-r[2], r[0], r[1]))


def _by_month(created: np.ndarray) -> list[tuple[str, int]]:
    if not len(created):
        return []
    months, counts = np.unique(created.astype("datetime64[M]"), return_counts=True)
    return [(str(m), int(c)) for m, c in zip(months, counts, strict=True)]


def _cohorts(history: History, deals_mask: np.ndarray) -> list[Cohort]:
    d = history.deals
    if not deals_mask.any():
        return []
    months, month = np.unique(d.created.astype("datetime64[M]"), return_inverse=True)
    reached = _reached(history, deals_mask, month, len(months))
    counts = np.bincount(month[deals_mask] * 3 + d.outcome[deals_mask],
                         minlength=len(months) * 3).reshape(len(months), 3)
    out = []
    for i in np.unique(month[deals_mask]).tolist():
        out.append(Cohort(str(months[i]), int(counts[i].sum()),
                          {sid: int(reached[i, s]) for s, sid in
                           enumerate(history.process.stages)},
                          int(counts[i, OUTCOME_WON]), int(counts[i, OUTCOME_LOST]),
                          int(counts[i, OUTCOME_OPEN])))
    return out


@dataclass(frozen=True)
class OpenDeals:
    """Every open deal, oldest in its stage first, kept as columns: :meth:`rows` makes
    :class:`OpenDeal` records of as many as are asked for."""

    history: History
    visit: np.ndarray  # the open visits (indexes into history.visits), oldest first
    age: np.ndarray  # days in the stage
    stale: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.visit)

    def of(self, buyer: str) -> OpenDeals:
        """The open deals of one buyer type."""
        kind = list(self.history.process.buyer_types).index(buyer)
        mine = self.history.deals.buyer[self.history.visits.deal[self.visit]] == kind
        return OpenDeals(self.history, self.visit[mine], self.age[mine], self.stale[mine])

    def unvalued(self) -> int:
        """How many of them have no known value (no amount, or one that is not a number):
        the pipeline's worth leaves them out."""
        deal = self.history.visits.deal[self.visit]
        return int(np.isnan(self.history.deals.value[deal]).sum())

    def rows(self, limit: int | None = None) -> list[OpenDeal]:
        """The first *limit* open deals (all by default), with what each still needs."""
        h = self.history
        process, d, v = h.process, h.deals, h.visits
        ids, kinds = list(process.stages), list(process.buyer_types.values())
        chosen = self.visit[:limit]
        deal = v.deal[chosen]
        names = d.id.take(pa.array(deal, type=pa.int64())).to_pylist()
        needs: dict[tuple[int, int, float], tuple[tuple[str, ...], tuple[str, ...]]] = {}
        out = []
        for k, (j, s) in enumerate(zip(deal.tolist(), v.stage[chosen].tolist(), strict=True)):
            b, value = int(d.buyer[j]), float(d.value[j])
            key = (b, s, value)
            if key not in needs:
                needs[key] = _needs(process, kinds[b] if b >= 0 else None, ids[s], value)
            requires, approvals = needs[key]
            out.append(OpenDeal(names[k], kinds[b].id if b >= 0 else "", ids[s],
                                float(self.age[k]), value, bool(self.stale[k]), requires,
                                approvals))
        return out


def _needs(process: Process, buyer: BuyerType | None, sid: str, value: float
           ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What a deal in *sid* still needs: the stage's required information, and the
    approvals that apply to a deal of its value and buyer type (all, if its value is
    unknown and an approval depends on it)."""
    stage = buyer.stages.get(sid, process.stages[sid]) if buyer else process.stages[sid]
    approvals = tuple(routing.approval_label(stage, j) for j, a in enumerate(stage.approvals)
                      if a.when is None or not math.isfinite(value)
                      or a.when.applies(value, buyer.id if buyer else ""))
    return tuple(process.information[i].label for i in stage.requires), approvals


def _reached(history: History, deals_mask: np.ndarray, month: np.ndarray, months: int
             ) -> np.ndarray:
    """[month created, stage] -> how many of the deals in *deals_mask* reached the stage (a
    deal back in a stage reached it once)."""
    v, nstages = history.visits, len(history.process.stages)
    mine = np.flatnonzero(deals_mask[v.deal])
    if nstages > 62 or not len(mine):  # too many stages for one bit each in an int64
        pairs = np.unique(v.deal[mine].astype(np.int64) * nstages + v.stage[mine])
        return np.bincount(month[pairs // nstages] * nstages + pairs % nstages,
                           minlength=months * nstages).reshape(months, nstages)
    deal = v.deal[mine]  # a deal's visits stand together (visits run in order of deal)
    starts = np.flatnonzero(np.append(True, deal[1:] != deal[:-1]))
    bits = np.bitwise_or.reduceat(np.left_shift(1, v.stage[mine].astype(np.int64)), starts)
    cohort = month[deal[starts]]
    return np.stack([np.bincount(cohort, weights=(bits >> s) & 1, minlength=months)
                     for s in range(nstages)], axis=1).astype(np.int64)


def open_deals(history: History) -> OpenDeals:
    """Every open deal, oldest in its stage first, with whether it is stale: older than
    its stage's patience, else its p90 time in stage in the history, and never older
    than the longest stay of a deal that left the stage."""
    return _open_deals(history, _stale_limits(history))


def _open_deals(history: History, limits: np.ndarray) -> OpenDeals:
    """Every open deal, oldest in its stage first, with whether it is stale."""
    v, d = history.visits, history.deals
    visit = np.flatnonzero(v.exit == OPEN)
    age, _ = _durations(history, v.exit == OPEN)
    stale = age > limits[d.buyer[v.deal[visit]] + 1, v.stage[visit]]
    order = np.lexsort((visit, -age))
    return OpenDeals(history, visit[order], age[order], stale[order])


def scopes(m: Measurement) -> Sequence[Scope]:
    """The overall scope, then each buyer type's."""
    return [m.overall, *m.buyers.values()]
