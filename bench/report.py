"""How big the HTML report of five-step is and how fast a browser renders it (not a test).

    python bench/report.py [--runs 7]

Writes the page as `salesproc simulate processes/five-step.yaml --format html` does, then
opens it in headless Chromium (Playwright) --runs times and prints the median time to the
load event, with the same for the HTML playbook (inline Graphviz drawings, no charts) and
an empty page as baselines run in the same browser. Targets: under 2 MB, under 3 s.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from salesproc import load  # noqa: E402
from salesproc.experiments.experiment import resolve_settings, simulate  # noqa: E402
from salesproc.report import html  # noqa: E402
from tests.test_browser import FLAGS  # noqa: E402


def median_load(browser: object, path: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        page = browser.new_page()  # type: ignore[attr-defined]
        start = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load")
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(0)))")  # painted
        times.append(time.perf_counter() - start)
        page.close()
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("Chromium is not installed: apt-get install chromium")
    process = load(ROOT / "processes" / "five-step.yaml")
    start = time.perf_counter()
    result = simulate(process, resolve_settings(process, workers=2))
    simulated = time.perf_counter() - start
    start = time.perf_counter()
    page = html.simulation(result)
    written = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.html"
        report.write_text(page, "utf-8")
        playbook = Path(folder) / "playbook.html"
        playbook.write_text(html.playbook(process), "utf-8")
        blank = Path(folder) / "blank.html"
        blank.write_text("<!doctype html><title>blank</title>", "utf-8")
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=chromium, args=FLAGS)
            loads = {name: median_load(browser, path, args.runs)
                     for name, path in (("empty page", blank), ("playbook", playbook),
                                        ("report", report))}
            browser.close()
        size = report.stat().st_size
    print(f"five-step report: {size / 1e6:.2f} MB (target < 2 MB); simulating took "
          f"{simulated:.2f} s, writing the page (charts and flowchart) {written:.2f} s")
    for name, seconds in loads.items():
        print(f"  {name:10} renders in {seconds * 1000:7.0f} ms (median of {args.runs}), "
              f"{seconds / loads['empty page']:5.1f}× the empty page")
    print(f"report: {loads['report']:.2f} s to render (target < 3 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
