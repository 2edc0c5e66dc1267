"""`salesproc simulate` through the CLI: formats, determinism, event log, bad input."""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
from pathlib import Path

import pytest

from salesproc.core.layout import LAYOUT_VERSION
from tests.conftest import CASES, ROOT, run

# quick runs; one more person per role is tried in tests/test_bottleneck.py, not here
FAST = ["--replications", "4", "--horizon", "120", "--warmup", "20", "--no-hires"]


def test_table_leads_with_the_answers(five_step: Path) -> None:
    result = run("simulate", str(five_step), *FAST, "-w", "1")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Five-step B2B sales process"
    assert lines[2] == "From Mon 2026-01-05; the team works Mon-Fri 9:00-17:00, 5 holidays"
    assert lines[3].startswith("± is the 95% confidence interval of the mean")
    assert lines[4].startswith("worst–best case is the 10th to 90th percentile of the runs")
    assert [line.split()[0] for line in lines[6:14]] == [
        "Won", "Revenue", "Lead-to-win", "Opportunity", "Cycle", "Throughput", "Waiting",
        "Bottleneck"]
    assert "worst–best case" in lines[6] and "worst–best case" in lines[7]
    for section in ("By buyer type", "Time in stage", "Roles", "Lost deals by stage"):
        assert section in result.output


@pytest.mark.fresh_runs  # the engine's own runs, not ones handed again
def test_same_seed_gives_byte_identical_json(five_step: Path) -> None:
    first = run("simulate", str(five_step), *FAST, "--format", "json", "-w", "1")
    again = run("simulate", str(five_step), *FAST, "--format", "json", "-w", "1")
    assert first.exit_code == 0
    assert first.output == again.output
    other = run("simulate", str(five_step), *FAST, "--format", "json", "--seed", "2")
    assert other.output != first.output


@pytest.mark.fresh_runs  # the engine's own runs, not ones handed again
def test_workers_do_not_change_results(five_step: Path) -> None:
    one = run("simulate", str(five_step), *FAST, "--format", "json", "--workers", "1")
    two = run("simulate", str(five_step), *FAST, "--format", "json", "--workers", "2")
    assert one.output == two.output


def test_json_layout(five_step: Path) -> None:
    data = json.loads(run("simulate", str(five_step), *FAST, "--format", "json").output)
    assert data["layout"] == LAYOUT_VERSION and data["kind"] == "simulation"
    assert set(data) >= {"process", "settings", "overall", "buyer_types", "stages", "roles",
                         "lost_reasons", "queues", "bottleneck", "warnings"}
    won = data["overall"]["won"]
    assert won["low"] <= won["mean"] <= won["high"]
    assert set(data["stages"]) == {"inquiry", "call", "demo", "proposal", "agreement"}
    assert data["settings"] == {"horizon": 120.0, "warmup": 20.0, "replications": 4,
                                "seed": 1, "only_buyer": None, "opportunity_stage": "call"}
    assert data["buyer"] is None
    assert won["n"] == 4
    total = sum(b["leads"]["mean"] for b in data["buyer_types"].values())
    assert total == pytest.approx(data["overall"]["leads"]["mean"])


def test_csv_output_to_file_is_written_atomically(five_step: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    out.write_text("old results\n")
    result = run("simulate", str(five_step), *FAST, "--format", "csv", "-o", str(out))
    assert result.exit_code == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert {"scope", "subject", "metric", "mean", "low", "high", "n", "worst", "neutral",
            "best"} == set(rows[0])
    assert any(r["scope"] == "all" and r["metric"] == "won" for r in rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]


def test_event_log_has_one_row_per_stage_visit(five_step: Path, tmp_path: Path) -> None:
    log = tmp_path / "events.csv"
    result = run("simulate", str(five_step), "--replications", "2", "--horizon", "60",
                 "--warmup", "0", "--format", "json", "--events", str(log))
    assert result.exit_code == 0
    rows = list(csv.DictReader(log.read_text().splitlines()))
    assert list(rows[0]) == ["replication", "deal", "buyer_type", "stage", "entered",
                             "started", "finished", "outcome", "role", "value"]
    assert {r["replication"] for r in rows} == {"1", "2"}
    for r in rows:
        if r["outcome"] == "open":  # still in the stage at the end: no start or finish yet
            assert r["started"] == r["finished"] == "" and float(r["entered"]) <= 60
            continue
        assert float(r["entered"]) <= float(r["started"]) <= float(r["finished"])
        assert float(r["value"]) > 0
    first = [r for r in rows if r["replication"] == "1"]
    # the deals' paths chain: each visit's outcome is the next visit's stage
    by_deal: dict[str, list[dict[str, str]]] = {}
    for r in first:
        by_deal.setdefault(r["deal"], []).append(r)
    for visits in by_deal.values():
        for before, after in itertools.pairwise(visits):
            assert before["outcome"] in (after["stage"], f"rejected: back to {after['stage']}")


def test_only_buyer_simulates_one_buyer_types_leads(five_step: Path) -> None:
    data = json.loads(run("simulate", str(five_step), *FAST, "--format", "json",
                          "--only-buyer", "committee").output)
    assert list(data["buyer_types"]) == ["committee"]
    assert data["settings"]["only_buyer"] == "committee" and data["buyer"] is None
    assert data["overall"]["leads"]["mean"] == data["buyer_types"]["committee"]["leads"]["mean"]
    table = run("simulate", str(five_step), *FAST, "--only-buyer", "committee", "-w", "1")
    assert table.stdout.splitlines()[0].endswith("— Buying committee leads only")


def test_buyer_reports_one_buyer_type_of_a_run_with_everyone(five_step: Path) -> None:
    """simulate --buyer means what it means in compare, sweep and measure: the same run
    of every buyer type (they share the team), reported for one of them."""
    everyone = json.loads(run("simulate", str(five_step), *FAST, "--format", "json").stdout)
    reported = json.loads(run("simulate", str(five_step), *FAST, "--format", "json",
                              "--buyer", "committee").stdout)
    assert reported.pop("buyer") == "committee" and everyone.pop("buyer") is None
    assert reported == everyone  # nothing simulated differently, nobody left out
    alone = json.loads(run("simulate", str(five_step), *FAST, "--format", "json",
                           "--only-buyer", "committee").stdout)
    committee = everyone["buyer_types"]["committee"]
    assert alone["buyer_types"]["committee"]["cycle_mean"] != committee["cycle_mean"]
    table = run("simulate", str(five_step), *FAST, "--buyer", "committee", "-w", "1").stdout
    lines = table.splitlines()
    assert lines[0] == "Five-step B2B sales process — Buying committee deals"
    assert "every buyer type is simulated, for they share the team" in table
    won = next(line for line in lines if line.startswith("  Won deals"))
    assert f"of {committee['leads']['mean']:,.0f} leads" in won
    assert f"{committee['won']['mean']:,.1f} ±" in won
    page = run("simulate", str(five_step), *FAST, "--buyer", "committee", "-w", "1",
               "--format", "html").stdout
    assert "figures of Buying committee deals (every buyer type is simulated" in page
    both = run("simulate", str(five_step), *FAST, "--buyer", "committee", "--only-buyer",
               "standard")
    assert both.exit_code == 2 and "no deals of buyer type 'committee'" in both.output


def test_simulate_buyer_in_the_library_is_the_clis(five_step: Path) -> None:
    from salesproc import simulate

    reported = simulate(five_step, replications=2, horizon="60d", warmup=0, buyer="standard")
    everyone = simulate(five_step, replications=2, horizon="60d", warmup=0)
    assert reported.buyer == "standard" and reported.settings.only_buyer is None
    assert reported.replications == everyone.replications
    alone = simulate(five_step, replications=2, horizon="60d", warmup=0, only_buyer="standard")
    assert alone.settings.only_buyer == "standard"
    assert alone["all", "leads"].mean == alone["buyer", "standard", "leads"].mean


@pytest.mark.parametrize(("args", "message"), [
    (["--buyer", "comittee"], "unknown buyer type 'comittee'"),
    (["--horizon", "10", "--warmup", "20"], "shorter than the horizon"),
    (["--horizon", "1e9"], "at most 1,000,000 days"),
    (["--horizon", "1e400"], "is not a duration above 0"),
    (["--horizon", "0"], "is not a duration above 0"),
    (["--horizon", "60"], "leaves nothing to measure after the file's 60 days warm-up"),
    (["--warmup", "-1"], "is not a duration of at least 0"),
    (["-r", "0"], "0 is not in the range 1<=x<=10000"),
    (["-r", "1000000000"], "is not in the range 1<=x<=10000"),
    (["-r", "2.5"], "'2.5' is not a valid integer"),
    (["-w", "0"], "0 is not in the range 1<=x<=256"),
    (["-w", "1000"], "1000 is not in the range 1<=x<=256"),
])
def test_bad_option_values_are_usage_errors(five_step: Path, args: list[str], message: str
                                            ) -> None:
    result = run("simulate", str(five_step), *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_a_run_too_large_is_refused_before_it_starts(five_step: Path) -> None:
    result = run("simulate", str(five_step), "--replications", "10000", "--horizon", "30000")
    assert result.exit_code == 1
    assert "leads, more than 50,000,000" in result.output


def test_bad_duration_option_is_a_usage_error(five_step: Path) -> None:
    result = run("simulate", str(five_step), "--horizon", "a year")
    assert result.exit_code == 2
    assert "is not a duration" in result.output


def test_invalid_process_never_simulates() -> None:
    result = run("simulate", str(CASES / "invalid" / "SP201-unknown-next.yaml"))
    assert result.exit_code == 1
    assert "SP201" in result.output and "Won deals" not in result.output


def test_process_where_no_lead_arrives_says_so(tmp_path: Path, five_step: Path) -> None:
    text = five_step.read_text().split("# Leads arrive")[0] + "arrivals: {rate: 0}\n"
    path = tmp_path / "no-leads.yaml"
    path.write_text(text)
    result = run("simulate", str(path))
    assert result.exit_code == 1
    assert "no leads arrive" in result.output


def test_process_without_arrivals_says_what_to_add(tmp_path: Path, five_step: Path) -> None:
    text = five_step.read_text().split("# Leads arrive")[0]
    path = tmp_path / "no-arrivals.yaml"
    path.write_text(text)
    result = run("simulate", str(path))
    assert result.exit_code == 1
    assert "has no arrivals" in result.output


def test_over_capacity_warns_that_the_queue_grows(tmp_path: Path) -> None:
    path = tmp_path / "busy.yaml"
    path.write_text((CASES / "invalid" / "SP501-over-capacity.yaml").read_text())
    result = run("simulate", str(path), "--replications", "2", "--horizon", "30")
    assert result.exit_code == 0
    assert "queue will grow without bound" in result.output


def test_horizon_accepts_units(five_step: Path) -> None:
    data = json.loads(run("simulate", str(five_step), "--horizon", "10w", "--warmup", "2w",
                          "-r", "2", "--format", "json").output)
    assert (data["settings"]["horizon"], data["settings"]["warmup"]) == (70.0, 14.0)


def test_library_one_call_simulation(five_step: Path) -> None:
    import salesproc

    process = salesproc.load(five_step)
    result = salesproc.simulate(process, replications=3, horizon=100, warmup=10, workers=1)
    won = result["all", "won"]
    assert won.n == 3 and won.low <= won.mean <= won.high
    assert result.settings.horizon == 100
    with pytest.raises(AttributeError):
        salesproc.no_such_thing  # noqa: B018


def test_a_loop_that_almost_never_exits_is_refused_not_run(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("""salesproc: 1
name: Endless rework
roles: {r: {title: R, headcount: 1}}
stages:
  - {id: s, name: S, owner: r, next: {s: 0.999, won: 0.001}}
buyer_types: {b: {name: B, share: 1, value: 1}}
arrivals: {rate: 1000}
""")
    result = run("simulate", str(path))
    assert result.exit_code == 1
    assert "stage visits, more than 100,000,000" in result.output


def test_a_horizon_that_leaves_little_after_the_files_warm_up_says_so(five_step: Path
                                                                      ) -> None:
    result = run("simulate", str(five_step), "--horizon", "90", "-r", "2", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["settings"]["warmup"] == 60.0  # the file's warm-up is kept, not dropped
    assert "only the last 30 days of 90 days are measured, after the file's 60 days " \
           "warm-up" in data["warnings"]


def test_a_window_shorter_than_a_week_prints_no_weekly_figure(five_step: Path) -> None:
    args = ["simulate", str(five_step), "--horizon", "66", "--warmup", "60", "-r", "2"]
    result = run(*args)
    assert result.exit_code == 0
    assert "Throughput         – (only 6 days measured: too short for a weekly figure)" \
        in result.output
    data = json.loads(run(*args, "--format", "json").output)
    assert data["overall"]["throughput_week"]["mean"] is None
    month = run("simulate", str(five_step), "--horizon", "80", "--warmup", "60", "-r", "2")
    assert "wins a week (too short a run for a monthly figure)" in month.output


def test_figures_say_how_many_replications_they_rest_on(tmp_path: Path) -> None:
    # one lead in a hundred is a committee deal: in most runs of 30 days none is won
    path = tmp_path / "rare.yaml"
    path.write_text("""
salesproc: 1
name: Rare
roles: {ae: {title: AE, headcount: 5}}
stages:
  - {id: call, name: Call, owner: ae, work: 0.1, next: {won: 0.5}}
buyer_types:
  common: {name: Common, share: 0.99, value: 100}
  rare: {name: Rare, share: 0.01, value: 100}
arrivals: {rate: 2}
""")
    result = run("simulate", str(path), "--horizon", "30", "-r", "8", "--format", "json")
    data = json.loads(result.output)
    cycle = data["buyer_types"]["rare"]["cycle_mean"]
    assert 0 < cycle["n"] < 8  # cycle time exists only in runs where a rare deal was won
    table = run("simulate", str(path), "--horizon", "30", "-r", "8").output
    assert f"[{cycle['n']} of 8 runs]" in table
    # counts never get an interval below zero
    for figures in data["buyer_types"].values():
        for estimate in figures.values():
            assert estimate["low"] is None or estimate["low"] >= 0


def test_one_replication_shows_no_interval(five_step: Path) -> None:
    result = run("simulate", str(five_step), *FAST[2:], "-r", "1")
    assert result.exit_code == 0
    assert "(one run: no interval)" in result.output
    assert " ± " not in result.output.split("\n", 4)[4]


def test_worst_and_best_case_are_the_10th_and_90th_percentile_of_the_runs(five_step: Path
                                                                         ) -> None:
    import numpy as np

    from salesproc import simulate
    from salesproc.sim.metrics import Key

    result = simulate(five_step, replications=8, horizon="120d", warmup=0)
    runs = [r[Key("all", "", "won")] for r in result.replications]
    assert result.outcome("all", "won") == tuple(np.percentile(runs, [10, 50, 90]))
    data = result.to_dict()["overall"]["won"]
    assert (data["worst"], data["neutral"], data["best"]) == result.outcome("all", "won")
    one = simulate(five_step, replications=1, horizon="60d", warmup=0)
    assert all(math.isnan(x) for x in one.outcome("all", "won"))  # one run: no range


def test_a_file_without_a_start_starts_on_the_documented_fixed_day(tmp_path: Path) -> None:
    """Without simulation.start the run starts on defaults.DEFAULT_START, a Monday the
    format reference (docs/format.md) names: the same day (and the same months) whichever
    day the file is run."""
    from salesproc.core.defaults import DEFAULT_START

    path = tmp_path / "no-start.yaml"
    path.write_text("""salesproc: 1
name: No start
roles: {r: {title: R, headcount: 2}}
stages:
  - {id: s, name: S, owner: r, work: 0.5, next: {won: 0.5}}
buyer_types: {b: {name: B, share: 1, value: 100}}
arrivals: {rate: 2, campaigns: [{name: Launch, at: 2026-02-02, leads: 50}]}
simulation: {horizon: 60, replications: 2}
""")
    result = run("simulate", str(path), "--format", "json", "-w", "1")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert DEFAULT_START.weekday() == 0
    assert data["process"]["start"] == DEFAULT_START.isoformat() == "2026-01-05"
    assert list(data["months"])[:2] == ["2026-01", "2026-02"]
    reference = (Path(__file__).resolve().parent.parent / "docs" / "format.md")
    assert f"default {DEFAULT_START.isoformat()}, a Monday" in reference.read_text("utf-8")
    assert run("simulate", str(path), "--format", "json", "-w", "1").stdout == result.stdout


def test_the_environment_sets_how_many_workers_a_command_uses(
        five_step: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SALESPROC_WORKERS is the default of --workers (a CI job allowed fewer cores than
    the machine shows); results never depend on it; a value that is no number of
    workers is a kind error."""
    monkeypatch.setenv("SALESPROC_WORKERS", "1")
    one = run("simulate", str(five_step), *FAST, "--format", "json")
    monkeypatch.setenv("SALESPROC_WORKERS", "2")
    two = run("simulate", str(five_step), *FAST, "--format", "json")
    assert one.exit_code == two.exit_code == 0, one.output + two.output
    assert json.loads(one.stdout)["overall"] == json.loads(two.stdout)["overall"]
    monkeypatch.setenv("SALESPROC_WORKERS", "all")
    bad = run("simulate", str(five_step), *FAST)
    assert bad.exit_code == 1
    assert "SALESPROC_WORKERS='all' is no number of workers" in bad.output
    assert "a whole number from 1 to" in bad.output


def test_an_output_onto_an_input_names_the_option_it_came_from(tmp_path: Path) -> None:
    """--events (and calibrate's --check-json) onto the process file is refused on that
    option, and the file is kept."""
    import shutil

    process = tmp_path / "p.yaml"
    shutil.copy(ROOT / "processes" / "five-step.yaml", process)
    before = process.read_bytes()
    done = run("simulate", str(process), *FAST, "--events", str(process))
    assert done.exit_code == 2 and "Invalid value for --events" in done.output
    assert process.read_bytes() == before


def test_a_setting_given_twice_is_a_usage_error(tmp_path: Path) -> None:
    """Of two --set options for one setting, one would be dropped without a word."""
    five = str(ROOT / "processes" / "five-step.yaml")
    for command in (["simulate", five], ["compare", five]):
        done = run(*command, "--set", "roles.se.headcount=3", "--set",
                   "roles.se.headcount = 1", *FAST[:-1])
        assert done.exit_code == 2, done.output
        assert "roles.se.headcount is given twice" in done.output


def test_several_outputs_from_one_run_each_in_the_format_its_name_says(
        five_step: Path, tmp_path: Path) -> None:
    names = ["run.txt", "run.json", "run.csv", "run.html"]
    result = run("simulate", str(five_step), *FAST, *itertools.chain.from_iterable(
        ("-o", str(tmp_path / n)) for n in names))
    assert result.exit_code == 0, result.output
    for name in names:
        assert f"wrote {tmp_path / name}" in result.output
    for name, fmt in zip(names, ["table", "json", "csv"], strict=False):
        alone = run("simulate", str(five_step), *FAST, "--format", fmt)
        assert (tmp_path / name).read_text("utf-8") == alone.output, name
    page = (tmp_path / "run.html").read_text("utf-8")  # the page of the same run
    table = (tmp_path / "run.txt").read_text("utf-8")
    won = re.search(r"Won deals .* worst–best case (\S+)", table)
    assert won and page.startswith("<!doctype html>")
    assert 'Deals won</div><div class="big">' in page and f"worst–best case {won[1]}<" in page
    # one -o without --format: the format its name says; --format says another
    run("simulate", str(five_step), *FAST, "-o", str(tmp_path / "one.json"))
    assert json.loads((tmp_path / "one.json").read_text("utf-8"))["kind"] == "simulation"
    run("simulate", str(five_step), *FAST, "--format", "csv", "-o", str(tmp_path / "x.json"))
    assert (tmp_path / "x.json").read_text("utf-8").startswith("scope,")


@pytest.mark.parametrize(("args", "said"), [
    (["--format", "json", "-o", "a.json", "-o", "b.html"], "give --format with one -o"),
    (["-o", "a.json", "-o", "b.out"], "-o b.out: with several -o, each file's name ends "
     "with its format: .txt, .json, .csv, .html, .htm"),
    (["-o", "a.json", "-o", "-"], "-o -: with several -o"),
    (["-o", "a.json", "-o", "./a.json"], "is named for two outputs"),
    (["-o", "sibling.yaml"], "sibling.yaml is named as a process file, not a report"),
])
def test_several_outputs_that_cannot_be_written_are_usage_errors(
        five_step: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str],
        said: str) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("simulate", str(five_step), *FAST, *args)
    assert result.exit_code == 2 and said in result.output, result.output
    assert list(tmp_path.iterdir()) == []  # refused before any work: nothing written
