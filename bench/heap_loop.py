"""The floor: funnel5 (bench/funnel5.yaml) as a hand-written ``heapq`` event loop.

The same model as bench/plain_simpy.py (its RATE and STAGES): Poisson arrivals, five
stages in tandem, each with a first-come first-served queue for its role's people,
exponential work, a deal going on with the stage's chance, else lost. No SimPy, no
objects per deal: an event is a ``(time, stage, arrived)`` tuple on one heap (stage -1:
the next arrival; otherwise the end of work at that stage, of a deal that arrived at
``arrived``), a queue is a deque of the waiting deals' arrival times, and random numbers
come from numpy in blocks, as salesproc's engine draws them. It counts leads and wins
and sums the wins' cycle times: what a competent engineer would write by hand to
simulate this funnel, and the yardstick for the engine's overhead (bench/simulate.py
prints the engine's CPU time as a multiple of this one's).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from heapq import heappop, heappush

import numpy as np
from plain_simpy import RATE, STAGES, WON_FRACTION

BLOCK = 4096


def _stream(block: Callable[[int], np.ndarray]) -> Callable[[], float]:
    """Numbers one at a time from numpy blocks (a C-level iterator: no Python call)."""
    blocks = iter(lambda: block(BLOCK).tolist(), None)
    return itertools.chain.from_iterable(blocks).__next__


def run(leads: int, seed: int = 1) -> dict[str, float]:
    """Simulate until *leads* deals have arrived and every one has ended; returns leads,
    won, the won deals' mean cycle time and the end time."""
    rng = np.random.default_rng(seed)
    exponential = _stream(rng.standard_exponential)
    uniform = _stream(rng.random)
    means = [mean for _, mean, _ in STAGES]
    go_on = [chance for _, _, chance in STAGES]
    free = [people for people, _, _ in STAGES]
    queues: list[deque[float]] = [deque() for _ in STAGES]
    last = len(STAGES) - 1
    gap = 1.0 / RATE
    heap: list[tuple[float, int, float]] = [(exponential() * gap, -1, 0.0)]
    arrived = won = 0
    cycle = now = 0.0
    while heap:
        now, stage, since = heappop(heap)
        if stage < 0:  # a lead arrives at the first stage; the next one is scheduled
            arrived += 1
            if free[0]:
                free[0] -= 1
                heappush(heap, (now + exponential() * means[0], 0, now))
            else:
                queues[0].append(now)
            if arrived < leads:
                heappush(heap, (now + exponential() * gap, -1, now))
            continue
        queue = queues[stage]  # work done: the person takes the next deal waiting, if any
        if queue:
            heappush(heap, (now + exponential() * means[stage], stage, queue.popleft()))
        else:
            free[stage] += 1
        if uniform() >= go_on[stage]:
            continue  # lost
        if stage == last:
            won += 1
            cycle += now - since
            continue
        stage += 1
        if free[stage]:
            free[stage] -= 1
            heappush(heap, (now + exponential() * means[stage], stage, since))
        else:
            queues[stage].append(since)
    return {"leads": arrived, "won": won, "cycle_mean": cycle / won if won else 0.0,
            "end": now}


if __name__ == "__main__":
    import time

    start = time.process_time()
    out = run(1_000_000)
    elapsed = time.process_time() - start
    print(f"{out['leads'] / elapsed:,.0f} leads/s (CPU), won fraction "
          f"{out['won'] / out['leads']:.4f} (theory {WON_FRACTION:.4f})")
