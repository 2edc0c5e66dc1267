"""Simulation speed, memory and parallel scaling (not a test; prints ratios).

    python bench/simulate.py [--leads 200000] [--heap-leads 1000000] [--rounds 5]
                             [--only speed,heap,calendar,memory,scaling]

1. Speed: funnel5 (bench/funnel5.yaml) through salesproc's engine, all metrics on, against the
   plain SimPy model in bench/plain_simpy.py, alternating in the same run; the median
   leads/s ratio must be at least 2, and the won fractions must agree within 1%.
2. Overhead: funnel5 through the engine against a hand-written ``heapq`` loop of the same
   model (bench/heap_loop.py), 1,000,000 leads each, alternating in the same run: the
   median ratio of CPU time per lead (time.process_time) must be at most 2.5, and the
   won fractions must agree within sampling error.
3. Memory: 1,000,000 leads of funnel5 via the CLI, without --events; peak RSS of that
   child process (budget 150 MB).
4. Calendar: funnel5 on a business calendar against always-on, same utilization, per
   lead (target: at most 1.3x).
5. Scaling: 20 replications of the five-step example on 2 workers against 1 worker,
   as a library call (budget 0.6x) and as a command, interpreter start included.
"""

from __future__ import annotations

import argparse
import gc
import math
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import heap_loop  # noqa: E402
import plain_simpy  # noqa: E402

from salesproc import load  # noqa: E402
from salesproc.sim.engine import Engine  # noqa: E402
from salesproc.sim.metrics import Key  # noqa: E402


def speed(leads: int, rounds: int) -> None:
    funnel = load(HERE / "funnel5.yaml")
    horizon = leads / plain_simpy.RATE
    ratios, won_plain, won_ours, leads_plain, leads_ours = [], 0, 0, 0, 0
    for r in range(rounds):
        start = time.perf_counter()
        base = plain_simpy.run(leads, seed=r + 1)
        t_base = time.perf_counter() - start
        start = time.perf_counter()
        ours = Engine(funnel, seed=r + 1, replication=0, horizon=horizon).run()
        t_ours = time.perf_counter() - start
        base_rate = base["leads"] / t_base
        our_rate = ours[Key("all", "", "leads")] / t_ours
        ratios.append(our_rate / base_rate)
        won_plain += base["won"]
        leads_plain += base["leads"]
        won_ours += int(ours[Key("all", "", "won")])
        leads_ours += int(ours[Key("all", "", "leads")])
        print(f"  round {r + 1}: plain SimPy {base_rate:9,.0f} leads/s   salesproc "
              f"{our_rate:9,.0f} leads/s   ratio {our_rate / base_rate:4.2f}")
    f_plain, f_ours = won_plain / leads_plain, won_ours / leads_ours
    print(f"speed: median ratio {statistics.median(ratios):.2f} (target >= 2.00)")
    print(f"won fraction: plain {f_plain:.4f}, salesproc {f_ours:.4f}, theory "
          f"{plain_simpy.WON_FRACTION:.4f}; difference {abs(f_ours / f_plain - 1):.2%} "
          "(target < 1%)")


def overhead(leads: int, rounds: int) -> None:
    """The engine's CPU time per lead as a multiple of the hand-written heap loop's, both
    on funnel5 with *leads* leads (the engine: until the time they take to arrive, so
    about as many), alternating which goes first, in the same process."""
    funnel = load(HERE / "funnel5.yaml")
    horizon = leads / plain_simpy.RATE
    ratios: list[float] = []
    counted = {"heap loop": [0, 0, 0.0], "salesproc": [0, 0, 0.0]}  # leads, won, CPU s
    for r in range(rounds):
        per_lead = {}
        order = ("heap loop", "salesproc") if r % 2 == 0 else ("salesproc", "heap loop")
        for name in order:
            gc.collect()  # the other's garbage is not this one's to collect
            start = time.process_time()
            if name == "heap loop":
                out = heap_loop.run(leads, seed=r + 1)
                n, won = int(out["leads"]), int(out["won"])
            else:
                figures = Engine(funnel, seed=r + 1, replication=0, horizon=horizon).run()
                n, won = int(figures[Key("all", "", "leads")]), int(figures[Key("all", "", "won")])
            cpu = time.process_time() - start
            per_lead[name] = cpu / n
            total = counted[name]
            total[0] += n
            total[1] += won
            total[2] += cpu
        ratios.append(per_lead["salesproc"] / per_lead["heap loop"])
        print(f"  round {r + 1}: CPU per lead, heap loop {per_lead['heap loop'] * 1e6:5.2f} us"
              f"   salesproc {per_lead['salesproc'] * 1e6:5.2f} us   ratio {ratios[-1]:4.2f}")
    print(f"overhead: engine CPU / heap loop CPU, median {statistics.median(ratios):.2f} "
          f"(rounds {min(ratios):.2f}-{max(ratios):.2f}; target <= 2.50)")
    (n_heap, won_heap, _), (n_ours, won_ours, _) = counted["heap loop"], counted["salesproc"]
    f_heap, f_ours = won_heap / n_heap, won_ours / n_ours
    p = plain_simpy.WON_FRACTION
    z = (f_ours - f_heap) / math.sqrt(p * (1 - p) * (1 / n_heap + 1 / n_ours))
    print(f"won fraction: heap loop {f_heap:.4f}, salesproc {f_ours:.4f}, theory {p:.4f}; "
          f"difference {z:+.1f} standard errors (target within +-3)")


def calendar_cost(leads: int, rounds: int) -> None:
    """funnel5 on a Mon-Fri 9:00-17:00 calendar against funnel5 around the clock, at the
    same utilization (the arrival rate scaled down with the working time): the cost of
    working-time arithmetic per lead, alternating in one run."""
    from dataclasses import replace

    from salesproc.core.calendar import Calendar, parse_hours
    from salesproc.process import analysis

    always = load(HERE / "funnel5.yaml")
    business = replace(always, calendar=Calendar(parse_hours("09:00-17:00"),
                                                  frozenset(range(5))))
    business = replace(business, roles={r: replace(role, calendar=business.calendar)
                                         for r, role in always.roles.items()})
    scale = max(analysis.utilization(always).values()) / max(
        analysis.utilization(business).values())
    assert always.arrivals is not None
    business = replace(business, arrivals=replace(always.arrivals,
                                                  rate=always.arrivals.rate * scale))
    ratios = []
    for r in range(rounds):
        times = {}
        for name, process in (("always", always), ("business", business)):
            assert process.arrivals is not None
            horizon = leads / process.arrivals.rate
            start = time.perf_counter()
            figures = Engine(process, seed=r + 1, replication=0, horizon=horizon).run()
            times[name] = (time.perf_counter() - start) / figures[Key("all", "", "leads")]
        ratios.append(times["business"] / times["always"])
        print(f"  round {r + 1}: time per lead, business calendar / always {ratios[-1]:.2f}")
    print(f"calendar: median cost of a business calendar {statistics.median(ratios):.2f}x "
          "the always-on clock per lead (target <= 1.30)")


def memory() -> None:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, "-m", "salesproc", "simulate", str(HERE / "funnel5.yaml"),
                    "--horizon", "100000", "--warmup", "0", "-r", "1", "-w", "1",
                    "--format", "json", "-o", "/dev/null"], check=True,
                   stderr=subprocess.DEVNULL)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"memory: 1,000,000 leads, peak RSS {max(peak, before) / 1024:.0f} MB "
          "(budget 150 MB)")


def scaling() -> None:
    from salesproc.experiments.experiment import simulate
    from salesproc.process.model import Settings

    example = HERE.parent / "processes" / "five-step.yaml"
    process = load(example)
    lib: dict[int, list[float]] = {}
    cli: dict[int, list[float]] = {}
    for workers in (1, 2, 1, 2, 1, 2):
        start = time.perf_counter()
        simulate(process, Settings(365, 60, 20, 1, workers))
        lib.setdefault(workers, []).append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "salesproc", "simulate", str(example),
                        "-r", "20", "-w", str(workers), "--format", "json", "-o", "/dev/null"],
                       check=True, stderr=subprocess.DEVNULL)
        cli.setdefault(workers, []).append(time.perf_counter() - start)
    print(f"scaling, pure CPU loop (this machine's ceiling): ratio {cpu_ceiling():.2f}")
    for name, times in (("simulate()", lib), ("salesproc simulate", cli)):
        one, two = statistics.median(times[1]), statistics.median(times[2])
        print(f"scaling, {name}: 20 replications of five-step: 1 worker {one:.2f} s, "
              f"2 workers {two:.2f} s, ratio {two / one:.2f} (budget 0.60 for simulate())")


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def cpu_ceiling() -> float:
    """2 workers / 1 worker for a pure-Python loop: the best any parallel run can do here."""
    from concurrent.futures import ProcessPoolExecutor

    ratios = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(4):
            _burn(5_000_000)
        one = time.perf_counter() - start
        start = time.perf_counter()
        with ProcessPoolExecutor(2) as pool:
            list(pool.map(_burn, [5_000_000] * 4))
        ratios.append((time.perf_counter() - start) / one)
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--heap-leads", type=int, default=1_000_000,
                        help="leads per run in the comparison with the heap loop")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="speed,heap,calendar,memory,scaling",
                        help="the sections to run, comma-separated")
    args = parser.parse_args()
    sections = set(args.only.split(","))
    if "speed" in sections:
        speed(args.leads, args.rounds)
    if "heap" in sections:
        overhead(args.heap_leads, args.rounds)
    if "calendar" in sections:
        calendar_cost(args.leads // 2, args.rounds)
    if "memory" in sections:
        memory()
    if "scaling" in sections:
        scaling()


if __name__ == "__main__":
    main()
