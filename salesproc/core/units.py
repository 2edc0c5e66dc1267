"""Time units and duration strings ("4h", "3d", "2w").

Every time in a :class:`~salesproc.process.model.Process` is a float in the file's ``time_unit``;
conversion happens once, when the model is built.
"""

from __future__ import annotations

import math
import re

#: A year and a month as rates and spans count them (a rate per month, wins a month, sales
#: velocity, `--horizon 3mo`): 365 days, and a twelfth of that. Calendar months (the
#: results by month, `backtest --every 1mo`) are the calendar's; this is their average
#: length, and the one definition of it.
DAYS_PER_YEAR = 365.0
DAYS_PER_MONTH = DAYS_PER_YEAR / 12

#: Length of each unit in hours.
HOURS: dict[str, float] = {
    "minute": 1 / 60,
    "hour": 1.0,
    "day": 24.0,
    "week": 24.0 * 7,
    "month": 24.0 * DAYS_PER_MONTH,
    "year": 24.0 * DAYS_PER_YEAR,
}
TIME_UNITS = ("minute", "hour", "day", "week")  # what `time_unit:` accepts
RATE_PERIODS = ("hour", "day", "week", "month", "year")  # what `arrivals.per` accepts

_SUFFIX = {"min": "minute", "h": "hour", "d": "day", "w": "week", "bd": "day",
           "business day": "day", "business days": "day"}
DURATION_PATTERN = r"^\s*[0-9]+(\.[0-9]+)?\s*(min|h|d|w|bd|business days?)\s*$"
_DURATION = re.compile(DURATION_PATTERN)


def is_duration_text(value: object) -> bool:
    """True for text such as '4h', '3d' or '2w'."""
    return isinstance(value, str) and _DURATION.match(value) is not None


def parse_duration(value: float | int | str, unit: str,
                   hours: dict[str, float] | None = None) -> float:
    """A number (already in *unit*) or a string such as '4h' converted to *unit*.

    *hours* gives each unit's length in hours: calendar hours by default (a day is 24),
    or working hours for work (a day is one working day). Business days ('3bd') count as
    days here; whether they skip weekends is the model's to decide (is_business).
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(str(value))
    if match is None:
        raise ValueError(f"not a duration: {value!r}")
    table = HOURS if hours is None else hours
    number = float(str(value).strip()[: -len(match.group(2))])
    return number * table[_SUFFIX[match.group(2)]] / table[unit]


#: How a span of time is written on the command line (and as text to the library): a bare
#: number of days, or a number with a unit.
SPAN_HELP = "a number of days, or one with a unit: 36h, 90d, 13w, 3mo"
_SPAN = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)\s*(min|h|d|w|mo)?\s*$")
_SPAN_UNITS = {"min": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month"}
_SHORT = {unit: short for short, unit in _SPAN_UNITS.items()}


class SpanError(ValueError):
    """A span of time that cannot be read, or that is ambiguous; *hint* says what to write."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def is_span_text(text: str) -> bool:
    """True for a span as :func:`parse_span` reads it: '90', '90d', '13w', '3mo'."""
    return _SPAN.match(text) is not None


def parse_span(text: str, unit: str) -> float:
    """A span of time as a person writes it for a command, in *unit*: a number with a unit
    ('36h', '90d', '13w'; '3mo' is three average months, DAYS_PER_MONTH days each), or a
    bare number, which is days in every command.

    Where *unit* is not day (a process counting time in hours or weeks), a bare number
    other than 0 is refused with :class:`SpanError`: simulate, compare and sweep once read
    it in the process's unit, and reading it as days now would change a run's results
    without a word. The hint says what to write instead.
    """
    match = _SPAN.match(text)
    if match is None:
        raise SpanError(f"{text.strip()!r} is not a span of time", hint=f"write {SPAN_HELP}")
    number, suffix = float(match.group(1)), match.group(2)
    if not math.isfinite(number):
        raise SpanError(f"{text.strip()!r} is not a span of time", hint=f"write {SPAN_HELP}")
    if suffix is not None:
        return convert(number, _SPAN_UNITS[suffix], unit)
    if unit == "day" or number == 0:
        return number
    written = match.group(1)
    raise SpanError(
        f"a bare {written} is {describe(number, 'day')} in every command, and this process "
        f"counts time in {unit}s",
        hint=f"write {written}d for {describe(number, 'day')}, or {written}{_SHORT[unit]} "
        f"for {describe(number, unit)}")


def is_business(value: object) -> bool:
    """Text counting business days: '3bd', '2 business days'."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    return match is not None and match.group(2).startswith("b")


def convert(amount: float, from_unit: str, to_unit: str) -> float:
    """*amount* in *from_unit*, expressed in *to_unit* (e.g. 2 weeks -> 14 days)."""
    return amount * HOURS[from_unit] / HOURS[to_unit]


def describe(amount: float, unit: str) -> str:
    """'1,000,000 days', '1.5 weeks': an amount in *unit*, for messages."""
    text = f"{amount:,.2f}".rstrip("0").rstrip(".")
    return f"{text} {plural(unit, amount)}"


def plural(unit: str, amount: float) -> str:
    """*unit* with an s unless *amount* is 1."""
    return unit if amount == 1 else unit + "s"
