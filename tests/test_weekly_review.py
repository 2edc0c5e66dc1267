"""The weekly review's GitHub Actions workflow (examples/weekly-review/) works as written:
its `run:` steps, run in order in a fresh repository with the example export as this
week's, write the review, keep it for the next week, and the next week's run compares
with it (--against)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from salesproc.process import starter
from tests.conftest import ROOT

WORKFLOW = ROOT / "examples" / "weekly-review" / "weekly-review.yml"


def _steps() -> tuple[dict[str, object], list[dict[str, str]]]:
    flow = yaml.safe_load(WORKFLOW.read_text("utf-8"))
    return flow, flow["jobs"]["review"]["steps"]


def test_the_workflow_runs_weekly_and_installs_what_the_docs_say() -> None:
    flow, steps = _steps()
    assert flow[True]["schedule"] == [{"cron": "0 7 * * 1"}]  # YAML 1.1 reads 'on' as true
    install = next(s for s in steps if s.get("name") == "Install salesproc")
    assert install["run"] == f'python -m pip install "{starter.INSTALL}"'


@pytest.mark.slow
def test_its_steps_review_two_weeks_and_keep_each(tmp_path: Path) -> None:
    flow, steps = _steps()
    remote, repo = tmp_path / "remote.git", tmp_path / "repo"
    git = ["git", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q", "--bare", str(remote)], check=True)
    subprocess.run([*git, "clone", "-q", str(remote), str(repo)], check=True,
                   capture_output=True)
    (repo / "processes").mkdir()
    shutil.copy(ROOT / "processes" / "five-step.yaml", repo / "processes")
    shutil.copytree(ROOT / "examples" / "five-step-salesforce", repo / "exports")
    summary = tmp_path / "summary.md"
    env = {**os.environ, **{k: str(v) for k, v in flow["env"].items()},  # type: ignore[union-attr]
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GITHUB_STEP_SUMMARY": str(summary), "GIT_AUTHOR_NAME": "test",
           "GIT_AUTHOR_EMAIL": "test@example.com", "GIT_COMMITTER_NAME": "test",
           "GIT_COMMITTER_EMAIL": "test@example.com"}
    runs = [s["run"] for s in steps if "run" in s and s.get("name") != "Install salesproc"]
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "start"], cwd=repo,
                   check=True, env=env)
    for week in (1, 2):
        for script in runs:
            done = subprocess.run(["bash", "-e", "-c", script], cwd=repo, env=env,
                                  capture_output=True, text=True)
            assert done.returncode == 0, (week, script, done.stderr[-2000:])
    saved = sorted((repo / "reviews").glob("*.json"))
    assert [p.name for p in saved][-1] == "latest.json" and len(saved) == 2
    page = (repo / "reviews" / "index.html").read_text("utf-8")
    assert page.startswith("<!doctype html>") and "What moved" in page
    latest = json.loads((repo / "reviews" / "latest.json").read_text("utf-8"))
    assert latest["kind"] == "review" and latest["previous"] is not None  # week 2's
    assert "| open at start |" in summary.read_text("utf-8")
    log = subprocess.run(["git", "log", "--oneline", "main"], cwd=remote, check=True,
                         capture_output=True, text=True).stdout
    assert log.count("Pipeline review") == 2
