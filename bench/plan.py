"""How long an 18-month plan with optimisation takes (not a test; prints seconds and a
ratio).

    python bench/plan.py [--workers 2]

The five-step example with 2 account executives (closing capacity binds) against
examples/plans/five-step-2026.yaml stretched to 18 months (targets for each of its six
quarters), `--optimise` over the account executives' hire months (up to 3), 12
replications a schedule and 24 fresh ones for the check, timed against one plain
`simulate` of the file (20 replications of its 361 days) in the same invocation. The
budget is 60 s.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from salesproc import load
from salesproc.experiments.experiment import resolve_settings, simulate
from salesproc.experiments.plan import run_plan
from salesproc.experiments.planfile import read_plan_text

ROOT = Path(__file__).resolve().parent.parent
EIGHTEEN = {"months: 12": "months: 18",
            "2027-Q1: 1400000}": "2027-Q1: 1400000, 2027-Q2: 1450000, 2027-Q3: 1450000}"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    workers = parser.parse_args().workers
    process = load(ROOT / "processes" / "five-step.yaml", ["roles.ae.headcount=2"])
    text = (ROOT / "examples" / "plans" / "five-step-2026.yaml").read_text("utf-8")
    for old, new in EIGHTEEN.items():
        assert old in text, old
        text = text.replace(old, new)
    plan = read_plan_text(text, process, "five-step-18-months")
    start = time.perf_counter()
    simulate(process, resolve_settings(process, replications=20, workers=workers))
    baseline = time.perf_counter() - start
    start = time.perf_counter()
    done = run_plan(process, plan, replications=12, workers=workers, optimise_for=0.8)
    took = time.perf_counter() - start
    o = done.optimisation
    assert o is not None
    print(f"plan: 18 months, --optimise ({len(o.tried)} schedules x 12 replications, check "
          f"{o.check_runs}), {workers} workers: {took:.1f} s (budget 60 s); one simulate "
          f"of five-step (20 x 361 days): {baseline:.2f} s; ratio {took / baseline:.1f}x")
    print(o.best and f"answer: {done.to_dict()['optimisation']['explanation']}")


if __name__ == "__main__":
    main()
