"""How well a sweep spreads over two cores, locally and on a Dask cluster (not a test;
prints seconds and ratios).

    python bench/scale.py [--points 50] [--replications 200] [--rounds 1] [--memory]

A 50-point sweep of the funnel5 scenario (bench/funnel5.yaml: arrivals 5..14 a day x
stage 4's headcount 2..6), 200 paired replications of 30 days each: 10,000 runs. Timed
in this invocation, one after another:

- on 1 worker (in this process, once the imports are done): the baseline;
- on 2 local worker processes (``salesproc.executor("local:2")``), their start included;
- on a Dask cluster of 2 single-threaded worker processes (``dask scheduler`` and ``dask
  worker``, processes of their own, as a real cluster runs: nothing of it in this
  process, whose other runs it would slow; ``salesproc.executor("dask://...")``), started
  and warmed up (its workers import salesproc on their first task) before the clock
  starts, as a long-lived cluster is.

Prints each time (the median of the rounds, which alternate), the CPU time it took (this
process, the workers and Dask's scheduler; a ratio to the 1-worker run's is what spreading the work
costs), its parallel efficiency (the 1-worker time / (2 x its time): 1.0 is a
perfect split) beside this machine's own at the time (a pure-Python loop on 1 and 2
processes, bench/simulate.py's ceiling: on a shared machine other work takes its part of
the cores), whether the three results are identical, and the Dask overhead per task:
the time of a worker slot that a task doing nothing takes (about 200 of them on the same
2 workers: sent, run, sent back), beside the sweep's own tasks. Nothing is asserted.

With ``--memory``, instead: what a sweep keeps as its replications grow, a 10-point sweep
of funnel5 at 50 and at 400 replications (500 and 4,000 runs of 30 days) on 1 worker,
each in a fresh process: what the result holds (tracemalloc, after the sweep and its
JSON, over what was held before it) and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FUNNEL = str(ROOT / "bench" / "funnel5.yaml")
NOTHING_TASKS = 200


def nothing(shared: Any, item: int) -> int:
    """A task's work that takes no time: what is left is the scheduling."""
    return item


def sweep(points: int, replications: int) -> tuple[float, Any]:
    """The sweep where the open session runs it: its wall time and its JSON layout."""
    import salesproc

    rates = max(1, points // 5)
    began = time.perf_counter()
    result = salesproc.sweep(FUNNEL, [f"arrivals.rate=5..{4 + rates}",
                                      f"roles.r4.headcount=2..{1 + points // rates}"],
                             replications=replications, horizon=30, warmup=0)
    return time.perf_counter() - began, result.to_dict()


def overhead(session: Any) -> float:
    """Seconds of a slot per task, for about NOTHING_TASKS tasks that do nothing on
    *session* (runs of one task per item: TASKS_PER_SLOT for each slot)."""
    from salesproc.core import execution

    size = execution.TASKS_PER_SLOT * session.slots
    rounds = max(1, NOTHING_TASKS // size)
    began = time.perf_counter()
    for _ in range(rounds):
        session.run(nothing, None, list(range(size)), lambda index, result: None)
    return float((time.perf_counter() - began) * session.slots / (rounds * size))


#: A child that sweeps 10 points of funnel5 with argv[1] replications and prints what
#: the result holds (tracemalloc, MB) and the peak RSS (MB)
HELD = f"""
import gc, resource, sys, tracemalloc
import salesproc
from salesproc.report import json
sweep = ["arrivals.rate=5..9", "roles.r4.headcount=2..3"]
salesproc.sweep({FUNNEL!r}, sweep, replications=2, horizon=30, warmup=0)  # the imports
gc.collect()
tracemalloc.start()
result = salesproc.sweep({FUNNEL!r}, sweep, replications=int(sys.argv[1]), horizon=30,
                         warmup=0)
json.sweep(result)
gc.collect()
held = tracemalloc.get_traced_memory()[0]
tracemalloc.stop()
print(held / 1e6, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def memory() -> None:
    """What the sweep keeps at 50 and 400 replications, each in a fresh process."""
    import subprocess

    print("memory: a 10-point sweep of funnel5, 30 days, on 1 worker (a fresh process "
          "each; tracemalloc slows the runs)")
    found = {}
    for replications in (50, 400):
        out = subprocess.run([sys.executable, "-c", HELD, str(replications)], check=True,
                             capture_output=True, text=True, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
        held, peak = (float(x) for x in out.split())
        found[replications] = held
        print(f"  {replications} replications ({10 * replications:,} runs): held after "
              f"the sweep {held:.1f} MB (the result, and caches that do not grow); peak "
              f"RSS {peak:.0f} MB")
    print(f"  so {(found[400] - found[50]) * 1e6 / (10 * 350) / 1000:.1f} KB more a run")


@contextlib.contextmanager
def cluster() -> Iterator[tuple[str, int]]:
    """A Dask cluster as one is run for real, in processes of its own (`dask scheduler`
    and `dask worker` with 2 single-threaded workers): nothing of it runs in this process,
    whose 1-worker and local runs it would otherwise slow (a LocalCluster's scheduler is a
    thread of the process that starts it). Its address and the scheduler's pid."""
    import subprocess
    import tempfile

    dask = str(Path(sys.executable).with_name("dask"))
    with tempfile.TemporaryDirectory() as folder:
        found = os.path.join(folder, "scheduler.json")
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        scheduler = subprocess.Popen([dask, "scheduler", "--port", "0", "--no-dashboard",
                                      "--scheduler-file", found], **quiet)  # type: ignore[call-overload]
        workers = subprocess.Popen([dask, "worker", "--nworkers", "2", "--nthreads", "1",
                                    "--no-dashboard", "--scheduler-file", found], **quiet)  # type: ignore[call-overload]
        try:
            while not os.path.exists(found):
                time.sleep(0.1)
            time.sleep(0.2)  # written whole
            with open(found, encoding="utf-8") as file:
                address = json.load(file)["address"].removeprefix("tcp://")
            import distributed

            with distributed.Client(address, set_as_default=False) as client:  # type: ignore[no-untyped-call]
                client.wait_for_workers(2, timeout=60)
            yield address, scheduler.pid
        finally:
            for proc in (workers, scheduler):
                proc.terminate()
                proc.wait(timeout=30)


def process_cpu(pid: int) -> float:
    """The CPU seconds another process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(points: int, replications: int, cpu: Callable[[], float]) -> tuple[float, float,
                                                                          Any]:
    """The sweep's wall time, the CPU time *cpu* counts over it, and its JSON layout."""
    before = cpu()
    wall, result = sweep(points, replications)
    return wall, cpu() - before, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=50)
    parser.add_argument("--replications", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of the three, alternating; medians are printed")
    parser.add_argument("--memory", action="store_true",
                        help="measure what a sweep keeps at 50 and 400 replications instead")
    args = parser.parse_args()
    if args.memory:
        memory()
        return 0
    import distributed

    import salesproc
    from bench.simulate import cpu_ceiling
    from salesproc.core import execution

    runs = args.points * args.replications
    tasks = len(execution.tasks(runs, 2))
    print(f"sweep: {args.points} points x {args.replications} replications of funnel5, "
          f"30 days each ({runs:,} runs; {tasks} tasks on 2 slots), {args.rounds} round(s)")
    sweep(2, 2)  # the imports, before any clock
    wall: dict[str, list[float]] = {"1 worker": [], "local, 2 workers": [],
                                    "Dask, 2 workers": []}
    cpu: dict[str, list[float]] = {name: [] for name in wall}
    ceiling: list[float] = []
    same = True
    task: dict[str, list[float]] = {"local": [], "Dask": []}

    def own() -> float:  # this process and its reaped children (a local pool's workers)
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    with cluster() as (address, scheduler):
        def everyone(client: Any) -> float:  # this process, the scheduler and the workers
            return own() + process_cpu(scheduler) + float(
                sum(client.run(time.process_time).values()))

        for _ in range(args.rounds):
            w, c, alone = timed(args.points, args.replications, own)
            wall["1 worker"].append(w)
            cpu["1 worker"].append(c)
            with salesproc.executor("local:2") as session:
                task["local"].append(overhead(session))
                before = own()
                w, _, there = timed(args.points, args.replications, own)
            wall["local, 2 workers"].append(w)
            cpu["local, 2 workers"].append(own() - before)  # the workers, once ended
            same = same and there == alone
            with salesproc.executor(f"dask://{address}") as session, \
                    distributed.Client(address, set_as_default=False) as client:  # type: ignore[no-untyped-call]
                sweep(2, 2)  # the workers import salesproc (a long-lived cluster has)
                task["Dask"].append(overhead(session))
                w, c, there = timed(args.points, args.replications,
                                    lambda: everyone(client))
            wall["Dask, 2 workers"].append(w)
            cpu["Dask, 2 workers"].append(c)
            same = same and there == alone
            ceiling.append(1 / (2 * cpu_ceiling()))
    one, one_cpu = statistics.median(wall["1 worker"]), statistics.median(cpu["1 worker"])
    for name in wall:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        said = "" if name == "1 worker" else \
            f"; efficiency {one / (2 * w):.2f}; CPU {c / one_cpu:.2f}x the 1-worker run's"
        print(f"  {name}: {w:.1f} s (CPU {c:.1f} s){said}")
    print(f"  identical results on 1 worker, 2 local and Dask: {'yes' if same else 'NO'}")
    print(f"  this machine's ceiling in the same rounds (a pure-Python loop on 2 "
          f"processes): efficiency {statistics.median(ceiling):.2f}")
    local_task, dask_task = (statistics.median(task[k]) for k in ("local", "Dask"))
    print(f"overhead per task (tasks doing nothing, about {NOTHING_TASKS} on 2 workers): "
          f"local {local_task * 1000:.1f} ms, Dask {dask_task * 1000:.1f} ms; the sweep's "
          f"{tasks} tasks take {one / tasks * 1000:.0f} ms each on 1 worker, so Dask adds "
          f"{dask_task * tasks / one:.1%} of the 1-worker time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
