"""How sure the fitted values are, put into the forecast: each group of a forecast's runs
draws the calibrated process's values from their sampling distributions, so that the
runs' spread holds the estimation error as well as the process's own randomness.

A calibration fits an arrival rate from a few hundred deals, route shares from a few
dozen visits a stage, a mean deal value from the deals won so far. Runs that all take
those numbers for the truth spread only as the process does, and their worst-to-best
band holds the actual less often than it says (a backtest of generated histories: 65–69%
for an 80% band). Drawn per group of runs, the values vary as they would from another
history of the same process; their means are the fitted values, so the neutral case
stays where it was and the band widens by the estimation error alone.

What is drawn (one rule each; docs/statistics.md says why):

- a **positive number with a 95% interval** (the arrival rate, each buyer type's mean
  deal value, each stage's mean time before moving on): a gamma of the estimate's mean
  and the interval's standard error, (high − low) / 3.92 — for a Poisson count of *n*
  that is Gamma(n, estimate / n), the posterior of the rate; the value's distribution is
  scaled by the draw over the estimate (its shape kept); a stage's delay, which is the
  stay less the team's time, is moved by the drawn stay less the fitted one;
- **shares that add up to one** (the routes out of a stage, with what goes lost; the
  buyer types' shares; where new deals enter): a Dirichlet of the fitted shares with a
  concentration of the observations behind them (for routes, plus the PRIOR_VISITS the
  calibration shrinks by), whose marginals are the Beta posteriors of each share.

Values without an interval (seasonality, the file's values kept for lack of data) are
not drawn: nothing says how sure they are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from salesproc.core.stats import Z95

if TYPE_CHECKING:
    from salesproc.process.model import FittedValue, Process

DRAWS = 20  # parameter draws per forecast, each for a group of its runs
SHARE_STEP = 1e-4  # shares are written to four decimals, as the calibration writes them


def gamma_draw(rng: np.random.Generator, estimate: float, low: float, high: float) -> float:
    """One draw of a positive value from its sampling distribution: a gamma with mean
    *estimate* and the standard error of the 95% interval *low*–*high*. No interval (or
    none of any width): the estimate itself."""
    se = (high - low) / (2 * Z95)
    if not (math.isfinite(se) and se > 0 and math.isfinite(estimate) and estimate > 0):
        return estimate
    shape = (estimate / se) ** 2
    return float(rng.gamma(shape, estimate / shape))


SCALED = ("fixed", "exponential", "lognormal", "gamma", "weibull", "normal", "empirical")


def scalable(spec: Any) -> bool:
    """Whether a distribution's file form is one :func:`scaled` can scale: a number, or
    a family of SCALED (what calibrate writes) whose parameters are numbers (not
    durations such as '2d', which a hand-edited value may hold: not drawn)."""
    def plain(x: Any) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool)

    if plain(spec):
        return True
    if not (isinstance(spec, dict) and len(spec) == 1):
        return False
    ((family, params),) = spec.items()
    if family not in SCALED:
        return False
    if family == "fixed":
        return plain(params)
    if family == "empirical":
        return isinstance(params, list) and all(plain(x) for x in params)
    return isinstance(params, dict) and all(plain(x) for x in params.values())


def scaled(spec: Any, factor: float) -> Any:
    """A distribution's file form ({gamma: {mean: 3, sd: 1}}) scaled by *factor*: its
    mean and spread alike, so its shape is kept."""
    from salesproc.prediction.calibration import _round

    if isinstance(spec, int | float):  # a plain number is a fixed one
        return _round(float(spec) * factor)
    ((family, params),) = spec.items()
    if family == "fixed":
        return {"fixed": _round(float(params) * factor)}
    if family == "empirical":
        return {"empirical": [_round(float(x) * factor) for x in params]}
    return {family: {k: _round(float(x) * factor) if k in ("mean", "sd") else x
                     for k, x in params.items()}}


def dirichlet_draw(rng: np.random.Generator, shares: dict[str, float], n: float,
                   whole: bool) -> dict[str, float]:
    """One draw of *shares* (target -> share) from a Dirichlet of concentration *n*
    centred on them; what they leave of one (a route's remainder: lost) is drawn along.
    Written to four decimals, none below SHARE_STEP (a route drawn to nothing would be a
    route the history saw go, not one that is gone); *whole*: they add up to exactly one,
    else to at most one (the largest takes the rounding)."""
    names = [k for k, s in shares.items() if s > 0]
    centre = [float(shares[k]) for k in names]
    rest = 1.0 - math.fsum(centre)
    if not whole and rest > SHARE_STEP:
        centre.append(rest)
    draw = rng.dirichlet(np.maximum(np.asarray(centre) * n, 1e-3))
    out = {k: max(SHARE_STEP, math.floor(float(x) / SHARE_STEP) * SHARE_STEP)
           for k, x in zip(names, draw, strict=False)}
    left = 1.0 - math.fsum(out.values())
    if whole or left < 0:
        top = max(out, key=out.__getitem__)
        out[top] += left
    return {k: round(x, 4) for k, x in out.items()}


def drawn(process: Process) -> list[FittedValue]:
    """The fitted values of *process* that a forecast draws: those with observations
    behind them among the arrival rate, the deal values, the delays (in a form that can
    be scaled), the routes and entries, and the buyer types' shares when every buyer type
    has one (they are drawn together, and must add up to one). The others (deal fields,
    loss reasons, seasonality) are not drawn."""
    known = [f for f in process.fitted if f.n > 0]
    shares = [f for f in known if _buyer_share(f)]
    out = [f for f in known if not _buyer_share(f) and (
        (f.setting.endswith((".next", ".enter")) and isinstance(f.value, dict))
        or (f.setting == "arrivals.rate" and isinstance(f.value, int | float))
        or (f.setting.endswith((".value", ".delay")) and scalable(f.value)))]
    return out + (shares if len(shares) == len(process.buyer_types) else [])


def _buyer_share(f: FittedValue) -> bool:
    return f.setting.startswith("buyer_types.") and f.setting.endswith(".share") \
        and f.setting.count(".") == 2


def draws(process: Process, count: int, seed: int) -> list[list[tuple[str, Any]]]:
    """*count* sets of *process*'s fitted values (:func:`drawn`) drawn from their
    sampling distributions, each as (setting, value) changes (what
    Process.with_changes takes); the same *seed*, the same draws."""
    from salesproc.prediction.calibration import PRIOR_VISITS, _round

    rng = np.random.default_rng([seed, 0xD4A3])
    out: list[list[tuple[str, Any]]] = []
    chosen = drawn(process)
    buyer_shares = [f for f in chosen if _buyer_share(f)]
    for _ in range(count):
        changes: list[tuple[str, Any]] = []
        for f in chosen:
            if f in buyer_shares:
                continue
            if f.setting.endswith((".next", ".enter")):
                prior = PRIOR_VISITS if f.setting.endswith(".next") else 0.0
                changes.append((f.setting, dirichlet_draw(
                    rng, f.value, f.n + prior, whole=f.setting.endswith(".enter"))))
            elif f.setting == "arrivals.rate":
                changes.append((f.setting, _round(float(f.value) * _factor(rng, f))))
            elif f.setting.endswith(".value"):
                changes.append((f.setting, scaled(f.value, _factor(rng, f))))
            else:
                changes.append((f.setting, _delay(rng, f, process.time_unit)))
        changes += _buyer_shares(rng, buyer_shares)
        out.append(changes)
    return out


def _factor(rng: np.random.Generator, f: FittedValue) -> float:
    """A drawn value of *f* over its estimate."""
    if not (math.isfinite(f.estimate) and f.estimate > 0):
        return 1.0
    return gamma_draw(rng, f.estimate, f.low, f.high) / f.estimate


def _delay(rng: np.random.Generator, f: FittedValue, unit: str) -> Any:
    """A stage's delay with its mean moved by the drawn mean stay less the fitted one
    (*f*'s estimate and interval are of the whole stay, in days; the delay is the stay
    less the team's time, in *unit*: the error is the stay's, so it is added, not scaled
    by the delay's share of the stay), at least DELAY_FLOOR of the delay's mean."""
    from salesproc.core import units
    from salesproc.prediction.calibration import DELAY_FLOOR, spec_mean

    mean = float(f.value) if isinstance(f.value, int | float) else spec_mean(f.value)
    if not (math.isfinite(f.estimate) and mean > 0):
        return f.value
    moved = units.convert(gamma_draw(rng, f.estimate, f.low, f.high) - f.estimate, "day",
                          unit)
    return scaled(f.value, max(DELAY_FLOOR, (mean + moved) / mean))


def _buyer_shares(rng: np.random.Generator, fitted: Sequence[FittedValue]
                  ) -> list[tuple[str, Any]]:
    """The buyer types' shares drawn together (they add up to one), from the deals of a
    known buyer type behind them."""
    if not fitted:
        return []
    drawn = dirichlet_draw(rng, {f.setting: float(f.value) for f in fitted}, fitted[0].n,
                           whole=True)
    return [(f.setting, drawn.get(f.setting, 0.0)) for f in fitted]

