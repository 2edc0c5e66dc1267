"""The weekly pipeline review: what moved between two dates, what needs attention, what
is missing from the CRM, and the same per owner.

Everything comes from the history as it stood at each date (History.at: the deals created
by then, their outcomes then, their amounts and expected close dates as their last
history row by then said). Each deal is in one state at each date — not there yet, open,
or closed — and so **the movement reconciles exactly**, count and value:

    open at the start + new + reopened − won − lost ± amount changes = open at the end

where a new deal is one created in the period; reopened, closed at the start and open at
the end, or closed again in the period (lost, reopened and won within it); won and lost,
the deals open at the start, new or reopened that are closed at the end; the amount
changes are those of the deals open at the start (their end value less their start
value). New, won, lost and reopened deals count at their value at the end (a won deal's:
as it stood when it closed, the last row by then). An unknown amount counts as zero and is
listed under data hygiene. Each deal's state at a date is what its stage history says then
(History.at): a deal lost and later reopened was closed in between.

The deals open at both dates moved forward (a later stage along their buyer type's path),
back,
or stayed; the expected close dates of the deals open at the start that fell in the
period slipped out of it (still open, now expected after it) or held. Deals that need
attention are the open ones at the end that are stale (as `measure` says), past their
expected close, untouched for UNTOUCHED_DAYS (no stage change and no new history row), a
large deal that slipped (the top LARGE_SHARE of the open pipeline by value), or moved
back; each with its reasons, grouped by owner.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from salesproc.core import layout
from salesproc.core.diagnostics import did_you_mean, quoted
from salesproc.core.errors import SalesprocError, SettingsError
from salesproc.core.stats import Estimate, proportion
from salesproc.history.table import (
    OPEN,
    OUTCOME_LOST,
    OUTCOME_OPEN,
    OUTCOME_WON,
    History,
    after_the_fact,
)

if TYPE_CHECKING:
    import pandas

    from salesproc.process.model import Process

BEFORE_DAYS = 90.0  # the loss reasons of the period are set against this many days before
COHORTS = 6  # months of cohorts in the trend
UNTOUCHED_DAYS = 30.0  # an open deal with no change for this long needs attention
LARGE_SHARE = 0.2  # the largest fifth of the open deals by value are "large"
NO_OWNER = "(no owner)"

STALE = "stale"
OVERDUE = "close date passed"
UNTOUCHED = "untouched"
SLIPPED = "large deal slipped"
MOVED_BACK = "moved back"


@dataclass(frozen=True)
class Flow:
    """How many deals, and what they are worth (unknown amounts as zero)."""

    deals: int
    value: float

    def to_dict(self) -> dict[str, Any]:
        return {"deals": self.deals, "value": layout.number(self.value)}


@dataclass(frozen=True)
class StageMove:
    """One stage: its open deals at each date, and where those open at both went."""

    stage: str
    open_start: Flow
    open_end: Flow
    forward: int  # open at both dates, here at the start, in a later stage at the end
    back: int  # ... in an earlier stage at the end
    stayed: int  # ... still here


@dataclass(frozen=True)
class Attention:
    """An open deal at the end that needs a look, and why."""

    deal: str
    name: str  # its name in the CRM ('' where the export has none)
    owner: str
    stage: str
    days_in_stage: float
    value: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Hygiene:
    """What is missing or odd in the CRM at one date: open deals without an amount or an
    expected close date, open deals that share their name with another (likely entered
    twice), and of the period before it: lost deals without a reason, wins entered after
    the fact, and deals that moved past a stage of their path without going through it."""

    no_amount: int
    no_close_date: int
    lost_without_reason: int
    entered_after_the_fact: int
    stages_skipped: int = 0
    duplicates: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class OwnerView:
    """One owner's part of the review."""

    owner: str
    open_end: Flow
    new: Flow
    won: Flow
    lost: Flow
    forward: int
    back: int
    attention: int
    hygiene: int = 0  # the data-hygiene findings at the end that are this owner's to fix


@dataclass(frozen=True)
class ReasonShift:
    """One loss reason: its share of the period's losses and of those of the BEFORE_DAYS
    before it, each with its 95% Wilson interval, and the two-proportion test's p-value
    that the shares are the same."""

    reason: str
    now: Estimate
    before: Estimate
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "now": layout.estimate(self.now),
                "before": layout.estimate(self.before), "p_value": layout.number(self.p_value)}


@dataclass(frozen=True)
class LossGroup:
    """The period's losses of one group (a stage, a buyer type, a field's value) for one
    reason, beside the BEFORE_DAYS before it."""

    by: str  # 'stage', 'buyer type', or a field's id
    group: str
    reason: str
    now: int
    before: int


@dataclass(frozen=True)
class Cohort:
    """The deals created in one month: how many, won, lost, the win rate (won of those
    closed) with its 95% Wilson interval, and the median days from created to won with
    its 95% interval (binomial order statistics; NaN where too few were won)."""

    month: str
    deals: int
    won: int
    lost: int
    open: int  # still open: a young cohort's win rate is of those closed so far
    win_rate: Estimate
    cycle_median: float
    cycle_low: float
    cycle_high: float


@dataclass(frozen=True)
class Previous:
    """What changed since a saved review (``Review.to_dict()``, read back by
    :func:`previous_from`): its period's end, its open pipeline and this one's, the
    deals that need attention now and did not then (and the other way round), and its
    data hygiene at its end."""

    end: dt.datetime
    open_end: Flow
    hygiene: Hygiene
    flagged: tuple[str, ...]  # the deals (ids) that needed attention then
    newly_flagged: tuple[str, ...] = ()  # ... now, and not then
    cleared: tuple[str, ...] = ()  # ... then, and not now
    forecast_until: dt.datetime | None = None  # its forecast's end, when it had one
    forecast: dict[str, float] | None = None  # ... and what it said at its end

    def to_dict(self) -> dict[str, Any]:
        return {"end": self.end.isoformat(), "open_end": self.open_end.to_dict(),
                "newly_flagged": list(self.newly_flagged), "cleared": list(self.cleared),
                "hygiene": self.hygiene.to_dict()}


#: What moved the forecast, in the order it is told (see prediction.change).
FORECAST_CAUSES = ("won", "lost", "new deals", "reopened", "moved forward", "moved back",
                   "slipped", "amount changed", "no change (time passed)",
                   "new deals still to come")


@dataclass(frozen=True)
class ForecastMove:
    """One cause's part in the forecast's change: the deals it holds, and how much it
    moved the expected deals won and revenue by the forecast's end."""

    cause: str  # one of FORECAST_CAUSES
    deals: int  # 0 for the new deals still to come
    won: float
    revenue: float

    def to_dict(self) -> dict[str, Any]:
        return {"cause": self.cause, "deals": self.deals, "won": layout.number(self.won),
                "revenue": layout.number(self.revenue)}


@dataclass(frozen=True)
class ForecastChange:
    """The forecast of deals won and revenue from the review's start to *until*, made at
    the start and at the end (the end's: won in the period, plus its forecast of the
    rest), the change run by run (the same seeds), and what moved it: each deal's part
    (its expected wins and revenue at the end less at the start) summed by cause, and
    the new deals still to come; the moves sum to the change's mean exactly."""

    until: dt.datetime
    replications: int
    before: dict[str, Estimate]  # "won", "revenue"
    after: dict[str, Estimate]
    change: dict[str, Estimate]
    actual: dict[str, float]  # won in the period
    moves: list[ForecastMove]
    saved: dict[str, float] | None = None  # what the saved review (--against) said at its end

    def to_dict(self) -> dict[str, Any]:
        return {"until": self.until.isoformat(), "replications": self.replications,
                **{when: {k: layout.estimate(e) for k, e in figures.items()}
                   for when, figures in (("before", self.before), ("after", self.after),
                                         ("change", self.change))},
                "won_in_period": {k: layout.number(v) for k, v in self.actual.items()},
                "moves": [m.to_dict() for m in self.moves],
                "saved": None if self.saved is None
                else {k: layout.number(v) for k, v in self.saved.items()}}


@dataclass
class Review:
    """The review of the period from *start* to *end* (see the module's docstring)."""

    process_name: str
    currency: str
    start: dt.datetime
    end: dt.datetime
    sources: tuple[str, ...]
    open_start: Flow
    new: Flow
    reopened: Flow
    won: Flow
    lost: Flow
    amount_changes: float
    open_end: Flow
    slipped: Flow  # expected in the period at its start, still open and expected after
    pulled_in: Flow  # expected after the period at its start, won in it
    stages: list[StageMove]
    attention: list[Attention]
    hygiene_start: Hygiene
    hygiene_end: Hygiene
    owners: list[OwnerView]
    owner: str | None = None  # the one owner reviewed (--owner), else None: everyone
    hygiene_trend: list[tuple[dt.datetime, Hygiene]] = field(default_factory=list)
    losses: list[ReasonShift] = field(default_factory=list)
    loss_groups: list[LossGroup] = field(default_factory=list)
    cohorts: list[Cohort] = field(default_factory=list)
    previous: Previous | None = None  # set by against(): what changed since a saved review
    notes: list[str] = field(default_factory=list)
    forecast: ForecastChange | None = None  # set by prediction.change, when asked for

    def against(self, saved: Any) -> Review:
        """This review with what changed since *saved* (a review's JSON layout, as
        ``to_dict()`` wrote it). ValueError, saying what is wrong, for anything else."""
        from dataclasses import replace

        was = previous_from(saved)
        for key, mine in (("process", self.process_name), ("currency", self.currency),
                          ("owner", self.owner)):
            theirs = saved.get(key)
            if theirs != mine:  # a review of another process, money or rep: not comparable
                said = "everyone" if theirs is None else f"'{quoted(str(theirs), 60)}'"
                this = "everyone" if mine is None else f"'{quoted(str(mine), 60)}'"
                raise ValueError(f"the saved review's {key} is {said}, this one's {this}: "
                                 "compare reviews of the same")
        if was.end > self.end:
            raise ValueError(f"the saved review ends {was.end:%Y-%m-%d %H:%M}, after this "
                             f"one ({self.end:%Y-%m-%d %H:%M}): compare with an earlier one")
        now = [a.deal for a in self.attention]
        forecast = self.forecast
        if forecast is not None and was.forecast is not None \
                and was.forecast_until == forecast.until:  # the same forecast, a week on
            forecast = replace(forecast, saved=was.forecast)
        return replace(self, forecast=forecast, previous=replace(
            was, newly_flagged=tuple(d for d in now if d not in set(was.flagged)),
            cleared=tuple(d for d in was.flagged if d not in set(now))))

    def biggest_shift(self) -> str:
        """The loss reason whose share moved most, in words ('' when none moved by more
        than chance: p < 0.05 for the reasons together, Bonferroni's p < 0.05 / k for k
        reasons, so that six reasons do not give one by chance a time in four)."""
        moved = [s for s in self.losses if s.p_value < 0.05 / max(1, len(self.losses))]
        if not moved:
            return ""
        s = max(moved, key=lambda x: abs(x.now.mean - x.before.mean))
        way = "up" if s.now.mean > s.before.mean else "down"
        return (f"'{s.reason}' is {way}: {s.now.mean:.0%} ({s.now.low:.0%}–{s.now.high:.0%})"
                f" of this period's {s.now.n:,} losses, against {s.before.mean:.0%} "
                f"({s.before.low:.0%}–{s.before.high:.0%}) of the {s.before.n:,} in the "
                f"{BEFORE_DAYS:g} days before (p = {s.p_value:.2g})")

    @property
    def reconciles(self) -> bool:
        """Whether start + flows = end, count and value (always, by construction: a
        check for a caller who changes the figures)."""
        count = (self.open_start.deals + self.new.deals + self.reopened.deals
                 - self.won.deals - self.lost.deals)
        value = math.fsum([self.open_start.value, self.new.value, self.reopened.value,
                           -self.won.value, -self.lost.value, self.amount_changes])
        return count == self.open_end.deals and math.isclose(
            value, self.open_end.value, rel_tol=1e-9, abs_tol=1e-6)

    COLUMNS = ("section", "key", "deals", "value")

    def rows(self) -> list[list[Any]]:
        """The review as flat rows (COLUMNS): the movement, each stage's moves, the deals
        that need attention (one row per deal, its reasons in *key*), hygiene at both
        dates, each owner, the loss reasons of the period and of the days before it, the
        forecast's change and what moved it (deals won and revenue, as deals and value),
        and each month's cohort."""
        out: list[list[Any]] = [["movement", name, f.deals, f.value]
                                for name, f in self.movement()]
        out.append(["movement", "amount changes", None, self.amount_changes])
        for s in self.stages:
            out += [["stage " + s.stage, "open at start", s.open_start.deals,
                     s.open_start.value],
                    ["stage " + s.stage, "open at end", s.open_end.deals, s.open_end.value],
                    ["stage " + s.stage, "moved forward", s.forward, None],
                    ["stage " + s.stage, "moved back", s.back, None],
                    ["stage " + s.stage, "stayed", s.stayed, None]]
        out += [["attention", f"{a.deal} {a.name}: {'; '.join(a.reasons)}".replace(" :", ":"),
                 1, a.value]
                for a in self.attention]
        for when, h in (("start", self.hygiene_start), ("end", self.hygiene_end)):
            out += [[f"hygiene at {when}", k.replace("_", " "), v, None]
                    for k, v in h.to_dict().items()]
        for o in self.owners:
            out += [[f"owner {o.owner}", name, n, None] for name, n in
                    (("moved forward", o.forward), ("moved back", o.back),
                     ("need attention", o.attention), ("data hygiene", o.hygiene))]
            out += [[f"owner {o.owner}", name, f.deals, f.value] for name, f in
                    (("open at end", o.open_end), ("new", o.new), ("won", o.won),
                     ("lost", o.lost))]
        out += [["loss reasons this period", s.reason, round(s.now.mean * s.now.n),
                 None] for s in self.losses if s.now.n]
        out += [[f"loss reasons in the {BEFORE_DAYS:g} days before", s.reason,
                 round(s.before.mean * s.before.n), None] for s in self.losses if s.before.n]
        if self.forecast is not None:  # deals: the expected deals won; value: the revenue
            f = self.forecast
            section = f"forecast to {f.until:%Y-%m-%d}"
            out += [[section, what, e["won"].mean, e["revenue"].mean] for what, e in
                    (("at start", f.before), ("at end", f.after), ("change", f.change))]
            out.append([section, "won in the period", f.actual["won"], f.actual["revenue"]])
            out += [[section, f"moved by: {m.cause}", m.won, m.revenue] for m in f.moves]
        for c in self.cohorts:
            out += [[f"cohort {c.month}", name, n, None] for name, n in
                    (("deals", c.deals), ("won", c.won), ("lost", c.lost), ("open", c.open))]
            out.append([f"cohort {c.month}", "median days to win", None, c.cycle_median])
        return out

    def movement(self) -> list[tuple[str, Flow]]:
        """The movement's lines in order (the amount changes apart: a value alone)."""
        return [("open at start", self.open_start), ("new", self.new),
                ("reopened", self.reopened), ("won", self.won), ("lost", self.lost),
                ("open at end", self.open_end), ("slipped", self.slipped),
                ("pulled in", self.pulled_in)]

    def to_frame(self) -> pandas.DataFrame:
        """The rows as a pandas DataFrame (needs pandas)."""
        return layout.frame(self.rows(), self.COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        """The JSON layout of `salesproc review --format json`."""
        return {
            **layout.header("review"), "process": self.process_name,
            "currency": self.currency, "start": self.start.isoformat(),
            "end": self.end.isoformat(), "sources": list(self.sources), "owner": self.owner,
            "movement": {**{_key(name): f.to_dict() for name, f in self.movement()},
                         "amount_changes": layout.number(self.amount_changes),
                         "reconciles": self.reconciles},
            "stages": [{"stage": s.stage, "open_start": s.open_start.to_dict(),
                        "open_end": s.open_end.to_dict(), "forward": s.forward,
                        "back": s.back, "stayed": s.stayed} for s in self.stages],
            "attention": [{"deal": a.deal, "name": a.name, "owner": a.owner, "stage": a.stage,
                           "days_in_stage": layout.number(a.days_in_stage),
                           "value": layout.number(a.value), "reasons": list(a.reasons)}
                          for a in self.attention],
            "hygiene_trend": [{"at": at.isoformat(), **h.to_dict()}
                              for at, h in self.hygiene_trend],
            "hygiene": {"start": self.hygiene_start.to_dict(),
                        "end": self.hygiene_end.to_dict()},
            "losses": {"before_days": BEFORE_DAYS,
                       "reasons": [s.to_dict() for s in self.losses],
                       "groups": [g.__dict__ for g in self.loss_groups],
                       "biggest_shift": self.biggest_shift()},
            "cohorts": [{"month": c.month, "deals": c.deals, "won": c.won, "lost": c.lost,
                         "open": c.open,
                         "win_rate": layout.estimate(c.win_rate),
                         "cycle_median_days": layout.number(c.cycle_median),
                         "cycle_low": layout.number(c.cycle_low),
                         "cycle_high": layout.number(c.cycle_high)} for c in self.cohorts],
            "previous": self.previous.to_dict() if self.previous else None,
            "forecast": self.forecast.to_dict() if self.forecast else None,
            "owners": [{"owner": o.owner, "open_end": o.open_end.to_dict(),
                        "new": o.new.to_dict(), "won": o.won.to_dict(),
                        "lost": o.lost.to_dict(), "forward": o.forward, "back": o.back,
                        "attention": o.attention, "hygiene": o.hygiene}
                       for o in self.owners],
            "notes": self.notes,
        }


def previous_from(data: Any) -> Previous:
    """A saved review's end, open pipeline, flagged deals and data
    hygiene at its end. ValueError, saying what is missing, on anything else."""
    if not isinstance(data, dict) or data.get("kind") != "review":
        raise ValueError("not a saved review (its kind is not 'review')")
    if data.get("layout") != layout.LAYOUT_VERSION:
        raise ValueError(f"a review in layout {str(data.get('layout'))[:20]}, not "
                         f"{layout.LAYOUT_VERSION}: saved by another version of salesproc")
    try:
        end = _naive(str(data["end"]))
        block = data["movement"]["open_end"]
        open_end = Flow(int(block["deals"]), float(block["value"] or 0.0))
        flagged = tuple(dict.fromkeys(str(a["deal"]) for a in data["attention"]))
        h = data["hygiene"]["end"]
        hygiene = Hygiene(**{k: int(h[k]) for k in Hygiene.__dataclass_fields__})
        ahead = data.get("forecast")  # a review without a forecast has none
        until = None if ahead is None else _naive(str(ahead["until"]))
        said = None if ahead is None else {k: float(e["mean"])
                                           for k, e in ahead["after"].items()}
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        what = (f"it has no '{str(exc.args[0])[:40]}'" if isinstance(exc, KeyError)
                else "a value in it is not what a review writes")
        raise ValueError(f"not a saved review ({what})") from None
    return Previous(end, open_end, hygiene, flagged, forecast_until=until, forecast=said)


def _naive(text: str) -> dt.datetime:
    """A date and time a review wrote (the export's local time, without a zone)."""
    when = dt.datetime.fromisoformat(text)
    if when.tzinfo is not None:  # a review writes its dates as the export's, no offset
        raise ValueError(when)
    return when


def _key(name: str) -> str:
    """A movement line's JSON key: 'open at start' is open_start, as a stage's is."""
    return name.replace(" at ", " ").replace(" ", "_")


def review(history: History, since: dt.datetime, *, owner: str | None = None,
           untouched_days: float = UNTOUCHED_DAYS) -> Review:
    """The review of *history* from *since* to its as-of date (see the module's
    docstring); with *owner*, that owner's deals alone (a SettingsError, setting 'owner',
    names the owners there are when no deal has that one)."""
    end = history.as_of
    if since >= end:
        raise SettingsError("since", f"the review must start before its end "
                            f"({end:%Y-%m-%d %H:%M})")
    if not history.has_stages:
        raise SalesprocError("a review needs the deals' stage history: a deal table does "
                             "not say where a deal stood when the period began",
                             hint="export the stage history too (Salesforce's "
                             "OpportunityHistory.csv, HubSpot's 'Date entered' columns)")
    d = history.deals
    owners = np.array([o or NO_OWNER for o in d.owner.to_pylist()], dtype=object)
    mine = np.ones(len(d), dtype=bool)
    if owner is not None:
        if owner not in set(owners.tolist()):
            known = sorted(set(owners.tolist()))
            near = did_you_mean(owner, known)
            raise SettingsError("owner", f"no deal has the owner '{quoted(owner, 60)}'",
                                hint=(f"{near}; " if near else "") + "owners: "
                                + ", ".join(quoted(k, 40) for k in known[:12])
                                + ("…" if len(known) > 12 else ""))
        mine = owners == owner
    s = deal_states(history, since)
    before, after, kept = s.before, history, s.kept
    value_start, value_end = s.value_start, s.value_end
    was_open, absent, is_open, stop = s.was_open, s.absent, s.is_open, s.stop
    forward, back, slipped = s.forward, s.back, s.slipped
    period_end = np.datetime64(end, "s")

    def flow(mask: np.ndarray, values: np.ndarray) -> Flow:
        mask = mask & mine
        return Flow(int(mask.sum()), math.fsum(values[mask].tolist()))

    findings = _findings(after, since)
    result = Review(
        history.process.name, history.process.currency, since, end, history.sources,
        open_start=flow(was_open, value_start), new=flow(absent, value_end),
        reopened=flow(s.reopened, value_end), won=flow(s.won, value_end),
        lost=flow(s.lost, value_end),
        amount_changes=math.fsum((value_end - value_start)[was_open & mine].tolist()),
        open_end=flow(is_open, value_end),
        slipped=flow(slipped, value_end),
        pulled_in=flow(was_open & (s.close_start > period_end) & (stop == OUTCOME_WON),
                       value_end),
        stages=[], attention=[],
        hygiene_start=_hygiene(_findings(before, since - (end - since)), mine[kept]),
        hygiene_end=_hygiene(findings, mine), owners=[], owner=owner)
    for k, sid in enumerate(history.process.stages):
        here_start = was_open & (s.stage_start == k)
        here_end = is_open & (s.stage_end == k)
        result.stages.append(StageMove(
            sid, flow(here_start, value_start), flow(here_end, value_end),
            int((forward & here_start & mine).sum()), int((back & here_start & mine).sum()),
            int((was_open & here_end & here_start & mine).sum())))
    result.attention = _attention(after, mine, owners,
                                  back | _went_back(after, np.datetime64(since, "s")),
                                  slipped, untouched_days)
    flagged = Counter(a.owner for a in result.attention)
    to_fix = np.sum(list(findings.values()), axis=0)  # each deal's findings at the end
    names, code = np.unique(owners, return_inverse=True)
    for k, name in enumerate(names.tolist()):
        his = code == k
        if not (his & mine).any():
            continue
        result.owners.append(OwnerView(
            name, flow(is_open & his, value_end), flow(absent & his, value_end),
            flow(s.won & his, value_end), flow(s.lost & his, value_end),
            int((forward & his & mine).sum()), int((back & his & mine).sum()),
            flagged.get(name, 0), int(to_fix[his & mine].sum())))
    _losses(result, history, since, mine)
    result.cohorts = _cohorts(history, mine)
    result.hygiene_trend = _trend(history, mine)
    if history.values is None:
        result.notes.append("the export holds each deal's amount and close date as they are "
                            "now, not as they stood at the start: the start's values are "
                            "today's, and no amount changed")
    return result


ABSENT = -1  # a deal not created yet at a date


@dataclass(frozen=True)
class DealStates:
    """Each deal of a history (arrays by its index there) at the start and the end of a
    period, by the module docstring's rules: the one home of what counts as new,
    reopened, won, lost, moved forward or back and slipped, for the review's movement
    and for what moved its forecast (prediction.change)."""

    before: History  # the history as it stood at the start
    kept: np.ndarray  # the deals there at the start (their index in the end's history)
    stop: np.ndarray  # the outcome at the end
    absent: np.ndarray  # not created yet at the start: new
    was_open: np.ndarray
    is_open: np.ndarray
    reopened: np.ndarray  # closed at the start, open at the end or closed again since
    won: np.ndarray  # open at the start, new or reopened; won at the end
    lost: np.ndarray  # ...; lost at the end
    forward: np.ndarray  # open at both dates, further along its path at the end
    back: np.ndarray  # ... further back
    slipped: np.ndarray  # open at both, expected in the period at its start and after it now
    value_start: np.ndarray  # unknown amounts as zero
    value_end: np.ndarray
    stage_start: np.ndarray  # -1: not open then
    stage_end: np.ndarray
    close_start: np.ndarray  # the expected close date at the start (NaT: none)


def deal_states(history: History, since: dt.datetime) -> DealStates:
    """Each deal's state at *since* and at *history*'s as-of date (see DealStates)."""
    before, d = history.at(since), history.deals
    cut, end = np.datetime64(since, "s"), np.datetime64(history.as_of, "s")
    kept = np.flatnonzero(d.created <= cut)  # before's deals, in order
    start = _spread(before.deals.outcome, kept, len(d), ABSENT)
    stop = d.outcome
    stage_start = _spread(_stages(before), kept, len(d), -1)
    stage_end = _stages(history)
    absent, was_open, was_closed = start == ABSENT, start == OUTCOME_OPEN, start > 0
    is_open = stop == OUTCOME_OPEN
    # closed at the start and closed again later: reopened, then won or lost, in the period
    reclosed = was_closed & (stop > 0) & (d.closed > cut)
    moving = was_open | absent | reclosed
    close_start = _spread(before.deals.close_date, kept, len(d), np.datetime64("NaT", "s"))
    expected_in = was_open & (close_start >= cut) & (close_start <= end)
    both = was_open & is_open
    # further along or back along the deal's path (one rule with the attention list's)
    place = _positions(history.process)
    row = d.buyer.astype(np.int64) + 1
    at_start = place[row, np.maximum(stage_start, 0)]
    at_end = place[row, np.maximum(stage_end, 0)]
    return DealStates(
        before, kept, stop, absent, was_open, is_open,
        reopened=was_closed & (is_open | reclosed), won=moving & (stop == OUTCOME_WON),
        lost=moving & (stop == OUTCOME_LOST), forward=both & (at_end > at_start),
        back=both & (at_end < at_start),
        slipped=expected_in & is_open & (d.close_date > end),
        value_start=_spread(np.nan_to_num(before.deals.value), kept, len(d), 0.0),
        value_end=np.nan_to_num(d.value), stage_start=stage_start, stage_end=stage_end,
        close_start=close_start)


def _losses(result: Review, history: History, since: dt.datetime, mine: np.ndarray) -> None:
    """The loss reasons of the period against the BEFORE_DAYS before it: each reason's
    share with its interval and a two-proportion z-test, and the counts by stage, buyer
    type and each deal field crm: fields: maps."""
    from scipy.stats import norm

    from salesproc.history.table import lost_stage
    from salesproc.measuring.measurement import NO_REASON

    d = history.deals
    start = np.datetime64(since, "s")
    lost = (d.outcome == OUTCOME_LOST) & mine & ~np.isnat(d.closed)
    now = lost & (d.closed > start)
    before = lost & (d.closed <= start) & (
        d.closed > start - np.timedelta64(int(BEFORE_DAYS * 86400), "s"))
    reasons = np.array([r or NO_REASON for r in d.reason.to_pylist()], dtype=object)
    n_now, n_before = int(now.sum()), int(before.sum())
    for reason in sorted(set(reasons[now | before].tolist()),
                         key=lambda r: -int((reasons[now] == r).sum())):
        k_now = int((reasons[now] == reason).sum())
        k_before = int((reasons[before] == reason).sum())
        p_value = math.nan
        if n_now and n_before:
            pooled = (k_now + k_before) / (n_now + n_before)
            se = math.sqrt(pooled * (1 - pooled) * (1 / n_now + 1 / n_before))
            p_value = 1.0 if se == 0 else float(
                2 * norm.sf(abs(k_now / n_now - k_before / n_before) / se))
        result.losses.append(ReasonShift(str(reason), proportion(k_now, n_now),
                                         proportion(k_before, n_before), p_value))
    stage_ids = list(history.process.stages)
    buyers = list(history.process.buyer_types)
    where = lost_stage(history)
    groups: dict[str, np.ndarray] = {
        "stage": np.array([stage_ids[s] if s >= 0 else "(unknown)" for s in where],
                          dtype=object),
        "buyer type": np.array([buyers[b] if b >= 0 else "(unknown)" for b in d.buyer],
                               dtype=object)}
    for fid, column in d.fields.items():
        if not isinstance(column, np.ndarray):
            groups[fid] = np.array([c or "(none)" for c in column.to_pylist()], dtype=object)
    for by, values in groups.items():
        pairs = Counter(zip(values[now].tolist(), reasons[now].tolist(), strict=True))
        earlier = Counter(zip(values[before].tolist(), reasons[before].tolist(), strict=True))
        for (group, reason) in sorted(set(pairs) | set(earlier), key=str):
            result.loss_groups.append(LossGroup(by, str(group), str(reason),
                                                pairs.get((group, reason), 0),
                                                earlier.get((group, reason), 0)))


def median_ranks(n: int) -> tuple[int, int] | None:
    """The ranks (1-based) of the order statistics that hold the median of *n* values
    with at least 95%, the tightest such pair: r and n - r + 1, r - 1 the last count a
    Binomial(n, 1/2) falls to or below with chance under 2.5% (None: too few values)."""
    from scipy.stats import binom

    if n < 1:
        return None
    r = int(binom.ppf(0.025, n, 0.5))
    return (r, n - r + 1) if r >= 1 else None


def _cohorts(history: History, mine: np.ndarray) -> list[Cohort]:
    """The COHORTS months of deals created before the history's as-of month (and that
    month so far), each with its win rate and median cycle."""
    d = history.deals
    month = d.created.astype("datetime64[M]")
    last = np.datetime64(history.as_of, "M")
    out = []
    for m in np.arange(last - COHORTS + 1, last + 1):
        here = (month == m) & mine
        won = here & (d.outcome == OUTCOME_WON)
        lost = here & (d.outcome == OUTCOME_LOST)
        days = np.sort((d.closed[won] - d.created[won]) / np.timedelta64(1, "D"))
        median = low = high = math.nan
        if len(days):
            median = float(np.median(days))
            ranks = median_ranks(len(days))
            still = bool((here & (d.outcome == OUTCOME_OPEN)).any())
            if ranks is not None and not still:  # wins so far are the quick ones: no
                low, high = float(days[ranks[0] - 1]), float(days[ranks[1] - 1])  # interval
        out.append(Cohort(str(m), int(here.sum()), int(won.sum()), int(lost.sum()),
                          int((here & (d.outcome == OUTCOME_OPEN)).sum()),
                          proportion(int(won.sum()), int((won | lost).sum())), median,
                          low, high))
    return out


def _spread(column: np.ndarray, kept: np.ndarray, size: int, empty: Any) -> np.ndarray:
    """A column of the deals at the start (History.at keeps those created by then, in
    order: *kept*) over all *size* deals, *empty* for those not created yet."""
    out = np.full(size, empty, dtype=column.dtype)
    out[kept] = column
    return out


def _stages(history: History) -> np.ndarray:
    """The stage index each deal is open in at the history's as-of date (-1: none)."""
    v = history.visits
    out = np.full(len(history.deals), -1, dtype=np.int64)
    open_visit = v.exit == OPEN
    out[v.deal[open_visit]] = v.stage[open_visit]
    return out


def _findings(history: History, since: dt.datetime) -> dict[str, np.ndarray]:
    """Each deal's data-hygiene findings at the history's as-of date, by Hygiene's fields:
    of the open deals then, and of the deals closed (or moved) from *since* to then.
    Computed once for all owners: each owner's count is a sum over these."""
    d = history.deals
    is_open = d.outcome == OUTCOME_OPEN
    start = np.datetime64(since, "s")
    recent = ~np.isnat(d.closed) & (d.closed > start)
    reasons = np.array([bool(r) for r in d.reason.to_pylist()], dtype=bool)
    return {"no_amount": is_open & np.isnan(d.value),
            "no_close_date": is_open & np.isnat(d.close_date),
            "lost_without_reason": recent & (d.outcome == OUTCOME_LOST) & ~reasons,
            "entered_after_the_fact": recent & (d.outcome == OUTCOME_WON) & after_the_fact(d),
            "stages_skipped": _skipped(history, start),
            "duplicates": _duplicated(history) & is_open}


TREND_WEEKS = 8  # data hygiene at the end of each of the last weeks, to see it improve


def _trend(history: History, mine: np.ndarray) -> list[tuple[dt.datetime, Hygiene]]:
    """The data hygiene at the end of each of the TREND_WEEKS weeks up to the history's
    as-of date (each week's closed deals and moves its own), those the history reaches."""
    d = history.deals
    first = d.created.min() if len(d) else np.datetime64("NaT")
    out = []
    for k in range(TREND_WEEKS - 1, -1, -1):
        cut = history.as_of - dt.timedelta(weeks=k)
        if np.isnat(first) or np.datetime64(cut, "s") < first:
            continue
        kept = np.flatnonzero(d.created <= np.datetime64(cut, "s"))
        then = history.at(cut)
        out.append((cut, _hygiene(_findings(then, cut - dt.timedelta(weeks=1)), mine[kept])))
    return out


def _hygiene(findings: dict[str, np.ndarray], mine: np.ndarray) -> Hygiene:
    """The data hygiene of the deals in *mine*: each finding's count (see _findings)."""
    return Hygiene(**{k: int((found & mine).sum()) for k, found in findings.items()})


def _positions(process: Process) -> np.ndarray:
    """[buyer type + 1, stage] -> the stage's place along the buyer type's path (-1: off
    it); row 0, for a deal without a buyer type, the process's order."""
    stage_ids = list(process.stages)
    where = np.tile(np.arange(len(stage_ids)), (len(process.buyer_types) + 1, 1))
    for b, buyer in enumerate(process.buyer_types.values()):
        where[b + 1] = [buyer.path.index(s) if s in buyer.path else -1 for s in stage_ids]
    return where


def _moves(history: History, since: np.datetime64) -> tuple[np.ndarray, np.ndarray,
                                                              np.ndarray]:
    """The moves from stage to stage after *since*: each one's deal, and where it came
    from and went to along the deal's buyer type's path (the process's order for a deal
    without one; -1: off its path)."""
    d, v = history.deals, history.visits
    where = _positions(history.process)
    moved = (v.exit >= 0) & ~np.isnat(v.left) & (v.left > since)
    row = d.buyer[v.deal[moved]] + 1
    return v.deal[moved], where[row, v.stage[moved]], where[row, v.exit[moved]]


def _skipped(history: History, since: np.datetime64) -> np.ndarray:
    """The deals that moved, after *since*, from a stage to one further along their path
    than the next."""
    deal, came, went = _moves(history, since)
    out = np.zeros(len(history.deals), dtype=bool)
    out[deal[(came >= 0) & (went > came + 1)]] = True
    return out


def _went_back(history: History, since: np.datetime64) -> np.ndarray:
    """The deals that moved, after *since*, back to an earlier stage of their path
    (whatever stage they are in now)."""
    deal, came, went = _moves(history, since)
    out = np.zeros(len(history.deals), dtype=bool)
    out[deal[(went >= 0) & (went < came)]] = True
    return out


def _duplicated(history: History) -> np.ndarray:
    """The deals whose name (compared as stage names are: folded) another open deal has
    too; none where the export gives no names."""
    d = history.deals
    out = np.zeros(len(d), dtype=bool)
    if d.name is None:
        return out
    is_open = d.outcome == OUTCOME_OPEN
    names = [" ".join(str(n or "").split()).lower() for n in d.name.to_pylist()]
    seen = Counter(n for n, o in zip(names, is_open, strict=True) if o and n)
    out[:] = [bool(n) and seen[n] > 1 for n in names]
    return out


def _attention(history: History, mine: np.ndarray, owners: np.ndarray, back: np.ndarray,
               slipped: np.ndarray, untouched_days: float) -> list[Attention]:
    """The open deals at the end that need a look (see the module's docstring), the
    oldest in their stage first within each owner."""
    from salesproc.measuring.measurement import open_deals

    d, v = history.deals, history.visits
    end = np.datetime64(history.as_of, "s")
    found = open_deals(history)
    deal = v.deal[found.visit]
    values = d.value[deal]  # the top fifth of the known amounts: an unknown one (NaN
    known = values[~np.isnan(values)]  # compares False) is not known to be large
    large = values >= np.quantile(known, 1 - LARGE_SHARE) if len(known) else values > 0
    touched = _last_touched(history)
    idle = (end - touched[deal]) / np.timedelta64(1, "D") > untouched_days
    overdue = ~np.isnat(d.close_date[deal]) & (d.close_date[deal] < end)
    stage_ids = list(history.process.stages)
    ids = d.id.to_pylist()
    names = d.name.to_pylist() if d.name is not None else [""] * len(d)
    out = []
    for k, j in enumerate(deal.tolist()):
        if not mine[j]:
            continue
        reasons = [name for name, hit in ((STALE, found.stale[k]), (OVERDUE, overdue[k]),
                                          (UNTOUCHED, idle[k]),
                                          (SLIPPED, slipped[j] and large[k]),
                                          (MOVED_BACK, back[j])) if hit]
        if reasons:
            out.append(Attention(ids[j], names[j] or "", str(owners[j]),
                                 stage_ids[int(v.stage[found.visit[k]])], float(found.age[k]),
                                 float(d.value[j]), tuple(reasons)))
    return sorted(out, key=lambda a: (a.owner, -a.days_in_stage))


def _last_touched(history: History) -> np.ndarray:
    """Each deal's last change by the as-of date: a stage entered, or a history row."""
    d, v = history.deals, history.visits
    out: np.ndarray = d.created.copy()
    np.maximum.at(out, v.deal, v.entered)
    if history.values is not None and len(history.values):
        np.maximum.at(out, history.values.deal, history.values.at)
    return out
