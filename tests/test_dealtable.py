"""Deal tables without stage history (history/dealtable.py, deal_measurement.py): a
simulated history written as one row per deal — Salesforce's Opportunity.csv alone, a
HubSpot deals export without stage dates, a generic deal table — is read as a deal table,
and every figure `measure` gives of it equals an independent pandas computation from the
simulated deals themselves; forecast and backtest run from it and say what they assumed."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import norm

import salesproc
from salesproc.experiments.export import Deal, deals_of, write_salesforce
from salesproc.history import HistoryError, read_history
from salesproc.history.table import (
    DEAL_TABLE,
    DEAL_TABLE_CUT,
    OUTCOME_LOST,
    OUTCOME_OPEN,
    OUTCOME_WON,
)
from salesproc.measuring.deal_measurement import DealMeasurement, measure_deals
from salesproc.prediction.synthetic import PRESETS, generate, reading, write
from tests.conftest import CASES, ROOT, run

GROUND = CASES / "history" / "ground.yaml"
GENERIC = ["crm.lost_reason=lost_reason"]  # ground.yaml names Loss_Reason__c (SP840)
SMALL = CASES / "exports" / "process.yaml"  # prospecting, qualification; a segment column
SECOND = 1 / 86400


@pytest.fixture(scope="module")
def simulated() -> tuple[salesproc.Process, list[Deal]]:
    process = salesproc.load(GROUND)
    result = salesproc.simulate(process, events=True)
    assert result.events is not None
    return process, deals_of(result.events, process)


def _stage_name(d: Deal) -> str:
    return {"won": "Closed Won", "lost": "Closed Lost"}.get(d.outcome, d.stages[-1][0])


def write_hubspot_table(deals: list[Deal], path: Path) -> Path:
    """A HubSpot deals export with no `Date entered` column (close dates to the second)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Record ID", "Deal Name", "Deal Stage", "Create Date", "Close Date",
                    "Amount", "Pipeline", "Segment", "Loss_Reason__c"])
        for d in deals:
            w.writerow([d.id, f"Deal {d.id}", _stage_name(d), f"{d.created:%Y-%m-%d %H:%M:%S}",
                        f"{d.closed:%Y-%m-%d %H:%M:%S}" if d.closed else "",
                        f"{d.value:.2f}", "Sales Pipeline", d.buyer, d.reason])
    return path


def write_generic_table(deals: list[Deal], path: Path, names: dict[str, str] | None = None
                        ) -> Path:
    """deal,name,created,close_date,stage,amount,currency,owner,lost_reason,segment; an
    open deal's close_date is its expected close (60 days after creation)."""
    header = ["deal", "name", "created", "close_date", "stage", "amount", "currency", "owner",
              "lost_reason", "segment"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([(names or {}).get(h, h) for h in header])
        for k, d in enumerate(deals):
            close = d.closed or d.created + dt.timedelta(days=60)
            w.writerow([d.id, f"Deal {k}", f"{d.created:%Y-%m-%d %H:%M:%S}",
                        f"{close:%Y-%m-%d %H:%M:%S}", _stage_name(d), f"{d.value:.2f}", "USD",
                        f"rep{k % 3}", d.reason, d.buyer])
    return path


def frame(deals: list[Deal], process: salesproc.Process, day_close: bool) -> pd.DataFrame:
    """The deals as pandas sees them: created, closed (a date-only close date — Salesforce's
    CloseDate — is the start of its day, at the earliest the creation), stage id now."""
    ids = {s.name: sid for sid, s in process.stages.items()}
    df = pd.DataFrame({
        "id": [d.id for d in deals], "buyer": [d.buyer for d in deals],
        "value": [round(d.value, 2) for d in deals], "outcome": [d.outcome for d in deals],
        "reason": [d.reason for d in deals],
        "created": pd.to_datetime([d.created.replace(microsecond=0) for d in deals]),
        "closed": pd.to_datetime([d.closed for d in deals]),
        "stage": [ids[d.stages[-1][0]] if d.outcome == "open" else "" for d in deals]})
    if day_close:
        df["closed"] = np.maximum(df["closed"].dt.normalize(), df["created"])
    return df


def wilson(k: int, n: int) -> tuple[float, float, float]:
    z = norm.ppf(0.975)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return p, centre - half, centre + half


def km_quantile(days: pd.Series, event: pd.Series, q: float) -> float:
    """The product-limit estimate's q quantile, computed step by step with pandas."""
    table = pd.DataFrame({"t": days, "e": event.astype(int)}).groupby("t")["e"].agg(
        ["sum", "count"]).sort_index()
    at_risk = len(days) - table["count"].cumsum().shift(fill_value=0)
    survival = (1 - table["sum"] / at_risk).cumprod()
    reached = survival[(survival <= 1 - q + 1e-12) & (table["sum"] > 0)]
    return float(reached.index[0]) if len(reached) else math.nan


def expected(df: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, object]:
    won, lost, still = (df[df.outcome == o] for o in ("won", "lost", "open"))
    days = pd.concat([(won.closed - won.created), (as_of - still.created)]).dt.total_seconds()
    event = pd.Series([True] * len(won) + [False] * len(still))
    ages = (as_of - still.created).dt.total_seconds() / 86400
    quarter = won.closed
    month = (quarter.dt.month - 1) % 3
    end = quarter.dt.to_period("Q").dt.end_time.dt.normalize() + pd.Timedelta(days=1)
    days_in = quarter.dt.to_period("Q").dt.start_time
    span = (end - days_in).dt.days
    month_days = [(days_in + pd.DateOffset(months=j)).dt.days_in_month for j in range(3)]
    return {
        "counts": (len(df), len(still), len(won), len(lost)),
        "win_rate": wilson(len(won), len(won) + len(lost)),
        "by_buyer": {b: wilson(int((g.outcome == "won").sum()),
                               int(g.outcome.isin(["won", "lost"]).sum()))
                     for b, g in df.groupby("buyer")},
        "cycle_median": km_quantile(days.reset_index(drop=True) / 86400, event, 0.5),
        "cycle_p90": km_quantile(days.reset_index(drop=True) / 86400, event, 0.9),
        "pipeline": {s: (len(g), g.value.sum(), ages[g.index].median())
                     for s, g in still.groupby("stage")},
        "months": df.created.dt.strftime("%Y-%m").value_counts().sort_index().to_dict(),
        "quarter": [int((month == j).sum()) for j in range(3)]
        + [int(((end - quarter) <= pd.Timedelta(days=7)).sum())],
        "even": [float((m / span).mean()) for m in month_days] + [float((7 / span).mean())],
        "won_value": won.value.sum(), "open_value": still.value.sum(),
        "losses": lost.reason.replace("", "(no reason given)").value_counts().to_dict(),
    }


def assert_matches(m: DealMeasurement, want: dict[str, object]) -> None:
    o = m.overall
    assert (o.deals, o.open, o.won, o.lost) == want["counts"]
    assert (o.win_rate.mean, o.win_rate.low, o.win_rate.high) == pytest.approx(
        want["win_rate"], abs=1e-12)
    by_buyer = want["by_buyer"]
    assert isinstance(by_buyer, dict)
    for b, s in m.buyers.items():
        assert (s.win_rate.mean, s.win_rate.low, s.win_rate.high) == pytest.approx(
            by_buyer[b], abs=1e-12), b
    assert o.cycle.median == pytest.approx(want["cycle_median"], abs=SECOND)
    assert o.cycle.p90 == pytest.approx(want["cycle_p90"], abs=SECOND, nan_ok=True)
    pipeline = want["pipeline"]
    assert isinstance(pipeline, dict)
    assert {p.stage for p in o.pipeline if p.deals} == set(pipeline)
    for p in o.pipeline:
        if p.deals:
            count, value, age = pipeline[p.stage]
            assert (p.deals, p.value) == (count, pytest.approx(value, abs=0.01)), p.stage
            assert p.age_p50 == pytest.approx(age, abs=SECOND), p.stage
    assert dict(o.months) == want["months"]
    assert [q.won for q in o.quarter] == want["quarter"]
    assert [q.even for q in o.quarter] == pytest.approx(want["even"], abs=1e-12)
    assert sum(q.won for q in o.quarter[:3]) == o.won  # every win falls in one month
    assert o.won_value == pytest.approx(want["won_value"], abs=0.01)
    assert o.open_value == pytest.approx(want["open_value"], abs=0.01)
    assert dict(o.losses) == want["losses"]


def process_file(folder: Path, crm: dict[str, object]) -> Path:
    """ground.yaml with these crm: settings, written to *folder*."""
    data = yaml.safe_load(GROUND.read_text("utf-8"))
    data["crm"].update(crm)
    path = folder / "process.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


def as_of_of(m: DealMeasurement) -> pd.Timestamp:
    return pd.Timestamp(m.as_of)


def test_opportunity_csv_alone_is_a_deal_table_measured_as_pandas_measures_it(
        simulated: tuple[salesproc.Process, list[Deal]], tmp_path: Path) -> None:
    process, deals = simulated
    opportunity, _ = write_salesforce(deals, tmp_path / "sf")
    history = read_history(opportunity, process)
    assert history.kind == DEAL_TABLE and not history.has_stages
    assert [n.code for n in history.notes] == ["SP830"]
    m = salesproc.measure(history)  # the library's measure knows a deal table
    assert isinstance(m, DealMeasurement)
    assert_matches(m, expected(frame(deals, process, day_close=True), as_of_of(m)))


def test_a_hubspot_export_without_stage_dates_is_a_deal_table(
        simulated: tuple[salesproc.Process, list[Deal]], tmp_path: Path) -> None:
    process, deals = simulated
    history = read_history(write_hubspot_table(deals, tmp_path / "deals.csv"), process)
    assert history.kind == DEAL_TABLE
    m = measure_deals(history)
    assert_matches(m, expected(frame(deals, process, day_close=False), as_of_of(m)))


def test_a_generic_deal_table_and_its_columns_named_in_crm(
        simulated: tuple[salesproc.Process, list[Deal]], tmp_path: Path) -> None:
    process, deals = simulated
    generic = salesproc.load(GROUND, GENERIC)
    want = expected(frame(deals, process, day_close=False), pd.Timestamp(
        read_history(write_generic_table(deals, tmp_path / "a.csv"), generic).as_of))
    m = measure_deals(read_history(tmp_path / "a.csv", generic))
    assert_matches(m, want)
    # the same table under the CRM's own names, given in crm: columns
    names = {"deal": "Opportunity", "created": "Opened", "close_date": "Closed on",
             "stage": "Status", "owner": "Rep"}
    other = salesproc.load(process_file(tmp_path, {"columns": names,
                                                   "lost_reason": "lost_reason"}))
    table = write_generic_table(deals, tmp_path / "b.csv", names)
    history = read_history(table, other)
    assert history.kind == DEAL_TABLE
    assert set(history.deals.owner.to_pylist()) == {"rep0", "rep1", "rep2"}
    assert_matches(measure_deals(history), want)


def test_hubspot_entry_dates_of_won_and_lost_alone_are_no_stage_history(
        tmp_path: Path) -> None:
    export = tmp_path / "deals.csv"
    export.write_text('Record ID,Deal Stage,Create Date,Close Date,Amount,Segment,'
                      '"Date entered ""Closed Won (Sales Pipeline)"""\n'
                      "1,Closed Won,2025-01-06 10:00:00,2025-01-09 12:00:00,100,SMB,"
                      "2025-01-09 12:00:00\n2,Qualification,2025-01-07 10:00:00,,200,SMB,\n",
                      "utf-8")
    history = read_history(export, salesproc.load(SMALL))
    assert history.kind == DEAL_TABLE
    assert history.deals.closed[0] == np.datetime64("2025-01-09T12:00:00")
    assert len(history.visits) == 1 and history.visits.deal[0] == 1
    with_stage = tmp_path / "staged.csv"
    with_stage.write_text('Record ID,Deal Stage,Create Date,Segment,'
                          '"Date entered ""Qualification"""\n2,Qualification,'
                          "2025-01-07 10:00:00,SMB,2025-01-08 10:00:00\n", "utf-8")
    assert read_history(with_stage, salesproc.load(SMALL)).has_stages


def test_a_deal_table_with_a_stage_change_csv_is_refused(tmp_path: Path) -> None:
    table = tmp_path / "deals.csv"
    table.write_text("deal,created,stage,segment\nA,2025-01-06,Qualification,SMB\n", "utf-8")
    changes = tmp_path / "changes.csv"
    changes.write_text("deal,stage,changed_at,segment\nA,Qualification,2025-01-06,SMB\n",
                       "utf-8")
    with pytest.raises(HistoryError) as caught:
        read_history([table, changes], salesproc.load(SMALL))
    assert caught.value.notes[0].code == "SP818"


def test_open_deals_have_one_visit_at_their_stage_since_created_closed_deals_none(
        simulated: tuple[salesproc.Process, list[Deal]], tmp_path: Path) -> None:
    _, deals = simulated
    history = read_history(write_generic_table(deals, tmp_path / "t.csv"),
                           salesproc.load(GROUND, GENERIC))
    d, v = history.deals, history.visits
    assert len(v) == int((d.outcome == OUTCOME_OPEN).sum())
    assert (d.outcome[v.deal] == OUTCOME_OPEN).all()
    assert (v.entered == d.created[v.deal]).all()
    assert np.isnat(v.left).all()


def test_a_cut_before_the_export_puts_the_deals_open_then_at_their_path_start(
        simulated: tuple[salesproc.Process, list[Deal]], tmp_path: Path) -> None:
    process, deals = simulated
    cut = dt.datetime.combine(process.start, dt.time()) + dt.timedelta(days=110)
    opportunity, _ = write_salesforce(deals, tmp_path / "sf")
    history = read_history(opportunity, process, as_of=cut)
    assert history.kind == DEAL_TABLE_CUT
    assert {"SP830", "SP815", "SP832"} <= {n.code for n in history.notes}

    def closed(x: Deal) -> dt.datetime | None:  # CloseDate is a day
        return None if x.closed is None else max(x.closed.replace(hour=0, minute=0, second=0),
                                                 x.created)

    open_then = [x for x in deals if x.created <= cut and (closed(x) is None
                                                           or closed(x) > cut)]
    assert len(history.visits) == len(open_then) == int((history.deals.outcome
                                                         == OUTCOME_OPEN).sum())
    starts = {list(process.stages).index(b.start) for b in process.buyer_types.values()}
    assert set(history.visits.stage.tolist()) <= starts
    # what the CRM said of them then is unknown: as exported, a closed deal's probability,
    # close date and category are its outcome's (100% or 0%, when it closed, Closed)
    assert np.isnan(history.deals.probability).all() and np.isnat(
        history.deals.close_date).all()
    assert set(history.deals.forecast_category.to_pylist()) == {""}
    whole = read_history(opportunity, process)
    assert np.isfinite(whole.deals.probability).all()  # kept where nothing was cut
    m = measure_deals(history)
    assert not m.stages_known and [p.stage for p in m.overall.pipeline] == [""]
    assert m.overall.pipeline[0].deals == len(open_then)


def test_closes_on_the_day_of_creation_or_before_it(tmp_path: Path) -> None:
    table = tmp_path / "deals.csv"
    table.write_text("deal,created,close_date,stage,amount,segment\n"
                     "A,2025-01-06T15:00:00,2025-01-06,won,100,SMB\n"
                     "B,2025-01-06T09:00:00,2025-01-03,lost,100,SMB\n"
                     "C,2025-01-06T09:00:00,2025-01-10,won,100,SMB\n"
                     "D,2025-01-06T09:00:00,,lost,100,SMB\n"
                     "E,2025-01-07T09:00:00,2025-03-10,Qualification,100,SMB\n", "utf-8")
    history = read_history(table, salesproc.load(SMALL), today=dt.date(2025, 2, 1))
    d = history.deals
    closed = dict(zip(d.id.to_pylist(), d.closed.tolist(), strict=True))
    assert closed["A"] == dt.datetime(2025, 1, 6, 15)  # the same day: when created
    assert closed["B"] == dt.datetime(2025, 1, 6, 9)  # before it: when created, noted
    assert closed["C"] == dt.datetime(2025, 1, 10)
    assert "D" not in closed and closed["E"] is None  # no close date: left out; open
    codes = {n.code: n for n in history.notes}
    assert codes["SP807"].rows == (3,) and codes["SP831"].rows == (5,)
    assert measure_deals(history).overall.after_the_fact == 1  # A, won at once


def test_a_deal_table_does_not_say_when_a_deal_last_changed(tmp_path: Path) -> None:
    """SP822 (open deals untouched for 90 days) needs the dates of changes: a stage-change
    CSV has them, a deal table does not (its open deals' one visit starts at creation)."""
    rows = [("A", "2025-01-06", "Qualification"), ("B", "2025-09-01", "Qualification")]
    table = tmp_path / "deals.csv"
    table.write_text("deal,created,stage,segment\n" + "".join(
        f"{d},{c},{s},SMB\n" for d, c, s in rows), "utf-8")
    changes = tmp_path / "changes.csv"
    changes.write_text("deal,changed_at,stage,segment\n" + "".join(
        f"{d},{c},{s},SMB\n" for d, c, s in rows), "utf-8")
    process = salesproc.load(SMALL)
    assert "SP822" in {n.code for n in read_history(changes, process).notes}
    assert "SP822" not in {n.code for n in read_history(table, process).notes}


def test_a_stage_change_csv_with_a_created_column_is_still_a_stage_history(
        tmp_path: Path) -> None:
    changes = tmp_path / "changes.csv"
    changes.write_text("deal,stage,changed_at,created,segment\n"
                       "A,Prospecting,2025-01-06,2025-01-06,SMB\n"
                       "A,Qualification,2025-01-08,2025-01-06,SMB\n", "utf-8")
    history = read_history(changes, salesproc.load(SMALL))
    assert history.has_stages and len(history.visits) == 2


def test_measure_through_the_cli_says_what_is_lost_and_leaves_stage_sections_out(
        simulated: tuple[salesproc.Process, list[Deal]], tmp_path: Path) -> None:
    _, deals = simulated
    table = str(write_generic_table(deals, tmp_path / "t.csv"))
    ground = ("--process", str(process_file(tmp_path, {"lost_reason": "lost_reason"})))
    result = run("measure", table, *ground)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "(a deal table)" in lines[0]
    assert lines[1].startswith("Without stage history, time in each stage, moves from stage "
                               "to stage and the stage where deals are lost cannot be measured")
    for section in ("Time in stage", "Flow:", "Moves backwards", "Opportunity win",
                    "stale"):
        assert section not in result.stdout
    for section in ("Win rate", "Cycle time", "When in the quarter", "By buyer type",
                    "New deals by month"):
        assert section in result.stdout
    assert "note SP830" in result.stderr
    data = json.loads(run("measure", table, *ground, "--format",
                          "json").stdout)
    assert data["kind"] == "deal table" and data["overall"]["won"] == sum(
        d.outcome == "won" for d in deals)
    assert "time_in_stage" not in data["overall"] and "moves" not in data["overall"]
    rows = list(csv.DictReader(run("measure", table, *ground, "--format",
                                   "csv").stdout.splitlines()))
    rate = [r for r in rows if r["metric"] == "win_rate" and r["scope"] == "all"]
    assert float(rate[0]["value"]) == pytest.approx(data["overall"]["win_rate"]["mean"])
    page = run("measure", table, *ground, "--format", "html", "--buyer",
               "small").stdout
    assert "Without stage history" in page and "Buyer type small only" in page
    charts = run("measure", table, *ground, "--charts",
                 str(tmp_path / "charts"))
    assert charts.exit_code == 0 and "a deal table has no charts" in charts.stderr
    assert not (tmp_path / "charts").exists()


def test_forecast_and_backtest_from_a_deal_table_say_what_they_assumed(
        simulated: tuple[salesproc.Process, list[Deal]], tmp_path: Path) -> None:
    process, deals = simulated
    opportunity, _ = write_salesforce(deals, tmp_path / "sf")
    result = run("forecast", str(opportunity), "--process", str(GROUND), "--horizon", "30d",
                 "-r", "5", "--seed", "1", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert "note SP830" in result.stderr
    assert "open deals are taken to be in their stage since they were created" in \
        result.stderr
    data = json.loads(result.stdout)
    assert any("a deal table has no stage history" in n for n in data["notes"])  # in the
    still = [d for d in deals if d.outcome == "open"]  # forecast itself, not only stderr
    assert len(data["deals"]) == len(still)  # every open deal starts at its stage
    start = dt.datetime.combine(process.start, dt.time())
    back = run("backtest", str(opportunity), "--process", str(GROUND), "--from",
               f"{start + dt.timedelta(days=60):%Y-%m-%d}", "--to",
               f"{start + dt.timedelta(days=60):%Y-%m-%d}", "--horizon", "30d", "-r", "5",
               "--seed", "1", "--format", "json")
    assert back.exit_code == 0, back.stderr
    origins = json.loads(back.stdout)["origins"]
    cut = start + dt.timedelta(days=60, hours=23, minutes=59, seconds=59)  # the day's end
    closes = [max(d.closed.replace(hour=0, minute=0, second=0), d.created) for d in deals
              if d.outcome == "won" and d.closed]  # CloseDate: a day
    truth = sum(cut < c <= cut + dt.timedelta(days=30) for c in closes)
    assert len(origins) == 1 and origins[0]["actual_won"] == truth
    baselines = origins[0]["baselines"]  # no stage moves, no history rows' probabilities
    assert baselines["markov"]["won"] is None and baselines["weighted_pipeline"]["won"] is None
    assert baselines["run_rate"]["won"] is not None


@pytest.mark.parametrize("shape", ["salesforce-deals", "deal-table"])
def test_the_generated_deal_table_shapes_read_back_as_their_truth(
        shape: str, tmp_path: Path) -> None:
    """history.synthetic's messy history (Spanish stages, four currencies, NUL bytes,
    after-the-fact wins, zombies, an import burst, wins pulled to the end of the quarter)
    written one row per deal."""
    mess = dataclasses.replace(PRESETS["real"], days=120)
    truth = generate(ROOT / "processes" / "five-step.yaml", mess, seed=4,
                     start=dt.date(2025, 6, 2))
    files = write(truth, tmp_path, shape)  # type: ignore[arg-type]
    history = read_history(files, reading(truth, shape),  # type: ignore[arg-type]
                           today=truth.end.date())
    codes = {n.code for n in history.notes}  # nothing left out: only what is said of it
    assert "SP830" in codes and codes <= {"SP830", "SP820", "SP821", "SP823", "SP824"}, codes
    outcome = history.deals.outcome
    assert len(outcome) == len(truth.deals)
    for code, name in ((OUTCOME_WON, "won"), (OUTCOME_LOST, "lost"), (OUTCOME_OPEN, "open")):
        assert int((outcome == code).sum()) == truth.count(outcome=name), name
    m = measure_deals(history)
    assert m.overall.after_the_fact == truth.count("after-the-fact")
    rounding = 0.005 * max(rate for _, rate in mess.currencies)  # cents of each currency
    assert m.overall.won_value == pytest.approx(
        sum(d.value for d in truth.deals if d.outcome == "won"), abs=rounding * m.overall.won)


def test_the_fit_check_of_a_deal_table_judges_only_what_it_has(
        simulated: tuple[salesproc.Process, list[Deal]], tmp_path: Path) -> None:
    _, deals = simulated
    opportunity, _ = write_salesforce(deals, tmp_path / "sf")
    result = run("calibrate", str(opportunity), "--process", str(GROUND), "-o",
                 str(tmp_path / "fitted.yaml"), "--check", "-r", "5", "--seed", "1",
                 "--check-json", str(tmp_path / "check.json"))
    assert result.exit_code == 0, result.stderr
    checks = json.loads((tmp_path / "check.json").read_text("utf-8"))["checks"]
    judged = {(c["scope"], c["figure"]) for c in checks}
    assert judged and all(scope == "all" for scope, _ in judged)  # no stage's visits or days
    assert ("all", "win rate (censored)") in judged


def test_calibrating_a_deal_table_keeps_the_files_routes_times_and_entries(
        simulated: tuple[salesproc.Process, list[Deal]], tmp_path: Path) -> None:
    """Where deals sit now says nothing of how they moved: no route, time in stage or
    entry stage is fitted from a deal table (it wrote enter: from the open deals' stages)."""
    _, deals = simulated
    opportunity, _ = write_salesforce(deals, tmp_path / "sf")
    history = salesproc.read_history([str(opportunity)], salesproc.load(GROUND))
    cal = salesproc.calibrate(history)
    assert not any(f.setting.endswith((".next", ".delay", ".enter")) for f in cal.fitted)
    assert any("no stage history" in n for n in cal.notes)
    assert any(f.setting == "arrivals.rate" for f in cal.fitted)
