"""What-if: paired comparisons of process variants, and sweeps of one or two settings.

Every variant runs with the same seed and replication numbers as the base. Random
streams are named by what they drive (arrivals, deal values, each stage's draws), so the
same deals arrive at the same times with the same values in every variant, and a stage
that exists in both draws the same numbers (common random numbers). The difference of a
figure is then estimated from paired replications: mean of (variant - base) with a
Student-t interval, far narrower than comparing two independent runs.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from salesproc.core import layout
from salesproc.core.defaults import HIRE_REPLICATIONS, MAX_HIRE_CHECKS, MAX_SWEEP_POINTS
from salesproc.core.diagnostics import shown
from salesproc.core.errors import SalesprocError, SettingsError
from salesproc.core.stats import CONFIDENCE, Estimate, bonferroni, proportion, significant
from salesproc.core.units import convert
from salesproc.experiments.experiment import simulate, simulate_many
from salesproc.experiments.results import INTERVAL, Hire, SimulationResult, Wait
from salesproc.process.model import Process, Settings
from salesproc.sim.metrics import Key

ChangeStyle = Literal["relative", "points", "time", "absolute"]


@dataclass(frozen=True)
class Headline:
    """A figure a comparison reports, and how its change is best said."""

    key: Key
    label: str
    style: ChangeStyle  # relative: ±%; points: percentage points; time: in the time unit
    lower_is_better: bool = False  # a shorter cycle is good news; fewer wins is not

    def better(self, difference: float) -> bool:
        """Whether a change of *difference* is good news for a sales team."""
        return difference < 0 if self.lower_is_better else difference > 0


HEADLINE: tuple[Headline, ...] = (
    Headline(Key("all", "", "won"), "Won deals", "relative"),
    Headline(Key("all", "", "revenue"), "Revenue", "relative"),
    Headline(Key("all", "", "lead_to_win"), "Lead-to-win rate", "points"),
    Headline(Key("all", "", "opportunity_win_rate"), "Opportunity win rate", "points"),
    Headline(Key("all", "", "cycle_mean"), "Cycle time", "time", lower_is_better=True),
    Headline(Key("all", "", "throughput_month"), "Wins a month", "relative"),
    Headline(Key("all", "", "open_weighted"), "Weighted end pipeline", "relative"),
)
WON = HEADLINE[0].key


def headline(buyer: str | None = None) -> tuple[Headline, ...]:
    """The figures a comparison reports: of all deals, or of one buyer type's deals."""
    if buyer is None:
        return HEADLINE
    return tuple(replace(h, key=Key("buyer", buyer, h.key.metric)) for h in HEADLINE)


@dataclass
class Variant:
    """A named process and its simulation."""

    label: str
    result: SimulationResult


@dataclass
class Comparison:
    """A base and its variants, simulated with the same seeds and the same deals."""

    base: Variant
    variants: list[Variant]
    buyer: str | None = None  # the figures are of this buyer type's deals (all simulated)

    @property
    def headline(self) -> tuple[Headline, ...]:
        """The figures reported, in the scope of :attr:`buyer`."""
        return headline(self.buyer)

    def difference(self, variant: Variant, key: tuple[str, ...]) -> Estimate:
        """Mean of the paired (variant - base) differences of a figure (named as in
        ``result["all", "won"]``), with its 95% interval."""
        key = Key.of(*key)
        pairs = zip(self.base.result.replications.column(key),
                    variant.result.replications.column(key), strict=True)
        return Estimate.of([v - b for b, v in pairs])

    COLUMNS = ("variant", "metric", "base", "variant_mean", "difference", "low", "high",
               "significant", "variant_worst", "variant_neutral", "variant_best")

    def rows(self) -> list[list[Any]]:
        """One row per variant and headline figure (COLUMNS): the base's and the variant's
        means, their paired difference with its 95% interval, and the variant's outcome
        range. The CSV's rows."""
        rows = []
        for variant in self.variants:
            for h in self.headline:
                diff = self.difference(variant, h.key)
                rows.append([variant.label, h.key.metric, self.base.result.summary[h.key].mean,
                             variant.result.summary[h.key].mean, diff.mean, diff.low,
                             diff.high, significant(diff), *variant.result.ranges[h.key]])
        return rows

    def to_frame(self) -> Any:
        """The rows as a pandas DataFrame (needs pandas)."""
        return layout.frame(self.rows(), self.COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON layout of `compare` (docs/commands.md)."""
        base = self.base.result
        variants = []
        for variant in self.variants:
            figures = {}
            for h in self.headline:
                diff = self.difference(variant, h.key)
                figures[h.key.metric] = {
                    "base": layout.figure(base.summary[h.key], base.ranges[h.key]),
                    "variant": layout.figure(variant.result.summary[h.key],
                                             variant.result.ranges[h.key]),
                    "difference": layout.estimate(diff), "significant": significant(diff)}
            variants.append({
                "label": variant.label, "name": variant.result.process.name,
                "file": variant.result.process.source, "verdict": verdict(self, variant),
                "figures": figures,
                "longest_wait": {"base": _place(base.longest_wait()),
                                 "variant": _place(variant.result.longest_wait())}})
        return {
            **layout.header("comparison"),
            "base": {"label": self.base.label, "name": base.process.name,
                     "file": base.process.source, "time_unit": base.process.time_unit,
                     "currency": base.process.currency, "names": base.process.names()},
            "buyer": self.buyer,
            "settings": {"horizon": base.settings.horizon, "warmup": base.settings.warmup,
                         "replications": base.settings.replications,
                         "seed": base.settings.seed},
            "interval": INTERVAL,
            "variants": variants,
        }


def _place(wait: Wait | None) -> list[str] | None:
    return None if wait is None else [wait.stage, wait.role]


def compare(base: tuple[str, Process], variants: Sequence[tuple[str, Process]],
            settings: Settings, *, independent: bool = False, buyer: str | None = None,
            progress: Callable[[int, int], None] | None = None) -> Comparison:
    """Simulate *base* and each variant with the same settings and seeds.

    Every buyer type is simulated (they share the team); with *buyer*, the figures
    reported are that buyer type's. *independent* gives each variant its own seed
    instead: only to show what common random numbers buy (the interval of the
    difference is then much wider).
    """
    runs = [base, *variants]
    for label, process in variants:
        if process.time_unit != base[1].time_unit:
            raise SalesprocError(f"{label} counts time in {process.time_unit}s, the base in "
                                 f"{base[1].time_unit}s", hint="compare processes with one "
                                 "time_unit")
    if buyer is not None:
        for label, process in runs:
            if buyer not in process.buyer_types:
                raise SettingsError("buyer", f"{label} has no buyer type '{shown(buyer)}'; "
                                    "choose one of: " + ", ".join(process.buyer_types))
    if independent:
        results = [Variant(label, simulate(process,
                                           replace(settings, seed=settings.seed + 7919 * i)))
                   for i, (label, process) in enumerate(runs)]
    else:
        done = simulate_many([process for _, process in runs], settings, progress=progress)
        results = [Variant(label, result) for (label, _), result in zip(runs, done, strict=True)]
    return Comparison(results[0], results[1:], buyer)


def change_text(diff: Estimate, style: ChangeStyle, base_mean: float, unit: str) -> str:
    """'+4.1% [+1.2%, +7.0%]', '+6.1 days [5.2, 7.0]', '+0.6 points [-0.1, +1.3]'."""
    if diff.n == 0 or math.isnan(diff.mean):
        return "no data"
    if diff.n < 2:
        return "cannot be judged from 1 replication"
    if style == "relative" and base_mean:
        scale, suffix = 100.0 / abs(base_mean), "%"
    elif style == "points":
        scale, suffix = 100.0, " points"
    else:
        scale, suffix = 1.0, f" {unit}s" if style == "time" else ""
    largest = max(abs(v * scale) for v in (diff.mean, diff.low, diff.high)
                  if not math.isnan(v))
    digits = 1 if largest >= 1 else 2 if largest >= 0.1 else 3  # tiny changes stay visible

    def number(x: float) -> str:
        text = f"{x * scale:+,.{digits}f}"  # -0.0 shown as 0.0, whatever its size
        return text[1:] if round(x * scale, digits) == 0 else text

    mean = number(diff.mean) + suffix
    if math.isnan(diff.low):
        return mean
    unit_mark = "%" if suffix == "%" else ""
    return f"{mean} [{number(diff.low)}{unit_mark}, {number(diff.high)}{unit_mark}]"


def verdict(comparison: Comparison, variant: Variant) -> str:
    """One or two sentences a revenue leader can act on."""
    unit = variant.result.process.time_unit
    if comparison.base.result.settings.replications < 2:
        return (f"{variant.label}: no difference can be judged from one replication; "
                "run at least 2 (20 or more for small differences).")
    moved, still = [], []
    for h in comparison.headline[:5]:
        diff = comparison.difference(variant, h.key)
        base_mean = comparison.base.result.summary[h.key].mean
        if significant(diff):
            moved.append(f"{h.label.lower()} {change_text(diff, h.style, base_mean, unit)}")
        else:
            still.append(h.label.lower())
    whose = "" if comparison.buyer is None else (
        f" for {variant.result.process.buyer_types[comparison.buyer].name} deals")
    text = f"{variant.label}{whose}: " + ("; ".join(moved) if moved else
                                          "no significant change")
    if still and moved:
        text += f"; no significant change in {', '.join(still)}"
    text += "."
    before, after = comparison.base.result.longest_wait(), variant.result.longest_wait()
    if before and after and (before.stage, before.role) != (after.stage, after.role):
        text += (f" The longest wait for people moves from {before.stage} ({before.role}) "
                 f"to {after.stage} ({after.role}).")
    elif after:
        text += f" The longest wait for people stays at {after.stage} ({after.role})."
    return text


# --- where to hire ------------------------------------------------------------------------


def check_hires(base: SimulationResult, *,
                progress: Callable[[int, int], None] | None = None) -> SimulationResult:
    """*base* with its hires checked (:attr:`SimulationResult.hires`, which
    :meth:`SimulationResult.bottleneck` reads): one more person in each role deals waited
    for, each simulated with the base's settings and seeds, so the same deals arrive
    (common random numbers), and compared with it pair by pair: the paired differences
    of the mean cycle time and of the won deals, over the first HIRE_REPLICATIONS
    replications at most (a hire helps where one of them surely changes by
    MATERIAL_CHANGE of the base's or more). Only roles some deal waited for (busy people,
    not the working day) are tried, the MAX_HIRE_CHECKS longest waited for: one more
    person nobody waited for serves no one sooner."""
    process, settings = base.process, base.settings
    if settings.replications < 2:  # no paired interval from one run: nothing is checked
        return base.with_hires(())
    # the first HIRE_REPLICATIONS runs, paired with the base's of the same numbers: the
    # change a hire worth making is large next to their spread
    settings = replace(settings, replications=min(settings.replications, HIRE_REPLICATIONS))
    waited = {r: base.get("role", r, "queue_days").mean for r in process.roles}
    roles = sorted((r for r, days in waited.items() if days > 0),
                   key=lambda r: -waited[r])[:MAX_HIRE_CHECKS]
    if not roles:
        return base.with_hires(())
    runs = simulate_many([process.with_changes({f"roles.{r}.headcount": _one_more(process, r)})
                          for r in roles], settings, progress=progress)
    first = replace(base, replications=base.replications[:settings.replications],
                    _summary=None, _ranges=None)
    pairs = Comparison(Variant("base", first), [Variant(r, run) for r, run in zip(
        roles, runs, strict=True)])
    return base.with_hires([Hire(v.label, process.roles[v.label].headcount,
                                 pairs.difference(v, ("all", "cycle_mean")),
                                 pairs.difference(v, ("all", "won")),
                                 first.get("all", "cycle_mean").mean,
                                 first.get("all", "won").mean)
                            for v in pairs.variants])


def _one_more(process: Process, role: str) -> int | dict[str, int]:
    """The role's headcount with one more person throughout: a number, or each dated
    headcount plus one (the dates are whole days from the start)."""
    staffed = process.roles[role]
    if not staffed.staffing:
        return staffed.headcount + 1
    return {(process.start + dt.timedelta(days=round(convert(t, process.time_unit, "day"))))
            .isoformat(): n + 1 for t, n in staffed.staffing}


# --- sweeps -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    """One setting and the values a sweep gives it."""

    setting: str
    values: tuple[str, ...]


def parse_sweep(option: str) -> Sweep:
    """A sweep as written on the command line: 'roles.ae.headcount=2..8', '...=2..10:2'
    (a range with its step), '...=0.2,0.4,0.6' or a single value; a YAML mapping or list
    ('{...}', '[...]') is one value. A bad one raises a SettingsError of the setting 'set'."""

    def bad(message: str) -> SettingsError:
        return SettingsError("set", f"'{shown(option)}': {message}")

    setting, sep, spec = option.partition("=")
    spec = spec.strip()
    if not sep or not setting.strip() or not spec:
        raise bad("give PATH=VALUES, e.g. roles.ae.headcount=2..8 or "
                  "stages.demo.work=0.5,1,2")
    if spec.startswith(("{", "[")):
        values: tuple[str, ...] = (spec,)
    elif ".." in spec:
        values = _sweep_range(spec, bad)
    else:
        values = tuple(v.strip() for v in spec.split(","))
    if any(not v for v in values):
        raise bad("a value is empty")
    return Sweep(setting.strip(), values)


@dataclass(frozen=True)
class SweepTarget:
    """`sweep --target`: the number the measured window must bring (*measure* is
    bookings, the value of deals won, or deals, deals won), and the chance asked."""

    measure: str
    amount: float
    chance: float = 0.8

    @property
    def metric(self) -> str:
        """The simulated figure it is met by."""
        return "revenue" if self.measure == "bookings" else "won"


def parse_target(option: str, chance: float = 0.8) -> SweepTarget:
    """A target as written on the command line: 'bookings=5000000' or 'deals=300'; a bad
    one raises a SettingsError of the setting 'target'."""
    measure, sep, amount = option.partition("=")
    measure = measure.strip()
    try:
        value = _number(amount)
    except ValueError:
        value = math.nan
    if not sep or measure not in ("bookings", "deals") or not value > 0:
        raise SettingsError("target", f"'{shown(option)}' is not a target",
                            hint="give bookings=AMOUNT or deals=COUNT above 0, e.g. "
                            "bookings=5000000")
    return SweepTarget(measure, value, chance)


def _sweep_range(spec: str, bad: Callable[[str], SettingsError]) -> tuple[str, ...]:
    """FROM..TO[:STEP] as its values, written as whole numbers where all three are."""
    bounds, _, step_text = spec.partition(":")
    low_text, _, high_text = bounds.partition("..")
    try:
        low, high = _number(low_text), _number(high_text)
        step = _number(step_text) if step_text else 1.0
    except ValueError:
        raise bad("a range is FROM..TO or FROM..TO:STEP with ordinary numbers, e.g. 2..8 "
                  "or 0.5..2:0.5") from None
    if step <= 0 or high < low:
        raise bad("the range must go up, with a step above 0")
    count = math.floor((high - low) / step + 1e-9) + 1
    if count > MAX_SWEEP_POINTS:
        raise bad(f"{count} values are more than {MAX_SWEEP_POINTS}; use a larger step")
    whole = all(x == int(x) for x in (low, high, step))
    return tuple(str(int(low + i * step)) if whole else f"{low + i * step:g}"
                 for i in range(count))


def _number(text: str) -> float:
    """A finite number of sensible size (not nan, inf or hundreds of digits)."""
    text = text.strip()
    value = float(text) if len(text) <= 30 else math.inf
    if not math.isfinite(value) or abs(value) > 1e15:
        raise ValueError(text)
    return value


def sweep(processes: Sequence[Process], points: Sequence[tuple[str, ...]],
          settings: Settings, *, buyer: str | None = None,
          progress: Callable[[int, int], None] | None = None,
          target: SweepTarget | None = None) -> SweepResult:
    """Simulate one process per point (built by the caller from the base and each point's
    PATH=VALUE settings), the first as the base, all with the same seeds; with *buyer*,
    the figures are that buyer type's deals."""
    labels = [" ".join(point) for point in points]
    done = compare((labels[0], processes[0]),
                   list(zip(labels[1:], processes[1:], strict=True)), settings,
                   buyer=buyer, progress=progress)
    return SweepResult(done, list(points), target)


def sweep_points(sweeps: Sequence[Sweep]) -> list[tuple[str, ...]]:
    """Every combination, as PATH=VALUE settings; at most two settings may vary, each
    given once (a setting given twice would make a grid whose cells differ in nothing
    but the label). Else a SettingsError of the setting 'set'."""
    named = [s.setting for s in sweeps]
    twice = next((n for i, n in enumerate(named) if n in named[:i]), None)
    if twice is not None:
        raise SettingsError("set", f"'{shown(twice)}' is given twice",
                            hint="give all its values at once, e.g. 2..5 or 2,4,8")
    varying = [s for s in sweeps if len(s.values) > 1]
    if len(varying) > 2:
        raise SettingsError("set", "a sweep varies one or two settings at a time",
                            hint="fix the others to one value each")
    points = list(itertools.product(*[[f"{s.setting}={v}" for v in s.values]
                                      for s in sweeps]))
    if len(points) > MAX_SWEEP_POINTS:
        raise SettingsError("set", f"this sweep has {len(points)} combinations; at most "
                            f"{MAX_SWEEP_POINTS}")
    return [tuple(p) for p in points]


def previous_point(points: Sequence[tuple[str, ...]], index: int) -> int | None:
    """The point a sweep's step at *index* is paired with: the one before it where only
    the last varying setting moved (a step across a row of a two-setting grid would move
    both settings, and judges nothing); None for the first point of a row."""
    if index == 0:
        return None
    changed = [i for i, (a, b) in enumerate(zip(points[index - 1], points[index],
                                                strict=True)) if a != b]
    return index - 1 if len(changed) == 1 else None


def step_confidence(comparison: Comparison, steps: int | None = None) -> float:
    """The confidence of each step's interval in a sweep, so that all the steps together
    hold at 95% (Bonferroni over the number of steps tested: by default, one per
    variant)."""
    return bonferroni(CONFIDENCE, steps if steps is not None else len(comparison.variants))


def marginal(comparison: Comparison, index: int, key: tuple[str, ...],
             before: int | None = None, steps: int | None = None) -> Estimate | None:
    """Paired change from the point *before* (by default the previous one) to this one
    (None for the first), with the simultaneous interval of :func:`step_confidence`."""
    runs = [comparison.base, *comparison.variants]
    if before is None:
        if index == 0:
            return None
        before = index - 1
    earlier, later = runs[before].result.replications, runs[index].result.replications
    key = Key.of(*key)
    return Estimate.of([a - b for b, a in zip(earlier.column(key), later.column(key),
                                              strict=True)],
                       confidence=step_confidence(comparison, steps))


@dataclass
class SweepResult:
    """A setting (or two) swept over values: one simulation per point, paired step by
    step with the previous value of the last varying setting."""

    comparison: Comparison  # the first point is the base, the others its variants
    points: list[tuple[str, ...]]  # each point's PATH=VALUE settings
    target: SweepTarget | None = None  # `--target`: which point first makes the number

    def target_chances(self) -> list[Estimate]:
        """Each point's chance (Wilson 95% interval) of making the target over the
        measured window: the share of its replications that do."""
        if self.target is None:
            return []
        buyer = self.comparison.buyer  # with --buyer, that buyer type's deals
        key = Key("all", "", self.target.metric) if buyer is None else \
            Key("buyer", buyer, self.target.metric)
        found = []
        for run in self.runs:
            values = run.result.replications.column(key)
            found.append(proportion(sum(v >= self.target.amount for v in values),
                                    len(values)))
        return found

    def target_answer(self) -> tuple[str, ...] | None:
        """The first point (in the sweep's order) that makes the target in at least the
        chance asked of its replications; None when none does."""
        if self.target is None:
            return None
        return next((point for point, e in zip(self.points, self.target_chances(),
                                               strict=True)
                     if e.mean >= self.target.chance), None)

    @property
    def runs(self) -> list[Variant]:
        return [self.comparison.base, *self.comparison.variants]

    @property
    def headline(self) -> tuple[Headline, ...]:
        return self.comparison.headline

    def steps(self) -> int:
        """How many steps are judged together."""
        return sum(previous_point(self.points, i) is not None for i in range(len(self.points)))

    def step_confidence(self) -> float:
        return step_confidence(self.comparison, self.steps())

    def step(self, index: int, key: Key | None = None) -> Estimate | None:
        """The change of *key* (won deals by default) from the point before (None for the
        first point of a row)."""
        before = previous_point(self.points, index)
        if before is None:
            return None
        return marginal(self.comparison, index, key or self.headline[0].key, before,
                        self.steps())

    def varying(self) -> list[int]:
        """Positions, within a point, of the settings that take more than one value."""
        return [i for i in range(len(self.points[0]))
                if len({pt[i] for pt in self.points}) > 1]

    def last_gain(self) -> tuple[str, ...] | None:
        """The last point whose step adds a significant number of won deals."""
        found = None
        for index, point in enumerate(self.points):
            step = self.step(index)
            if step is not None and significant(step) and step.mean > 0:
                found = point
        return found

    def columns(self) -> list[str]:
        """One column per setting swept, then metric, mean, low, high, n."""
        return [*(p.split("=", 1)[0] for p in self.points[0]), "metric", "mean", "low",
                "high", "n"]

    def rows(self) -> list[list[Any]]:
        """One row per point and headline figure (:meth:`columns`): the CSV's rows."""
        rows = []
        for point, run in zip(self.points, self.runs, strict=True):
            values = [p.split("=", 1)[1] for p in point]
            for h in self.headline:
                e = run.result.summary[h.key]
                rows.append([*values, h.key.metric, e.mean, e.low, e.high, e.n])
        return rows

    def to_frame(self) -> Any:
        """The rows as a pandas DataFrame (needs pandas)."""
        return layout.frame(self.rows(), self.columns())

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON layout of `sweep` (docs/commands.md)."""
        rows = []
        for index, (point, run) in enumerate(zip(self.points, self.runs, strict=True)):
            step = self.step(index)
            rows.append({
                "settings": dict(p.split("=", 1) for p in point),
                "figures": {h.key.metric: layout.estimate(run.result.summary[h.key])
                            for h in self.headline},
                "longest_wait": _place(run.result.longest_wait()),
                "won_vs_previous": None if step is None else {
                    **layout.estimate(step), "significant": significant(step)}})
        base = self.comparison.base.result
        return {**layout.header("sweep"), "process": base.process.name,
                "file": base.process.source, "time_unit": base.process.time_unit,
                "currency": base.process.currency, "buyer": self.comparison.buyer,
                "horizon": base.settings.horizon, "warmup": base.settings.warmup,
                "replications": base.settings.replications,
                "seed": base.settings.seed, "interval": INTERVAL,
                "step_confidence": self.step_confidence(), "points": rows,
                "target": self._target_dict()}

    def _target_dict(self) -> dict[str, Any] | None:
        if self.target is None:
            return None
        answer = self.target_answer()
        return {"measure": self.target.measure, "amount": self.target.amount,
                "chance_asked": self.target.chance,
                "chances": [{"settings": dict(p.split("=", 1) for p in point),
                             **layout.estimate(e)}
                            for point, e in zip(self.points, self.target_chances(),
                                                strict=True)],
                "answer": None if answer is None else dict(p.split("=", 1) for p in answer)}
