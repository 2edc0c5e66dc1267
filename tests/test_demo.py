"""`./dev.sh demo`: a one-page summary by default (every report written to out/), every
report in full with --full."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGE = 60  # lines: what a terminal shows without scrolling much


def demo_copy(folder: Path) -> Path:
    """dev.sh and what its demo reads, in *folder*, with a .venv whose `salesproc` is
    this checkout run by this interpreter (marked installed, so dev.sh installs nothing)."""
    shutil.copy(ROOT / "dev.sh", folder / "dev.sh")
    shutil.copytree(ROOT / "processes", folder / "processes")
    shutil.copytree(ROOT / "examples" / "five-step-salesforce",
                    folder / "examples" / "five-step-salesforce")
    for name in ("setup.cfg", "pyproject.toml"):
        shutil.copy(ROOT / name, folder / name)
    bin_folder = folder / ".venv" / "bin"
    bin_folder.mkdir(parents=True)
    (bin_folder / "python").symlink_to(sys.executable)
    command = bin_folder / "salesproc"
    # the simulating commands run a few replications: what the demo prints and writes
    # does not depend on how many (the reports' figures are checked by test_docs)
    command.write_text('#!/bin/sh\ncase "$1" in simulate|calibrate|forecast) '
                       'c=$1; shift; set -- "$c" -r 4 "$@";; esac\n'
                       f'PYTHONPATH="{ROOT}" exec "{sys.executable}" -m salesproc "$@"\n')
    command.chmod(0o755)
    stamp = folder / ".venv" / ".installed"
    stamp.touch()
    later = (folder / "setup.cfg").stat().st_mtime + 60
    os.utime(stamp, (later, later))
    return folder


@pytest.mark.skipif(shutil.which("dot") is None,
                    reason="without Graphviz dev.sh would install it (./dev.sh test does)")
@pytest.mark.slow
def test_demo_prints_a_page_and_writes_every_report(tmp_path: Path) -> None:
    folder = demo_copy(tmp_path)
    done = subprocess.run(["bash", "dev.sh", "demo"], cwd=folder, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()
    assert len(lines) <= PAGE, done.stdout
    assert lines[0] == "4 files checked: no problems found"
    assert lines[-1] == "Every report in full: ./dev.sh demo --full"
    out = folder / "out"
    for name in ("five-step", "inside-sales", "enterprise-meddpicc", "five-step-free-trial"):
        assert (out / f"{name}.svg").is_file() and (out / f"{name}.playbook.md").is_file()
    assert (out / "five-step.report.html").is_file()
    assert (out / "five-step.calibrated.yaml").is_file()
    # each report's first lines are shown, and the whole of it is where the summary says
    for report, shown in (("simulation", 14), ("measure", 10), ("forecast", 11)):
        text = (out / f"five-step.{report}.txt").read_text("utf-8")
        assert len(text.splitlines()) > shown
        assert "\n".join(text.splitlines()[:shown]) in done.stdout
        assert f"  [... all of it in out/five-step.{report}.txt]" in lines
    assert any(re.search(r"figures? outside their range \(about [\d.]+ expected by "
                         r"chance\)$", line) for line in lines)  # the fit check's verdict


def test_demo_with_another_word_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(["bash", str(ROOT / "dev.sh"), "demo", "--fast"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "usage: ./dev.sh demo [--full] | ./dev.sh test" in done.stderr
