"""A history built from a pandas DataFrame is the history its CSV file gives: the same
deals and visits, the same notes (pointing at the frame's rows by index label), the same
errors — for the export cases of tests/cases/exports/ and for messy frames built here."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import salesproc
from salesproc.history import History, HistoryError, Note
from tests.conftest import CASES

FOLDER = CASES / "exports"
PROCESS = FOLDER / "process.yaml"
#: Cases about the file itself (its bytes, encoding, quoting), which a frame cannot have;
#: and SP809, whose 'n/a' amount pandas reads as a missing value (so SP817, as a file's
#: empty cell is).
FILE_ONLY = {"SP801", "SP803", "SP809", "SP820", "SP841", "SP845", "SP846"}
CASE_DIRS = sorted(p for p in FOLDER.iterdir()
                   if p.is_dir() and p.name.split("-")[0] not in FILE_ONLY)


def _read(sources: object, process: Path, **options: object) -> History | HistoryError:
    try:
        return salesproc.read_history(sources, str(process), **options)  # type: ignore[arg-type]
    except HistoryError as error:
        return error


def _notes(result: History | HistoryError) -> list[Note]:
    return sorted(result.notes, key=lambda n: (n.code, n.message))


def _options(case: Path) -> dict[str, object]:
    args = (case / "args.txt").read_text().split() if (case / "args.txt").exists() else []
    return {"as_of": dt.date.fromisoformat(args[args.index("--as-of") + 1])} \
        if "--as-of" in args else {}


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_a_frame_read_by_pandas_gives_the_history_its_file_gives(case: Path) -> None:
    files = sorted(f for f in case.iterdir() if f.suffix == ".csv")
    own = case / "process.yaml"
    process = own if own.exists() else PROCESS
    from_files = _read([str(f) for f in files], process, **_options(case))
    frames = [pd.read_csv(f, sep=None, engine="python", encoding="cp1252"
                          if "1252" in case.name else "utf-8-sig") for f in files]
    from_frames = _read(frames, process, **_options(case))
    assert type(from_frames) is type(from_files)
    file_notes, frame_notes = _notes(from_files), _notes(from_frames)
    assert [(n.code, n.count) for n in frame_notes] == [(n.code, n.count) for n in file_notes]
    for on_file, on_frame in zip(file_notes, frame_notes, strict=True):
        # a file's row 2 is its first below the header: the frame's row 0
        assert on_frame.rows == tuple(r - 2 for r in on_file.rows if r > 1)
        assert on_frame.file.startswith("<DataFrame")
        if on_file.code != "SP818":  # its message names the files
            assert on_frame.message == on_file.message
    if isinstance(from_files, History):
        assert isinstance(from_frames, History)
        pd.testing.assert_frame_equal(from_frames.deals_frame(), from_files.deals_frame())
        pd.testing.assert_frame_equal(from_frames.visits_frame(), from_files.visits_frame())
        assert from_frames.as_of == from_files.as_of


def _messy() -> pd.DataFrame:
    """What a CRM client or a SQL query hands over: numpy ids, pandas times with a NaT,
    NaN and pd.NA amounts, None and unknown stages, a categorical column, an index that
    does not start at 0."""
    return pd.DataFrame({
        "Deal": np.array([1, 1, 1, 2, 2, 3, 3, 4, 4], dtype=np.int64),
        "Stage": ["Prospecting", "Qualification", "Closed Won", "Prospecting", "Nowhere",
                  None, "Prospecting", "Prospecting", "Closed Lost"],
        "Changed At": pd.to_datetime(
            ["2025-01-06 09:00", "2025-01-08", "2025-01-20", "2025-01-07", None,
             "2025-01-09", "2025-01-10", "2025-01-11 10:30", "2025-01-11 10:40"],
            format="ISO8601"),
        "amount": pd.array([1000.0, np.nan, 1000, 2000, 2000, None, 500, -7, 3],
                           dtype="Float64"),
        "segment": pd.Series(["SMB", "SMB", "SMB", "Enterprise", "Enterprise", "SMB",
                              "SMB", "Mid", "Mid"], dtype="category"),
    }, index=range(10, 19))


def test_a_messy_frame_gives_the_notes_its_csv_gives(tmp_path: Path) -> None:
    frame = _messy()
    path = tmp_path / "changes.csv"
    frame.to_csv(path, index=False)
    from_file = salesproc.read_history(str(path), str(PROCESS))
    from_frame = salesproc.read_history(frame, str(PROCESS), name="crm pull")
    assert [(n.code, n.count) for n in _notes(from_frame)] == \
        [(n.code, n.count) for n in _notes(from_file)]
    pd.testing.assert_frame_equal(from_frame.deals_frame(), from_file.deals_frame())
    pd.testing.assert_frame_equal(from_frame.visits_frame(), from_file.visits_frame())
    codes = {n.code: n for n in from_frame.notes}
    assert {"SP804", "SP805", "SP812", "SP843"} <= set(codes)
    assert codes["SP805"].rows == (14,)  # the NaT's index label
    assert codes["SP805"].format().startswith("<crm pull> row 14: note SP805 Changed At is "
                                              "empty")
    assert from_frame.sources == ("<crm pull>",)
    assert list(from_frame.deals_frame()["id"]) == ["1", "2", "3", "4"]  # not '1.0'


def test_whole_numbers_in_a_float_column_are_ids_and_amounts_as_the_crm_wrote_them() -> None:
    frame = pd.DataFrame({"deal": [101.0, 101.0, np.nan, 102.0],
                          "stage": ["Prospecting", "Closed Won", "Prospecting", "Prospecting"],
                          "changed_at": ["2025-01-06", "2025-01-09", "2025-01-07", "2025-01-08"],
                          "amount": [1200.0, 1200.0, 5.0, 99.5], "segment": "SMB"})
    history = salesproc.read_history(frame, str(PROCESS))
    deals = history.deals_frame()
    assert list(deals["id"]) == ["101", "102"]
    assert list(deals["value"]) == [1200.0, 99.5]
    assert [n.rows for n in history.notes if n.code == "SP842"] == [(2,)]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_a_column_with_a_time_zone_is_read_as_a_file_with_offsets_is(tmp_path: Path,
                                                                   zone: str) -> None:
    frame = _messy()
    frame["Changed At"] = frame["Changed At"].dt.tz_localize(zone)
    path = tmp_path / "changes.csv"
    frame.to_csv(path, index=False)
    from_file, from_frame = _read(str(path), PROCESS), _read(frame, PROCESS)
    assert type(from_frame) is type(from_file)
    assert [(n.code, n.count) for n in _notes(from_frame)] == \
        [(n.code, n.count) for n in _notes(from_file)]
    if zone == "UTC":  # as a file's 'Z': the time it says, as the team's local time
        assert isinstance(from_frame, History)
        naive = salesproc.read_history(_messy(), str(PROCESS))
        pd.testing.assert_frame_equal(from_frame.visits_frame(), naive.visits_frame())
    else:  # another offset cannot be read: every row is left out, located, and it stops
        assert isinstance(from_frame, HistoryError)
        assert from_frame.notes[0].code == "SP813"
        unreadable = next(n for n in from_frame.notes if n.code == "SP805" and n.count > 1)
        assert "+01:00" in unreadable.message and unreadable.rows[0] == 10


def test_an_empty_frame_and_one_without_a_column_are_kind_errors() -> None:
    frame = _messy()
    empty = _read(frame.iloc[:0], PROCESS)
    assert isinstance(empty, HistoryError) and empty.notes[0].code == "SP813"
    for given in (None, "generic"):
        missing = _read(frame.drop(columns="Stage"), PROCESS, format=given)
        assert isinstance(missing, HistoryError)
        assert missing.notes[0].code == "SP802" and missing.notes[0].row is None
    named = _read(frame.drop(columns="Stage"), PROCESS, format="generic")
    assert "not a stage-change CSV table: it has no 'stage' column" in str(named)


def test_control_characters_in_a_frame_are_dropped_with_a_note_on_their_row() -> None:
    frame = _messy()
    frame.loc[16, "Stage"] = "Prospect\x00ing"
    history = salesproc.read_history(frame, str(PROCESS))
    note = next(n for n in history.notes if n.code == "SP820")
    assert note.rows == (16,) and note.message.startswith("1 control characters")
    assert len(history.deals) == len(salesproc.read_history(_messy(), str(PROCESS)).deals)


def test_a_frame_indexed_by_anything_but_numbers_is_located_by_position() -> None:
    frame = _messy().set_index(pd.Index([f"r{k}" for k in range(9)]))
    history = salesproc.read_history(frame, str(PROCESS))
    assert next(n for n in history.notes if n.code == "SP805").rows == (4,)


def test_a_history_from_a_frame_measures_as_its_file_does() -> None:
    changes = FOLDER / "SP824-import-burst" / "changes.csv"
    from_frame = salesproc.measure(salesproc.read_history(pd.read_csv(changes), str(PROCESS)),
                                   simulate_file=False)
    from_file = salesproc.measure(salesproc.read_history(str(changes), str(PROCESS)),
                                  simulate_file=False)
    assert from_frame.overall.deals == from_file.overall.deals > 0
    assert from_frame.overall == from_file.overall
    assert from_frame.sources == ("<DataFrame>",)


def test_cells_of_any_type_are_read_as_the_text_a_crm_would_write() -> None:
    big = 1234567890123456789  # an id beyond a float's whole numbers
    typed = pd.DataFrame({
        "deal": pd.array([big, big, 7, 7], dtype="Int64"),
        "stage": pd.array(["Prospecting", "Closed Won", "Prospecting", None], dtype="string"),
        "changed_at": pd.Series([pd.Timestamp("2025-01-06 09:00:00.5"), dt.date(2025, 1, 9),
                                 "2025-01-07", dt.datetime(2025, 1, 8, 10, 30)], dtype=object),
        "amount": pd.Series([np.float32(1200), 1200.25, np.int16(500), 500], dtype=object),
        "segment": pd.Categorical(["SMB", "SMB", "Enterprise", "Enterprise"]),
        "flag": [True, False, True, False],
    })
    written = pd.DataFrame({
        "deal": [str(big), str(big), "7", "7"],
        "stage": ["Prospecting", "Closed Won", "Prospecting", ""],
        "changed_at": ["2025-01-06 09:00:00", "2025-01-09", "2025-01-07", "2025-01-08 10:30"],
        "amount": ["1200", "1200.25", "500", "500"],
        "segment": ["SMB", "SMB", "Enterprise", "Enterprise"],
        "flag": ["true", "false", "true", "false"],
    })
    read, expected = (salesproc.read_history(f, str(PROCESS)) for f in (typed, written))
    pd.testing.assert_frame_equal(read.deals_frame(), expected.deals_frame())
    pd.testing.assert_frame_equal(read.visits_frame(), expected.visits_frame())
    assert [(n.code, n.rows) for n in read.notes] == [(n.code, n.rows) for n in expected.notes]
    assert list(read.deals_frame()["id"]) == [str(big), "7"]
    assert list(read.deals_frame()["value"]) == [1200.25, 500.0]


def test_salesforce_frames_without_rows_are_a_kind_error() -> None:
    """Zero-row frames (a query that matched nothing) ended in pyarrow's 'cannot construct
    ChunkedArray from empty vector' (exit 3 for the same files on the command line)."""
    history = pd.DataFrame(columns=["OpportunityId", "StageName", "CreatedDate"])
    deals = pd.DataFrame(columns=["Id", "StageName", "CreatedDate", "Amount", "Segment__c"])
    for frames in ([history, deals], [deals]):
        empty = _read(frames, PROCESS)
        assert isinstance(empty, HistoryError) and empty.notes[0].code == "SP813", empty


def test_a_format_that_is_no_reader_is_named() -> None:
    with pytest.raises(ValueError, match="format 'nope' is none of: salesforce, hubspot"):
        salesproc.read_history(_messy(), str(PROCESS), format="nope")  # type: ignore[arg-type]
