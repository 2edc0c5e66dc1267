"""The engine's event queue: both heaps (heapq's tuples, and the events themselves) hand
events out in one order, by time, then urgent first, then in scheduling order."""

from __future__ import annotations

import random

import pytest

from salesproc.sim.engine import Timer
from salesproc.sim.scheduler import HeapOfEvents, Scheduler

QUEUES = [Scheduler, HeapOfEvents]


def probe(name: int) -> Timer:
    """An event known by *name* (a Timer: the compiled engine's classes are not
    subclassed here)."""
    timer = Timer()
    timer.token = name
    return timer


@pytest.mark.parametrize("queue", QUEUES)
def test_events_come_in_time_order_urgent_first_then_as_scheduled(
        queue: type[Scheduler]) -> None:
    env = queue()
    for name, delay in ((3, 3.0), (1, 1.0), (21, 2.0), (22, 2.0)):
        env.at(probe(name), delay, 7)
    env.first_at(probe(20), 2.0, 8)  # before the others due at 2
    seen = []
    for _ in range(5):
        event = env.next()
        seen.append((event.token, event.time, env.now, event.action))
    assert seen == [(1, 1.0, 1.0, 7), (20, 2.0, 2.0, 8), (21, 2.0, 2.0, 7),
                    (22, 2.0, 2.0, 7), (3, 3.0, 3.0, 7)]


@pytest.mark.parametrize("queue", QUEUES)
def test_an_event_handed_out_can_be_scheduled_again(queue: type[Scheduler]) -> None:
    env = queue()
    env.at(probe(0), 1.0, 1)
    times = []
    for _ in range(3):
        event = env.next()
        times.append(event.time)
        env.at(event, 0.5, 1)
    assert times == [1.0, 1.5, 2.0] and env.now == 2.0


def test_both_queues_give_one_order_for_many_events_with_ties() -> None:
    """Events scheduled while others are handed out (as the engine does), many due at
    the same instant (delays drawn from a few values), some urgent: the same sequence
    from both, the one of sorting by (time, urgent first, scheduling order)."""
    orders = []
    for queue in QUEUES:
        env = queue()
        draw = random.Random(11)
        due: list[tuple[float, int, int]] = []  # what sorting says comes next
        count = 0
        out: list[int] = []
        for step in range(3000):
            for _ in range(draw.choice((0, 1, 1, 2))):
                count += 1
                delay = draw.choice((0.0, 0.25, 0.5, 1.0, draw.random()))
                urgent = draw.random() < 0.2
                (env.first_at if urgent else env.at)(probe(count), delay, 1)
                due.append((env.now + delay, 0 if urgent else 1, count))
            if due and step % 3:
                event = env.next()
                expected = min(due)
                due.remove(expected)
                assert (event.time, event.token) == (expected[0], expected[2])
                out.append(event.token)
        orders.append(out)
    assert orders[0] == orders[1] and len(orders[0]) > 1000
