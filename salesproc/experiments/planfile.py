"""The plan file of `salesproc plan`: the months planned, the targets, and the hiring plan
of each role, read with the place of every value so that a mistake is reported at its
line and column (the process file's own codes: SP102 unknown key, SP103 missing key,
SP104 wrong type, SP106 out of range, SP110 invalid value, SP202 unknown role).

A plan file::

    start: 2026-04            # the first month planned (a month; default: see plan_start)
    months: 12                # how many months (1 to 36; default 12)
    target:
      bookings: {2026-Q2: 900000, 2026-Q3: 1000000}   # or deals: {...}; months, quarters
    roles:                                           # (2026-Q2) or years (2026) as keys
      ae:
        hires: {2026-05: 1}   # people joining on the first day of a month
        ramp: {weeks: 12, start: 0.25}   # as the process file's ramp (default: the role's)
        attrition: 0.15       # the share of the role that leaves in a year
        backfill: 2           # months from a leave to its replacement's first day
        quota: 90000          # bookings a fully ramped person is expected to make a month
        cost: 150000          # a year per person: what the optimiser minimises
        max_hires: 4          # the most hires the optimiser may plan for the role
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from salesproc.core.diagnostics import Diagnostic, did_you_mean, quoted
from salesproc.core.errors import InvalidProcessError
from salesproc.core.units import convert
from salesproc.process import yamlio
from salesproc.process.model import Process, Ramp

MAX_PLAN_MONTHS = 36
MAX_HIRES = 12  # per role and month, and the optimiser's bound per role
DEFAULT_MAX_HIRES = 4
MEASURES = ("bookings", "deals")  # bookings: the value of deals won; deals: deals won
_PLAN_KEYS = ("start", "months", "target", "roles")
_ROLE_KEYS = ("hires", "ramp", "attrition", "backfill", "quota", "cost", "max_hires")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class RolePlan:
    """One role's plan: *hires* are the month indexes (0: the first month planned) at
    whose first day each new person joins, in order."""

    role: str
    hires: tuple[int, ...] = ()
    ramp: Ramp | None = None
    attrition: float = 0.0  # the share of the role leaving in a year
    backfill: int | None = None  # months from a leave to the replacement; None: no backfill
    quota: float | None = None
    cost: float | None = None  # a year per person
    max_hires: int = DEFAULT_MAX_HIRES


@dataclass(frozen=True)
class TargetPeriod:
    """A target: *amount* of the plan's measure over months *first* to *last* (indexes)."""

    label: str  # 2026-05, 2026-Q2, 2026
    first: int
    last: int
    amount: float


@dataclass(frozen=True)
class Plan:
    """A checked plan file."""

    source: str
    start: dt.date  # the first day of the first month planned
    months: int
    measure: str  # one of MEASURES
    targets: tuple[TargetPeriod, ...]
    roles: Mapping[str, RolePlan]

    def month_first(self, index: int) -> dt.date:
        """The first day of month *index* of the plan."""
        total = self.start.year * 12 + self.start.month - 1 + index
        return dt.date(total // 12, total % 12 + 1, 1)

    @property
    def labels(self) -> list[str]:
        """The months planned, as 2026-04."""
        return [f"{self.month_first(i):%Y-%m}" for i in range(self.months)]

    def role(self, rid: str) -> RolePlan:
        """The plan of role *rid* (a role the plan does not name keeps its team)."""
        return self.roles.get(rid, RolePlan(rid))

    @property
    def total(self) -> float:
        """The sum of the targets: the number the plan must make."""
        return math.fsum(t.amount for t in self.targets)


def plan_start(process: Process) -> dt.date:
    """The first month a plan starts in by default: the first whole month after the
    process's warm-up (the pipeline has filled by then)."""
    ready = process.start + dt.timedelta(days=math.ceil(
        convert(process.simulation.warmup, process.time_unit, "day")))
    if ready.day == 1:
        return ready
    return dt.date(ready.year + ready.month // 12, ready.month % 12 + 1, 1)


def read_plan(path: str, process: Process) -> Plan:
    """The plan in *path* for *process*; :class:`InvalidProcessError` with every finding
    (file, line, column) when it has mistakes."""
    doc = yamlio.load_file(path)
    return _Reader(doc, process).plan()


def read_plan_text(text: str, process: Process, name: str = "<plan>") -> Plan:
    """As :func:`read_plan`, from text (for scripts and tests)."""
    return _Reader(yamlio.load_text(text, name), process).plan()


class _Reader:
    """Checks a plan document value by value, collecting located findings."""

    def __init__(self, doc: yamlio.Document, process: Process) -> None:
        self.doc = doc
        self.process = process
        self.found: list[Diagnostic] = [d for d in doc.findings if d.is_error]
        self.start_bad = False  # then months are not checked against it (one error, not many)

    def bad(self, code: str, message: str, path: yamlio.Path, *, key: bool = False,
            hint: str | None = None) -> None:
        self.found.append(self.doc.diagnostic(code, message, path, key=key, hint=hint))

    def plan(self) -> Plan:
        data = self.doc.data
        if not isinstance(data, dict):
            self.bad("SP104", "a plan file is a mapping of start:, months:, target: and "
                     "roles:", ())
            raise InvalidProcessError(self.found)
        self.keys(data, (), _PLAN_KEYS)
        start = self.start(data)
        months = self.count(data, ("months",), 12, 1, MAX_PLAN_MONTHS)
        measure, targets = self.targets(data, start, months)
        roles = self.roles(data, start, months)
        if self.found:
            raise InvalidProcessError(sorted(self.found, key=lambda d: (d.line, d.column)))
        return Plan(self.doc.file, start, months, measure, tuple(targets), roles)

    def keys(self, mapping: dict[str, Any], path: yamlio.Path, known: tuple[str, ...]) -> None:
        for key in mapping:
            if key not in known:
                guess = did_you_mean(str(key), known)
                self.bad("SP102", f"unknown key '{quoted(str(key))}'", (*path, key), key=True,
                         hint=guess or f"the keys here are: {', '.join(known)}")

    def mapping(self, value: Any, path: yamlio.Path, what: str) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.bad("SP104", f"{what} must be a mapping", path)
        return None

    def number(self, value: Any, path: yamlio.Path, low: float, high: float,
               what: str, *, whole: bool = False, above: bool = False) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                whole and not float(value).is_integer()):
            self.bad("SP104", f"{what} must be {'a whole number' if whole else 'a number'}, "
                     f"not {quoted(str(value))}", path)
            return None
        if not (low < value if above else low <= value) or value > high:
            self.bad("SP106", f"{what} must be {'above' if above else 'at least'} {low:g} and "
                     f"at most {high:g}, not {value:g}", path)
            return None
        return float(value)

    def count(self, data: dict[str, Any], path: yamlio.Path, default: int, low: int,
              high: int) -> int:
        if path[-1] not in data:
            return default
        found = self.number(data[path[-1]], path, low, high, f"{path[-1]}", whole=True)
        return default if found is None else int(found)

    def start(self, data: dict[str, Any]) -> dt.date:
        value = data.get("start")
        if value is None:
            return plan_start(self.process)
        if isinstance(value, dt.date):
            return dt.date(value.year, value.month, 1)
        match = _MONTH.match(str(value))
        if match and 1 <= int(match[2]) <= 12:
            first = dt.date(int(match[1]), int(match[2]), 1)
            if first >= self.process.start:
                return first
            self.start_bad = True
            self.bad("SP106", f"the plan starts in {value}, before the process's simulation "
                     f"starts ({self.process.start})", ("start",),
                     hint="start the plan later, or move simulation.start earlier")
            return plan_start(self.process)
        self.start_bad = True
        self.bad("SP110", f"start must be a month such as 2026-04, not {quoted(str(value))}",
                 ("start",))
        return plan_start(self.process)

    def targets(self, data: dict[str, Any], start: dt.date, months: int
                ) -> tuple[str, list[TargetPeriod]]:
        if "target" not in data:
            self.bad("SP103", "the plan has no target:", (),
                     hint="add e.g. `target: {bookings: {2026-Q2: 900000}}`")
            return MEASURES[0], []
        block = self.mapping(data["target"], ("target",), "target:")
        if block is None:
            return MEASURES[0], []
        self.keys(block, ("target",), MEASURES)
        given = [m for m in MEASURES if m in block]
        if len(given) != 1:
            if not given:
                self.bad("SP103", "target: gives neither bookings: nor deals:", ("target",))
            else:
                self.bad("SP110", "target: gives both bookings: and deals:; give one",
                         ("target", given[1]), key=True)
            return MEASURES[0], []
        measure = given[0]
        periods = self.mapping(block[measure], ("target", measure), f"target.{measure}")
        found: list[TargetPeriod] = []
        for label, amount in (periods or {}).items():
            path = ("target", measure, label)
            span = self.period(label, path, start, months)
            value = self.number(amount, path, 0, 1e15, f"the target of {label}", above=True)
            if span is None or value is None:
                continue
            clash = next((t for t in found if span[0] <= t.last and t.first <= span[1]), None)
            if clash is not None:
                self.bad("SP110", f"{label} overlaps {clash.label}: each month has one target",
                         path, key=True, hint="give months, quarters or years that do not "
                         "overlap (the plan's number is their sum)")
                continue
            found.append(TargetPeriod(str(label), span[0], span[1], value))
        if periods is not None and not periods:
            self.bad("SP103", f"target.{measure} names no period", ("target", measure))
        return measure, sorted(found, key=lambda t: t.first)

    def period(self, label: Any, path: yamlio.Path, start: dt.date, months: int
               ) -> tuple[int, int] | None:
        """(first, last) month index of a month, quarter or year label in the plan."""
        text = str(label)
        base = start.year * 12 + start.month - 1
        if (m := _MONTH.match(text)) and 1 <= int(m[2]) <= 12:
            first = int(m[1]) * 12 + int(m[2]) - 1 - base
            span = (first, first)
        elif m := _QUARTER.match(text):
            first = int(m[1]) * 12 + (int(m[2]) - 1) * 3 - base
            span = (first, first + 2)
        elif m := _YEAR.match(text):
            first = int(m[1]) * 12 - base
            span = (first, first + 11)
        else:
            self.bad("SP110", f"{quoted(text)} is not a month (2026-05), a quarter (2026-Q2) "
                     "or a year (2026)", path, key=True)
            return None
        if (span[0] < 0 or span[1] >= months) and not self.start_bad:
            last = f"{dt.date((base + months - 1) // 12, (base + months - 1) % 12 + 1, 1):%Y-%m}"
            self.bad("SP106", f"{text} is not within the plan's months ({start:%Y-%m} to "
                     f"{last})", path, key=True,
                     hint="give more months:, an earlier start:, or a period within the plan")
            return None
        return span

    def roles(self, data: dict[str, Any], start: dt.date, months: int) -> dict[str, RolePlan]:
        block = self.mapping(data.get("roles", {}), ("roles",), "roles:")
        found: dict[str, RolePlan] = {}
        for rid, spec in (block or {}).items():
            path: yamlio.Path = ("roles", rid)
            if rid not in self.process.roles:
                guess = did_you_mean(str(rid), self.process.roles)
                self.bad("SP202", f"unknown role '{quoted(str(rid))}': the process has no "
                         "such role", path, key=True,
                         hint=guess or f"the roles are: {', '.join(self.process.roles)}")
                continue
            if self.process.roles[rid].staffing:
                self.bad("SP110", f"role {rid}'s headcount changes on dates in the process "
                         "file; a plan starts from one headcount", path, key=True,
                         hint="give the role one headcount in the process, and its hires here")
                continue
            spec = self.mapping(spec, path, f"roles.{rid}")
            if spec is None:
                continue
            self.keys(spec, path, _ROLE_KEYS)
            found[rid] = self.role(rid, spec, path, start, months)
        return found

    def role(self, rid: str, spec: dict[str, Any], path: yamlio.Path, start: dt.date,
             months: int) -> RolePlan:
        hires: list[int] = []
        block = self.mapping(spec.get("hires", {}), (*path, "hires"), "hires:") or {}
        for label, people in block.items():
            at = (*path, "hires", label)
            span = self.period(label, at, start, months)
            count = self.number(people, at, 0, MAX_HIRES, f"hires in {label}", whole=True)
            if span is not None and span[0] != span[1]:
                self.bad("SP110", f"hires are by month (2026-05), not {label}", at, key=True)
            elif span is not None and count is not None:
                hires += [span[0]] * int(count)

        def value(key: str, low: float, high: float, *, whole: bool = False) -> float | None:
            if key not in spec:
                return None
            return self.number(spec[key], (*path, key), low, high, key, whole=whole)

        attrition = value("attrition", 0, 1) or 0.0
        backfill = value("backfill", 0, MAX_PLAN_MONTHS, whole=True)
        quota = value("quota", 0, 1e15)
        cost = value("cost", 0, 1e15)
        most = value("max_hires", 0, MAX_HIRES, whole=True)
        return RolePlan(rid, tuple(sorted(hires)), self.ramp(spec, path), attrition,
                        None if backfill is None else int(backfill), quota, cost,
                        DEFAULT_MAX_HIRES if most is None else int(most))

    def ramp(self, spec: dict[str, Any], path: yamlio.Path) -> Ramp | None:
        if "ramp" not in spec:
            return self.process.roles[path[-1]].ramp if isinstance(path[-1], str) else None
        at = (*path, "ramp")
        block = self.mapping(spec["ramp"], at, "ramp:")
        if block is None:
            return None
        self.keys(block, at, ("weeks", "start"))
        if "weeks" not in block:
            self.bad("SP103", "ramp: needs weeks: (how long new people take to reach full "
                     "speed)", at)
            return None
        weeks = self.number(block["weeks"], (*at, "weeks"), 0, 520, "weeks", above=True)
        begin = self.number(block.get("start", 0.0), (*at, "start"), 0, 1, "start")
        return None if weeks is None or begin is None else Ramp(weeks, begin)
