"""The contract with SimPy that salesproc.sim.scheduler relies on (SimPy's private API).

If a SimPy release changes any of it, these fail first, before any figure goes wrong."""

from __future__ import annotations

import simpy
from simpy.events import NORMAL, URGENT

from salesproc.sim.scheduler import Scheduled, Scheduler


class Probe(Scheduled):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


def test_simpy_is_a_major_version_the_scheduler_was_written_for() -> None:
    assert int(simpy.__version__.split(".")[0]) == 4


def test_the_environment_has_the_fields_the_scheduler_uses() -> None:
    env = simpy.Environment()
    assert isinstance(env._queue, list) and env._now == 0
    assert isinstance(next(env._eid), int)
    assert URGENT < NORMAL  # urgent events go first at the same instant


def test_scheduled_objects_run_in_time_order_with_now_on_them() -> None:
    env = Scheduler()
    seen: list[tuple[str, float, float]] = []

    def record(event: Probe) -> None:
        seen.append((event.name, event.time, env.now))

    callbacks = (record,)
    for name, delay in (("c", 3.0), ("a", 1.0), ("b1", 2.0), ("b2", 2.0)):
        env.at(Probe(name), delay, callbacks)
    env.first_at(Probe("b0"), 2.0, callbacks)  # before the others due at 2
    env.run(until=10)
    assert seen == [("a", 1.0, 1.0), ("b0", 2.0, 2.0), ("b1", 2.0, 2.0), ("b2", 2.0, 2.0),
                    ("c", 3.0, 3.0)]


def test_a_callback_can_schedule_the_same_object_again() -> None:
    env = Scheduler()
    times: list[float] = []

    def again(event: Probe) -> None:
        times.append(event.time)
        if len(times) < 3:
            env.at(event, 0.5, (again,))

    env.at(Probe("x"), 1.0, (again,))
    env.run(until=5)
    assert times == [1.0, 1.5, 2.0]
    assert env.now == 5
