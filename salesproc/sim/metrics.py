"""Streaming statistics of one replication, and the figures they come to.

The engine updates plain lists indexed by (buyer, stage) while deals move; nothing is
kept per deal except the won deals' cycle times (8 bytes each, for percentiles).
Everything is reset at the end of the warm-up, so every figure covers the window
[warmup, horizon] only. Definitions (also in docs/commands.md):

* leads: deals arriving in the window; won / lost: deals ending in the window.
* lead-to-win rate: won / (won + lost) among deals ending in the window.
* opportunities: deals ending in the window that reached the opportunity stage (or a
  stage written after it); opportunity win rate: the share of them that was won.
* revenue: the value of deals won in the window; throughput: wins per week / month,
  only when the window is at least a week / a month long.
* cycle time: arrival to won, for deals won in the window (mean, p10, p50, p90).
* time in stage: per visit ending in the window, split into delay (prospect side),
  queue (waiting for busy people: the working time, on the owner's calendar, between
  asking for a person and getting one), after hours (waiting for the working day: the
  rest of the time from asking until the work really begins, i.e. nights, weekends and
  holidays, including a deal handed at night to a free person who starts in the
  morning), work (from then until done), and approval (all approvals, in parallel).
* WIP: time-average number of deals in each stage over the window.
* utilization: time-average share of a role's people that are busy.
* queue deal-days: total working time deals spent waiting for a busy person of a role at
  a stage (approvals included); waiting: those summed over every role ('people'), and
  the deal-time spent waiting for the working day at every stage ('working_day').
* win chance from a stage: of the deals ending in the window that visited the stage,
  the share that was won. End pipeline: open deals at the horizon, by stage, their
  value, and their value weighted by the win chance of each deal's own buyer type from
  its stage (the stage's chance over every buyer type where that buyer type closed no
  deal from it), so a buyer type's weighted pipeline is its own and the buyer types'
  add up to the whole.
* moves: how many visits ending in the window left each stage for each next stage, won
  or lost (rework sent back by an approval included): the flowchart's arrows.
* funnel (reach): of the deals ending in the window, how many of each buyer type visited
  each stage: leads, then each stage, then won, for one cohort.
* cycle-time distribution: the 5th, 10th, ..., 95th percentile of the won deals' cycle
  times, overall and per buyer type.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

from salesproc.core.calendar import quarter_of
from salesproc.core.units import convert
from salesproc.sim.compile import LOST_INDEX, WON_INDEX

CYCLE_QUANTILES = tuple(range(5, 100, 5))  # the cycle-time distribution's percentiles


class Key(NamedTuple):
    """The name of one figure: what it is about and which figure it is.

    ``scope`` is ``all``, ``buyer``, ``stage``, ``role``, ``lost``, ``queue``, ``move``,
    ``reach``, ``cycle``, ``month``, ``quarter`` or ``waiting``; ``subject`` the buyer
    type, stage or role id (empty for ``all``); ``metric`` the figure (for ``lost``, the reason; for
    ``queue``, the role waited for; for ``move``, where the deals went: a stage id,
    ``won`` or ``lost``; for ``reach``, the stage; for ``cycle``, the percentile ``p05``).
    ``Key.of("all", "won")`` and ``Key.of("stage", "demo", "wip")`` build one.
    """

    scope: str
    subject: str
    metric: str

    @classmethod
    def of(cls, *parts: str) -> Key:
        """From two parts (an overall figure) or three."""
        if len(parts) == 2:
            return cls(parts[0], "", parts[1])
        if len(parts) == 3:
            return cls(*parts)
        raise KeyError(f"a figure is named by 2 or 3 parts, not {parts!r}")


class Collector:
    """Counters and time integrals the engine updates in place."""

    def __init__(self, buyers: Sequence[str], stages: Sequence[str], opportunity: int = 0,
                 months: Sequence[tuple[float, float, str]] = (),
                 roles: Sequence[str] = ()) -> None:
        ns = len(stages)
        self.buyers, self.stages, self.roles = list(buyers), list(stages), list(roles)
        self.months = list(months)  # (begin, end, label) in time units, from the start
        self.nstages = ns
        self.opportunity = opportunity
        self.opportunity_mask = ~((1 << opportunity) - 1)  # that stage and every later one
        self.start = 0.0
        self.targets = ns + 2  # a row of moves: lost, won and the stages
        self._zero()

    def _zero(self) -> None:
        """Every counter and integral at nought (what the window starts from)."""
        nb, ns = len(self.buyers), self.nstages
        nm = len(self.months)
        # at each month's end: the running totals of leads, wins and revenue (a month's
        # figures are the differences), and the open deals and their value
        self.totals_month: list[tuple[float, float, float] | None] = [None] * nm
        self.open_month = [math.nan] * nm
        self.open_value_month = [math.nan] * nm
        self.leads = [0] * nb
        self.won = [0] * nb
        self.lost = [0] * nb
        self.opportunities = [0] * nb  # closed deals that were opportunities
        self.opportunities_won = [0] * nb
        self.revenue = [0.0] * nb
        self.cycle = [array("d") for _ in range(nb)]
        self.lost_by: dict[tuple[int, int, str], int] = {}
        self.visits = [0] * (nb * ns)
        self.t_delay = [0.0] * (nb * ns)
        self.t_queue = [0.0] * (nb * ns)
        self.t_off = [0.0] * (nb * ns)  # waiting for the working day (calendars only)
        self.t_work = [0.0] * (nb * ns)
        self.t_approval = [0.0] * (nb * ns)
        self.wip_area = [0.0] * ns  # deal-time spent in each stage within the window
        self.reached = [0] * (nb * ns)  # closed deals of each buyer type that visited a stage
        self.won_reached = [0] * (nb * ns)  # ... and were won
        # visits leaving stage s for target t (a stage, WON_INDEX or LOST_INDEX): a flat
        # list, one row of lost, won and the stages per stage (the engine's hot path)
        self.moves = [0] * (ns * self.targets)
        # deal-time waiting for each role at each stage (queue_slot), None while nobody has
        # waited there: a flat list, no tuple made and hashed per wait (the hot path)
        self.queue_days: list[float | None] = [None] * (ns * len(self.roles))
        # the stages in each set of visited stages seen (a bit mask): close() credits them
        self.visited_stages: dict[int, list[int]] = {}

    def reset(self, now: float) -> None:
        """Start the measurement window: forget everything counted so far."""
        self._zero()
        self.start = now

    def slot(self, buyer: int, stage: int) -> int:
        """Where visits of *buyer*'s deals to *stage* are counted in visits, t_delay,
        t_queue, t_work, t_approval, reached and won_reached."""
        return buyer * self.nstages + stage

    def moves_row(self, stage: int) -> int:
        """Where moves out of *stage* are counted: moves[moves_row(stage) + to] for *to* a
        stage index, WON_INDEX or LOST_INDEX."""
        return stage * self.targets + 2

    def queue_slot(self, stage: int, role: int) -> int:
        """Where waits at *stage* for the *role*-th role are summed in queue_days."""
        return stage * len(self.roles) + role

    def _queue_days(self) -> dict[tuple[int, str], float]:
        """(stage, role id) -> deal-time waited, for every stage and role someone waited
        for (a wait of no time included)."""
        nr = len(self.roles)
        return {(i // nr, self.roles[i % nr]): days for i, days in enumerate(self.queue_days)
                if days is not None}

    def month_end(self, month: int, open_deals: int, open_value: float,
                  complete: bool = True) -> None:
        """A month ends (or the run ends within it, *complete* False): the running totals,
        and the pipeline: how many deals are open, and their value."""
        if 0 <= month < len(self.months):
            self.totals_month[month] = (float(sum(self.leads)), float(sum(self.won)),
                                        math.fsum(self.revenue))
            if complete:
                self.open_month[month] = float(open_deals)
                self.open_value_month[month] = open_value

    def close(self, buyer: int, visited: int, won: bool) -> None:
        """A deal ended: credit every stage it visited (a bit mask) for the win chance."""
        if visited & self.opportunity_mask:  # (x[k] = x[k] + 1: a native add, compiled)
            opportunities = self.opportunities
            opportunities[buyer] = opportunities[buyer] + 1
            if won:
                opportunities_won = self.opportunities_won
                opportunities_won[buyer] = opportunities_won[buyer] + 1
        stages = self.visited_stages.get(visited)
        if stages is None:
            stages = self.visited_stages[visited] = [
                s for s in range(visited.bit_length()) if visited >> s & 1]
        k = buyer * self.nstages
        reached = self.reached
        for s in stages:
            reached[k + s] = reached[k + s] + 1
        if won:
            won_reached = self.won_reached
            for s in stages:
                won_reached[k + s] = won_reached[k + s] + 1

    def closed_from(self) -> list[int]:
        """Closed deals that visited each stage, every buyer type together."""
        ns = self.nstages
        return [sum(self.reached[s::ns]) for s in range(ns)]

    def buyer_win_chances(self, pooled: list[float]) -> list[list[float]]:
        """Each buyer type's win chance from each stage; *pooled* (every buyer type's)
        where the buyer type closed no deal that visited the stage."""
        ns = self.nstages
        return [[self.won_reached[b * ns + s] / self.reached[b * ns + s]
                 if self.reached[b * ns + s] else pooled[s] for s in range(ns)]
                for b in range(len(self.buyers))]

    def figures(self, now: float, roles: dict[str, tuple[float, float]],
                open_deals: Sequence[tuple[int, int, float]], unit: str) -> dict[Key, float]:
        """The replication's figures, keyed Key('all', '', 'won'), Key('stage', id, 'wip')...

        *roles* maps role id to (people present, people busy), each integrated over the
        window's working time;
        *open_deals* lists (buyer, stage, value) of deals open at the horizon.
        """
        window = now - self.start
        week, month = convert(1.0, "week", unit), convert(1.0, "month", unit)
        out: dict[Key, float] = {}
        closed = self.closed_from()
        ns = self.nstages
        win_chance = [sum(self.won_reached[s::ns]) / closed[s] if closed[s] else 0.0
                      for s in range(ns)]
        chances = self.buyer_win_chances(win_chance)
        # each open deal: (stage, value, value weighted by its own buyer type's chance)
        weighted = [(b, s, v, v * chances[b][s]) for b, s, v in open_deals]
        for b, name in enumerate(self.buyers):
            mine = [(s, v, w) for bb, s, v, w in weighted if bb == b]
            out.update(self._deal_figures("buyer", name, [b], window, (week, month), mine))
        everyone = [(s, v, w) for _, s, v, w in weighted]
        out.update(self._deal_figures("all", "", range(len(self.buyers)), window, (week, month),
                                      everyone))
        for s, sid in enumerate(self.stages):
            out.update(self._stage_figures(s, sid, window, win_chance, everyone, closed[s]))
        for (_, s, reason), count in sorted(self.lost_by.items()):
            key = Key("lost", self.stages[s], reason)
            out[key] = out.get(key, 0.0) + count
        queue_days = self._queue_days()
        for rid, (present, busy) in roles.items():
            out[Key("role", rid, "utilization")] = busy / present if present else 0.0
            out[Key("role", rid, "queue_days")] = math.fsum(
                d for (s, r), d in queue_days.items() if r == rid)
        for (s, rid), days in sorted(queue_days.items()):
            out[Key("queue", self.stages[s], rid)] = days
        out[Key("waiting", "", "people")] = math.fsum(queue_days.values())
        out[Key("waiting", "", "working_day")] = math.fsum(self.t_off)
        out.update(self._flow_figures())
        out.update(self._calendar_figures(now))
        return one_nan(out)

    def _flow_figures(self) -> dict[Key, float]:
        """Moves between stages, each buyer type's funnel, and the cycle-time percentiles."""
        out: dict[Key, float] = {}
        ends = {WON_INDEX: "won", LOST_INDEX: "lost"}
        for i, count in enumerate(self.moves):
            if count:
                s, to = divmod(i, self.targets)
                to -= 2
                out[Key("move", self.stages[s], ends.get(to) or self.stages[to])] = float(count)
        for b, name in enumerate(self.buyers):
            for s, sid in enumerate(self.stages):
                if self.reached[b * self.nstages + s]:
                    out[Key("reach", name, sid)] = float(self.reached[b * self.nstages + s])
        groups = [("", sorted(x for c in self.cycle for x in c))]
        groups += [(name, sorted(self.cycle[b])) for b, name in enumerate(self.buyers)]
        for subject, ordered in groups:
            for q in CYCLE_QUANTILES:
                out[Key("cycle", subject, f"p{q:02d}")] = _percentile(ordered, q / 100)
        return out

    def _calendar_figures(self, now: float) -> dict[Key, float]:
        """Leads, wins and revenue per month and quarter of the window, and the open
        pipeline at each one's end ('measured': the share of the month in the window)."""
        out: dict[Key, float] = {}
        quarters: dict[str, list[int]] = {}
        monthly: dict[int, tuple[float, float, float]] = {}
        before = (0.0, 0.0, 0.0)  # the totals restart with the window
        for i, (begin, end, label) in enumerate(self.months):
            totals = self.totals_month[i]
            if end <= self.start or begin >= now or totals is None:
                continue
            monthly[i] = (totals[0] - before[0], totals[1] - before[1], totals[2] - before[2])
            before = totals
            quarters.setdefault(quarter_of(label), []).append(i)
            measured = (min(end, now) - max(begin, self.start)) / (end - begin)
            leads, won, revenue = monthly[i]
            values = {"leads": leads, "won": won,
                      "revenue": revenue, "open": self.open_month[i],
                      "open_value": self.open_value_month[i], "measured": measured}
            out.update({Key("month", label, k): v for k, v in values.items()})
        if len(quarters) > 1:
            lengths: dict[str, float] = {}  # every simulated day of each quarter
            for begin, end, label in self.months:
                quarter = quarter_of(label)
                lengths[quarter] = lengths.get(quarter, 0.0) + (end - begin)
            for label, members in quarters.items():
                last = members[-1]
                length = lengths[label]
                seen = math.fsum(out[Key("month", self.months[i][2], "measured")]
                                 * (self.months[i][1] - self.months[i][0]) for i in members)
                values = {"measured": seen / length if length else 0.0,
                          "leads": math.fsum(monthly[i][0] for i in members),
                          "won": math.fsum(monthly[i][1] for i in members),
                          "revenue": math.fsum(monthly[i][2] for i in members),
                          "open": self.open_month[last],
                          "open_value": self.open_value_month[last]}
                out.update({Key("quarter", label, k): v for k, v in values.items()})
        return out

    def _deal_figures(self, scope: str, subject: str, buyers: Sequence[int] | range,
                      window: float,
                      period: tuple[float, float],
                      open_deals: list[tuple[int, float, float]]) -> dict[Key, float]:
        won = sum(self.won[b] for b in buyers)
        lost = sum(self.lost[b] for b in buyers)
        opportunities = sum(self.opportunities[b] for b in buyers)
        cycle = sorted(x for b in buyers for x in self.cycle[b])
        week, month = period
        figures = {
            "leads": float(sum(self.leads[b] for b in buyers)),
            "won": float(won),
            "lost": float(lost),
            "lead_to_win": won / (won + lost) if won + lost else math.nan,
            "opportunities": float(opportunities),
            "opportunity_win_rate": sum(self.opportunities_won[b] for b in buyers)
            / opportunities if opportunities else math.nan,
            "revenue": math.fsum(self.revenue[b] for b in buyers),
            # a rate per week (month) is measured only over at least a week (month)
            "throughput_week": won / window * week if window >= week else math.nan,
            "throughput_month": won / window * month if window >= month else math.nan,
            "cycle_mean": math.fsum(cycle) / len(cycle) if cycle else math.nan,
            "cycle_p10": _percentile(cycle, 0.10),
            "cycle_p50": _percentile(cycle, 0.50),
            "cycle_p90": _percentile(cycle, 0.90),
            "open": float(len(open_deals)),
            "open_value": math.fsum(v for _, v, _ in open_deals),
            "open_weighted": math.fsum(w for _, _, w in open_deals),
        }
        return {Key(scope, subject, name): value for name, value in figures.items()}

    def _stage_figures(self, s: int, sid: str, window: float, win_chance: list[float],
                       open_deals: list[tuple[int, float, float]], closed: int
                       ) -> dict[Key, float]:
        ns = self.nstages
        idx = range(s, len(self.visits), ns)  # this stage, every buyer
        visits = sum(self.visits[i] for i in idx)

        def mean(values: list[float]) -> float:
            return math.fsum(values[i] for i in idx) / visits if visits else math.nan

        delay, queue, work, approval = (mean(self.t_delay), mean(self.t_queue),
                                        mean(self.t_work), mean(self.t_approval))
        off = mean(self.t_off)
        here = [(v, w) for ss, v, w in open_deals if ss == s]
        figures = {
            "visits": float(visits), "delay": delay, "queue": queue, "after_hours": off,
            "work": work, "approval": approval, "time": delay + queue + off + work + approval,
            "wip": self.wip_area[s] / window if window else 0.0,
            "lost": float(sum(c for (_, ss, _), c in self.lost_by.items() if ss == s)),
            "win_chance": win_chance[s] if closed else math.nan,
            "open": float(len(here)), "open_value": math.fsum(v for v, _ in here),
            "open_weighted": math.fsum(w for _, w in here),
        }
        return {Key("stage", sid, name): value for name, value in figures.items()}


#: NaN as one object: Python's containers compare an item to itself by identity first,
#: so two results with a NaN compare equal (==) only if it is the same NaN object. (Typed
#: Any: the compiled engine keeps this one object, where it makes a float afresh each
#: time a float is stored.)
NAN: Final[Any] = math.nan


def one_nan(figures: dict[Key, float]) -> dict[Key, float]:
    """*figures* with every NaN the one :data:`NAN` (as plain Python's math.nan gives
    them), so that two runs' figures compare equal, compiled or not."""
    same: dict[Key, Any] = figures
    for key, value in figures.items():
        if value != value:
            same[key] = NAN
    return figures


def _percentile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not ordered:
        return math.nan
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
