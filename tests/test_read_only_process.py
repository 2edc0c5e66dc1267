"""Every command that changes a process on its way (forecast, calibrate with its rounds and
fit check, backtest, compare --set, sweep) changes it in memory: the process's folder is
byte-for-byte as it was, they work when it is read-only, and the process file is read once
per command, never a temporary variant of it."""

from __future__ import annotations

import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from salesproc.process import variants, yamlio
from tests.conftest import run
from tests.test_backtest import known_export, snapshot


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """The YAML files read, in order, while the system's temporary folder is one of the
    test's own (so anything written there can be looked for)."""
    seen: list[str] = []
    original = yamlio.load_file

    def load_file(path: str) -> yamlio.Document:
        seen.append(str(path))
        return original(path)

    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setattr(yamlio, "load_file", load_file)
    monkeypatch.setattr(variants, "load_file", load_file)
    yield seen


def test_commands_that_change_the_process_leave_its_read_only_folder_as_it_was(
        tmp_path: Path, reads: list[str]) -> None:
    """The process folder made read-only (chmod; as root that does not stop writes, so its
    listing and bytes are compared too): each command succeeds, reads its process file(s)
    once and no other YAML, and no YAML file appears in the temporary folder either."""
    path, export = known_export(tmp_path, days=120)
    folder, out = path.parent, export.parent
    calibrated = out / "calibrated.yaml"
    commands = {
        "calibrate": ["calibrate", str(export), "--process", str(path), "-o", str(calibrated),
                      "--check", "-r", "3", "--seed", "1"],
        "forecast": ["forecast", str(export), "--process", str(path), "--horizon", "14d",
                     "-r", "3", "--seed", "1", "--campaign", "20@2025-05-10"],
        "forecast with the calibrated variant": [
            "forecast", str(export), "--process", str(calibrated), "--horizon", "14d", "-r",
            "3", "--seed", "1", "--format", "json"],
        "backtest": ["backtest", str(export), "--process", str(path), "--from", "2025-03-07",
                     "--to", "2025-03-22", "--every", "15d", "--horizon", "14d", "-r", "3",
                     "--seed", "1"],
        "compare": ["compare", str(path), "--set", "roles.r.headcount=50", "-r", "2",
                    "--horizon", "20"],
        "sweep": ["sweep", str(path), "--set", "roles.r.headcount=10,20,30", "-r", "2",
                  "--horizon", "20"],
    }
    expected = {"forecast with the calibrated variant": [str(calibrated), str(path)]}
    before = snapshot(folder)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    path.chmod(stat.S_IRUSR)
    try:
        for name, args in commands.items():
            reads.clear()
            result = run(*args)
            assert result.exit_code == 0, (name, result.output)
            assert reads == expected.get(name, [str(path)]), name
    finally:
        folder.chmod(stat.S_IRWXU)
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert snapshot(folder) == before
    assert calibrated.read_text().startswith("# Calibrated by salesproc")
    assert not [p for p in (tmp_path / "tmp").rglob("*") if p.suffix in (".yaml", ".yml")]


def test_the_library_reads_the_file_once_for_compare_and_sweep(
        tmp_path: Path, reads: list[str]) -> None:
    """compare(changes=) and sweep read their process file once, and make each variant in
    memory (a mapping of settings or PATH=VALUE text; a Process in place of a path too)."""
    import salesproc

    path, _ = known_export(tmp_path, days=30)
    reads.clear()
    compared = salesproc.compare(path, changes={"roles.r.headcount": 50}, replications=2,
                                 horizon=10)
    assert reads == [str(path)]
    assert compared.variants[0].label == "roles.r.headcount=50"
    assert compared.variants[0].result.process.roles["r"].headcount == 50
    reads.clear()
    swept = salesproc.sweep(path, {"roles.r.headcount": [10, 20]}, replications=2, horizon=10)
    assert reads == [str(path)]
    assert [p.result.process.roles["r"].headcount for p in swept.runs] == [10, 20]
    reads.clear()
    process = salesproc.load(path)
    text = salesproc.compare(process, changes=["roles.r.headcount=50"], replications=2,
                             horizon=10)
    assert reads == [str(path)]  # the load; the change is made in memory
    assert text.variants[0].label == "roles.r.headcount=50"
