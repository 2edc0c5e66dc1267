"""Every broken export in tests/cases/exports/ gives the located message its expect.txt
names (file:row, level and code), through the CLI, and never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from salesproc.history.notes import CODES
from tests.conftest import CASES, ROOT, run

FOLDER = CASES / "exports"
CASE_DIRS = sorted(p for p in FOLDER.iterdir() if p.is_dir())


def _run(case: Path) -> tuple[int, str]:
    files = sorted(str(f) for f in case.iterdir() if f.suffix == ".csv")
    extra = (case / "args.txt").read_text().split() if (case / "args.txt").exists() else []
    result = run("measure", *files, "--process", str(FOLDER / "process.yaml"), *extra)
    return result.exit_code, result.stderr


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_each_broken_export_is_located_and_kind(case: Path) -> None:
    exit_line, *wanted = (case / "expect.txt").read_text().splitlines()
    code, stderr = _run(case)
    assert code == int(exit_line.split()[1]), stderr
    assert "Traceback" not in stderr
    for line in wanted:
        if line.startswith("SP"):
            number, where = line.split(" ", 1)
            level = CODES[number].severity.value
            assert f"{case / where}: {level} {number} " in stderr, stderr
        else:
            assert line in stderr


def test_every_data_quality_code_has_a_case_and_a_row_in_the_readme() -> None:
    covered = {p.name.split("-")[0] for p in CASE_DIRS}
    assert set(CODES) <= covered
    readme = (ROOT / "README.md").read_text("utf-8")
    for code, rule in CODES.items():
        assert f"| {code} | {rule.name} | {rule.severity.value} | {rule.summary} |" in readme


def test_a_missing_export_is_a_kind_error() -> None:
    result = run("measure", str(FOLDER / "no-such-file.csv"), "--process",
                 str(FOLDER / "process.yaml"))
    assert result.exit_code == 1
    assert "error SP801 the export does not exist" in result.stderr


def test_a_windows_1252_export_reads_its_euro_amounts() -> None:
    import salesproc
    from salesproc.history import read_history

    process = salesproc.load(FOLDER / "process.yaml")
    history = read_history(FOLDER / "ok-windows-1252-semicolons" / "changes.csv", process)
    values = sorted(history.deals.value.tolist())
    assert values == [pytest.approx(1200.50 * 1.1), pytest.approx(2000.0 * 1.1)]
    assert sorted(history.deals.outcome.tolist()) == [0, 1]
