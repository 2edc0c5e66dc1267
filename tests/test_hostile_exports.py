"""Hostile CRM exports (and the files around them), generated here one family at a time:
data loss, injection, silent misreads, crashes and hangs. Each goes through the CLI and
gives a located, kind error or note (exit 1 where nothing can be used) or the right value;
never a traceback, never a hang, nothing the user had overwritten. The located codes each
have their case in tests/cases/exports/ too; these are the ways in."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import dense_process, run

PROCESS = """\
salesproc: 1
name: Two stages
roles:
  rep: {title: Rep, headcount: 2}
stages:
  - {id: prospecting, name: Prospecting, owner: rep, work: 0.5, next: {qualification: 0.5}}
  - {id: qualification, name: Qualification, owner: rep, work: 1, next: {won: 0.5}}
buyer_types:
  small: {name: Small, share: 1, value: 1000}
arrivals: {rate: 1, per: day}
simulation: {start: 2025-01-06, horizon: 60, replications: 2}
"""
HEADER = "deal,stage,changed_at,amount,segment"


def rows(n: int, amount: Callable[[int], str] = lambda i: str(1000 + i)) -> list[str]:
    """A generic stage-change export of *n* deals (header first): every deal enters
    prospecting, two in three move on to qualification, one in three of those ends."""
    lines = [HEADER]
    for i in range(n):
        day, month = 1 + i % 28, 1 + (i // 28) % 6
        lines.append(f"D{i},Prospecting,2025-{month:02d}-{day:02d},{amount(i)},SMB")
        if i % 3:
            lines.append(f"D{i},Qualification,2025-{month:02d}-{day:02d} 12:00,{amount(i)},SMB")
        if i % 3 == 1:
            end = "won" if i % 2 else "lost"
            lines.append(f"D{i},{end},2025-{month + 1:02d}-{day:02d},{amount(i)},SMB")
    return lines


@pytest.fixture
def process(tmp_path: Path) -> Path:
    path = tmp_path / "process.yaml"
    path.write_text(PROCESS)
    return path


def write(tmp_path: Path, lines: list[str] | bytes, name: str = "export.csv") -> Path:
    path = tmp_path / name
    if isinstance(lines, bytes):
        path.write_bytes(lines)
    else:
        path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def measure(export: Path, process: Path, *args: str) -> Result:
    return run("measure", str(export), "--process", str(process), "--crm", "generic",
               "--format", "json", *args)


def deals(result: Result) -> int:
    """How many deals a measure --format json counted."""
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return int(data["overall"]["deals"])


def kind(result: Result, code: int, *texts: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    for text in texts:
        assert text in result.output, result.output


# --- data loss: nothing the user had is written over ----------------------------------------


def test_charts_never_land_on_an_input(tmp_path: Path, process: Path) -> None:
    folder = tmp_path / "charts"
    folder.mkdir()
    export = write(folder, rows(30), "pipeline.svg")  # the measure chart's own name
    before = export.read_bytes()
    kind(run("measure", str(export), "--process", str(process), "--crm", "generic",
             "--charts", str(folder)), 2, "would be written over a file this command reads")
    assert export.read_bytes() == before


def test_charts_never_land_on_the_report(tmp_path: Path, process: Path) -> None:
    folder = tmp_path / "charts"
    folder.mkdir()
    report = folder / "pipeline.svg"
    report.write_text("my report")
    export = write(tmp_path, rows(30))
    kind(measure(export, process, "-o", str(report), "--charts", str(folder)), 2,
         "--charts")
    assert report.read_text() == "my report"
    assert not (folder / "pipeline.png").exists()  # refused before anything was written


# --- injection: what the CRM wrote stays text wherever it goes --------------------------------


def test_a_formula_after_a_semicolon_stays_text_in_csv(tmp_path: Path, process: Path) -> None:
    lines = [HEADER, "x;=cmd|' /C calc'!A0;y,Prospecting,2025-03-04,100,SMB",
             "B,Prospecting,2025-03-05,100,SMB"]
    out = tmp_path / "deals.csv"
    result = run("forecast", str(write(tmp_path, lines)), "--process", str(process), "--crm",
                 "generic", "--format", "csv", "-o", str(out), "--horizon", "2w", "-r", "3")
    kind(result, 0)
    text = out.read_text("utf-8")
    assert "x;'=cmd|' /C calc'!A0;y" in text and ";=" not in text


def test_a_deal_id_with_escape_sequences_is_the_same_on_a_pipe_and_in_a_file(
        tmp_path: Path, process: Path) -> None:
    """The id is written with its controls as escapes (\\x9b), on the terminal, on a pipe
    and in a file alike: never stripped, so it stays itself and two such ids stay two."""
    import subprocess
    import sys

    lines = [HEADER, "A\x9b31mX,Prospecting,2025-03-04,100,SMB",
             "A\x9b32mX,Prospecting,2025-03-05,100,SMB"]
    export = write(tmp_path, lines)
    out = tmp_path / "deals.csv"
    args = ["forecast", str(export), "--process", str(process), "--crm", "generic",
            "--format", "csv", "--horizon", "2w", "-r", "3", "--seed", "1"]
    kind(run(*args, "-o", str(out)), 0)
    piped = subprocess.run([sys.executable, "-m", "salesproc", *args], capture_output=True,
                           timeout=120, check=False, env={**os.environ, "PYTHONPATH":
                                                          str(Path(__file__).parent.parent)})
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.decode("utf-8") == out.read_text("utf-8")
    assert "A\\x9b31mX" in out.read_text("utf-8") and "A\\x9b32mX" in out.read_text("utf-8")


def test_suggested_stage_names_that_look_like_yaml_stay_names(tmp_path: Path,
                                                               process: Path) -> None:
    """'- Prospecting' would be a list item, 'yes' a boolean, '#won' a comment, '*a' an
    alias: the pasted crm: section maps each as the name it is, and validates."""
    names = ["- Prospecting", "Qualification: x", "yes", "*a", "[x]"]
    lines = ["deal,stage,changed_at", *(f"D{k},{name},2025-01-0{k + 1}"
                                       for k, name in enumerate(names)), '"D9","#won",2025-01-09']
    export = write(tmp_path, lines)
    suggested = run("measure", str(export), "--process", str(process), "--suggest-mapping")
    kind(suggested, 0)
    process.write_text(PROCESS + suggested.stdout)
    kind(run("validate", str(process)), 0, "no problems found")
    result = measure(export, process)
    assert deals(result) == 6 and "SP804" not in result.stderr


# --- silent misreads: a located note, or the right value ------------------------------------


def test_crm_stage_names_differing_in_case_or_spaces_are_one_name(tmp_path: Path,
                                                                   process: Path) -> None:
    process.write_text(PROCESS + "crm:\n  stages:\n    Closed Won: won\n    closed  won: lost\n")
    kind(run("validate", str(process)), 1, f"{process}:15:", "error SP208 'closed  won' is "
         "'Closed Won' again")
    kind(measure(write(tmp_path, rows(10)), process), 1, "SP208")


def test_stage_names_with_no_break_spaces_match_as_the_process_file_spells_them(
        tmp_path: Path, process: Path) -> None:
    """A no-break space (U+00A0, pasted from a web page) is white space to the crm: side
    (model.fold) and now to the export's side too: the suggested line, which spells it
    \\u00a0, or one with a plain space, maps the stage; 'Closed<NBSP>Won' is won. Once the
    export's side kept it, so every such stage stayed unknown after pasting the mapping."""
    nbsp = [line.replace("Qualification", "Quali\u00a0fication").replace(
        "won", "Closed\u00a0Won") for line in rows(30)]
    export = write(tmp_path, nbsp)
    kind(measure(export, process), 0)  # a few stray stages: left out with a note
    process.write_text(PROCESS + 'crm:\n  stages:\n    "Quali\\u00a0fication": qualification\n')
    mapped = measure(export, process)
    assert "SP804" not in mapped.stderr, mapped.stderr
    data = json.loads(mapped.stdout)
    assert data["overall"]["deals"] == 30 and data["overall"]["won"] == 5
    process.write_text(PROCESS + "crm:\n  stages:\n    Quali fication: qualification\n")
    assert "SP804" not in measure(export, process).stderr


def test_a_column_named_twice_is_read_once_with_a_note(tmp_path: Path, process: Path) -> None:
    """Two columns of one name (two fields with one label; here 'amount' and 'Amount'):
    the first is read and a note says so; it was silent, the second's values unused."""
    lines = rows(9)
    lines = [lines[0] + ",deal,Amount"] + [f"{line},X{i},7" for i, line in enumerate(lines[1:])]
    result = measure(write(tmp_path, lines), process, "--format", "table")
    kind(result, 0, "export.csv:1: note SP848 the column 'amount' is in the header 2 times "
         "(columns 4, 7): the first is read", "note SP848 the column 'deal' is in the header "
         "2 times (columns 1, 6)")
    assert result.stderr.count("SP848") == 2
    assert "9 deals" in result.stdout  # D0..D8, not the second deal column's X0..X13
    won = measure(write(tmp_path, lines), process)
    data = json.loads(won.stdout)
    assert data["overall"]["deals"] == 9
    assert data["overall"]["won_value"] == sum(1000 + i for i in range(9) if i % 6 == 1)


def test_a_turkish_stage_name_matches_the_crm_section(tmp_path: Path, process: Path) -> None:
    """'İ' lowers to 'i' and a combining dot in Python (the crm: side) and to a plain 'i'
    in Arrow (the export's side): 'İlk Görüşme' in the export stayed unknown though the
    crm: section named it as the export spells it."""
    lines = [line.replace("Qualification", "İlk Görüşme") for line in rows(12)]
    process.write_text(PROCESS + "crm:\n  stages:\n    İlk Görüşme: qualification\n", "utf-8")
    result = measure(write(tmp_path, lines), process)
    assert "SP804" not in result.stderr, result.stderr
    assert deals(result) == 12


def test_a_megabyte_cell_is_quoted_short_in_its_note(tmp_path: Path, process: Path) -> None:
    """A note quotes the value it could not use: a 1 MB amount or a 300,000-character
    stage was written out whole (twice for the amount), megabytes on the terminal."""
    lines = rows(6)
    lines[1] = lines[1].replace(",1000,", "," + "1" * 1_000_000 + ",")
    lines.append("D99," + "Q" * 300_000 + ",2025-01-03,1000,SMB")
    result = measure(write(tmp_path, lines), process, "--format", "table")
    kind(result, 0, "an amount is not a number ('" + "1" * 100 + "… (1,000,000 characters)')",
         "unknown CRM stage '" + "Q" * 100 + "… (300,000 characters)'",
         "a name this long cannot be mapped (a crm: name has at most 200 characters)")
    assert len(result.stderr) < 5_000, len(result.stderr)
    short = "Q" * 200  # the longest a crm: name may be: its hint still says how to map it
    lines[-1] = f"D99,{short},2025-01-03,1000,SMB"
    kind(measure(write(tmp_path, lines), process), 0, f"crm: {{stages: {{{short}: STAGE}}}}")


def test_one_column_as_deal_id_and_stage_is_an_error(tmp_path: Path, process: Path) -> None:
    process.write_text(PROCESS + "crm:\n  columns: {deal: stage}\n")
    export = write(tmp_path, rows(30))
    kind(measure(export, process), 1, f"{export}:1: error SP847 the column 'stage' is named "
         "both as deal and as stage")


def test_an_unterminated_quote_stops_at_its_row_instead_of_swallowing_the_file(
        tmp_path: Path, process: Path) -> None:
    lines = rows(200)
    lines[10] = lines[10].replace(",SMB", ',"SMB')
    export = write(tmp_path, lines)
    kind(measure(export, process), 1, f"{export}:11: error SP841 a quote opened in row 11 "
         "is never closed")


def test_a_quote_inside_an_unquoted_value_is_no_opening_quote(tmp_path: Path,
                                                              process: Path) -> None:
    lines = rows(30)
    lines[5] = lines[5].replace(",SMB", ',5" screen')
    assert deals(measure(write(tmp_path, lines), process)) == 30


def test_control_bytes_are_located_on_their_row_after_a_quote_inside_a_value(
        tmp_path: Path, process: Path) -> None:
    lines = rows(30)
    lines[3] = lines[3].replace(",SMB", ',5" screen')
    lines[20] = lines[20].replace("SMB", "S\x00MB")
    export = write(tmp_path, lines)
    result = measure(export, process)
    assert deals(result) == 30
    assert f"{export}:21: note SP820 1 control characters" in result.stderr


@pytest.mark.parametrize(("lines", "found"), [
    (['a,b\n', '1,"x\n', 'y"\n', '2,z\n'], (None, 0)),  # a value over two lines
    (['a,b\n', '1,"x\n', 'y\n', '2,z\n'], (2, 2)),
    (['a,b\n', '\n', '1,5" x\n', '2,"q""\n'], (3, 0)),  # "" inside quotes is a quote
    (['a,b\r\n', '1,"ok"""\r\n', '"x""\n', 'z\n'], (3, 1)),
    (['a,b\n', '1,"a ""b"" c","d"\n', '2,e\n'], (None, 0)),
])
def test_an_unclosed_quote_is_found_as_pyarrow_reads_quotes(
        lines: list[str], found: tuple[int | None, int]) -> None:
    from salesproc.history.csvfile import _unterminated

    assert _unterminated(lines, ",") == found


def test_an_unterminated_quote_in_utf16_is_found_too(tmp_path: Path, process: Path) -> None:
    lines = rows(30)
    lines[3] = lines[3].replace(",SMB", ',"SMB')
    export = write(tmp_path, ("\n".join(lines) + "\n").encode("utf-16"))
    kind(measure(export, process), 1, f"{export}:4: error SP841")


def test_rows_without_a_deal_id_are_left_out_not_merged(tmp_path: Path,
                                                         process: Path) -> None:
    lines = rows(30)
    blank = [k for k, line in enumerate(lines) if line.startswith(("D4,", "D5,"))]
    for k in blank:
        lines[k] = lines[k].split(",", 1)[1].join([" ,", ""])
    result = measure(write(tmp_path, lines), process)
    assert deals(result) == 28
    assert f"note SP842 rows have no deal id (deal is empty); left out ({len(blank)} in all" \
        in result.stderr


@pytest.mark.parametrize(("written", "code"), [
    ("-5000", "SP843"), ("(500)", "SP843"), ("0x1F", "SP809"), ("9" * 400, "SP809"),
    ("inf", "SP809"), ("1e308", "SP809"), ("$43k", "SP809"),
])
def test_amounts_that_are_no_deal_value_are_unknown_with_a_note(
        tmp_path: Path, process: Path, written: str, code: str) -> None:
    export = write(tmp_path, rows(30, lambda i: written if i == 3 else "1000"))
    result = measure(export, process)
    assert deals(result) == 30
    assert f"{export}:8: note {code} " in result.stderr
    pipeline = json.loads(result.stdout)["overall"]["pipeline"]
    # the 20 open deals but D3 (unknown) are worth 1000 each: nothing negative, nothing huge
    assert sum(stage["value"] for stage in pipeline) == pytest.approx(19 * 1000.0)


@pytest.mark.parametrize(("written", "value"), [
    ("43.800 €", 43_800.0), ("EUR 1.234.567", 1_234_567.0), ("$0.125", 0.125),
    ("43.800", 43.8),  # a plain number is a program's: the dot is its decimal point
])
def test_a_dot_before_three_digits_of_a_written_amount_is_thousands(
        tmp_path: Path, process: Path, written: str, value: float) -> None:
    export = write(tmp_path, rows(30, lambda i: f'"{written}"' if i == 3 else "1000"))
    pipeline = json.loads(measure(export, process).stdout)["overall"]["pipeline"]
    assert sum(stage["value"] for stage in pipeline) == pytest.approx(19 * 1000.0 + value)


def test_a_column_with_dot_decimals_keeps_43_800_at_43_8(tmp_path: Path,
                                                        process: Path) -> None:
    export = write(tmp_path, rows(30, lambda i: "43.800 €" if i == 3 else "1000.50 €"))
    pipeline = json.loads(measure(export, process).stdout)["overall"]["pipeline"]
    assert sum(stage["value"] for stage in pipeline) == pytest.approx(19 * 1000.5 + 43.8)


def test_crm_probabilities_outside_0_to_100_are_unknown(tmp_path: Path,
                                                         process: Path) -> None:
    lines = ["deal,stage,changed_at,probability", "A,Prospecting,2025-03-04,10",
             "B,Prospecting,2025-03-04,150", "C,Prospecting,2025-03-04,-40"]
    export = write(tmp_path, lines)
    result = measure(export, process)
    kind(result, 0, f"{export}:3: note SP844 a probability is outside 0–100% ('150')",
         "(2 in all; rows 3, 4)")


def test_one_cp1252_byte_leaves_the_rest_of_a_utf8_file_utf8(tmp_path: Path) -> None:
    accented = tmp_path / "process.yaml"
    accented.write_text(PROCESS.replace("name: Prospecting", "name: Prospécting"), "utf-8")
    text = "\n".join(rows(30)).replace("Prospecting", "Prospécting") + "\n"
    data = text.encode("utf-8").replace(b"D7,", b"D7\xe9,", 1)  # one Windows-1252 byte
    export = write(tmp_path, data)
    result = measure(export, accented)
    assert deals(result) == 31  # D7é is a deal of its own; no accented stage is lost
    assert "SP804" not in result.stderr
    assert f"{export}: note SP846 1 place(s) in this UTF-8 file are not UTF-8" in result.stderr


def test_the_event_log_reads_exponent_times_and_refuses_infinite_ones(
        tmp_path: Path, process: Path) -> None:
    lines = ["replication,deal,buyer_type,stage,entered,started,finished,outcome,role,value",
             "1,1,small,prospecting,1.9e-05,1.9e-05,0.5,qualification,rep,1000",
             "1,1,small,qualification,0.5,0.5,2,won,rep,1000",
             "1,2,small,prospecting,inf,inf,inf,,rep,1000",
             "1,3,small,prospecting,1e308,1e308,,,rep,1000",
             "1,4,small,prospecting,3,3,,,rep,1000"]
    export = write(tmp_path, lines)
    result = run("measure", str(export), "--process", str(process), "--format", "json")
    assert deals(result) == 2  # deals 1 and 4; 1 created at the start, as written
    assert f"{export}:4: note SP805 entered is not a time of the simulation ('inf')" \
        in result.stderr
    assert json.loads(result.stdout)["overall"]["won"] == 1


@pytest.mark.parametrize(("option", "value", "text"), [
    ("--as-of", "9999-12-31", "is after today"),
    ("--as-of", "2025-09-01T00:00+02:00", "has a time zone"),
    ("--as-of", "2025-09-01Z", "has a time zone"),
    ("--as-of", "0001-01-01", "is before 1900"),
    ("--as-of", "1850-06-01", "is before 1900"),
])
def test_impossible_as_of_dates_are_usage_errors(tmp_path: Path, process: Path,
                                                  option: str, value: str, text: str) -> None:
    kind(measure(write(tmp_path, rows(10)), process, option, value), 2, option, text)


def test_dates_before_1900_in_an_export_are_unreadable(tmp_path: Path, process: Path) -> None:
    lines = rows(30)
    lines[1] = lines[1].replace("2025-01-01", "1850-01-01")
    lines[2] = lines[2].replace("2025-01-02", "0001-01-02")
    export = write(tmp_path, lines)
    result = measure(export, process)
    assert f"{export}:2: note SP805 changed_at cannot be read as a date ('1850-01-01')" \
        in result.stderr and "(2 in all; rows 2, 3)" in result.stderr


def test_since_before_the_history_does_not_thin_the_arrivals(tmp_path: Path,
                                                              process: Path) -> None:
    export = write(tmp_path, rows(60))
    fits = []
    for since in ((), ("--since", "1900-01-01")):
        out = tmp_path / f"fit{len(since)}.yaml"
        result = run("calibrate", str(export), "--process", str(process), "--crm", "generic",
                     "-o", str(out), *since)
        kind(result, 0, "created 2025-01-01 to")
        fits.append(next(line for line in out.read_text().splitlines()
                         if "arrivals.rate" in line))
    assert fits[0] == fits[1]


def test_calibrate_into_a_symlinked_folder_writes_an_extends_that_resolves(
        tmp_path: Path, process: Path) -> None:
    export = write(tmp_path, rows(60))
    real = tmp_path / "far" / "deep" / "real"
    real.mkdir(parents=True)
    (tmp_path / "link").symlink_to(real)
    kind(run("calibrate", str(export), "--process", str(process), "--crm", "generic", "-o",
             str(tmp_path / "link" / "fitted.yaml")), 0)
    for path in (tmp_path / "link" / "fitted.yaml", real / "fitted.yaml"):
        kind(run("validate", str(path)), 0, "no problems found")


def test_calibrate_on_the_terminal_writes_extends_from_the_current_folder(
        tmp_path: Path, process: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    export = write(tmp_path, rows(60))
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path / "out")
    result = run("calibrate", str(export), "--process", str(process), "--crm", "generic")
    kind(result, 0)
    Path("fitted.yaml").write_text(result.stdout)  # as `> fitted.yaml` would
    assert 'extends: "../process.yaml"' in result.stdout
    kind(run("validate", "fitted.yaml"), 0, "no problems found")


def test_the_first_backtest_origin_is_never_before_from(tmp_path: Path,
                                                         process: Path) -> None:
    export = write(tmp_path, rows(120))
    result = run("backtest", str(export), "--process", str(process), "--crm", "generic",
                 "--from", "2025-04-15T12:00", "--to", "2025-05-15", "--every", "1mo",
                 "--horizon", "14d", "-r", "3", "--format", "json")
    kind(result, 0)
    origins = [o["at"] for o in json.loads(result.stdout)["origins"]]
    assert origins == ["2025-04-15T12:00:00", "2025-05-15T12:00:00"]


# --- crashes (exit 3): each a kind message or the right reading now -----------------------


def test_salesforce_exports_of_their_headers_alone_are_an_error_not_a_crash(
        tmp_path: Path, process: Path) -> None:
    history = write(tmp_path, ["OpportunityId,StageName,CreatedDate"], "OpportunityHistory.csv")
    opportunities = write(tmp_path, ["Id,StageName,CreatedDate,Amount"], "Opportunity.csv")
    for files in ([history, opportunities], [opportunities]):
        result = run("measure", *map(str, files), "--process", str(process))
        kind(result, 1, "error SP813 no deal in the export can be measured")


def test_a_backtest_step_of_thousands_of_months_is_one_origin(tmp_path: Path,
                                                              process: Path) -> None:
    export = write(tmp_path, rows(120))
    result = run("backtest", str(export), "--process", str(process), "--crm", "generic",
                 "--from", "2025-04-15", "--to", "2025-05-15", "--every", "99999mo",
                 "--horizon", "14d", "-r", "3", "--format", "json")
    kind(result, 0)
    assert [o["at"] for o in json.loads(result.stdout)["origins"]] == ["2025-04-15T00:00:00"]


def test_a_utf16_export_with_an_odd_byte_count_is_read(tmp_path: Path, process: Path) -> None:
    data = ("\n".join(rows(30)) + "\n").encode("utf-16") + b"\x00"
    export = write(tmp_path, data)
    result = measure(export, process)
    assert deals(result) == 30
    assert f"{export}: note SP845 the file ends in the middle of a character" in result.stderr


@pytest.mark.parametrize("header", [" Deal  ,Stage ,Changed_At , Amount,Segment",
                                    "Deal ID,Stage Name,Changed At,AMOUNT,Segment"])
def test_header_names_with_spaces_and_capitals_are_read(tmp_path: Path, process: Path,
                                                        header: str) -> None:
    lines = rows(30)
    lines[0] = header
    result = run("measure", str(write(tmp_path, lines)), "--process", str(process),
                 "--format", "json")
    assert deals(result) == 30


def test_two_byte_order_marks_are_read(tmp_path: Path, process: Path) -> None:
    data = b"\xef\xbb\xbf\xef\xbb\xbf" + ("\n".join(rows(30)) + "\n").encode()
    assert deals(measure(write(tmp_path, data), process)) == 30


def flat_rows(n: int) -> list[str]:
    """Every deal worth 1000 (a fixed-price product), every stay in prospecting one hour,
    no probability: nothing to fit a spread to."""
    lines = ["deal,stage,changed_at,amount,probability"]
    for i in range(n):
        when = f"2025-{1 + (i // 28) % 3:02d}-{1 + i % 28:02d}"
        lines += [f"D{i},Prospecting,{when} 09:00,1000,", f"D{i},Qualification,{when} 10:00,1000,"]
        if i % 2:
            lines.append(f"D{i},won,2025-{2 + (i // 28) % 3:02d}-{1 + i % 28:02d} 10:00,1000,")
    return lines


def test_calibrate_on_values_and_stays_without_spread(tmp_path: Path, process: Path) -> None:
    export = write(tmp_path, flat_rows(60))
    out = tmp_path / "fitted.yaml"
    kind(run("calibrate", str(export), "--process", str(process), "--crm", "generic",
             "-o", str(out), "--check", "-r", "3"), 0)
    kind(run("validate", str(out)), 0, "no problems found")


def test_forecast_pages_and_charts_without_a_crm_probability_or_with_vast_amounts(
        tmp_path: Path, process: Path) -> None:
    vast = write(tmp_path, rows(40, lambda i: "9" * 14 if i == 3 else "1000"), "vast.csv")
    for export in (write(tmp_path, flat_rows(40)), vast):
        page, charts = tmp_path / f"{export.stem}.html", tmp_path / f"{export.stem}-charts"
        kind(run("forecast", str(export), "--process", str(process), "--crm", "generic",
                 "--format", "html", "-o", str(page), "--charts", str(charts),
                 "--horizon", "2w", "-r", "3"), 0)
        assert page.read_text("utf-8").startswith("<!doctype html>")
        assert (charts / "forecast.svg").exists()
        kind(run("measure", str(export), "--process", str(process), "--crm", "generic",
                 "--format", "html", "-o", str(page), "--charts", str(charts)), 0)


@pytest.mark.parametrize(("content", "text"), [
    ("1" + "0" * 5000, "not a result"),
    ("[" * 10_000 + "]" * 10_000, "nested too deeply"),
])
def test_render_results_of_absurd_json_is_refused(tmp_path: Path, process: Path,
                                                  content: str, text: str) -> None:
    results = tmp_path / "results.json"
    results.write_text(content)
    kind(run("render", str(process), "--results", str(results), "--format", "dot"), 1, text)


def test_validate_refuses_a_hexadecimal_number_of_thousands_of_digits(tmp_path: Path,
                                                                      process: Path) -> None:
    process.write_text(PROCESS.replace("headcount: 2", "headcount: 0x" + "F" * 5000))
    kind(run("validate", str(process)), 1, "error SP010 a number of 5,002 digits")


# --- hangs and memory ------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["fifo", "/dev/zero"])
def test_render_results_refuses_a_pipe_or_a_device(tmp_path: Path, process: Path,
                                                    source: str) -> None:
    if source == "fifo":
        source = str(tmp_path / "results.json")
        os.mkfifo(source)
    kind(run("render", str(process), "--results", source, "--format", "dot"), 1,
         "is not a regular file")


def test_render_results_refuses_a_file_larger_than_any_result(
        tmp_path: Path, process: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("salesproc.core.defaults.MAX_RESULTS_BYTES", 1000)
    results = tmp_path / "results.json"
    results.write_text(" " * 1001)
    kind(run("render", str(process), "--results", str(results), "--format", "dot"), 1,
         "larger than 1,000 bytes")


def test_a_densely_routed_process_is_refused_before_graphviz_runs(tmp_path: Path) -> None:
    """50 stages each routed to every other (and lost): 2,550 arrows, which `dot` would lay out for
    minutes (at 200 stages it fills gigabytes); refused at once, with what to do."""
    path = dense_process(tmp_path / "dense.yaml", 50, 0.018)
    target = tmp_path / "d.svg"
    kind(run("render", str(path), "--combined", "-o", str(target)), 1,
         "the drawing has 2,550 arrows, more than Graphviz can lay out", "as Mermaid")
    assert not target.exists()

