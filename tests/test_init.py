"""`salesproc init --repo`: a team's repository set up around a starter process, and what
its workflow and pre-commit configuration run."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from salesproc import check
from salesproc.process import starter
from salesproc.version import __version__
from tests.conftest import ROOT, run

FILES = ["processes/acme-sales.yaml", "schemas/process.schema.json",
         ".github/workflows/salesproc.yml", ".pre-commit-config.yaml"]


def files_in(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_init_repo_creates_the_folder_and_every_file(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("init", "--repo", "ACME Sales")
    assert result.exit_code == 0, result.output
    repo = tmp_path / "ACME Sales"
    assert files_in(repo) == sorted(FILES)
    for name in FILES:
        assert f"  wrote {name} " in result.output
    assert result.output.endswith("next: cd 'ACME Sales' && salesproc validate\n")
    process = repo / "processes" / "acme-sales.yaml"
    assert check(process).diagnostics == []
    # the modeline names the schema beside it, which is the installed one: it works on
    # every clone, offline, and matches the version the workflow installs
    first = process.read_text("utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/process.schema.json"
    installed = (ROOT / "salesproc" / "schemas" / "process.schema.json").read_bytes()
    assert (repo / "schemas" / "process.schema.json").read_bytes() == installed


def test_init_repo_in_this_folder_says_what_comes_next(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("init", "--repo", ".")
    assert result.exit_code == 0
    assert result.output.endswith("next: salesproc validate\n")
    # validate with no path checks processes/: the starter is found and clean
    assert run("validate").exit_code == 0
    assert (tmp_path / "processes" / f"{starter.process_name(tmp_path)}.yaml").is_file()


def test_init_repo_keeps_what_exists_unless_forced(tmp_path: Path) -> None:
    (tmp_path / ".pre-commit-config.yaml").write_text("repos: []  # mine\n")
    result = run("init", "--repo", str(tmp_path))
    assert result.exit_code == 0
    assert "  kept  .pre-commit-config.yaml " in result.output
    assert "it exists; nothing changed" in result.output
    assert (tmp_path / ".pre-commit-config.yaml").read_text() == "repos: []  # mine\n"
    assert (tmp_path / ".github" / "workflows" / "salesproc.yml").is_file()
    forced = run("init", "--repo", str(tmp_path), "--force")
    assert forced.exit_code == 0 and "kept" not in forced.output
    assert (tmp_path / ".pre-commit-config.yaml").read_text() == starter.PRE_COMMIT


def test_init_repo_on_a_file_is_a_kind_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    result = run("init", "--repo", str(tmp_path / "notes.txt"))
    assert result.exit_code == 1
    assert "is a file, not a folder; nothing was written" in result.output
    assert files_in(tmp_path) == ["notes.txt"]


def test_init_into_a_missing_folder_points_at_repo(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain `init` into a folder that does not exist is refused (a typo would otherwise
    create folders nobody meant); the hint says how to create it, or set up a repository."""
    monkeypatch.chdir(tmp_path)
    result = run("init", "processes/new")
    assert result.exit_code == 1
    assert "folder processes does not exist; nothing was written" in result.output
    assert "mkdir -p processes" in result.output and "salesproc init --repo" in result.output
    assert list(tmp_path.iterdir()) == []


def test_workflow_validates_and_draws_on_every_pull_request(tmp_path: Path) -> None:
    """The workflow is GitHub Actions YAML that runs on pull requests, installs this
    version, and its steps do what they say: run here as the runner would (bash, from the
    repository's top folder), with `salesproc` this checkout."""
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed (./dev.sh test installs it)")
    assert run("init", "--repo", str(tmp_path)).exit_code == 0
    workflow = yaml.safe_load((tmp_path / ".github/workflows/salesproc.yml").read_text())
    assert "pull_request" in workflow[True]  # PyYAML reads the key `on` as True
    steps = workflow["jobs"]["check-and-draw"]["steps"]
    install = next(s["run"] for s in steps if s.get("name", "").startswith("Install"))
    assert f'pip install "salesproc @ git+{starter.REPOSITORY}@v{__version__}"' in install
    shim = tmp_path / "bin" / "salesproc"
    shim.parent.mkdir()
    shim.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m salesproc \"$@\"\n")
    shim.chmod(0o755)
    env = {"PATH": f"{shim.parent}:/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    for step in steps:
        if "run" in step and not step["name"].startswith("Install"):
            done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env,
                                  capture_output=True, text=True)
            assert done.returncode == 0, (step["name"], done.stderr)
    drawn = sorted(p.name for p in (tmp_path / "drawings").iterdir())
    name = starter.process_name(tmp_path)
    assert drawn == [f"{name}.playbook.md", f"{name}.svg"]
    assert (tmp_path / "drawings" / f"{name}.svg").read_text().lstrip().startswith("<?xml")


def test_pre_commit_config_uses_a_hook_this_repository_ships(tmp_path: Path) -> None:
    assert run("init", "--repo", str(tmp_path)).exit_code == 0
    config = yaml.safe_load((tmp_path / ".pre-commit-config.yaml").read_text())
    (repo,) = config["repos"]
    assert repo["repo"] == starter.REPOSITORY and repo["rev"] == f"v{__version__}"
    shipped = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert {h["id"] for h in repo["hooks"]} <= shipped
