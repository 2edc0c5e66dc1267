"""Results as an Excel workbook (openpyxl): one sheet per table, a bold and frozen header
row, numbers as numbers and dates as dates, in columns wide enough to read.

Text from a CRM export is stored as text and never read as a formula: openpyxl stores a
string that starts with '=' as a formula, and one that reads like an error ('#N/A') as an
error, so every text cell is set to the string type after its value; those a spreadsheet
would run when retyped (=, +, -, @ first) also get Excel's quote prefix, which shows them
as written and keeps them text when edited. Control characters are written as escapes
(:func:`salesproc.core.escaping.plain`, as in CSV): XML forbids most of them.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from salesproc.core.escaping import plain

if TYPE_CHECKING:
    from salesproc.core.stats import Estimate
    from salesproc.measuring.review import Review

# how a column's numbers are shown
COUNT, MONEY, SHARE, DAYS, P_VALUE = "#,##0", "#,##0", "0.0%", "#,##0.0", "0.000"
NUMBER = "#,##0.0"  # an expected count: a mean of runs
DATE, MONTH = "yyyy-mm-dd hh:mm", "yyyy-mm"
TEXT_MOST = 32_767  # the most characters an Excel cell holds
WIDEST = 60  # characters: a wider column is cut on screen (the cell keeps it all)


@dataclass(frozen=True)
class Column:
    """A sheet's column: its header, and the number format of its numbers and dates
    ('' for text)."""

    header: str
    shown: str = ""


def review(r: Review) -> bytes:
    """`salesproc review --format xlsx`: the review's tables (Movement, Stages, Attention,
    Loss reasons, Cohorts, Hygiene, Owners) and what it covers (About), as .xlsx bytes."""
    from salesproc.measuring.review import BEFORE_DAYS

    cur = f" ({r.currency})" if r.currency else ""
    movement = [("open at start", r.open_start.deals, r.open_start.value),
                ("+ new", r.new.deals, r.new.value),
                ("+ reopened", r.reopened.deals, r.reopened.value),
                ("- won", r.won.deals, r.won.value), ("- lost", r.lost.deals, r.lost.value),
                ("+/- amount changes", None, r.amount_changes),
                ("= open at end", r.open_end.deals, r.open_end.value),
                ("slipped out of the period", r.slipped.deals, r.slipped.value),
                ("expected later, won in it", r.pulled_in.deals, r.pulled_in.value)]
    sheets: list[tuple[str, list[Column], Sequence[Sequence[Any]]]] = [
        ("Movement", [Column("step"), Column("deals", COUNT), Column("value" + cur, MONEY)],
         movement),
        ("Stages", [Column("stage"), Column("open at start", COUNT),
                    Column("value at start" + cur, MONEY), Column("open at end", COUNT),
                    Column("value at end" + cur, MONEY), Column("moved forward", COUNT),
                    Column("moved back", COUNT), Column("stayed", COUNT)],
         [(s.stage, s.open_start.deals, s.open_start.value, s.open_end.deals,
           s.open_end.value, s.forward, s.back, s.stayed) for s in r.stages]),
        ("Attention", [Column("owner"), Column("deal"), Column("name"), Column("stage"),
                       Column("days in stage", DAYS), Column("value" + cur, MONEY),
                       Column("why")],
         [(a.owner, a.deal, a.name, a.stage, a.days_in_stage, a.value, ", ".join(a.reasons))
          for a in r.attention]),
        ("Loss reasons", [Column("reason"), *_share_columns("this period"),
                          *_share_columns(f"the {BEFORE_DAYS:g} days before"),
                          Column("p-value", P_VALUE)],
         [(s.reason, *_share(s.now), *_share(s.before), s.p_value) for s in r.losses]),
        ("Cohorts", [Column("month created", MONTH), Column("deals", COUNT),
                     Column("won", COUNT), Column("lost", COUNT), Column("open", COUNT),
                     Column("win rate (of closed)", SHARE), Column("win rate low", SHARE),
                     Column("win rate high", SHARE), Column("median days to win", DAYS),
                     Column("days low", DAYS), Column("days high", DAYS)],
         [(dt.datetime.strptime(c.month, "%Y-%m"), c.deals, c.won, c.lost, c.open,
           c.win_rate.mean, c.win_rate.low, c.win_rate.high, c.cycle_median, c.cycle_low,
           c.cycle_high) for c in r.cohorts]),
        ("Hygiene", [Column("at"), Column("date", DATE),
                     *(Column(k.replace("_", " "), COUNT) for k in r.hygiene_end.to_dict())],
         [(when, _naive(at), *h.to_dict().values()) for when, at, h in
          (("start", r.start, r.hygiene_start), ("end", r.end, r.hygiene_end))]),
        ("Owners", [Column("owner"), Column("open at end", COUNT),
                    Column("open value" + cur, MONEY), Column("new", COUNT),
                    Column("new value" + cur, MONEY), Column("won", COUNT),
                    Column("won value" + cur, MONEY), Column("lost", COUNT),
                    Column("lost value" + cur, MONEY), Column("moved forward", COUNT),
                    Column("moved back", COUNT), Column("need attention", COUNT),
                    Column("data hygiene", COUNT)],
         [(o.owner, o.open_end.deals, o.open_end.value, o.new.deals, o.new.value,
           o.won.deals, o.won.value, o.lost.deals, o.lost.value, o.forward, o.back,
           o.attention, o.hygiene) for o in r.owners]),
        *_forecast_sheet(r, cur),
        ("About", [Column("what"), Column("value", DATE)],
         [("process", r.process_name), ("from", _naive(r.start)), ("to", _naive(r.end)),
          ("owner", r.owner or "everyone"), ("currency", r.currency),
          *(("source", s) for s in r.sources), *(("note", n) for n in r.notes)]),
    ]
    return workbook(sheets)


def _forecast_sheet(r: Review, cur: str
                    ) -> list[tuple[str, list[Column], Sequence[Sequence[Any]]]]:
    """The Forecast sheet (review --forecast): the forecast at the start and at the end,
    the change, and what moved it; none without a forecast."""
    f = r.forecast
    if f is None:
        return []
    rows: list[tuple[Any, ...]] = [
        (what, None, e["won"].mean, e["won"].low, e["won"].high, e["revenue"].mean,
         e["revenue"].low, e["revenue"].high)
        for what, e in (("forecast at the start", f.before), ("forecast at the end", f.after),
                        ("change", f.change))]
    rows.append(("won in the period", None, f.actual["won"], None, None, f.actual["revenue"],
                 None, None))
    rows += [(m.cause, m.deals or None, m.won, None, None, m.revenue, None, None)
             for m in f.moves]
    return [(f"Forecast to {f.until:%Y-%m-%d}",
             [Column("what"), Column("deals", COUNT), Column("won", NUMBER),
              Column("won low", NUMBER), Column("won high", NUMBER),
              Column("revenue" + cur, MONEY), Column("revenue low" + cur, MONEY),
              Column("revenue high" + cur, MONEY)], rows)]


def _share_columns(when: str) -> list[Column]:
    return [Column(f"{when}: losses", COUNT), Column(f"{when}: share", SHARE),
            Column(f"{when}: low", SHARE), Column(f"{when}: high", SHARE)]


def _share(e: Estimate) -> tuple[int, float, float, float]:
    return e.n, e.mean, e.low, e.high


def _naive(at: dt.datetime) -> dt.datetime:
    """A moment as Excel keeps it: no time zone (the review's own clock)."""
    return at.replace(tzinfo=None)


def workbook(sheets: Sequence[tuple[str, Sequence[Column], Sequence[Sequence[Any]]]]
             ) -> bytes:
    """The .xlsx bytes of *sheets*: (title, columns, rows), each row's cells in the
    columns' order (None or NaN: an empty cell)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for name, columns, rows in sheets:
        sheet = book.create_sheet(name)
        widths = [len(c.header) for c in columns]
        for k, column in enumerate(columns):
            _put(sheet.cell(row=1, column=k + 1), column.header).font = bold
        for i, row in enumerate(rows, start=2):
            for k, (column, found) in enumerate(zip(columns, row, strict=True)):
                cell = _put(sheet.cell(row=i, column=k + 1), found)
                if column.shown and not isinstance(found, str):
                    cell.number_format = column.shown
                widths[k] = max(widths[k], _width(found, column))
        for k, width in enumerate(widths):
            sheet.column_dimensions[get_column_letter(k + 1)].width = min(width, WIDEST) + 2
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _put(cell: Any, found: object) -> Any:
    """*found* into *cell*: a number or a date as itself (NaN, None: empty), anything
    else as text that stays text."""
    if _empty(found):
        return cell
    if isinstance(found, (int, float, dt.datetime)) and not isinstance(found, bool):
        cell.value = found
        return cell
    text = plain(str(found))
    if not text:
        return cell
    if len(text) > TEXT_MOST:
        text = text[:TEXT_MOST - 1] + "…"
    cell.value = text
    cell.data_type = "s"  # never a formula, never an error code
    if text.lstrip()[:1] in ("=", "+", "-", "@"):
        cell.quotePrefix = True
    return cell


def _width(found: object, column: Column) -> int:
    """About how many characters *found* takes shown in *column*."""
    if _empty(found):
        return 0
    if isinstance(found, dt.datetime):
        return len(column.shown)
    if isinstance(found, (int, float)) and not isinstance(found, bool):
        return len(f"{found:,.1f}") + (2 if column.shown == SHARE else 0)
    return len(str(found))


def _empty(found: object) -> bool:
    """No figure: None, or NaN (and an infinity, which Excel cannot hold)."""
    return found is None or (isinstance(found, float) and not math.isfinite(found))
