"""The backtest as the judge of the forecast: a failing origin is reported and the others go
on, nothing is written beside the user's files, the baselines (run rate, seasonal naive,
the CRM's weighted pipeline, a stage-to-stage Markov chain) and the scores are what their
definitions say, and every output format through the command line."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import re
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import salesproc
from salesproc.core.stats import Estimate, proportion
from salesproc.experiments.export import deals_of, write_generic
from salesproc.history import read_history
from salesproc.history.table import History
from salesproc.prediction.backtest import (
    BASELINES,
    MODEL,
    Backtest,
    Origin,
    Point,
    add_months,
    backtest,
    baseline,
    blend,
    from_dict,
)
from salesproc.prediction.forecast import Outcome
from tests.conftest import run
from tests.test_forecast import KNOWN

START = dt.datetime(2025, 1, 6)
ABSURD = 5e14  # an amount no fit can take (the calibrated value is out of the file's range)
# that an export may still hold (csvfile.MAX_AMOUNT: 1e15 is unreadable)


def known_export(folder: Path, *, seed: int = 1, absurd_after: float | None = None,
                 days: int = 150) -> tuple[Path, Path]:
    """The known two-stage process (in its own folder) and a simulated history of *days*
    days as a generic export (in another); with *absurd_after*, the deals created after
    that day carry an absurd amount."""
    (folder / "process").mkdir(exist_ok=True)
    (folder / "export").mkdir(exist_ok=True)
    path = folder / "process" / "known.yaml"
    path.write_text(KNOWN.replace("horizon: 90, replications: 1",
                                  f"horizon: {days}, replications: 1, seed: {seed}"))
    proc = salesproc.load(path)
    truth = salesproc.simulate(proc, events=True)
    assert truth.events is not None
    deals = deals_of(truth.events, proc)
    if absurd_after is not None:
        for d in deals:
            if d.created > START + dt.timedelta(days=absurd_after):
                d.value = ABSURD
    return path, write_generic(deals, folder / "export" / f"history{seed}.csv")


def known_history(folder: Path, **kwargs: float) -> History:
    path, export = known_export(folder, **kwargs)  # type: ignore[arg-type]
    return read_history(export, salesproc.load(path), today=dt.date(2030, 1, 1))


def day(n: int) -> dt.datetime:
    return START + dt.timedelta(days=n)


# --- failing origins -------------------------------------------------------------------------


def test_a_failing_origin_is_reported_with_its_reason_and_the_others_go_on(
        tmp_path: Path) -> None:
    """Amounts of 5e14 from day 100 on: the origin at day 120 cannot be calibrated (the
    fitted deal value is out of the file's range); the origins at days 60 and 75 are
    backtested all the same, and the failure is in the text, the JSON and the CSV."""
    from salesproc.report import csv as csv_report
    from salesproc.report import text

    history = known_history(tmp_path, absurd_after=100)
    result = backtest(history, [day(60), day(75), day(120)], 14, replications=5, seed=1)
    assert [o.at for o in result.origins] == [day(60), day(75)]
    assert [f.at for f in result.failed] == [day(120)]
    assert "out of range" in result.failed[0].reason
    # the reason names the fitted setting, not a line of a temporary file
    assert "value: " in result.failed[0].reason and ".value" in result.failed[0].reason
    assert "<command line>" not in result.failed[0].reason and ".yaml" not in \
        result.failed[0].reason
    data = result.to_dict()
    assert data["failed"][0]["at"].startswith("2025-05-06")
    assert "out of range" in data["failed"][0]["reason"]
    shown = text.backtest(result)
    assert "Failed origins" in shown and "2025-05-06: " in shown and "out of range" in shown
    rows = list(csv.DictReader(io.StringIO(csv_report.backtest(result))))
    failed = [r for r in rows if r["failed"]]
    assert {r["figure"] for r in failed} == {"won", "revenue"}
    assert all(r["origin"].startswith("2025-05-06") for r in failed)
    assert len(rows) - len(failed) == 2 * 2 * (1 + len(BASELINES))


def test_each_origin_forecasts_with_the_process_calibrated_there(tmp_path: Path) -> None:
    """A file whose arrival rate is ten times the history's (40 a day against 4): at the
    origin, the file's own process forecasts far more wins than the process calibrated on
    the history before it, which the backtest uses (in memory: the forecast changes the
    calibrated process it is given, never the file's)."""
    from salesproc.prediction.forecast import forecast

    path, export = known_export(tmp_path)
    wrong = tmp_path / "process" / "wrong.yaml"
    wrong.write_text(path.read_text().replace("rate: 4, per: day", "rate: 40, per: day"))
    proc = salesproc.load(wrong)
    history = read_history(export, proc, today=dt.date(2030, 1, 1))
    result = backtest(history, [day(90)], 14, replications=5, seed=1)
    as_filed = forecast(history.at(day(90)), day(104), replications=5, seed=1)
    model = result.origins[0].won.neutral
    assert model < 0.5 * as_filed.totals["won"].neutral
    assert result.origins[0].won.worst <= 2 * result.origins[0].actual_won


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()} | {str(p.relative_to(folder)) + "/": b"" for p in
                               folder.rglob("*") if p.is_dir()}


def test_through_the_cli_a_failed_origin_is_a_warning_and_nothing_is_written_beside_the_files(
        tmp_path: Path) -> None:
    """The process's folder is byte-for-byte as it was (no temporary variant beside the
    file), also when that folder is read-only (unless running as root makes chmod moot);
    the failed origin is a warning on stderr and a row in the JSON; exit 0 while at least
    one origin was backtested, 1 with the reasons when none was."""
    path, export = known_export(tmp_path, absurd_after=100)
    folder = path.parent
    before = snapshot(folder)
    args = ["backtest", str(export), "--process", str(path), "--from", "2025-03-07",
            "--to", "2025-05-06", "--every", "15d", "--horizon", "14d", "-r", "3",
            "--seed", "1"]
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        read_only = not os.access(folder, os.W_OK)
        out = run(*args, "--format", "json")
    finally:
        folder.chmod(stat.S_IRWXU)
    assert out.exit_code == 0, out.output
    assert snapshot(folder) == before
    print("process folder read-only during the run:", read_only)
    data = json.loads(out.stdout)
    assert [o["at"][:10] for o in data["origins"]] == ["2025-03-07", "2025-03-22",
                                                        "2025-04-06"]
    assert [f["at"][:10] for f in data["failed"]] == ["2025-04-21", "2025-05-06"]
    assert "warning: the origin 2025-04-21 failed" in out.stderr
    assert "out of range" in data["failed"][0]["reason"]
    none = run(*args[:4], "--from", "2025-04-21", "--to", "2025-05-06", *args[8:])
    assert none.exit_code == 1
    assert "no origin could be backtested" in none.output and "out of range" in none.output


def test_monthly_origins_lie_within_from_and_to(tmp_path: Path) -> None:
    """--from the 31st, every month: the 31st where the month has one, else its last day;
    never before --from (the first origin used to be clamped to the 28th)."""
    path, export = known_export(tmp_path, days=150)
    out = run("backtest", str(export), "--process", str(path), "--from", "2025-01-31",
              "--to", "2025-04-30", "--every", "1mo", "--horizon", "7d", "-r", "3",
              "--seed", "1", "--format", "json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert [o["at"][:10] for o in data["origins"]] == ["2025-01-31", "2025-02-28",
                                                        "2025-03-31", "2025-04-30"]
    assert add_months(dt.datetime(2024, 1, 31), 1) == dt.datetime(2024, 2, 29)
    assert add_months(dt.datetime(2025, 3, 31, 12), -13) == dt.datetime(2024, 2, 29, 12)


# --- baselines -------------------------------------------------------------------------------


def test_run_rate_and_seasonal_naive_count_the_wins_of_their_windows(tmp_path: Path) -> None:
    """Counted again with pandas from the whole history: the run rate is the wins of the 14
    days before the origin, the seasonal naive those of the same 14 days a quarter
    earlier; a year earlier is not in a 150-day history."""
    history = known_history(tmp_path)
    at, until = day(120), day(134)
    frame = history.deals_frame()
    won = frame[frame.outcome == "won"]

    def wins(start: dt.datetime, end: dt.datetime) -> tuple[float, float]:
        inside = won[(won.closed > start) & (won.closed <= end)]
        return float(len(inside)), float(inside.value.sum())

    before = history.at(at)
    assert baseline(before, "run_rate", until) == Point(*wins(day(106), at))
    quarter = dt.datetime(2025, 2, 6)
    assert baseline(before, "seasonal_quarter", until) == Point(
        *wins(quarter, quarter + dt.timedelta(days=14)))
    year = baseline(before, "seasonal_year", until)
    assert math.isnan(year.won) and math.isnan(year.revenue)
    with pytest.raises(ValueError, match="unknown baseline"):
        baseline(before, "crystal ball", until)


def test_the_weighted_pipeline_uses_the_probability_at_the_origin(tmp_path: Path) -> None:
    """Each deal's CRM probability set to a known value: at the origin, the weighted wins
    are the sum of the probabilities of the deals open then, and the weighted revenue
    their amounts times them (deals open at the origin counted again from the whole
    history's dates)."""
    history = known_history(tmp_path)
    chance = np.linspace(0.05, 0.95, len(history.deals))
    history = replace(history, deals=replace(history.deals, probability=chance))
    at = day(90)
    frame = history.deals_frame()
    open_then = (frame.created <= at) & ~(frame.closed <= at)
    found = baseline(history.at(at), "weighted_pipeline", day(104))
    assert found.won == pytest.approx(frame.probability[open_then].sum(), rel=1e-12)
    assert found.revenue == pytest.approx(
        (frame.probability * frame.value)[open_then].sum(), rel=1e-12)
    none = replace(history, deals=replace(history.deals,
                                          probability=np.full(len(chance), np.nan)))
    assert math.isnan(baseline(none.at(at), "weighted_pipeline", day(104)).won)


ONE_STAGE = """
salesproc: 1
name: One stage
roles: {r: {title: R, headcount: 100}}
stages:
  - {id: wait, name: Wait, owner: r, delay: {exponential: {mean: 10}}, next: {won: 0.3}}
buyer_types: {b: {name: B, share: 1, value: 1000}}
arrivals: {rate: 3, per: day}
simulation: {start: 2025-01-06, horizon: 120, replications: 1, seed: 4}
"""


def test_the_markov_baseline_of_one_memoryless_stage_has_its_closed_form(
        tmp_path: Path) -> None:
    """One stage left at constant hazards: a deal in it is won within H days with chance
    p·(1 − e^(−λH)), λ the exits over the days at risk (open visits counted to the origin)
    and p the won share of the exits; a deal arriving at rate r over the H days adds
    r·p·(H − (1 − e^(−λH))/λ). Estimates counted again with pandas; the fitted hazard lies
    within 4 standard errors (λ/√exits) of the process's 1/10 a day."""
    path = tmp_path / "one.yaml"
    path.write_text(ONE_STAGE)
    proc = salesproc.load(path)
    truth = salesproc.simulate(proc, events=True)
    assert truth.events is not None
    export = write_generic(deals_of(truth.events, proc), tmp_path / "one.csv")
    at = day(100)  # the last 90 days' creation rate is whole inside the history
    history = read_history(export, proc, today=dt.date(2030, 1, 1)).at(at)
    visits = history.visits_frame()
    ended = visits.next.isin(["won", "lost"])
    days_at_risk = ((visits.left.where(ended, at) - visits.entered)
                    / np.timedelta64(1, "D")).sum()
    exits = int(ended.sum())
    hazard = exits / days_at_risk
    p = float((visits.next == "won").sum()) / exits
    assert abs(hazard - 0.1) <= 4 * 0.1 / math.sqrt(exits)
    horizon = 21.0
    still_open = int((~ended).sum())
    frame = history.deals_frame()
    rate = float(((frame.created > at - dt.timedelta(days=90))
                  & (frame.created <= at)).sum()) / 90
    decay = 1 - math.exp(-hazard * horizon)
    expected = still_open * p * decay + rate * p * (horizon - decay / hazard)
    found = baseline(history, "markov", at + dt.timedelta(days=horizon))
    assert found.won == pytest.approx(expected, rel=1e-9)
    won_value = frame.value[frame.outcome == "won"].mean()
    assert found.revenue == pytest.approx(expected * won_value, rel=1e-9)


# --- scores --------------------------------------------------------------------------------


def outcome(worst: float, neutral: float, best: float) -> Outcome:
    return Outcome(worst, neutral, best, Estimate(neutral, math.nan, math.nan, 10))


def test_scores_follow_their_definitions() -> None:
    """Three origins worked by hand: actual wins 10, 0 and 20; the model's neutral case 12,
    3 and 15 in bands 8–16, 1–5 and 16–18; the run rate 8, 2 and 20; the other baselines
    give nothing. MAE, MAPE (the actual of 0 left out and counted), bias, the pinball
    loss, the interval score (alpha 0.2) and the coverage with its Wilson interval."""
    nothing = Point(math.nan, math.nan)
    rows = [(10, (8, 12, 16), 8), (0, (1, 3, 5), 2), (20, (16, 15, 18), 20)]
    origins = [Origin(day(k), day(k + 7), outcome(*band), outcome(*band), actual,
                      float(actual), {k2: Point(rr, rr) if k2 == "run_rate" else nothing
                                      for k2 in BASELINES})
               for k, (actual, band, rr) in enumerate(rows)]
    done = Backtest(origins, 7.0)
    model = done.score("won", MODEL)
    assert model.mae == pytest.approx((2 + 3 + 5) / 3)
    assert model.mape == pytest.approx((2 / 10 + 5 / 20) / 2) and model.mape_left_out == 1
    assert model.bias == pytest.approx((2 + 3 - 5) / 3)
    rate = done.score("won", "run_rate")
    assert (rate.mae, rate.bias) == (pytest.approx(4 / 3), pytest.approx(0.0))
    assert done.score("won", "markov").origins == 0
    spread = done.spread("won")
    # p10: gaps (actual - forecast) 2, -1, 4 -> 0.1*2, 0.9*1, 0.1*4
    assert spread.pinball[10] == pytest.approx((0.2 + 0.9 + 0.4) / 3)
    assert spread.pinball[50] == pytest.approx(model.mae / 2)
    # widths 8, 4, 2; the actual 0 is 1 below its band, 20 is 2 above: 2/0.2 = 10 per unit
    assert spread.interval_score == pytest.approx((8 + 4 + 2 + 10 * 1 + 10 * 2) / 3)
    assert spread.inside == 1
    assert spread.coverage == proportion(1, 3)
    assert done.best_baseline("won") == "run_rate"
    verdict = done.verdict("won")
    assert verdict["model_beats_it"] is False and verdict["origins"] == 3
    data = json.loads(json.dumps(done.to_dict(), allow_nan=False))
    assert data["scores"]["won"]["markov"]["mae"] is None
    assert data["verdict"]["won"]["best_baseline"] == "run_rate"


# --- formats ---------------------------------------------------------------------------------


def test_text_csv_and_html_through_the_cli(tmp_path: Path) -> None:
    """One history, three formats: the text has a table per figure naming every baseline
    and the verdict; the CSV one row per origin, figure and forecaster; the HTML page the
    headline cards, the forecast-vs-actual chart and the tables (--charts writes it)."""
    path, export = known_export(tmp_path)
    args = ["backtest", str(export), "--process", str(path), "--from", "2025-03-07",
            "--to", "2025-03-22", "--every", "15d", "--horizon", "14d", "-r", "5",
            "--seed", "1"]
    table = run(*args)
    assert table.exit_code == 0, table.output
    for words in ("Deals won, per origin", "Revenue, over 2 origins", "Markov",
                  "Best baseline on MAE:", "Pinball loss at p10 / p50 / p90",
                  "95% interval", *BASELINES.values()):
        assert words in table.stdout, words
    rows = list(csv.DictReader(io.StringIO(run(*args, "--format", "csv").stdout)))
    assert len(rows) == 2 * 2 * (1 + len(BASELINES))
    assert {r["forecaster"] for r in rows} == {MODEL, *BASELINES}
    model = [r for r in rows if r["forecaster"] == MODEL]
    assert all(float(r["worst"]) <= float(r["forecast"]) <= float(r["best"]) for r in model)
    assert all(float(r["error"]) == pytest.approx(float(r["forecast"]) - float(r["actual"]))
               for r in rows if r["forecast"])
    page = tmp_path / "page.html"
    out = run(*args, "--format", "html", "-o", str(page), "--charts", str(tmp_path / "c"))
    assert out.exit_code == 0, out.output
    html = page.read_text("utf-8")
    assert 'data-chart="backtest"' in html and 'class="card"' in html
    assert "stage-to-stage Markov" in html and "<script" not in html
    assert (tmp_path / "c" / "backtest.png").read_bytes().startswith(b"\x89PNG")


# --- the forecast's track record -----------------------------------------------------------


def test_forecast_shows_its_track_record_and_the_baseline_that_beat_it(tmp_path: Path) -> None:
    """A backtest saved as JSON, then edited so that each actual equals the run rate's
    forecast (its MAE 0) and the model's neutral case is 3 above it (MAE 3): the
    forecast's record names the run rate as having
    beaten the model on deals won, with its figure for this period (the wins of the 14
    days before the as-of date, counted again with pandas); JSON and HTML carry the same.
    A file that is not a saved backtest is refused with exit 1."""
    path, export = known_export(tmp_path)
    saved = tmp_path / "record.json"
    out = run("backtest", str(export), "--process", str(path), "--from", "2025-03-07",
              "--to", "2025-03-22", "--every", "15d", "--horizon", "14d", "-r", "3",
              "--seed", "1", "--format", "json", "-o", str(saved))
    assert out.exit_code == 0, out.output
    data = json.loads(saved.read_text())
    for origin in data["origins"]:
        origin["actual_won"] = int(origin["baselines"]["run_rate"]["won"])
        origin["won"]["neutral"] = origin["actual_won"] + 3
    saved.write_text(json.dumps(data))
    args = ["forecast", str(export), "--process", str(path), "--as-of", "2025-05-01",
            "--horizon", "14d", "-r", "5", "--seed", "1", "--track-record", str(saved)]
    table = run(*args)
    assert table.exit_code == 0, table.output
    as_of = dt.datetime(2025, 5, 1, 23, 59, 59)  # the end of the --as-of day
    frame = read_history(export, salesproc.load(path), today=dt.date(2030, 1, 1)
                         ).deals_frame()
    won = frame[(frame.outcome == "won") & (frame.closed > as_of - dt.timedelta(days=14))
                & (frame.closed <= as_of)]
    assert "Over the last 2 origins this forecast's MAE of deals won was" in table.stdout
    assert "the run rate beat the model on deals won (MAE 0.0 against 3.0 over 2 origins)" \
        in table.stdout
    assert f"for this period it says {len(won):.1f}," in table.stdout
    # the record is of calibrated forecasts; this one is from the file as written
    assert "this one uses the file's values as written: calibrate it" in table.output
    as_json = json.loads(run(*args, "--format", "json").stdout)
    assert as_json["track_record"]["backtest"]["origins"][0]["actual_won"] == \
        data["origins"][0]["actual_won"]
    beaten = {(b["figure"], b["baseline"]): b for b in as_json["track_record"]["beaten_by"]}
    assert beaten["won", "run_rate"]["forecast"] == len(won)
    # --blend: on this record the run rate was exact, so the best blend is all run rate
    mixed = json.loads(run(*args, "--blend", "--format", "json").stdout)["track_record"]
    (won_blend,) = [b for b in mixed["blend"] if b["figure"] == "won"]
    assert won_blend["baseline"] == "run_rate" and won_blend["model_weight"] == 0.0
    assert won_blend["mae"] == 0.0 and won_blend["model_mae"] == 3.0
    assert won_blend["forecast"] == len(won)
    said = run(*args, "--blend").stdout
    assert "Blend for deals won: 0.00 × the model + 1.00 × the run rate" in said
    alone = run(*args[:-2], "--blend")
    assert alone.exit_code == 2 and "--blend needs --track-record" in alone.output
    page = tmp_path / "forecast.html"
    assert run(*args, "--format", "html", "-o", str(page)).exit_code == 0
    assert "Track record" in page.read_text("utf-8")
    assert as_json["track_record"]["backtest"]["process"] == data["process"]  # kept
    data["origins"][1]["baselines"]["run_rate"]["won"] = None  # forecast at one origin only
    (tmp_path / "one.json").write_text(json.dumps(data))
    once = run(*args[:-1], str(tmp_path / "one.json")).stdout
    assert "run rate 0.0 (over the 1 it forecast)" in once
    assert "(MAE 0.0 against 3.0 over the 1 origins both forecast)" in once
    data["process"]["currency"] = "EUR"  # a record of another currency's money
    (tmp_path / "euro.json").write_text(json.dumps(data))
    euro = run(*args[:-1], str(tmp_path / "euro.json"))
    assert euro.exit_code == 1 and "money is in EUR, the forecast's in USD" in euro.output
    (tmp_path / "bad.json").write_text('{"origins": 3}')
    bad = run(*args[:-1], str(tmp_path / "bad.json"))
    assert bad.exit_code == 1 and "not a saved backtest" in bad.output
    (tmp_path / "bad.txt").write_bytes(b"\x00\xff not json")
    worse = run(*args[:-1], str(tmp_path / "bad.txt"))
    assert worse.exit_code == 1 and "is not a JSON file" in worse.output


def test_the_blend_takes_the_weight_that_did_best_on_the_record(tmp_path: Path) -> None:
    """The model 2 above every actual, the run rate 2 below: half of each is exact, and
    no other weight of the grid is; the blend for a new period weighs the two alike."""
    nothing = Point(math.nan, math.nan)
    actuals = (10, 14, 20)
    origins = [Origin(day(k), day(k + 7), outcome(a, a + 2, a + 4), outcome(a, a + 2, a + 4),
                      a, float(a), {b: Point(a - 2.0, a - 2.0) if b == "run_rate" else nothing
                                    for b in BASELINES})
               for k, a in enumerate(actuals)]
    record = Backtest(origins, 7.0)
    history = known_history(tmp_path)
    found = blend(record, history, history.as_of + dt.timedelta(days=7), "won", 30.0)
    assert found is not None and found.baseline == "run_rate"
    assert found.weight == pytest.approx(0.5) and found.mae == pytest.approx(0.0)
    assert found.model_mae == pytest.approx(2.0)
    rate = baseline(history, "run_rate", history.as_of + dt.timedelta(days=7)).won
    assert found.forecast == pytest.approx(0.5 * 30.0 + 0.5 * rate)


@pytest.mark.parametrize(("edit", "said"), [
    ({"horizon_days": -5}, "it looks -5 days ahead"),
    ({"horizon_days": 1e12}, "it looks 1e+12 days ahead"),
    ({"cases": {"worst": "p90", "neutral": "p50", "best": "p10"}}, "are not percentiles"),
    ({"cases": {"worst": "p10", "neutral": "p50", "best": "p9000"}}, "are not percentiles"),
    ({"origins": [{"at": "2025-01-01T00:00:00"}]}, "it has no 'until'"),
    ({"failed": 3}, "a value in it is not what a backtest writes"),
])
def test_a_track_record_edited_out_of_shape_is_refused(edit: dict[str, Any],
                                                       said: str) -> None:
    """A saved backtest looking -5 days ahead, or with its worst case above its best,
    was read back and shown beside the forecast as if it were a record."""
    origin = Origin(day(0), day(7), outcome(10, 12, 14), outcome(10, 12, 14), 11, 11.0,
                    {b: Point(math.nan, math.nan) for b in BASELINES})
    saved = json.loads(json.dumps(Backtest([origin], 7.0).to_dict()))
    assert from_dict(saved).horizon_days == 7.0
    with pytest.raises(ValueError, match=re.escape(said)):
        from_dict({**saved, **edit})
