"""SimPy behind one door: the only module that touches SimPy's private API.

The engine schedules plain objects on SimPy's event queue instead of creating a
``simpy.Event`` and a generator process per deal: that is what makes it several times
faster than the textbook style (see bench/simulate.py). It relies on three things SimPy
does not promise, all of them here and checked by tests/test_scheduler.py:

* ``Environment._queue`` is a heap of ``(time, priority, id, event)`` and
  ``Environment._eid`` counts ids (what ``Environment.schedule`` pushes);
* ``Environment.step`` treats any object with ``callbacks``, ``_ok = True`` and
  ``_value`` as a processed event and calls each callback with it (the scheduler's own
  :meth:`Scheduler.run` does the same, without ``step``'s checks for failed events and
  interrupted callbacks that what the engine schedules never needs);
* ``simpy.events.NORMAL`` and ``URGENT`` order events at the same instant;
* ``Environment._now`` is the current time (SimPy's ``now`` is a property over it).

Each scheduled object carries the time it is due, :attr:`Scheduled.time`: a callback
knows "now" from the object it is handed, a plain attribute, instead of reading SimPy's
``now`` property several times an event (which cost 5-12% of the simulator's speed).

setup.cfg pins ``simpy < 5`` so that a new major version is tried here first.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.events import NORMAL, URGENT

Callbacks = tuple[Callable[[Any], None], ...]


class Scheduled:
    """Base of what the engine puts on the queue: SimPy reads these as an event that
    succeeded. Subclasses list their own fields in ``__slots__``."""

    __slots__ = ("callbacks", "time")
    _ok = True
    _value = None
    time: float  # when it is (or was last) due: "now" for the callbacks it is handed to

    def __init__(self) -> None:
        self.callbacks: Callbacks | None = None


class Scheduler(simpy.Environment):
    """SimPy's environment with a fast way to schedule a :class:`Scheduled`, and to run
    them."""

    def run(self, until: Any = None) -> Any:
        """Run until the time *until*, as ``Environment.run(until)`` does (the stop is the
        same heap entry: at *until*, before the ordinary events of that instant, so those
        stay unprocessed and ``now`` ends at *until*), in a loop of its own: SimPy's
        ``step``, a method call per event with its checks for failed events, cost about
        a tenth of the engine's time. Everything on the queue must be a
        :class:`Scheduled` (what :meth:`at` and :meth:`first_at` put there). Without a
        time (None or a SimPy event), SimPy's own loop runs."""
        if until is None or isinstance(until, simpy.Event):
            return super().run(until)
        at = until if isinstance(until, int) else float(until)
        if at <= self._now:
            raise ValueError(f"until ({at}) must be greater than the current simulation time")
        stop = Scheduled()
        self.first_at(stop, at - self._now, ())
        queue: list[Any] = self._queue
        while True:
            self._now, _, _, event = heappop(queue)
            if event is stop:
                return None
            for callback in event.callbacks:
                callback(event)

    def at(self, event: Scheduled, delay: float, callbacks: Callbacks) -> None:
        """Run *callbacks* with *event* after *delay*. *callbacks* is a tuple made once
        and shared: SimPy only iterates over it, so no list or bound method is made per
        event. (Environment.schedule, inlined: the same heap entry.)"""
        event.callbacks = callbacks
        event.time = due = self._now + delay
        queue: list[Any] = self._queue
        heappush(queue, (due, NORMAL, next(self._eid), event))

    def first_at(self, event: Scheduled, delay: float, callbacks: Callbacks) -> None:
        """Like :meth:`at`, but before every ordinary event of that instant."""
        event.callbacks = callbacks
        event.time = due = self._now + delay
        queue: list[Any] = self._queue
        heappush(queue, (due, URGENT, next(self._eid), event))
