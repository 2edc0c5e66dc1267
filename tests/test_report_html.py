"""The pictures of results: charts, the HTML page, the coloured flowchart, --charts, and
what compare and sweep show (--buyer, the two-setting grid, progress)."""

from __future__ import annotations

import functools
import json
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from salesproc import charts, check_text, load
from salesproc.core.layout import LAYOUT_VERSION
from salesproc.core.stats import Estimate
from salesproc.core.units import convert
from salesproc.drawing import results_dot
from salesproc.drawing.results import WIDEST
from salesproc.experiments.compare import compare, headline
from salesproc.process.model import Settings
from salesproc.sim.metrics import Key
from tests.conftest import PROCESSES, ROOT, run

FAST = ["-r", "3", "--horizon", "120", "--warmup", "20", "-w", "1"]


def fast_for(path: Path) -> list[str]:
    """FAST in *path*'s own time unit (120 and 20 of its hours, days or weeks): a bare
    number is days, which a process counting in hours or weeks refuses."""
    short = {"day": "d", "hour": "h", "week": "w"}[load(path).time_unit]
    return ["-r", "3", "--horizon", f"120{short}", "--warmup", f"20{short}", "-w", "1"]


HOSTILE = '<script>alert(1)</script> & "Pay $5k" deposit'
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed")


def hostile_process(tmp_path: Path) -> Path:
    """Five-step with a stage, a role and a buyer type named to break HTML, SVG, DOT and
    matplotlib's math text."""
    text = (ROOT / "processes" / "five-step.yaml").read_text("utf-8")
    text = text.replace("name: Prospect requests information", f"name: {json.dumps(HOSTILE)}")
    text = text.replace("title: Sales development rep", "title: \"R&D <b>rep</b> $x$\"")
    path = tmp_path / "hostile.yaml"
    path.write_text(text, "utf-8")
    assert check_text(text).process is not None
    return path


@functools.cache
def printed(*args: str) -> str:
    """What `salesproc ARGS` prints, run once for all the tests that look at it (a run is
    a pure function of its arguments and files): the charts of five-step's quick run,
    say, are drawn from one run by five tests."""
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def simulation(path: Path, *extra: str) -> dict:
    """The JSON of a quick run of *path*: a new dict each time, the test's to change."""
    return json.loads(printed("simulate", str(path), *FAST, *extra, "--format", "json"))


# --- charts -------------------------------------------------------------------------------


def test_every_simulation_chart_is_drawn_with_its_numbers(five_step: Path) -> None:
    data = simulation(five_step)
    drawn = {c.name: c for c in charts.simulation(data)}
    assert set(drawn) == {"funnel", "time-in-stage", "utilization", "cycle-time",
                          "in-progress", "monthly"}
    for chart in drawn.values():
        assert chart.table.rows and all(len(r) == len(chart.table.headers)
                                        for r in chart.table.rows)
        svg = chart.svg()
        assert svg.count("<path") > 5, chart.name
        assert chart.png().startswith(b"\x89PNG")
    # the funnel's table is the results: its first stage reached by every lead won or lost
    # (won + lost of each buyer type; no bar of leads beside it repeats the number), then
    # the reach of each later stage
    rows = drawn["funnel"].table.rows
    stages = data["process"]["names"]["stages"]
    for buyer, block in data["buyer_types"].items():
        name = data["process"]["names"]["buyer_types"][buyer]
        mine = [r for r in rows if r[0] == name]
        decided = block["won"]["mean"] + block["lost"]["mean"]
        assert mine[0][1] == stages["inquiry"] and float(mine[0][2].replace(",", "")) == \
            pytest.approx(decided, abs=0.05)
        assert mine[0][3] == "100%" and "Leads won or lost" not in [r[1] for r in mine]
        assert mine[-1][1] == "Won"
        assert float(mine[-1][2].replace(",", "")) == pytest.approx(block["won"]["mean"],
                                                                      abs=0.05)
        counts = [float(r[2].replace(",", "")) for r in mine[:-1]]
        assert counts == sorted(counts, reverse=True)  # a loss-only path narrows


def test_chart_text_is_escaped_and_dollars_are_not_math(tmp_path: Path) -> None:
    data = simulation(hostile_process(tmp_path), "--no-hires")
    svg = next(c for c in charts.simulation(data) if c.name == "time-in-stage").svg()
    assert "<script>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert "Pay $5k" in svg  # drawn as written, not as math


def test_sweep_charts_are_lines_for_one_setting_and_grids_for_two(five_step: Path) -> None:
    one = run("sweep", str(five_step), "--set", "roles.se.headcount=1..3", *FAST,
              "--format", "json")
    assert {c.name for c in charts.sweep(json.loads(one.stdout))} == {"sweep", "sweep-steps"}
    two = printed("sweep", str(five_step), "--set", "roles.se.headcount=1..3",
                  "--set", "roles.ae.headcount=3,5", *FAST, "--format", "json")
    drawn = {c.name: c for c in charts.sweep(json.loads(two))}
    assert set(drawn) == {"grid-won", "grid-revenue"}
    assert drawn["grid-won"].table.headers == ("roles.se.headcount \\ roles.ae.headcount",
                                               "3", "5")
    assert [r[0] for r in drawn["grid-won"].table.rows] == ["1", "2", "3"]


# --- the coloured flowchart ---------------------------------------------------------------


def test_flowchart_cards_carry_the_results_and_arrows_scale_with_flow(five_step: Path) -> None:
    process = load(five_step)
    data = simulation(five_step)
    dot = results_dot(process, data)
    months = convert(data["settings"]["horizon"] - data["settings"]["warmup"], "day", "month")
    inquiry = data["stages"]["inquiry"]["visits"]["mean"] / months
    assert f"{inquiry:,.1f} deals a month" in dot
    assert "BOTTLENECK" in dot and "Bottleneck:" in dot
    widths = [float(w) for w in re.findall(r'penwidth="?([0-9.]+)', dot)]
    assert max(widths) == pytest.approx(WIDEST, abs=0.01)
    # the widest arrow leaves the stage every deal passes: inquiry -> call
    edge = re.search(r"inquiry -> call \[[^\]]*penwidth=\"?([0-9.]+)", dot)
    assert edge and float(edge.group(1)) == pytest.approx(WIDEST, abs=0.01)


@needs_dot
def test_render_results_writes_svg_and_png(five_step: Path, tmp_path: Path) -> None:
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(simulation(five_step)))
    result = run("render", str(five_step), "--results", str(saved), "-o",
                 str(tmp_path / "flow.svg"))
    assert result.exit_code == 0, result.output
    assert "deals a month" in (tmp_path / "flow.svg").read_text("utf-8")
    result = run("render", str(five_step), "--results", str(saved), "--format", "png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(("content", "said"), [
    ('{"stages": ', "not valid JSON"),
    ('{"layout": 1}', f"in layout 1, not {LAYOUT_VERSION}: written by another version"),
    (f'{{"layout": {LAYOUT_VERSION}, "kind": "forecast"}}',
     "the JSON of a forecast, not of a simulation"),
    (f'{{"layout": {LAYOUT_VERSION}, "kind": "simulation"}}', "not the JSON of a simulation"),
    ("\xff\xfe", "not a text file"),
])
def test_render_results_refuses_what_is_not_a_result(five_step: Path, tmp_path: Path,
                                                     content: str, said: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content, "latin-1")
    result = run("render", str(five_step), "--results", str(bad), "--format", "dot")
    assert result.exit_code == 1 and said in result.output, result.output
    assert "Traceback" not in result.output


def test_render_results_refuses_another_process_and_damage(five_step: Path,
                                                          tmp_path: Path) -> None:
    saved = tmp_path / "run.json"
    data = simulation(five_step)
    saved.write_text(json.dumps(data))
    other = run("render", str(ROOT / "processes" / "inside-sales.yaml"), "--results",
                str(saved), "--format", "dot")
    assert other.exit_code == 1 and "stages the process does not" in other.output
    data["stages"]["inquiry"]["visits"]["mean"] = "many"
    saved.write_text(json.dumps(data))
    damaged = run("render", str(five_step), "--results", str(saved), "--format", "dot")
    assert damaged.exit_code == 1 and "damaged" in damaged.output
    mermaid = run("render", str(five_step), "--results", str(saved), "--format", "mermaid")
    assert mermaid.exit_code == 2 and "Graphviz" in mermaid.output


def test_render_results_draws_the_buyer_type_simulated(five_step: Path, tmp_path: Path) -> None:
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(simulation(five_step, "--only-buyer", "committee",
                                           "--no-hires")))
    dot = run("render", str(five_step), "--results", str(saved), "--format", "dot")
    assert dot.exit_code == 0 and "Buying committee" in dot.output
    wrong = run("render", str(five_step), "--results", str(saved), "--buyer", "standard",
                "--format", "dot")
    assert wrong.exit_code == 2 and "buyer type 'committee'" in wrong.output


# --- the HTML page and --charts -------------------------------------------------------------


def test_html_page_is_self_contained_and_escaped(tmp_path: Path) -> None:
    result = run("simulate", str(hostile_process(tmp_path)), *FAST, "--format", "html")
    assert result.exit_code == 0, result.output
    page = result.stdout
    assert page.startswith("<!doctype html>")
    assert "<script" not in page.replace("&lt;script", "")
    assert re.search(r"(src|href)=\"(https?:)?//", page) is None  # nothing fetched
    assert "default-src 'none'" in page
    assert page.count('<figure class="chart"') == 6
    assert page.count("<table>") >= 6  # every chart's numbers in a table
    for card in ("Bottleneck", "Waiting"):  # where to hire; the two waits apart
        assert f'<div class="label">{card}</div>' in page


@pytest.mark.parametrize("command", [
    ["compare", "{five}", "--set", "roles.se.headcount=3"],
    ["sweep", "{five}", "--set", "roles.se.headcount=1..3"],
])
def test_compare_and_sweep_pages_and_chart_files(command: list[str], tmp_path: Path) -> None:
    five = str(ROOT / "processes" / "five-step.yaml")
    args = [five if a == "{five}" else a for a in command]
    folder = tmp_path / "slides"
    result = run(*args, *FAST, "--format", "html", "-o", str(tmp_path / "page.html"),
                 "--charts", str(folder))
    assert result.exit_code == 0, result.output
    page = (tmp_path / "page.html").read_text("utf-8")
    names = sorted(p.stem for p in folder.glob("*.svg"))
    assert names and names == sorted(p.stem for p in folder.glob("*.png"))
    for name in names:
        assert f'data-chart="{name}"' in page


def test_charts_folder_that_is_a_file_is_refused(five_step: Path, tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("mine")
    result = run("simulate", str(five_step), *FAST, "--no-hires", "--charts", str(taken))
    assert result.exit_code == 2 and "is a file" in result.output
    assert taken.read_text() == "mine"


def test_measure_and_forecast_pages(tmp_path: Path) -> None:
    export = [str(ROOT / "examples" / "five-step-salesforce" / n)
              for n in ("Opportunity.csv", "OpportunityHistory.csv")]
    five = str(ROOT / "processes" / "five-step.yaml")
    measured = run("measure", *export, "--process", five, "--format", "html",
                   "--charts", str(tmp_path / "m"))
    assert measured.exit_code == 0, measured.output
    assert 'data-chart="pipeline"' in measured.output
    assert 'data-chart="measured-time"' in measured.output
    # what a leader forwards the page for, as measure's own tables say it
    for heading in ("Why deals were lost", "Where deals went from each stage",
                    "By buyer type", "New deals by month created, and how far they got"):
        assert f"<h2>{heading}</h2>" in measured.stdout
    assert "<td>no response</td><td class=\"n\">468</td>" in measured.stdout
    assert "<td>Buying committee</td>" in measured.stdout
    committee = run("measure", *export, "--process", five, "--format", "html", "--buyer",
                    "committee")
    assert committee.exit_code == 0 and "Buying committee deals only." in committee.stdout
    assert "<h2>By buyer type</h2>" not in committee.stdout
    deals = json.loads(run("measure", *export, "--process", five, "--format",
                           "json").stdout)["buyer_types"]["committee"]["deals"]
    assert f'<div class="big">{deals:,}</div>' in committee.stdout
    forecast = run("forecast", *export, "--process", five, "--horizon", "8w", "-r", "5",
                   "--format", "html", "-o", str(tmp_path / "f.html"))
    assert forecast.exit_code == 0, forecast.output
    page = (tmp_path / "f.html").read_text("utf-8")
    assert 'data-chart="forecast"' in page
    # the CRM's figures in words, not the JSON's keys; the two quarters the 8 weeks span
    assert ">Weighted by the CRM" in page and ">Open deals<" in page
    assert not re.search(r">(open_deals|open_value|weighted_pipeline|category )", page)
    assert "By quarter: neutral case (worst–best)" in page
    # 26 November to 21 January: both only partly, and the page says so as the text does
    assert '<td class="n">2026-Q4 (part)</td>' in page
    assert '<td class="n">2027-Q1 (part)</td>' in page


# --- compare and sweep: --buyer, the grid, progress ---------------------------------------


def test_compare_for_one_buyer_type_reports_its_deals(five_step: Path) -> None:
    process = load(five_step)
    slower = load(five_step, ["buyer_types.committee.stages.demo.delay=15"])
    settings = Settings(horizon=200, warmup=20, replications=4, seed=3, workers=1)
    done = compare(("base", process), [("slower", slower)], settings, buyer="committee")
    assert [h.key for h in done.headline] == [h.key for h in headline("committee")]
    key = Key("buyer", "committee", "cycle_mean")
    pairs = zip(done.base.result.replications, done.variants[0].result.replications,
                strict=True)
    expected = Estimate.of([v[key] - b[key] for b, v in pairs])
    data = done.to_dict()["variants"][0]["figures"]["cycle_mean"]["difference"]
    assert data["mean"] == pytest.approx(expected.mean, rel=1e-12)
    result = run("compare", str(five_step), "--set",
                 "buyer_types.committee.stages.demo.delay=15", "-r", "4", "--horizon", "200",
                 "--warmup", "20", "--seed", "3", "-w", "1", "--buyer", "committee",
                 "--format", "json")
    said = json.loads(result.stdout)
    assert said["buyer"] == "committee"
    assert said["variants"][0]["figures"]["cycle_mean"]["difference"]["mean"] == \
        pytest.approx(expected.mean, rel=1e-12)


def test_unknown_buyer_type_is_refused_by_compare_and_sweep(five_step: Path) -> None:
    for command in (["compare", str(five_step), "--set", "roles.se.headcount=3"],
                    ["sweep", str(five_step), "--set", "roles.se.headcount=1..2"]):
        result = run(*command, *FAST, "--buyer", "nobody")
        assert result.exit_code == 2 and "no buyer type 'nobody'" in result.output


def test_two_setting_sweep_is_a_grid_with_steps_within_rows(five_step: Path) -> None:
    args = ["sweep", str(five_step), "--set", "roles.se.headcount=1..3",
            "--set", "roles.ae.headcount=3,5", *FAST]
    data = json.loads(printed(*args, "--format", "json"))
    steps = [p["won_vs_previous"] is not None for p in data["points"]]
    assert steps == [False, True] * 3  # the first cell of each row starts again
    assert data["step_confidence"] == pytest.approx(1 - 0.05 / 3)
    text = run(*args).stdout
    header = next(line for line in text.splitlines() if "\\ roles.ae.headcount" in line)
    assert header.split()[-2:] == ["3", "5"]
    for heading in ("Won deals", "Revenue", "Lead-to-win rate", "Cycle time",
                    "Longest wait for people"):
        assert heading in text


@pytest.mark.parametrize("command", [
    ["compare", "{five}", "--set", "roles.se.headcount=3"],
    ["sweep", "{five}", "--set", "roles.se.headcount=1..2"],
])
def test_compare_and_sweep_show_progress_on_a_terminal(command: list[str]) -> None:
    five = str(ROOT / "processes" / "five-step.yaml")
    args = [five if a == "{five}" else a for a in command]
    leader, follower = pty.openpty()
    done = subprocess.run([sys.executable, "-m", "salesproc", *args, *FAST],
                          stdout=subprocess.DEVNULL, stderr=follower, timeout=300,
                          check=False)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert done.returncode == 0
    assert b"simulating" in seen and b"100%" in seen


def test_a_result_without_data_draws_no_empty_chart(five_step: Path) -> None:
    data = simulation(five_step)
    for block in data["buyer_types"].values():
        block["won"]["mean"] = block["lost"]["mean"] = 0.0
    data["months"] = {}
    data["cycle_distribution"]["overall"] = {p: {"mean": None} for p in
                                             data["cycle_distribution"]["percentiles"]}
    names = {c.name for c in charts.simulation(data)}
    assert names == {"time-in-stage", "utilization"}


@pytest.mark.parametrize("path", PROCESSES, ids=lambda p: p.stem)
def test_every_example_draws_its_charts(path: Path) -> None:
    result = run("simulate", str(path), *fast_for(path), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(charts.simulation(data)) >= 5


def test_without_graphviz_the_page_says_where_the_flowchart_would_be(five_step: Path) -> None:
    from click.testing import CliRunner

    from salesproc.cli import cli

    result = CliRunner().invoke(cli, ["simulate", str(five_step), *FAST, "--no-hires",
                                      "--format", "html"],
                                env={"PATH": ""}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "The flowchart needs Graphviz" in result.stdout
    assert result.stdout.count('<figure class="chart"') == 6


def test_charts_of_results_with_nothing_to_draw_write_nothing(five_step: Path,
                                                              tmp_path: Path) -> None:
    folder = tmp_path / "slides"
    result = run("compare", str(five_step), "--set", "roles.se.headcount=3", "-r", "1",
                 "--horizon", "60", "--warmup", "10", "-w", "1", "--charts", str(folder))
    assert result.exit_code == 0, result.output
    assert "no charts written" in result.output and not folder.exists()


def test_the_funnel_shows_the_leads_apart_only_where_some_enter_later() -> None:
    """Where deals enter at a later stage (enter:), the first stage is not every lead: the
    leads won or lost get their own bar above it."""
    from salesproc.charts import funnel

    def data(first: float) -> dict[str, object]:
        return {"process": {"names": {"stages": {"a": "Inquiry", "b": "Demo"},
                                      "buyer_types": {"x": "Buyer"}}},
                "stages": {"a": {}, "b": {}},
                "buyer_types": {"x": {"won": {"mean": 10.0}, "lost": {"mean": 30.0}}},
                "funnel": {"x": {"a": {"mean": first}, "b": {"mean": 25.0}}}}

    def steps(first: float) -> list[str]:
        chart = funnel.chart(data(first))
        assert chart is not None
        return [row[1] for row in chart.table.rows]

    assert steps(40.0) == ["Inquiry", "Demo", "Won"]
    assert steps(30.0) == ["Leads won or lost", "Inquiry", "Demo", "Won"]
