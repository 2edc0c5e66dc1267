"""The people of one role: a headcount, a first-come first-served queue, and the
integral of busy people over time (utilization).

A waiter is a deal or an approval task with a ``waiting`` flag, a ``granted(waiter,
pool, now)`` callback and a ``meeting``: None when it needs one person of this role only, or
every pool a meeting needs (it then waits in each of their queues, holding nobody).
"""

from __future__ import annotations

from collections import deque
from typing import Any


class Pool:
    """The people of one role."""

    __slots__ = ("area", "busy", "capacity", "id", "last", "queue")

    def __init__(self, role: str, capacity: int) -> None:
        self.id = role
        self.capacity = capacity
        self.busy = 0
        self.queue: deque[Any] = deque()
        self.area = 0.0  # busy people × time, since `last` was reset
        self.last = 0.0

    def take(self, now: float) -> None:
        self.area += self.busy * (now - self.last)
        self.last = now
        self.busy += 1

    def release(self, now: float) -> None:
        """One person is done: hand them to the first waiter that can start, or free them."""
        queue = self.queue
        while queue:
            waiter = queue[0]
            if not waiter.waiting:  # stale or already served: dropped when met, not searched
                queue.popleft()
                continue
            if waiter.meeting is None:
                queue.popleft()
                waiter.waiting = False
                waiter.granted(waiter, self, now)
                return
            if self._first_fit(now):
                return
            break
        self.area += self.busy * (now - self.last)
        self.last = now
        self.busy -= 1

    def _first_fit(self, now: float) -> bool:
        """Serve the first waiter whose every role has someone free (this person included)."""
        queue = self.queue
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
                waiter.granted(waiter, self, now)
                return True
        return False

    def reset(self, now: float) -> None:
        """Start measuring utilization afresh (the end of the warm-up)."""
        self.area = 0.0
        self.last = now

    def busy_time(self, now: float) -> float:
        """Busy people × time since the last reset, up to *now*."""
        self.area += self.busy * (now - self.last)
        self.last = now
        return self.area
