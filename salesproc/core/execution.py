"""Where a command's work runs: in this process, on a pool of local worker processes, or
on a Dask distributed cluster, all behind the standard :class:`concurrent.futures.Executor`.

Work is a pure function applied to many items (replications, a backtest's origins) with
one value they share (the processes and settings): :meth:`Session.run` batches the items
into tasks large enough to pay for their scheduling, submits the tasks, and hands each
item's result to the caller as its task finishes, in whatever order, for the caller to
put in its place. So the answers never depend on where, or in which order, the work ran:
1 worker, N local workers and a cluster give the same figures to the byte. A task is
pure and idempotent (no files, no state kept but a cache of the shared value): a task run
twice, as Dask does with the tasks of a worker that was lost, gives the same results.

A session is opened once for a command (:func:`session`) and found again by everything
the command calls (:func:`spread`): a forecast's many runs and a backtest's origins share
one pool, or one connection to the cluster. If anything stops the loop (an error, Ctrl-C,
a signal turned into an exception), the outstanding tasks are cancelled and local workers
are terminated at once, not left to finish the queue.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import contextvars
import hashlib
import math
import multiprocessing
import pickle
import re
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from salesproc.core.defaults import MAX_WORKERS
from salesproc.core.errors import SalesprocError, SettingsError, ToolMissingError

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

#: The environment variable that says where commands run their work, as --executor does.
VARIABLE = "SALESPROC_EXECUTOR"

#: How to install what a Dask cluster needs.
DASK_HINT = "pip install 'salesproc[dask]'"

#: Tasks for each worker slot: enough that the slots end within a task's length of each
#: other (1/32 of the run on average), few enough that scheduling stays a small part.
TASKS_PER_SLOT = 16

#: Seconds to wait for a Dask scheduler to answer before saying it cannot be reached.
CONNECT_TIMEOUT = 10

#: Dask's errors for a task the cluster could not run: the workers running it were lost
#: more often than it allows (a task that kills its worker), or the task was dropped
CLUSTER_FAILURES = frozenset({"KilledWorker", "FutureCancelledError", "CancelledError"})

#: Shared values a worker process keeps unpickled (a forecast's runs share a handful).
KEPT = 4


@dataclass(frozen=True)
class Place:
    """Where work runs: local worker processes (*workers* of them; None: as many as the
    caller asks for), or the Dask scheduler at *address* (``tcp://HOST:PORT``)."""

    address: str | None = None
    workers: int | None = None

    def __str__(self) -> str:
        if self.address is not None:
            return "dask://" + self.address.removeprefix("tcp://")
        return "local" if self.workers is None else f"local:{self.workers}"


LOCAL = Place()

_DASK = re.compile(r"dask://(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>\d{1,5})")


def place(text: str) -> Place:
    """*text* read as ``local``, ``local:N`` or ``dask://HOST:PORT``; a
    :class:`SettingsError` of the setting 'executor' says what to write otherwise."""
    said = text.strip()
    form = "give local, local:N (N worker processes) or dask://HOST:PORT (a Dask scheduler)"
    if said == "local":
        return LOCAL
    if said.startswith("local:"):
        count = said.removeprefix("local:")
        if not count.isdigit() or not 1 <= int(count) <= MAX_WORKERS:
            raise SettingsError("executor", f"'{said}' asks for {count!r} workers: give "
                                f"a whole number from 1 to {MAX_WORKERS}", hint=form)
        return Place(workers=int(count))
    found = _DASK.fullmatch(said)
    if found is None or not 1 <= int(found["port"]) <= 65535:
        raise SettingsError("executor", f"'{said}' is no place to run", hint=form)
    return Place(address=f"tcp://{found['host']}:{int(found['port'])}")


@dataclass(frozen=True)
class Shared:
    """A value every task of a run needs, pickled once: a local worker unpickles it once
    and keeps it (by its *token*, the blob's digest) for the run's later tasks."""

    token: str
    blob: bytes

    @classmethod
    def of(cls, value: Any) -> Shared:
        blob = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        return cls(hashlib.sha256(blob).hexdigest(), blob)


_kept: dict[str, Any] = {}
#: The session open around the work of this thread, if any (none inside a task)
_current: contextvars.ContextVar[Session | None] = contextvars.ContextVar(
    "salesproc_session", default=None)


def _unshared(value: Any) -> Any:
    """The shared value a task was given: unpickled once per worker process."""
    if not isinstance(value, Shared):
        return value
    if value.token not in _kept:
        if len(_kept) >= KEPT:
            del _kept[next(iter(_kept))]
        _kept[value.token] = pickle.loads(value.blob)
    return _kept[value.token]


def _loads(blob: bytes) -> Any:
    """The shared value on a Dask worker: a task of its own, which the scheduler can run
    again if the worker holding its result is lost."""
    return pickle.loads(blob)


def _task(work: Callable[[Any, Any], Any], shared: Any, items: Sequence[Any]) -> list[Any]:
    """One task: *work* on each of its *items*, with no session open (work that would
    spread further runs here, one item after another)."""
    outer = _current.set(None)
    try:
        value = _unshared(shared)
        return [work(value, item) for item in items]
    finally:
        _current.reset(outer)


def _start_method() -> str:
    """fork starts workers at once with the model already in memory; from Python 3.12 on
    it warns when the parent has threads (numpy's BLAS pool), so forkserver is used there."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and sys.version_info < (3, 12):
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _init_worker() -> None:
    """A local worker leaves Ctrl-C to its parent (which terminates it), dies on SIGTERM,
    and opens no session of its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _current.set(None)


class LocalPool(cf.Executor):
    """Local worker processes as a concurrent.futures Executor: a multiprocessing pool,
    whose terminate() stops its workers at once and reliably (ProcessPoolExecutor's
    workers, terminated while a result is half sent, leave its manager thread waiting
    for the rest for ever, and the interpreter with it)."""

    def __init__(self, workers: int) -> None:
        context = multiprocessing.get_context(_start_method())
        self._pool = context.Pool(workers, initializer=_init_worker)

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> cf.Future[R]:
        future: cf.Future[R] = cf.Future()

        def done(result: R) -> None:
            if future.set_running_or_notify_cancel():
                future.set_result(result)

        def failed(error: BaseException) -> None:
            if future.set_running_or_notify_cancel():
                future.set_exception(error)

        self._pool.apply_async(fn, args, kwargs, callback=done, error_callback=failed)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.close()
        if wait:
            self._pool.join()

    def terminate(self) -> None:
        """Stop every worker now, and wait until each has ended."""
        self._pool.terminate()
        self._pool.join()


def batch_size(items: int, slots: int) -> int:
    """Items in a task: TASKS_PER_SLOT tasks for each slot, none empty."""
    return max(1, math.ceil(items / (slots * TASKS_PER_SLOT)))


class Session:
    """An open place to run work: this process (one worker, or inside a task), a pool of
    local processes (started at its first run), or a connection to a Dask scheduler
    (made when the session opens, so an unreachable one is said before any work)."""

    def __init__(self, where: Place, workers: int) -> None:
        self.where = where
        self._workers = where.workers or workers
        self._pool: LocalPool | None = None
        self._client: Any = None
        self._executor: cf.Executor | None = None
        if where.address is not None:
            self._client = _connect(where.address)
            self._executor = self._client.get_executor(pure=False)

    @property
    def slots(self) -> int:
        """How many tasks run at once: the local workers, or the cluster's threads."""
        if self._client is not None:
            threads: int = sum(self._client.nthreads().values())
            return max(1, threads)
        return self._workers

    @property
    def inline(self) -> bool:
        """Whether work runs in this process: a local session of one worker."""
        return self._client is None and self._workers == 1

    def _submitter(self) -> cf.Executor:
        if self._executor is None:
            self._pool = LocalPool(self._workers)
            self._executor = self._pool
        return self._executor

    def _share(self, value: Any) -> Any:
        shared = Shared.of(value)
        if self._client is None:
            return shared
        return self._client.submit(_loads, shared.blob, pure=False)

    def run(self, work: Callable[[S, T], R], shared: S, items: Sequence[T],
            take: Callable[[int, R], None], *,
            progress: Callable[[int, int], None] | None = None) -> None:
        """``work(shared, item)`` for each of *items*, each result handed to ``take(index,
        result)`` as its task comes back (the order varies; the caller puts each in its
        place), and ``progress(items done, items in all)`` after each task. *work* is a
        module-level function (pickled by name), pure: its result depends on its
        arguments alone. In this process when the session is one local worker, or for
        one item (the session stays open to the work inside it: a backtest of one
        origin spreads that origin's runs)."""
        if self.inline or len(items) == 1:
            for index, item in enumerate(items):
                take(index, work(shared, item))
                if progress:
                    progress(index + 1, len(items))
            return
        size = batch_size(len(items), self.slots)
        executor = self._submitter()
        handle = self._share(shared)
        pending: dict[cf.Future[list[R]], int] = {}
        try:
            for start in range(0, len(items), size):
                pending[executor.submit(_task, work, handle, items[start:start + size])] = start
            done = 0
            for future in cf.as_completed(list(pending)):
                start = pending.pop(future)
                results = self._result(future)
                for offset, result in enumerate(results):
                    take(start + offset, result)
                done += len(results)
                if progress:
                    progress(done, len(items))
        except BaseException:
            for future in pending:
                future.cancel()
            self._stop()
            raise
        finally:
            if self._client is not None:
                self._client.cancel([handle])

    def _result(self, future: cf.Future[list[R]]) -> list[R]:
        """A task's results; a cluster that failed the task (it lost the workers running
        it again and again, or the scheduler went away) raises a SalesprocError that says
        so: it is no bug of salesproc's."""
        try:
            return future.result()
        except Exception as exc:
            if self._client is None or not (isinstance(exc, cf.CancelledError | OSError)
                                             or type(exc).__name__ in CLUSTER_FAILURES):
                raise
            raise SalesprocError(f"the Dask cluster at {self.where} could not run the work: "
                                 f"{type(exc).__name__}: {exc}", hint="its scheduler's and "
                                 "workers' logs say why; run the command again once they "
                                 "are up") from None

    def _stop(self) -> None:
        """After a run was stopped: local workers terminated at once (a new pool is
        started by the next run); a cluster's tasks are cancelled by their futures."""
        pool, self._pool = self._pool, None
        if pool is not None:
            self._executor = None
            pool.terminate()

    def close(self) -> None:
        """Let the local workers finish and end; close the connection to the cluster."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = self._executor = None
        if self._client is not None:
            client, self._client, self._executor = self._client, None, None
            client.close()


def distributed() -> Any:
    """Dask's distributed package, or a ToolMissingError that says how to install it."""
    try:
        import distributed as module
    except ImportError:
        raise ToolMissingError("running on a Dask cluster needs Dask's distributed "
                               "package, which is not installed", hint=DASK_HINT) from None
    return module


def _connect(address: str) -> Any:
    """A Dask client of the scheduler at *address*; errors that say how to get one."""
    shown = str(Place(address=address))
    try:
        return distributed().Client(address, timeout=CONNECT_TIMEOUT,
                                  set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise SalesprocError(f"cannot reach the Dask scheduler at {shown}: {exc}",
                             hint="start one with `dask scheduler` and its workers with "
                             "`dask worker HOST:PORT`, or check the address") from None


def current() -> Session | None:
    """The session a caller opened around this work, if any."""
    return _current.get()


@contextlib.contextmanager
def session(where: Place = LOCAL, workers: int = 1) -> Iterator[Session]:
    """Open a session at *where* (local: *workers* processes unless it says how many) for
    everything called inside the block; closed at its end, however it ends."""
    opened = Session(where, workers)
    token = _current.set(opened)
    try:
        yield opened
    except BaseException:
        opened._stop()
        raise
    finally:
        _current.reset(token)
        opened.close()


@contextlib.contextmanager
def spread(workers: int) -> Iterator[Session]:
    """The session open around this call; else a local one of *workers* for this call
    alone (a library caller's ``workers=``; 1 runs everything in this process)."""
    found = current()
    if found is not None:
        yield found
        return
    with session(LOCAL, workers) as opened:
        yield opened
