"""Regenerate the command outputs shown in README.md and the pages in docs/ (between
<!-- NAME-output:start --> and <!-- NAME-output:end --> markers), by running each block's
first-line command from the repository's top folder.

    python scripts/update_readme.py          # rewrite the pages in place
    python scripts/update_readme.py --check  # exit 1 if any block is out of date

A block's command is `$ salesproc ARGS`, optionally followed by `| head -N` to show only
the first N lines: what a reader who types the line sees. tests/test_docs.py runs the same
commands (through :func:`blocks` and :func:`output`) and compares; this script writes
what they print. A command shown on several pages runs once.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from salesproc.cli import cli  # noqa: E402

BLOCK = re.compile(r"(<!-- (?P<name>[\w-]+)-output:start -->\n```\n)(?P<body>.*?)(```\n)",
                   re.DOTALL)
HEAD = re.compile(r"\s+\|\s+head\s+-(\d+)$")


def pages() -> list[Path]:
    """Every page that may show a command's output: the README, then docs/ (in order, so
    that a page's calibrate runs before the forecast that reads what it writes)."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Block:
    """One shown output: its page, name, command line, and the text shown under it."""

    page: Path
    name: str
    command: str
    shown: str

    @property
    def args(self) -> tuple[str, ...]:
        """The salesproc arguments, without `$ salesproc ` and any `| head -N`."""
        return tuple(shlex.split(HEAD.sub("", self.command).removeprefix("$ salesproc ")))

    def cut(self, output: str) -> str:
        """What the command line shows of *output*: all of it, or its first N lines."""
        head = HEAD.search(self.command)
        if head is None:
            return output
        return "".join(output.splitlines(keepends=True)[:int(head.group(1))])


def blocks(page: Path) -> Iterator[Block]:
    """The page's shown outputs, in order."""
    for match in BLOCK.finditer(page.read_text("utf-8")):
        command, _, shown = match.group("body").partition("\n")
        yield Block(page, match.group("name"), command, shown)


def inputs(args: tuple[str, ...]) -> list[str]:
    """The repository's folders `salesproc ARGS` reads, as relative paths: those of the
    files it names (a file's folder, where its base or sibling export is too), not what
    an earlier block wrote into out/. tests/test_docs.py copies them and runs the command
    there, so that nothing is written into the repository."""
    named = [Path(a) for a in args if not a.startswith(("-", "out/")) and (ROOT / a).exists()]
    return sorted({str(p if (ROOT / p).is_dir() else p.parent) for p in named})


def output(args: tuple[str, ...], folder: Path = ROOT, workers: int = 2) -> str:
    """What `salesproc ARGS` prints on stdout, run as the pages show it (from the top
    *folder*; simulations on *workers* processes, which never changes their results: the
    tests, already on every core, use one); exit 1 with the output when it fails."""
    chosen = ["--workers", str(workers)] if args[0] in ("simulate", "compare", "sweep") else []
    previous = os.getcwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(cli, [*args, *chosen], catch_exceptions=False)
    finally:
        os.chdir(previous)
    if result.exit_code != 0:
        raise SystemExit(f"salesproc {shlex.join(args)} exited {result.exit_code}:\n"
                         f"{result.output}")
    return result.stdout


def regenerate(page: Path, cache: dict[tuple[str, ...], str]) -> str:
    """The page's text with every shown output replaced by what its command prints."""
    def replace(match: re.Match[str]) -> str:
        command = match.group("body").split("\n", 1)[0]
        block = Block(page, match.group("name"), command, "")
        if block.args not in cache:
            cache[block.args] = output(block.args)
        return f"{match.group(1)}{command}\n{block.cut(cache[block.args])}{match.group(4)}"

    return BLOCK.sub(replace, page.read_text("utf-8"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    cache: dict[tuple[str, ...], str] = {}
    stale = []
    for page in pages():
        before = page.read_text("utf-8")
        after = regenerate(page, cache)
        if after != before:
            stale.append(page)
            if not args.check:
                page.write_text(after, "utf-8")
        print(f"{page.relative_to(ROOT)}: " + ("out of date" if args.check and after != before
                                               else "updated" if after != before
                                               else "already up to date"))
    return int(bool(stale) and args.check)


if __name__ == "__main__":
    raise SystemExit(main())
