"""The HTML pages in a real headless browser (Debian's Chromium, driven by Playwright):
each loads with no console error and no network request, every chart is there and not
empty, text from the process file shows as text, and the playbook's drawings are legible.

`./dev.sh test` installs Chromium; without it these tests are skipped, unless
SALESPROC_REQUIRE_BROWSER=1 says they must run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from salesproc.report.html import POLICY
from tests.conftest import PROCESSES, ROOT, run
from tests.test_report_html import FAST, HOSTILE, fast_for, hostile_process

# a page made and opened in a browser takes a second or two: all of them run early, together
# (they share the browser)
pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# as the machine's own probe starts it: no sandbox as root, and no background traffic
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    required = os.environ.get("SALESPROC_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            raise
        pytest.skip("playwright is not installed")
    if CHROMIUM is None:
        if required:
            pytest.fail("Chromium is not installed (apt-get install chromium)")
        pytest.skip("Chromium is not installed")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


class Visit:
    """A page opened from disk, with what it logged and asked the network for."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url, wait_until="load")

    def elsewhere(self) -> list[str]:
        """Requests for anything but the page itself."""
        return [u for u in self.requests if u != self.url]

    def charts(self) -> list[dict[str, Any]]:
        return self.page.evaluate("""() => [...document.querySelectorAll('figure.chart')]
            .map(f => { const s = f.querySelector('svg'); const r = s.getBoundingClientRect();
                        return {name: f.dataset.chart, width: r.width, height: r.height,
                                marks: s.querySelectorAll('path, rect, text').length,
                                rows: f.querySelectorAll('table tbody tr').length}; })""")


def page_of(tmp_path: Path, *args: str) -> Path:
    target = tmp_path / "page.html"
    result = run(*args, "--format", "html", "-o", str(target))
    assert result.exit_code == 0, result.output
    return target


def assert_clean(visit: Visit, tmp_path: Path, charts: int) -> None:
    assert visit.errors == []
    assert visit.elsewhere() == []
    found = visit.charts()
    assert len(found) >= charts, found
    for chart in found:
        assert chart["width"] > 200 and chart["height"] > 100, chart
        assert chart["marks"] > 10 and chart["rows"] > 0, chart
    shot = tmp_path / "screenshot.png"
    visit.page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000


def zoom(visit: Visit, box: str) -> tuple[float, float]:
    """The drawing in *box*: its width as the page opens it, and after a click on it (a
    checkbox and its label: the pages run no script)."""
    def width() -> float:
        return float(visit.page.evaluate(
            f"() => document.querySelector('{box} svg').getBoundingClientRect().width"))

    fitted = width()
    visit.page.click(f"{box} label")
    assert visit.page.is_checked(f"{box} input")
    return fitted, width()


@pytest.mark.parametrize("path", PROCESSES, ids=lambda p: p.stem)
def test_simulation_page_of_each_example(browser: Any, tmp_path: Path, path: Path) -> None:
    # the hire check's card once (five-step's page), the rest of each page for every example
    hires = () if path.stem == "five-step" else ("--no-hires",)
    visit = Visit(browser, page_of(tmp_path, "simulate", str(path), *fast_for(path), *hires))
    assert_clean(visit, tmp_path, charts=5)
    if shutil.which("dot"):
        fitted, natural = zoom(visit, ".flow")
        assert 300 < fitted <= 1280 and natural >= fitted


@pytest.mark.parametrize("command", [
    ["compare", "{five}", "--set", "roles.se.headcount=3", "--set", "roles.ae.headcount=5"],
    ["sweep", "{five}", "--set", "roles.se.headcount=1..3"],
    ["sweep", "{five}", "--set", "roles.se.headcount=1..2", "--set", "roles.ae.headcount=3,5"],
], ids=["compare", "sweep", "sweep-grid"])
def test_compare_and_sweep_pages(browser: Any, tmp_path: Path, command: list[str]) -> None:
    five = str(ROOT / "processes" / "five-step.yaml")
    args = [five if a == "{five}" else a for a in command]
    visit = Visit(browser, page_of(tmp_path, *args, *FAST))
    assert_clean(visit, tmp_path, charts=1)


def test_measure_forecast_and_backtest_pages(browser: Any, tmp_path: Path) -> None:
    export = [str(ROOT / "examples" / "five-step-salesforce" / n)
              for n in ("Opportunity.csv", "OpportunityHistory.csv")]
    five = str(ROOT / "processes" / "five-step.yaml")
    for args, charts in ((["measure", *export, "--process", five], 2),
                         (["forecast", *export, "--process", five, "--horizon", "8w",
                           "-r", "5"], 1),
                         (["backtest", *export, "--process", five, "--from", "2026-08-01",
                           "--to", "2026-08-01", "--horizon", "28d", "-r", "5"], 1)):
        visit = Visit(browser, page_of(tmp_path, *args))
        assert_clean(visit, tmp_path, charts)


def test_review_page_with_names_from_a_hostile_export(browser: Any, tmp_path: Path) -> None:
    """The review's page, on an export whose owners and deal names hold HTML, quotes and
    '&': it loads clean (no console error, no request, no dialog, no script), both charts
    are drawn with their numbers, and the names show as text, as written."""
    from tests.test_review import HOSTILE_DEAL, HOSTILE_OWNERS, hostile_export

    visit = Visit(browser, page_of(tmp_path, *hostile_export(tmp_path)))
    assert_clean(visit, tmp_path, charts=2)
    assert [c["name"] for c in visit.charts()] == ["waterfall", "cohort-trend"]
    assert visit.dialogs == []
    assert visit.page.evaluate("() => document.querySelectorAll('script').length") == 0
    shown = visit.page.evaluate("() => document.body.innerText")
    assert HOSTILE_OWNERS[0] in shown and HOSTILE_DEAL in shown


def test_text_from_the_process_file_shows_as_text(browser: Any, tmp_path: Path) -> None:
    visit = Visit(browser, page_of(tmp_path, "simulate", str(hostile_process(tmp_path)),
                                   *FAST))
    assert visit.dialogs == [] and visit.errors == []
    assert visit.page.evaluate("() => document.querySelectorAll('script').length") == 0
    shown = visit.page.evaluate("() => document.body.innerText")
    assert HOSTILE in shown
    # and inside the charts' SVG, as text too
    in_svg = visit.page.evaluate("""() => [...document.querySelectorAll(
        'figure.chart svg text')].map(t => t.textContent).join(' ')""")
    assert "<script>alert(1)</script>" in in_svg


def test_playbook_drawings_render_legibly(browser: Any, tmp_path: Path) -> None:
    if shutil.which("dot") is None:
        pytest.skip("the HTML playbook needs Graphviz")
    target = tmp_path / "playbook.html"
    result = run("playbook", str(ROOT / "processes" / "five-step.yaml"), "--format", "html",
                 "-o", str(target))
    assert result.exit_code == 0, result.output
    visit = Visit(browser, target)
    assert visit.errors == [] and visit.elsewhere() == []
    # the reports' page shell, with their Content-Security-Policy in force
    policy = visit.page.evaluate("""() => document.querySelector(
        'meta[http-equiv="Content-Security-Policy"]')?.content""")
    assert policy == POLICY
    assert visit.page.evaluate("() => document.querySelector('footer').textContent"
                               ).startswith("Made by salesproc")
    frames = visit.page.evaluate("() => document.querySelectorAll('.diagram').length")
    assert frames == 1 + 3  # the whole process, then one per buyer type
    # the whole process opens fitted to the page; a click shows it at its natural size,
    # where every drawing's text is legible
    fitted, natural = zoom(visit, ".diagram.zoom")
    assert fitted <= 1280 < natural
    sizes = visit.page.evaluate("""() => [...document.querySelectorAll('.diagram svg text')]
        .map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)""")
    assert len(sizes) > 50
    assert min(sizes) >= 10, min(sizes)
    shot = tmp_path / "playbook.png"
    visit.page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
