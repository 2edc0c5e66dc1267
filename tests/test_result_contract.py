"""One result contract: every command's JSON says its layout (one version) and kind, an
estimate is {mean, low, high, n} wherever it appears, an outcome range {worst, neutral,
best}, and no number is NaN. The test runs every command that writes JSON and walks
each document."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import salesproc
from salesproc.core.layout import ESTIMATE, LAYOUT_VERSION, OUTCOME
from tests.conftest import ROOT, run

FIVE = str(ROOT / "processes" / "five-step.yaml")
EXPORT = ROOT / "examples" / "five-step-salesforce"
HISTORY = [str(EXPORT / "Opportunity.csv"), str(EXPORT / "OpportunityHistory.csv")]
QUICK = ["-r", "3", "--horizon", "60d", "--warmup", "0"]
#: Keys an estimate or a range was once written with, in one command or another.
RETIRED = {"mean_low", "mean_high", "base_range", "variant_range", "share_low"}
# the contract is the layout of what the commands and the library write, not their figures:
# the same five-step runs and the same calibration of the example export (the command's,
# the library's, each backtest's origin) are made once in a worker (conftest)


def documents(tmp_path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(what, JSON document) of every command that writes one, and of the library's
    calibration."""
    def strict(text: str) -> Any:
        def refuse(constant: str) -> None:
            raise AssertionError(f"{constant} in the JSON")
        return json.loads(text, parse_constant=refuse)

    commands = {
        "simulate": ["simulate", FIVE, *QUICK, "--format", "json"],
        "compare": ["compare", FIVE, "--set", "roles.se.headcount=3", *QUICK, "--format",
                    "json"],
        "sweep": ["sweep", FIVE, "--set", "roles.se.headcount=2..3", *QUICK, "--format",
                  "json"],
        "measure": ["measure", *HISTORY, "--process", FIVE, "--format", "json"],
        "measure (a deal table)": ["measure", HISTORY[0], "--process", FIVE, "--format",
                                   "json"],
        "forecast": ["forecast", *HISTORY, "--process", FIVE, "--horizon", "30d", "-r", "3",
                     "--seed", "1", "--format", "json"],
        "backtest": ["backtest", *HISTORY, "--process", FIVE, "--from", "2026-09-01",
                     "--to", "2026-09-01", "--horizon", "30d", "-r", "3", "--seed", "1",
                     "--format", "json"],
    }
    for what, args in commands.items():
        done = run(*args)
        assert done.exit_code == 0, (what, done.output)
        yield what, strict(done.stdout)
    check = tmp_path / "check.json"
    done = run("calibrate", *HISTORY, "--process", FIVE, "--check-json", str(check), "-r", "3",
               "--seed", "1", "-o", str(tmp_path / "calibrated.yaml"))
    assert done.exit_code == 0, done.output
    yield "calibrate --check-json", strict(check.read_text("utf-8"))
    history = salesproc.read_history(HISTORY, FIVE)
    yield "calibration", strict(json.dumps(salesproc.calibrate(history).to_dict()))


def walk(data: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from walk(value, f"{path}.{key}")
    elif isinstance(data, list):
        for k, value in enumerate(data):
            yield from walk(value, f"{path}[{k}]")


def shape_errors(path: str, block: Any) -> list[str]:
    """What is wrong with one dict of a document under the contract."""
    if not isinstance(block, dict):
        return []
    errors = [f"{path}: retired key {k}" for k in RETIRED & set(block)]
    if ({"low", "high"} & set(block) and "mean" in block) or ("n" in block and "low" in block):
        missing = set(ESTIMATE) - set(block)
        if missing:
            errors.append(f"{path}: an estimate without {sorted(missing)}")
        elif not isinstance(block["n"], int) or isinstance(block["n"], bool):
            errors.append(f"{path}: n is not a count")
        else:
            errors += [f"{path}.{k}: not a number" for k in ("mean", "low", "high")
                       if block[k] is not None and not isinstance(block[k], int | float)]
    if "value" in block and {"low", "high"} & set(block):
        errors.append(f"{path}: an estimate named 'value'")
    if path.endswith(".cases"):  # which percentiles the cases are: {"worst": "p10", ...}
        return errors + [f"{path}: not percentiles" for k in OUTCOME
                         if not str(block.get(k, "")).removeprefix("p").replace(".", "").isdigit()]
    if set(OUTCOME) & set(block) and not all(isinstance(block.get(k), int | float | None)
                                             for k in OUTCOME):
        errors.append(f"{path}: an outcome range without worst, neutral and best numbers")
    return errors


@pytest.mark.slow
def test_every_command_keeps_the_contract(tmp_path: Path) -> None:
    seen: dict[str, int] = {}
    kinds = set()
    for what, document in documents(tmp_path):
        assert document["layout"] == LAYOUT_VERSION, what
        kinds.add(document["kind"])
        errors = [e for path, block in walk(document) for e in shape_errors(path, block)]
        assert errors == [], (what, errors[:5])
        seen[what] = sum(isinstance(b, dict) and (set(ESTIMATE) <= set(b) or
                                                  set(OUTCOME) <= set(b))
                         for path, b in walk(document) if not path.endswith(".cases"))
    assert kinds == {"simulation", "comparison", "sweep", "measurement", "deal table",
                     "forecast", "backtest", "fit check", "calibration"}
    # every kind of result has estimates or ranges in it: the walk would see one gone wrong
    assert [what for what, count in seen.items() if count == 0] == []


@pytest.mark.parametrize("block", [
    {"mean": 1.0, "low": 0.5, "high": 1.5},                      # no n
    {"value": 1.0, "low": 0.5, "high": 1.5, "n": 3},             # the old measure shape
    {"worst": 1.0, "neutral": 2.0, "best": 3.0, "mean": 2.0, "mean_low": 1.5,
     "mean_high": 2.5, "runs": 3},                               # the old forecast shape
    {"mean": 1.0, "low": "0.5", "high": 1.5, "n": 3},            # a number as text
    {"worst": 1.0, "neutral": "2", "best": 3.0},
])
def test_the_walk_finds_a_shape_gone_wrong(block: dict[str, Any]) -> None:
    assert shape_errors("x", block)


def test_a_figure_is_its_estimate_and_its_range_side_by_side() -> None:
    from salesproc.core.layout import figure
    from salesproc.core.stats import Estimate

    done = figure(Estimate(2.0, 1.0, 3.0, 5), (1.2, 2.1, math.nan))
    assert done == {"mean": 2.0, "low": 1.0, "high": 3.0, "n": 5, "worst": 1.2,
                    "neutral": 2.1, "best": None}
    assert shape_errors("x", done) == []


def test_every_result_has_its_dict_and_its_frame() -> None:
    """Every kind of result gives to_dict() and to_frame(), the frame holding its CSV's
    rows; the runs behind a simulation and a forecast come as frames too, and their means
    are the results' estimates."""
    import datetime as dt

    process = salesproc.load(FIVE)
    simulated = salesproc.simulate(process, replications=3, horizon=60, warmup=0)
    runs = simulated.runs_frame()
    won = runs.query("scope == 'all' and metric == 'won'")["value"]
    assert len(won) == 3 and won.mean() == pytest.approx(simulated["all", "won"].mean)
    compared = salesproc.compare(process, changes={"roles.se.headcount": 3}, replications=3,
                                 horizon=60, warmup=0)
    swept = salesproc.sweep(process, ["roles.se.headcount=2..3"], replications=3, horizon=60,
                            warmup=0)
    history = salesproc.read_history(HISTORY, process)
    measured = salesproc.measure(history, simulate_file=False)
    fitted = salesproc.calibrate(history)
    checked = salesproc.check_fit(history, fitted, replications=3, seed=1)
    ahead = salesproc.forecast(history, horizon=30, replications=5, seed=1)
    record = salesproc.backtest(history, origins=[dt.datetime(2026, 9, 1)], horizon=30,
                                replications=3, seed=1)
    results = [simulated, compared, swept, measured, fitted, checked, ahead, record]
    for result in results:
        data, frame = result.to_dict(), result.to_frame()
        assert data["layout"] == LAYOUT_VERSION
        assert len(frame) == len(result.rows()) > 0, type(result).__name__
    per_run = ahead.runs_frame()
    assert len(per_run) == 5
    assert per_run["won"].mean() == pytest.approx(ahead.totals["won"].mean.mean)
    assert list(ahead.deals_frame().columns) == list(ahead.DEAL_COLUMNS)
    assert len(ahead.deals_frame()) == len(ahead.deals)
