"""Regenerate the command outputs shown in README.md (between <!-- NAME-output:start -->
and <!-- NAME-output:end --> markers), by running each block's first-line command.

    python scripts/update_readme.py          # rewrite README.md in place
    python scripts/update_readme.py --check  # exit 1 if any block is out of date

tests/test_docs.py runs the same commands and compares; this script writes what they print.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from salesproc.cli import cli  # noqa: E402

BLOCK = re.compile(r"(<!-- (?P<name>[\w-]+)-output:start -->\n```\n)(?P<body>.*?)(```\n)",
                   re.DOTALL)


def regenerate(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        command = match.group("body").split("\n", 1)[0]
        args = shlex.split(command.removeprefix("$ salesproc "))
        workers = ["--workers", "2"] if args[0] in ("simulate", "compare", "sweep") else []
        # calibrate's fit check runs one process: results never depend on the workers
        result = CliRunner().invoke(cli, [*args, *workers], catch_exceptions=False)
        if result.exit_code != 0:
            raise SystemExit(f"{command} exited {result.exit_code}:\n{result.output}")
        return f"{match.group(1)}{command}\n{result.stdout}{match.group(4)}"

    return BLOCK.sub(replace, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    readme = ROOT / "README.md"
    before = readme.read_text("utf-8")
    import os

    os.chdir(ROOT)
    after = regenerate(before)
    if args.check:
        return int(after != before)
    readme.write_text(after, "utf-8")
    print("README.md: " + ("updated" if after != before else "already up to date"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
