"""Bad input of every kind: exit 1, a located message, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from salesproc import check
from salesproc.process.yamlio import MAX_FILE_BYTES
from tests.conftest import run

HUGE = 20 * 1024 * 1024


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


BAD_FILES = {
    "empty": (b"", "SP004"),
    "only-comments": (b"# nothing here yet\n\n# still nothing\n", "SP004"),
    "binary": (bytes(range(256)) * 4, "SP003"),
    "latin1": ("salesproc: 1\nname: Caf\u00e9\n".encode("latin-1"), "SP003"),
    "not-yaml": (b"salesproc: 1\nname: [unclosed\n  - {\n", "SP005"),
    "list": (b"- a\n- b\n", "SP008"),
    "huge": (b"# " + b"x" * HUGE + b"\n", "SP002"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_file_exits_1_with_located_message(tmp_path: Path, kind: str) -> None:
    content, code = BAD_FILES[kind]
    path = write(tmp_path, f"{kind}.yaml", content)
    result = run("validate", str(path))
    assert result.exit_code == 1
    assert f"{path}:" in result.output and f"error {code} " in result.output
    assert "Traceback" not in result.output


def test_missing_file_is_sp001(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert "error SP001 no such file or folder" in result.output


def test_folder_passed_as_file_is_sp001(tmp_path: Path) -> None:
    assert check(tmp_path).diagnostics[0].code == "SP001"


def test_size_limit_is_checked_before_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, "big.yaml", b"a: 1\n" * (MAX_FILE_BYTES // 5 + 1))
    (diag,) = check(path).diagnostics
    assert diag.code == "SP002"


def test_non_utf8_reports_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    path = write(tmp_path, "latin.yaml", b"salesproc: 1\nname: ok\ndescription: \xe9t\xe9\n")
    (diag,) = check(path).diagnostics
    assert (diag.code, diag.line) == ("SP003", 3)


def test_utf8_bom_is_accepted(tmp_path: Path, five_step: Path) -> None:
    path = write(tmp_path, "bom.yaml", b"\xef\xbb\xbf" + five_step.read_bytes())
    assert check(path).ok


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "deep.yaml", b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n")
    result = run("validate", str(path))
    assert result.exit_code == 1
    assert "SP007" in result.output


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "rec.yaml", b"a: &x [1, *x]\n")
    result = run("validate", str(path))
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_validate_reports_every_file_and_keeps_going(tmp_path: Path, five_step: Path) -> None:
    (tmp_path / "good.yaml").write_bytes(five_step.read_bytes())
    write(tmp_path, "bad.yaml", b"- not a mapping\n")
    write(tmp_path, "empty.yml", b"")
    result = run("validate", str(tmp_path))
    assert result.exit_code == 1
    assert "bad.yaml:1:1: error SP008" in result.output
    assert "empty.yml:1:1: error SP004" in result.output
    assert "3 files checked: 2 errors, 0 warnings" in result.output


def test_nothing_is_written_by_validate(tmp_path: Path, five_step: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(five_step.read_bytes())
    before = sorted(tmp_path.iterdir())
    run("validate", str(path))
    assert sorted(tmp_path.iterdir()) == before
    assert path.read_bytes() == five_step.read_bytes()
