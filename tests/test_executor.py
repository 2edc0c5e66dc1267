"""Where the work runs: local workers and a real Dask cluster (a LocalCluster of two worker
processes) give byte-identical JSON for a sweep, a backtest and a forecast; a worker
killed during a sweep changes nothing, and so do local workers killed by the system (a
worker killed under the same task again and again is a kind error); without Dask's
package, --executor dask://... says how to install it, in every command that takes it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import salesproc
from salesproc.core import execution
from salesproc.report import json as report_json
from tests.conftest import ROOT, run
from tests.test_backtest import known_export

#: The cluster's workers are forked from this process, which has threads (the scheduler's
#: loop): Python 3.12 on warns about that, and here no lock is held across the fork
pytestmark = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning")

FIVE = str(ROOT / "processes" / "five-step.yaml")
EXAMPLE = ROOT / "examples" / "five-step-salesforce"
#: A small sweep: three points, four paired replications of a month
SWEEP = ["sweep", FIVE, "--set", "roles.ae.headcount=3..5", "-r", "4", "--horizon", "30d",
         "--warmup", "0", "--format", "json"]
FORECAST = ["forecast", str(EXAMPLE / "Opportunity.csv"),
            str(EXAMPLE / "OpportunityHistory.csv"), "--process", FIVE, "--horizon", "30d",
            "-r", "6", "--seed", "5", "--format", "json"]
PLAN = ["plan", str(ROOT / "examples" / "plans" / "closers.yaml"), "--target",
        str(ROOT / "examples" / "plans" / "closers-2026.yaml"), "-r", "4", "--seed", "1",
        "--format", "json"]


def json_of(*args: str) -> Any:
    out = run(*args)
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def here(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list[str], Any]]:
    """Each case's command and its JSON made in this process (SALESPROC_WORKERS=1 in the
    tests): before the cluster forks its workers, so they start with everything imported."""
    path, export = known_export(tmp_path_factory.mktemp("backtest"), days=150)
    backtest = ["backtest", str(export), "--process", str(path), "--from", "2025-03-07",
                "--to", "2025-03-22", "--every", "15d", "--horizon", "14d", "-r", "3",
                "--seed", "2", "--format", "json"]
    return {name: (args, json_of(*args)) for name, args in
            [("sweep", SWEEP), ("forecast", FORECAST), ("backtest", backtest)]}


@pytest.fixture(scope="module")
def cluster(here: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """A Dask scheduler in this process and two single-threaded worker processes (forked
    from this one once *here* ran, so they start with the simulator, the calibration and
    the forecast imported), and a client of our own to look at it: the address
    --executor takes, and that client."""
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    with dask.config.set({"distributed.worker.multiprocessing-method": "fork"}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=":0", silence_logs=50) as local, \
            distributed.Client(local, set_as_default=False) as client:
        yield str(execution.Place(address=local.scheduler_address)), client


def test_a_sweep_is_the_same_on_one_worker_two_and_a_cluster(
        here: dict[str, Any], cluster: tuple[str, Any]) -> None:
    address, _ = cluster
    args, one = here["sweep"]
    assert len(one["points"]) == 3
    assert json_of(*args, "--executor", "local:2") == one
    assert json_of(*args, "--executor", address) == one
    with salesproc.executor(address):  # the library's way to say it
        there = salesproc.sweep(FIVE, ["roles.ae.headcount=3..5"], replications=4,
                                horizon="30d", warmup=0)
    assert json.loads(report_json.sweep(there)) == one


def test_a_forecast_and_a_backtest_are_the_same_on_a_cluster(
        here: dict[str, Any], cluster: tuple[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The forecast's runs, and the backtest's origins (one task each: calibrated and
    forecast on the workers), give the JSON made in this process alone."""
    address, _ = cluster
    args, alone = here["forecast"]
    assert json_of(*args, "--executor", address) == alone
    args, alone = here["backtest"]
    assert len(alone["origins"]) == 2  # one on each worker, or both on one
    monkeypatch.setenv(execution.VARIABLE, address)  # the environment says it, as well
    assert json_of(*args) == alone


@contextlib.contextmanager
def killing(client: Any, killed: list[tuple[str, int]]) -> Iterator[Callable[[int, int], None]]:
    """A progress callback that, at the first task back, kills (SIGKILL) a worker process
    that is running a task of the sweep, and notes which."""
    def progress(done: int, total: int) -> None:
        if killed:
            return
        pids = client.run(os.getpid)
        busy = [w for w, keys in client.processing().items() if keys]
        assert busy, "no worker had a task to lose"
        killed.append((busy[0], pids[busy[0]]))
        os.kill(pids[busy[0]], signal.SIGKILL)

    yield progress


def test_a_sweep_survives_a_killed_worker(here: dict[str, Any], cluster: tuple[str, Any],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask runs the lost worker's tasks again (they are pure): the same JSON. The sweep
    is 12 tasks of one replication: when the first is back, both workers have more."""
    import salesproc.cli.compare

    address, client = cluster
    args, alone = here["sweep"]
    killed: list[tuple[str, int]] = []
    monkeypatch.setattr(salesproc.cli.compare, "progress_bar", lambda: killing(client, killed))
    assert json_of(*args, "--executor", address) == alone
    assert killed, "no worker was killed"
    assert killed[0][1] not in client.run(os.getpid).values()  # it really is gone


def workers() -> list[Any]:
    """This process's local worker processes (not the cluster's)."""
    import multiprocessing

    return [child for child in multiprocessing.active_children()
            if child.name == execution.WORKER_NAME]


def test_a_sweep_survives_killed_local_workers(here: dict[str, Any],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """When the first task is back, both local workers are killed (SIGKILL, as the
    system's out-of-memory killer does) with more tasks to run: fresh workers run their
    tasks again, and the JSON is the one made in this process alone."""
    import salesproc.cli.compare

    args, alone = here["sweep"]
    killed: list[int] = []

    @contextlib.contextmanager
    def killing() -> Iterator[Callable[[int, int], None]]:
        def progress(done: int, total: int) -> None:
            if not killed:
                assert done < total, "nothing was left to lose"
                for worker in workers():
                    os.kill(worker.pid, signal.SIGKILL)
                    killed.append(worker.pid)
        yield progress

    monkeypatch.setattr(salesproc.cli.compare, "progress_bar", killing)
    assert json_of(*args, "--executor", "local:2") == alone
    assert len(killed) == 2
    assert workers() == []  # and every worker is gone once the command ends


def test_workers_killed_again_and_again_are_a_kind_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every worker killed as soon as it starts (a machine out of memory): each task is
    tried RETRIES + 1 times, then the command says what happened (exit 1), and no worker
    is left behind."""
    import threading

    stop = threading.Event()
    killed: set[int] = set()

    def killer() -> None:
        while not stop.wait(0.001):
            try:
                found = workers()
            except RuntimeError:  # the pool started a worker while the set was read
                continue
            for worker in found:
                if worker.pid not in killed:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(worker.pid, signal.SIGKILL)
                    killed.add(worker.pid)

    thread = threading.Thread(target=killer)
    thread.start()
    try:  # runs of a year: no task ends before its worker is killed
        out = run(*SWEEP[:6], "--horizon", "365d", *SWEEP[8:], "--executor", "local:2")
    finally:
        stop.set()
        thread.join()
    assert out.exit_code == 1, out.output
    assert "a local worker process was killed by SIGKILL while running a task, 3 times " \
        "in a row" in out.stderr
    assert "run with fewer workers" in out.stderr
    assert "Traceback" not in out.output
    assert len(killed) >= execution.RETRIES + 1
    assert workers() == []


def test_a_cluster_restarted_under_a_sweep_is_a_kind_error(
        cluster: tuple[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Restarting the cluster drops every task on it: the command says the cluster
    could not run the work (exit 1), not that salesproc has a bug."""
    import salesproc.cli.compare

    address, client = cluster

    @contextlib.contextmanager
    def restarting() -> Iterator[Callable[[int, int], None]]:
        yield lambda done, total: client.restart() if done == 1 else None

    monkeypatch.setattr(salesproc.cli.compare, "progress_bar", restarting)
    longer = [*SWEEP[:6], "--horizon", "365d", *SWEEP[8:]]  # the others still running
    out = run(*longer, "--executor", address)
    assert out.exit_code == 1, out.output
    assert f"the Dask cluster at {address} could not run the work" in out.stderr
    assert "Traceback" not in out.output


def test_without_dask_the_option_says_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """In every command that takes --executor, before any file is read."""
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    history = [str(EXAMPLE / "Opportunity.csv"), str(EXAMPLE / "OpportunityHistory.csv")]
    for args in [SWEEP, FORECAST, PLAN, ["simulate", FIVE],
                 ["compare", FIVE, "--set", "roles.ae.headcount=3"],
                 ["backtest", *history, "--process", FIVE, "--from", "2026-04-01",
                  "--to", "2026-06-01"]]:
        out = run(*args, "--executor", "dask://127.0.0.1:8786")
        assert out.exit_code == 1, (args[0], out.output)
        assert "needs Dask's distributed package" in out.stderr, args[0]
        assert "pip install 'salesproc[dask]'" in out.stderr
        assert "Traceback" not in out.output


def test_bad_places_are_kind_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad --executor is a usage error (exit 2) that says what to write; a bad
    SALESPROC_EXECUTOR, a kind error (exit 1) naming the variable; --workers and local:N
    must agree; a scheduler nobody runs is said to be unreachable (exit 1)."""
    bad = run(*SWEEP, "--executor", "dask://nowhere")
    assert bad.exit_code == 2 and "'dask://nowhere' is no place to run" in bad.output
    assert "dask://HOST:PORT" in bad.output
    assert run(*SWEEP, "--executor", "local:0").exit_code == 2
    both = run(*SWEEP, "--executor", "local:3", "--workers", "2")
    assert both.exit_code == 2 and "disagree" in both.output
    monkeypatch.setenv(execution.VARIABLE, "cluster")
    env = run(*SWEEP)
    assert env.exit_code == 1 and "SALESPROC_EXECUTOR='cluster'" in env.stderr
    monkeypatch.delenv(execution.VARIABLE)
    monkeypatch.setattr(execution, "CONNECT_TIMEOUT", 0.2)
    with _free_port() as port:
        gone = run(*SWEEP, "--executor", f"dask://127.0.0.1:{port}")
    assert gone.exit_code == 1, gone.output
    assert f"cannot reach the Dask scheduler at dask://127.0.0.1:{port}" in gone.stderr
    assert "Traceback" not in gone.output


@contextlib.contextmanager
def _free_port() -> Iterator[int]:
    """A local port nothing listens on (held bound, not listening, while in use)."""
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


def test_tasks_are_batched_for_the_slots() -> None:
    """16 tasks a slot, none empty: 10,000 replications on 2 slots are one of one
    replication for each slot (the first progress comes soon), then 32 tasks of 313 (the
    last shorter); a handful go one a task; every item in exactly one task."""
    assert execution.batch_size(10_000, 2) == 313
    cut = execution.tasks(10_000, 2)
    assert cut[:3] == [(0, 1), (1, 2), (2, 315)] and len(cut) == 34
    assert [k for start, stop in cut for k in range(start, stop)] == list(range(10_000))
    assert execution.batch_size(5, 2) == 1
    assert execution.tasks(5, 2) == [(k, k + 1) for k in range(5)]
    assert execution.place("local:4") == execution.Place(workers=4)
    assert str(execution.place(" dask://sched.example:8786 ")) == "dask://sched.example:8786"


def test_runs_are_packed_as_they_come() -> None:
    """A result keeps each run's figures packed by figure (9 bytes a figure a run, not a
    dict of a few hundred figures a run): runs put in any order read back as the dicts
    they were, their figures named in the order the dicts, read in order, name them;
    a figure a run does not have reads 0, as figure() says."""
    import pickle
    import tracemalloc

    from salesproc.experiments.results import Runs, figure
    from salesproc.sim.metrics import Key

    made = salesproc.simulate(FIVE, replications=3, horizon="30d", warmup=0)
    runs = [dict(r) for r in made.replications]
    runs[1][Key("lost", "demo", "a reason only run 2 has")] = 1.0
    del runs[0][Key("all", "", "won")]  # as if run 1 won nothing
    packed = Runs(3)
    for index in (2, 0, 1):
        packed.put(index, runs[index])

    def shown(some: Any) -> list[dict[Key, str]]:  # NaN (a cycle without a win) is NaN
        return [{k: repr(v) for k, v in r.items()} for r in some]

    assert shown(packed) == shown(runs) and shown(packed[1:]) == shown(runs[1:])
    named = list(dict.fromkeys(k for r in runs for k in r))
    assert packed.figure_keys() == named
    for key in (Key("all", "", "won"), Key("lost", "demo", "a reason only run 2 has")):
        assert packed.column(key) == [figure(r, key) for r in runs]
    assert shown(pickle.loads(pickle.dumps(packed))) == shown(runs)
    # runs naming the same figures in the same order: written column by column once a
    # run as early named them so (run 2 after run 1), in full otherwise (run 0 after 1)
    alike = [{k: v + i for k, v in made.replications[0].items()} for i in range(3)]
    by_columns = Runs(3)
    for index in (1, 2, 0):
        by_columns.put(index, alike[index])
    assert shown(by_columns) == shown(alike)
    assert by_columns.figure_keys() == list(alike[0])
    count = 200
    tracemalloc.start()
    try:
        many = Runs(count)
        for index in range(count):
            many.put(index, runs[index % 3])
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < (9 * count + 1000) * len(named), held  # the dicts alone: 25 KB a run
    assert shown([many[count - 1]]) == shown([runs[(count - 1) % 3]])
