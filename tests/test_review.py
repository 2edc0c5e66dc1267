"""`salesproc review`: on a generated history whose amounts change, the movement between
two dates reconciles exactly, and every figure matches a pandas computation made from the
export's rows alone (each deal as its last row by each date left it); the command's
formats, its --owner, and its kind refusals."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import salesproc
import salesproc.report.text
from salesproc.core.errors import SettingsError
from salesproc.history import read_history
from salesproc.prediction.synthetic import Mess, generate, reading, write
from tests.conftest import ROOT, run

TRUTH = ROOT / "tests" / "cases" / "history" / "steady-five-step.yaml"
START, END = dt.datetime(2026, 4, 1), dt.datetime(2026, 4, 30, 23, 59, 59)


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A stage-change CSV of 150 days, 40 deals a month, 40% of them with amounts that
    change while open, and the process file that reads it."""
    folder = tmp_path_factory.mktemp("review")
    history = generate(TRUTH, Mess(days=150, per_month=40, amount_changes=0.4), seed=2)
    (changes,) = write(history, folder, "generic")
    process = folder / "process.yaml"
    text = TRUTH.read_text("utf-8").split("\ncrm:")[0]  # the crm: the generic shape needs
    names = {v: k for k, v in history.names.items()}
    process.write_text(text + "\ncrm:\n  stages:\n" + "".join(
        f"    {json.dumps(name)}: {sid}\n" for name, sid in names.items())
        + '    "Closed Won": won\n    "Closed Lost": lost\n  lost_reason: reason\n', "utf-8")
    assert reading(history, "generic") is not None
    return process, changes


def _truth(changes: Path, process: salesproc.Process, at: dt.datetime) -> pd.DataFrame:
    """Each deal created by *at* as its last row by then left it: its state (open, won,
    lost), stage id and amount, from the rows with pandas alone."""
    rows = pd.read_csv(changes, parse_dates=["changed_at"], dtype={"deal": str})
    rows = rows[rows["changed_at"] <= at]
    last = rows.groupby("deal").tail(1).set_index("deal")
    stage = {name: sid for sid, name in ((s, process.stages[s].name)
                                         for s in process.stages)}
    crm = {fold: sid for fold, sid in process.crm.stages.items()}
    sid = last["stage"].str.lower().map(crm).fillna(last["stage"].map(stage))
    state = sid.map(lambda s: s if s in ("won", "lost") else "open")
    return pd.DataFrame({"state": state, "stage": sid, "amount": last["amount"]})


def test_the_movement_reconciles_and_matches_pandas(export: tuple[Path, Path]) -> None:
    process_file, changes = export
    process = salesproc.load(process_file)
    history = read_history([changes], process).at(END)
    done = salesproc.review(history, since=START)
    before, after = _truth(changes, process, START), _truth(changes, process, END)
    was = before["state"].reindex(after.index).fillna("absent")
    is_open = after["state"] == "open"
    flows = {
        "open_start": before["state"] == "open",
        "new": was == "absent",
        "reopened": was.isin(["won", "lost"]) & is_open,
        "won": was.isin(["open", "absent"]) & (after["state"] == "won"),
        "lost": was.isin(["open", "absent"]) & (after["state"] == "lost"),
        "open_end": is_open}
    shown = done.to_dict()["movement"]
    for name, mask in flows.items():
        table = before if name == "open_start" else after
        picked = table.loc[mask[mask].index]
        assert shown[name]["deals"] == len(picked), name
        assert math.isclose(shown[name]["value"], picked["amount"].sum(), abs_tol=0.01), name
    assert shown["new"]["deals"] > 0 and shown["won"]["deals"] > 0
    still = before.index[before["state"] == "open"]
    changed = after.loc[still, "amount"] - before.loc[still, "amount"]
    assert (changed != 0).any()  # amounts moved while open: the test sees them
    assert math.isclose(shown["amount_changes"], changed.sum(), abs_tol=0.01)
    assert shown["reconciles"] is True and done.reconciles
    for s in done.stages:  # each stage's open deals at both dates
        assert s.open_start.deals == int(((before["state"] == "open")
                                          & (before["stage"] == s.stage)).sum())
        assert s.open_end.deals == int((is_open & (after["stage"] == s.stage)).sum())


def test_loss_reasons_and_cohorts_match_pandas(export: tuple[Path, Path]) -> None:
    """The period's loss reasons against the 90 days before it, and each month's cohort
    (deals created, won, lost, median days to win), counted again from the rows."""
    process_file, changes = export
    process = salesproc.load(process_file)
    done = salesproc.review(read_history([changes], process).at(END), since=START)
    rows = pd.read_csv(changes, parse_dates=["changed_at"], dtype={"deal": str},
                       keep_default_na=False)
    rows = rows[rows["changed_at"] <= END]
    created = rows.groupby("deal")["changed_at"].min()
    lost = rows[rows["stage"] == "Closed Lost"].groupby("deal").tail(1).set_index("deal")
    now = lost[lost["changed_at"] > START]
    before = lost[(lost["changed_at"] <= START)
                  & (lost["changed_at"] > START - dt.timedelta(days=90))]
    assert len(now) > 20 and len(before) > 20
    for shift in done.losses:
        assert shift.now.n == len(now) and shift.before.n == len(before)
        assert round(shift.now.mean * len(now)) == int((now["reason"] == shift.reason).sum())
        assert round(shift.before.mean * len(before)) == int(
            (before["reason"] == shift.reason).sum())
    assert {s.reason for s in done.losses} == set(now["reason"]) | set(before["reason"])
    won = rows[rows["stage"] == "Closed Won"].groupby("deal")["changed_at"].last()
    month = created.dt.strftime("%Y-%m")
    for c in done.cohorts:
        mine = month[month == c.month].index
        assert c.deals == len(mine)
        assert c.won == int(mine.isin(won.index).sum())
        assert c.lost == int(mine.isin(lost.index).sum())
        days = (won[won.index.isin(mine)] - created[won.index[won.index.isin(mine)]]
                ).dt.total_seconds() / 86400
        if len(days):
            assert math.isclose(c.cycle_median, float(days.median()), rel_tol=1e-6)
            if not math.isnan(c.cycle_low):
                assert c.cycle_low <= c.cycle_median <= c.cycle_high


def test_the_formats_through_the_cli(export: tuple[Path, Path], tmp_path: Path) -> None:
    """The table and Markdown show the reconciled movement (Markdown as GitHub tables);
    JSON reconciles; CSV has a row per figure; --owner of nobody is a usage error that
    names the owners; a --since after the end, and --since with --week, too."""
    process_file, changes = export
    base = ["review", str(changes), "--process", str(process_file), "--as-of", "2026-04-30",
            "--since", "2026-04-01"]
    table = run(*base)
    assert table.exit_code == 0, table.output
    assert "latest change is from" not in table.output  # --as-of given: the end is chosen
    old = run("review", str(changes), "--process", str(process_file), "--week")
    assert old.exit_code == 0 and "the review ends there (is it this week's export?)" in \
        old.output
    assert "What moved" in table.stdout and "= open at end" in table.stdout
    md = run(*base, "--format", "markdown")
    assert md.exit_code == 0, md.output
    assert md.stdout.startswith("## ") and "| open at start |" in md.stdout
    assert "|---|--:|--:|" in md.stdout
    import markdown  # every table of it renders as one (the tables of GitHub's flavour)

    rendered = markdown.markdown(md.stdout, extensions=["tables"])
    assert rendered.count("<table>") == md.stdout.count("|---|") >= 6
    data = json.loads(run(*base, "--format", "json").stdout)
    assert data["kind"] == "review" and data["movement"]["reconciles"] is True
    rows = pd.read_csv(io.StringIO(run(*base, "--format", "csv").stdout))
    assert list(rows.columns) == ["section", "key", "deals", "value"]
    opened = rows[(rows.section == "movement") & (rows.key == "open at end")]
    assert int(opened["deals"].iloc[0]) == data["movement"]["open_end"]["deals"]
    nobody = run(*base, "--owner", "Nobody")
    assert nobody.exit_code == 2 and "no deal has the owner 'Nobody'" in nobody.output
    assert "(no owner)" in nobody.output
    late = run("review", str(changes), "--process", str(process_file), "--as-of",
               "2026-04-30", "--since", "2026-05-02")
    assert late.exit_code == 2 and "must start before its end" in late.output
    both = run(*base, "--week")
    assert both.exit_code == 2 and "not both" in both.output
    # several -o: one file each, in the format its name ends with
    files = [tmp_path / "r.md", tmp_path / "r.json"]
    several = run(*base, "-o", str(files[0]), "-o", str(files[1]))
    assert several.exit_code == 0, several.output
    assert files[0].read_text("utf-8") == md.stdout
    assert json.loads(files[1].read_text("utf-8"))["movement"] == data["movement"]
    alone = tmp_path / "alone.json"  # one -o: its name says the format, unless --format does
    assert run(*base, "-o", str(alone)).exit_code == 0
    assert json.loads(alone.read_text("utf-8"))["kind"] == "review"
    unknown = run(*base, "-o", str(tmp_path / "a.md"), "-o", str(tmp_path / "b.pdf"))
    assert unknown.exit_code == 2 and "ends with its format" in unknown.output
    told = run(*base, "--format", "json", "-o", str(tmp_path / "a.md"), "-o",
               str(tmp_path / "b.json"))
    assert told.exit_code == 2 and "not both" in told.output


def test_against_a_saved_review_says_what_changed(export: tuple[Path, Path],
                                                  tmp_path: Path) -> None:
    """A review saved as JSON a week earlier, then this one --against it: the open pipeline
    then and now, the deals that newly need attention and those that no longer do, as
    the two saved lists differ; a file that is not a saved review, or one that ends later,
    is refused with exit 1."""
    process_file, changes = export
    base = ["review", str(changes), "--process", str(process_file), "--untouched-days", "5"]
    saved = tmp_path / "week1.json"
    first = run(*base, "--as-of", "2026-04-23", "--since", "2026-04-16", "--format", "json",
                "-o", str(saved))
    assert first.exit_code == 0, first.output
    now = run(*base, "--as-of", "2026-04-30", "--since", "2026-04-23", "--against",
              str(saved), "--format", "json")
    assert now.exit_code == 0, now.output
    was, data = json.loads(saved.read_text("utf-8")), json.loads(now.stdout)
    then = {a["deal"] for a in was["attention"]}
    flagged = {a["deal"] for a in data["attention"]}
    previous = data["previous"]
    assert previous["open_end"] == was["movement"]["open_end"]
    assert set(previous["newly_flagged"]) == flagged - then
    assert set(previous["cleared"]) == then - flagged
    assert previous["newly_flagged"] or previous["cleared"]  # the weeks differ
    said = run(*base, "--as-of", "2026-04-30", "--since", "2026-04-23", "--against",
               str(saved)).stdout
    assert f"Since the review of {was['end'][:10]}" in said
    assert f"deals that need attention: {len(previous['newly_flagged'])} new, " \
        f"{len(previous['cleared'])} no longer" in said
    other = tmp_path / "other.json"
    other.write_text('{"kind": "forecast", "layout": 3}', "utf-8")
    refused = run(*base, "--against", str(other))
    assert refused.exit_code == 1 and "not a saved review" in refused.output
    later = run(*base, "--as-of", "2026-04-20", "--since", "2026-04-13", "--against",
                str(saved))
    assert later.exit_code == 1 and "compare with an earlier one" in later.output
    # without --since, the review starts where the saved one ended: no gap, no overlap
    following = json.loads(run(*base, "--as-of", "2026-04-30", "--against", str(saved),
                               "--format", "json").stdout)
    assert following["start"] == was["end"]
    euros = tmp_path / "euros.json"  # a review of the pipeline in another currency
    euros.write_text(json.dumps({**was, "currency": "EUR"}), "utf-8")
    other_money = run(*base, "--as-of", "2026-04-30", "--against", str(euros))
    assert other_money.exit_code == 1 and "the saved review's currency is 'EUR'" in \
        other_money.output
    for edit in ({"end": was["end"] + "+05:00"},  # an offset no review writes
                 {"hygiene": {"end": {k: 1e400 for k in was["hygiene"]["end"]}}}):  # inf
        other.write_text(json.dumps({**was, **edit}), "utf-8")
        bad = run(*base, "--against", str(other))
        assert bad.exit_code == 1 and "not a saved review" in bad.output, bad.output
    other.write_text(json.dumps({**was, "attention": was["attention"] * 3}), "utf-8")
    twice = json.loads(run(*base, "--as-of", "2026-04-30", "--since", "2026-04-23",
                           "--against", str(other), "--format", "json").stdout)
    assert twice["previous"]["cleared"] == previous["cleared"]  # a deal counts once


def test_names_from_the_export_cannot_break_the_markdown(tmp_path: Path) -> None:
    """A Salesforce export whose owner is written with a table bar, emphasis, a line
    break and HTML: the Markdown shows it as text, in the attention list and per owner."""
    history = generate(TRUTH, Mess(days=60, per_month=20), seed=4)
    opportunity, changes = write(history, tmp_path, "salesforce")
    deals = pd.read_csv(opportunity, dtype=str, keep_default_na=False)
    deals["OwnerId"] = "A|B *x*\n<b>"
    deals.to_csv(opportunity, index=False)
    done = run("review", str(opportunity), str(changes), "--process", str(TRUTH),
               "--untouched-days", "1", "--format", "markdown")
    assert done.exit_code == 0, done.output
    assert "| A\\|B \\*x\\* &lt;b&gt; |" in done.stdout
    assert "<b>" not in done.stdout and "*x*" not in done.stdout
    # the deals that need attention are named as the CRM names them (Opportunity's Name)
    data = json.loads(run("review", str(opportunity), str(changes), "--process", str(TRUTH),
                          "--untouched-days", "1", "--format", "json").stdout)
    named = dict(zip(deals["Id"], deals["Name"], strict=True))
    assert data["attention"] and all(a["name"] == named[a["deal"]] for a in data["attention"])
    assert f"| {named[data['attention'][0]['deal']]} |" in done.stdout


def test_a_deal_of_unknown_amount_is_no_large_deal(export: tuple[Path, Path],
                                                  tmp_path: Path) -> None:
    """Most open deals without an amount: the large deals are the top fifth of those whose
    amount is known, so a slipped deal without one is not 'large deal slipped' (the top
    fifth of all, unknown as zero, was every deal), and the largest known one is."""
    process = salesproc.load(export[0])
    first = process.stages[next(iter(process.stages))].name
    rows = ["deal,stage,changed_at,amount,reason,close_date"]
    for k in range(12):  # D0 and D1 known (D1 the larger), the rest unknown; all slip
        amount = {0: "100", 1: "5000"}.get(k, "")
        rows += [f"D{k},{first},2026-03-01 10:00,{amount},,2026-03-05",
                 f"D{k},{first},2026-03-06 10:00,{amount},,2026-04-30"]
    (tmp_path / "c.csv").write_text("\n".join(rows) + "\n", "utf-8")
    done = salesproc.review(read_history([tmp_path / "c.csv"], process,
                                         as_of=dt.datetime(2026, 3, 7)),
                            since=dt.date(2026, 3, 2))
    assert done.slipped.deals == 12
    large = {a.deal for a in done.attention if "large deal slipped" in a.reasons}
    assert large == {"D1"}


def test_hygiene_counts_skipped_stages_and_duplicates(export: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    """A deal that went from the first stage to the third skipped one; two open deals of
    one name (told apart by case and spaces only) are likely one entered twice; a
    stage-change CSV's owner and name are read."""
    process = salesproc.load(export[0])
    names = [process.stages[s].name for s in process.stages]
    rows = ["deal,stage,changed_at,amount,reason,owner,name",
            f"D1,{names[0]},2026-03-01 10:00,100,,Ann,Acme",
            f"D1,{names[2]},2026-03-05 10:00,100,,Ann,Acme",
            f"D2,{names[0]},2026-03-02 10:00,100,,Bob,Globex  Ltd",
            f"D3,{names[1]},2026-03-03 10:00,100,,Bob,globex ltd",
            f"D4,{names[0]},2026-03-01 09:00,100,,Ann,Initech",
            f"D5,{names[0]},2026-03-01 08:00,100,,{'Z' * 500},Hooli",
            f"D5,{names[2]},2026-03-04 12:00,100,,{'Z' * 500},Hooli",
            f"D5,{names[1]},2026-03-05 12:00,100,,{'Z' * 500},Hooli"]
    (tmp_path / "c.csv").write_text("\n".join(rows) + "\n", "utf-8")
    done = salesproc.review(read_history([tmp_path / "c.csv"], process,
                                         as_of=dt.datetime(2026, 3, 6)),
                            since=dt.date(2026, 3, 4))
    assert done.hygiene_end.stages_skipped == 2 and done.hygiene_start.stages_skipped == 0
    assert done.hygiene_end.duplicates == 2
    # week by week, to the end: the open deals' findings at the end are the end's
    (at, last), = done.hygiene_trend[-1:]
    assert at == done.end and last.duplicates == 2
    assert last.no_close_date == done.hygiene_end.no_close_date == 5
    weeks = [a for a, _ in done.hygiene_trend]
    assert all((b - a).days == 7 for a, b in itertools.pairwise(weeks))
    # each owner's findings to fix: every open deal lacks a close date; Ann's skip, Bob's pair
    assert {o.owner: o.hygiene for o in done.owners} == {"Ann": 2 + 1, "Bob": 2 + 2,
                                                         "Z" * 500: 1 + 1}
    # D5 went forward past a stage, then back within the period: it moved back, though it
    # is further along than at the start
    (back,) = [a for a in done.attention if a.deal == "D5"]
    assert "moved back" in back.reasons
    shown = salesproc.report.text.review(done)  # a long name does not widen the tables
    assert max(len(line) for line in shown.splitlines() if line.startswith("  ")) < 200
    # the owners share the team's findings out: theirs add up to the team's at the end
    assert sum(o.hygiene for o in done.owners) == sum(done.hygiene_end.to_dict().values())


def test_a_reopened_deal_is_counted_reopened(export: tuple[Path, Path],
                                             tmp_path: Path) -> None:
    """Deal A was lost before the period, reopened in it and won; deal B was lost before
    it and reopened in it, still open; deal C was lost before it and stays lost. At the
    start A and B were closed (not open, as their last outcome would say); both count as
    reopened, A as won too, C in no flow; the movement reconciles."""
    process = salesproc.load(export[0])
    first = process.stages[next(iter(process.stages))].name
    rows = ["deal,stage,changed_at,amount,reason",
            f"A,{first},2026-03-01 10:00,100,", "A,Closed Lost,2026-03-03 10:00,100,x",
            f"A,{first},2026-03-10 10:00,150,", "A,Closed Won,2026-03-20 10:00,150,",
            f"B,{first},2026-03-01 11:00,200,", "B,Closed Lost,2026-03-02 10:00,200,x",
            f"B,{first},2026-03-12 10:00,200,",
            f"C,{first},2026-03-01 12:00,300,", "C,Closed Lost,2026-03-04 10:00,300,x"]
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n", "utf-8")
    history = read_history([tmp_path / "r.csv"], process, as_of=dt.datetime(2026, 3, 31))
    then = history.at(dt.datetime(2026, 3, 8))
    assert then.deals.outcome.tolist() == [2, 2, 2]  # all three lost on 8 March
    done = salesproc.review(history, since=dt.date(2026, 3, 8))
    assert done.open_start.deals == 0 and done.reopened.deals == 2
    assert (done.won.deals, done.won.value) == (1, 150.0) and done.lost.deals == 0
    assert (done.open_end.deals, done.open_end.value) == (1, 200.0) and done.reconciles


def test_a_loss_set_right_to_a_win_reads_won_after_it(export: tuple[Path, Path],
                                                       tmp_path: Path) -> None:
    """Deal E was marked lost, then won without a stage between (the CRM's loss set right):
    at a cut after the win it was won (as without a cut), between the two it was lost."""
    process = salesproc.load(export[0])
    first = process.stages[next(iter(process.stages))].name
    rows = ["deal,stage,changed_at,amount,reason",
            f"E,{first},2026-03-01 10:00,100,", "E,Closed Lost,2026-03-03 10:00,100,x",
            "E,Closed Won,2026-03-05 10:00,100,"]
    (tmp_path / "e.csv").write_text("\n".join(rows) + "\n", "utf-8")
    history = read_history([tmp_path / "e.csv"], process, as_of=dt.datetime(2026, 3, 31))
    assert history.deals.outcome.tolist() == [1]
    assert history.at(dt.datetime(2026, 3, 10)).deals.outcome.tolist() == [1]
    assert history.at(dt.datetime(2026, 3, 4)).deals.outcome.tolist() == [2]


def test_the_terminal_cuts_long_names_not_sentences(export: tuple[Path, Path]) -> None:
    """The terminal's table cuts a long name; the biggest change in the loss reasons and
    the notes are sentences, shown whole."""
    from dataclasses import replace

    from salesproc.core.stats import proportion
    from salesproc.measuring.review import ReasonShift

    process_file, changes = export
    history = read_history([changes], salesproc.load(process_file)).at(END)
    done = salesproc.review(replace(history, values=None), since=START)
    done = replace(done, losses=[ReasonShift("chose a competitor", proportion(15, 20),
                                             proportion(10, 100), 1e-4)])
    shown = salesproc.report.text.review(done)
    assert done.notes and all(note in shown for note in done.notes)
    assert len(done.biggest_shift()) > 100 and done.biggest_shift() in shown


def test_a_deal_table_is_refused_kindly(tmp_path: Path) -> None:
    table = tmp_path / "deals.csv"
    table.write_text("deal,stage,created,amount,Loss_Reason__c,Segment__c\n"
                     "D1,Prospecting,2026-03-01,10,,SMB\n", "utf-8")
    done = run("review", str(table), "--process", str(TRUTH), "--since", "2026-02-01")
    assert done.exit_code == 1 and "needs the deals' stage history" in done.output
    assert "Traceback" not in done.output


def _sheet(book: Any, name: str) -> list[list[Any]]:
    """A sheet's rows below its header, as values."""
    return [list(row) for row in book[name].iter_rows(min_row=2, values_only=True)]


def test_the_workbook_holds_the_json_figures(export: tuple[Path, Path],
                                             tmp_path: Path) -> None:
    """--format xlsx: one sheet per table, a bold frozen header, numbers stored as numbers
    equal to the JSON's (the movement, each owner, each cohort's win rate), months and
    dates as dates; without -o (or with -o -) a usage error: a workbook is no terminal
    text. --charts writes the review's two charts."""
    import openpyxl

    process_file, changes = export
    base = ["review", str(changes), "--process", str(process_file), "--as-of", "2026-04-30",
            "--since", "2026-04-01"]
    target, charts = tmp_path / "out" / "review.xlsx", tmp_path / "charts"
    done = run(*base, "--format", "xlsx", "-o", str(target), "--charts", str(charts))
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in charts.iterdir()) == [  # --charts, as measure has it
        "cohort-trend.png", "cohort-trend.svg", "waterfall.png", "waterfall.svg"]
    data = json.loads(run(*base, "--format", "json").stdout)
    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["Movement", "Stages", "Attention", "Loss reasons", "Cohorts",
                               "Hygiene", "Owners", "About"]
    for sheet in book:
        assert sheet.freeze_panes == "A2", sheet.title
        assert all(cell.font.bold for cell in sheet[1]), sheet.title
        assert all(4 < sheet.column_dimensions[c.column_letter].width <= 62
                   for c in sheet[1]), sheet.title
    movement = {row[0]: row[1:] for row in _sheet(book, "Movement")}
    m = data["movement"]
    for label, key in (("open at start", "open_start"), ("+ new", "new"),
                       ("+ reopened", "reopened"), ("- won", "won"), ("- lost", "lost"),
                       ("= open at end", "open_end")):
        deals, value = movement[label]
        assert deals == m[key]["deals"] and isinstance(deals, int), label
        assert value == pytest.approx(m[key]["value"], rel=1e-12, abs=1e-9), label
    assert movement["+/- amount changes"] == [None, pytest.approx(m["amount_changes"])]
    owners = _sheet(book, "Owners")
    assert [row[0] for row in owners] == [o["owner"] for o in data["owners"]]
    for row, o in zip(owners, data["owners"], strict=True):
        assert row[1:] == [o["open_end"]["deals"], pytest.approx(o["open_end"]["value"]),
                           o["new"]["deals"], pytest.approx(o["new"]["value"]),
                           o["won"]["deals"], pytest.approx(o["won"]["value"]),
                           o["lost"]["deals"], pytest.approx(o["lost"]["value"]),
                           o["forward"], o["back"], o["attention"], o["hygiene"]]
    cohorts = _sheet(book, "Cohorts")
    assert len(cohorts) == len(data["cohorts"]) == 6
    for row, c in zip(cohorts, data["cohorts"], strict=True):
        assert row[0] == dt.datetime.strptime(c["month"], "%Y-%m")  # a date, shown yyyy-mm
        assert row[1:5] == [c["deals"], c["won"], c["lost"], c["open"]]
        assert row[5] == (None if c["win_rate"]["mean"] is None
                          else pytest.approx(c["win_rate"]["mean"]))
    assert book["Cohorts"]["A2"].number_format == "yyyy-mm"
    assert book["Cohorts"]["F2"].number_format == "0.0%"
    hygiene = _sheet(book, "Hygiene")
    assert [row[1] for row in hygiene] == [START, dt.datetime(2026, 4, 30, 23, 59, 59)]
    assert hygiene[1][2:] == list(data["hygiene"]["end"].values())
    # the charts, drawn from the JSON: the waterfall's steps add up to the pipeline open
    # at the end, and the trend has each cohort
    from salesproc import charts as drawing

    waterfall, trend = drawing.review(data)
    after = [float(row[3].replace(",", "")) for row in waterfall.table.rows]
    assert after[0] == pytest.approx(m["open_start"]["value"], abs=0.5)
    assert after[-2] == pytest.approx(m["open_end"]["value"], abs=1.0) == after[-1]
    assert [row[1] for row in trend.table.rows] == [f"{c['deals']:,}" for c in data["cohorts"]]
    for flag in ([], ["-o", "-"]):
        refused = run(*base, "--format", "xlsx", *flag)
        assert refused.exit_code == 2 and "give -o FILE.xlsx" in refused.output
        assert refused.stdout_bytes.find(b"PK") < 0  # no zip on the terminal


#: Owners as a CRM export may hold them: HTML, quotes and '&', a formula, what a
#: spreadsheet would run if retyped, an error code, and a C1 control (CSI)
HOSTILE_OWNERS = ('<script>alert(1)</script> & "Ann"', "=1+1", "+cmd|' /C calc'!A0",
                  "-2", "@SUM(A1)", "#N/A", "Bo\x9b31m")
HOSTILE_DEAL = '=HYPERLINK("http://example.com","click")'


def hostile_export(folder: Path) -> list[str]:
    """A Salesforce export whose owners and deal names are :data:`HOSTILE_OWNERS` and
    :data:`HOSTILE_DEAL` (every deal still open), and the review's arguments on it: four
    weeks after its last change, when every open deal needs attention (untouched)."""
    history = generate(TRUTH, Mess(days=60, per_month=20), seed=4)
    opportunity, changes = write(history, folder, "salesforce")
    deals = pd.read_csv(opportunity, dtype=str, keep_default_na=False)
    deals["OwnerId"] = [HOSTILE_OWNERS[k % len(HOSTILE_OWNERS)] for k in range(len(deals))]
    still = ~deals["StageName"].str.startswith("Closed")
    deals.loc[still, "Name"] = HOSTILE_DEAL
    deals.to_csv(opportunity, index=False)
    return ["review", str(opportunity), str(changes), "--process", str(TRUTH),
            "--as-of", "2026-04-01"]


def test_names_from_the_export_stay_text_in_the_page_and_the_workbook(
        tmp_path: Path) -> None:
    """The page escapes every owner and deal name (no script, no attribute broken by a
    quote, '&' as an entity); the workbook stores them as text, each as written (a control
    as its escape), none a formula or an error code: no formula in the file at all, and
    those a spreadsheet would run when retyped carry Excel's quote prefix."""
    import zipfile

    import openpyxl

    args = hostile_export(tmp_path)
    page, book_file = tmp_path / "review.html", tmp_path / "review.xlsx"
    assert run(*args, "--format", "html", "-o", str(page)).exit_code == 0
    assert run(*args, "--format", "xlsx", "-o", str(book_file)).exit_code == 0
    shown = page.read_text("utf-8")
    assert "<script" not in shown.lower() and "\x9b" not in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Ann&quot;" in shown
    assert "=HYPERLINK(&quot;http://example.com&quot;,&quot;click&quot;)" in shown
    assert "Bo\\x9b31m" in shown
    with zipfile.ZipFile(book_file) as parts:
        sheets = [parts.read(n).decode("utf-8") for n in parts.namelist()
                  if n.startswith("xl/worksheets/")]
    assert sheets and not any("<f>" in s or "<f " in s or 't="e"' in s for s in sheets)
    book = openpyxl.load_workbook(book_file)
    written = [HOSTILE_OWNERS[k].replace("\x9b", "\\x9b") for k in range(len(HOSTILE_OWNERS))]
    owners = [row[0] for row in book["Owners"].iter_rows(min_row=2)]
    assert sorted(c.value for c in owners) == sorted(written)
    attention = [row[2] for row in book["Attention"].iter_rows(min_row=2)]
    assert len(attention) > 3 and all(c.value == HOSTILE_DEAL for c in attention)
    for cell in owners + attention:
        assert cell.data_type == "s", cell.value
        assert cell.quotePrefix == (cell.value[:1] in "=+-@"), cell.value


def test_the_median_interval_takes_the_tightest_ranks_that_hold_95_percent() -> None:
    """The ranks of the order statistics around a median of n values: n=6 the 1st and 6th
    (coverage 1 - 2/64), n=9 the 2nd and 8th (1 - 2·10/512), n=20 the 6th and 15th; five
    values are too few (even the extremes hold it with only 1 - 2/32 < 95%); and each pair
    covers at least 95% while the next tighter one does not."""
    from scipy.stats import binom

    from salesproc.measuring.review import median_ranks

    assert [median_ranks(n) for n in (5, 6, 9, 20)] == [None, (1, 6), (2, 8), (6, 15)]
    for n in range(6, 200):
        r, s = median_ranks(n) or (0, 0)
        assert s == n - r + 1
        assert 1 - 2 * binom.cdf(r - 1, n, 0.5) >= 0.95 > 1 - 2 * binom.cdf(r, n, 0.5)


QUARTER_END = dt.datetime(2026, 6, 30, 23, 59, 59)


def test_the_forecasts_change_adds_up_deal_by_deal(export: tuple[Path, Path]) -> None:
    """review(forecast='quarter'): the forecasts at both dates are the forecast's own as
    each date saw it; what was won in the period is the movement's won; the parts add up
    to the change; the deals of each cause are those the pandas truth says, and a deal
    won in the period moved the forecast by what it lacked then (1 less its chance)."""
    process_file, changes = export
    process = salesproc.load(process_file)
    history = read_history([changes], process).at(END)
    runs = {"replications": 4, "seed": 4}
    done = salesproc.review(history, since=START, forecast="quarter", **runs)
    f = done.forecast
    assert f is not None and f.until == QUARTER_END
    at_start = salesproc.forecast(history.at(START), until=QUARTER_END, **runs)
    assert f.actual == {"won": done.won.deals, "revenue": pytest.approx(done.won.value)}
    for k in ("won", "revenue"):  # the end's forecast: see the test of a week later
        assert f.before[k].mean == pytest.approx(at_start.totals[k].mean.mean, rel=1e-12)
        assert math.fsum(getattr(m, k) for m in f.moves) == pytest.approx(
            f.change[k].mean, rel=1e-9, abs=1e-9)
        assert f.change[k].mean == pytest.approx(f.after[k].mean - f.before[k].mean,
                                                 abs=1e-6)
    moved = {m.cause: m for m in f.moves}
    before, after = _truth(changes, process, START), _truth(changes, process, END)
    was_open = before.index[before["state"] == "open"]
    won = [d for d in was_open if after.loc[d, "state"] == "won"]
    lost = [d for d in was_open if after.loc[d, "state"] == "lost"]
    assert won and lost and moved["new deals"].deals == done.new.deals > 0
    assert (moved["won"].deals, moved["lost"].deals) == (len(won), len(lost))
    chance = {d.id: d.chance for d in at_start.deals}  # a deal left out has none
    assert moved["won"].won == pytest.approx(math.fsum(1 - chance.get(d, 0) for d in won))
    assert moved["lost"].won == pytest.approx(-math.fsum(chance.get(d, 0) for d in lost))
    still = [m for m in f.moves if m.cause not in ("won", "lost", "new deals", "reopened",
                                                      "new deals still to come")]
    assert sum(m.deals for m in still) == len(was_open) - len(won) - len(lost)
    with pytest.raises(SettingsError, match="whole pipeline"):
        salesproc.review(history, since=START, owner=done.owners[0].owner, forecast="month")


def test_forecast_ends() -> None:
    from salesproc.prediction.change import forecast_end

    end = dt.datetime(2026, 11, 26, 20)
    assert [forecast_end(w, end) for w in ("month", "Quarter", "year")] == [
        dt.datetime(2026, 11, 30, 23, 59, 59), dt.datetime(2026, 12, 31, 23, 59, 59),
        dt.datetime(2026, 12, 31, 23, 59, 59)]
    assert forecast_end("quarter", dt.datetime(2026, 1, 1)) == dt.datetime(2026, 3, 31,
                                                                           23, 59, 59)
    assert forecast_end("2w", end) == end + dt.timedelta(days=14)
    assert forecast_end("2027-01-15", end) == dt.datetime(2027, 1, 15, 23, 59, 59)
    for bad in ("soon", "2027-13-01", "2027-01-15T10:00+02:00"):
        with pytest.raises(SettingsError):
            forecast_end(bad, end)


def test_the_forecast_through_the_cli_and_a_week_later(export: tuple[Path, Path],
                                                       tmp_path: Path) -> None:
    """--forecast through the CLI: JSON, workbook and CSV hold the same figures; a week
    later --against the saved review carries its forecast on (the same end), says what
    it said, and starts where it ended: its forecast at the start is last week's at the
    end (the same history and seed). --owner with --forecast, or a forecast that ends
    before the review does, is a usage error."""
    import openpyxl

    process_file, changes = export
    base = ["review", str(changes), "--process", str(process_file), "-r", "3", "--seed",
            "3"]
    week1, book_file, rows = (tmp_path / f"week1.{x}" for x in ("json", "xlsx", "csv"))
    first = run(*base, "--as-of", "2026-04-23", "--since", "2026-04-16", "--forecast",
                "2026-06-30", "-o", str(week1), "-o", str(book_file), "-o", str(rows))
    assert first.exit_code == 0, first.output
    f = json.loads(week1.read_text("utf-8"))["forecast"]
    assert f["until"] == QUARTER_END.isoformat()
    assert math.fsum(m["won"] for m in f["moves"]) == pytest.approx(f["change"]["won"]["mean"])
    sheet = {r[0]: r for r in _sheet(openpyxl.load_workbook(book_file), "Forecast to 2026-06-30")}
    assert sheet["change"][2] == pytest.approx(f["change"]["won"]["mean"])
    assert sheet["won in the period"][5] == pytest.approx(f["won_in_period"]["revenue"])
    csv_rows = pd.read_csv(rows).set_index(["section", "key"])
    assert csv_rows.loc[("forecast to 2026-06-30", "at end"), "value"] == pytest.approx(
        f["after"]["revenue"]["mean"])
    week2, said_file = tmp_path / "week2.json", tmp_path / "week2.txt"
    second = run(*base, "--as-of", "2026-04-30", "--against", str(week1), "-o", str(week2),
                 "-o", str(said_file), "--charts", str(tmp_path / "charts"))
    assert second.exit_code == 0, second.output
    assert (tmp_path / "charts" / "forecast-bridge.svg").is_file()
    data = json.loads(week2.read_text("utf-8"))
    g = data["forecast"]
    from salesproc.charts.waterfall import bridge

    drawn = bridge(data)  # the bridge's steps add up: the last level is the end's forecast
    assert drawn is not None and len(drawn.table.rows) == len(g["moves"]) + 2
    assert drawn.table.rows[-2][3] == drawn.table.rows[-1][2]
    assert g["until"] == f["until"] and g["saved"]["won"] == f["after"]["won"]["mean"]
    assert g["before"]["won"]["mean"] == pytest.approx(
        f["after"]["won"]["mean"] - f["won_in_period"]["won"])
    said = said_file.read_text("utf-8")
    assert "The forecast to 2026-06-30" in said and "what moved it" in said
    assert f"The saved review said {f['after']['won']['mean']:.1f} deals" in said
    owner = run(*base, "--owner", "x", "--forecast", "quarter")
    assert owner.exit_code == 2 and "not of one owner's deals" in owner.output
    early = run(*base, "--as-of", "2026-04-30", "--forecast", "2026-04-01")
    assert early.exit_code == 2 and "must end after the review's end" in early.output
