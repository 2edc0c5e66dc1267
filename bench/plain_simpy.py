"""The baseline: funnel5 (bench/funnel5.yaml) as a plain SimPy model.

One generator process per deal, one ``simpy.Resource`` per stage, numpy for random
numbers. Benchmarks report salesproc's speed as a ratio to this, measured in the same
run; its won count is the cross-check of salesproc's.
"""

from __future__ import annotations

import numpy as np
import simpy

RATE = 10.0  # leads per day
STAGES = [  # (headcount, mean work in days, chance to go on)
    (2, 0.15, 0.6),
    (3, 0.40, 0.5),
    (2, 0.50, 0.6),
    (2, 1.00, 0.7),
    (1, 0.50, 0.9),
]
WON_FRACTION = 0.6 * 0.5 * 0.6 * 0.7 * 0.9  # 0.1134


def run(leads: int, seed: int = 1) -> dict[str, float]:
    """Simulate until *leads* deals have arrived; returns leads, won and the end time."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    desks = [simpy.Resource(env, capacity=c) for c, _, _ in STAGES]
    counts = {"won": 0, "lost": 0}

    def deal() -> simpy.events.ProcessGenerator:
        for desk, (_, mean, go_on) in zip(desks, STAGES, strict=True):
            with desk.request() as turn:
                yield turn
                yield env.timeout(rng.exponential(mean))
            if rng.random() >= go_on:
                counts["lost"] += 1
                return
        counts["won"] += 1

    def source() -> simpy.events.ProcessGenerator:
        for _ in range(leads):
            yield env.timeout(rng.exponential(1.0 / RATE))
            env.process(deal())

    env.process(source())
    env.run()
    return {"leads": leads, "won": counts["won"], "end": env.now}


if __name__ == "__main__":
    import time

    start = time.perf_counter()
    out = run(200_000)
    elapsed = time.perf_counter() - start
    print(f"{out['leads'] / elapsed:,.0f} leads/s, won fraction {out['won'] / out['leads']:.4f}"
          f" (theory {WON_FRACTION:.4f})")
