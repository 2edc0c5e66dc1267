"""Generated CRM histories (salesproc.prediction.synthetic): every shape reads back with the
readers as its known truth, each mess is in the written files in the stated amount (within
binomial or Poisson tolerance), and a seed gives the same bytes."""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import importlib.util
import io
import math
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import salesproc
from salesproc.history.read import read_history
from salesproc.history.table import OUTCOME_WON, History, after_the_fact
from salesproc.prediction.synthetic import (
    CONTROL,
    PRESETS,
    SHAPES,
    SPANISH,
    Mess,
    Shape,
    SyntheticHistory,
    generate,
    reading,
    variant,
    write,
)
from tests.conftest import ROOT

FIVE = ROOT / "processes" / "five-step.yaml"
STEADY = ROOT / "tests" / "cases" / "history" / "steady-five-step.yaml"  # no campaigns
START = dt.date(2025, 6, 2)
READABLE: list[Shape] = ["salesforce", "hubspot", "generic"]
Z = 3.5  # standard deviations: a false alarm once in about 2,000 runs of a test


def within(count: int, trials: int, share: float) -> bool:
    """*count* of *trials* is within Z binomial standard deviations of *share*."""
    return abs(count - trials * share) <= Z * math.sqrt(trials * share * (1 - share)) + 1


@pytest.fixture(scope="module")
def real() -> SyntheticHistory:
    return generate(FIVE, PRESETS["real"], seed=5, start=START)


@pytest.fixture(scope="module")
def clean() -> SyntheticHistory:
    return generate(STEADY, replace(PRESETS["clean"], per_month=40), seed=5, start=START,
                    days=240)


def read(history: SyntheticHistory, folder: Path, shape: Shape) -> History:
    files = sorted(str(p) for p in write(history, folder / shape, shape))
    return read_history(files, reading(history, shape), today=history.end.date())


def won(history: History) -> int:
    return int((history.deals.outcome == OUTCOME_WON).sum())


@pytest.mark.parametrize("shape", READABLE)
def test_a_clean_history_reads_back_as_its_truth_with_no_note(
        clean: SyntheticHistory, tmp_path: Path, shape: Shape) -> None:
    history = read(clean, tmp_path, shape)
    assert history.notes == ()
    assert len(history.deals) == len(clean.deals)
    assert won(history) == clean.count(outcome="won")
    assert int((history.deals.outcome == 2).sum()) == clean.count(outcome="lost")


@pytest.mark.parametrize("shape", READABLE)
def test_a_messy_history_reads_back_with_its_true_deals_wins_and_values(
        real: SyntheticHistory, tmp_path: Path, shape: Shape) -> None:
    readable = replace(real, deals=tuple(replace(d, description=d.description.replace(
        CONTROL, "")) for d in real.deals))  # NUL bytes: see the test after this one
    history = read(readable, tmp_path, shape)
    assert len(history.deals) == len(real.deals)
    assert won(history) == real.count(outcome="won")
    fast = sum(1 for d in real.deals if d.outcome == "won" and d.closed is not None
               and d.closed - d.created <= dt.timedelta(hours=1))
    assert int(after_the_fact(history.deals).sum()) == fast >= real.count("after-the-fact")
    assert np.nansum(history.deals.value) == pytest.approx(sum(d.value for d in real.deals),
                                                           rel=1e-9)
    cut, until = real.start + dt.timedelta(days=200), real.start + dt.timedelta(days=290)
    closed = (history.deals.closed > np.datetime64(cut, "s")) & \
        (history.deals.closed <= np.datetime64(until, "s")) & \
        (history.deals.outcome == OUTCOME_WON)
    wins, revenue = real.actual(cut, until)
    assert wins == int(closed.sum()) > 0
    assert revenue == pytest.approx(float(history.deals.value[closed].sum()), rel=1e-9)


def test_nul_bytes_in_a_rich_text_field_do_not_refuse_the_export(
        real: SyntheticHistory, tmp_path: Path) -> None:
    history = read(real, tmp_path, "salesforce")
    assert len(history.deals) == len(real.deals)


@pytest.mark.parametrize("shape", ["salesforce-deals", "deal-table"])
def test_a_deal_table_reads_back_as_its_truth(clean: SyntheticHistory, tmp_path: Path,
                                              shape: Shape) -> None:
    history = read(clean, tmp_path, shape)
    assert (len(history.deals), won(history)) == (len(clean.deals), clean.count(outcome="won"))


def rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file (NUL bytes dropped: Python's csv refuses them before 3.11)."""
    text = path.read_text("utf-8").replace("\x00", "")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_deal_tables_hold_one_row_per_deal_as_it_stands_at_the_end(
        real: SyntheticHistory, tmp_path: Path) -> None:
    (opportunities,) = write(real, tmp_path / "sf", "salesforce-deals")
    (table,) = write(real, tmp_path / "table", "deal-table")
    sf, generic = rows(opportunities), rows(table)
    assert list(generic[0]) == ["deal", "name", "created", "close_date", "stage", "amount",
                                "currency", "owner", "lost_reason", "segment"]
    assert len(sf) == len(generic) == len(real.deals)
    for truth, a, b in zip(real.deals, sf, generic, strict=True):
        stage = {"won": "Cerrada ganada", "lost": "Cerrada perdida"}.get(
            truth.outcome, real.names[truth.stages[-1][0]])
        assert a["StageName"] == b["stage"] == stage
        assert a["Id"] == b["deal"] == truth.id
        assert float(a["Amount"]) * truth.rate == float(b["amount"]) * truth.rate == truth.value
        closed = truth.closed.date() if truth.closed else \
            truth.created.date() + dt.timedelta(days=60)
        assert a["CloseDate"] == b["close_date"] == closed.isoformat()
        assert b["lost_reason"] == (truth.reason if truth.outcome == "lost" else "")


def test_each_mess_is_in_the_written_files_in_the_stated_amount(
        real: SyntheticHistory, tmp_path: Path) -> None:
    mess = real.mess
    opportunity, history = write(real, tmp_path, "salesforce")
    deals = rows(opportunity)
    changes = rows(history)
    n = len(deals)
    wins = [d for d in deals if d["IsWon"] == "true"]
    # After the fact: a third of all wins were won within an hour of being created.
    created = {d["Id"]: dt.datetime.fromisoformat(d["CreatedDate"][:19]) for d in deals}
    closing = {r["OpportunityId"]: dt.datetime.fromisoformat(r["CreatedDate"][:19])
               for r in changes if r["StageName"] == "Cerrada ganada"}
    quick = sum(1 for i, t in closing.items() if t - created[i] <= dt.timedelta(hours=1))
    assert quick == real.count("after-the-fact")
    assert within(quick, len(wins), mess.after_the_fact)
    # Zombies: 5% of all deals, one stage row and never another (or lost 90+ days later).
    zombies = {d.id for d in real.deals if d.zombie}
    assert within(len(zombies), n, mess.zombies)
    by_deal: dict[str, list[dict[str, str]]] = {}
    for r in changes:
        by_deal.setdefault(r["OpportunityId"], []).append(r)
    for z in zombies:
        stages = [r["StageName"] for r in by_deal[z]]
        assert stages[0] in SPANISH and set(stages[1:]) <= {stages[0], "Cerrada perdida"}
    # The burst: 225 more deals created in the 60 days from day 180.
    first = real.start + dt.timedelta(days=180)
    window = sum(1 for t in created.values() if first <= t < first + dt.timedelta(days=60))
    outside = n - window
    assert window - 225 == pytest.approx(outside * 60 / 456, abs=Z * math.sqrt(outside))
    # Amounts that change: 40% of the deals (not entered after the fact) were entered higher.
    changed = [i for i, rs in by_deal.items() if len({r["Amount"] for r in rs}) > 1]
    assert within(len(changed), n - real.count("after-the-fact"), mess.amount_changes)
    final = {d["Id"]: d["Amount"] for d in deals}
    truth = {d.id: d for d in real.deals}
    for i in changed:
        assert float(by_deal[i][0]["Amount"]) > float(by_deal[i][-1]["Amount"]) and \
            by_deal[i][-1]["Amount"] == final[i]
        for r in by_deal[i]:  # the truth of each amount as it stood
            at = dt.datetime.fromisoformat(r["CreatedDate"][:19])
            assert float(r["Amount"]) * truth[i].rate == truth[i].value_at(at)
    # Probabilities as they stood: 0 on the row of a loss, the stage's before it.
    lost = next(rs for rs in by_deal.values() if rs[-1]["StageName"] == "Cerrada perdida"
                and len(rs) > 1)
    assert lost[-1]["Probability"] == "0" and int(lost[-2]["Probability"]) > 0
    # Currencies: each of the four for a quarter of the deals.
    for code, count in Counter(d["CurrencyIsoCode"] for d in deals).items():
        assert code in ("USD", "EUR", "GBP", "CHF") and within(count, n, 1 / 4), code
    # NUL bytes inside the quoted, multi-line Description of 3% of the deals.
    text = opportunity.read_text("utf-8")
    assert text.count(CONTROL) == sum(d.control_bytes for d in real.deals)
    assert within(text.count(CONTROL), n, mess.nul_bytes) and text.count(CONTROL) > 0
    assert text.count(f'Plan de cierre:\n{CONTROL}- ') == text.count(CONTROL)


def test_wins_are_pulled_to_the_end_of_the_month_in_the_stated_share(
        real: SyntheticHistory) -> None:
    """A win is pulled with chance q (2q in a quarter's last month) where it can be (the
    last three days are after it and within the history): the count pulled is between the
    sums of those chances over the wins that surely could and those that might."""
    q = real.mess.quarter_end
    unpulled = generate(FIVE, replace(real.mess, quarter_end=0.0), seed=real.seed,
                        start=START)
    sure, might = [], []
    for d in unpulled.deals:
        if d.outcome != "won" or d.kind in ("after-the-fact", "zombie") or d.closed is None:
            continue
        last = calendar.monthrange(d.closed.year, d.closed.month)[1]
        chance = min(1.0, q * (2 if d.closed.month % 3 == 0 else 1))
        might.append(chance)
        if d.closed.day < last - 2 and d.closed.replace(day=last) <= real.end:
            sure.append(chance)
    pulled = [d for d in real.deals if d.pulled]
    low, high = sum(sure), sum(might)
    spread = Z * math.sqrt(sum(p * (1 - p) for p in might))
    assert low - spread <= len(pulled) <= high + spread
    for d in pulled:
        assert d.closed is not None
        assert d.closed.day >= calendar.monthrange(d.closed.year, d.closed.month)[1] - 2


def test_a_small_team_has_about_sixty_deals_in_six_months() -> None:
    history = generate(FIVE, PRESETS["small-team"], seed=2, start=START)
    expected = 10 * 182 / (365 / 12) + 6  # the rate, and the campaigns scaled alike
    assert history.end - history.start == dt.timedelta(days=182)
    assert abs(len(history.deals) - expected) <= Z * math.sqrt(expected)
    assert len({d.owner for d in history.deals}) == 2


@pytest.mark.fresh_runs  # the engine's own runs, not ones handed again
def test_a_seed_gives_the_same_bytes_and_another_seed_other_bytes(tmp_path: Path) -> None:
    def files(seed: int, folder: Path) -> dict[str, bytes]:
        history = generate(FIVE, replace(PRESETS["real"], days=120), seed=seed, start=START)
        for shape in SHAPES:
            write(history, folder / shape, shape)
        return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*.csv")}

    first, again = files(3, tmp_path / "a"), files(3, tmp_path / "b")
    assert len(first) == 6 and first == again
    other = files(4, tmp_path / "c")
    assert all(other[name] != data for name, data in first.items())


def test_an_option_left_off_changes_nothing_else(tmp_path: Path) -> None:
    """Each deal draws its random numbers whatever the options: turning on a mess of how
    deals are written (amounts, bytes, owners) leaves every deal's dates and value."""
    base = Mess(per_month=14, days=200)
    plain = generate(FIVE, base, seed=9, start=START)
    spiced = generate(FIVE, replace(base, amount_changes=0.5, nul_bytes=0.5, owners=3),
                      seed=9, start=START)
    assert [(d.created, d.closed, d.value) for d in plain.deals] == \
        [(d.created, d.closed, d.value) for d in spiced.deals]


def test_the_script_writes_every_shape_and_a_process_to_read_them_with(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("messy", ROOT / "scripts" /
                                                  "make_messy_exports.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "out"
    assert script.main([str(out), "--preset", "small-team", "--seed", "3"]) == 0
    assert "deals from 2025-06-02 to 2025-12-01" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted([*SHAPES, "process.yaml"])
    process = salesproc.load(out / "process.yaml")
    truth = generate(FIVE, PRESETS["small-team"], seed=3, start=START)
    assert process.arrivals is not None and truth.process.arrivals is not None
    assert process.arrivals.rate == pytest.approx(truth.process.arrivals.rate, rel=1e-6)
    history = read_history(sorted((out / "salesforce").glob("*.csv")), process,
                           today=truth.end.date())
    assert len(history.deals) == len(truth.deals) and won(history) == truth.count(
        outcome="won")


def test_a_process_that_came_from_no_file_has_no_variant(tmp_path: Path) -> None:
    history = generate(replace(salesproc.load(FIVE), files=()), Mess(per_month=5, days=30))
    with pytest.raises(ValueError, match="came from no file"):
        variant(history, tmp_path / "process.yaml")
