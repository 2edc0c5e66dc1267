"""Forecasting from an open pipeline: deals already old in their stage, the coverage of
the worst-to-best range on continuations of a known process, and the command line."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import salesproc
from salesproc.experiments.experiment import simulate
from salesproc.experiments.export import deals_of, write_generic
from salesproc.history import read_history
from salesproc.prediction.forecast import forecast
from salesproc.process.model import Settings
from salesproc.sim.engine import Opening
from tests.conftest import ROOT, run
from tests.test_sim_theory import process

ONE_STAGE = """
salesproc: 1
name: One stage
roles: {r: {title: R, headcount: 100}}
stages:
  - {id: wait, name: Wait, owner: r, delay: DELAY, next: {won: 1}}
buyer_types: {b: {name: B, share: 1, value: 1}}
arrivals: {rate: 0.000001}
"""


def chances(delay: str, ages: tuple[float, float], horizon: float) -> tuple[float, float]:
    """The share of runs in which a deal of each age is won within *horizon* days."""
    proc = process(ONE_STAGE.replace("DELAY", delay))
    opening = [Opening("b", "wait", age, age, 1.0) for age in ages]
    result = simulate(proc, Settings(horizon=horizon, replications=400, seed=3), events=True,
                      opening=opening)
    won = {(v.replication, v.deal) for v in result.events or [] if v.outcome == "won"}
    return tuple(sum((r, k + 1) in won for r in range(1, 401)) / 400  # type: ignore[return-value]
                 for k in range(2))


def test_an_old_deal_moves_on_sooner_when_the_stage_is_not_memoryless() -> None:
    """A stay of 5 to 10 days: a deal 8 days in is through within 3 more days (at most 2
    remain); a new one cannot be (it needs 5)."""
    fresh, old = chances("{uniform: {min: 5, max: 10}}", (0.0, 8.0), 3.0)
    assert fresh == 0.0 and old == 1.0


def test_age_makes_no_difference_when_the_stage_is_memoryless() -> None:
    """Exponential stays: either deal is through within 3 days with chance 1 - e^(-3/7.5);
    the two shares differ by less than 4 standard errors of a difference."""
    fresh, old = chances("{exponential: {mean: 7.5}}", (0.0, 8.0), 3.0)
    p = 1 - math.exp(-3 / 7.5)
    se = math.sqrt(2 * p * (1 - p) / 400)
    assert abs(fresh - old) <= 4 * se
    assert abs(fresh - p) <= 4 * math.sqrt(p * (1 - p) / 400)


KNOWN = """
salesproc: 1
name: Continuation
roles: {r: {title: R, headcount: 100}}
stages:
  - {id: lead, name: Lead, owner: r, delay: {exponential: {mean: 3}}, work: 1min,
     next: {offer: 0.6}}
  - {id: offer, name: Offer, owner: r, delay: {exponential: {mean: 6}}, work: 1min,
     next: {won: 0.5}}
buyer_types: {b: {name: B, share: 1, value: {lognormal: {mean: 1000, sd: 300}}}}
arrivals: {rate: 4, per: day}
simulation: {start: 2025-01-06, horizon: 90, replications: 1}
"""


def band_chance(runs: int) -> float:
    """The chance that one more draw of what *runs* runs drew lies in their 10th-90th
    percentile band (numpy's, interpolated between order statistics), for a figure that
    never ties: the new draw is equally likely to fall in any of the runs + 1 gaps between
    the sorted runs, and the band spans 0.8 (runs - 1) of them: 0.8 (runs - 1) / (runs + 1),
    0.774 for 60 runs, not 0.8. Counts tie, and an actual equal to a band's end is inside:
    ties only add to it. The least an honest band holds, so the chance to test hits with."""
    return 0.8 * (runs - 1) / (runs + 1)


def fewest_hits(trials: int, runs: int) -> int:
    """The fewest actuals inside their band an honest forecast shows, at 99.9%: the 0.1%
    quantile of Binomial(trials, band_chance(runs)). There is no upper bound to test: for
    counts, ties make the chance anything up to 1, and with so few trials all hit."""
    return int(stats.binom.ppf(0.001, trials, band_chance(runs)))


@pytest.mark.slow
def test_the_worst_to_best_range_holds_the_actual_continuation_80_percent_of_the_time(
        tmp_path: Path) -> None:
    """A known process, run for 90 days; at day 60 its history is forecast 30 days ahead,
    over 24 seeds. The actual wins of days 60 to 90 fall inside the 10th-90th range of
    60 runs with chance at least band_chance(60): the count of hits is at least the 0.1%
    quantile of that binomial; and the mean forecast matches the actual continuations
    within 4 standard errors."""
    path = tmp_path / "known.yaml"
    hits, gaps = 0, []
    seeds = range(1, 25)
    for seed in seeds:
        path.write_text(KNOWN.replace("replications: 1", f"replications: 1, seed: {seed}"))
        proc = salesproc.load(path)
        truth = salesproc.simulate(proc, events=True)
        assert truth.events is not None
        actual = sum(1 for v in truth.events if v.outcome == "won" and 60 < v.finished <= 90)
        export = write_generic(deals_of(truth.events, proc), tmp_path / f"h{seed}.csv")
        as_of = dt.datetime(2025, 1, 6) + dt.timedelta(days=60)
        history = read_history(export, proc, as_of=as_of, today=dt.date(2030, 1, 1))
        result = forecast(history, as_of + dt.timedelta(days=30), replications=60,
                          seed=seed + 100)
        won = result.totals["won"]
        hits += won.worst <= actual <= won.best
        gaps.append(actual - won.mean.mean)
    print(f"actual inside the 10-90 range in {hits} of {len(seeds)} continuations")
    assert hits >= fewest_hits(len(seeds), 60), hits
    se = np.std(gaps, ddof=1) / math.sqrt(len(gaps))
    assert abs(np.mean(gaps)) <= 4 * se


EXAMPLE = sorted(str(p) for p in (ROOT / "examples" / "five-step-salesforce").glob("*.csv"))


def test_months_and_quarters_only_partly_forecast_are_marked() -> None:
    """From 26 November to the end of 31 March: November and the fourth quarter are only
    partly in the forecast, and say so (as simulate's tables do); a forecast's February
    to the 25th read as the month's whole forecast."""
    process_file = str(ROOT / "processes" / "five-step.yaml")
    out = run("forecast", *EXAMPLE, "--process", process_file, "--until", "2027-03-31",
              "-r", "4", "--seed", "1")
    assert out.exit_code == 0, out.output
    labels = [line.split("  ")[1].strip() for line in out.stdout.splitlines()
              if re.match(r"  20\d\d-(\d\d|Q\d)", line)]
    assert labels == ["2026-11 (part)", "2026-12", "2027-01", "2027-02", "2027-03",
                      "2026-Q4 (part)", "2027-Q1"], labels
    short = run("forecast", *EXAMPLE, "--process", process_file, "--until", "2027-02-25",
                "-r", "4", "--seed", "1")
    assert "  2027-02 (part)" in short.stdout and "  2027-Q1 (part)" in short.stdout


def test_forecast_through_the_cli() -> None:
    process_file = str(ROOT / "processes" / "five-step.yaml")
    out = run("forecast", *EXAMPLE, "--process", process_file, "--horizon", "4w", "-r", "20",
              "--seed", "1", "--format", "json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    won = data["totals"]["won"]
    assert won["worst"] <= won["neutral"] <= won["best"]
    assert len(data["deals"]) == data["crm"]["open_deals"]
    assert all(0 <= d["chance"] <= 1 for d in data["deals"])
    assert data["quarters"] == {}  # four weeks from 26 November lie in one quarter
    table = run("forecast", *EXAMPLE, "--process", process_file, "--horizon", "4w", "-r", "20",
                "--seed", "1")
    assert "Worst / neutral / best case" in table.stdout and "confidence interval" in table.stdout
    rows = [re.split(r"\s{2,}", line.strip())[0] for line in table.stdout.splitlines()]
    won = rows.index("Deals won")  # the split of the wins stands under them, not under losses
    assert rows[won + 1:won + 3] == ["of today's open deals", "of new deals"]
    assert rows.index("Deals lost") > won + 2
    money = [line for line in table.stdout.splitlines()
             if line.lstrip().startswith(("Revenue won", "Open pipeline at the end"))]
    assert len(money) == 2 and not any(re.search(r"\d\.\d", line) for line in money)
    assert "By quarter" not in table.stdout  # one quarter: its table would repeat the total
    both = run("forecast", *EXAMPLE, "--process", process_file, "--horizon", "4w",
               "--until", "2027-01-01")
    assert both.exit_code == 2 and "not both" in both.output
    neither = run("forecast", *EXAMPLE, "--process", process_file)  # it once said "not both"
    assert neither.exit_code == 2 and "how far to forecast" in neither.output
    assert "not both" not in neither.output
    early = run("forecast", *EXAMPLE, "--process", process_file, "--until", "2026-01-01")
    assert early.exit_code == 2 and "must end after the as-of date" in early.output


def test_a_forecast_from_the_end_of_a_month_has_no_row_for_that_month() -> None:
    """As of the end of 30 April (23:59:59), nothing of April is left: no '2026-04' month,
    and no open deal's likely month is April. As of 08:00 on 30 April, April is there."""
    process_file = str(ROOT / "processes" / "five-step.yaml")
    late = run("forecast", *EXAMPLE, "--process", process_file, "--as-of", "2026-04-30",
               "--horizon", "2w", "-r", "10", "--seed", "1", "--format", "json")
    assert late.exit_code == 0, late.output
    data = json.loads(late.stdout)
    assert list(data["months"]) == ["2026-05"]
    assert all(d["month"] in ("", "2026-05") for d in data["deals"])
    early = run("forecast", *EXAMPLE, "--process", process_file, "--as-of",
                "2026-04-30T08:00", "--horizon", "2w", "-r", "10", "--seed", "1", "--format",
                "json")
    assert list(json.loads(early.stdout)["months"]) == ["2026-04", "2026-05"]


@pytest.mark.slow
def test_a_backtest_on_a_known_history_covers_about_80_percent(tmp_path: Path) -> None:
    """Three simulated histories of a known process, five origins each: the actual wins of
    the next 14 days fall in the 10th-90th band of the forecast's 60 runs at each origin
    with chance about band_chance(60) (the fitted process's error takes away about what
    the ties of counts add: 175 of 225 origins, 0.78, over 25 histories of 200 days,
    origins every 14 days), so at least the 0.1% quantile of that binomial do.
    Binomial(15, 0.8) said 7, tighter than theory: 0.2% of honest backtests fail it."""
    from salesproc.prediction.backtest import backtest

    path = tmp_path / "known.yaml"
    hits = total = 0
    for seed in (1, 2, 3):
        path.write_text(KNOWN.replace("horizon: 90, replications: 1",
                                      f"horizon: 150, replications: 1, seed: {seed}"))
        proc = salesproc.load(path)
        truth = salesproc.simulate(proc, events=True)
        assert truth.events is not None
        export = write_generic(deals_of(truth.events, proc), tmp_path / f"h{seed}.csv")
        history = read_history(export, proc, today=dt.date(2030, 1, 1))
        start = dt.datetime(2025, 1, 6)
        origins = [start + dt.timedelta(days=d) for d in (60, 75, 90, 105, 120)]
        result = backtest(history, origins, 14, replications=60, seed=seed)
        assert len(result.origins) == 5
        hits += sum(o.won_inside for o in result.origins)
        total += len(result.origins)
        assert all(math.isfinite(result.score("won", k).mae) for k in ("model", "run_rate"))
    print(f"backtest: actual inside the 10-90 band at {hits} of {total} origins")
    assert hits >= fewest_hits(total, 60), hits


def test_backtest_through_the_cli() -> None:
    process_file = str(ROOT / "processes" / "five-step.yaml")
    out = run("backtest", *EXAMPLE, "--process", process_file, "--from", "2026-08-01",
              "--to", "2026-09-01", "--horizon", "28d", "-r", "20", "--seed", "1",
              "--format", "json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert [o["at"][:10] for o in data["origins"]] == ["2026-08-01", "2026-09-01"]
    # the coverage counts the origins whose actual lies in their worst-to-best band
    inside = sum(o["won"]["worst"] <= o["actual_won"] <= o["won"]["best"]
                 for o in data["origins"])
    coverage = data["spread"]["won"]["coverage"]
    assert (coverage["inside"], coverage["n"], coverage["mean"]) == (inside, 2, inside / 2)
    assert [o["won_inside"] for o in data["origins"]] == [
        o["won"]["worst"] <= o["actual_won"] <= o["won"]["best"] for o in data["origins"]]
    bad = run("backtest", *EXAMPLE, "--process", process_file, "--from", "2026-08-01",
              "--to", "2026-07-01")
    assert bad.exit_code == 2


def test_a_planned_campaign_adds_its_leads_and_what_they_win() -> None:
    """Runs with and without the campaign share their seeds: the leads it adds are exactly
    its size in every run; through the command line, a campaign outside the period or of
    an unknown buyer type is a usage error."""
    process = salesproc.load(ROOT / "processes" / "five-step.yaml")
    history = read_history(EXAMPLE, process)
    until = history.as_of + dt.timedelta(weeks=8)
    from salesproc.prediction.forecast import parse_campaign

    campaign = parse_campaign(f"200@{(history.as_of + dt.timedelta(days=7)).date()}")
    result = forecast(history, until, replications=30, seed=2, campaigns=[campaign])
    total = dict(result.campaigns)["total"]
    assert total["leads"].worst == total["leads"].best == 200
    # 200 more leads win more deals (the mean's interval lies above 0), never more than 200
    assert total["won"].mean.low > 0 and total["won"].mean.high < 200, total["won"]
    process_file = str(ROOT / "processes" / "five-step.yaml")
    late = run("forecast", *EXAMPLE, "--process", process_file, "--horizon", "4w",
               "--campaign", "100@2030-01-01")
    assert late.exit_code == 2 and "not within the forecast" in late.output
    unknown = run("forecast", *EXAMPLE, "--process", process_file, "--horizon", "4w",
                  "--campaign", "100@2026-12-01:partner")
    assert unknown.exit_code == 2 and "unknown buyer type 'partner'" in unknown.output
    wrong = run("forecast", *EXAMPLE, "--process", process_file, "--horizon", "4w",
                "--campaign", "lots")
    assert wrong.exit_code == 2 and "LEADS@DATE" in wrong.output


def test_forecast_cases_and_per_deal_csv() -> None:
    process_file = str(ROOT / "processes" / "five-step.yaml")
    wide = json.loads(run("forecast", *EXAMPLE, "--process", process_file, "--horizon", "4w",
                          "-r", "20", "--seed", "1", "--cases", "5,50,95",
                          "--format", "json").stdout)
    narrow = json.loads(run("forecast", *EXAMPLE, "--process", process_file, "--horizon",
                            "4w", "-r", "20", "--seed", "1", "--format", "json").stdout)
    assert wide["cases"] == {"worst": "p5", "neutral": "p50", "best": "p95"}
    assert wide["totals"]["won"]["worst"] <= narrow["totals"]["won"]["worst"]
    assert wide["totals"]["won"]["best"] >= narrow["totals"]["won"]["best"]
    csv_out = run("forecast", *EXAMPLE, "--process", process_file, "--horizon", "4w", "-r",
                  "20", "--seed", "1", "--format", "csv").stdout.splitlines()
    assert csv_out[0] == ("deal,buyer_type,stage,value,chance,expected_revenue,month,"
                          "crm_probability,forecast_category")
    assert len(csv_out) - 1 == narrow["crm"]["open_deals"]
    bad = run("forecast", *EXAMPLE, "--process", process_file, "--horizon", "4w",
              "--cases", "90,50,10")
    assert bad.exit_code == 2 and "must rise" in bad.output
    for command in (["forecast", "--horizon", "4w"], ["calibrate", "--check"],
                    ["backtest", "--from", "2026-09-01", "--to", "2026-09-01"]):
        one = run(command[0], *EXAMPLE, "--process", process_file, *command[1:], "-r", "2")
        assert one.exit_code == 2 and "3<=x" in one.output  # a range needs 3 runs


def test_a_process_without_a_simulation_block_is_forecast(tmp_path: Path) -> None:
    """The forecast starts its runs at the as-of date by changing simulation.start in
    memory: a file that leaves simulation: out (it may) gets one made on the way, not
    'nothing called simulation there'."""
    text = (ROOT / "processes" / "five-step.yaml").read_text("utf-8")
    bare = "\n".join(line for line in text.splitlines() if not line.startswith("simulation:"))
    assert "simulation:" not in bare
    process = tmp_path / "five-step.yaml"
    process.write_text(bare + "\n", "utf-8")
    out = run("forecast", *EXAMPLE, "--process", str(process), "--horizon", "4w", "-r", "3")
    assert out.exit_code == 0, out.output
    assert "forecast from 2026-11-26 to 2026-12-24, 3 runs" in out.stdout
