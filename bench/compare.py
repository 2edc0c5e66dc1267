"""How long a what-if comparison takes (not a test; prints seconds and ratios).

    python bench/compare.py

The five-step example against 3 variants (the free-trial file, one more solutions
engineer, one more SDR), 20 paired replications each, on 1 and on 2 workers, in the same
invocation. The budget is "a few seconds on 2 cores".
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from salesproc import load
from salesproc.experiments.compare import compare
from salesproc.experiments.experiment import resolve_settings

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    five = ROOT / "processes" / "five-step.yaml"
    base = load(five)
    variants = [("free trial", load(ROOT / "processes" / "five-step-free-trial.yaml")),
                ("3 SEs", load(five, ["roles.se.headcount=3"])),
                ("3 SDRs", load(five, ["roles.sdr.headcount=3"]))]
    times: dict[int, list[float]] = {1: [], 2: []}
    for workers in (1, 2, 1, 2, 1, 2):
        settings = resolve_settings(base, replications=20, workers=workers)
        start = time.perf_counter()
        compare(("five-step", base), variants, settings)
        times[workers].append(time.perf_counter() - start)
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(f"compare: base + 3 variants x 20 replications: 1 worker {one:.2f} s, "
          f"2 workers {two:.2f} s (ratio {two / one:.2f})")


if __name__ == "__main__":
    main()
