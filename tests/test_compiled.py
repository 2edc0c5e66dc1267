"""The simulation kernel compiled (mypyc, by setup.py) gives exactly what its sources give
as plain Python, and an extension module older than its source is never used."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from salesproc.sim import compiled, scheduler
from tests.conftest import PROCESSES, ROOT, run


def figures() -> str:
    """A digest of every figure and event log of short runs of the examples, five-step
    also with a limit on open deals and with deals already open (exits decided, delays
    given by age): every kind of event and wait the engine has. (Run here compiled, and
    by a child process from the sources.)"""
    from salesproc import load
    from salesproc.sim.compile import LOST_INDEX, WON_INDEX
    from salesproc.sim.engine import Engine, Opening

    five = ROOT / "processes" / "five-step.yaml"
    runs = [(load(path), ()) for path in PROCESSES]
    runs.append((load(five, ["roles.ae.max_deals=2"]), ()))
    base = load(five)
    buyer = next(iter(base.buyer_types))
    first, second = list(base.buyer_types[buyer].stages)[:2]
    runs.append((base, (Opening(buyer, first, 3.0, 5.0, 1000.0),
                        Opening(buyer, second, 1.0, 9.0, 2000.0,
                                exits=((2.5, WON_INDEX), (4.0, LOST_INDEX))),
                        Opening(buyer, second, 0.0, 2.0, 500.0, remaining=(1.5, 6.0)))))
    sha = hashlib.sha256()
    for process, opening in runs:
        log: list[tuple[object, ...]] = []
        out = Engine(process, seed=3, replication=1, horizon=120.0, warmup=10.0,
                     event_log=log.append, opening=opening).run()
        sha.update(repr((sorted(out.items()), log)).encode())
    return sha.hexdigest()


@pytest.mark.skipif(not scheduler.COMPILED,
                    reason="the simulation kernel is not compiled here (pip install -e .)")
def test_the_compiled_kernel_gives_what_its_sources_give() -> None:
    plain = subprocess.run(
        [sys.executable, "-c", "from tests.test_compiled import figures; print(figures())"],
        cwd=ROOT, capture_output=True, text=True, check=True,
        env={**os.environ, "SALESPROC_PLAIN": "1", "PYTHONPATH": str(ROOT)})
    assert plain.stdout.strip() == figures()


def test_extensions_not_all_there_or_from_other_sources_are_not_used(
        tmp_path: Path) -> None:
    for name in compiled.KERNEL:
        shutil.copy(compiled.FOLDER / f"{name}.py", tmp_path)
    assert compiled.stale_reason(tmp_path) is None  # never compiled: the sources run
    (tmp_path / f"engine{EXTENSION_SUFFIXES[0]}").write_bytes(b"")
    assert compiled.stale_reason(tmp_path) == "only some of its modules are compiled"
    before = compiled.digest(tmp_path)
    with (tmp_path / "pool.py").open("a") as pool:
        pool.write("\n")
    assert compiled.digest(tmp_path) != before


def test_the_command_says_when_the_compiled_kernel_is_not_used(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiled, "NOTE", "the compiled simulation kernel is not used: x")
    said = run("validate", str(PROCESSES[0]))
    assert said.exit_code == 0
    assert "warning: the compiled simulation kernel is not used: x" in said.stderr
    monkeypatch.setattr(compiled, "NOTE", None)
    assert "compiled" not in run("validate", str(PROCESSES[0])).stderr
