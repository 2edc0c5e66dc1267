"""CSV exports as they come: UTF-8 with or without a byte-order mark, Windows-1252,
UTF-16 (with or without one); comma, semicolon or tab; quoted fields over several lines;
rows with a field too many; control characters (NUL from a rich-text field) inside values.
Read with pyarrow's streaming CSV reader, a block at a time, so memory does not grow
with the file; every value is read as text and converted here, so a stray value is a
note on its row, never a failure of the whole file.

Rows are numbered as a spreadsheet shows them: the header is row 1.
"""

from __future__ import annotations

import codecs
import io
import math
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from salesproc.core.diagnostics import shown, some
from salesproc.history.notes import MAX_ROWS_SHOWN, HistoryError, Note, Notebook
from salesproc.process.model import fold

BLOCK_BYTES = 8 << 20  # a block of the file parsed at a time: bounds the memory per batch
CLEAN_BYTES = 1 << 20  # a block of the file decoded and cleaned at a time (see _Cleaned)
NOT_A_TIME = np.datetime64("NaT", "s")
#: C0 control characters other than tab, line feed and carriage return: never text in a
#: CSV value (NUL from a rich-text field, ^Z from an old tool), so dropped where found.
CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CONTROL_PATTERN = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"  # the same in text (re and RE2)
_CONTROL_TEXT = re.compile(CONTROL_PATTERN)
_IS_CONTROL = np.zeros(256, dtype=bool)
_IS_CONTROL[[*range(0, 9), 11, 12, *range(14, 32)]] = True
#: Binary formats people export instead of CSV: their signature, and what to call them.
WORKBOOKS = ((b"PK\x03\x04", "a zip archive or an Excel workbook (.xlsx)"),
             (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel workbook (.xls)"))
#: A head with this share of control bytes outside quoted values (UTF-16 aside) is not
#: text: a CSV's control bytes sit inside quoted values (a rich-text field), while random
#: binary data has about one in nine of its bytes there.
BINARY_SHARE = 1 / 64


@dataclass(frozen=True)
class Batch:
    """A block of rows: their row numbers and the text of each column asked for."""

    rows: np.ndarray  # int64, the header is row 1
    values: Mapping[str, pa.Array]

    def __len__(self) -> int:
        return len(self.rows)


class Export(ABC):
    """An export's columns and rows, whatever holds them (a CSV file, a pandas DataFrame):
    what every reader asks of it. *path* names it in notes; *kind* is the format it is read
    as; *header_row* is the row its column names are on (None: it has no such row)."""

    path: str
    kind: str
    header: list[str]
    header_row: int | None = 1
    noun = "file"  # what it is, in messages

    def _name_columns(self, header: list[str]) -> None:
        self.header = header
        self._by_fold: dict[str, str] = {}
        for name in self.header:
            self._by_fold.setdefault(fold(name), name)

    def column(self, *names: str) -> str | None:
        """The header's name for the first of *names* it has (case and spacing ignored)."""
        for name in names:
            found = self._by_fold.get(fold(name))
            if found is not None:
                return str(found)
        return None

    def require(self, needed: Mapping[str, Sequence[str]], hint: str) -> dict[str, str]:
        """The header's name for each role in *needed* (role -> accepted names), or one
        error naming every missing column."""
        found = {role: self.column(*names) for role, names in needed.items()}
        missing = [names[0] for role, names in needed.items() if found[role] is None]
        if missing:
            raise HistoryError([Note(
                "SP802", f"this is not a {self.kind} {self.noun}: it has no {_columns(missing)} "
                f"column{'s' if len(missing) > 1 else ''}", self.path, self.header_row,
                hint=f"{hint}; its columns are: {some([shown(h) for h in self.header], 12)}")])
        roles: dict[str, str] = {}
        for role, name in found.items():
            other = roles.setdefault(str(name), role)
            if other != role:  # the deal id read from the stage column: 200 deals as 4
                raise HistoryError([Note(
                    "SP847", f"the column '{shown(str(name))}' is named both as {other} and "
                    f"as {role}", self.path, self.header_row, column=name,
                    hint=f"name another column for one of them in crm: columns; its columns "
                    f"are: {some([shown(h) for h in self.header], 12)}")])
        return {role: name for role, name in found.items() if name is not None}

    @abstractmethod
    def batches(self, columns: Sequence[str], notes: Notebook) -> Iterator[Batch]:
        """The rows, a block at a time, as text (an empty field is '')."""

    def _note_controls(self, notes: Notebook, dropped: int, rows: Sequence[int],
                       count: int) -> None:
        """A note (SP820) that *dropped* control characters, in *count* rows (the first
        few are *rows*), were taken out of the values: they are never text."""
        notes.add("SP820", f"{dropped:,} control characters (such as NUL) inside values are "
                  "dropped", self.path, rows=rows, count=count, key="control characters",
                  hint="a rich-text field (a description or a note) holds them; the rest of "
                  "each row is read as it is")

    def _note_repeated(self, wanted: Sequence[str], notes: Notebook) -> None:
        """A note (SP848) for each column read whose name the header has more than once
        (case and spacing ignored): the first is read, and which was meant is unknown.
        Once per file however often it is read (a note of the same key is replaced)."""
        for name in wanted:
            places = [i + 1 for i, h in enumerate(self.header) if fold(h) == fold(name)]
            if len(places) > 1:
                notes.extend([Note(
                    "SP848", f"the column '{shown(name)}' is in the header {len(places)} "
                    f"times (columns {', '.join(map(str, places))}): the first is read",
                    self.path, self.header_row, column=name, hint="a column chosen twice in "
                    "the CRM's export, or two fields with one label: leave one out or rename "
                    "it")])


class CsvFile(Export):
    """One export file: its encoding, delimiter and header, checked before any row is read."""

    def __init__(self, path: str, kind: str) -> None:
        self.path = path
        self.kind = kind  # the format it is read as, for messages
        self.encoding, head, self.cleaning, self.mixed, self.odd_quotes = _encoding(path)
        head = _CONTROL_TEXT.sub("", head)
        self.delimiter = _delimiter(head)
        self._written = _header(head, self.delimiter, path)  # as the file spells them
        self._name_columns([n.strip() for n in self._written])

    def batches(self, columns: Sequence[str], notes: Notebook) -> Iterator[Batch]:
        """The rows, a block at a time, as text (an empty field is ''). Rows with a wrong
        number of fields are left out with a note."""
        skipped: list[int] = []

        def invalid(row: pcsv.InvalidRow) -> str:
            skipped.append(row.number if row.number is not None else -1)
            return "skip"

        wanted = list(dict.fromkeys(columns))
        self._note_repeated(wanted, notes)
        source = _Cleaned(self.path, self.encoding, self.mixed, self.delimiter) \
            if self.cleaning else None
        try:
            self._check_quotes(self.odd_quotes)
            yield from self._parse(source, wanted, skipped, invalid, notes)
            if source is not None:
                self._check_quotes(source.quoted)
        finally:
            if source is not None:
                source.close()
        if source is not None and source.cut_short:
            notes.add("SP845", "the file ends in the middle of a character: its last "
                      f"{source.cut_short} byte(s) are dropped", self.path,
                      hint="the export was cut short (an interrupted download or copy); "
                      "export it again to be sure its last row is whole")
        if self.mixed:
            notes.add("SP846", f"{self.mixed:,} place(s) in this UTF-8 file are not UTF-8: "
                      "read as Windows-1252", self.path,
                      hint="a value pasted from another program; the rest of the file is "
                      "read as UTF-8")
        if source is not None and source.dropped:
            self._note_controls(notes, source.dropped, source.rows, source.row_count)

    def _check_quotes(self, odd: bool) -> None:
        """Stop (SP841) where a quote is opened and never closed: the rest of the file
        would be read as one value, its deals silently gone. Looked for only when the
        file holds an odd number of quotes (a quote inside an unquoted value, as in
        `5" screen`, is no opening quote)."""
        if not odd:
            return
        with open(self.path, encoding=_python_codec(self.encoding), errors="replace",
                  newline="") as handle:
            row, lines = _unterminated(handle, self.delimiter)
        if row is not None:
            raise HistoryError([Note(
                "SP841", f"a quote opened in row {row:,} is never closed: " + (
                    f"the rest of the file ({lines:,} lines) would be read as one value"
                    if lines else "the file ends inside it"), self.path, row,
                hint="a value's closing quote was lost (a cut-off or hand-edited export); "
                "close it, or export the report again")])

    def _parse(self, source: _Cleaned | None, wanted: list[str], skipped: list[int],
               invalid: Callable[[pcsv.InvalidRow], str], notes: Notebook) -> Iterator[Batch]:
        seen = 1  # records read so far, the header included
        written = dict(zip(self.header, self._written, strict=True))  # ' Deal ' for 'Deal'
        try:
            reader = pcsv.open_csv(
                source if source is not None else self.path,
                read_options=pcsv.ReadOptions(use_threads=False, block_size=BLOCK_BYTES,
                                              encoding="utf8" if source else self.encoding),
                parse_options=pcsv.ParseOptions(delimiter=self.delimiter,
                                                newlines_in_values=True,
                                                invalid_row_handler=invalid),
                convert_options=pcsv.ConvertOptions(
                    include_columns=[written[c] for c in wanted],
                    column_types={written[c]: pa.string() for c in wanted},
                    strings_can_be_null=False, quoted_strings_can_be_null=False))
            for batch in reader:
                new, skipped[:] = list(skipped), []
                rows = _row_numbers(seen, batch.num_rows, new)
                seen += batch.num_rows + len(new)
                for number in new:
                    notes.add("SP803", "a row has a different number of fields than the "
                              "header; left out", self.path, row=number if number > 0 else None,
                              hint="a stray delimiter or quote in a value; re-export with "
                              "every text field quoted")
                yield Batch(rows, {c: batch.column(written[c]) for c in wanted})
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise HistoryError([Note("SP801", f"cannot read the export after row {seen}: "
                                     f"{_short(exc)}", self.path, seen,
                                     hint="check the file is a complete CSV export")]) from None


def _columns(names: Sequence[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return shown(text[:200])


def _row_numbers(seen: int, count: int, skipped: Sequence[int]) -> np.ndarray:
    """Row numbers of a batch's *count* rows, after *seen* records, around the skipped ones."""
    numbers = np.arange(seen + 1, seen + 1 + count + len(skipped), dtype=np.int64)
    if skipped:
        numbers = numbers[~np.isin(numbers, np.asarray(skipped, dtype=np.int64))]
    return numbers[:count]


def _unreadable(path: str, message: str, hint: str | None = None) -> HistoryError:
    return HistoryError([Note("SP801", message, path, hint=hint)])


def _encoding(path: str) -> tuple[str, str, bool, int, bool]:
    """The file's encoding, its first characters, whether it must be read through
    :class:`_Cleaned` (UTF-16, control characters somewhere in it, two byte-order marks,
    or a UTF-8 file with a few bytes that are not UTF-8), in how many places it has them,
    and whether it holds an odd number of quotes (for UTF-16, :class:`_Cleaned` says).

    Workbooks (zip and OLE signatures) are refused with their name; UTF-16 is told by its
    byte-order mark or, without one, by NULs at every other byte; any other head that is
    mostly control bytes is not text. Else UTF-8 if the file is valid UTF-8 — or mostly:
    its few other bytes are read as Windows-1252 (a value pasted from another program must
    not turn every accented stage of the file into other letters) — else Windows-1252
    (else Latin-1); the same pass looks for control characters and counts quotes."""
    try:
        if not os.path.isfile(path):
            what = "does not exist" if not os.path.exists(path) else "is not a regular file"
            raise _unreadable(path, f"the export {what}", "give the path of a CSV file")
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
            if not head.strip():
                raise _unreadable(path, "the export is empty", "export it again from the CRM")
            for signature, name in WORKBOOKS:
                if head.startswith(signature):
                    raise _unreadable(path, f"the export is not text: it is {name}",
                                      "export the report as CSV, not as an Excel workbook "
                                      "(or unzip it first)")
            wide = _utf16(head)
            if wide is not None:
                return wide, head.decode(wide, errors="ignore"), True, 0, False
            if _binary(head):
                raise _unreadable(path, "the export is not text (it is mostly binary data)",
                                  "give the CSV file the CRM exported")
            boms = 0
            while head.startswith(codecs.BOM_UTF8):
                head, boms = head[len(codecs.BOM_UTF8):], boms + 1
            handle.seek(0)
            scan = _scan(handle)
            if scan.foreign == 0 or scan.foreign < scan.wide:
                return ("utf8", head.decode("utf-8", errors="ignore"),
                        scan.controls or boms > 1 or scan.foreign > 0, scan.foreign,
                        scan.quotes % 2 == 1)
            encoding = "cp1252" if scan.cp1252 else "latin-1"
            return (encoding, head.decode(encoding, errors="ignore"), scan.controls, 0,
                    scan.quotes % 2 == 1)
    except OSError as exc:
        raise _unreadable(path, f"cannot read the export: {exc.strerror or exc}") from None


def _python_codec(encoding: str) -> str:
    """Python's name for an encoding as pyarrow is told it ('utf8' with its mark, if any)."""
    return {"utf8": "utf-8-sig"}.get(encoding, encoding)


def _foreign_bytes(exc: UnicodeError) -> tuple[str, int]:
    """Bytes of a UTF-8 file that are not UTF-8, read as Windows-1252 (Latin-1 where it has
    no character): the error handler of mixed files."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return bad.decode("cp1252", errors="strict") if _in_cp1252(bad) else \
        bad.decode("latin-1"), exc.end


def _in_cp1252(data: bytes) -> bool:
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True


codecs.register_error("salesproc-cp1252", _foreign_bytes)


@dataclass
class _Scan:
    """What one pass over a file's bytes found: places that are not UTF-8 (*foreign*),
    valid UTF-8 characters beyond ASCII (*wide*), whether every byte is
    Windows-1252, control bytes, and the number of quotes."""

    foreign: int = 0
    wide: int = 0
    cp1252: bool = True
    controls: bool = False
    quotes: int = 0


def _scan(handle: object) -> _Scan:
    """One pass over *handle*: see :class:`_Scan` (in these ASCII-based encodings a control
    byte is always a control character, and a quote byte a quote)."""
    found = _Scan()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    read = handle.read  # type: ignore[attr-defined]
    while chunk := read(1 << 23):
        text = decoder.decode(chunk)
        replaced = text.count("\ufffd") - chunk.count(b"\xef\xbf\xbd")  # not U+FFFD itself
        found.foreign += replaced
        found.wide += len(text) - len(text.encode("ascii", errors="ignore")) - replaced
        found.cp1252 = found.cp1252 and not any(b in chunk for b in _NOT_CP1252)
        found.controls = found.controls or CONTROL.search(chunk) is not None
        found.quotes += chunk.count(b'"')
    found.foreign += decoder.decode(b"", final=True).count("\ufffd")
    return found


#: The five bytes Windows-1252 has no character for.
_NOT_CP1252 = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")


def _unterminated(lines: Iterable[str], delimiter: str) -> tuple[int | None, int]:
    """The row (header = 1) of a quote that opens a value and is never closed, and how
    many lines follow its line; (None, 0) when every quoted value is closed. Quotes are
    read as pyarrow's reader reads them: one opens a value only at its start, and inside
    quotes "" is a quote. *lines* are the file's lines (line ends kept), read one at a
    time so that memory does not grow with the file."""
    opening = re.compile(r'(?:^|(?<=[' + re.escape(delimiter) + r']))"')
    closing = re.compile(r'(?>[^"]*(?:""[^"]*)*)"')  # atomic: "" is never split
    row, inside, opened, after = 0, False, 0, 0
    for line in lines:
        at = 0
        if inside:
            found = closing.match(line)
            if found is None:
                after += 1
                continue
            inside, at = False, found.end()
        elif not line.strip("\r\n"):
            continue  # an empty line is no row
        else:
            row += 1
        while (start := opening.search(line, at)) is not None:
            found = closing.match(line, start.end())
            if found is None:
                inside, opened, after = True, row, 0
                break
            at = found.end()
    return (opened, after) if inside else (None, 0)


def _binary(head: bytes) -> bool:
    """Whether more than BINARY_SHARE of *head* is control bytes outside quoted values."""
    b = np.frombuffer(head, dtype=np.uint8)
    quote = b == 34
    outside = (np.cumsum(quote) - quote) % 2 == 0
    return int((_IS_CONTROL[b] & outside).sum()) > BINARY_SHARE * len(b)


def _utf16(head: bytes) -> str | None:
    """'utf-16' for a head with a UTF-16 byte-order mark; 'utf-16-le' or 'utf-16-be' for one
    without, whose ASCII text shows as NULs at every other byte (odd or even); else None."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    pairs = len(head) // 2
    if pairs < 2:
        return None
    even = head[0:2 * pairs:2].count(0) / pairs
    odd = head[1:2 * pairs:2].count(0) / pairs
    if odd > 0.4 and even < 0.05:
        return "utf-16-le"
    if even > 0.4 and odd < 0.05:
        return "utf-16-be"
    return None


class _Cleaned(io.RawIOBase):
    """The export as UTF-8 without control characters, for pyarrow's reader: decoded from
    its encoding and cleaned a block at a time (memory stays bounded), counting the rows
    that held control characters. A row is found as pyarrow finds it: a line end outside
    quotes ends it (a quote inside an unquoted value is text), and an empty line is no
    row."""

    def __init__(self, path: str, encoding: str, mixed: int = 0, delimiter: str = ",") -> None:
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._decoder = codecs.getincrementaldecoder(_python_codec(encoding))(
            errors="salesproc-cp1252" if mixed else "strict")
        self._started = False  # the first characters are decoded (byte-order marks gone)
        self.cut_short = 0  # bytes at the end that make no whole character (UTF-16)
        self._pending = b""
        self._offset = 0
        self._ended = False
        self._records = 0  # rows ended so far (the header is the first)
        self._quoted = False  # inside quotes at the end of the last block
        self._bounds = np.array([ord(delimiter), 10], dtype=np.uint8)  # a value's ends
        self._previous = 10  # the last byte of the last block (a line end: the start)
        self._line_ended = True  # the last line end seen (CRs aside) was the last byte
        self._last_row = 0  # the last row found holding a control character
        self.dropped = 0  # control characters dropped
        self.row_count = 0  # rows that held any
        self.rows: list[int] = []  # the first few of them

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        """Fills *buffer* as far as the file goes (short only at its end)."""
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view):
            if self._offset >= len(self._pending):
                if self._ended:
                    break
                self._pending, self._offset = self._next(), 0
                continue
            n = min(len(view) - filled, len(self._pending) - self._offset)
            view[filled:filled + n] = self._pending[self._offset:self._offset + n]
            filled += n
            self._offset += n
        return filled

    def close(self) -> None:
        self._file.close()
        super().close()

    @property
    def quoted(self) -> bool:
        """Whether the file ended inside quotes (counting every quote as pyarrow need not)."""
        return self._quoted

    def _next(self) -> bytes:
        chunk = self._file.read(CLEAN_BYTES)
        self._ended = not chunk
        text = self._decoder.decode(chunk)
        if self._ended:
            try:
                text += self._decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:  # an odd byte at the end of UTF-16
                self.cut_short = len(exc.object)
        if text and not self._started:
            self._started = True
            text = text.lstrip("\ufeff")  # a second byte-order mark, as some tools add
        return self._clean(text.encode("utf-8")) if text else b""

    def _clean(self, data: bytes) -> bytes:
        """*data* without its control bytes, the rows holding them counted."""
        b = np.frombuffer(data, dtype=np.uint8)
        c = b[b != 13]  # carriage returns aside: a line ends at its line feed
        quote = self._quotes(c)
        before = np.cumsum(quote, dtype=np.int64) - quote + self._quoted
        line_end = (c == 10) & (before % 2 == 0)
        previous = np.empty_like(line_end)
        previous[0] = self._line_ended
        previous[1:] = line_end[:-1]
        ends = line_end & ~previous  # an empty line is no row
        control = _IS_CONTROL[c]
        if control.any():
            done = np.cumsum(ends, dtype=np.int64) - ends
            rows = np.unique(self._records + done[control] + 1)
            if rows[0] == self._last_row:
                rows = rows[1:]  # a row split between two blocks
            if len(rows):
                self._last_row = int(rows[-1])
            self.dropped += int(control.sum())
            self.row_count += len(rows)
            self.rows.extend(rows[:max(0, MAX_ROWS_SHOWN - len(self.rows))].tolist())
            data = b[~_IS_CONTROL[b]].tobytes()
        self._records += int(ends.sum())
        self._quoted = bool((int(quote.sum()) + self._quoted) % 2)
        self._line_ended = bool(line_end[-1]) if len(c) else self._line_ended
        self._previous = int(c[-1]) if len(c) else self._previous
        return data

    def _quotes(self, c: np.ndarray) -> np.ndarray:
        """The quotes of *c* that open, close or escape a quoted value: a quote inside an
        unquoted value (`5" screen`, `a "word" in it`) has a letter or a space on both
        sides, and pyarrow reads it as text, so it does not turn quoting on or off."""
        quote: np.ndarray = c == 34
        if not quote.any():
            return quote
        before = np.empty_like(c)
        before[0], before[1:] = self._previous, c[:-1]
        after = np.empty_like(c)
        after[-1], after[:-1] = 10, c[1:]  # the next block's first byte: taken as an end
        edge = np.isin(before, self._bounds) | np.isin(after, self._bounds) | \
            (before == 34) | (after == 34)
        counted: np.ndarray = quote & edge
        return counted


def _delimiter(head: str) -> str:
    """Comma, semicolon or tab: whichever the header line has most of, outside quotes."""
    line = re.sub(r'"[^"]*"', "", head.lstrip("\ufeff").splitlines()[0] if head else "")
    counts = {d: line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _header(head: str, delimiter: str, path: str) -> list[str]:
    first = head.lstrip("\ufeff").splitlines()[0] if head.strip() else ""
    import csv

    names = next(csv.reader([first], delimiter=delimiter), [])
    if not any(n.strip() for n in names):
        raise _unreadable(path, "the export has no header row", "the first row must name "
                          "the columns, as a CRM export does")
    return names


# --- values --------------------------------------------------------------------------------

_FRACTION_AND_ZONE = r"(\d{1,2}:\d{2}(?::\d{2})?)(?:[.,]\d+)?\s*(?:Z|UTC|GMT|[+-]00:?00)?$"
_SALESFORCE = "%Y-%m-%dT%H:%M:%S.000Z"
_ISO = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M", "%Y/%m/%d")
_TIMES = (" %I:%M %p", " %I:%M:%S %p", " %H:%M:%S", " %H:%M", "")


def _dated(day_first: bool) -> tuple[str, ...]:
    orders = ("%d/%m/%Y", "%d/%m/%y") if day_first else ("%m/%d/%Y", "%m/%d/%y")
    return (*_ISO, *(o + t for o in orders for t in _TIMES),
            *("%d.%m.%Y" + t for t in _TIMES if "%p" not in t), "%d-%b-%Y", "%d %b %Y")


def day_first(values: pa.Array) -> bool | None:
    """Whether dates like 03/04/2026 are day first: True or False when a value shows it
    (a first number above 12, or a second), None when every value could be either."""
    text = pc.utf8_trim_whitespace(values)
    parts = pc.extract_regex(text, r"^(?P<a>\d{1,2})[/](?P<b>\d{1,2})[/]\d{2,4}")
    if parts.null_count == len(parts):
        return False  # no such dates: nothing to decide
    first = pc.cast(pc.struct_field(parts, "a"), pa.int32())
    second = pc.cast(pc.struct_field(parts, "b"), pa.int32())
    if pc.any(pc.greater(first, 12)).as_py():
        return True
    if pc.any(pc.greater(second, 12)).as_py():
        return False
    return None


def parse_dates(values: pa.Array, day_first: bool) -> tuple[np.ndarray, np.ndarray]:
    """(datetime64[s] with NaT where empty or unreadable, mask of the unreadable ones).

    Fractions of a second and a UTC zone (Z, +00:00) are dropped: times are the team's
    local times, as everywhere in salesproc.
    """
    fast = pc.strptime(values, format=_SALESFORCE, unit="s", error_is_null=True)
    # strptime turns 30 February into 2 March: the day written must be the day read
    day = pc.cast(pc.if_else(pc.is_null(fast), "0", pc.utf8_slice_codeunits(values, 8, 10)),
                  pa.int64())
    fast = pc.if_else(pc.equal(pc.day(fast), day), fast, pa.scalar(None, fast.type))
    if fast.null_count == 0:  # Data Loader's own format, as almost every row of it is
        return fast.to_numpy(zero_copy_only=False).astype("datetime64[s]"), \
            np.zeros(len(values), dtype=bool)
    text = pc.utf8_trim_whitespace(values)
    text = pc.replace_substring_regex(text, _FRACTION_AND_ZONE, r"\1")
    text = pc.replace_substring_regex(text, r"^(\d{4}-\d{2}-\d{2})T", r"\1 ")
    text = pc.replace_substring_regex(text, r",\s+", " ")
    empty = np.asarray(pc.equal(text, "").to_numpy(zero_copy_only=False), dtype=bool)
    parsed = pa.nulls(len(text), pa.timestamp("s"))
    todo = ~empty
    for fmt in _dated(day_first):
        if not todo.any():
            break
        attempt = _on_the_calendar(pc.strptime(text, format=fmt, unit="s",
                                               error_is_null=True), text, fmt)
        parsed = pc.coalesce(parsed, attempt)
        todo = ~empty & np.asarray(pc.is_null(parsed).to_numpy(zero_copy_only=False), dtype=bool)
    out = parsed.to_numpy(zero_copy_only=False).astype("datetime64[s]")
    return out, todo


def _on_the_calendar(parsed: pa.Array, text: pa.Array, fmt: str) -> pa.Array:
    """*parsed* (*text* read by strptime with *fmt*) without the days the calendar does
    not have — strptime turns 30 February into 2 March — nor years before 1900 (%Y
    reads the '26' of 3/4/26 as the year 26; %y then gets its turn). A date is kept when
    writing it back with *fmt* gives its text (leading zeros and case aside)."""
    def plain(t: pa.Array) -> pa.Array:
        return pc.utf8_lower(pc.replace_substring_regex(t, r"\b0+(\d)", r"\1"))

    back = pc.strftime(parsed, format=fmt)
    real = pc.and_(pc.equal(plain(back), plain(text)),
                   pc.greater_equal(pc.year(parsed), 1900))
    return pc.if_else(real, parsed, pa.scalar(None, parsed.type))


_PLAIN_NUMBER = r"^-?[0-9]+(\.[0-9]+)?$"
#: No amount (nor probability) is this large: a number beyond it is a mistake (a phone
#: number, an id, 400 digits), unreadable rather than a figure that swamps every total.
MAX_AMOUNT = 1e15
# A column whose amounts end in ',50' (and none in '.50') writes decimals with a comma.
_COMMA_DECIMAL = r"\d,\d{1,2}\D*$"
_DOT_DECIMAL = r"\d\.\d{1,2}\D*$"


def parse_amounts(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(float64 with NaN where empty or unreadable, mask of the unreadable ones).

    Plain numbers are converted in bulk; the rest one by one, leniently: currency signs
    and codes, thousands separators (1,200.50 and 1.200,50), spaces, and (500) for -500.
    """
    text = pc.utf8_trim_whitespace(values)
    dot_decimal = bool(pc.any(pc.match_substring_regex(text, _DOT_DECIMAL)).as_py())
    comma_decimal = pc.any(pc.match_substring_regex(text, _COMMA_DECIMAL)).as_py() and \
        not dot_decimal
    plain = np.asarray(pc.match_substring_regex(text, _PLAIN_NUMBER).to_numpy(
        zero_copy_only=False), dtype=bool) & (not comma_decimal)
    out = np.full(len(text), math.nan)
    if plain.any():
        out[plain] = pc.cast(pc.filter(text, pa.array(plain)), pa.float64()).to_numpy()
    empty = np.asarray(pc.equal(text, "").to_numpy(zero_copy_only=False), dtype=bool)
    bad = plain & ~(np.abs(out) < MAX_AMOUNT)  # 400 digits are no amount (nor 'inf')
    out[bad] = math.nan
    for i in np.flatnonzero(~plain & ~empty):
        number = lenient_amount(text[i].as_py(), comma_decimal, dot_decimal)
        if number is None:
            bad[i] = True
        else:
            out[i] = number
    return out, bad


#: A hexadecimal number (0x1F): no amount is written so, and dropping the letters misreads it.
_HEX = re.compile(r"\b0[xX][0-9A-Fa-f]")
#: A number with a scale the lenient reading would drop: 43k, 1.5 M, 2bn, 1e308.
_SCALED = re.compile(r"\d\s*(?:[kKmMbB]|mm|MM|mn|bn|BN|[Mm]io|[Mm]rd|[Tt]sd)\b|\d[eE][+-]?\d")


def lenient_amount(text: str, comma_decimal: bool = False,
                   dot_decimal: bool = False) -> float | None:
    """'$1,200.50', '1.200,50 €', 'EUR 2 500', '(500)' as numbers; None when it is not one.
    With *comma_decimal* (the column writes 1.200,50), '2.000' is two thousand. A written
    amount with one dot and three digits after it ('43.800 €') is thousands too — money
    is not written to a tenth of a cent — unless the column writes decimals with a dot
    (*dot_decimal*: 1.50) or it starts '0.'."""
    negative = text.startswith("(") and text.endswith(")")
    core = re.sub(r"[^\d.,\-]", "", text.replace("\u2212", "-"))
    if not re.fullmatch(r"-?[\d.,]*\d[\d.,]*", core or "x") or re.search(r"[A-Za-z]{4,}", text) \
            or _SCALED.search(text) or _HEX.search(text):
        return None  # '$43k', '1.5M', '1e308', '0x1F' are not 43, 1.5, 1308, 1: unreadable
    last_dot, last_comma = core.rfind("."), core.rfind(",")
    if comma_decimal:
        decimal = "," if last_comma >= 0 else ""
    elif last_dot >= 0 and last_comma >= 0:
        decimal = "." if last_dot > last_comma else ","
    elif last_comma >= 0:
        decimal = "," if len(core) - last_comma - 1 != 3 or (core.count(",") == 1 and \
            core.startswith(("0,", "-0,"))) else ""
    elif last_dot >= 0:
        decimal = "." if len(core) - last_dot - 1 != 3 or (core.count(".") == 1 and (
            dot_decimal or core.startswith(("0.", "-0.")))) else ""
    else:
        decimal = ""
    thousands = {".": ",", ",": ".", "": ",."}[decimal]
    for sep in thousands:
        core = core.replace(sep, "")
    core = core.replace(",", ".")
    try:
        number = float(core)
    except ValueError:
        return None
    if not abs(number) < MAX_AMOUNT:
        return None
    return -abs(number) if negative else number


_MACHINE_NUMBER = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"


def parse_numbers(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Numbers as a program writes them (1.9e-05 included), for files salesproc writes
    itself: (float64 with NaN where empty or unreadable, mask of the unreadable ones).
    'inf', 'nan' and numbers beyond :data:`MAX_AMOUNT` are unreadable."""
    text = pc.utf8_trim_whitespace(values)
    number = np.asarray(pc.match_substring_regex(text, _MACHINE_NUMBER).to_numpy(
        zero_copy_only=False), dtype=bool)
    out = np.full(len(text), math.nan)
    if number.any():
        out[number] = pc.cast(pc.filter(text, pa.array(number)), pa.float64()).to_numpy()
    empty = np.asarray(pc.equal(text, "").to_numpy(zero_copy_only=False), dtype=bool)
    bad = ~empty & ~(np.abs(out) < MAX_AMOUNT)
    out[bad] = math.nan
    return out, bad


# The white space of str.split (model.fold's): a no-break space in a CRM's stage name is
# one too. RE2's \s is ASCII only, so it is spelled out (str.isspace has none past U+3000).
_WHITE_SPACE = "[" + "".join(f"\\x{{{ord(c):04x}}}" for c in map(chr, range(0x3001))
                             if c.isspace()) + "]+"


def folded(values: pa.Array) -> pa.Array:
    """Text as :func:`salesproc.process.model.fold` compares it: lower case, spaces trimmed and
    runs of white space (as str.split finds it) as one. The Turkish capital dotted I is
    lowered as str.lower does it (to i and a combining dot; Arrow's lowering drops the
    dot), so that 'İlk Görüşme' in an export is the crm: section's 'İlk Görüşme'."""
    text = pc.replace_substring_regex(values, _WHITE_SPACE, " ")
    text = pc.replace_substring(text, "\u0130", "i\u0307")
    return pc.utf8_lower(pc.utf8_trim(text, " "))
