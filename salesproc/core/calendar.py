"""Working time and dates: what a sales team means by "a day of work".

The simulation clock is calendar time: hours (in the file's time unit) since the start
date at 00:00. A :class:`WorkingClock` maps it to *working* time for one calendar: W(t)
is how many working hours have passed since the start, and :meth:`WorkingClock.finish`
is when work of w working hours started at t is done (a 1-hour call started at 16:30 on
a Friday in a 9-17 week finishes at 9:30 on Monday). Business days are the same with
whole days: a working day's 24 hours count, a weekend or holiday's none.

No time zones: every date and hour is the team's local time.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_bisect_left = bisect.bisect_left
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
          "dec")
Interval = tuple[float, float]  # hours within a day, start < end


@dataclass(frozen=True)
class Calendar:
    """When people work: hours on each weekday, and holidays (dates off).

    ``always`` (24 hours, 7 days, no holidays) is the clock of a process without a
    calendar: work then runs around the clock.
    """

    hours: tuple[Interval, ...] = ((0.0, 24.0),)
    days: frozenset[int] = frozenset(range(7))  # 0 = Monday
    holidays: frozenset[dt.date] = frozenset()

    @property
    def always(self) -> bool:
        return self.hours == ((0.0, 24.0),) and len(self.days) == 7 and not self.holidays

    @property
    def hours_per_day(self) -> float:
        """Working hours of one working day: what one 'day' of work means."""
        return math.fsum(end - start for start, end in self.hours)

    @property
    def hours_per_week(self) -> float:
        return self.hours_per_day * len(self.days)

    def work_hours(self, unit: str) -> float:
        """Working hours in one *unit* of work: a working day, a working week."""
        return {"minute": 1 / 60, "hour": 1.0, "day": self.hours_per_day,
                "week": self.hours_per_week}[unit]

    def elapsed(self, work: float, unit: str) -> float:
        """The calendar time, in *unit*, that *work* units of working time span on average
        (8 working hours on a Mon-Fri 9-17 week span 8 x 168/40 hours of the calendar)."""
        hours = work * self.work_hours(unit)
        return hours * (24.0 * 7) / self.hours_per_week / {"minute": 1 / 60, "hour": 1.0,
                                                            "day": 24.0, "week": 168.0}[unit]

    def business(self, days: float, unit: str) -> float:
        """The calendar time, in *unit*, that *days* business days span on average."""
        return days * 7 / len(self.days) if days else 0.0

    def describe(self) -> str:
        """'Mon-Fri 9:00-17:00' or 'around the clock'."""
        if self.always:
            return "around the clock (24 hours, 7 days)"
        days = _day_ranges(sorted(self.days))
        hours = ", ".join(f"{_clock(s)}-{_clock(e)}" for s, e in self.hours)
        off = f", {len(self.holidays)} holidays" if self.holidays else ""
        return f"{days} {hours}{off}"


ALWAYS = Calendar()


def _day_ranges(days: Sequence[int]) -> str:
    """[0, 1, 2, 3, 4] -> 'Mon-Fri'; [0, 2] -> 'Mon, Wed'."""
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    names = [WEEKDAYS[r[0]].capitalize() + (f"-{WEEKDAYS[r[-1]].capitalize()}"
                                             if len(r) > 2 else "") for r in runs]
    return ", ".join(n for r, name in zip(runs, names, strict=True)
                     for n in ([name] if len(r) != 2 else
                               [WEEKDAYS[r[0]].capitalize(), WEEKDAYS[r[1]].capitalize()]))


def _clock(hours: float) -> str:
    minutes = round(hours * 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def parse_hours(text: str) -> tuple[Interval, ...] | None:
    """'09:00-17:00' or '9-12, 13-17' as intervals of the day; None if malformed."""
    found: list[Interval] = []
    for part in text.split(","):
        start, sep, end = part.strip().partition("-")
        if not sep:
            return None
        times = [_hour(start), _hour(end)]
        if times[0] is None or times[1] is None or not times[0] < times[1]:
            return None
        found.append((times[0], times[1]))
    found.sort()
    if any(a[1] > b[0] for a, b in itertools.pairwise(found)):
        return None
    return tuple(found)


def _hour(text: str) -> float | None:
    text = text.strip()
    hours, _, minutes = text.partition(":")
    try:
        h, m = int(hours), int(minutes or 0)
    except ValueError:
        return None
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
        return None
    return h + m / 60


class WorkingClock:
    """Working hours since the start, W(t), and its inverse, for one calendar.

    Times are hours since the start date at 00:00. Days are laid out lazily, so a
    clock serves any time, however far.
    """

    def __init__(self, calendar: Calendar, start: dt.date, limit: float = math.inf) -> None:
        """*limit*: hours after which nothing matters (the end of the run): work that
        would end later ends 'never' (infinity), and no day past it is laid out."""
        self.calendar = calendar
        self.start = start
        self.limit = limit
        self._weekday = start.weekday()
        self._holidays = frozenset((d - start).days for d in calendar.holidays)
        self._cum = [0.0]  # working hours before day d
        self._day: list[tuple[Interval, ...]] = []
        self._last_t, self._last_w = -1.0, 0.0  # the engine asks for one instant twice
        self._open_from, self._open_to = 0.0, 0.0  # the working hours opens() found last

    def _extend(self, day: int) -> None:
        while len(self._day) <= day:
            d = len(self._day)
            working = (self._weekday + d) % 7 in self.calendar.days and d not in self._holidays
            hours = self.calendar.hours if working else ()
            self._day.append(hours)
            self._cum.append(self._cum[-1] + math.fsum(e - s for s, e in hours))

    def worked(self, t: float) -> float:
        """Working hours from the start to *t* hours after it."""
        if t == self._last_t:
            return self._last_w
        if t <= 0:
            return 0.0
        day = int(t / 24.0)
        hours = self._day
        if day >= len(hours):
            self._extend(day)
        x = t - 24.0 * day
        total = self._cum[day]
        for start, end in hours[day]:
            if x <= start:
                break
            total += (x if x < end else end) - start
        self._last_t, self._last_w = t, total
        return total

    def at(self, work: float) -> float:
        """The first time at which *work* working hours have passed since the start."""
        if work <= 0:
            return 0.0
        while self._cum[-1] < work:  # lay out days until that much work exists
            if self.calendar.hours_per_week <= 0 or 24.0 * len(self._day) > self.limit:
                return math.inf  # not within the run (or never)
            self._extend(len(self._day) + 6)
        cum = self._cum
        day = _bisect_left(cum, work) - 1  # cum[day] < work <= cum[day + 1]
        rest = work - cum[day]
        for start, end in self._day[day]:
            if rest <= end - start:
                return 24.0 * day + start + rest
            rest -= end - start
        return 24.0 * (day + 1)  # rounding: the day's last working moment

    def opens(self, t: float) -> float:
        """The first working moment at or after *t*: *t* itself within working hours,
        else when the next working hours begin (infinity if none do within the limit).
        A deal handed to a free person at night is worked on from then."""
        if self._open_from <= t < self._open_to:  # within the working hours found last
            return t
        if t < 0:
            t = 0.0
        day = int(t / 24.0)
        while 24.0 * day <= self.limit:
            if day >= len(self._day):
                self._extend(day)
            x = t - 24.0 * day
            for start, end in self._day[day]:
                if x < end:
                    self._open_from, self._open_to = 24.0 * day + start, 24.0 * day + end
                    return 24.0 * day + (x if x > start else start)
            day += 1
            t = 24.0 * day
            if self.calendar.hours_per_week <= 0:
                break
        return math.inf

    def finish(self, t: float, work: float) -> float:
        """When *work* working hours started (or waiting to start) at *t* are done."""
        return self.at(self.worked(t) + work)


def business_days(calendar: Calendar) -> Calendar:
    """The calendar whose working time is every hour of every working day: a delay in
    business days skips weekends and holidays but runs around the clock on working days."""
    return Calendar(((0.0, 24.0),), calendar.days, calendar.holidays)


# --- dates -----------------------------------------------------------------------------------


def parse_date(text: object) -> dt.date | None:
    """2026-01-05 (as YAML or text) as a date; None if it is not a real date."""
    if isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text).strip())
    except ValueError:
        return None


def next_monday(today: dt.date) -> dt.date:
    """The default start: the coming Monday (today if it is one)."""
    return today + dt.timedelta(days=(7 - today.weekday()) % 7)


def hours_since(start: dt.date, date: dt.date) -> float:
    """Hours from the start's midnight to *date*'s."""
    return (date - start).days * 24.0


@dataclass(frozen=True)
class Period:
    """A month or a quarter of the simulated calendar, in hours since the start."""

    label: str  # 2026-03, 2026-Q1
    begin: float
    end: float


MONTH = "%Y-%m"  # a month's label: 2026-03


def months(start: dt.date, hours: float) -> list[Period]:
    """Every calendar month that overlaps the first *hours* hours after *start*."""
    found = []
    first = dt.date(start.year, start.month, 1)
    while hours_since(start, first) < hours:
        after = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
        found.append(Period(f"{first:{MONTH}}", max(0.0, hours_since(start, first)),
                            hours_since(start, after)))
        first = after
    return found


def month_label(start: dt.date, hours: float) -> str:
    """The label of the month *hours* after *start*'s midnight (time 0): the months of
    :func:`months` and the month a simulated deal is won in are labelled alike."""
    return f"{dt.datetime.combine(start, dt.time()) + dt.timedelta(hours=hours):{MONTH}}"


def first_day(at: dt.datetime) -> dt.date:
    """The start (simulation.start) of a run that goes on from the moment *at*, such as a
    forecast from an as-of time. Time 0 is a midnight (calendars, months and seasons
    count whole days from it), so the run starts at the midnight nearest to *at*: at most
    12 hours off, and never in a month *at* has already left (from 23:59 on 30 April it
    starts on 1 May; starting on 30 April put a day of the future into April)."""
    return (at + dt.timedelta(hours=12)).date()


def quarter_of(month: str) -> str:
    """The quarter a month belongs to: '2026-05' -> '2026-Q2'."""
    return f"{month[:4]}-Q{(int(month[5:7]) - 1) // 3 + 1}"


def period_days(label: str) -> tuple[dt.date, dt.date]:
    """The first and the last day of a month ('2026-05') or a quarter ('2026-Q2') label."""
    year = int(label[:4])
    first_month = 3 * int(label[6:]) - 2 if label[5] == "Q" else int(label[5:7])
    months = 3 if label[5] == "Q" else 1
    after = first_month - 1 + months
    end = dt.date(year + after // 12, after % 12 + 1, 1)
    return dt.date(year, first_month, 1), end - dt.timedelta(days=1)


def partly(label: str, start: dt.datetime, end: dt.datetime) -> bool:
    """Whether the month or quarter *label* is only partly between *start* (a run from
    then starts on :func:`first_day`) and *end* (the last moment counted; a midnight ends
    the day before): its figures are not the whole period's."""
    first, last = period_days(label)
    covered_last = (end - dt.timedelta(microseconds=1)).date()
    return first < first_day(start) or last > covered_last


def seasonal_rate(start: dt.date, monthly: Sequence[float], weekly: Sequence[float]
                  ) -> tuple[float, Callable[[float], float]]:
    """The largest multiplier, and a function of t (hours) giving the multiplier then:
    the month's times the weekday's. Arrivals are thinned with it (Lewis and Shedler)."""
    peak = max(monthly) * max(weekly)
    weekday = start.weekday()

    def multiplier(t: float) -> float:
        day = start + dt.timedelta(hours=t)
        return monthly[day.month - 1] * weekly[(weekday + int(t // 24.0)) % 7]

    return peak, multiplier
