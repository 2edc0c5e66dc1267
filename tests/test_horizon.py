"""One meaning for a time on the command line: `--horizon 30` is 30 days in simulate,
compare, sweep, forecast and backtest, for every example process; where a process counts
time in another unit, the simulation commands (which once read a bare number in that
unit) refuse it and say what to write, and `30d` is the same 30 days there."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest

import salesproc
from salesproc.core.units import SpanError, convert, parse_span
from salesproc.process import analysis
from tests.conftest import PROCESSES, run

SPAN = 30.0  # days
WRITTEN = {"simulate": "30d", "compare": "720h", "sweep": f"{SPAN / 7:.15g}w"}  # 30 days too


def simulation_commands(path: Path, horizon: str) -> dict[str, list[str]]:
    """simulate, compare (the file against itself) and sweep (a role's headcount) of
    *path* with --horizon *horizon*, as cheap as they come."""
    proc = salesproc.load(path)
    role = next(iter(proc.roles))
    people = proc.roles[role].headcount
    quick = ["--horizon", horizon, "--warmup", "0", "--format", "json", "-w", "1"]
    return {"simulate": ["simulate", str(path), "-r", "1", *quick],
            "compare": ["compare", str(path), str(path), "-r", "2", *quick],
            "sweep": ["sweep", str(path), "--set", f"roles.{role}.headcount={people},"
                      f"{people + 1}", "-r", "2", *quick]}


def simulated_days(command: str, data: dict[str, object], unit: str) -> float:
    settings = data if command == "sweep" else data["settings"]
    assert isinstance(settings, dict)
    return convert(float(settings["horizon"]), unit, "day")


@pytest.mark.parametrize("path", PROCESSES, ids=[p.stem for p in PROCESSES])
def test_horizon_30_is_30_days_in_every_command(path: Path, tmp_path: Path) -> None:
    proc = salesproc.load(path)
    unit = proc.time_unit
    for command, args in simulation_commands(path, "30").items():
        bare = run(*args)
        if unit == "day":
            assert bare.exit_code == 0, bare.output
            assert simulated_days(command, json.loads(bare.stdout), unit) == SPAN
        else:  # once 30 of the file's units: refused, with what to write instead
            assert bare.exit_code == 2, bare.output
            assert "--horizon" in bare.output and "write 30d for 30 days" in bare.output
            assert f"30{ {'hour': 'h', 'week': 'w', 'minute': 'min'}[unit]} for 30 " \
                in bare.output
        written = WRITTEN[command]
        done = run(*simulation_commands(path, written)[command])
        assert done.exit_code == 0, done.output
        assert math.isclose(simulated_days(command, json.loads(done.stdout), unit), SPAN)
    # a history of the process itself, long enough for a backtest origin to calibrate on
    per_day = sum(analysis.lead_rates(proc).values()) / convert(1.0, unit, "day")
    days = min(300, max(60, math.ceil(80 / per_day) + 40))
    log = tmp_path / "events.csv"
    made = run("simulate", str(path), "-r", "1", "--horizon", f"{days}d", "--warmup", "0",
               "--events", str(log), "-w", "1", "-o", str(tmp_path / "run.json"))
    assert made.exit_code == 0, made.output
    history = [str(log), "--crm", "events", "--process", str(path), "-r", "3", "--seed", "1",
               "--format", "json", "--horizon", "30"]
    ahead = run("forecast", *history)
    assert ahead.exit_code == 0, ahead.output
    data = json.loads(ahead.stdout)
    assert dt.datetime.fromisoformat(data["until"]) \
        - dt.datetime.fromisoformat(data["as_of"]) == dt.timedelta(days=SPAN)
    origin = (proc.start + dt.timedelta(days=days - 35)).isoformat()
    back = run("backtest", *history, "--from", origin, "--to", origin)
    assert back.exit_code == 0, back.output
    assert json.loads(back.stdout)["horizon_days"] == SPAN


@pytest.mark.parametrize(("text", "unit", "days"), [
    ("30", "day", 30.0), ("30d", "hour", 30.0), ("13w", "day", 91.0), ("3mo", "day", 91.25),
    ("36h", "week", 1.5), ("0", "hour", 0.0), (" 2.5 w ", "day", 17.5), ("1e3", "day", 1e3)])
def test_a_span_is_read_alike_whatever_the_process_unit(text: str, unit: str,
                                                        days: float) -> None:
    assert math.isclose(convert(parse_span(text, unit), unit, "day"), days)


@pytest.mark.parametrize(("text", "unit", "hint"), [
    ("30", "hour", "write 30d for 30 days, or 30h for 30 hours"),
    ("2.5", "week", "write 2.5d for 2.5 days, or 2.5w for 2.5 weeks"),
    ("90", "minute", "write 90d for 90 days, or 90min for 90 minutes")])
def test_a_bare_number_is_refused_where_the_process_counts_in_another_unit(
        text: str, unit: str, hint: str) -> None:
    with pytest.raises(SpanError, match=f"a bare {text} is {text} days in every command, "
                       f"and this process counts time in {unit}s") as caught:
        parse_span(text, unit)
    assert caught.value.hint == hint
