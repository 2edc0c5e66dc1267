"""Every invalid case file reports exactly the findings its `# expect:` lines name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from salesproc import check
from salesproc.core.diagnostics import CODES
from tests.conftest import CASES, run

INVALID = sorted((CASES / "invalid").glob("*.yaml"))
VALID = sorted((CASES / "valid").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (SP\d{3}) (\d+):(\d+)$", re.MULTILINE)


def expected(path: Path) -> list[tuple[str, int, int]]:
    text = path.read_text("utf-8")
    return sorted((code, int(line), int(col)) for code, line, col in EXPECT.findall(text))


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_case_reports_expected_findings(path: Path) -> None:
    want = expected(path)
    assert want, f"{path.name} has no '# expect: CODE LINE:COL' line"
    assert path.stem.split("-")[0] in {code for code, _, _ in want}
    got = sorted((d.code, d.line, d.column) for d in check(path).diagnostics)
    assert got == want


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_case_through_cli_is_located_and_kind(path: Path) -> None:
    result = run("validate", str(path))
    errors = [c for c, _, _ in expected(path) if CODES[c].severity.value == "error"]
    assert result.exit_code == (1 if errors else 0)
    assert "Traceback" not in result.output
    for code, line, col in expected(path):
        assert f":{line}:{col}: {CODES[code].severity.value} {code} " in result.output
    assert f"{path}:" in result.output  # findings name the file that holds them


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_warnings_fail_with_strict(path: Path) -> None:
    assert run("validate", "--strict", str(path)).exit_code == 1


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_case_is_clean(path: Path) -> None:
    result = check(path)
    assert result.diagnostics == []
    assert result.process is not None


def test_every_code_has_a_case() -> None:
    """Codes the case folder cannot hold (unreadable, huge, binary, empty) are in test_bad_input."""
    generated = {"SP001", "SP002", "SP003", "SP004"}
    covered = {code for path in INVALID for code, _, _ in expected(path)}
    assert set(CODES) - covered <= generated


def test_at_least_thirty_invalid_cases() -> None:
    assert len(INVALID) >= 30
