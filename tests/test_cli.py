"""`salesproc validate`, `init`, `schema`: formats, exit codes, and what is written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from salesproc import check, load
from tests.conftest import CASES, ROOT, run

BAD = CASES / "invalid" / "SP201-unknown-next.yaml"
WARN = CASES / "invalid" / "SP402-unused-role.yaml"


def test_text_output_has_caret_snippet_and_hint() -> None:
    result = run("validate", str(BAD))
    assert result.exit_code == 1
    assert f"{BAD}:13:12: error SP201 unknown stage 'secnd'" in result.output
    assert "   13 |     next: {secnd: 0.5}\n" in result.output
    assert "      |            ^~~~~\n" in result.output
    assert "  hint: did you mean 'second'?" in result.output


def test_json_output_is_the_documented_layout() -> None:
    result = run("validate", "--format", "json", str(BAD))
    assert result.exit_code == 1
    (item,) = json.loads(result.output)
    assert item == {
        "file": str(BAD), "line": 13, "column": 12, "end_line": 13, "end_column": 17,
        "path": "/stages/0/next/secnd", "code": "SP201", "rule": "unknown-stage",
        "severity": "error", "message": "unknown stage 'secnd'",
        "hint": "did you mean 'second'?",
    }


def test_github_output_is_workflow_commands() -> None:
    result = run("validate", "--format", "github", str(BAD))
    assert result.exit_code == 1
    line = result.output.splitlines()[0]
    assert line.startswith(f"::error file={BAD},line=13,col=12,endLine=13,endColumn=17,"
                           "title=SP201 unknown-stage::")


def test_warnings_pass_unless_strict() -> None:
    assert run("validate", str(WARN)).exit_code == 0
    strict = run("validate", "--strict", str(WARN))
    assert strict.exit_code == 1
    assert "warning SP402" in strict.output


def test_usage_error_exits_2() -> None:
    result = run("validate", "--format", "xml", str(BAD))
    assert result.exit_code == 2


def test_no_paths_checks_processes_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = run("validate")
    assert result.exit_code == 0
    assert "4 files checked" in result.output


def test_folder_without_process_files_is_an_error(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path))
    assert result.exit_code == 1
    assert "no process files" in result.output


def test_internal_error_exits_3_and_says_it_is_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(path: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr("salesproc.process.loader.check", broken)
    result = run("validate", str(BAD))
    assert result.exit_code == 3
    assert "this is a bug in salesproc" in result.output


def test_init_writes_a_valid_starter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("init", "emea-midmarket")
    assert result.exit_code == 0
    path = tmp_path / "emea-midmarket.yaml"
    text = path.read_text("utf-8")
    # outside a repository with schemas/, the published URL: the same on every machine
    assert text.startswith("# yaml-language-server: $schema=https://")
    assert str(Path(__file__).resolve().parent.parent) not in text
    assert 'name: "Emea Midmarket"' in text
    assert check(path).diagnostics == []


@pytest.mark.parametrize("name", ["2025", "null", "true", "off", "yes", "1e3", "0x1F",
                                  "a: b", "#x", "[x]", "{x}", "&a", "*a", "!x", "%x", "@x",
                                  "it's", '"q"', "a\\b", "ü", "x\ty"])
def test_init_writes_a_valid_starter_whatever_the_name(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("init", "--", name)
    assert result.exit_code == 0, result.output
    (path,) = tmp_path.iterdir()
    assert check(path).diagnostics == []
    assert load(path).name == " ".join(w.capitalize() for w in name.replace("\t", " ").split())


@pytest.mark.parametrize("name", ["", "  ", ".", "..", "folder/"])
def test_init_without_a_name_is_a_usage_error(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("init", name)
    assert result.exit_code == 2 and "give the new file a name" in result.output
    assert list(tmp_path.iterdir()) == []


def test_init_points_the_modeline_at_the_repo_schema(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "process.schema.json").write_text("{}")
    (tmp_path / "processes").mkdir()
    monkeypatch.chdir(tmp_path)
    assert run("init", "processes/new").exit_code == 0
    first = (tmp_path / "processes" / "new.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/process.schema.json"


def test_init_never_overwrites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text("my own work\n")
    result = run("init", "mine")
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert (tmp_path / "mine.yaml").read_text() == "my own work\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.yaml"]
    assert run("init", "mine", "--force").exit_code == 0
    assert check(tmp_path / "mine.yaml").ok


def test_init_into_missing_folder_is_a_kind_error(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("init", "nowhere/new")
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_python_dash_m_and_version() -> None:
    out = subprocess.run([sys.executable, "-m", "salesproc", "--version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.startswith("salesproc, version ")


def test_validate_does_not_import_simulation_or_drawing_libraries() -> None:
    code = ("import sys; from salesproc.cli import main; sys.argv=['salesproc','validate','-q',"
            f"{str(ROOT / 'processes')!r}]\ntry: main()\nexcept SystemExit: pass\n"
            "print(sorted(m for m in ('simpy','graphviz','networkx','numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_pre_commit_hooks_pass_good_files_and_stop_bad_ones(tmp_path: Path,
                                                          five_step: Path) -> None:
    """Each hook run as pre-commit runs it: its entry, then the changed files (unless
    pass_filenames is false), from the repository's top folder."""
    import shlex

    import yaml

    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"salesproc-validate", "salesproc-validate-all"}
    repo = tmp_path / "repo"
    (repo / "processes").mkdir(parents=True)
    base = repo / "processes" / "five-step.yaml"
    base.write_bytes(five_step.read_bytes())
    variant = repo / "processes" / "trial.yaml"
    variant.write_bytes((ROOT / "processes" / "five-step-free-trial.yaml").read_bytes())

    def run_hook(hook_id: str, changed: list[Path]) -> int:
        hook = hooks[hook_id]
        argv = shlex.split(hook["entry"])
        assert argv[0] == "salesproc"
        files = [str(p.relative_to(repo)) for p in changed
                 if re.search(hook["files"], str(p.relative_to(repo)))]
        args = argv[1:] + ([] if hook.get("pass_filenames") is False else files)
        done = subprocess.run([sys.executable, "-m", "salesproc", *args], cwd=repo,
                              capture_output=True, text=True, check=False)
        return done.returncode

    assert run_hook("salesproc-validate", [base]) == 0
    assert run_hook("salesproc-validate-all", [base]) == 0
    # a base edit that breaks only the variant (it removes the stage the trial follows)
    base.write_text(re.sub(r"(?<=id: )demo$|\bdemo(?=: \d)|(?<=: )demo$", "demonstration",
                           base.read_text(), flags=re.MULTILINE))
    assert run_hook("salesproc-validate", [base]) == 0  # the base alone is still fine
    assert run_hook("salesproc-validate-all", [base]) == 1  # its variant is not


def test_output_to_a_device_writes_in_place_and_keeps_the_device(tmp_path: Path) -> None:
    import os
    import stat

    from salesproc.core.outputs import write_atomic

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_atomic(fifo, "hello\n")
        assert os.read(reader, 100) == b"hello\n"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    from salesproc.core.outputs import atomic_open

    target = tmp_path / "out.txt"
    target.write_text("previous results\n")
    with pytest.raises(RuntimeError), atomic_open(target) as handle:
        handle.write("half of the new")
        raise RuntimeError("disk full")
    assert target.read_text() == "previous results\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_an_empty_path_is_a_usage_error_not_the_current_folder(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.yaml").write_text("- not a process\n")
    result = run("validate", "")
    assert result.exit_code == 2 and "an empty path names no file" in result.output
    assert "broken.yaml" not in result.output  # the folder was not validated instead


def test_a_role_with_nobody_during_the_simulation_is_a_warning_not_a_crash(
        tmp_path: Path) -> None:
    """Headcount dated after the simulation ends: the role has 0 people on average, and
    the capacity rule says so (it raised OverflowError asking for ceil(inf) people)."""
    text = (ROOT / "processes" / "five-step.yaml").read_text("utf-8")
    late = tmp_path / "late.yaml"
    late.write_text(text.replace("headcount: {2026-01-05: 2, 2026-04-01: 3}",
                                 "headcount: {2030-01-05: 2}"), encoding="utf-8")
    result = run("validate", str(late))
    assert result.exit_code == 0, result.output
    assert "SP501" in result.output and "nobody is in the role" in result.output
