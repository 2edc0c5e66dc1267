"""Statistics of replications: a mean with its confidence interval, paired differences,
significance, and corrections for many tests at once.

Every simulated figure is the mean over independent replications, and its interval is
Student's t interval of that mean: it says how sure the *average* is, not how far one
quarter's outcome may stray from it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile: a 95% interval's half

CONFIDENCE = 0.95


def t_quantile(df: int, confidence: float = CONFIDENCE) -> float:
    """Two-sided Student t quantile: P(|T| <= q) = *confidence* with *df* degrees of freedom."""
    from scipy.special import stdtrit  # 0.3 s to import: only once an interval is needed

    return float(stdtrit(df, 1.0 - (1.0 - confidence) / 2.0))


@dataclass(frozen=True)
class Estimate:
    """The mean of *n* replications and its confidence interval [low, high].

    ``sem`` is the standard error of the mean (NaN with fewer than two values). For a
    figure that cannot be negative (a count, a time, a value) the interval is cut at 0,
    so ``low`` may be above ``mean - half_width``.
    """

    mean: float
    low: float
    high: float
    n: int
    sem: float = math.nan
    confidence: float = CONFIDENCE
    cut: bool = False  # the interval was cut at its floor: shown as a range, not as ±

    @classmethod
    def of(cls, values: Iterable[float], *, confidence: float = CONFIDENCE,
           floor: float | None = None) -> Estimate:
        """The estimate from replication values; NaN values (no data in that run) are left out."""
        data = [v for v in values if not math.isnan(v)]
        n = len(data)
        if n == 0:
            return cls(math.nan, math.nan, math.nan, 0, confidence=confidence)
        mean = math.fsum(data) / n
        if n == 1:
            return cls(mean, math.nan, math.nan, 1, confidence=confidence)
        sem = math.sqrt(math.fsum((v - mean) ** 2 for v in data) / (n - 1) / n)
        half = t_quantile(n - 1, confidence) * sem
        cut = floor is not None and mean - half < floor
        low = floor if cut and floor is not None else mean - half
        return cls(mean, low, mean + half, n, sem, confidence, cut)

    def interval(self) -> tuple[float, float]:
        """(low, high)."""
        return self.low, self.high

    @property
    def half_width(self) -> float:
        """Half the width of the symmetric t interval (before any cut at 0)."""
        if math.isnan(self.sem):
            return math.nan
        return t_quantile(self.n - 1, self.confidence) * self.sem


def significant(diff: Estimate) -> bool:
    """The interval of a difference excludes zero. With fewer than two replications
    nothing can be judged, so nothing is significant."""
    if diff.n < 2 or math.isnan(diff.low):
        return False
    return diff.low > 0 or diff.high < 0


def bonferroni(confidence: float, tests: int) -> float:
    """The per-test confidence that keeps the chance of any false finding among *tests*
    at most 1 - *confidence* (Bonferroni)."""
    return 1.0 - (1.0 - confidence) / max(1, tests)


def proportion(successes: int, trials: int, confidence: float = CONFIDENCE) -> Estimate:
    """A share with its Wilson score interval (sound for small counts and shares near 0
    or 1, unlike the normal approximation); n is the number of trials."""
    if trials <= 0:
        return Estimate(math.nan, math.nan, math.nan, 0, confidence=confidence)
    from scipy.special import ndtri

    z = float(ndtri(1.0 - (1.0 - confidence) / 2.0))
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / \
        (1 + z * z / trials)
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), trials,
                    confidence=confidence)


#: Worst, neutral and best case: these percentiles of the replications' outcomes.
CASES = (10, 50, 90)
RANGE_RUNS = 3  # fewer replications than this give no range


def outcome_range(values: Iterable[float], cases: tuple[float, float, float] = CASES
                  ) -> tuple[float, float, float]:
    """The worst, neutral and best case of the replications' *values* (their *cases*
    percentiles): what may actually happen, unlike the confidence interval of the mean.
    NaN with fewer than RANGE_RUNS values."""
    import numpy as np

    data = [v for v in values if not math.isnan(v)]
    if len(data) < RANGE_RUNS:
        return math.nan, math.nan, math.nan
    worst, neutral, best = (float(x) for x in np.percentile(data, cases))
    return worst, neutral, best
