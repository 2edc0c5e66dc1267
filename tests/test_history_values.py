"""A history as of an earlier date has each deal's amount, probability and expected close
date as they stood then (the last history row by then), checked against an independent
pandas computation on generated exports whose amounts change."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import salesproc
from salesproc.history import read_history
from tests.conftest import CASES

PROCESS = CASES / "exports" / "process.yaml"
RATES = {"USD": 1.0, "EUR": 1.1}  # as the process's crm.currency_rates say
START = dt.datetime(2025, 1, 6, 9)
STAGES = ["Prospecting", "Qualification"]


def _rows(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(Opportunity, OpportunityHistory) as text: 80 deals, each with 1–7 history rows whose
    amounts, probabilities and close dates change (some cells empty), exported with the
    last values said, and 8 deals with no history row at all."""
    rng = np.random.default_rng(seed)
    deals, rows = [], []
    for k in range(88):
        deal = f"006{k:04d}"
        created = START + dt.timedelta(minutes=int(rng.integers(0, 60 * 24 * 50)))
        currency = str(rng.choice(list(RATES)))
        times = [created, *sorted(created + dt.timedelta(minutes=int(m))
                                  for m in rng.choice(60 * 24 * 40, int(rng.integers(0, 7)),
                                                      replace=False) + 1)]
        stage = "Prospecting"

        def some(number: int) -> str:
            return "" if rng.random() < 0.15 else str(number)  # an empty cell says nothing

        said = {"Amount": str(int(rng.integers(1, 90)) * 700),  # as exported: the last said
                "Probability": str(int(rng.integers(0, 11)) * 10),
                "CloseDate": (created + dt.timedelta(days=int(rng.integers(1, 120)))
                              ).strftime("%Y-%m-%d")}
        if k < 80:
            said = dict.fromkeys(said, "")
        for i, at in enumerate(times if k < 80 else []):
            if i and rng.random() < 0.4:
                stage = str(rng.choice([*STAGES, "Closed Won", "Closed Lost"]))
            row = {"Amount": some(int(rng.integers(1, 90)) * 500),
                   "Probability": some(int(rng.integers(0, 11)) * 10),
                   "CloseDate": "" if rng.random() < 0.15 else
                   (at + dt.timedelta(days=int(rng.integers(1, 90)))).strftime("%Y-%m-%d")}
            said.update({name: value for name, value in row.items() if value})
            rows.append({"OpportunityId": deal, "StageName": stage,
                         "CreatedDate": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"), **row})
            if stage.startswith("Closed"):
                break
        deals.append({"Id": deal, "StageName": stage,
                      "CreatedDate": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"), **said,
                      "IsClosed": str(stage.startswith("Closed")).lower(),
                      "IsWon": str(stage == "Closed Won").lower(), "CurrencyIsoCode": currency,
                      "Segment__c": "SMB"})
    return pd.DataFrame(deals), pd.DataFrame(rows)


def _as_they_stood(opportunities: pd.DataFrame, history: pd.DataFrame, cut: dt.datetime
                   ) -> pd.DataFrame:
    """Per deal created by *cut*: value, probability and close date from its last history
    row by then (an empty cell says nothing), else from the Opportunity row."""
    def times(column: pd.Series) -> pd.Series:
        return pd.to_datetime(column.str.replace(".000Z", "", regex=False))

    o = opportunities.assign(created=times(opportunities["CreatedDate"]))
    o = o[o["created"] <= cut].set_index("Id").replace("", np.nan)
    h = history.assign(at=times(history["CreatedDate"]))
    h = h[h["at"] <= cut].sort_values(["OpportunityId", "at"], kind="stable")
    h = h.replace("", np.nan)
    for column in ("Amount", "Probability", "CloseDate"):
        h[column] = h.groupby("OpportunityId")[column].ffill()
    last = h.groupby("OpportunityId").tail(1).set_index("OpportunityId")
    rate = o["CurrencyIsoCode"].map(RATES)
    out = pd.DataFrame({
        "value": o["Amount"].astype(float) * rate,
        "probability": o["Probability"].astype(float) / 100,
        "close_date": pd.to_datetime(o["CloseDate"])}, index=o.index)
    had = last.index.intersection(o.index)
    out.loc[had, "value"] = last.loc[had, "Amount"].astype(float) * rate[had]
    out.loc[had, "probability"] = last.loc[had, "Probability"].astype(float) / 100
    out.loc[had, "close_date"] = pd.to_datetime(last.loc[had, "CloseDate"])
    return out.sort_index()


def _found(history: salesproc.History) -> pd.DataFrame:
    frame = history.deals_frame().set_index("id")
    return frame[["value", "probability", "close_date"]].sort_index()


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.index) == list(want.index)
    np.testing.assert_allclose(got["value"].to_numpy(float), want["value"].to_numpy(float))
    np.testing.assert_allclose(got["probability"].to_numpy(float),
                               want["probability"].to_numpy(float))
    assert (got["close_date"].to_numpy("datetime64[s]").astype(str).tolist()
            == want["close_date"].to_numpy("datetime64[s]").astype(str).tolist())


@pytest.mark.parametrize("seed", [1, 2])
def test_salesforce_values_at_a_cut_are_those_of_the_last_row_by_then(
        tmp_path: Path, seed: int) -> None:
    opportunities, rows = _rows(seed)
    opportunities.to_csv(tmp_path / "Opportunity.csv", index=False)
    rows.to_csv(tmp_path / "OpportunityHistory.csv", index=False)
    process = salesproc.load(PROCESS)
    files = [tmp_path / "Opportunity.csv", tmp_path / "OpportunityHistory.csv"]
    history = read_history(files, process, today=dt.date(2026, 1, 1))
    exported = _as_they_stood(opportunities, rows.iloc[:0], dt.datetime(2100, 1, 1))
    _same(_found(history), exported)  # read as a whole: the values as exported
    changed = 0
    for days in (8, 20, 35, 60):
        cut = START + dt.timedelta(days=days, hours=5)
        want = _as_they_stood(opportunities, rows, cut)
        _same(_found(history.at(cut)), want)
        _same(_found(history.at(cut + dt.timedelta(days=30)).at(cut)), want)
        changed += int((want["value"].fillna(-1)
                        != exported.loc[want.index, "value"].fillna(-1)).sum())
        end_of_day = dt.datetime.combine(cut.date(), dt.time(23, 59, 59))
        _same(_found(read_history(files, process, as_of=cut.date(), today=dt.date(2026, 1, 1))),
              _as_they_stood(opportunities, rows, end_of_day))
    assert changed > 20  # the amounts did change: the test could fail


def test_stage_change_csv_values_at_a_cut_are_those_of_the_last_row_by_then(
        tmp_path: Path) -> None:
    opportunities, rows = _rows(5)
    currency = opportunities.set_index("Id")["CurrencyIsoCode"]
    generic = pd.DataFrame({"deal": rows["OpportunityId"], "stage": rows["StageName"],
                            "changed_at": rows["CreatedDate"], "amount": rows["Amount"],
                            "currency": rows["OpportunityId"].map(currency),
                            "probability": rows["Probability"],
                            "close_date": rows["CloseDate"], "segment": "SMB"})
    generic.to_csv(tmp_path / "changes.csv", index=False)
    history = read_history(tmp_path / "changes.csv", salesproc.load(PROCESS),
                           today=dt.date(2026, 1, 1))
    listed = opportunities[opportunities["Id"].isin(rows["OpportunityId"])]
    for days in (10, 30):
        cut = START + dt.timedelta(days=days)
        first = rows.groupby("OpportunityId")["CreatedDate"].min()
        born = listed.assign(CreatedDate=listed["Id"].map(first))  # created at the first row
        _same(_found(history.at(cut)), _as_they_stood(born, rows, cut))


def test_past_close_dates_and_untouched_deals_are_counted_as_pandas_counts_them(
        tmp_path: Path) -> None:
    """SP821 and SP822 at an as-of date, against the rows as pandas reads them: open deals
    (no closing row by then) whose close date as it stood is before that day, and whose
    last change (of stage, amount, probability or close date) is 90 days old or more."""
    opportunities, rows = _rows(7)
    opportunities.to_csv(tmp_path / "Opportunity.csv", index=False)
    rows.to_csv(tmp_path / "OpportunityHistory.csv", index=False)
    files = [tmp_path / "Opportunity.csv", tmp_path / "OpportunityHistory.csv"]
    process = salesproc.load(PROCESS)
    given = {"SP821": 0, "SP822": 0}
    for day in (dt.date(2025, 2, 20), dt.date(2025, 5, 1), dt.date(2025, 6, 15)):
        cut = dt.datetime.combine(day, dt.time(23, 59, 59))
        notes = {n.code: n.count for n in read_history(files, process, as_of=day,
                                                       today=dt.date(2026, 1, 1)).notes}
        h = rows.assign(at=pd.to_datetime(rows["CreatedDate"].str.replace(".000Z", "")))
        h = h[h["at"] <= cut].sort_values(["OpportunityId", "at"], kind="stable")
        closed = set(h.loc[h["StageName"].str.startswith("Closed"), "OpportunityId"])
        stood = _as_they_stood(opportunities, rows, cut)
        is_open = ~stood.index.isin(sorted(closed))
        past = int((is_open & (stood["close_date"] < pd.Timestamp(day))).sum())
        values = h.replace("", np.nan)
        for column in ("Amount", "Probability", "CloseDate"):
            values[column] = values.groupby("OpportunityId")[column].ffill()
        keys = ["OpportunityId", "StageName", "Amount", "Probability", "CloseDate"]
        changed = values[keys].fillna("-").ne(values[keys].fillna("-").shift()).any(axis=1)
        touched = values[changed].groupby("OpportunityId")["at"].max()
        created = pd.to_datetime(opportunities.set_index("Id")["CreatedDate"].str.replace(
            ".000Z", "")).loc[stood.index]
        last = pd.concat([created, touched.reindex(stood.index)], axis=1).max(axis=1)
        idle = int((is_open & ((cut - last) >= pd.Timedelta(days=90))).sum())
        assert notes.get("SP821", 0) == past
        assert notes.get("SP822", 0) == idle
        given = {"SP821": given["SP821"] + past, "SP822": given["SP822"] + idle}
    assert min(given.values()) > 0  # both notes were given: the test could fail


def test_measure_as_of_values_the_pipeline_as_it_stood(tmp_path: Path) -> None:
    """Through the CLI: the open pipeline's worth at --as-of is the sum of the amounts the
    open deals had then, not of their exported amounts."""
    import json

    from tests.conftest import run

    opportunities, rows = _rows(3)
    opportunities.to_csv(tmp_path / "Opportunity.csv", index=False)
    rows.to_csv(tmp_path / "OpportunityHistory.csv", index=False)
    day = dt.date(2025, 2, 10)
    cut = dt.datetime.combine(day, dt.time(23, 59, 59))
    result = run("measure", str(tmp_path / "Opportunity.csv"),
                 str(tmp_path / "OpportunityHistory.csv"), "--process", str(PROCESS),
                 "--as-of", day.isoformat(), "--format", "json")
    assert result.exit_code == 0, result.stderr
    pipeline = json.loads(result.stdout)["overall"]["pipeline"]
    h = rows.assign(t=pd.to_datetime(rows["CreatedDate"].str.replace(".000Z", "")))
    closed = set(h.loc[(h["t"] <= cut) & h["StageName"].str.startswith("Closed"),
                       "OpportunityId"])
    stood = _as_they_stood(opportunities, rows, cut)
    worth = stood.loc[~stood.index.isin(sorted(closed)), "value"]
    exported = _as_they_stood(opportunities, rows.iloc[:0], cut).loc[worth.index, "value"]
    assert sum(p["value"] for p in pipeline) == pytest.approx(worth.sum())
    assert worth.sum() != pytest.approx(exported.sum())  # the test could fail
