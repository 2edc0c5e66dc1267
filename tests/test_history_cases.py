"""Every broken export in tests/cases/exports/ gives the located message its expect.txt
names (file:row, level and code), through the CLI, and never a traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from salesproc.history.notes import CODES
from tests.conftest import CASES, ROOT, run

FOLDER = CASES / "exports"
CASE_DIRS = sorted(p for p in FOLDER.iterdir() if p.is_dir())


def _run(case: Path) -> tuple[int, str]:
    files = sorted(str(f) for f in case.iterdir() if f.suffix == ".csv")
    extra = (case / "args.txt").read_text().split() if (case / "args.txt").exists() else []
    own = case / "process.yaml"  # a case of the crm: section has its own process file
    process = own if own.exists() else FOLDER / "process.yaml"
    result = run("measure", *files, "--process", str(process), *extra)
    return result.exit_code, result.stderr


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_each_broken_export_is_located_and_kind(case: Path) -> None:
    exit_line, *wanted = (case / "expect.txt").read_text().splitlines()
    code, stderr = _run(case)
    assert code == int(exit_line.split()[1]), stderr
    assert "Traceback" not in stderr
    for line in wanted:
        if line.startswith("SP"):
            number, where = line.split(" ", 1)
            level = CODES[number].severity.value
            assert f"{case / where}: {level} {number} " in stderr, stderr
        else:
            assert line in stderr


def test_every_data_quality_code_has_a_case_and_a_row_in_the_code_table() -> None:
    covered = {p.name.split("-")[0] for p in CASE_DIRS}
    assert set(CODES) <= covered
    table = (ROOT / "docs" / "codes.md").read_text("utf-8")
    for code, rule in CODES.items():
        assert f"| {code} | {rule.name} | {rule.severity.value} | {rule.summary} |" in table


def test_a_missing_export_is_a_kind_error() -> None:
    result = run("measure", str(FOLDER / "no-such-file.csv"), "--process",
                 str(FOLDER / "process.yaml"))
    assert result.exit_code == 1
    assert "error SP801 the export does not exist" in result.stderr


def test_a_windows_1252_export_reads_its_euro_amounts() -> None:
    import salesproc
    from salesproc.history import read_history

    process = salesproc.load(FOLDER / "process.yaml")
    history = read_history(FOLDER / "ok-windows-1252-semicolons" / "changes.csv", process)
    values = sorted(history.deals.value.tolist())
    assert values == [pytest.approx(1200.50 * 1.1), pytest.approx(2000.0 * 1.1)]
    assert sorted(history.deals.outcome.tolist()) == [0, 1]


CONTROL_CASE = FOLDER / "SP820-control-bytes"
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16", "utf-16-le",
                                      "utf-16-be"])
def test_control_bytes_in_a_quoted_field_are_dropped_in_every_encoding(
        tmp_path: Path, encoding: str) -> None:
    import salesproc
    from salesproc.history import read_history

    process = salesproc.load(FOLDER / "process.yaml")
    clean = read_history([FOLDER / "ok-salesforce" / n for n in ("Opportunity.csv",
                                                                 "OpportunityHistory.csv")],
                         process)
    for name in ("Opportunity.csv", "OpportunityHistory.csv"):
        text = (CONTROL_CASE / name).read_bytes().decode("utf-8")
        (tmp_path / name).write_bytes(text.encode(encoding))
    history = read_history([tmp_path / "Opportunity.csv", tmp_path / "OpportunityHistory.csv"],
                           process)
    assert history.deals.id.to_pylist() == clean.deals.id.to_pylist()
    assert np.array_equal(history.deals.value, clean.deals.value)
    assert np.array_equal(history.deals.outcome, clean.deals.outcome)
    assert np.array_equal(history.visits.entered, clean.visits.entered)
    notes = [n for n in history.notes if n.code == "SP820"]
    assert [(n.file, n.rows, n.count) for n in notes] == \
        [(str(tmp_path / "Opportunity.csv"), (3, 4), 2)]


def test_rows_with_control_bytes_are_located_across_blocks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are counted as a CSV reader counts them (quoted line breaks and "" inside one
    row, empty lines none), however the file is cut into blocks."""
    import csv

    from salesproc.history import csvfile
    from salesproc.history.notes import Notebook

    monkeypatch.setattr(csvfile, "CLEAN_BYTES", 7)  # blocks end inside quotes and rows
    rng = np.random.default_rng(3)
    lines = ["deal,note,stage"]
    dirty: list[str] = []
    for i in range(300):
        note = "plain" if i % 2 else 'said ""no""\r\nthen yes'
        if rng.random() < 0.1:
            note += "\x00\x07"
            dirty.append(str(i))
        lines.append(f'{i},"{note}",s')
        if i % 50 == 0:
            lines.append("")
    (tmp_path / "c.csv").write_text("\r\n".join(lines) + "\r\n", newline="")
    file = csvfile.CsvFile(str(tmp_path / "c.csv"), "CSV")
    notes = Notebook()
    read = {deal: row for batch in file.batches(["deal", "note"], notes)
            for deal, row in zip(batch.values["deal"].to_pylist(), batch.rows.tolist(),
                                 strict=True)}
    with open(tmp_path / "c.csv", newline="") as handle:  # an independent count of rows
        records = [r for r in csv.reader(handle) if r]
    rows = {record[0]: k + 1 for k, record in enumerate(records)}
    assert read == {deal: rows[deal] for deal in read}
    (note,) = notes.all()
    assert note.code == "SP820"
    assert note.count == len(dirty)
    assert list(note.rows) == sorted(rows[d] for d in dirty)[:5]
    assert f"{2 * len(dirty)} control characters" in note.message


def test_outputs_carry_no_control_bytes(tmp_path: Path) -> None:
    files = sorted(str(f) for f in CONTROL_CASE.glob("*.csv"))
    process = tmp_path / "process.yaml"  # the case's loss reasons are in Loss_Reason__c
    process.write_text(f"salesproc: 1\nextends: {json.dumps(str(FOLDER / 'process.yaml'))}\n"
                       "set:\n  crm.lost_reason: Loss_Reason__c\n", encoding="utf-8")
    for fmt in ("table", "json", "csv"):
        result = run("measure", *files, "--process", str(process), "--format", fmt)
        assert result.exit_code == 0, result.stderr
        assert not CONTROL_CHARACTERS.search(result.stdout.replace("\t", ""))
        assert not CONTROL_CHARACTERS.search(result.stderr)
        assert "Price" in result.stdout  # the loss reason, read without its control bytes


@pytest.mark.parametrize("case", ["SP801-binary-junk", "SP801-old-excel-workbook",
                                  "SP801-excel-workbook"])
def test_only_workbooks_get_the_excel_hint(case: str) -> None:
    code, stderr = _run(FOLDER / case)
    assert code == 1
    assert ("Excel" in stderr) == ("workbook" in case), stderr


@pytest.mark.parametrize("text", ["$43k", "43 k", "1.5M", "2bn", "1,5 Mio", "1e308"])
def test_an_amount_with_a_scale_is_unreadable_not_a_smaller_number(text: str) -> None:
    """The lenient reading drops what is not a digit: '$43k' was 43 and '1e308' 1308, a
    value silently wrong. An amount with a scale or an exponent is unreadable (SP809)."""
    from salesproc.history.csvfile import lenient_amount, parse_amounts

    assert lenient_amount(text) is None
    values, bad = parse_amounts(pa.array([text, "1 000 kr", "EUR 2 500"]))
    assert bad.tolist() == [True, False, False]
    assert values[1:].tolist() == [1000.0, 2500.0]


def test_a_day_the_calendar_does_not_have_is_unreadable_not_the_next_month() -> None:
    """strptime reads 30 February as 2 March and 31/04 as 1 May: a change dated where it
    never happened. Those are unreadable (SP805), and a two-digit year is not the year
    26; every real date reads as before."""
    from salesproc.history.csvfile import parse_dates

    text = ["2026-02-30T10:00:00.000Z", "2026-02-28T10:00:00.000Z", "2024-02-29T08:00:00.000Z"]
    values, bad = parse_dates(pa.array(text), False)
    assert bad.tolist() == [True, False, False]
    assert [str(v)[:10] for v in values[1:]] == ["2026-02-28", "2024-02-29"]
    other = ["2026-02-30 10:00", "31/04/2026", "3/4/26 9:05 PM", "4 Jan 2026", "1.2.2026"]
    values, bad = parse_dates(pa.array(other), True)
    assert bad.tolist() == [True, True, False, False, False]
    assert [str(v) for v in values[2:]] == ["2026-04-03T21:05:00", "2026-01-04T00:00:00",
                                            "2026-02-01T00:00:00"]
