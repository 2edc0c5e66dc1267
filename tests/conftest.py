"""Shared helpers: run the CLI in-process, find the example and case files."""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner, Result

from salesproc.cli import cli

if TYPE_CHECKING:  # the simulator is imported by the tests that run it, not here
    from salesproc.history.table import History
    from salesproc.prediction.calibration import Calibration
    from salesproc.process.model import Process, Settings
    from salesproc.sim.engine import EventLog, Opening
    from salesproc.sim.metrics import Key

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = sorted((ROOT / "processes").glob("*.yaml"))
CASES = Path(__file__).resolve().parent / "cases"

# pytest-xdist already keeps every core busy: a command's own pool of workers would only
# add its start-up to every test (the tests that are about workers say how many)
os.environ.setdefault("SALESPROC_WORKERS", "1")
# Hypothesis keeps its examples (and caches) in .hypothesis/ of the current folder: here,
# the repository. The tests write only to temporary folders, so it keeps them in one,
# the same for every run (a failing example is tried first the next time)
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY",
                      str(Path(tempfile.gettempdir()) / "salesproc-tests-hypothesis"))

#: Folders of the repository that tools write while the tests run (caches, environments)
UNWATCHED = {".git", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache",
             "node_modules"}

Snapshot = dict[str, tuple[int, int]]


def snapshot(root: Path = ROOT) -> Snapshot:
    """Every file under *root* but in UNWATCHED folders: its size and modification time
    (a stat walk, no reading: cheap enough for every run)."""
    found: Snapshot = {}
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [d for d in subfolders if d not in UNWATCHED]
        # a folder's own time changes with what is in it (__pycache__ too): only its name
        found.update({os.path.relpath(os.path.join(folder, d), root) + os.sep: (0, 0)
                      for d in subfolders})
        for name in files:
            path = os.path.join(folder, name)
            with contextlib.suppress(FileNotFoundError):  # removed while walking
                info = os.lstat(path)
                found[os.path.relpath(path, root)] = (info.st_size, info.st_mtime_ns)
    return found


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    """What was added, changed or removed between two snapshots, one line each."""
    return sorted([f"added {p}" for p in after.keys() - before.keys()]
                  + [f"removed {p}" for p in before.keys() - after.keys()]
                  + [f"changed {p}" for p in before.keys() & after.keys()
                     if before[p] != after[p]])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked slow (seconds each) first, each group in its own order: under
    pytest-xdist a worker left without work takes tests from the end of another's queue,
    so the suite ends on quick tests and the workers end together, not one of them
    running a long test (or two: a worker always keeps the next test) while the other
    waits."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session", autouse=True)
def repository_untouched() -> Iterator[None]:
    """No test writes into the repository (they write to tmp_path): every file is as it
    was when the session began. Under pytest-xdist each worker checks at its own end (a
    file another worker wrote is caught by that worker, and by any that ends later)."""
    before = snapshot()
    yield
    written = changes(before, snapshot())
    assert not written, "the tests wrote into the repository:\n" + "\n".join(written)


def run(*args: str, input: str | None = None) -> Result:
    """Invoke `salesproc ARGS` the way a user would, exceptions not swallowed."""
    runner = CliRunner()
    return runner.invoke(cli, list(args), input=input, catch_exceptions=False)


def source_copy(folder: Path) -> Path:
    """What pip installs from salesproc's clone, copied to *folder* (building writes build/
    and *.egg-info beside the sources, which the tests never write into the repository)."""
    shutil.copytree(ROOT / "salesproc", folder / "salesproc",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, folder / name)
    return folder


def repository_copy(folder: Path, *names: str) -> Path:
    """The repository's files or folders *names* (relative paths) copied to the same
    places under *folder*: a top folder from which what the pages show runs as written,
    writing its out/ there and not into the repository."""
    for name in names:
        source, target = ROOT / name, folder / name
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return folder


def dense_process(path: Path, stages: int, share: float) -> Path:
    """A process of *stages* stages each routed to every other with *share* (and to won
    with 0.05): n (n - 1) + n arrows, what Graphviz lays out slowest; written at *path*."""
    lines = "\n".join(
        f"  - {{id: s{i}, name: Stage {i}, owner: r, work: 0.1, next: "
        f"{{{', '.join(f's{t}: {share}' for t in range(stages) if t != i)}, won: 0.05}}}}"
        for i in range(stages))
    path.write_text("salesproc: 1\nname: Dense\nroles: {r: {title: R, headcount: 50}}\n"
                    f"stages:\n{lines}\nbuyer_types: {{b: {{name: B, share: 1, value: 1}}}}\n"
                    "arrivals: {rate: 1}\n")
    return path


#: The replications made under each_replication_once, by everything a run depends on: the process
#: (its full description, as experiments.experiment.remembered tells processes apart),
#: the seed, the replication, the horizon, the warm-up and the buyer type let in
MADE: dict[tuple[str, int, int, float, float, str | None], dict[Key, float]] = {}
#: The calibrations made under each_calibration_once (pickled), by the SHA-256 of the history and
#: the options pickled: all a calibration depends on
FITTED: dict[bytes, bytes] = {}


@pytest.fixture(autouse=True)
def each_replication_once(request: pytest.FixtureRequest,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test but those marked fresh_runs: a replication is a pure function of what
    MADE keys it by (the library counts on it: experiments.experiment.remembered), so
    each one is run once by the engine in a worker and its figures handed again (a copy)
    to whoever asks for the same, in this test or a later one: the engine computed them
    from the same process, seed and settings. Runs that write an event log or start from
    open deals (forecasts, the fit check) run every time. What the commands and the
    library make of the figures, and print, is all theirs. A test whose point is that
    the engine gives the same figures elsewhere (other workers, an executor) is marked
    fresh_runs: it runs every replication. So too calibrations (each_calibration_once)."""
    if request.node.get_closest_marker("fresh_runs"):
        return
    from salesproc.experiments import experiment

    engine_run = experiment.run_replication

    def once(process: Process, settings: Settings, replication: int,
             event_log: EventLog | None = None, opening: Sequence[Opening] = ()
             ) -> dict[Key, float]:
        if event_log is not None or opening:
            return engine_run(process, settings, replication, event_log, opening)
        key = (repr(process), settings.seed, replication, settings.horizon, settings.warmup,
               settings.only_buyer)
        if key not in MADE:
            MADE[key] = engine_run(process, settings, replication)
        return dict(MADE[key])

    monkeypatch.setattr(experiment, "run_replication", once)
    each_calibration_once(monkeypatch)


def each_calibration_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A calibration (deterministic: its runs take the process's seed) of a history
    calibrated before in the worker, the same to the byte (the walk-through, the pages
    and the tests calibrate the example export again and again; a backtest, each
    origin's): fitted once, and a copy handed to each caller."""
    from salesproc.prediction import backtest, calibration

    fit = calibration.calibrate

    def fit_once(history: History, **options: Any) -> Calibration:
        key = hashlib.sha256(pickle.dumps((history, sorted(options.items())), protocol=5)
                             ).digest()
        if key not in FITTED:
            FITTED[key] = pickle.dumps(fit(history, **options), protocol=5)
        found: Calibration = pickle.loads(FITTED[key])  # a copy: the caller may change it
        return found

    monkeypatch.setattr(calibration, "calibrate", fit_once)
    monkeypatch.setattr(backtest, "calibrate", fit_once)  # imported by name there


@pytest.fixture
def five_step() -> Path:
    return ROOT / "processes" / "five-step.yaml"
