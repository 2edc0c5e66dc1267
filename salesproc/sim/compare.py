"""What-if: paired comparisons of process variants, and sweeps of one or two settings.

Every variant runs with the same seed and replication numbers as the base. Random
streams are named by what they drive (arrivals, deal values, each stage's draws), so the
same deals arrive at the same times with the same values in every variant, and a stage
that exists in both draws the same numbers (common random numbers). The difference of a
figure is then estimated from paired replications: mean of (variant - base) with a
Student-t interval, far narrower than comparing two independent runs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from salesproc.defaults import MAX_SWEEP_POINTS
from salesproc.errors import SalesprocError
from salesproc.model import Process
from salesproc.sim.experiment import Settings, SimulationResult, simulate, simulate_many
from salesproc.sim.metrics import Key
from salesproc.stats import CONFIDENCE, Estimate, bonferroni, significant

#: The figures a comparison reports: key, label, how to show a change.
HEADLINE: tuple[tuple[Key, str, str], ...] = (
    (("all", "won"), "Won deals", "relative"),
    (("all", "revenue"), "Revenue", "relative"),
    (("all", "lead_to_win"), "Lead-to-win rate", "points"),
    (("all", "opportunity_win_rate"), "Opportunity win rate", "points"),
    (("all", "cycle_mean"), "Cycle time", "time"),
    (("all", "throughput_month"), "Wins a month", "relative"),
    (("all", "open_weighted"), "Weighted end pipeline", "relative"),
)


@dataclass
class Variant:
    label: str
    result: SimulationResult


@dataclass
class Comparison:
    base: Variant
    variants: list[Variant]

    def difference(self, variant: Variant, key: Key) -> Estimate:
        """Mean of the paired (variant - base) differences, with its 95% interval."""
        pairs = zip(self.base.result.replications, variant.result.replications, strict=True)
        return Estimate.of([v.get(key, math.nan) - b.get(key, math.nan) for b, v in pairs])


def compare(base: tuple[str, Process], variants: Sequence[tuple[str, Process]],
            settings: Settings, *, independent: bool = False,
            progress: Callable[[int, int], None] | None = None) -> Comparison:
    """Simulate *base* and each variant with the same settings and seeds.

    *independent* gives each variant its own seed instead: only to show what common
    random numbers buy (the interval of the difference is then much wider).
    """
    runs = [base, *variants]
    if independent:
        results = [Variant(label, simulate(process,
                                           replace(settings, seed=settings.seed + 7919 * i)))
                   for i, (label, process) in enumerate(runs)]
    else:
        done = simulate_many([process for _, process in runs], settings, progress=progress)
        results = [Variant(label, result) for (label, _), result in zip(runs, done, strict=True)]
    return Comparison(results[0], results[1:])


def change_text(diff: Estimate, style: str, base_mean: float, unit: str) -> str:
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
        text = f"{x * scale:+,.{digits}f}"
        return text[1:] if float(text) == 0 else text

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
    for key, label, style in HEADLINE[:5]:
        diff = comparison.difference(variant, key)
        base_mean = comparison.base.result[key].mean
        if significant(diff):
            moved.append(f"{label.lower()} {change_text(diff, style, base_mean, unit)}")
        else:
            still.append(label.lower())
    text = f"{variant.label}: " + ("; ".join(moved) if moved else "no significant change")
    if still and moved:
        text += f"; no significant change in {', '.join(still)}"
    text += "."
    before, after = comparison.base.result.bottleneck(), variant.result.bottleneck()
    if before and after and (before["stage"], before["role"]) != (after["stage"],
                                                                  after["role"]):
        text += (f" The bottleneck moves from {before['stage']} ({before['role']}) to "
                 f"{after['stage']} ({after['role']}).")
    elif after:
        text += f" The bottleneck stays at {after['stage']} ({after['role']})."
    return text


# --- sweeps -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    setting: str
    values: tuple[str, ...]


def parse_sweep(option: str) -> Sweep:
    """'roles.ae.headcount=2..8', '...=2..10:2', '...=0.2,0.4,0.6' or a single value."""
    setting, sep, spec = option.partition("=")
    if not sep or not setting.strip() or not spec.strip():
        raise SalesprocError(f"--set {option!r} is not PATH=VALUES",
                             hint="e.g. --set roles.ae.headcount=2..8 or --set "
                             "stages.demo.work=0.5,1,2")
    spec = spec.strip()
    if ".." in spec and not spec.startswith(("{", "[")):
        values = _range(option, spec)
    else:
        values = tuple(v.strip() for v in spec.split(",")) if not spec.startswith(
            ("{", "[")) else (spec,)
    if not values or any(not v for v in values):
        raise SalesprocError(f"--set {option!r} has an empty value")
    return Sweep(setting.strip(), values)


def _range(option: str, spec: str) -> tuple[str, ...]:
    bounds, _, step_text = spec.partition(":")
    low_text, _, high_text = bounds.partition("..")
    try:
        low, high = _number(low_text), _number(high_text)
        step = _number(step_text) if step_text else 1.0
    except ValueError:
        raise SalesprocError(f"--set {option!r}: a range is FROM..TO or FROM..TO:STEP, with "
                             "ordinary numbers", hint="e.g. 2..8 or 0.5..2:0.5") from None
    if step <= 0 or high < low:
        raise SalesprocError(f"--set {option!r}: the range must go up, with a step above 0")
    count = math.floor((high - low) / step + 1e-9) + 1
    if count > MAX_SWEEP_POINTS:
        raise SalesprocError(f"--set {option!r} has {count} values; at most "
                             f"{MAX_SWEEP_POINTS}", hint="use a larger step")
    whole = all(x == int(x) for x in (low, high, step))
    return tuple(str(int(low + i * step)) if whole else f"{low + i * step:g}"
                 for i in range(count))


def _number(text: str) -> float:
    """A finite number of sensible size (not nan, inf or hundreds of digits)."""
    text = text.strip()
    if len(text) > 30:
        raise ValueError(text)
    value = float(text)
    if not math.isfinite(value) or abs(value) > 1e15:
        raise ValueError(text)
    return value


def sweep_points(sweeps: Sequence[Sweep]) -> list[tuple[str, ...]]:
    """Every combination, as --set options; at most two settings may vary."""
    varying = [s for s in sweeps if len(s.values) > 1]
    if len(varying) > 2:
        raise SalesprocError("a sweep varies one or two settings at a time",
                             hint="fix the others to one value each")
    points = list(itertools.product(*[[f"{s.setting}={v}" for v in s.values]
                                      for s in sweeps]))
    if len(points) > MAX_SWEEP_POINTS:
        raise SalesprocError(f"this sweep has {len(points)} combinations; at most "
                             f"{MAX_SWEEP_POINTS}")
    return [tuple(p) for p in points]


def step_confidence(comparison: Comparison) -> float:
    """The confidence of each step's interval in a sweep, so that all the steps together
    hold at 95% (Bonferroni over the number of steps tested)."""
    return bonferroni(CONFIDENCE, len(comparison.variants))


def marginal(comparison: Comparison, index: int, key: Key) -> Estimate | None:
    """Paired change from the previous sweep point to this one (None for the first), with
    the simultaneous interval of :func:`step_confidence`."""
    runs = [comparison.base, *comparison.variants]
    if index == 0:
        return None
    before, after = runs[index - 1].result.replications, runs[index].result.replications
    return Estimate.of([a.get(key, math.nan) - b.get(key, math.nan)
                        for b, a in zip(before, after, strict=True)],
                       confidence=step_confidence(comparison))
