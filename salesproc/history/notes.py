"""What reading a CRM export found wrong with it: one record per kind of problem, located
at the file and row where it first occurs, with how many rows share it.

An *error* stops the command (the export cannot be used at all: unreadable, or not the
format it was named as). A *note* says what was left out or guessed; the rest of the
export is still measured. The codes in :data:`CODES` are the contract, as for process
files; the table of them in docs/codes.md is checked against this one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from salesproc.core.diagnostics import Rule, Severity, rules
from salesproc.core.errors import SalesprocError

#: Every code reading an export can give: errors (the command stops) and notes.
CODES: dict[str, Rule] = rules(
    ("SP801", "unreadable-export", "error",
     "The export does not exist, cannot be read, is empty, or is not CSV text."),
    ("SP802", "missing-columns", "error",
     "The export lacks columns its format needs: it is not the format it was read as."),
    ("SP803", "malformed-row", "note",
     "A row with more or fewer fields than the header (a stray delimiter or quote): "
     "left out."),
    ("SP804", "unknown-crm-stage", "note",
     "A CRM stage the crm: mapping does not know: its rows are left out."),
    ("SP805", "bad-date", "note", "A date that is missing or cannot be read: the row is left out."),
    ("SP806", "future-date", "note", "A date after today: the row is left out."),
    ("SP807", "before-created", "note",
     "A change or close dated before the deal was created: the row is left out."),
    ("SP808", "duplicate-deal", "note",
     "The same deal id twice in a file of one row per deal: the later row is left out."),
    ("SP809", "bad-amount", "note", "An amount that is not a number: the deal's value is unknown."),
    ("SP810", "no-rate", "note",
     "A currency with no rate in crm.currency_rates: the deal's value is unknown."),
    ("SP811", "unknown-deal", "note",
     "History rows of a deal that the deals file does not list: left out."),
    ("SP812", "no-buyer-type", "note",
     "A deal no crm.buyer_types rule matches, with no default: counted in the totals only."),
    ("SP813", "no-deals", "error", "Nothing in the export can be measured."),
    ("SP814", "ambiguous-dates", "note",
     "Dates such as 03/04/2026 that could be day or month first: read as crm.dates says."),
    ("SP815", "after-as-of", "note",
     "Changes after the as-of date: left out, so the pipeline is as it stood that day."),
    ("SP816", "outcome-mismatch", "note",
     "The export's won/closed flags disagree with the deal's stage: the flags are used."),
    ("SP817", "empty-amount", "note", "Deals with no amount: their value is unknown."),
    ("SP818", "mixed-exports", "error",
     "Files of different CRMs given together: measure them one CRM at a time."),
    ("SP819", "several-runs", "note",
     "A simulated event log with several replications: the first one is read."),
    ("SP820", "control-bytes", "note",
     "Control characters (NUL and the like) inside values: dropped, the rows read."),
    ("SP821", "past-close-date", "note",
     "Open deals whose expected close date is before the as-of date: counted, with their "
     "share of the open deals."),
    ("SP822", "untouched-deals", "note",
     "Open deals with no change of stage, amount, probability or close date for 90 days "
     "or more: counted, with their share of the open deals."),
    ("SP823", "after-the-fact", "note",
     "Deals won within an hour of being created (entered after the fact): counted, with "
     "their share of the wins."),
    ("SP824", "import-burst", "note",
     "Days on which far more deals were created than usual (an import): the days, the "
     "deals and the usual level."),
    ("SP830", "deal-table", "note",
     "One row per deal, without stage history: open deals are taken to be in their stage "
     "since created; time in stage, moves and where deals are lost are not measured."),
    ("SP831", "no-close-date", "note",
     "A won or lost deal of a deal table without a usable close date: left out."),
    ("SP832", "deal-table-as-of", "note",
     "A deal table cut before its export: the deals open then are taken to be at the "
     "first stage of their path; their CRM probability, close date and forecast category "
     "then are unknown."),
    ("SP840", "unknown-crm-column", "error",
     "A column the crm: section names (lost_reason, a buyer_types rule's field) is not in "
     "the export."),
    ("SP841", "unterminated-quote", "error",
     "A quote that opens a value and is never closed: the rest of the file would be one "
     "value."),
    ("SP842", "no-deal-id", "note", "Rows without a deal id: left out, not merged into one deal."),
    ("SP843", "negative-amount", "note",
     "An amount below zero (a credit note, a refund): the deal's value is unknown."),
    ("SP844", "bad-probability", "note",
     "A CRM probability outside 0–100%: the deal's probability is unknown."),
    ("SP845", "cut-short", "note",
     "The file ends in the middle of a character (an interrupted copy): those bytes are "
     "dropped."),
    ("SP846", "mixed-encoding", "note",
     "A UTF-8 file with a few bytes that are not UTF-8: those are read as Windows-1252, "
     "the rest as UTF-8."),
    ("SP847", "column-two-roles", "error",
     "One column of the export is named for two roles (the deal id and the stage)."),
    ("SP848", "repeated-column", "note",
     "The header names a column that is read more than once: the first is read."),
    ("SP850", "unmapped-stages", "error",
     "Most of the export's stage changes, or all but its outcomes, match no stage of the "
     "process: its crm: stages mapping is missing or wrong."),
    ("SP851", "several-pipelines", "note",
     "The export holds deals of several pipelines, measured as one process."),
    ("SP852", "unused-loss-reasons", "note",
     "The export has a usual loss-reason column that crm: lost_reason does not name: lost "
     "deals are counted without their reasons."),
    ("SP853", "missing-field-column", "note",
     "A column crm: fields: names is not in the export: that field is unknown for every deal."),
    ("SP854", "bad-field-number", "note",
     "A number field's value that is not a number: that deal's field is unknown."),
)

MAX_ROWS_SHOWN = 5


@dataclass(frozen=True)
class Note:
    """One kind of problem in one file: where it first occurs, how often, what to do.

    *row* counts the header as row 1, as a spreadsheet shows it (None: the whole file);
    *rows* are the first few rows it occurs on, *count* how many rows (or deals) in all.
    """

    code: str
    message: str
    file: str
    row: int | None = None
    column: str | None = None
    hint: str | None = None
    count: int = 1
    rows: tuple[int, ...] = ()

    @property
    def level(self) -> Severity:
        return CODES[self.code].severity

    @property
    def is_error(self) -> bool:
        return self.level is Severity.ERROR

    def to_dict(self) -> dict[str, object]:
        """The JSON form: file, row, column, code, rule, level, message, hint, count, rows."""
        return {"file": self.file, "row": self.row, "column": self.column, "code": self.code,
                "rule": CODES[self.code].name, "level": self.level.value,
                "message": self.message, "hint": self.hint, "count": self.count,
                "rows": list(self.rows)}

    def format(self) -> str:
        """`file:row: note SP805 message (12 rows: 5, 9, …)` and the hint on its own line;
        a table that is no file (`<DataFrame>`, in angle brackets) has `<DataFrame> row 17`."""
        mark = " row " if self.file.startswith("<") and self.file.endswith(">") else ":"
        where = self.file + (f"{mark}{self.row}" if self.row is not None else "")
        more = ""
        if self.count > 1:
            shown = ", ".join(str(r) for r in self.rows)
            extra = ", …" if self.count > len(self.rows) and self.rows else ""
            more = f" ({self.count:,} in all" + (f"; rows {shown}{extra}" if shown else "") + ")"
        text = f"{where}: {self.level.value} {self.code} {self.message}{more}"
        return text + (f"\n  hint: {self.hint}" if self.hint else "")


@dataclass
class Notebook:
    """Collects notes while an export is read; problems of one kind (same code, file and
    key) become one note with a count and the first rows they occur on."""

    notes: dict[tuple[str, str, str], Note] = field(default_factory=dict)

    def add(self, code: str, message: str, file: str, *, row: int | None = None,
            column: str | None = None, hint: str | None = None, key: str | None = None,
            count: int = 1, rows: Iterable[int] = ()) -> None:
        """Record *count* occurrences; *key* groups them (default: the message)."""
        ident = (code, file, message if key is None else key)
        rows = tuple(rows) or ((row,) if row is not None else ())
        found = self.notes.get(ident)
        if found is None:
            self.notes[ident] = Note(code, message, file, rows[0] if rows else row, column,
                                     hint, count, rows[:MAX_ROWS_SHOWN])
        else:
            kept = (*found.rows, *rows)[:MAX_ROWS_SHOWN]
            self.notes[ident] = replace(found, count=found.count + count, rows=kept)

    def extend(self, notes: Iterable[Note]) -> None:
        for note in notes:
            self.notes[(note.code, note.file, note.message)] = note

    def all(self) -> tuple[Note, ...]:
        """Errors first, then notes, each by file and row."""
        return tuple(sorted(self.notes.values(),
                            key=lambda n: (not n.is_error, n.file, n.row or 0, n.code)))


class HistoryError(SalesprocError):
    """A CRM export that cannot be used at all; *notes* say where and why (errors first,
    then whatever else was found before reading stopped)."""

    def __init__(self, notes: Iterable[Note]) -> None:
        self.notes = tuple(notes)
        first = next((n for n in self.notes if n.is_error), None)
        super().__init__(first.format() if first else "the export cannot be used",
                         first.hint if first else None)

    def __reduce__(self) -> tuple[type, tuple[tuple[Note, ...]]]:  # type: ignore[override]
        return (self.__class__, (self.notes,))
