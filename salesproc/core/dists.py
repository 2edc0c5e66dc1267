"""Probability distributions for durations and deal values.

Each distribution knows its mean, variance and CDF exactly (the simulator is checked
against them, and the playbook quotes them), and samples in blocks from a numpy
``Generator`` (numpy is imported by the caller, never here: validation stays fast).

Parameters are given as mean and standard deviation wherever a sales-ops user would
think that way (lognormal and gamma are not given as mu/sigma or shape/scale).
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import Any

_SQRT2 = math.sqrt(2.0)


def _phi(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _big_phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / _SQRT2))


class Distribution(abc.ABC):
    """A non-negative random quantity: its moments, CDF, quantiles and samples."""

    @property
    @abc.abstractmethod
    def mean(self) -> float: ...

    @property
    @abc.abstractmethod
    def variance(self) -> float: ...

    @abc.abstractmethod
    def cdf(self, x: float) -> float: ...

    @abc.abstractmethod
    def sample(self, rng: Any, size: int) -> Any:
        """*size* draws from numpy Generator *rng*, as an array."""


    @property
    def sd(self) -> float:
        return math.sqrt(max(self.variance, 0.0))

    def quantile(self, q: float) -> float:
        """Smallest x with cdf(x) >= q, by bisection (no closed form needed)."""
        lo, hi = 0.0, max(self.mean, 1e-9)
        while self.cdf(hi) < q and hi < 1e15:
            hi *= 2.0
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            if self.cdf(mid) < q:
                lo = mid
            else:
                hi = mid
        return hi


@dataclass(frozen=True)
class Fixed(Distribution):
    """Always the same value."""

    value: float

    @property
    def mean(self) -> float:
        return self.value

    @property
    def variance(self) -> float:
        return 0.0

    def cdf(self, x: float) -> float:
        return 1.0 if x >= self.value else 0.0

    def quantile(self, q: float) -> float:
        return self.value

    def sample(self, rng: Any, size: int) -> Any:
        import numpy as np

        return np.full(size, self.value)  # no random number is used




@dataclass(frozen=True)
class Exponential(Distribution):
    """Memoryless: many short, a few long; mean only."""

    mean_: float

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def variance(self) -> float:
        return self.mean_**2

    def cdf(self, x: float) -> float:
        if self.mean_ == 0:
            return 1.0 if x >= 0 else 0.0
        return 1.0 - math.exp(-x / self.mean_) if x > 0 else 0.0

    def sample(self, rng: Any, size: int) -> Any:
        return rng.exponential(self.mean_, size)




@dataclass(frozen=True)
class Uniform(Distribution):
    """Anything between min and max, equally likely."""

    low: float
    high: float

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def variance(self) -> float:
        return (self.high - self.low) ** 2 / 12

    def cdf(self, x: float) -> float:
        if self.high == self.low:
            return 1.0 if x >= self.low else 0.0
        return min(1.0, max(0.0, (x - self.low) / (self.high - self.low)))

    def sample(self, rng: Any, size: int) -> Any:
        return rng.uniform(self.low, self.high, size)




@dataclass(frozen=True)
class Triangular(Distribution):
    """A three-point estimate: min, most likely, max."""

    low: float
    mode: float
    high: float

    @property
    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3

    @property
    def variance(self) -> float:
        a, c, b = self.low, self.mode, self.high
        return (a * a + b * b + c * c - a * b - a * c - b * c) / 18

    def cdf(self, x: float) -> float:
        a, c, b = self.low, self.mode, self.high
        if x <= a:
            return 0.0
        if x >= b:
            return 1.0
        if x <= c:
            return (x - a) ** 2 / ((b - a) * (c - a))
        return 1.0 - (b - x) ** 2 / ((b - a) * (b - c))

    def sample(self, rng: Any, size: int) -> Any:
        if self.low == self.high:
            return rng.random(size) * 0.0 + self.low
        return rng.triangular(self.low, self.mode, self.high, size)




@dataclass(frozen=True)
class TruncatedNormal(Distribution):
    """A normal distribution (mu, sigma as written) with negative values re-drawn."""

    mu: float
    sigma: float

    def _ratio(self) -> tuple[float, float]:
        alpha = -self.mu / self.sigma
        return alpha, _phi(alpha) / (1.0 - _big_phi(alpha))

    @property
    def mean(self) -> float:
        if self.sigma == 0:
            return self.mu
        return self.mu + self.sigma * self._ratio()[1]

    @property
    def variance(self) -> float:
        if self.sigma == 0:
            return 0.0
        alpha, lam = self._ratio()
        return self.sigma**2 * (1.0 + alpha * lam - lam * lam)

    def cdf(self, x: float) -> float:
        if x <= 0:
            return 0.0
        if self.sigma == 0:
            return 1.0 if x >= self.mu else 0.0
        low = _big_phi(-self.mu / self.sigma)
        return (_big_phi((x - self.mu) / self.sigma) - low) / (1.0 - low)

    def sample(self, rng: Any, size: int) -> Any:
        values = rng.normal(self.mu, self.sigma, size)
        bad = values < 0
        while bad.any():  # mu >= 0 is enforced by the schema: at most half are redrawn
            values[bad] = rng.normal(self.mu, self.sigma, int(bad.sum()))
            bad = values < 0
        return values




@dataclass(frozen=True)
class _MeanSd(Distribution):
    """Given, as sales ops think of it, by the mean and standard deviation of the values."""

    mean_: float
    sd_: float

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def variance(self) -> float:
        return self.sd_**2



@dataclass(frozen=True)
class Lognormal(_MeanSd):
    """Right-skewed, given by the mean and sd of the values themselves."""

    def _params(self) -> tuple[float, float]:
        sigma2 = math.log1p((self.sd_ / self.mean_) ** 2)
        return math.log(self.mean_) - sigma2 / 2, math.sqrt(sigma2)

    def cdf(self, x: float) -> float:
        if x <= 0:
            return 0.0
        mu, sigma = self._params()
        if sigma == 0:
            return 1.0 if x >= self.mean_ else 0.0
        return _big_phi((math.log(x) - mu) / sigma)

    def sample(self, rng: Any, size: int) -> Any:
        mu, sigma = self._params()
        return rng.lognormal(mu, sigma, size)



@dataclass(frozen=True)
class Gamma(_MeanSd):
    """Right-skewed, given by the mean and sd of the values."""

    @property
    def shape(self) -> float:
        return (self.mean_ / self.sd_) ** 2

    @property
    def scale(self) -> float:
        return self.sd_**2 / self.mean_

    def cdf(self, x: float) -> float:
        return _regularized_gamma(self.shape, x / self.scale) if x > 0 else 0.0

    def sample(self, rng: Any, size: int) -> Any:
        return rng.gamma(self.shape, self.scale, size)



@dataclass(frozen=True)
class Weibull(_MeanSd):
    """Right-skewed, given by the mean and sd of the values: its chance of ending falls
    with age (shape below 1, sd above the mean) or rises (shape above 1)."""

    @property
    def shape(self) -> float:
        return weibull_shape(self.sd_ / self.mean_)

    @property
    def scale(self) -> float:
        return self.mean_ / math.gamma(1.0 + 1.0 / self.shape)

    def cdf(self, x: float) -> float:
        return -math.expm1(-((x / self.scale) ** self.shape)) if x > 0 else 0.0

    def sample(self, rng: Any, size: int) -> Any:
        return self.scale * rng.weibull(self.shape, size)


def weibull_shape(cv: float) -> float:
    """The Weibull shape whose sd is *cv* times its mean (bisection on log k: the
    coefficient of variation falls as the shape grows)."""
    def cv_of(k: float) -> float:
        return math.sqrt(math.expm1(math.lgamma(1 + 2 / k) - 2 * math.lgamma(1 + 1 / k)))

    low, high = math.log(0.02), math.log(1e4)
    for _ in range(200):
        mid = (low + high) / 2
        if cv_of(math.exp(mid)) > cv:
            low = mid
        else:
            high = mid
    return math.exp((low + high) / 2)


@dataclass(frozen=True)
class Empirical(Distribution):
    """Observed values, each drawn with equal chance."""

    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        return math.fsum(self.values) / len(self.values)

    @property
    def variance(self) -> float:
        m = self.mean
        return math.fsum((v - m) ** 2 for v in self.values) / len(self.values)

    def cdf(self, x: float) -> float:
        return sum(v <= x for v in self.values) / len(self.values)

    def sample(self, rng: Any, size: int) -> Any:
        return rng.choice(self.values, size)




_WILSON_HILFERTY_SHAPE = 1e5  # above this shape the normal approximation is off < 1e-7


def _regularized_gamma(a: float, x: float) -> float:
    """P(a, x), the regularized lower incomplete gamma function.

    Series and continued fraction (Numerical Recipes 6.2), run until they converge: near
    x = a they need about 10·sqrt(a) terms. For very large shapes (a narrow gamma), the
    Wilson–Hilferty normal approximation, whose error is about 0.005 / a.
    """
    if a >= _WILSON_HILFERTY_SHAPE:
        z = ((x / a) ** (1.0 / 3.0) - (1.0 - 1.0 / (9.0 * a))) * 3.0 * math.sqrt(a)
        return _big_phi(z)
    limit = 1000 + int(20 * math.sqrt(a))
    if x < a + 1.0:
        term = total = 1.0 / a
        n = a
        for _ in range(limit):
            n += 1.0
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return min(1.0, total * math.exp(-x + a * math.log(x) - math.lgamma(a)))
    # continued fraction for Q(a, x), modified Lentz
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, limit):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return max(0.0, 1.0 - math.exp(-x + a * math.log(x) - math.lgamma(a)) * h)


MAX_SPREAD = 1000  # sd / mean above this overflows the lognormal and gamma parameters

KINDS = ("fixed", "exponential", "uniform", "triangular", "normal", "lognormal", "gamma",
         "weibull", "empirical")


def from_spec(spec: Any, number: Any) -> Distribution:
    """Build a distribution from its (schema-valid) file form.

    *number* converts one parameter (a number or a duration string) to a float,
    so the same code serves durations (in the process's time unit) and amounts.
    """
    if not isinstance(spec, dict):
        return Fixed(number(spec))
    ((kind, params),) = spec.items()
    if kind == "fixed":
        return Fixed(number(params))
    if kind == "exponential":
        return Exponential(number(params["mean"]))
    if kind == "uniform":
        low, high = uniform_bounds(params)
        return Uniform(number(low), number(high))
    if kind == "triangular":
        low, mode, high = (number(p) for p in params)
        return Triangular(low, mode, high)
    if kind == "normal":
        return TruncatedNormal(number(params["mean"]), number(params["sd"]))
    if kind == "lognormal":
        return Lognormal(number(params["mean"]), number(params["sd"]))
    if kind == "gamma":
        return Gamma(number(params["mean"]), number(params["sd"]))
    if kind == "weibull":
        return Weibull(number(params["mean"]), number(params["sd"]))
    return Empirical(tuple(number(v) for v in params))


def uniform_bounds(params: Any) -> tuple[Any, Any]:
    """A uniform's smallest and largest value, written min and max or low and high."""
    if "low" in params or "high" in params:
        return params.get("low"), params.get("high")
    return params.get("min"), params.get("max")


def spec_problem(spec: Any, number: Any) -> str | None:
    """What is wrong with a schema-valid distribution's parameters, or None."""
    if not isinstance(spec, dict):
        return None
    ((kind, params),) = spec.items()
    if kind == "uniform" and sorted(params) not in (["max", "min"], ["high", "low"]):
        return "uniform needs min and max (or low and high), one pair of them"
    if kind == "uniform" and number(uniform_bounds(params)[0]) > number(
            uniform_bounds(params)[1]):
        return "uniform needs min <= max"
    if kind == "triangular":
        low, mode, high = (number(p) for p in params)
        if not low <= mode <= high:
            return "triangular needs [min, most likely, max] in that order"
    if kind in ("lognormal", "gamma", "weibull") and number(params["mean"]) <= 0:
        return f"{kind} needs a mean above 0"
    if kind in ("gamma", "weibull") and number(params["sd"]) <= 0:
        return f"{kind} needs an sd above 0 (use fixed for no spread)"
    if kind in ("lognormal", "gamma", "weibull") and number(params["sd"]) > MAX_SPREAD * number(
            params["mean"]):
        return (f"an sd more than {MAX_SPREAD:,} times the mean is not a sensible spread "
                "(check the units of mean and sd)")
    return None
