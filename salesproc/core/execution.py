"""Where a command's work runs: in this process, on a pool of local worker processes, or
on a Dask distributed cluster, all behind the standard :class:`concurrent.futures.Executor`.

Work is a pure function applied to many items (replications, a backtest's origins) with
one value they share (the processes and settings): :meth:`Session.run` batches the items
into tasks large enough to pay for their scheduling, submits the tasks, and hands each
item's result to the caller as its task finishes, in whatever order, for the caller to
put in its place. So the answers never depend on where, or in which order, the work ran:
1 worker, N local workers and a cluster give the same figures to the byte. A task is
pure and idempotent (no files, no state kept): a task run twice, as Dask does with the
tasks of a worker that was lost and the local pool with those of a worker the system
killed, gives the same results.

A session is opened once for a command (:func:`session`) and found again by everything
the command calls (:func:`spread`), so a command connects to a cluster once. Local
workers are a pool for each run, started with what the run shares, so that a task is
two numbers. If anything stops the loop (an error, Ctrl-C, a signal turned into an
exception), the outstanding tasks are cancelled and local workers are terminated at
once, not left to finish the queue.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import contextvars
import math
import multiprocessing
import multiprocessing.connection as mp_connection
import os
import pickle
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.pool import ExceptionWithTraceback  # type: ignore[attr-defined]
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


#: The session open around the work of this thread, if any (none inside a task)
_current: contextvars.ContextVar[Session | None] = contextvars.ContextVar(
    "salesproc_session", default=None)


def _loads(blob: bytes) -> Any:
    """The shared value on a Dask worker: a task of its own, which the scheduler can run
    again if the worker holding its result is lost."""
    return pickle.loads(blob)


def _task(work: Callable[[Any, Any], Any], shared: Any, items: Sequence[Any]) -> list[Any]:
    """One task: *work* on each of its *items*, with no session open (work that would
    spread further runs here, one item after another)."""
    outer = _current.set(None)
    try:
        return [work(shared, item) for item in items]
    finally:
        _current.reset(outer)


def _task_pickled(work: Callable[[Any, Any], Any], shared: Any, items: Sequence[Any]
                  ) -> bytes:
    """A Dask task: :func:`_task`'s results pickled as one, as the local pool sends them.
    Dask would pickle a list of results one by one, each naming again what the others
    share (a run's few hundred figure names: a sweep's client spent seconds making them)."""
    return pickle.dumps(_task(work, shared, items), pickle.HIGHEST_PROTOCOL)


#: A local worker's run: the work, the value its items share, and the items
_run: tuple[Callable[[Any, Any], Any], Any, Sequence[Any]] | None = None


def _install(work: Callable[[Any, Any], Any], shared: Any, items: Sequence[Any]) -> None:
    """A local worker of a run: it leaves Ctrl-C to its parent (which ends it), dies on
    SIGTERM, opens no session of its own, and keeps the run, handed over once when it
    starts (inherited with fork), so that a task is two numbers, not the processes sent
    again with every task."""
    global _run
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _current.set(None)
    _run = (work, shared, items)


def _slice(start: int, stop: int) -> list[Any]:
    """A local worker's task: items *start* to *stop* of its run."""
    assert _run is not None
    work, shared, items = _run
    return _task(work, shared, items[start:stop])


def _start_method() -> str:
    """fork starts workers at once with the model already in memory; from Python 3.12 on
    it warns when the parent has threads (numpy's BLAS pool), so forkserver is used there."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and sys.version_info < (3, 12):
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


#: The name of a local worker process (multiprocessing.active_children() shows it)
WORKER_NAME = "salesproc-worker"

#: How many times a task is sent again when the local worker running it dies under it
RETRIES = 2


class WorkerLostError(SalesprocError):
    """A local worker process died under the same task RETRIES + 1 times (killed by the
    system when memory runs out, or by hand): the run cannot finish."""

    def __init__(self, exitcode: int | None, tries: int) -> None:
        how = (f"was killed by {signal.Signals(-exitcode).name}" if exitcode is not None
               and -exitcode in signal.valid_signals() else f"ended with status {exitcode}")
        super().__init__(f"a local worker process {how} while running a task, {tries} "
                         "times in a row: the run cannot finish",
                         hint="the system kills a process when memory runs out (its log, "
                         "`dmesg`, says so): run with fewer workers, fewer replications "
                         "or a shorter horizon")
        self.exitcode, self.tries = exitcode, tries

    def __reduce__(self) -> tuple[type, tuple[int | None, int]]:  # type: ignore[override]
        return (self.__class__, (self.exitcode, self.tries))


@dataclass
class _Job:
    """A task waiting for, or running on, a local worker, and how often it was lost."""

    future: cf.Future[Any]
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    tries: int = 0
    running: bool = False  # its future was set running (at its first sending)


@dataclass
class _Worker:
    """A local worker process, this process's end of its pipe, and its task if any."""

    process: Any  # a multiprocessing Process of the pool's start method
    conn: mp_connection.Connection
    job: _Job | None = None
    gone: bool = False  # its pipe broke: it is ending, and is sent nothing more


def _serve(conn: mp_connection.Connection, inherited: list[int],
           initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
    """A local worker: with the *inherited* descriptors closed (the parent's ends of
    other pipes, copied by fork), *initializer*(*initargs*), then each task sent on *conn*
    run and its result (or error) sent back, until the pipe closes or says stop (None):
    when the parent ends, however it ends, so does the worker, once its task is done."""
    for descriptor in inherited:
        with contextlib.suppress(OSError):
            os.close(descriptor)
    initializer(*initargs)
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        fn, args, kwargs = message
        try:
            reply = (True, fn(*args, **kwargs))
        except Exception as exc:  # raised in the parent, with this traceback as its cause
            reply = (False, ExceptionWithTraceback(exc, exc.__traceback__))
        try:
            conn.send(reply)
        except OSError:  # the parent is gone
            return
        except Exception as exc:  # a result or an error that cannot be pickled
            conn.send((False, RuntimeError(f"a task's result could not be sent back: "
                                           f"{type(exc).__name__}: {exc}")))


class LocalPool(cf.Executor):
    """Local worker processes as a concurrent.futures Executor, each started with
    *initializer*(*initargs*) and sent one task at a time over a pipe of its own.

    A thread of this process hands out the tasks and watches both each worker's pipe and
    the worker itself: a worker that dies under its task (killed by the system when
    memory runs out, or by hand) is replaced by a fresh one and the task is sent again,
    up to RETRIES times (a task is pure, so it gives the same results), then the task's
    future fails with a :class:`WorkerLostError` that says how the worker ended. With no
    queue or lock shared between workers, a worker killed at any moment cannot block
    the others, and :meth:`terminate` stops every worker at once, whatever it was doing
    (a multiprocessing Pool or a ProcessPoolExecutor whose worker dies half-way through
    reading a task or sending a result waits for the rest for ever)."""

    def __init__(self, workers: int, initializer: Callable[..., None],
                 initargs: tuple[Any, ...]) -> None:
        self._context: Any = multiprocessing.get_context(_start_method())
        self._start = (initializer, initargs)
        self._queue: collections.deque[_Job] = collections.deque()
        self._lock = threading.Lock()
        self._stopping = False
        self._broken: BaseException | None = None
        self._wake_reader, self._wake = self._context.Pipe(duplex=False)
        self._ends: set[mp_connection.Connection] = set()  # this process's pipe ends
        self._workers: list[_Worker] = []
        for _ in range(workers):
            self._workers.append(self._worker())
        self._thread = threading.Thread(target=self._dispatch, name="salesproc-pool",
                                        daemon=True)
        self._thread.start()

    def _worker(self) -> _Worker:
        """A fresh worker process, started with the run; idle. A forked worker closes its
        copies of this process's ends of the pipes (its own and the other workers'), so
        that each pipe ends with this process: a worker whose parent was killed stops
        once its task is done."""
        mine, theirs = self._context.Pipe()
        inherited = [end.fileno() for end in (mine, *self._ends, self._wake,
                                              self._wake_reader)
                     ] if self._context.get_start_method() == "fork" else []
        process = self._context.Process(target=_serve, args=(theirs, inherited, *self._start),
                                        name=WORKER_NAME, daemon=True)
        process.start()
        theirs.close()  # so that the worker's end closes with the worker
        self._ends.add(mine)
        return _Worker(process, mine)

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> cf.Future[R]:
        future: cf.Future[R] = cf.Future()
        with self._lock:
            if self._stopping:
                raise RuntimeError("cannot submit to a pool that was shut down")
            if self._broken is not None:
                future.set_exception(self._broken)
                return future
            self._queue.append(_Job(future, fn, args, kwargs))
        self._wake.send_bytes(b"")
        return future

    def _dispatch(self) -> None:
        """The thread that hands out tasks and takes back their results, until stopped."""
        try:
            while True:
                with self._lock:
                    if self._stopping:
                        return
                    self._hand_out()
                busy = [w for w in self._workers if w.job is not None]
                ready = set(mp_connection.wait(
                    [self._wake_reader, *(w.conn for w in busy),
                     *(w.process.sentinel for w in self._workers)]))
                if self._wake_reader in ready:
                    while self._wake_reader.poll():
                        self._wake_reader.recv_bytes()
                for index, worker in enumerate(self._workers):
                    if worker.conn in ready and worker.job is not None:
                        self._take(worker)
                    if worker.process.sentinel in ready:
                        self._workers[index] = self._replace(worker)
        except BaseException as exc:  # no future may wait for a thread that has ended
            failed = RuntimeError(f"the local worker pool failed: {type(exc).__name__}: "
                                  f"{exc}")  # not an OSError: no closed output to hide it
            failed.__cause__ = exc
            with self._lock:
                self._broken = failed
                jobs = [w.job for w in self._workers if w.job] + list(self._queue)
                self._queue.clear()
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(failed)

    def _hand_out(self) -> None:
        """Send queued tasks to idle workers (skipping those cancelled); a worker whose
        pipe broke (it was killed idle) keeps none: its sentinel soon says it ended."""
        for worker in self._workers:
            while worker.job is None and not worker.gone and self._queue:
                job = self._queue.popleft()
                if not job.running:
                    if not job.future.set_running_or_notify_cancel():
                        continue  # cancelled
                    job.running = True
                try:
                    worker.conn.send((job.fn, job.args, job.kwargs))
                except OSError:
                    worker.gone = True
                    self._queue.appendleft(job)
                else:
                    worker.job = job

    def _take(self, worker: _Worker) -> None:
        """The result of the worker's task, if it sent one whole (else it died sending)."""
        job = worker.job
        assert job is not None
        try:
            ok, value = worker.conn.recv()
        except (EOFError, OSError):
            return  # the worker ended half-way: its sentinel says so, and it is replaced
        worker.job = None
        if ok:
            job.future.set_result(value)
        else:
            job.future.set_exception(value)

    def _replace(self, worker: _Worker) -> _Worker:
        """A fresh worker in place of one that ended, and its task sent again (or failed,
        once it was lost RETRIES + 1 times)."""
        worker.process.join()
        worker.conn.close()
        self._ends.discard(worker.conn)
        job = worker.job
        if job is not None:
            job.tries += 1
            if job.tries > RETRIES:
                job.future.set_exception(WorkerLostError(worker.process.exitcode, job.tries))
            else:
                with self._lock:
                    self._queue.appendleft(job)
        return self._worker()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """:meth:`terminate`: the workers keep nothing worth waiting for."""
        self.terminate()

    def terminate(self) -> None:
        """Stop every worker now, and wait until each has ended; queued tasks are
        cancelled."""
        with self._lock:
            self._stopping = True
            queued = list(self._queue)
            self._queue.clear()
        self._wake.send_bytes(b"")
        self._thread.join()
        for worker in self._workers:  # they keep nothing: SIGKILL loses nothing
            if worker.process.exitcode is None:
                worker.process.kill()
        for worker in self._workers:
            worker.process.join()
            worker.conn.close()
            if worker.job is not None:
                queued.append(worker.job)
        for job in queued:  # a task sent before (then lost) is running: it cannot cancel
            if not job.future.cancel() and not job.future.done():
                job.future.set_exception(cf.CancelledError())
        self._wake.close()
        self._wake_reader.close()


def batch_size(items: int, slots: int) -> int:
    """Items in a task: TASKS_PER_SLOT tasks for each slot, none empty."""
    return max(1, math.ceil(items / (slots * TASKS_PER_SLOT)))


def tasks(items: int, slots: int) -> list[tuple[int, int]]:
    """The (start, stop) of each task: first one item for each slot, so that the first
    results (and progress) come back after one item's time, not a batch's; then batches
    of batch_size."""
    size = batch_size(items, slots)
    first = min(items, slots) if size > 1 else 0
    return [(k, k + 1) for k in range(first)] + [
        (start, min(start + size, items)) for start in range(first, items, size)]


class Session:
    """An open place to run work: this process (one worker, or inside a task), local
    processes (a pool for each run, started with what the run shares), or a connection
    to a Dask scheduler (made when the session opens, so an unreachable one is said
    before any work)."""

    def __init__(self, where: Place, workers: int) -> None:
        self.where = where
        self._workers = where.workers or workers
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
        cut = tasks(len(items), self.slots)
        if self._client is None:
            self._local(work, shared, items, cut, take, progress)
            return
        # the shared value is a task of its own: a lost worker's copy is made again
        handle = self._client.submit(_loads, pickle.dumps(shared, pickle.HIGHEST_PROTOCOL),
                                     pure=False)
        executor = self._executor
        assert executor is not None
        try:
            self._collect(lambda start, stop: executor.submit(_task_pickled, work, handle,
                                                              items[start:stop]),
                          cut, len(items), take, progress)
        finally:
            self._client.cancel([handle])

    def _local(self, work: Callable[[S, T], R], shared: S, items: Sequence[T],
               cut: list[tuple[int, int]], take: Callable[[int, R], None],
               progress: Callable[[int, int], None] | None) -> None:
        """The run on a pool of its own: stopped at once if anything stops the loop (an
        error, Ctrl-C, a signal turned into an exception), not left to finish the queue."""
        pool = LocalPool(min(self._workers, len(cut)), _install, (work, shared, items))
        try:
            self._collect(lambda start, stop: pool.submit(_slice, start, stop),
                          cut, len(items), take, progress)
        finally:
            pool.terminate()

    def _collect(self, submit: Callable[[int, int], cf.Future[Any]],
                 cut: list[tuple[int, int]], count: int, take: Callable[[int, R], None],
                 progress: Callable[[int, int], None] | None) -> None:
        """Submit a task for each (start, stop) of *cut* (of *count* items), and hand each
        result on as its task finishes; cancel those outstanding if anything stops the
        loop."""
        pending = {submit(start, stop): start for start, stop in cut}
        try:
            done = 0
            for future in cf.as_completed(list(pending)):
                start = pending.pop(future)
                results = self._result(future)
                for offset, result in enumerate(results):
                    take(start + offset, result)
                done += len(results)
                if progress:
                    progress(done, count)
        except BaseException:
            for future in pending:
                future.cancel()
            raise

    def _result(self, future: cf.Future[Any]) -> list[Any]:
        """A task's results; a cluster that failed the task (it lost the workers running
        it again and again, or the scheduler went away) raises a SalesprocError that says
        so: it is no bug of salesproc's."""
        try:
            results = future.result()  # a Dask task's come pickled (_task_pickled)
            found: list[Any] = pickle.loads(results) if isinstance(results, bytes) else results
            return found
        except Exception as exc:
            if self._client is None or not (isinstance(exc, cf.CancelledError | OSError)
                                             or type(exc).__name__ in CLUSTER_FAILURES):
                raise
            raise SalesprocError(f"the Dask cluster at {self.where} could not run the work: "
                                 f"{type(exc).__name__}: {exc}", hint="its scheduler's and "
                                 "workers' logs say why; run the command again once they "
                                 "are up") from None

    def close(self) -> None:
        """Close the connection to the cluster, if any."""
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
