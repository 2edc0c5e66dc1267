"""The engine's event queue: what is due when, in a heap.

The engine schedules plain objects (:class:`Scheduled`: a deal, an approval task, a
timer) instead of a ``simpy.Event`` and a generator process per deal: that is what makes
it several times faster than the textbook SimPy style (see bench/simulate.py). Each
carries the time it is due, :attr:`Scheduled.time` (a handler knows "now" from the
object it is handed, a plain attribute), and :attr:`Scheduled.action`, a small number
that says which of the engine's handlers it goes to: the engine's loop dispatches on it
(a native call in the compiled engine, where a callable stored per event would be a
Python-level call).

The order is SimPy's: by time, then urgent before ordinary events of the same instant,
then in the order they were scheduled (the heap entry ``(time, priority, id, event)`` is
the one ``simpy.Environment.schedule`` makes), so the engine gives the figures it gave on
SimPy's queue.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any, Final

# Final: C statics in the compiled scheduler, not a look-up in the module's names per event
_push: Final = heappush
_pop: Final = heappop

URGENT: Final = 0  # before the ordinary events of the same instant
NORMAL: Final = 1


class Scheduled:
    """Base of what the engine puts on the queue. Subclasses list their own fields in
    ``__slots__``. One object is due once at a time: scheduling it again before it is due
    would move it."""

    __slots__ = ("action", "call", "eid", "priority", "time")
    action: int  # which handler the engine's loop hands it to (the engine's numbers)
    time: float  # when it is (or was last) due: "now" for the handler it is handed to
    call: Callable[[Any], None]  # for the engine's one-off events: what to do then
    priority: int  # URGENT or NORMAL (HeapOfEvents' order; Scheduler keeps it in the heap)
    eid: int


class Scheduler:
    """The heap of scheduled objects, and the time now: heapq on ``(time, priority, id,
    event)`` tuples, the fastest order in plain Python."""

    def __init__(self) -> None:
        self.now = 0.0
        # (time, priority, id, event): ids in scheduling order, so that events due at one
        # instant with one priority run in the order they were scheduled
        self.queue: list[tuple[float, int, int, Any]] = []
        self.eid = 0

    def at(self, event: Scheduled, delay: float, action: int) -> None:
        """Hand *event* to the engine's handler *action* after *delay*."""
        event.action = action
        event.time = due = self.now + delay
        self.eid += 1
        _push(self.queue, (due, NORMAL, self.eid, event))

    def first_at(self, event: Scheduled, delay: float, action: int) -> None:
        """Like :meth:`at`, but before every ordinary event of that instant."""
        event.action = action
        event.time = due = self.now + delay
        self.eid += 1
        _push(self.queue, (due, URGENT, self.eid, event))

    def next(self) -> Any:
        """The next event due (a :class:`Scheduled`), off the queue; the time now is its
        time. (Typed Any: the engine hands it on to the handler its action names.)"""
        now, _, _, event = _pop(self.queue)
        self.now = now
        return event


class HeapOfEvents(Scheduler):
    """The same order, the heap made of the events themselves, each keeping its own time,
    priority and id (no tuple, no number boxed per event, every comparison a native one):
    several times faster compiled, much slower in plain Python. heapq's algorithm
    (sift-down on push, bottom-up sift-up on pop), so that even a tie of every key would
    come out as heapq's does; but (time, priority, id) is a total order, so any heap
    gives the one order."""

    def __init__(self) -> None:
        super().__init__()
        self.heap: list[Scheduled] = []

    def at(self, event: Scheduled, delay: float, action: int) -> None:
        event.action = action
        event.time = self.now + delay
        event.priority = NORMAL
        self.eid += 1
        event.eid = self.eid
        heap = self.heap
        heap.append(event)
        _sift_down(heap, 0, len(heap) - 1)

    def first_at(self, event: Scheduled, delay: float, action: int) -> None:
        event.action = action
        event.time = self.now + delay
        event.priority = URGENT
        self.eid += 1
        event.eid = self.eid
        heap = self.heap
        heap.append(event)
        _sift_down(heap, 0, len(heap) - 1)

    def next(self) -> Any:
        heap = self.heap
        last = heap.pop()
        if heap:
            event = heap[0]
            heap[0] = last
            _sift_up(heap, 0)
        else:
            event = last
        self.now = event.time
        return event


def _before(a: Scheduled, b: Scheduled) -> bool:
    """(a.time, a.priority, a.eid) < (b.time, b.priority, b.eid), as tuples compare."""
    if a.time != b.time:
        return a.time < b.time
    if a.priority != b.priority:
        return a.priority < b.priority
    return a.eid < b.eid


def _sift_down(heap: list[Scheduled], start: int, pos: int) -> None:
    """heapq._siftdown: the event at *pos* moves up towards *start* past later ones."""
    item = heap[pos]
    while pos > start:
        parent_pos = (pos - 1) >> 1
        parent = heap[parent_pos]
        if _before(item, parent):
            heap[pos] = parent
            pos = parent_pos
            continue
        break
    heap[pos] = item


def _sift_up(heap: list[Scheduled], pos: int) -> None:
    """heapq._siftup: the smaller child moves up until a leaf is free for the event at
    *pos*, which then moves back up to its place."""
    end = len(heap)
    start = pos
    item = heap[pos]
    child = 2 * pos + 1
    while child < end:
        right = child + 1
        if right < end and not _before(heap[child], heap[right]):
            child = right
        heap[pos] = heap[child]
        pos = child
        child = 2 * pos + 1
    heap[pos] = item
    _sift_down(heap, start, pos)


def _compiled() -> bool:
    """Whether this module runs compiled (mypyc): its functions are not Python's."""
    return not isinstance(_compiled, types.FunctionType)


#: Whether the engine runs compiled (mypyc), where HeapOfEvents is the faster queue.
COMPILED: Final = _compiled()


def new() -> Scheduler:
    """An empty queue at time 0: the faster of the two for how this module runs (the
    same order of events either way)."""
    return HeapOfEvents() if COMPILED else Scheduler()
