"""Short texts shared by every drawing and the playbook: shares, times, lists."""

from __future__ import annotations

import textwrap
import unicodedata
from collections.abc import Sequence

from salesproc.core import units
from salesproc.core.calendar import Calendar


def share(p: float) -> str:
    """A share of deals as a percentage a person reads at a glance: 60%, 4.5%, <1%."""
    if p <= 0:
        return "0%"
    if p < 0.01:
        return "<1%"
    if p < 0.1 and round(p * 100, 1) != round(p * 100):
        return f"{p * 100:.1f}%"
    return f"{p * 100:.0f}%"


def duration(amount: float, unit: str) -> str:
    """'3.5 days', '6 hours', '2 weeks': the unit that keeps the number readable."""
    hours = amount * units.HOURS[unit]
    if hours == 0:
        return "no time"
    for name in ("week", "day", "hour", "minute"):
        value = hours / units.HOURS[name]
        if value >= 1 or name == "minute":
            if name == "week" and value < 2:
                continue
            text = f"{value:.1f}".rstrip("0").rstrip(".")
            return f"{text} {units.plural(name, float(text))}"
    raise AssertionError("unreachable: minute always matches")


def working(amount: float, unit: str, calendar: Calendar) -> str:
    """Work as working time: '6 working hours', '1.5 working days' (around the clock, as
    plain time: '6 hours')."""
    if calendar.always:
        return duration(amount, unit)
    hours = amount * calendar.work_hours(unit)
    if hours < 1:
        return f"{hours * 60:.0f} working minutes"
    if hours < calendar.hours_per_day or calendar.hours_per_day <= 0:
        text = f"{hours:.1f}".rstrip("0").rstrip(".")
        return f"{text} working {units.plural('hour', float(text))}"
    days = hours / calendar.hours_per_day
    text = f"{days:.1f}".rstrip("0").rstrip(".")
    return f"{text} working {units.plural('day', float(text))}"


def business_days(amount: float, unit: str) -> str:
    """A delay counted in business days: '3 business days'."""
    days = units.convert(amount, unit, "day")
    text = f"{days:.1f}".rstrip("0").rstrip(".")
    return f"{text} business {units.plural('day', float(text))}"


def one_line(text: str) -> str:
    """Text with line breaks, tabs and other control or separator characters as spaces:
    no name from a process file can start a new line (or statement) in a drawing."""
    return "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)


def wrap(text: str, width: int = 34) -> list[str]:
    """Text broken into lines of at most *width* characters (at least one line)."""
    return textwrap.wrap(text, width, break_long_words=True) or [""]


def listing(items: Sequence[str], most: int = 3) -> str:
    """The first *most* items, and how many more there are."""
    shown = list(items[:most])
    if len(items) > most:
        shown.append(f"+{len(items) - most} more")
    return ", ".join(shown)
