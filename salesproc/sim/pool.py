"""The people of one role: a headcount, a first-come first-served queue, and the
integrals of present and busy people over working time (utilization).

A waiter (:class:`Waiter`) is a deal or an approval task with a ``waiting`` flag, a
``meeting``: None when it needs one person of this role only, or every pool a meeting
needs (it then waits in each of their queues, holding nobody), and a ``grant``: what the
pool's :class:`Granter` (the engine) does when the waiter is given its people.

Under a working calendar, busy time counts only working time: a person holding a deal
over the weekend is not busy on Sunday. A role whose headcount changes on dates logs each
change, so utilization is measured against the people actually there. With a ramp, each
person is known by when they joined (:attr:`Pool.handed` is the person a waiter was just
given) and works at their own speed (:meth:`Pool.ramped_end`).
"""

from __future__ import annotations

import heapq
import itertools
import math
from abc import abstractmethod
from collections import deque
from typing import Any, Final

from salesproc.core.calendar import WorkingClock
from salesproc.process.model import Ramp
from salesproc.sim.scheduler import Scheduled

VETERAN: Final = -math.inf  # joined before the start: full speed


class Waiter(Scheduled):
    """What waits in a pool's queue: a deal or an approval task (also an event)."""

    __slots__ = ("grant", "meeting", "waiting")
    waiting: bool  # still waiting (False: served, or gone stale; skipped when met)
    meeting: list[Pool] | None  # every pool a meeting needs; None: this pool's alone
    grant: int  # what the granter does once it is given its people (the granter's numbers)


class Granter:
    """Who is told when a pool gives a waiter its people: the engine. (A method of a
    class, not a callable kept per waiter: a native call in the compiled engine.)"""

    @abstractmethod
    def granted(self, waiter: Any, pool: Pool, now: float) -> None:
        """*waiter* has everyone it needs; *pool* freed up last, at *now*."""


class Pool:
    """The people of one role."""

    __slots__ = ("area", "busy", "capacity", "changes", "clock", "free", "granter", "handed",
                 "id", "index", "last", "plain", "queue", "ramp", "ramp_hours", "unit_hours")

    def __init__(self, role: str, capacity: int, granter: Granter,
                 clock: WorkingClock | None = None,
                 unit_hours: float = 24.0, ramp: Ramp | None = None,
                 staffed: bool = False, index: int = 0) -> None:
        self.id = role
        self.granter = granter  # told when a waiter is given its people
        self.index = index  # the role's position in the process (where its figures go)
        self.capacity = capacity
        self.busy = 0
        self.queue: deque[Waiter] = deque()
        self.clock = clock  # None: working time is calendar time
        self.unit_hours = unit_hours  # hours in one time unit
        self.area = 0.0  # busy people × working time, since `last` was reset
        self.last = 0.0  # in working time (calendar time without a clock)
        self.changes: list[tuple[float, int]] = [(0.0, capacity)]  # (time, headcount)
        self.ramp = ramp
        # a ramp's length in working hours, worked out once (not at every work start)
        self.ramp_hours = 0.0 if ramp is None else ramp.weeks * (
            168.0 if clock is None else clock.calendar.hours_per_week)
        # with a ramp: free people by when they joined (working hours), longest-serving first
        self.free: list[float] | None = [VETERAN] * capacity if ramp is not None else None
        self.handed = VETERAN  # who took the last piece of work (with a ramp)
        # no ramp and a fixed headcount: nobody to tell apart, nobody leaving (fast path)
        self.plain = ramp is None and not staffed

    def working(self, now: float) -> float:
        """*now* on this role's working clock, in time units (unchanged without one)."""
        clock = self.clock
        return now if clock is None else clock.worked(now * self.unit_hours) / self.unit_hours

    def take(self, now: float) -> None:
        """A free person starts work."""
        clock = self.clock  # _count, inlined
        x = now if clock is None else clock.worked(now * self.unit_hours) / self.unit_hours
        self.area += self.busy * (x - self.last)
        self.last = x
        self.busy += 1
        if self.free is not None:
            self.handed = heapq.heappop(self.free) if self.free else VETERAN

    def release(self, now: float, joined: float = VETERAN) -> None:
        """A person (who joined at *joined*) is done: they leave if the headcount went
        down, else they serve the first waiter that can start, else they are free."""
        queue = self.queue
        if self.plain:  # no ramp, a fixed headcount: the hot path, inlined
            if queue:
                head = queue[0]
                if head.waiting and head.meeting is None:
                    queue.popleft()
                    head.waiting = False
                    self.granter.granted(head, self, now)
                    return
                if self._serve(now):
                    return
            clock = self.clock
            x = now if clock is None else clock.worked(now * self.unit_hours) / self.unit_hours
            self.area += self.busy * (x - self.last)
            self.last = x
            self.busy -= 1
            return
        if self.busy > self.capacity:
            self._count(now, -1)
            return
        if self.free is not None:
            heapq.heappush(self.free, joined)
        if not (queue and self._serve(now)):
            self._count(now, -1)

    def _count(self, now: float, step: int) -> None:
        clock = self.clock
        x = now if clock is None else clock.worked(now * self.unit_hours) / self.unit_hours
        self.area += self.busy * (x - self.last)
        self.last = x
        self.busy += step

    def _serve(self, now: float) -> bool:
        """Give a person who is free now (counted busy) to the first waiter that can
        start: a deal needing this role alone, or a meeting whose other roles are free."""
        queue = self.queue
        while queue and not queue[0].waiting:  # stale or served elsewhere: dropped when met
            queue.popleft()
        if queue and queue[0].meeting is None and self.plain:  # the common case
            waiter = queue.popleft()
            waiter.waiting = False
            self.granter.granted(waiter, self, now)
            return True
        for index, waiter in enumerate(queue):
            if not waiter.waiting:
                continue
            meeting = waiter.meeting
            if meeting is None or all(p is self or p.busy < p.capacity for p in meeting):
                del queue[index]
                waiter.waiting = False
                for pool in meeting or ():
                    if pool is not self:
                        pool.take(now)
                if self.free is not None:
                    self.handed = heapq.heappop(self.free) if self.free else VETERAN
                self.granter.granted(waiter, self, now)
                return True
        return False

    def resize(self, capacity: int, now: float) -> None:
        """The headcount becomes *capacity* at *now*: new people start on waiting work at
        once; people who leave finish what they hold first."""
        joined = capacity - self.capacity
        self.changes.append((now, capacity))
        self.capacity = capacity
        if self.free is not None:
            if joined > 0:
                hired = self.working(now) * self.unit_hours
                for _ in range(joined):
                    heapq.heappush(self.free, hired)
            else:
                for _ in range(min(-joined, len(self.free))):
                    self.free.remove(max(self.free))  # the newest free people leave first
                heapq.heapify(self.free)
        while self.busy < self.capacity:
            self._count(now, 1)
            if not self._serve(now):
                self._count(now, -1)
                break

    def reset(self, now: float) -> None:
        """Start measuring utilization afresh (the end of the warm-up)."""
        self.area = 0.0
        self.last = self.working(now)
        self.changes = [(now, self.capacity)]

    def integrals(self, now: float) -> tuple[float, float]:
        """(people present × working time, busy people × working time) since the last
        reset, up to *now*."""
        self._count(now, 0)
        edges = [*self.changes, (now, self.capacity)]
        present = 0.0
        for (begin, people), (end, _) in itertools.pairwise(edges):
            present += people * (self.working(end) - self.working(begin))
        return present, self.area

    def ramped_end(self, start: float, work: float, joined: float) -> float:
        """The working hour at which *work* full-speed working hours begun at working hour
        *start* are done by someone who joined at working hour *joined*: their speed rises
        evenly from ramp.start to 1 over ramp.weeks working weeks."""
        assert self.ramp is not None
        length = self.ramp_hours
        if not math.isfinite(joined) or start >= joined + length:
            return start + work
        s, k = self.ramp.start, (1.0 - self.ramp.start) / length
        y0 = max(0.0, start - joined)
        by_full_speed = s * (length - y0) + k / 2 * (length**2 - y0**2)
        if by_full_speed < work:
            return joined + length + (work - by_full_speed)
        c = s * y0 + k / 2 * y0**2 + work  # solve s·y + k/2·y² = c for y
        return joined + (-s + math.sqrt(s * s + 2 * k * c)) / k
