"""How long a 13-week forecast of the example export takes, against a plain simulation of
the same process over the same 13 weeks (no open pipeline, no event log) in the same run.

    python bench/forecast.py [--rounds 3]

Prints the median wall time of `salesproc forecast` through the CLI (interpreter start
included) and of `salesproc simulate` with the same number of runs, and their ratio; then
the forecast on one worker against two (SALESPROC_WORKERS, which the CLI reads: it uses
every core unless told otherwise), their wall times and ratio, and the CPU time the
two-worker run spent per second of wall time (above 1: both cores were working).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from simulate import cpu_ceiling  # noqa: E402

EXPORT = [str(ROOT / "examples" / "five-step-salesforce" / name)
          for name in ("Opportunity.csv", "OpportunityHistory.csv")]
PROCESS = str(ROOT / "processes" / "five-step.yaml")


def timed(command: list[str], workers: int | None = None) -> float:
    env = None if workers is None else {**os.environ, "SALESPROC_WORKERS": str(workers)}
    began = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=env)
    return time.perf_counter() - began


def children_cpu() -> float:
    """CPU seconds (user and system) of every finished child process and its workers."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "salesproc"]
    forecast = [*cli, "forecast", *EXPORT, "--process", PROCESS, "--horizon", "13w",
                "-r", "200", "--seed", "1"]
    simulate = [*cli, "simulate", PROCESS, "--horizon", "13w", "--warmup", "0", "-r", "200",
                "-w", "1"]
    f, s = [], []
    for _ in range(args.rounds):  # alternating, so both see the same machine
        f.append(timed(forecast))
        s.append(timed(simulate))
    fm, sm = statistics.median(f), statistics.median(s)
    print(f"forecast, 13 weeks, 200 runs: {fm:.2f} s (median of {args.rounds})")
    print(f"simulate, 13 weeks, 200 runs, 1 worker: {sm:.2f} s")
    print(f"forecast ÷ simulate: {fm / sm:.2f}×")
    walls: dict[int, list[float]] = {1: [], 2: []}
    busy: dict[int, list[float]] = {1: [], 2: []}  # CPU seconds per wall second
    for _ in range(args.rounds):
        for workers in (1, 2):
            before = children_cpu()
            walls[workers].append(timed(forecast, workers))
            busy[workers].append((children_cpu() - before) / walls[workers][-1])
    one, two = statistics.median(walls[1]), statistics.median(walls[2])
    print(f"forecast, 13 weeks, 200 runs: 1 worker {one:.2f} s, 2 workers {two:.2f} s, "
          f"ratio {two / one:.2f} (1.00: no gain; 0.50: both cores fully used)")
    print(f"CPU seconds per second of wall time: 1 worker "
          f"{statistics.median(busy[1]):.2f}, 2 workers {statistics.median(busy[2]):.2f} "
          "(at most 2 on 2 cores)")
    print(f"a pure-Python CPU loop, 2 workers / 1 (this machine's ceiling now): "
          f"{cpu_ceiling():.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
