"""The README stays true: its code table and the output it shows."""

from __future__ import annotations

import re

import pytest

from salesproc.diagnostics import CODES
from tests.conftest import ROOT, run

README = (ROOT / "README.md").read_text("utf-8")


def test_readme_lists_every_code_as_defined() -> None:
    for code, rule in CODES.items():
        assert f"| {code} | {rule.name} | {rule.severity.value} | {rule.summary} |" in README


def test_readme_validate_example_is_real_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = run("validate", "tests/cases/invalid/SP201-unknown-next.yaml")
    assert result.output.strip() in README
    assert run("validate", "processes/").output.strip() in README


def test_readme_starts_with_the_two_commands() -> None:
    first_screen = "\n".join(README.splitlines()[:20])
    assert "./dev.sh demo" in first_screen and "./dev.sh test" in first_screen
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("./dev.sh test")


def test_readme_simulate_output_is_real(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    block = README.split("<!-- simulate-output:start -->\n```\n")[1].split("```\n")[0]
    command, shown = block.split("\n", 1)
    assert command == "$ salesproc simulate processes/five-step.yaml"
    result = run("simulate", "processes/five-step.yaml", "--workers", "2")
    assert result.exit_code == 0
    assert result.output == shown


@pytest.mark.parametrize("name", ["compare", "sweep", "measure", "calibrate", "forecast",
                                  "backtest"])
def test_readme_what_if_outputs_are_real(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    block = README.split(f"<!-- {name}-output:start -->\n```\n")[1].split("```\n")[0]
    command, shown = block.split("\n", 1)
    args = command.removeprefix("$ salesproc ").split()
    if name == "forecast":  # it forecasts with the file the calibrate example writes
        calibrate = README.split("<!-- calibrate-output:start -->\n```\n")[1].split("\n")[0]
        assert run(*calibrate.removeprefix("$ salesproc ").split()).exit_code == 0
    result = run(*args, *(["--workers", "2"] if name in ("compare", "sweep") else []))
    assert result.exit_code == 0
    assert result.stdout == shown


def test_the_docs_stand_on_their_own() -> None:
    """No page refers to a design document outside the repository."""
    pages = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "bench").glob("*")]
    for page in pages:
        text = page.read_text("utf-8", errors="replace")
        for outside in ("DESIGN.md", "MISSION.md", "STYLE.md", "../shared"):
            assert outside not in text, (page.name, outside)


def test_readme_python_example_runs_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    block = README.split("### From Python\n\n```python\n")[1].split("```\n")[0]
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["calibration"].fitted  # type: ignore[attr-defined]


def test_every_picture_the_readme_shows_is_in_the_repository() -> None:
    """The README's images exist, and the ones scripts/make_images.py makes are shown."""
    text = (ROOT / "README.md").read_text("utf-8")
    shown = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert shown
    for path in shown:
        assert (ROOT / path).is_file(), path
        assert (ROOT / path).read_bytes().startswith(b"\x89PNG"), path
    for picture in ("five-step.png", "five-step-results.png", "chart-monthly.png"):
        assert f"docs/{picture}" in shown
