"""The simulation kernel: deals flowing through a process, event by event.

Semantics: a deal entering a stage waits the stage's ``delay`` (nobody busy), then queues
first-come first-served for one person of the owner role for ``work``. A stage with
``assist`` roles is a **meeting**: it starts only when one person of every role it needs
is free, and nobody is held while another role is missing. Waiting deals are served
first-fit in queue order: a freed person goes to the first deal in that role's queue that
can start now, so a meeting waiting for a missing role never holds back a deal that needs
fewer roles. The wait is charged to the role whose person freed up last (the one the
deal was still missing). On a working calendar a wait is two waits, counted apart: its
working time is waiting for busy people (the queue, and the bottleneck's evidence), the
rest (nights, weekends, holidays, and the night a deal handed to a free person waits for
the morning) is waiting for the working day. Then the approvals that apply run in
parallel, each with its own delay, queue and work. When all are done the first rejection
in written order sends the deal to its ``on_reject`` stage (or loses it); otherwise a
route is drawn from ``next``.
``patience`` bounds the wait for people: a deal waiting longer goes stale and is lost.

Speed: instead of SimPy's generator process per deal and ``simpy.Resource`` requests,
the deal object itself is the event on the queue (:mod:`salesproc.sim.scheduler`, in
SimPy's order of events), one loop (:meth:`Engine._loop`) hands each event to its
handler by a small number, and people are counted by small pools
(:mod:`salesproc.sim.pool`). The process is compiled into tables first
(:mod:`salesproc.sim.compile`). This runs several times faster than the generator style
(see bench/simulate.py). The kernel's modules are also written for mypyc, which compiles
them to C when the package is installed (typed attributes and locals, Final constants, no
callable stored per event or per waiter: native calls), for about three times the speed
again; the same code runs as plain Python where nothing was compiled.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple

from salesproc.core.calendar import WorkingClock, business_days, months, seasonal_rate
from salesproc.core.defaults import MAX_OPEN_DEALS, MAX_VISITS_PER_DEAL
from salesproc.core.errors import SalesprocError
from salesproc.core.units import HOURS, convert, describe
from salesproc.process import routing
from salesproc.process.model import LOST, WON, Process
from salesproc.sim import scheduler, streams
from salesproc.sim.compile import LOST_INDEX, WON_INDEX, CompiledApproval, Step, compile_steps
from salesproc.sim.metrics import NAN, Collector, Key
from salesproc.sim.pool import Granter, Pool, Waiter
from salesproc.sim.scheduler import Scheduled

# module-level names (Final: C statics in the compiled engine): the hot path skips a lookup
_unit: Final = streams.unit
_bisect: Final = bisect.bisect_right
_log1p: Final = math.log1p


NO_FIELDS: Final[dict[str, float | str]] = {}  # a process without fields: one shared, never changed


class Deal(Waiter):
    """One deal; also the event the engine schedules for it."""

    __slots__ = ("arrived", "book", "buyer", "draws", "fields", "id", "key", "pending",
                 "people",
                 "rejected", "repeats", "rest", "stage", "step", "t_booked", "t_busy", "t_enter",
                 "t_request", "t_start",
                 "t_wait", "t_worked", "token", "value", "visit", "visited")
    draws: list[float]  # its route draw for a first visit to each stage (KeyedDeals)
    fields: dict[str, float | str]  # what it carries (`fields:`), drawn when it arrives
    key: int
    people: list[float]  # with a ramp: who works on it, by when each joined
    pending: list[Task]
    rejected: CompiledApproval | None
    stage: int
    step: Step
    t_enter: float
    t_booked: float  # when it got its place among the owner's open deals (max_deals)
    t_busy: float  # of its last wait for people, the owner's working time (calendars)
    rest: float | None  # an open deal's delay, kept while it waits for such a place
    t_request: float
    t_start: float
    t_wait: float
    t_worked: float

    def __init__(self, ident: int, buyer: int, value: float, now: float) -> None:
        self.id = ident
        self.buyer = buyer
        self.value = value
        self.arrived = self.time = now
        self.visited = 0
        self.visit = 0  # how many times before this deal entered its current stage
        self.repeats: dict[int, int] | None = None  # stage -> visits, once a stage repeats
        self.token = 0  # renewed at every wait: a patience timer of an earlier wait is void
        self.waiting = False
        self.fields = NO_FIELDS
        self.book: Pool | None = None  # the role's open deals it counts among (max_deals)


class Task(Waiter):
    """One approval of one deal's stage visit; an event in its own right."""

    __slots__ = ("approval", "deal", "done", "joined", "rejected", "t_wait")
    joined: float  # who works on it (with a ramp), by when they joined
    t_wait: float

    def __init__(self, deal: Deal, approval: CompiledApproval) -> None:
        self.deal = deal
        self.approval = approval
        self.waiting = False
        self.meeting = None  # an approval needs one person of one role
        self.grant = GRANT_TASK
        self.rejected = False
        self.done = False


class Timer(Scheduled):
    """A point in time: the next arrival, a campaign, a patience deadline, a month's end."""

    __slots__ = ("deal", "token")
    deal: Deal
    token: int


# What the engine does with each scheduled object (its Scheduled.action): the handler the
# loop in Engine.run hands it to
ARRIVE: Final = 1  # a Timer: the next lead arrives (Engine._arrive)
ARRIVE_SEASONAL: Final = 2  # the same, thinned by the season (Engine._arrive_seasonal)
REQUEST: Final = 3  # a Deal asks for the people of its stage (Engine._request)
WORKED: Final = 4  # a Deal's work is done (Engine._worked)
STALE: Final = 5  # a Timer: a deal's patience runs out (Engine._stale)
TASK_REQUEST: Final = 6  # a Task asks for its approver (Engine._task_request)
TASK_DONE: Final = 7  # a Task's work is done (Engine._task_done)
MONTH_END: Final = 8  # a Timer: a month ends (Engine._month_end)
CALL: Final = 9  # anything with a call of its own (Scheduled.call): a headcount change...
STOP: Final = 10  # a Timer: the horizon, where the run stops

# What the engine does when a waiter is given its people (its Waiter.grant)
GRANT_DEAL: Final = 1  # a deal's stage starts its work (Engine._granted_deal)
GRANT_BOOK: Final = 2  # a deal has its place among the owner's open deals (_granted_book)
GRANT_TASK: Final = 3  # an approval's work starts (Engine._granted_task)


EventLog = Callable[[tuple[Any, ...]], None]


class Opening(NamedTuple):
    """A deal already open when the run starts: in *stage* (a stage id), its delay there
    under way for *age* so far, created *since* before the start (both in the process's
    time unit). *remaining*, when given, are the delays it may still have, one drawn per
    run (instead of the stage's delay given the age). *exits*, when given, decide the
    stage instead: equally likely (time still to go, where to) pairs, one drawn per run;
    the deal then leaves the stage at that time for that stage index, WON_INDEX or
    LOST_INDEX (infinite time: it stays), as deals of its age there did in the history,
    the team's work and approvals included. *fields* are the deal's own known field
    values (field id, value); the fields it does not give are drawn as a new deal's are."""

    buyer: str
    stage: str
    age: float
    since: float
    value: float
    remaining: tuple[float, ...] = ()
    exits: tuple[tuple[float, int], ...] = ()
    fields: tuple[tuple[str, float | str], ...] = ()
OPEN_OUTCOME: Final = "open"  # the outcome logged for a deal still in its stage when the run ends


class Engine(Granter):
    """One replication of one process. :meth:`run` returns its figures."""

    def __init__(self, process: Process, seed: int, replication: int,
                 horizon: float, warmup: float = 0.0, event_log: EventLog | None = None,
                 buyer: str | None = None, opening: Sequence[Opening] = ()) -> None:
        self.process = process
        self.opening = opening
        self.seed, self.replication = seed, replication
        self.horizon = horizon
        self.warmup = warmup
        self.log = event_log
        self.env = scheduler.new()  # the event queue, and the time now
        self.stage_ids = list(process.stages)
        self.buyer_ids = list(process.buyer_types)
        unit = process.time_unit
        self.unit_hours = HOURS[unit]  # calendar hours in one time unit
        self.work_hours = process.calendar.work_hours(unit)  # working hours in a unit of work
        calendar = process.calendar
        limit = (horizon + 1) * self.unit_hours  # work ending later never ends in the run
        self.business = None if calendar.always else \
            WorkingClock(business_days(calendar), process.start, limit)
        clocks = {c: WorkingClock(c, process.start, limit)  # one per calendar: roles share it
                  for c in {role.calendar for role in process.roles.values()} if not c.always}
        self.pools = {rid: Pool(rid, role.headcount, self, clocks.get(role.calendar),
                                self.unit_hours, role.ramp, bool(role.staffing), index)
                      for index, (rid, role) in enumerate(process.roles.items())}
        # max_deals: places for the open deals in the stages a role owns, per person
        self.books = {rid: Pool(rid, role.headcount * role.max_deals, self,
                                clocks.get(role.calendar),
                                self.unit_hours, None, bool(role.staffing), index)
                      for index, (rid, role) in enumerate(process.roles.items())
                      if role.max_deals is not None}
        self.months = [(convert(p.begin, "hour", unit), convert(p.end, "hour", unit), p.label)
                       for p in months(process.start, horizon * self.unit_hours)]
        self.month = 0  # the month now: month-end events move it on (time only goes forward)
        self.metrics = Collector(self.buyer_ids, self.stage_ids, process.opportunity_index,
                                 self.months, list(self.pools))
        self.open: dict[int, Deal] = {}
        self.count = 0

        def uniforms(name: str) -> streams.Stream:
            return streams.uniforms(streams.generator(seed, replication, name))

        self.steps = compile_steps(process, self.pools, seed, replication, self.books)
        # each deal's key, with its route draws for a first visit to each stage
        self.deal_keys = streams.KeyedDeals(
            streams.generator(seed, replication, "deal keys"),
            [[0 if step is None else step.route_salt for step in steps] for steps in self.steps])
        for b, steps in enumerate(self.steps):  # where each step's figures are counted
            for step in steps:
                if step is not None:
                    step.slot = self.metrics.slot(b, step.index)
                    step.moves_row = self.metrics.moves_row(step.index)
                    step.queue_row = self.metrics.queue_slot(step.index, 0)
        self.starts = [self.stage_ids.index(self.process.buyer_types[b].start)
                       for b in self.buyer_ids]
        self.entries = [self._entries(b) for b in self.buyer_ids]
        self.values = [streams.sampler(process.buyer_types[b].value, seed, replication,
                                       f"value/{b}")
                       for b in self.buyer_ids]
        self.field_draws = [self._field_draws(b) for b in self.buyer_ids]
        shares = [process.buyer_types[b].share for b in self.buyer_ids]
        total = math.fsum(shares) or 1.0
        self.share_cum = [math.fsum(shares[: i + 1]) / total for i in range(len(shares))]
        self.only = None if buyer is None else self.buyer_ids.index(buyer)
        self.pick_buyer = uniforms("buyer")
        # one buyer type: nothing to draw (the buyer stream drives nothing else)
        self.choose = len(self.buyer_ids) > 1
        self.arrive = ARRIVE  # the action of the next arrival (seasonal ones are thinned)
        self.gap = uniforms("arrivals")
        arrivals = process.arrivals
        self.rate = 0.0 if arrivals is None else arrivals.rate  # leads per time unit
        if arrivals is not None and arrivals.seasonal:  # thin a faster stream of arrivals
            peak, self.season = seasonal_rate(process.start, arrivals.months,
                                              arrivals.weekdays)
            self.peak, self.rate = peak, arrivals.rate * peak
            self.thin = uniforms("arrivals/season")
            self.arrive = ARRIVE_SEASONAL

    # --- running --------------------------------------------------------------------------

    def run(self) -> dict[Key, float]:
        env = self.env
        arrivals = self.process.arrivals
        clock = Timer()
        if arrivals is not None and arrivals.rate > 0:
            env.at(clock, -math.log1p(-self.gap()) / self.rate, self.arrive)
        for campaign in arrivals.campaigns if arrivals is not None else ():
            self._schedule_campaign(campaign, campaign.at, 0.0)
        for rid, role in self.process.roles.items():  # headcount changing on dates
            pool, book = self.pools[rid], self.books.get(rid)
            for since, people in role.staffing:
                if 0 < since <= self.horizon:
                    self._call_at(since, self._staffing(pool, people))
                    if book is not None and role.max_deals is not None:
                        self._call_at(since, self._staffing(book, people * role.max_deals))
        if self.months and self.months[0][1] <= self.horizon:  # each month's end schedules
            env.at(Timer(), self.months[0][1], MONTH_END)  # the next: a small heap
        if self.warmup > 0:  # before anything else that happens at that instant
            reset = Timer()
            reset.call = lambda _: self._reset()
            env.first_at(reset, self.warmup, CALL)
        if self.opening:
            self._open_pipeline()
        self._loop(self.horizon)
        return self._finish()

    def _loop(self, until: float) -> None:
        """Hand each event to its handler, in time order, until the time *until* (at
        *until*, before the ordinary events of that instant, so those stay unprocessed
        and the time ends at *until*). One loop, dispatching on the event's action: a
        native call per event in the compiled engine."""
        env = self.env
        if until <= env.now:
            raise ValueError(f"until ({until}) must be greater than the current simulation time")
        env.first_at(Timer(), until - env.now, STOP)
        while True:
            event = env.next()  # handed on as it is: each handler's type is checked
            scheduled: Scheduled = event  # what every event is (its action read natively)
            action = scheduled.action
            if action == WORKED:
                self._worked(event)
            elif action == ARRIVE:
                self._arrive(event)
            elif action == REQUEST:
                self._request(event)
            elif action == STALE:
                self._stale(event)
            elif action == TASK_REQUEST:
                self._task_request(event)
            elif action == TASK_DONE:
                self._task_done(event)
            elif action == ARRIVE_SEASONAL:
                self._arrive_seasonal(event)
            elif action == MONTH_END:
                self._month_end(event)
            elif action == CALL:
                event.call(event)
            else:  # STOP
                return

    def _call_at(self, at: float, call: Callable[[Timer], None]) -> None:
        """Call *call* (with its timer) at the time *at* from now."""
        timer = Timer()
        timer.call = call
        self.env.at(timer, at, CALL)

    def _open_pipeline(self) -> None:
        """Start with the deals already open: each in its stage, its delay there drawn
        given the time it has already spent (a delay of D with D > age, less the age), so a
        stage whose time is not memoryless moves an old deal on sooner or later than a
        new one. Open deals are numbered first (1, 2, ...), in the order given."""
        draw = streams.uniforms(streams.generator(self.seed, self.replication, "opening"))
        for o in self.opening:
            b = self.buyer_ids.index(o.buyer)
            self.count += 1
            deal = Deal(self.count, b, o.value, 0.0)
            if self.field_draws[b]:  # drawn whole, so that known ones leave the streams as
                deal.fields = {fid: draw() for fid, draw in self.field_draws[b]}  # they were
                deal.fields.update(o.fields)
            deal.arrived = -o.since
            deal.key, deal.draws = self.deal_keys.deal(b)
            self.open[deal.id] = deal
            if o.exits:
                wait, to = o.exits[min(int(draw() * len(o.exits)), len(o.exits) - 1)]
                self._enter_decided(deal, self.stage_ids.index(o.stage), wait, to)
                continue
            if o.remaining:
                remaining = o.remaining[min(int(draw() * len(o.remaining)),
                                            len(o.remaining) - 1)]
            else:
                delay = self.process.buyer_types[o.buyer].stages[o.stage].delay
                seen = delay.cdf(o.age) if o.age > 0 else 0.0
                remaining = 0.0 if seen >= 1.0 - 1e-12 else max(
                    0.0, delay.quantile(seen + draw() * (1.0 - seen)) - o.age)
            self._enter(deal, self.stage_ids.index(o.stage), remaining)

    def _enter_decided(self, deal: Deal, stage: int, wait: float, to: int) -> None:
        """An open deal whose stay and exit are already decided: it leaves *stage* for
        *to* after *wait* (never, if that is past the horizon), holding no one."""
        deal.stage = stage
        deal.visited |= 1 << stage
        deal.t_enter = deal.time
        step = self.steps[deal.buyer][stage]
        assert step is not None
        deal.step = step
        if wait > self.horizon:
            return

        def leave(deal: Deal) -> None:
            deal.t_booked = deal.t_request = deal.t_start = deal.t_worked = deal.time
            self._move(deal, step, to)

        deal.call = leave
        self.env.at(deal, wait, CALL)

    def _reset(self) -> None:
        now = self.env.now
        for pool in self.pools.values():
            pool.reset(now)
        self.metrics.reset(now)

    def _arrive(self, clock: Timer) -> None:
        self._new_deal(self._draw_buyer() if self.choose else 0, clock.time)
        self.env.at(clock, -_log1p(-self.gap()) / self.rate, self.arrive)

    def _arrive_seasonal(self, clock: Timer) -> None:
        """A candidate at the peak rate, kept with the chance multiplier / peak (thinning)."""
        if self.thin() * self.peak < self.season(clock.time * self.unit_hours):
            self._new_deal(self._draw_buyer(), clock.time)
        self.env.at(clock, -_log1p(-self.gap()) / self.rate, self.arrive)

    @staticmethod
    def _staffing(pool: Pool, people: int) -> Callable[[Timer], None]:
        """The callback that sets *pool*'s headcount to *people* when its date comes."""
        return lambda timer: pool.resize(people, timer.time)

    def _month_end(self, timer: Timer) -> None:
        """A month ends: note the open pipeline; what happens next counts for the next."""
        self.metrics.month_end(self.month, len(self.open),
                               math.fsum(d.value for d in self.open.values()))
        self.month += 1
        if self.month < len(self.months) and self.months[self.month][1] <= self.horizon:
            self.env.at(timer, self.months[self.month][1] - timer.time, MONTH_END)

    def _elapsed(self, pool: Pool, now: float, work: float) -> float:
        """The calendar time that *work* (in units of work) begun at *now* takes a person
        of *pool*: on their working clock, at their speed."""
        clock, unit = pool.clock, self.unit_hours
        hours = work * self.work_hours
        start = now * unit if clock is None else clock.worked(now * unit)
        end = start + hours if pool.ramp is None else pool.ramped_end(start, hours,
                                                                      pool.handed)
        return (end if clock is None else clock.at(end)) / unit - now

    def _business(self, now: float, delay: float) -> float:
        """A delay in business days as calendar time: weekends and holidays skipped."""
        if self.business is None:  # around the clock, every day is a business day
            return delay
        unit = self.unit_hours
        return self.business.finish(now * unit, delay * unit) / unit - now

    def _schedule_campaign(self, campaign: Any, at: float, now: float) -> None:
        if at > self.horizon:
            return

        def burst(timer: Timer) -> None:
            fixed = None if campaign.buyer_type is None else \
                self.buyer_ids.index(campaign.buyer_type)
            for _ in range(campaign.leads):
                self._new_deal(self._draw_buyer() if fixed is None else fixed, timer.time)
            if campaign.every:
                self._schedule_campaign(campaign, timer.time + campaign.every, timer.time)

        self._call_at(at - now, burst)

    def _draw_buyer(self) -> int:
        """A buyer type's index, drawn by share (the last, should rounding overshoot)."""
        return min(_bisect(self.share_cum, self.pick_buyer() * self.share_cum[-1]),
                   len(self.buyer_ids) - 1)

    def _new_deal(self, buyer: int, now: float) -> None:
        if self.only is not None and buyer != self.only:
            return  # --buyer: other buyer types' leads are drawn (same streams) but dropped
        self.count += 1
        if len(self.open) >= MAX_OPEN_DEALS:  # (looked up: a test lowers it)
            raise SalesprocError(
                f"more than {MAX_OPEN_DEALS:,} deals are open at once after "
                f"{describe(now, self.process.time_unit)}: the team cannot keep up "
                "with the leads, and the queues grow without end",
                hint="add people to the busiest role, or lower the arrival rate (the "
                "over-capacity warning names the role)")
        deal = Deal(self.count, buyer, self.values[buyer](), now)
        if self.field_draws[buyer]:
            deal.fields = {fid: draw() for fid, draw in self.field_draws[buyer]}
        # deals arrive in the same order in every variant, so the n-th deal gets the n-th
        # key. (Keys in arithmetic progression made the hashed draws subtly correlated.)
        deal.key, deal.draws = self.deal_keys.deal(buyer)
        leads = self.metrics.leads
        leads[buyer] = leads[buyer] + 1
        self.open[deal.id] = deal
        entries = self.entries[buyer]
        if entries is None:
            self._enter(deal, self.starts[buyer])
        else:  # `enter:` spreads this buyer type's new deals over stages
            stages, cumulative, draw = entries
            self._enter(deal, stages[min(bisect.bisect_right(cumulative, draw()),
                                         len(stages) - 1)])

    def _field_draws(self, buyer: str) -> list[tuple[str, Callable[[], float | str]]]:
        """Each field's draw for a deal of *buyer*, on its own stream ('field/BUYER/ID'),
        so that a field added or changed leaves every other draw as it was."""
        out: list[tuple[str, Callable[[], float | str]]] = []
        for fid, spec in self.process.buyer_types[buyer].fields.items():
            name = f"field/{buyer}/{fid}"
            if spec.number is not None:
                out.append((fid, streams.sampler(spec.number, self.seed, self.replication,
                                                 name)))
                continue
            categories = [c for c, _ in spec.shares]
            shares = [p for _, p in spec.shares]
            total = math.fsum(shares) or 1.0
            cumulative = [math.fsum(shares[: k + 1]) / total for k in range(len(shares))]
            draw = streams.uniforms(streams.generator(self.seed, self.replication, name))
            out.append((fid, functools.partial(_category, categories, cumulative, draw)))
        return out

    def _entries(self, buyer: str) -> tuple[list[int], list[float], streams.Stream] | None:
        """Where a buyer type's new deals enter, when its `enter:` spreads them."""
        entries = self.process.buyer_types[buyer].entries
        if not entries:
            return None
        total = math.fsum(p for _, p in entries)
        cumulative = [math.fsum(p for _, p in entries[: k + 1]) / total
                      for k in range(len(entries))]
        return ([self.stage_ids.index(s) for s, _ in entries], cumulative,
                streams.uniforms(streams.generator(self.seed, self.replication,
                                                   f"enter/{buyer}")))

    def _enter(self, deal: Deal, stage: int, delay: float | None = None) -> None:
        now = deal.time  # handlers read "now" from the deal; whoever calls one sets it
        step = self.steps[deal.buyer][stage]
        assert step is not None  # the lint rules keep every route on the buyer's path
        if step.when is not None and delay is None and not self._lets_in(deal, step):
            self._pass(deal, stage)
            return
        deal.stage = stage
        bit = 1 << stage
        if deal.visited & bit:  # a rework loop: count visits, so each draws anew
            repeats = deal.repeats = deal.repeats or {}
            deal.visit = repeats[stage] = repeats.get(stage, 0) + 1
        else:
            deal.visited |= bit
            deal.visit = 0
        deal.t_enter = now
        deal.step = step
        if step.book is not None:  # max_deals: a place among the owner's open deals first
            if self._placed(deal, step, now, delay):
                self._begin(deal, step, now, delay)
            return
        if delay is not None:  # _begin, inlined: the hot path
            self.env.at(deal, delay, REQUEST)
        elif step.delay is None:
            self._request(deal)
        elif step.business:
            self.env.at(deal, self._business(now, step.delay()), REQUEST)
        else:
            self.env.at(deal, step.delay(), REQUEST)

    def _begin(self, deal: Deal, step: Step, now: float, delay: float | None) -> None:
        """The deal's time at its stage begins: the delay (*delay* for an open deal,
        drawn given its age), then it asks for the people."""
        if delay is not None:
            self.env.at(deal, delay, REQUEST)
        elif step.delay is None:
            self._request(deal)
        elif step.business:
            self.env.at(deal, self._business(now, step.delay()), REQUEST)
        else:
            self.env.at(deal, step.delay(), REQUEST)

    def _pass(self, deal: Deal, stage: int) -> None:
        """The deal reaches a stage whose `when:` does not let it in: it goes straight on
        (:meth:`_passes`), never counted as a visit."""
        to, last = self._passes(deal, stage)
        if to >= 0:
            self._enter(deal, to)
        elif to == WON_INDEX:
            self._win(deal)
        else:
            step = self.steps[deal.buyer][last]
            assert step is not None
            self._lose(deal, last, self._lost_reason(deal, step))

    def _lets_in(self, deal: Deal, step: Step) -> bool:
        """Whether a stage's `when:` lets the deal in (a stage without one lets all in)."""
        return step.when is None or step.when.applies(
            deal.value, self.buyer_ids[deal.buyer], deal.fields)

    def _passes(self, deal: Deal, stage: int) -> tuple[int, int]:
        """Where a deal that a stage's `when:` does not let in goes: (the stage it enters,
        WON_INDEX or LOST_INDEX; the last stage it passed). It goes where the stage's
        routes send deals (routing.passes), on through every further stage that does not
        let it in either. Each pass is a hash of (deal, stage, the deal's visit count,
        passes so far), as a route is, so asking twice gives one answer. A deal passing
        stages MAX_VISITS_PER_DEAL times in a row (a loop of stages none of which lets it
        in: lint's SP304) is lost at the last."""
        for passes in range(MAX_VISITS_PER_DEAL):
            step = self.steps[deal.buyer][stage]
            assert step is not None
            at = _bisect(step.pass_cum,
                         _unit(deal.key ^ step.pass_salt ^ (deal.visit << 20) ^ passes))
            to = step.pass_to[min(at, len(step.pass_cum) - 1) if step.pass_cum else at]
            if to == WON_INDEX:
                return WON_INDEX, stage
            if to < 0:
                break
            after = self.steps[deal.buyer][to]
            assert after is not None
            if self._lets_in(deal, after):
                return to, stage
            stage = to
        return LOST_INDEX, stage

    def _heading(self, deal: Deal, stage: int) -> str:
        """What the event log says a deal sent to *stage* did: the stage it enters, or,
        where the stage's `when:` does not let it in, where it went instead (a stage, won
        or lost), so that a log's visits and outcomes add up without the passed stage."""
        step = self.steps[deal.buyer][stage]
        assert step is not None
        if self._lets_in(deal, step):
            return self.stage_ids[stage]
        to, last = self._passes(deal, stage)
        if to >= 0:
            return self.stage_ids[to]
        if to == WON_INDEX:
            return WON
        passed = self.steps[deal.buyer][last]
        assert passed is not None
        return f"lost: {self._lost_reason(deal, passed)}"

    def _lost_reason(self, deal: Deal, step: Step) -> str:
        """Why *deal* is lost at *step*'s stage: its one reason, or one of its
        `lost_reasons` by share, drawn per (deal, stage, visit)."""
        if not step.reasons:
            return step.lost_reason
        at = _bisect(step.reason_cum, _unit(deal.key ^ step.reason_salt ^ deal.visit))
        return step.reasons[min(at, len(step.reasons) - 1)]

    def _request(self, deal: Deal) -> None:
        now = deal.t_request = deal.time
        step = deal.step
        if step.solo:  # the common case, inlined: Pool.take on calendar time, _start_work
            pool = step.owner
            if pool.busy < pool.capacity:
                pool.area += pool.busy * (now - pool.last)
                pool.last = now
                pool.busy += 1
                deal.t_start = now
                self.env.at(deal, step.work(), WORKED)
                return
            deal.meeting = None
            pool.queue.append(deal)
            deal.waiting = True  # _wait, inlined: the hot path
            deal.t_wait = now
            deal.grant = GRANT_DEAL
            deal.token += 1
            if step.patience is not None:
                timer = Timer()
                timer.deal = deal
                timer.token = deal.token
                self.env.at(timer, step.patience, STALE)
            return
        pools = step.pools
        if step.no_work:
            deal.t_start = deal.t_worked = now
            self._approve(deal, step)
            return
        if len(pools) == 1:
            pool = pools[0]
            if pool.busy < pool.capacity:
                pool.take(now)
                clock = pool.clock
                if step.timed and pool.plain and clock is not None:  # a calendar, inlined
                    unit = self.unit_hours
                    deal.t_start = now
                    self.env.at(deal, clock.at(clock.worked(now * unit) + step.work()
                                            * self.work_hours) / unit - now,
                             WORKED)
                else:
                    self._start_work(deal, step, now)
                return
            deal.meeting = None
            pool.queue.append(deal)
        elif all(p.busy < p.capacity for p in pools):  # a meeting everyone is free for
            for pool in pools:
                pool.take(now)
            self._start_work(deal, step, now)
            return
        else:  # wait in every needed role's queue, holding nobody
            deal.meeting = pools
            for pool in pools:
                pool.queue.append(deal)
        self._wait(deal, step, now, GRANT_DEAL)

    def _wait(self, deal: Deal, step: Step, now: float,
              grant: int) -> None:
        """The deal waits in the queues it was put in until it is granted its people
        (:meth:`granted`, then *grant*'s handler), or its stage's patience runs out."""
        deal.waiting = True
        deal.t_wait = now
        deal.grant = grant
        deal.token += 1
        if step.patience is not None:
            timer = Timer()
            timer.deal = deal
            timer.token = deal.token
            self.env.at(timer, step.patience, STALE)

    def _placed(self, deal: Deal, step: Step, now: float, delay: float | None) -> bool:
        """max_deals: whether the deal entering *step* has its place among the owner's
        open deals (kept from the owner's stage before, or free); else it waits for one,
        and :meth:`_granted_book` lets it go on."""
        book = step.book
        assert book is not None
        deal.t_booked = now
        if deal.book is book:
            return True
        if book.busy < book.capacity:
            book.take(now)
            deal.book = book
            return True
        deal.meeting = None
        deal.rest = delay
        book.queue.append(deal)
        self._wait(deal, step, now, GRANT_BOOK)
        return False

    def granted(self, waiter: Any, pool: Pool, now: float) -> None:
        """*pool* gave *waiter* (a Deal or a Task) its people: on to its grant's handler."""
        typed: Waiter = waiter  # (its grant read natively, compiled)
        grant = typed.grant
        if grant == GRANT_DEAL:
            self._granted_deal(waiter, pool, now)
        elif grant == GRANT_BOOK:
            self._granted_book(waiter, pool, now)
        else:
            self._granted_task(waiter, pool, now)

    def _granted_book(self, deal: Deal, book: Pool, now: float) -> None:
        """A place among the owner's open deals is free: the wait was for the role's busy
        people; the deal's time at the stage begins."""
        step = deal.step
        queue_days = self.metrics.queue_days
        k = step.queue_row + book.index
        days = queue_days[k]
        queue_days[k] = (0.0 if days is None else days) + _waited(book, deal.t_wait, now)
        deal.book = book
        deal.t_booked = now
        self._begin(deal, step, now, deal.rest)

    def _granted_deal(self, deal: Deal, pool: Pool, now: float) -> None:
        """Everyone the stage needs is now with the deal; *pool* freed up last."""
        step = deal.step
        queue_days = self.metrics.queue_days
        k = step.queue_row + pool.index
        days = queue_days[k]
        clock = pool.clock
        if clock is None:
            queue_days[k] = (0.0 if days is None else days) + now - deal.t_wait
            if step.plain:  # the common case, inlined
                deal.t_start = now
                self.env.at(deal, step.work(), WORKED)
                return
        else:  # its working time was the wait for busy people
            unit = self.unit_hours
            since = clock.worked(deal.t_wait * unit)
            at_now = clock.worked(now * unit)
            waited = (at_now - since) / unit
            queue_days[k] = (0.0 if days is None else days) + waited
            # the stage's own figures split the wait on its owner's calendar
            deal.t_busy = waited if clock is step.clock else \
                _waited(step.owner, deal.t_wait, now)
            owner = step.owner
            if owner is pool and owner.plain and not step.ramped:  # a calendar, inlined
                deal.t_start = now
                self.env.at(deal, clock.at(at_now + step.work() * self.work_hours) / unit - now,
                         WORKED)
                return
        self._start_work(deal, step, now)

    def _start_work(self, deal: Deal, step: Step, now: float) -> None:
        """The people are with the deal: the work takes their working time, at their speed."""
        deal.t_start = now
        if step.ramped:
            deal.people = [p.handed for p in step.pools]
        work = step.work()
        if step.timed:  # (the calendar-only case is inlined where deals are started)
            work = self._elapsed(step.owner, now, work)
        self.env.at(deal, work, WORKED)

    def _stale(self, timer: Timer) -> None:
        deal = timer.deal
        if not deal.waiting or deal.token != timer.token:
            return
        deal.waiting = False  # left in the queues, skipped when met
        deal.time = now = timer.time
        step = deal.step
        if step.book is not None and deal.book is not step.book:  # waiting for a place
            missing = step.book
            deal.t_booked = deal.t_request = now
        else:
            missing = next((p for p in step.pools if p.busy >= p.capacity), step.pools[0])
        queue_days = self.metrics.queue_days
        k = step.queue_row + missing.index
        days = queue_days[k]
        queue_days[k] = (0.0 if days is None else days) + _waited(missing, deal.t_wait, now)
        deal.t_busy = _waited(step.owner, deal.t_wait, now)
        deal.t_start = deal.t_worked = now
        self._leave(deal, step, "lost: stale", LOST_INDEX)
        self._lose(deal, step.index, "stale")

    def _worked(self, deal: Deal) -> None:
        now = deal.time
        step = deal.step
        if step.solo:
            pool = step.owner
            if pool.queue:
                pool.release(now)
            else:  # Pool.release when nobody waits, inlined: the hot path
                pool.area += pool.busy * (now - pool.last)
                pool.last = now
                pool.busy -= 1
        elif step.ramped:
            for pool, joined in zip(step.pools, deal.people, strict=True):
                pool.release(now, joined)
        else:
            for pool in step.pools:
                pool.release(now)
        deal.t_worked = now
        if step.approvals:
            self._approve(deal, step)
            return
        deal.rejected = None
        # _route for a deal nobody rejected, inlined: the hot path (the same draw)
        visit = deal.visit
        at = _bisect(step.route_cum, _unit(deal.key ^ step.route_salt ^ visit) if visit
                     else deal.draws[step.index])
        self._move(deal, step, step.route_to[at])

    def _approve(self, deal: Deal, step: Step) -> None:
        if not step.approvals:
            deal.rejected = None
            self._route(deal, step)
            return
        buyer = self.buyer_ids[deal.buyer]
        tasks = [Task(deal, a) for a in step.approvals
                 if a.when is None or a.when.applies(deal.value, buyer, deal.fields)]
        if not tasks:
            deal.rejected = None
            self._route(deal, step)
            return
        deal.pending = tasks
        now = deal.time
        for task in tasks:
            approval = task.approval
            self.env.at(task, self._business(now, approval.delay())
                     if approval.business else approval.delay(), TASK_REQUEST)

    def _task_request(self, task: Task) -> None:
        pool = task.approval.pool
        if task.approval.no_work:  # like a stage without work: nobody is held, no queue
            self._task_done(task)
            return
        if pool.busy < pool.capacity:
            pool.take(task.time)
            self._task_work(task, task.time)
        else:
            task.waiting = True
            task.t_wait = task.time
            pool.queue.append(task)

    def _granted_task(self, task: Task, pool: Pool, now: float) -> None:
        queue_days = self.metrics.queue_days
        k = task.deal.step.queue_row + pool.index
        days = queue_days[k]
        queue_days[k] = (0.0 if days is None else days) + _waited(pool, task.t_wait, now)
        self._task_work(task, now)

    def _task_work(self, task: Task, now: float) -> None:
        approval = task.approval
        task.joined = approval.pool.handed
        work = approval.work()
        if approval.timed:
            work = self._elapsed(approval.pool, now, work)
        self.env.at(task, work, TASK_DONE)

    def _task_done(self, task: Task) -> None:
        approval = task.approval
        if not approval.no_work:
            approval.pool.release(task.time, task.joined)
        deal = task.deal
        task.rejected = _unit(deal.key ^ approval.verdict ^ deal.visit) < approval.reject
        task.done = True
        if all(t.done for t in deal.pending):
            first = next((t.approval for t in deal.pending if t.rejected), None)
            deal.rejected = first
            deal.time = task.time
            self._route(deal, deal.step)

    def _route(self, deal: Deal, step: Step) -> None:
        rejected = deal.rejected
        if rejected is not None:
            if rejected.on_reject is None:
                reason = routing.refusal(rejected.name)
                self._leave(deal, step, f"lost: {reason}", LOST_INDEX)
                self._lose(deal, step.index, reason)
            else:
                back = rejected.on_reject
                head = self._heading(deal, back) if self.log is not None else ""
                self._leave(deal, step, head if head == WON or head.startswith(LOST)
                            else f"rejected: back to {head}", back)
                self._enter(deal, rejected.on_reject)
            return
        visit = deal.visit  # the hash of (deal, stage, visit); a first visit's is drawn
        at = _bisect(step.route_cum, _unit(deal.key ^ step.route_salt ^ visit) if visit
                     else deal.draws[step.index])
        self._move(deal, step, step.route_to[at])

    def _move(self, deal: Deal, step: Step, target: int) -> None:
        """The deal leaves *step*'s stage for *target*: a stage index, won or lost."""
        if target >= 0:
            self._leave(deal, step, self._heading(deal, target) if self.log is not None
                        else "", target)
            self._enter(deal, target)
        elif target == WON_INDEX:
            self._leave(deal, step, WON, WON_INDEX)
            self._win(deal)
        elif not step.reasons:
            self._leave(deal, step, step.lost_outcome, LOST_INDEX)
            self._lose(deal, step.index, step.lost_reason)
        else:
            reason = self._lost_reason(deal, step)
            self._leave(deal, step, f"lost: {reason}", LOST_INDEX)
            self._lose(deal, step.index, reason)

    def _leave(self, deal: Deal, step: Step, outcome: str, to: int) -> None:
        """The deal leaves the stage for *to*: a stage index, WON_INDEX or LOST_INDEX."""
        now = deal.time
        m = self.metrics
        t_enter, t_request = deal.t_enter, deal.t_request
        t_start, t_worked = deal.t_start, deal.t_worked
        # (the sums written x[k] = x[k] + v, not x[k] += v: the compiled engine adds those
        # as numbers, without Python's generic in-place add)
        start = m.start  # deal-time spent in the stage within the window: WIP's integral
        wip_area, i = m.wip_area, step.index
        wip_area[i] = wip_area[i] + (now - (t_enter if t_enter > start else start))
        k = step.slot
        visits = m.visits
        visits[k] = visits[k] + 1
        if step.simple:  # around the clock, open deals not limited: the hot path
            t_delay, t_queue, t_work = m.t_delay, m.t_queue, m.t_work
            t_delay[k] = t_delay[k] + (t_request - t_enter)
            t_queue[k] = t_queue[k] + (t_start - t_request)
            t_work[k] = t_work[k] + (t_worked - t_start)
        elif step.book is None:  # a calendar (_split, inlined: the hot path there)
            m.t_delay[k] += t_request - t_enter
            clock = step.clock
            assert clock is not None
            begun = clock.opens(t_start * self.unit_hours) / self.unit_hours
            if begun > t_worked:
                begun = t_worked
            waited = 0.0 if t_start == t_request else deal.t_busy
            m.t_queue[k] += waited
            m.t_off[k] += begun - t_request - waited
            m.t_work[k] += t_worked - begun
        else:
            self._split(deal, step, k)
        t_approval = m.t_approval
        t_approval[k] = t_approval[k] + (now - t_worked)
        moves, i = m.moves, step.moves_row + to  # to: a stage, WON_INDEX (-1) or LOST_INDEX (-2)
        moves[i] = moves[i] + 1
        if step.book is not None:  # it leaves the owner's open deals, unless it stays with them
            after = self.steps[deal.buyer][to] if to >= 0 else None
            if after is None or after.book is not step.book:
                step.book.release(now)  # a place frees up
                deal.book = None
        if self.log is not None:
            self.log((deal.id, self.buyer_ids[deal.buyer], self.stage_ids[step.index], t_enter,
                      t_start, now, outcome, step.pools[0].id if step.pools else "",
                      deal.value))

    def _split(self, deal: Deal, step: Step, k: int) -> None:
        """A visit's delay, wait and work, where a calendar splits the wait (its working
        time for busy people, the rest for the working day) or the deal first waited for
        a place among the owner's open deals (max_deals, a wait for busy people too)."""
        m = self.metrics
        t_enter, t_request = deal.t_enter, deal.t_request
        t_start, t_worked = deal.t_start, deal.t_worked
        placed = t_enter if step.book is None else deal.t_booked
        m.t_delay[k] += t_request - placed
        clock = step.clock
        if clock is None:  # around the clock: every wait is a wait for busy people
            m.t_queue[k] += t_start - t_request + (placed - t_enter)
            m.t_work[k] += t_worked - t_start
        else:  # the wait's working time was for busy people; the rest, for the working day
            unit = self.unit_hours
            begun = clock.opens(t_start * unit) / unit  # when the work really began
            if begun > t_worked:
                begun = t_worked
            # a deal that waited for people was granted them (or went stale), which split
            # the wait on the owner's calendar: t_busy (the wait for a place is apart)
            waited = 0.0 if t_start == t_request else deal.t_busy
            off = begun - t_request - waited
            if placed != t_enter:  # and the wait for a place, in two parts alike
                for_place = (clock.worked(placed * unit) - clock.worked(t_enter * unit)) / unit
                waited += for_place
                off += placed - t_enter - for_place
            m.t_queue[k] += waited
            m.t_off[k] += off
            m.t_work[k] += t_worked - begun

    def _win(self, deal: Deal) -> None:
        m = self.metrics
        b = deal.buyer
        won, revenue = m.won, m.revenue
        won[b] = won[b] + 1
        revenue[b] = revenue[b] + deal.value
        m.cycle[b].append(deal.time - deal.arrived)
        m.close(b, deal.visited, True)
        del self.open[deal.id]

    def _lose(self, deal: Deal, stage: int, reason: str) -> None:
        m = self.metrics
        lost, b = m.lost, deal.buyer
        lost[b] = lost[b] + 1
        key = (b, stage, reason)
        m.lost_by[key] = m.lost_by.get(key, 0) + 1
        m.close(deal.buyer, deal.visited, False)
        del self.open[deal.id]

    def _finish(self) -> dict[Key, float]:
        now = self.env.now
        m = self.metrics
        for deal in self.open.values():  # deals still in a stage: their time so far counts
            m.wip_area[deal.stage] += now - max(deal.t_enter, m.start)
            if self.log is not None:  # and the log shows where each stands at the end
                step = self.steps[deal.buyer][deal.stage]
                pools = step.pools if step is not None else ()
                self.log((deal.id, self.buyer_ids[deal.buyer], self.stage_ids[deal.stage],
                          deal.t_enter, NAN, NAN, OPEN_OUTCOME,
                          pools[0].id if pools else "", deal.value))
        if self.month < len(self.months):  # the month the run ends in, ended or not (SimPy
            m.month_end(self.month, len(self.open),  # stops before events due at the end)
                        math.fsum(d.value for d in self.open.values()),
                        complete=self.months[self.month][1] <= now)
        roles = {rid: pool.integrals(now) for rid, pool in self.pools.items()}
        open_deals = [(d.buyer, d.stage, d.value) for d in self.open.values()]
        return m.figures(now, roles, open_deals, self.process.time_unit)


def _waited(pool: Pool, since: float, now: float) -> float:
    """The part of a wait for *pool*'s people from *since* to *now* that was waiting for
    busy people: its working time on their calendar (all of it around the clock). The
    rest, nights, weekends and holidays, was waiting for the working day."""
    return now - since if pool.clock is None else pool.working(now) - pool.working(since)


def _category(categories: list[str], cumulative: list[float], draw: streams.Stream) -> str:
    """One category, drawn by its share."""
    return categories[min(_bisect(cumulative, draw()), len(categories) - 1)]
