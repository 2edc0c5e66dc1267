"""Capacity and hiring plans against a target: the team month by month, the classic
capacity arithmetic, the simulated bookings with their range and the chance to hit each
target, and the cheapest hiring schedule that hits the number with a chosen chance.

The team (:func:`roster`): the role's headcount at the plan's start (people at full
speed), the hires, each joining on the first day of a month and ramping up as the
process's ramp says (speed rising evenly from ``start`` to 1 over ``weeks`` working
weeks), and attrition: the expected leavers (a year's share over twelve months of the
people there), one leaving at the start of the month after their expected count passes a
whole person, the longest-serving first, each replaced by a new hire ``backfill`` months
later. The engine runs that headcount as the role's dated headcount (its schedule of
capacity changes), so the plain case of a fixed team is untouched.

The classic model (:func:`classic`) is the spreadsheet's capacity arithmetic, month by
month: a role can work ``effective hours ÷ work per lead`` leads (effective hours: each
person's working hours in the month times their ramped speed), the month brings
``lead rate × month`` leads, and the month's bookings are the smallest of these times the
bookings a lead brings (win chance × average value). The smallest names the constraint:
pipeline generation, or a role's capacity. With every time and value fixed at its mean
(:func:`without_variance`) and a saturated closing role, the simulation reproduces it
(tests/test_plan.py); the docs show the two side by side.

The optimiser (:func:`optimise`) is a discrete search over hire months with every
schedule simulated on the same seeds (common random numbers): the chance of making the
number falls as a hire comes later (or is dropped), so for each hire in turn the latest
month that keeps the chance at least the one asked is found by bisection, hires dropped
first; passes repeat until nothing moves. See docs/commands.md for why this search and
not a general-purpose solver.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from salesproc.core import layout
from salesproc.core.calendar import WorkingClock, hours_since
from salesproc.core.dists import Distribution, Fixed
from salesproc.core.errors import SalesprocError
from salesproc.core.stats import Estimate, outcome_range, proportion
from salesproc.core.units import HOURS, convert
from salesproc.experiments.experiment import resolve_settings, simulate_many
from salesproc.experiments.planfile import Plan
from salesproc.process import analysis
from salesproc.process.model import Process, Ramp, Settings
from salesproc.sim.metrics import Key

DEFAULT_CHANCE = 0.8
DEFAULT_WARMUP_DAYS = 60.0  # a process without a warm-up: the pipeline fills before the plan
CHECK_SEED_OFFSET = 1_000_003  # the fresh check's seeds: far from the search's
FIGURE = {"bookings": "revenue", "deals": "won"}  # the simulated figure of each measure

#: hire months of each decided role, in order; a role's month equal to the plan's length
#: means that hire is not made
Schedule = tuple[tuple[str, tuple[int, ...]], ...]


@dataclass(frozen=True)
class Person:
    """One person of a role in the plan: the month they joined (None: there before the
    plan, at full speed) and the month from which they are gone (None: stays)."""

    joined: int | None
    left: int | None = None

    def present(self, month: int) -> bool:
        return (self.joined is None or self.joined <= month) and \
            (self.left is None or month < self.left)


def roster(process: Process, plan: Plan, rid: str, hires: Sequence[int] | None = None
           ) -> list[Person]:
    """Everyone in role *rid* over the plan (*hires* instead of the plan's own)."""
    rp = plan.role(rid)
    role = process.roles[rid]
    if role.staffing and rid not in plan.roles:  # dated in the process: as dated there
        line = timeline(process, plan)
        shift = _shift(process, line)
        counts = [role.headcount_at(line.begin[m] - shift) for m in range(plan.months)]
        return [Person(None if m == 0 else m, _left(counts, m, k))
                for m in range(plan.months)
                for k in range(counts[m] - (counts[m - 1] if m else 0))]
    joining = Counter(rp.hires if hires is None else hires)
    people = [Person(None) for _ in range(role.headcount)]
    expected = 0.0
    gone = 0
    for month in range(plan.months):
        people += [Person(month) for _ in range(joining[month])]
        present = [k for k, p in enumerate(people) if p.present(month)]
        expected += rp.attrition / 12.0 * len(present)
        while gone + 1 <= expected + 1e-9 and present and month + 1 < plan.months:
            oldest = min(present, key=lambda k: _tenure(people[k]))
            present.remove(oldest)
            people[oldest] = replace(people[oldest], left=month + 1)
            gone += 1
            if rp.backfill is not None and month + 1 + rp.backfill < plan.months:
                joining[month + 1 + rp.backfill] += 1
    return people


def _left(counts: Sequence[int], joined: int, rank: int) -> int | None:
    """When the *rank*-th person to join in month *joined* of a dated headcount leaves:
    the first later month with fewer people than were there with them."""
    there = (counts[joined - 1] if joined else 0) + rank + 1
    return next((m for m in range(joined + 1, len(counts)) if counts[m] < there), None)


def _shift(process: Process, line: Timeline) -> float:
    """How far the plan's simulation starts before the process's own start, in its unit:
    what the process's dated times (headcount dates, campaigns) move on by."""
    return convert(hours_since(line.start, process.start), "hour", process.time_unit)


def _tenure(person: Person) -> int:
    """Longest-serving first: people there before the plan, then by month joined."""
    return -1 if person.joined is None else person.joined


def headcounts(people: Sequence[Person], months: int) -> list[int]:
    """The people present in each month."""
    return [sum(p.present(m) for p in people) for m in range(months)]


@dataclass(frozen=True)
class Timeline:
    """Where the plan's months fall in the simulation: it starts a warm-up before the
    plan's first month (so the pipeline is full), *begin* and *end* of each month in the
    process's time unit from that start."""

    start: dt.date
    warmup: float
    begin: tuple[float, ...]
    end: tuple[float, ...]

    @property
    def horizon(self) -> float:
        return self.end[-1]


def timeline(process: Process, plan: Plan) -> Timeline:
    """The simulated calendar of *plan*: the process's warm-up (DEFAULT_WARMUP_DAYS
    without one) before the first month."""
    unit = process.time_unit
    days = convert(process.simulation.warmup, unit, "day") or DEFAULT_WARMUP_DAYS
    start = plan.start - dt.timedelta(days=math.ceil(days))
    edges = [convert(hours_since(start, plan.month_first(i)), "hour", unit)
             for i in range(plan.months + 1)]
    return Timeline(start, edges[0], tuple(edges[:-1]), tuple(edges[1:]))


def planned_process(process: Process, plan: Plan, hires: Mapping[str, Sequence[int]]
                    = {}) -> Process:
    """*process* on the plan's calendar, each planned role's headcount by date as its
    roster says (with *hires* instead of the plan's for the roles given), its ramp the
    plan's."""
    line = timeline(process, plan)
    shift = _shift(process, line)
    roles = {rid: replace(role, headcount=role.headcount_at(-shift) if shift < 0
                          else role.headcount,
                          staffing=tuple((since + shift, people)
                                         for since, people in role.staffing))
             if role.staffing else role for rid, role in process.roles.items()}
    for rid in sorted({*plan.roles, *hires}):
        people = roster(process, plan, rid, hires.get(rid))
        counts = headcounts(people, plan.months)
        start = process.roles[rid].headcount
        staffing = [(0.0, start)]
        for month, count in enumerate(counts):
            if count != staffing[-1][1]:
                staffing.append((line.begin[month], count))
        ramp = plan.role(rid).ramp if rid in plan.roles else process.roles[rid].ramp
        if len(staffing) > 1 or ramp != process.roles[rid].ramp:  # else: the plain fast path
            roles[rid] = replace(process.roles[rid], headcount=start,
                                 staffing=tuple(staffing), ramp=ramp)
    arrivals = process.arrivals
    if arrivals is not None and arrivals.campaigns:
        moved = []
        for c in arrivals.campaigns:  # on the plan's calendar; none before its start
            at = c.at + shift
            if at < 0 and c.every:
                at += math.ceil(-at / c.every) * c.every
            if at >= 0:
                moved.append(replace(c, at=at))
        arrivals = replace(arrivals, campaigns=tuple(moved))
    return replace(process, roles=roles, start=line.start, arrivals=arrivals)


def without_variance(process: Process) -> Process:
    """*process* with every time, value and number field fixed at its mean: what is
    left to chance is when leads arrive and where each deal goes."""

    def fix(d: Distribution) -> Distribution:
        return d if isinstance(d, Fixed) else Fixed(d.mean)

    def stage(s: Any) -> Any:
        return replace(s, delay=fix(s.delay), work=fix(s.work), approvals=tuple(
            replace(a, delay=fix(a.delay), work=fix(a.work)) for a in s.approvals))

    buyers = {b: replace(bt, value=fix(bt.value),
                         stages={sid: stage(s) for sid, s in bt.stages.items()},
                         fields={fid: f if f.number is None else replace(f, number=fix(f.number))
                                 for fid, f in bt.fields.items()})
              for b, bt in process.buyer_types.items()}
    return replace(process, buyer_types=buyers,
                   stages={sid: stage(s) for sid, s in process.stages.items()})


# --- the classic capacity model ----------------------------------------------------------


@dataclass(frozen=True)
class RoleMonth:
    """One role in one month: people there, their ramped full-time equivalent, and the
    leads and bookings their time can carry."""

    headcount: int
    effective: float  # people × ramped speed, averaged over the month's working hours
    leads: float  # leads the role's effective working hours can work through
    bookings: float  # what those leads bring (the plan's measure)


@dataclass(frozen=True)
class Classic:
    """The spreadsheet's capacity arithmetic of a plan, month by month."""

    per_lead: float  # the measure one lead brings (win chance × average value, or win chance)
    work_per_lead: Mapping[str, float]  # working hours of each role one lead takes
    full_month: Mapping[str, float]  # the measure one full-speed person carries a month
    leads: tuple[float, ...]  # leads arriving each month
    roles: Mapping[str, tuple[RoleMonth, ...]]
    figure: tuple[float, ...]  # the month's measure: the smallest capacity
    constraint: tuple[str, ...]  # 'pipeline' or the role that bounds each month


def classic(process: Process, plan: Plan, hires: Mapping[str, Sequence[int]] = {}
            ) -> Classic:
    """The capacity arithmetic of *plan* on *process* (its team as :func:`roster`
    makes it)."""
    unit = process.time_unit
    rates = analysis.lead_rates(process)
    total = math.fsum(rates.values())
    if total <= 0:
        raise SalesprocError("no leads arrive: a plan needs the process's arrivals")
    value = plan.measure == "bookings"
    per_lead = math.fsum(
        rate * analysis.win_probability(process.buyer_types[b])
        * (process.buyer_types[b].value.mean if value else 1.0)
        for b, rate in rates.items()) / total
    load = analysis.offered_load(process)
    unit_work = process.calendar.work_hours(unit)
    work = {rid: load[rid] / total * unit_work for rid in process.roles}
    line = timeline(process, plan)
    hours = HOURS[unit]
    leads = tuple(total * (e - b) for b, e in zip(line.begin, line.end, strict=True))
    roles: dict[str, tuple[RoleMonth, ...]] = {}
    full: dict[str, float] = {}
    for rid, role in process.roles.items():
        if work[rid] <= 0:
            continue
        people = roster(process, plan, rid, hires.get(rid))
        clock = None if role.calendar.always else WorkingClock(role.calendar, line.start)

        def worked(t: float, clock: WorkingClock | None = clock) -> float:
            return t * hours if clock is None else clock.worked(t * hours)

        ramp = plan.role(rid).ramp if rid in plan.roles else role.ramp
        ramp_hours = 0.0 if ramp is None else ramp.weeks * (
            168.0 if clock is None else role.calendar.hours_per_week)
        months = []
        for m in range(plan.months):
            w0, w1 = worked(line.begin[m]), worked(line.end[m])
            effective = math.fsum(
                _ramped_hours(ramp, ramp_hours, worked(line.begin[p.joined])
                              if p.joined is not None else -math.inf, w0, w1)
                for p in people if p.present(m)) / (w1 - w0) if w1 > w0 else 0.0
            carried = effective * (w1 - w0) / work[rid]
            months.append(RoleMonth(sum(p.present(m) for p in people), effective, carried,
                                    carried * per_lead))
        roles[rid] = tuple(months)
        span = [worked(e) - worked(b) for b, e in zip(line.begin, line.end, strict=True)]
        full[rid] = math.fsum(span) / len(span) / work[rid] * per_lead
    figure, constraint = [], []
    for m in range(plan.months):
        bound, name = leads[m], "pipeline"
        for rid, by_month in roles.items():
            if by_month[m].leads < bound:
                bound, name = by_month[m].leads, rid
        figure.append(bound * per_lead)
        constraint.append(name)
    return Classic(per_lead, {r: w for r, w in work.items() if w > 0}, full, leads, roles,
                   tuple(figure), tuple(constraint))


def _ramped_hours(ramp: Ramp | None, length: float, joined: float, w0: float, w1: float
                  ) -> float:
    """Full-speed working hours a person who joined at working hour *joined* gives from
    working hour *w0* to *w1* (the engine's ramp: speed rising evenly from ramp.start to
    1 over *length* working hours)."""
    if ramp is None or not math.isfinite(joined):
        return w1 - w0
    s = ramp.start

    def done(w: float) -> float:  # full-speed hours given from joining to working hour w
        x = max(0.0, w - joined)
        if x >= length:
            return s * length + (1 - s) * length / 2 + (x - length)
        return s * x + (1 - s) * x * x / (2 * length)

    return done(w1) - done(w0)


# --- simulating a plan -------------------------------------------------------------------


@dataclass
class Evaluation:
    """One hiring schedule simulated: the measure of each plan month in each replication."""

    hires: dict[str, tuple[int, ...]]
    cost: float
    runs: list[list[float]]  # [replication][month]

    def totals(self, plan: Plan) -> list[float]:
        """Each replication's measure over the targets' months."""
        months = [m for t in plan.targets for m in range(t.first, t.last + 1)]
        return [math.fsum(run[m] for m in months) for run in self.runs]

    def chance(self, plan: Plan) -> float:
        """The share of replications that make the plan's number."""
        totals = self.totals(plan)
        return sum(t >= plan.total * (1 - 1e-12) for t in totals) / max(1, len(totals))


def plan_settings(process: Process, plan: Plan, *, replications: int | None = None,
                  seed: int | None = None, workers: int | None = None) -> Settings:
    """The run settings of a plan: its months after the warm-up."""
    line = timeline(process, plan)
    return resolve_settings(process, horizon=line.horizon, warmup=line.warmup,
                            replications=replications, seed=seed, workers=workers)


def payroll(process: Process, plan: Plan, hires: Mapping[str, Sequence[int]] = {}) -> float:
    """What the roles with a cost cost over the plan: person-months × cost ÷ 12."""
    return math.fsum(
        rp.cost / 12.0 * sum(headcounts(roster(process, plan, rid, hires.get(rid)),
                                        plan.months))
        for rid, rp in plan.roles.items() if rp.cost is not None)


def evaluate(process: Process, plan: Plan, settings: Settings,
             schedules: Sequence[Mapping[str, Sequence[int]]],
             progress: Callable[[int, int], None] | None = None) -> list[Evaluation]:
    """Each hiring schedule simulated on the same seeds (common random numbers)."""
    processes = [planned_process(process, plan, s) for s in schedules]
    results = simulate_many(processes, settings, progress=progress)
    labels = plan.labels
    figure = FIGURE[plan.measure]
    found = []
    for schedule, result in zip(schedules, results, strict=True):
        months = [result.replications.column(Key("month", label, figure))
                  for label in labels]
        runs = [list(run) for run in zip(*months, strict=True)] if months else \
            [[] for _ in range(len(result.replications))]
        hires = {rid: tuple(schedule.get(rid, plan.role(rid).hires)) for rid in plan.roles}
        found.append(Evaluation(hires, payroll(process, plan, schedule), runs))
    return found


@dataclass
class Optimisation:
    """The cheapest schedule found, what was tried, and its check on fresh seeds."""

    chance: float  # the chance asked for
    best: Evaluation | None  # None: no schedule within max_hires makes it
    tried: list[Evaluation]
    check: Estimate | None  # the best schedule's chance on fresh seeds
    check_runs: int = 0
    most: Evaluation | None = None  # every decided hire on the first day


def optimise(process: Process, plan: Plan, settings: Settings, chance: float = DEFAULT_CHANCE,
             check_replications: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> Optimisation:
    """The cheapest hiring schedule of the roles with a cost that makes the plan's number
    in at least *chance* of the replications, then checked on fresh seeds."""
    decided = [rid for rid, rp in plan.roles.items() if rp.cost is not None]
    if not decided:
        raise SalesprocError("nothing to optimise: no role of the plan has a cost",
                             hint="give a role `cost:` (a year per person) in the plan file")
    if not 0 < chance < 1:
        raise SalesprocError(f"the chance asked for must be between 0 and 1, not {chance:g}")
    never = plan.months
    slots = [rid for rid in decided for _ in range(plan.roles[rid].max_hires)]
    seen: dict[Schedule, Evaluation] = {}
    steps = [0]

    def hires_of(months: Sequence[int]) -> dict[str, tuple[int, ...]]:
        return {rid: tuple(sorted(m for r, m in zip(slots, months, strict=True)
                                  if r == rid and m < never)) for rid in decided}

    def run(months: Sequence[int]) -> Evaluation:
        hires = hires_of(months)
        key: Schedule = tuple(sorted(hires.items()))
        if key not in seen:
            seen[key] = evaluate(process, plan, settings, [hires])[0]
            steps[0] += 1
            if progress:
                progress(steps[0], steps[0] + len(slots))
        return seen[key]

    def makes(months: Sequence[int]) -> bool:
        return run(months).chance(plan) >= chance

    months = [0] * len(slots)
    most = run(months)
    if not makes(months):
        return Optimisation(chance, None, list(seen.values()), None, 0, most)
    for _ in range(3):  # passes until no hire moves (two are nearly always enough)
        moved = False
        for i in reversed(range(len(slots))):
            # low makes it; find the latest month that does: a role's hires are alike, so
            # its hires stay in order (no later than the next one's month)
            later = [months[j] for j in range(i + 1, len(slots)) if slots[j] == slots[i]]
            low, high = months[i], min([never, *later])
            trial = list(months)
            trial[i] = high
            if makes(trial):
                low = high
            while high - low > 1:
                mid = (low + high) // 2
                trial[i] = mid
                if makes(trial):
                    low = mid
                else:
                    high = mid
            if low != months[i]:
                months[i], moved = low, True
        if not moved:
            break
    best = run(months)
    fresh = replace(settings, seed=settings.seed + CHECK_SEED_OFFSET,
                    replications=check_replications or settings.replications * 2)
    checked = evaluate(process, plan, fresh, [best.hires])[0]
    hits = sum(t >= plan.total * (1 - 1e-12) for t in checked.totals(plan))
    return Optimisation(chance, best, list(seen.values()), proportion(hits, len(checked.runs)),
                        len(checked.runs), most)


def frontier(tried: Sequence[Evaluation], plan: Plan) -> list[Evaluation]:
    """The trade-off curve: of the schedules tried, those no cheaper one beats on chance,
    by cost."""
    found: list[Evaluation] = []
    for e in sorted(tried, key=lambda e: (e.cost, -e.chance(plan))):
        if not found or e.chance(plan) > found[-1].chance(plan):
            found.append(e)
    return found


# --- the result --------------------------------------------------------------------------


@dataclass
class PlanResult:
    """A plan simulated: the monthly measure against the targets, the team, the classic
    arithmetic and (optimised) the cheapest schedule."""

    process: Process
    plan: Plan
    settings: Settings
    evaluation: Evaluation
    classic: Classic
    deterministic: bool = False
    optimisation: Optimisation | None = None
    notes: list[str] = field(default_factory=list)

    def month_range(self, month: int) -> tuple[float, float, float]:
        return outcome_range([run[month] for run in self.evaluation.runs])

    def target_chance(self, index: int) -> Estimate:
        """The chance (Wilson 95% interval) of making target *index*."""
        t = self.plan.targets[index]
        hits = sum(math.fsum(run[t.first: t.last + 1]) >= t.amount * (1 - 1e-12)
                   for run in self.evaluation.runs)
        return proportion(hits, len(self.evaluation.runs))

    def total_chance(self) -> Estimate:
        totals = self.evaluation.totals(self.plan)
        return proportion(sum(t >= self.plan.total * (1 - 1e-12) for t in totals),
                          len(totals))

    def to_dict(self) -> dict[str, Any]:
        """The JSON layout of `plan --format json` (and what its charts draw from)."""
        plan, ev, cl = self.plan, self.evaluation, self.classic
        months = []
        for m, label in enumerate(plan.labels):
            worst, neutral, best = self.month_range(m)
            values = [run[m] for run in ev.runs]
            so_far = outcome_range([math.fsum(run[: m + 1]) for run in ev.runs])
            targeted = math.fsum(t.amount for t in plan.targets if t.last <= m)
            months.append({
                "month": label, "worst": _num(worst), "neutral": _num(neutral),
                "best": _num(best), "mean": _num(math.fsum(values) / len(values)),
                "classic": cl.figure[m], "constraint": cl.constraint[m],
                "roles": {rid: {"headcount": rm[m].headcount,
                                "effective": round(rm[m].effective, 4),
                                "capacity": rm[m].bookings}
                          for rid, rm in cl.roles.items()},
                "pipeline": cl.leads[m] * cl.per_lead,
                "cumulative": layout.outcome(*so_far), "targets_so_far": targeted})
        targets = []
        for k, t in enumerate(plan.targets):
            e = self.target_chance(k)
            totals = [math.fsum(run[t.first: t.last + 1]) for run in ev.runs]
            worst, neutral, best = outcome_range(totals)
            targets.append({"period": t.label, "first": plan.labels[t.first],
                            "last": plan.labels[t.last], "target": t.amount,
                            "chance": _estimate(e), "worst": _num(worst),
                            "mean": math.fsum(totals) / len(totals),
                            "neutral": _num(neutral), "best": _num(best),
                            "classic": math.fsum(cl.figure[t.first: t.last + 1])})
        out: dict[str, Any] = {
            **layout.header("plan"), "process": self.process.name, "plan": plan.source,
            "measure": plan.measure,
            "currency": self.process.currency, "start": plan.labels[0],
            "months_planned": plan.months, "replications": self.settings.replications,
            "seed": self.settings.seed, "deterministic": self.deterministic,
            "number": plan.total, "chance": _estimate(self.total_chance()),
            "cost": ev.cost if any(r.cost is not None for r in plan.roles.values()) else None,
            "hires": {rid: [plan.labels[m] for m in ms] for rid, ms in ev.hires.items()},
            "classic": {"per_lead": cl.per_lead, "work_per_lead_hours": dict(cl.work_per_lead),
                        "full_speed_month": dict(cl.full_month),
                        "quota": {rid: rp.quota for rid, rp in plan.roles.items()
                                  if rp.quota is not None}},
            "months": months, "targets": targets, "notes": list(self.notes)}
        if self.optimisation is not None:
            out["optimisation"] = self._optimisation_dict(self.optimisation)
        return out

    def _optimisation_dict(self, o: Optimisation) -> dict[str, Any]:
        plan = self.plan

        def point(e: Evaluation) -> dict[str, Any]:
            return {"cost": e.cost, "chance": e.chance(plan),
                    "hires": {rid: [plan.labels[m] for m in ms] for rid, ms in e.hires.items()}}

        return {"chance_asked": o.chance, "schedules_tried": len(o.tried),
                "answer": None if o.best is None else point(o.best),
                "every_hire_first": None if o.most is None else point(o.most),
                "check": None if o.check is None else {**_estimate(o.check),
                                                       "replications": o.check_runs},
                "frontier": [point(e) for e in frontier(o.tried, plan)],
                "explanation": explain(self.process, plan, o)}


def _num(x: float) -> float | None:
    return None if math.isnan(x) else x


def _estimate(e: Estimate) -> dict[str, Any]:
    return layout.estimate(e)


def describe_hires(plan: Plan, hires: Mapping[str, Sequence[int]]) -> str:
    """'2 ae (2026-05, 2026-08) and no sdr' in words."""
    parts = []
    for rid, months in hires.items():
        if months:
            parts.append(f"{len(months)} {rid} ({', '.join(plan.labels[m] for m in months)})")
        else:
            parts.append(f"no {rid}")
    return " and ".join(parts) if parts else "nobody"


def explain(process: Process, plan: Plan, o: Optimisation) -> str:
    """The optimiser's answer in words."""
    what = _amount(process, plan, plan.total)
    if o.best is None:
        most = "" if o.most is None else (
            ": hiring every allowed person in the first month "
            f"({describe_hires(plan, o.most.hires)}) makes it in {o.most.chance(plan):.0%} of runs")
        return (f"No schedule within max_hires makes {what} in {o.chance:.0%} of runs{most}. "
                "Allow more hires (max_hires), lower the target, or plan more pipeline.")
    cheaper = [e for e in o.tried if e.cost < o.best.cost]
    nearest = max(cheaper, key=lambda e: e.cost) if cheaper else None
    text = (f"Hire {describe_hires(plan, o.best.hires)}: the cheapest of {len(o.tried)} "
            f"schedules tried that makes {what} in at least {o.chance:.0%} of runs "
            f"({o.best.chance(plan):.0%} of {len(o.best.runs)} in the search")
    if o.check is not None:
        text += (f"; {o.check.mean:.0%} ({o.check.low:.0%}–{o.check.high:.0%}) of "
                 f"{o.check_runs} runs on fresh seeds")
    text += f"). It costs {_money(process, o.best.cost)} over the plan's {plan.months} months."
    if nearest is not None:
        text += (f" The nearest cheaper schedule tried ({describe_hires(plan, nearest.hires)}, "
                 f"{_money(process, nearest.cost)}) makes it in {nearest.chance(plan):.0%} "
                 "of runs.")
    return text


def _money(process: Process, x: float) -> str:
    return f"{process.currency} {x:,.0f}"


def _amount(process: Process, plan: Plan, x: float) -> str:
    return _money(process, x) if plan.measure == "bookings" else f"{x:,.0f} deals won"


def run_plan(process: Process, plan: Plan, *, replications: int | None = None,
             seed: int | None = None, workers: int | None = None,
             deterministic: bool = False, optimise_for: float | None = None,
             progress: Callable[[int, int], None] | None = None) -> PlanResult:
    """Simulate *plan* on *process* (every time and value at its mean with
    *deterministic*); with *optimise_for*, also find the cheapest schedule that makes the
    number with that chance, and report that schedule's months."""
    base = without_variance(process) if deterministic else process
    settings = plan_settings(base, plan, replications=replications, seed=seed,
                             workers=workers)
    notes = []
    if base.arrivals is not None and (set(base.arrivals.months) != {1.0}
                                      or set(base.arrivals.weekdays) != {1.0}):
        notes.append("leads arrive by season: the classic arithmetic spreads them evenly")
    if process.simulation.warmup <= 0:
        notes.append(f"the process has no warm-up: the pipeline fills for "
                     f"{DEFAULT_WARMUP_DAYS:g} days before the plan's first month")
    optimisation = None
    hires: Mapping[str, Sequence[int]] = {}
    if optimise_for is not None:
        optimisation = optimise(base, plan, settings, optimise_for, progress=progress)
        if optimisation.best is not None:
            hires = optimisation.best.hires
    if optimisation is not None and optimisation.best is not None:
        evaluation = optimisation.best  # simulated in the search, on the same seeds
    else:
        evaluation = evaluate(base, plan, settings, [hires],
                              None if optimise_for is not None else progress)[0]
    return PlanResult(process, plan, settings, evaluation, classic(base, plan, hires),
                      deterministic, optimisation, notes)
