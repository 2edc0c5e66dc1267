"""The process model: frozen dataclasses, with every buyer type's flow resolved.

This module knows nothing of YAML or SimPy. :func:`build` turns schema-valid, lint-clean
data (plain dicts) into a :class:`Process`; all times are floats in ``time_unit``.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from salesproc.core import dists, units
from salesproc.core.calendar import (
    ALWAYS,
    MONTHS,
    WEEKDAYS,
    Calendar,
    hours_since,
    parse_date,
    parse_hours,
)
from salesproc.core.defaults import (
    DEFAULT_HORIZON_DAYS,
    DEFAULT_REPLICATIONS,
    DEFAULT_SEED,
    DEFAULT_START,
)
from salesproc.core.dists import Distribution, Fixed
from salesproc.core.units import TIME_UNITS

if TYPE_CHECKING:
    from salesproc.process.variants import Changes

WON = "won"
LOST = "lost"
OUTCOMES = (WON, LOST)
NO_TIME: Distribution = Fixed(0.0)  # frozen, so one shared default is safe
BUSINESS = Calendar(((9.0, 17.0),), frozenset(range(5)))  # what a calendar: block assumes


@dataclass(frozen=True)
class Ramp:
    """New people work at *start* (a share of full speed) the day they join, rising evenly
    to full speed over *weeks* working weeks."""

    weeks: float
    start: float


@dataclass(frozen=True)
class Role:
    """People who work on deals: headcount bounds how many deals they work at once.

    *headcount* is the headcount at the start; *staffing*, when the file gives dates, the
    times (in time_unit, from the start) and the headcount from each on. *calendar* is
    when they work (the file's, with this role's own keys on top). *time_for_deals* is
    the share of their working time that goes to deals (work takes 1/share as long);
    *max_deals* the most open deals one person carries at once in the stages the role
    owns (None: no limit).
    """

    id: str
    title: str
    headcount: int
    department: str = "Sales"
    description: str = ""
    calendar: Calendar = ALWAYS
    staffing: tuple[tuple[float, int], ...] = ()
    ramp: Ramp | None = None
    time_for_deals: float = 1.0
    max_deals: int | None = None

    def headcount_at(self, t: float) -> int:
        """The headcount *t* time units after the start."""
        count = self.headcount if not self.staffing else 0
        for since, people in self.staffing:
            if since <= t:
                count = people
        return count

    def mean_headcount(self, horizon: float) -> float:
        """The average headcount over the first *horizon* time units."""
        if not self.staffing or horizon <= 0:
            return float(self.headcount)
        edges = [0.0, *(min(max(s, 0.0), horizon) for s, _ in self.staffing), horizon]
        return math.fsum(self.headcount_at(a) * (b - a)
                         for a, b in itertools.pairwise(edges)) / horizon


@dataclass(frozen=True)
class Information:
    """Something the team must find out or collect at a stage (listed under requires:)."""

    id: str
    label: str
    description: str = ""
    needed_by: str | None = None


@dataclass(frozen=True)
class Bounds:
    """Bounds on a number (`{gt: 0.2}`): every bound given must hold."""

    gte: float | None = None
    gt: float | None = None
    lte: float | None = None
    lt: float | None = None

    def holds(self, x: float) -> bool:
        return ((self.gte is None or x >= self.gte) and (self.gt is None or x > self.gt)
                and (self.lte is None or x <= self.lte) and (self.lt is None or x < self.lt))

    def probability(self, dist: Distribution) -> float:
        """Chance a draw of *dist* lies within (exact, from the CDF)."""
        below = math.nextafter  # P(X < x) = F(x⁻): exact for fixed and empirical values too
        upper = min([1.0]
                    + ([dist.cdf(self.lte)] if self.lte is not None else [])
                    + ([dist.cdf(below(self.lt, -math.inf))] if self.lt is not None else []))
        lower = max([0.0]
                    + ([dist.cdf(below(self.gte, -math.inf))] if self.gte is not None else [])
                    + ([dist.cdf(self.gt)] if self.gt is not None else []))
        return max(0.0, upper - lower)

    def meet(self, other: Bounds) -> Bounds:
        """Both bounds at once."""
        def tighter(a: float | None, b: float | None, pick: Any) -> float | None:
            return b if a is None else a if b is None else pick(a, b)
        return Bounds(tighter(self.gte, other.gte, max), tighter(self.gt, other.gt, max),
                      tighter(self.lte, other.lte, min), tighter(self.lt, other.lt, min))

    def describe(self, name: str, unit: str = "", fmt: str = ",.0f") -> list[str]:
        return [f"{name} {op} {bound:{fmt}}{' ' + unit if unit else ''}"
                for op, bound in (("≥", self.gte), (">", self.gt), ("≤", self.lte),
                                  ("<", self.lt)) if bound is not None]


ANYTHING = Bounds()


@dataclass(frozen=True)
class Field:
    """What one buyer type's deals draw for a field: a number from *number*, or a
    category by *shares* ((category, share), in the order written)."""

    id: str
    label: str = ""
    number: Distribution | None = None
    shares: tuple[tuple[str, float], ...] = ()

    def share_of(self, categories: frozenset[str]) -> float:
        return math.fsum(p for c, p in self.shares if c in categories)


Test = Bounds | frozenset[str]  # a number field's bounds, or a category field's categories
MAX_ALTERNATIVES = 12  # any: alternatives worked out exactly (inclusion-exclusion)


@dataclass(frozen=True)
class Condition:
    """When an approval applies, or who goes through a stage: value bounds, buyer types
    and tests of the deal's fields, all of which must hold, and (with *any*) one of the
    alternatives."""

    value_gte: float | None = None
    value_gt: float | None = None
    value_lte: float | None = None
    value_lt: float | None = None
    buyer_types: frozenset[str] | None = None
    fields: tuple[tuple[str, Test], ...] = ()
    any: tuple[Condition, ...] = ()

    @property
    def value(self) -> Bounds:
        return Bounds(self.value_gte, self.value_gt, self.value_lte, self.value_lt)

    def applies(self, value: float, buyer_type: str,
                fields: Mapping[str, float | str] | None = None) -> bool:
        """Whether a deal matches. *fields*: the deal's own; None where they are not
        known (a measured deal), and then tests of fields count as holding."""
        if not self.value.holds(value):
            return False
        if self.buyer_types is not None and buyer_type not in self.buyer_types:
            return False
        if fields is not None:
            for name, test in self.fields:
                x = fields[name]
                if not (test.holds(x) if isinstance(test, Bounds) and isinstance(x, float)
                        else isinstance(test, frozenset) and x in test):
                    return False
        return not self.any or any(c.applies(value, buyer_type, fields) for c in self.any)

    def probability(self, value: Distribution, buyer_type: str,
                    fields: Mapping[str, Field] | None = None,
                    within: Mapping[str, Any] | None = None) -> float:
        """Chance the condition holds for a deal of *buyer_type* whose value and fields
        are drawn from *value* and *fields* (exact, from the CDFs and shares: the value
        and each field are drawn independently). A condition of more than
        MAX_ALTERNATIVES alternatives gets an upper bound instead (the sum of its
        alternatives' chances, at most 1), at a cost that grows only with its size.
        *within*: tests an enclosing condition adds to every alternative."""
        if self._count() > MAX_ALTERNATIVES:
            own = _meet(within or {}, self._own())
            return min(1.0, math.fsum(c.probability(value, buyer_type, fields, own)
                                      for c in self.any))
        terms = [_meet(within or {}, t) for t in self._terms()]
        total = 0.0
        for k in range(1, len(terms) + 1):  # inclusion-exclusion over the alternatives
            for chosen in itertools.combinations(terms, k):
                both = functools.reduce(_meet, chosen)
                total += (-1) ** (k + 1) * _chance(both, value, buyer_type, fields)
        return min(1.0, max(0.0, total))

    def _count(self) -> int:
        """How many alternatives the condition is, its any: lists multiplied out."""
        return sum(c._count() for c in self.any) if self.any else 1

    def _own(self) -> dict[str, Any]:
        """The tests of this condition itself, its any: list left aside."""
        own: dict[str, Any] = {"value": self.value}
        if self.buyer_types is not None:
            own["buyer_type"] = self.buyer_types
        own.update(self.fields)
        return own

    def _terms(self) -> list[dict[str, Any]]:
        """The condition as alternatives, each every test that must hold together (the
        value as 'value', buyer types as 'buyer_type', fields by id)."""
        own = self._own()
        if not self.any:
            return [own]
        return [_meet(own, t) for c in self.any for t in c._terms()]

    def field_ids(self) -> set[str]:
        """Every field the condition tests, its alternatives' too."""
        return {f for f, _ in self.fields} | {f for c in self.any for f in c.field_ids()}

    def describe(self, currency: str = "") -> str:
        parts = self.value.describe("value", currency)
        if self.buyer_types is not None:
            parts.append("buyer type " + " or ".join(sorted(self.buyer_types)))
        for name, test in self.fields:
            parts.extend(test.describe(name, fmt="g") if isinstance(test, Bounds)
                         else [f"{name} is " + " or ".join(sorted(test))])
        if self.any:
            parts.append("(" + " or ".join(c.describe(currency) for c in self.any) + ")")
        return " and ".join(parts)


def _meet(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Two sets of tests that must all hold: a key in both holds both."""
    out = dict(a)
    for key, test in b.items():
        if key not in out:
            out[key] = test
        elif isinstance(test, Bounds):
            out[key] = out[key].meet(test)
        else:
            out[key] = out[key] & test
    return out


def _chance(tests: Mapping[str, Any], value: Distribution, buyer_type: str,
            fields: Mapping[str, Field] | None) -> float:
    """Chance every test holds at once: a product, the value and fields being independent."""
    chance = tests["value"].probability(value) if tests["value"] != ANYTHING else 1.0
    for key, test in tests.items():
        if key == "value":
            continue
        if key == "buyer_type":
            chance *= 1.0 if buyer_type in test else 0.0
        elif fields is None or key not in fields:
            continue  # a field not known: its test counts as holding
        elif isinstance(test, Bounds):
            number = fields[key].number
            chance *= test.probability(number) if number is not None else 0.0
        else:
            chance *= fields[key].share_of(test)
    return chance


@dataclass(frozen=True)
class Approval:
    """A sign-off a stage needs from a role; with reject > 0 it may say no."""

    role: str
    name: str = ""
    when: Condition | None = None
    work: Distribution = NO_TIME
    delay: Distribution = NO_TIME
    reject: float = 0.0
    on_reject: str | None = None  # a stage id; None: the deal is lost
    delay_business: bool = False

    def probability(self, value: Distribution, buyer_type: str,
                    fields: Mapping[str, Field] | None = None) -> float:
        return 1.0 if self.when is None else self.when.probability(value, buyer_type, fields)


@dataclass(frozen=True)
class Route:
    """A way on from a stage (`next:`): a stage id or won, and its probability."""

    to: str  # a stage id or WON
    probability: float


@dataclass(frozen=True)
class Stage:
    """A step of the process as one buyer type sees it (overrides applied); times in time_unit."""

    id: str
    name: str
    owner: str
    assist: tuple[str, ...] = ()
    description: str = ""
    guidance: str = ""
    requires: tuple[str, ...] = ()
    delay: Distribution = NO_TIME
    work: Distribution = NO_TIME
    approvals: tuple[Approval, ...] = ()
    next: tuple[Route, ...] = ()
    lost_reason: str = ""
    patience: float | None = None
    delay_business: bool = False  # the delay counts business days (weekends, holidays off)
    when: Condition | None = None  # only deals that match go through; the others pass on
    lost_reasons: tuple[tuple[str, float], ...] = ()  # (reason, share): `lost_reasons:`

    @property
    def reasons(self) -> tuple[tuple[str, float], ...]:
        """Why deals are lost here, each with its share of the losses: `lost_reasons:`,
        else the one `lost_reason`."""
        return self.lost_reasons or ((self.lost_reason, 1.0),)

    @property
    def roles(self) -> tuple[str, ...]:
        return (self.owner, *self.assist)


@dataclass(frozen=True)
class BuyerType:
    """A kind of buyer: its share of leads, deal value, the stages it goes through."""

    id: str
    name: str
    share: float
    value: Distribution
    path: tuple[str, ...]  # stage ids, in order; deals start at path[0] unless *entries*
    stages: Mapping[str, Stage]  # effective stages for this buyer, overrides applied
    description: str = ""
    entries: tuple[tuple[str, float], ...] = ()  # (stage id, share of new deals): `enter:`
    fields: Mapping[str, Field] = field(default_factory=dict)  # its overrides applied

    @property
    def start(self) -> str:
        return self.path[0]

    def entry_shares(self) -> dict[str, float]:
        """Where this buyer type's new deals enter: stage id -> share (all at the start of
        its path, unless the file says otherwise)."""
        return dict(self.entries) if self.entries else {self.start: 1.0}

    def flow(self) -> list[Stage]:
        return [self.stages[s] for s in self.path]


@dataclass(frozen=True)
class Campaign:
    """A burst of leads at a time (and again every `every`), of one buyer type or all."""

    at: float
    leads: int
    name: str = ""
    every: float | None = None
    buyer_type: str | None = None


@dataclass(frozen=True)
class Arrivals:
    """How leads arrive: a Poisson rate per time unit, plus campaigns; *months* and
    *weekdays* multiply the rate (each averages to 1; all ones without seasonality)."""

    rate: float  # leads per time_unit
    campaigns: tuple[Campaign, ...] = ()
    months: tuple[float, ...] = (1.0,) * 12
    weekdays: tuple[float, ...] = (1.0,) * 7
    per: str = "day"  # the period the file gives the rate in (for writing it back)

    @property
    def seasonal(self) -> bool:
        return any(m != 1.0 for m in self.months) or any(w != 1.0 for w in self.weekdays)


@dataclass(frozen=True)
class BuyerRule:
    """A `crm.buyer_types` rule: deals whose *field* equals one of *values* (text compared
    without regard to case), or whose number lies within the bounds, are *buyer_type*."""

    buyer_type: str
    field: str
    values: tuple[str, ...] = ()
    gte: float | None = None
    gt: float | None = None
    lte: float | None = None
    lt: float | None = None


@dataclass(frozen=True)
class Crm:
    """The `crm:` section: how a CRM export's names map onto this process.

    *stages* maps CRM stage names (folded: lower case, spaces trimmed) to stage ids, won or
    lost; *lost_reasons* CRM reasons (folded) to the words reported; *currency_rates* a
    currency code to the value of one unit in the process's currency; *fields* a declared
    deal field to the export column that holds it; *names* the `stages:` entries as written
    (the CRM's own spelling, in order: what `export salesforce` writes); *information* an
    information id to the CRM field that records it (a Salesforce API name).
    """

    stages: Mapping[str, str] = field(default_factory=dict)
    lost_reason: str | None = None
    lost_reasons: Mapping[str, str] = field(default_factory=dict)
    buyer_rules: tuple[BuyerRule, ...] = ()
    default_buyer_type: str | None = None
    currency_rates: Mapping[str, float] = field(default_factory=dict)
    columns: Mapping[str, str] = field(default_factory=dict)
    day_first: bool = False
    pipeline: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)  # field id -> export column
    hubspot: tuple[HubSpotPipeline, ...] = ()  # the HubSpot pipelines the process is
    names: tuple[tuple[str, str], ...] = ()  # `stages:` as written: (CRM name, target)
    information: Mapping[str, str] = field(default_factory=dict)  # information id -> field


@dataclass(frozen=True)
class HubSpotPipeline:
    """One HubSpot deal pipeline of `crm: hubspot:` (what `import hubspot` read, for
    `export hubspot` to write back): its id and label, where HubSpot lists it, the buyer
    type whose probabilities it carries (None: every buyer type's), and its stages as
    (HubSpot stage id, label) in HubSpot's order."""

    id: str
    label: str
    stages: tuple[tuple[str, str], ...]
    display_order: int | None = None
    buyer_type: str | None = None


def fold(name: str) -> str:
    """A CRM name as it is compared: lower case, runs of white space as one space."""
    return " ".join(str(name).split()).lower()


@dataclass(frozen=True)
class Settings:
    """How to simulate: the file's `simulation:` block, or a run's settings after the
    caller's changes. Times are in the process's time unit.

    *workers* is how many processes run replications (results never depend on it);
    *only_buyer* lets one buyer type's leads arrive and no other (a what-if: that buyer
    type alone on the team; to report one buyer type of a run with everyone, as
    ``--buyer`` does, see :func:`salesproc.experiments.experiment.simulate`); *notes* say how the
    settings were chosen where that changes what is measured.
    """

    horizon: float
    warmup: float = 0.0
    replications: int = DEFAULT_REPLICATIONS
    seed: int = DEFAULT_SEED
    workers: int = 1
    only_buyer: str | None = None
    notes: tuple[str, ...] = ()


class Origin(Protocol):
    """What a Process was checked from, able to check it again with changes: the loader's
    (this module knows nothing of files; the loader hands it this)."""

    def with_changes(self, changes: Changes) -> Process: ...


@dataclass(frozen=True)
class FittedValue:
    """A value calibrate set (`fitted:`): its setting, its value in the file's form, the
    observations behind it and its estimate with a 95% interval (NaN where not given:
    shares give their observations alone)."""

    setting: str
    value: Any
    n: int
    estimate: float = math.nan
    low: float = math.nan
    high: float = math.nan


@dataclass(frozen=True)
class Process:
    """A sales process, checked and resolved: the one thing every command works on."""

    name: str
    time_unit: str
    roles: Mapping[str, Role]
    information: Mapping[str, Information]
    stages: Mapping[str, Stage]  # as written, in file order
    buyer_types: Mapping[str, BuyerType]
    arrivals: Arrivals | None
    simulation: Settings
    opportunity_stage: str  # deals reaching it (or a stage written after it) are opportunities
    start: dt.date  # the first day simulated: time 0 is its midnight
    calendar: Calendar = ALWAYS
    description: str = ""
    currency: str = "USD"
    crm: Crm = field(default_factory=Crm)
    fitted: tuple[FittedValue, ...] = ()  # how sure calibrate is of the values it set
    extensions: Mapping[str, Any] = field(default_factory=dict, compare=False)  # x- keys
    source: str | None = field(default=None, compare=False)
    files: tuple[str, ...] = field(default=(), compare=False)  # the file, then its bases
    origin: Origin | None = field(default=None, compare=False, repr=False)

    @property
    def fields(self) -> Mapping[str, Field]:
        """The deal fields the file declares (`fields:`), by id, as the first buyer type
        draws them: every buyer type has every field, of the same kind (a number or
        categories), each with its own distribution or shares."""
        return next(iter(self.buyer_types.values())).fields if self.buyer_types else {}

    def with_changes(self, changes: Changes) -> Process:
        """This process with *changes* applied and checked again, in memory: nothing is
        read or written, so its folder may be read-only. *changes* are ``PATH=VALUE`` text
        as ``--set`` takes it, or (path, value) pairs or a mapping of them whose values are
        in the file's form (``{"stages.demo.delay": {"gamma": {"mean": 3, "sd": 1}}}``);
        paths are dotted, with stages by id. Raises :class:`InvalidProcessError` when the
        changed process has errors: a finding on a changed value points at that change
        ('<command line>' line n for the n-th text, '<changes>' line n for the n-th
        object; ``variants.said_by_setting`` words them by setting). A process not read
        through the loader (built from data) cannot be changed: ValueError. The change
        starts from the file as checked: a copy made with ``dataclasses.replace`` loses
        what was replaced."""
        if self.origin is None:
            raise ValueError("only a process read from a file or text can be changed")
        return self.origin.with_changes(changes)

    @property
    def opportunity_index(self) -> int:
        """Position of the opportunity stage in file order."""
        return list(self.stages).index(self.opportunity_stage)

    def opportunities_reach(self, buyer: str | None = None) -> str:
        """What the opportunities of *buyer* (of every buyer type: None) reached, in a
        report's words: the opportunity stage, or, where a path goes around it, 'call or
        a later stage' (a deal that reached a stage written after it counts too)."""
        chosen = self.buyer_types.get(buyer) if buyer is not None else None
        paths = [chosen.path] if chosen else [b.path for b in self.buyer_types.values()]
        around = any(self.opportunity_stage not in path for path in paths)
        return self.opportunity_stage + (" or a later stage" if around else "")

    def names(self) -> dict[str, dict[str, str]]:
        """What people call each id: stage names, buyer type names, role titles (the
        results' JSON carries them, so a chart of a saved result speaks sales words)."""
        return {"stages": {k: v.name for k, v in self.stages.items()},
                "buyer_types": {k: v.name for k, v in self.buyer_types.items()},
                "roles": {k: v.title for k, v in self.roles.items()}}


# --- building the model from checked data -------------------------------------------------


def effective_stage_data(data: Mapping[str, Any], buyer_id: str) -> dict[str, dict[str, Any]]:
    """Stage dicts for one buyer type, with its overrides applied (a key replaces the value)."""
    overrides = data["buyer_types"][buyer_id].get("stages", {})
    return {s["id"]: {**s, **overrides.get(s["id"], {})} for s in data["stages"]}


def buyer_path(data: Mapping[str, Any], buyer_id: str) -> list[str]:
    """The stage ids a buyer type goes through: its path:, or every stage in file order."""
    path = data["buyer_types"][buyer_id].get("path")
    return list(path) if path else [s["id"] for s in data["stages"]]


def build(data: Mapping[str, Any], source: str | None = None,
          files: tuple[str, ...] = (), origin: Origin | None = None) -> Process:
    """A :class:`Process` from data that passed the schema and the lint rules.

    *source* is the file it was read from; *files* every file it was read from; *origin*
    makes it again with changes.
    """
    unit = data.get("time_unit", "day")
    calendar = file_calendar(data)
    start = start_date(data)
    work_hours = {u: calendar.work_hours(u) for u in TIME_UNITS}

    def duration(value: Any) -> float:
        return units.parse_duration(value, unit)

    def time_dist(spec: Any) -> Distribution:
        return dists.from_spec(spec, duration)

    def work_dist(spec: Any) -> Distribution:  # working time: a day is a working day
        return dists.from_spec(spec, lambda v: units.parse_duration(v, unit, work_hours))

    def stage(raw: Mapping[str, Any], patience: Any = None) -> Stage:
        own_patience = raw.get("patience", patience)
        return Stage(
            id=raw["id"], name=raw["name"], owner=raw["owner"],
            assist=tuple(raw.get("assist", ())), description=raw.get("description", ""),
            guidance=raw.get("guidance", ""), requires=tuple(raw.get("requires", ())),
            delay=time_dist(raw.get("delay", 0)), work=work_dist(raw.get("work", 0)),
            delay_business=is_business(raw.get("delay")),
            approvals=tuple(_approval(a, time_dist, work_dist)
                            for a in raw.get("approvals", ())),
            when=None if raw.get("when") is None else _condition(raw["when"]),
            lost_reasons=tuple((r, float(p)) for r, p in raw.get("lost_reasons", {}).items()),
            next=tuple(Route(to, float(p)) for to, p in raw.get("next", {}).items()),
            lost_reason=raw.get("lost_reason", f"lost at {raw['name']}"),
            patience=None if own_patience is None else duration(own_patience),
        )

    buyers = {}
    for buyer_id, raw in data["buyer_types"].items():
        effective = effective_stage_data(data, buyer_id)
        path = buyer_path(data, buyer_id)
        buyers[buyer_id] = BuyerType(
            id=buyer_id, name=raw["name"], share=float(raw["share"]),
            value=dists.from_spec(raw["value"], float), path=tuple(path),
            stages={s: stage(effective[s], raw.get("patience")) for s in path},
            description=raw.get("description", ""),
            entries=tuple((s, float(p)) for s, p in raw.get("enter", {}).items() if p > 0),
            fields=buyer_fields(data, buyer_id))
    return Process(
        name=data["name"], description=data.get("description", ""),
        currency=data.get("currency", "USD"), time_unit=unit,
        roles={rid: _role(rid, r, calendar, start, unit) for rid, r in data["roles"].items()},
        information={iid: Information(iid, i["label"], i.get("description", ""),
                                      i.get("needed_by"))
                     for iid, i in data.get("information", {}).items()},
        stages={s["id"]: stage(s) for s in data["stages"]},
        buyer_types=buyers,
        arrivals=_arrivals(data.get("arrivals"), unit, start),
        simulation=_settings(data.get("simulation", {}), unit),
        opportunity_stage=opportunity_stage(data),
        start=start, calendar=calendar, crm=_crm(data.get("crm", {})),
        fitted=_fitted(data), source=source,
        extensions={k: v for k, v in data.items() if str(k).startswith("x-")},
        files=files or ((source,) if source else ()), origin=origin,
    )


def _fitted(data: Mapping[str, Any]) -> tuple[FittedValue, ...]:
    """The `fitted:` entries whose setting holds a value (a variant's later change of a
    setting drops its entry: variants.apply_setting)."""
    out = []
    for setting, raw in data.get("fitted", {}).items():
        value = setting_value(data, setting)
        if value is not None:
            out.append(FittedValue(setting, value, int(raw["n"]),
                                   *(float(raw.get(k, math.nan))
                                     for k in ("estimate", "low", "high"))))
    return tuple(out)


def setting_value(data: Mapping[str, Any], setting: str) -> Any:
    """The value at a dotted setting of a process's data (stages by id), or None."""
    node: Any = data
    for part in setting.split("."):
        if isinstance(node, list):
            node = next((s for s in node if isinstance(s, dict) and s.get("id") == part),
                        None)
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
        if node is None:
            return None
    return node


def opportunity_stage(data: Mapping[str, Any]) -> str:
    """The file's opportunity stage; by default the second stage (the first qualifies leads)."""
    stages = data["stages"]
    chosen: str = data.get("opportunity_stage") or stages[min(1, len(stages) - 1)]["id"]
    return chosen


def file_calendar(data: Mapping[str, Any]) -> Calendar:
    """The file's calendar: around the clock unless `calendar:` says otherwise."""
    return calendar_from(data.get("calendar", "always"), ALWAYS)


def calendar_from(raw: Any, base: Calendar) -> Calendar:
    """A calendar from its file form; keys not given come from *base* (for a business
    calendar the defaults are 09:00-17:00 and Monday to Friday)."""
    if raw == "always" or raw is None:
        return ALWAYS
    if base.always:
        base = BUSINESS
    hours = parse_hours(raw["hours"]) if "hours" in raw else base.hours
    days = frozenset(WEEKDAYS.index(d) for d in raw["days"]) if "days" in raw else base.days
    holidays = base.holidays | frozenset(d for d in (parse_date(h) for h in
                                                     raw.get("holidays", ())) if d)
    return Calendar(hours or base.hours, days, holidays)


def start_date(data: Mapping[str, Any]) -> dt.date:
    """simulation.start, or DEFAULT_START (a fixed day: the same results every day)."""
    given = parse_date(data.get("simulation", {}).get("start"))
    return given or DEFAULT_START


def moment(value: Any, unit: str, start: dt.date) -> float:
    """A time in *unit* from the start: a date, or a duration."""
    date = parse_date(value) if isinstance(value, str | dt.date) else None
    if date is not None:
        return units.convert(hours_since(start, date), "hour", unit)
    return units.parse_duration(value, unit)


def _role(rid: str, raw: Mapping[str, Any], calendar: Calendar, start: dt.date,
          unit: str) -> Role:
    own = calendar_from(raw["calendar"], calendar) if "calendar" in raw else calendar
    headcount = raw["headcount"]
    staffing: tuple[tuple[float, int], ...] = ()
    if isinstance(headcount, dict):
        staffing = tuple(sorted((moment(d, unit, start), int(n)) for d, n in headcount.items()))
        at_start = [n for t, n in staffing if t <= 0]
        headcount = at_start[-1] if at_start else 0
    ramp = raw.get("ramp")
    cap = raw.get("max_deals")
    return Role(rid, raw["title"], int(headcount), raw.get("department", "Sales"),
                raw.get("description", ""), own, staffing,
                None if ramp is None else Ramp(float(ramp["weeks"]), float(ramp["start"])),
                float(raw.get("time_for_deals", 1.0)), None if cap is None else int(cap))


def _approval(raw: Mapping[str, Any], time_dist: Any, work_dist: Any) -> Approval:
    when = raw.get("when")
    return Approval(
        role=raw["by"], name=raw.get("name", ""),
        when=None if when is None else _condition(when),
        work=work_dist(raw.get("work", 0)), delay=time_dist(raw.get("delay", 0)),
        reject=float(raw.get("reject", 0.0)), on_reject=raw.get("on_reject"),
        delay_business=is_business(raw.get("delay")))


def is_business(spec: Any) -> bool:
    """A delay written in business days (every text value of it: '3bd')."""
    if isinstance(spec, dict):
        return any(is_business(v) for v in spec.values())
    if isinstance(spec, list):
        return any(is_business(v) for v in spec)
    return units.is_business(spec)


def buyer_fields(data: Mapping[str, Any], buyer_id: str) -> dict[str, Field]:
    """The fields a buyer type's deals draw, its own distributions or shares replacing
    the file's (`buyer_types.<id>.fields`), in the order `fields:` declares them."""
    own = data["buyer_types"][buyer_id].get("fields", {})
    out = {}
    for fid, raw in data.get("fields", {}).items():
        spec = {**raw, **own.get(fid, {})}
        number = spec.get("number") if "shares" not in own.get(fid, {}) else None
        out[fid] = Field(fid, raw.get("label", fid),
                         None if number is None else dists.from_spec(number, float),
                         () if number is not None else
                         tuple((c, float(p)) for c, p in spec.get("shares", {}).items()))
    return out


CONDITION_KEYS = ("value", "buyer_type", "any")  # a condition's own keys; the rest: fields


def _condition(raw: Mapping[str, Any]) -> Condition:
    value = raw.get("value", {})
    buyers = raw.get("buyer_type")
    return Condition(value_gte=value.get("gte"), value_gt=value.get("gt"),
                     value_lte=value.get("lte"), value_lt=value.get("lt"),
                     buyer_types=None if buyers is None else frozenset(buyers),
                     fields=tuple((k, _test(t)) for k, t in raw.items()
                                  if k not in CONDITION_KEYS),
                     any=tuple(_condition(c) for c in raw.get("any", ())))


def _test(raw: Any) -> Test:
    if isinstance(raw, list):
        return frozenset(str(c) for c in raw)
    return Bounds(raw.get("gte"), raw.get("gt"), raw.get("lte"), raw.get("lt"))


def _arrivals(raw: Mapping[str, Any] | None, unit: str, start: dt.date) -> Arrivals | None:
    if raw is None:
        return None
    per = raw.get("per", unit)
    rate = float(raw["rate"]) / units.convert(1.0, per, unit)
    campaigns = tuple(
        Campaign(at=moment(c["at"], unit, start), leads=int(c["leads"]),
                 name=c.get("name", ""), buyer_type=c.get("buyer_type"),
                 every=None if c.get("every") is None else units.parse_duration(c["every"], unit))
        for c in raw.get("campaigns", ()))
    seasonality = raw.get("seasonality", {})
    months = tuple(float(seasonality.get("months", {}).get(m, 1.0)) for m in MONTHS)
    weekdays = tuple(float(seasonality.get("weekdays", {}).get(w, 1.0)) for w in WEEKDAYS)
    return Arrivals(rate, campaigns, months, weekdays, per)


def _crm(raw: Mapping[str, Any]) -> Crm:
    def rule(r: Mapping[str, Any]) -> BuyerRule:
        values = r.get("is", ())
        values = values if isinstance(values, list | tuple) else (values,)
        return BuyerRule(r["buyer_type"], r["field"], tuple(fold(str(v)) for v in values),
                         r.get("gte"), r.get("gt"), r.get("lte"), r.get("lt"))

    return Crm(
        stages={fold(k): v for k, v in raw.get("stages", {}).items()},
        lost_reason=raw.get("lost_reason"),
        lost_reasons={fold(k): v for k, v in raw.get("lost_reasons", {}).items()},
        buyer_rules=tuple(rule(r) for r in raw.get("buyer_types", ())),
        default_buyer_type=raw.get("default_buyer_type"),
        currency_rates={k: float(v) for k, v in raw.get("currency_rates", {}).items()},
        columns=dict(raw.get("columns", {})), day_first=raw.get("dates") == "day_first",
        pipeline=raw.get("pipeline"), fields=dict(raw.get("fields", {})),
        hubspot=tuple(HubSpotPipeline(str(p["id"]), str(p["label"]),
                                      tuple((str(k), str(v)) for k, v in p["stages"].items()),
                                      p.get("display_order"), p.get("buyer_type"))
                      for p in raw.get("hubspot", ())),
        names=tuple((str(k), v) for k, v in raw.get("stages", {}).items()),
        information=dict(raw.get("information", {})))


def file_horizon(raw: Mapping[str, Any], unit: str) -> float:
    """simulation.horizon in *unit*, or the default horizon."""
    default_horizon = units.convert(DEFAULT_HORIZON_DAYS, "day", unit)
    return units.parse_duration(raw.get("horizon", default_horizon), unit)


def _settings(raw: Mapping[str, Any], unit: str) -> Settings:
    return Settings(
        horizon=file_horizon(raw, unit), warmup=units.parse_duration(raw.get("warmup", 0), unit),
        replications=int(raw.get("replications", DEFAULT_REPLICATIONS)),
        seed=int(raw.get("seed", DEFAULT_SEED)))
