"""The README's first hour, run as written by a newcomer: install salesproc into a new
repository, set it up, validate, map a CRM export and measure it."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from salesproc.process import starter
from tests.conftest import ROOT, source_copy

README = (ROOT / "README.md").read_text("utf-8")
EXPORT = ROOT / "examples" / "hubspot-first-export" / "deals.csv"


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.slow
def test_the_readme_first_hour_runs_as_written(tmp_path: Path) -> None:
    """The README's lines run in bash, in an empty folder, the export in ~/Downloads. The
    one line changed is pip's: it installs this clone (without its dependencies, which
    this interpreter has) instead of the tagged release, and nothing comes from a network.
    Its `salesproc` is the installed command: its entry point and its package data."""
    block = README.split("<!-- first-hour:start -->\n```sh\n")[1].split("```\n")[0]
    install = f'python -m pip install "{starter.INSTALL}"'
    assert block.count(install) == 1
    prefix = tmp_path / "installed"
    site = Path(sysconfig.get_path("purelib", vars={"base": prefix, "platbase": prefix}))
    # --ignore-installed: else pip uninstalls the salesproc this interpreter has first
    local = (f"{shlex.quote(sys.executable)} -m pip install -q --ignore-installed "
             f"--no-deps --no-index --no-build-isolation --prefix {prefix} "
             f"{source_copy(tmp_path / 'source')}")
    home = tmp_path / "home"
    (home / "Downloads").mkdir(parents=True)
    shutil.copy(EXPORT, home / "Downloads" / "deals.csv")
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block.replace(install, local)], cwd=work,
        capture_output=True, text=True, timeout=120,
        env={"PATH": f"{prefix / 'bin'}:/usr/bin:/bin", "HOME": str(home),
             "PYTHONPATH": str(site), "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert (site / "salesproc" / "templates" / "salesproc.yml").is_file()
    repo = work / "acme-sales"
    assert (repo / ".git").is_dir() and (repo / ".github/workflows/salesproc.yml").is_file()
    # both validations pass, the second with the pasted crm: section
    assert done.stderr.count("1 file checked: no problems found") == 2
    process = (repo / "processes" / "acme-sales.yaml").read_text("utf-8")
    assert "\ncrm:\n  stages:\n    Appointment Scheduled: inquiry" in process
    assert "  lost_reason: Closed Lost Reason" in process
    # measured with its stages mapped: a stage history, every deal read, none left out
    assert "Acme Sales: measured from" in done.stdout and "(a deal table)" not in done.stdout
    assert "SP804" not in done.stderr and "SP830" not in done.stderr
    assert "129 deals created" in done.stdout
    assert "  meeting → won " in done.stdout


def test_the_first_export_is_what_its_script_writes(tmp_path: Path) -> None:
    """examples/hubspot-first-export: the starter process as init writes it, and a quarter
    of it simulated and exported as HubSpot would, both as scripts/make_example_export.py
    writes them."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make", ROOT / "scripts" /
                                                  "make_example_export.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for path in module.write_first(tmp_path):
        assert path.read_bytes() == (EXPORT.parent / path.name).read_bytes(), path.name
