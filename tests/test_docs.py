"""The README and the pages in docs/ stay true: the code tables, every command output they
show (byte for byte), the files they show as written, and the pictures."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from salesproc import starter
from salesproc.diagnostics import CODES
from salesproc.history.notes import CODES as CRM_CODES
from tests.conftest import ROOT, repository_copy, run

README = (ROOT / "README.md").read_text("utf-8")
DOCS = sorted((ROOT / "docs").glob("*.md"))
CODES_PAGE = (ROOT / "docs" / "codes.md").read_text("utf-8")


def _load_updater():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("update_readme",
                                                  ROOT / "scripts" / "update_readme.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["update_readme"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


UPDATER = _load_updater()
SHOWN = [b for page in UPDATER.pages() for b in UPDATER.blocks(page)]
COMMANDS = sorted({b.args for b in SHOWN})


def test_the_code_tables_list_every_code_as_defined() -> None:
    for code, rule in CODES.items():
        assert f"| {code} | {rule.name} | {rule.severity.value} | {rule.summary} |" in CODES_PAGE
    for code, note in CRM_CODES.items():
        assert f"| {code} | {note.name} | {note.severity.value} | {note.summary} |" in CODES_PAGE


def test_readme_validate_example_is_real_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = run("validate", "tests/cases/invalid/SP201-unknown-next.yaml")
    assert result.output.strip() in README
    commands = (ROOT / "docs" / "commands.md").read_text("utf-8")
    assert result.output.strip() in commands


def test_readme_starts_with_the_two_commands() -> None:
    first_screen = "\n".join(README.splitlines()[:20])
    assert "./dev.sh demo" in first_screen and "./dev.sh test" in first_screen
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("./dev.sh test")


def test_every_page_shows_its_outputs_with_their_command() -> None:
    names = {(b.page.name, b.name) for b in SHOWN}
    assert len(names) == len(SHOWN)  # a block's name is unique on its page
    for page, name in [("README.md", "simulate-head"), ("README.md", "suggest"),
                       ("commands.md", "simulate"), ("commands.md", "measure"),
                       ("commands.md", "calibrate"), ("commands.md", "forecast"),
                       ("commands.md", "backtest"), ("commands.md", "sweep")]:
        assert (page, name) in names
    for block in SHOWN:
        assert block.command.startswith("$ salesproc "), (block.page.name, block.name)


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a)[:60] for a in COMMANDS])
def test_every_shown_output_is_real(args: tuple[str, ...], tmp_path: Path) -> None:
    """Each command shown on a page, run once (from a copy of the folders it reads, so
    that its out/ is written there): every block that shows it (all of its output, or
    its first lines where the command says `| head -N`) shows what it prints."""
    for needed in (a for a in args if a.startswith("out/")):  # written by another block
        (writer,) = {b.args for b in SHOWN if needed in b.args and "-o" in b.args
                     and b.args[b.args.index("-o") + 1] == needed}
        if writer != args:
            UPDATER.output(writer, repository_copy(tmp_path, *UPDATER.inputs(writer)))
    printed = UPDATER.output(args, repository_copy(tmp_path, *UPDATER.inputs(args)))
    for block in (b for b in SHOWN if b.args == args):
        assert block.shown == block.cut(printed), (block.page.name, block.name)


def test_install_page_shows_what_init_writes() -> None:
    page = (ROOT / "docs" / "install.md").read_text("utf-8")
    for name, text in (("workflow", starter.WORKFLOW), ("pre-commit", starter.PRE_COMMIT)):
        shown = page.split(f"<!-- {name}:start -->\n```yaml\n")[1].split("```\n")[0]
        assert shown == text, name
    assert f'pip install "{starter.INSTALL}"' in page
    assert f'pip install "{starter.INSTALL}"' in README


def test_links_between_pages_lead_somewhere() -> None:
    """Every relative link of the README and docs/ names a file of the repository, and
    every #anchor a heading of the page it points into (as GitHub makes them)."""
    def anchors(page: Path) -> set[str]:
        headings = re.findall(r"^#+ (.+)$", page.read_text("utf-8"), re.M)
        return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}

    for page in [ROOT / "README.md", *DOCS]:
        for link in re.findall(r"\]\(([^)\s]+)\)", page.read_text("utf-8")):
            if link.startswith(("http://", "https://")):
                continue
            path, _, anchor = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            assert target.exists(), (page.name, link)
            assert ROOT in target.parents or target == ROOT, (page.name, link)
            if anchor:
                assert anchor in anchors(target), (page.name, link)


def test_the_docs_stand_on_their_own() -> None:
    """No page refers to a design document outside the repository."""
    pages = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "bench").glob("*")]
    for page in pages:
        text = page.read_text("utf-8", errors="replace")
        for outside in ("DESIGN.md", "MISSION.md", "STYLE.md", "../shared"):
            assert outside not in text, (page.name, outside)


def test_every_picture_the_pages_show_is_in_the_repository() -> None:
    """The README's and docs' images exist, and the ones scripts/make_images.py makes are
    shown in the README."""
    for page in [ROOT / "README.md", *DOCS]:
        for path in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page.read_text("utf-8")):
            assert (page.parent / path).is_file(), (page.name, path)
            assert (page.parent / path).read_bytes().startswith(b"\x89PNG"), path
    shown = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    for picture in ("five-step.png", "five-step-results.png", "chart-monthly.png"):
        assert f"docs/{picture}" in shown
