"""How long a 13-week forecast of the example export takes, against a plain simulation of
the same process over the same 13 weeks (no open pipeline, no event log) in the same run.

    python bench/forecast.py [--rounds 3]

Prints the median wall time of `salesproc forecast` through the CLI (interpreter start
included) and of `salesproc simulate` with the same number of runs, and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPORT = [str(ROOT / "examples" / "five-step-salesforce" / name)
          for name in ("Opportunity.csv", "OpportunityHistory.csv")]
PROCESS = str(ROOT / "processes" / "five-step.yaml")


def timed(command: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began


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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
