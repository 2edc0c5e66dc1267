"""`salesproc simulate` through the CLI: formats, determinism, event log, bad input."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import pytest

from tests.conftest import CASES, run

FAST = ["--replications", "4", "--horizon", "120", "--warmup", "20"]


def test_table_leads_with_the_answers(five_step: Path) -> None:
    result = run("simulate", str(five_step), *FAST, "-w", "1")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Five-step B2B sales process"
    assert [line.split()[0] for line in lines[3:9]] == [
        "Won", "Revenue", "Win", "Cycle", "Throughput", "Bottleneck"]
    for section in ("By buyer type", "Time in stage", "Roles", "Lost deals by stage"):
        assert section in result.output


def test_same_seed_gives_byte_identical_json(five_step: Path) -> None:
    first = run("simulate", str(five_step), *FAST, "--format", "json", "-w", "1")
    again = run("simulate", str(five_step), *FAST, "--format", "json", "-w", "1")
    assert first.exit_code == 0
    assert first.output == again.output
    other = run("simulate", str(five_step), *FAST, "--format", "json", "--seed", "2")
    assert other.output != first.output


def test_workers_do_not_change_results(five_step: Path) -> None:
    one = run("simulate", str(five_step), *FAST, "--format", "json", "--workers", "1")
    two = run("simulate", str(five_step), *FAST, "--format", "json", "--workers", "2")
    assert one.output == two.output


def test_json_layout(five_step: Path) -> None:
    data = json.loads(run("simulate", str(five_step), *FAST, "--format", "json").output)
    assert data["layout"] == 1
    assert set(data) >= {"process", "settings", "overall", "buyer_types", "stages", "roles",
                         "lost_reasons", "queues", "bottleneck", "warnings"}
    won = data["overall"]["won"]
    assert won["low"] <= won["mean"] <= won["high"]
    assert set(data["stages"]) == {"inquiry", "call", "demo", "proposal", "agreement"}
    assert data["settings"] == {"horizon": 120.0, "warmup": 20.0, "replications": 4,
                                "seed": 1, "buyer": None}
    total = sum(b["leads"]["mean"] for b in data["buyer_types"].values())
    assert total == pytest.approx(data["overall"]["leads"]["mean"])


def test_csv_output_to_file_is_written_atomically(five_step: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    out.write_text("old results\n")
    result = run("simulate", str(five_step), *FAST, "--format", "csv", "-o", str(out))
    assert result.exit_code == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert {"scope", "subject", "metric", "mean", "low", "high"} == set(rows[0])
    assert any(r["scope"] == "all" and r["metric"] == "won" for r in rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]


def test_event_log_has_one_row_per_stage_visit(five_step: Path, tmp_path: Path) -> None:
    log = tmp_path / "events.csv"
    result = run("simulate", str(five_step), "--replications", "2", "--horizon", "60",
                 "--warmup", "0", "--format", "json", "--events", str(log))
    assert result.exit_code == 0
    rows = list(csv.DictReader(log.read_text().splitlines()))
    assert list(rows[0]) == ["replication", "deal", "buyer_type", "stage", "entered",
                             "started", "finished", "outcome", "role"]
    assert {r["replication"] for r in rows} == {"1", "2"}
    for r in rows:
        assert float(r["entered"]) <= float(r["started"]) <= float(r["finished"])
    first = [r for r in rows if r["replication"] == "1"]
    # the deals' paths chain: each visit's outcome is the next visit's stage
    by_deal: dict[str, list[dict[str, str]]] = {}
    for r in first:
        by_deal.setdefault(r["deal"], []).append(r)
    for visits in by_deal.values():
        for before, after in itertools.pairwise(visits):
            assert before["outcome"] in (after["stage"], f"rejected: back to {after['stage']}")


def test_buyer_option_simulates_one_buyer_type(five_step: Path) -> None:
    data = json.loads(run("simulate", str(five_step), *FAST, "--format", "json",
                          "--buyer", "committee").output)
    assert list(data["buyer_types"]) == ["committee"]
    assert data["overall"]["leads"]["mean"] == data["buyer_types"]["committee"]["leads"]["mean"]


@pytest.mark.parametrize(("args", "message"), [
    (["--buyer", "comittee"], "unknown buyer type 'comittee'"),
    (["--horizon", "10", "--warmup", "20"], "shorter than the horizon"),
    (["--horizon", "1e9"], "not a sensible run length"),
    (["--replications", "10000", "--horizon", "100000"], "leads, more than"),
])
def test_bad_settings_are_kind_errors(five_step: Path, args: list[str], message: str) -> None:
    result = run("simulate", str(five_step), *args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


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
