"""Distributions: moments and CDF agree with samples, within theory-derived tolerances."""

from __future__ import annotations

import math

import numpy as np
import pytest

from salesproc.core import dists
from salesproc.core.dists import (
    Distribution,
    Empirical,
    Exponential,
    Fixed,
    Gamma,
    Lognormal,
    Triangular,
    TruncatedNormal,
    Uniform,
    Weibull,
)

N = 200_000
ALL = [Fixed(2.0), Exponential(2.0), Uniform(1.0, 3.0), Triangular(1.0, 2.0, 6.0),
       TruncatedNormal(1.0, 2.0), Lognormal(2.0, 1.0), Gamma(2.0, 1.0), Gamma(0.5, 1.5),
       Weibull(4.0, 3.0), Weibull(2.0, 0.5), Weibull(1.0, 2.5), Empirical((1.0, 2.0, 3.0, 10.0))]


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_sample_mean_matches_mean(dist: Distribution) -> None:
    x = dist.sample(np.random.default_rng(42), N)
    assert (x >= 0).all()
    # 5 standard errors: fails by chance with probability < 1e-6
    assert abs(x.mean() - dist.mean) <= 5 * dist.sd / math.sqrt(N) + 1e-12


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_cdf_matches_empirical_cdf(dist: Distribution) -> None:
    x = dist.sample(np.random.default_rng(7), N)
    for q in (0.1, 0.5, 0.9):
        point = dist.quantile(q)
        p = dist.cdf(point)
        # binomial standard error of an empirical proportion, 5 of them
        assert abs((x <= point).mean() - p) <= 5 * math.sqrt(p * (1 - p) / N) + 1e-9


def test_lognormal_is_given_by_mean_and_sd_of_values() -> None:
    d = Lognormal(6000.0, 2000.0)
    assert (d.mean, d.sd) == (6000.0, 2000.0)
    assert d.cdf(6000.0) > 0.5  # right-skewed: the median is below the mean


def test_gamma_cdf_matches_exponential_special_case() -> None:
    g, e = Gamma(3.0, 3.0), Exponential(3.0)  # shape 1 is exponential
    for x in (0.1, 1.0, 3.0, 10.0, 40.0):
        assert g.cdf(x) == pytest.approx(e.cdf(x), abs=1e-12)


def test_spec_problems() -> None:
    assert dists.spec_problem({"uniform": {"min": 3, "max": 1}}, float)
    assert dists.spec_problem({"triangular": [1, 5, 3]}, float)
    assert dists.spec_problem({"gamma": {"mean": 1, "sd": 0}}, float)
    assert dists.spec_problem({"lognormal": {"mean": 2, "sd": 1}}, float) is None


@pytest.mark.parametrize("shape", [0.05, 0.5, 1.0, 3.0, 30.0, 1e3, 1e4, 9.9e4, 1e6, 1e8])
def test_gamma_cdf_matches_the_reference_for_every_shape(shape: float) -> None:
    """Against scipy's gammainc, from heavy-tailed (shape 0.05) to very narrow (1e8)."""
    from scipy.special import gammainc

    from salesproc.core.dists import Gamma

    mean = 10.0
    dist = Gamma(mean, mean / math.sqrt(shape))  # shape = (mean / sd)²
    assert dist.shape == pytest.approx(shape)
    spread = mean / math.sqrt(shape)
    for k in range(-40, 41):
        x = mean + k / 10 * spread * (3 if shape < 30 else 1)
        if x <= 0:
            continue
        want = float(gammainc(dist.shape, x / dist.scale))
        # exact methods to 1e-9; Wilson–Hilferty above shape 1e5 to its error bound 0.005/a
        tolerance = 1e-9 if shape < 1e5 else 0.005 / shape + 1e-9
        assert dist.cdf(x) == pytest.approx(want, abs=tolerance), (shape, x)


def test_narrow_gamma_is_half_below_its_mean() -> None:
    from salesproc.core.dists import Gamma

    assert Gamma(10, 0.01).cdf(10) == pytest.approx(0.5, abs=0.001)
    assert Gamma(10, 0.001).cdf(10) == pytest.approx(0.5, abs=0.001)


@pytest.mark.parametrize("cv", [0.1, 0.5, 1.0, 2.5, 30.0])
def test_weibull_is_given_by_mean_and_sd_and_matches_the_reference(cv: float) -> None:
    from scipy import stats

    dist = Weibull(3.0, 3.0 * cv)
    reference = stats.weibull_min(dist.shape, scale=dist.scale)
    assert reference.mean() == pytest.approx(3.0, rel=1e-9)
    assert reference.std() == pytest.approx(3.0 * cv, rel=1e-6)
    for x in (0.5, 3.0, 12.0):
        assert dist.cdf(x) == pytest.approx(float(reference.cdf(x)), abs=1e-12)
    assert Weibull(5.0, 5.0).shape == pytest.approx(1.0, abs=1e-9)  # the exponential
