"""The forecast's runs hold the calibration's estimation error (prediction.uncertainty):
each group of runs draws the fitted values from their sampling distributions, so the runs
spread by the process's randomness and by how sure the fitted values are, while their
mean stays the point forecast's."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
from scipy import stats

import salesproc
from salesproc.core.stats import Z95
from salesproc.experiments.export import deals_of, write_generic
from salesproc.history import read_history
from salesproc.prediction.forecast import forecast
from salesproc.prediction.uncertainty import DRAWS, draws
from tests.conftest import run

QUICK = """
salesproc: 1
name: Quick wins
roles: {r: {title: R, headcount: 100}}
stages:
  - {id: ask, name: Ask, owner: r, delay: {fixed: 0.01}, next: {won: 1}}
buyer_types: {b: {name: B, share: 1, value: 1}}
arrivals: {rate: 4, per: day}
simulation: {start: 2025-01-06, horizon: 40, replications: 1, seed: 5}
"""

RUNS = 200
SEEN = 20  # the deals the fitted rate rests on: its sampling error is 1 / sqrt(SEEN)


def rate_known_from(n: int, rate: float, process: salesproc.Process) -> salesproc.Process:
    """*process* calibrated to one fitted value, the arrival rate: *rate* a day seen over
    *n* deals, with the Poisson standard error rate / sqrt(n) as a 95% interval (its
    `fitted:` entry, as calibrate writes it)."""
    se = rate / math.sqrt(n)
    return process.with_changes([
        ("fitted", {"arrivals.rate": {"n": n, "estimate": rate, "low": rate - Z95 * se,
                                      "high": rate + Z95 * se}}),
        ("arrivals.rate", rate)])


def test_the_runs_spread_by_the_rates_estimation_error(tmp_path: Path) -> None:
    """Deals that are won at once, at a known rate: 30 days ahead, a run's wins are
    Poisson(mu) given the rate, and with the rate drawn from Gamma(n, rate / n) (what a
    rate seen over n deals is known to within) the runs' variance is mu + mu^2 / n, the
    between-draw part counted (N - m) / (N - 1) with N runs in groups of m. The runs'
    variance over that lies within the 99.9% chi-square interval on DRAWS - 1 degrees of
    freedom (the between-draw part has only as many; the within part is sharper, so the
    interval is wide enough), which leaves out the variance without the draws (mu, a
    fifth of it). Their mean is the point forecast's, within 4 standard errors of the
    difference (the drawn runs' from DRAWS groups). The library's call draws for a
    calibrated process as the forecast does."""
    path = tmp_path / "quick.yaml"
    path.write_text(QUICK)
    proc = salesproc.load(path)
    truth = salesproc.simulate(proc, events=True)
    assert truth.events is not None
    export = write_generic(deals_of(truth.events, proc), tmp_path / "h.csv")
    as_of = dt.datetime(2025, 1, 6) + dt.timedelta(days=30)
    history = read_history(export, proc, as_of=as_of, today=dt.date(2030, 1, 1))
    until = as_of + dt.timedelta(days=30)
    plain = forecast(history, until, process=proc, replications=RUNS, seed=9)
    drawn = salesproc.forecast(history, until=until, process=rate_known_from(SEEN, 4.0, proc),
                               replications=RUNS, seed=9)
    plain_won = np.array([r["won"] for r in plain.runs])
    won = np.array([r["won"] for r in drawn.runs])
    mu = float(plain_won.mean())
    m = RUNS // DRAWS
    expected = mu + mu**2 / SEEN * (RUNS - m) / (RUNS - 1)
    low, high = (stats.chi2.ppf(q, DRAWS - 1) / (DRAWS - 1) for q in (0.0005, 0.9995))
    ratio = float(won.var(ddof=1)) / expected
    assert low <= ratio <= high, (ratio, low, high)
    assert float(plain_won.var(ddof=1)) / expected < low  # the draws are what widen it
    groups = won.reshape(DRAWS, m).mean(axis=1)  # the drawn runs' mean varies by group
    se = math.sqrt(groups.var(ddof=1) / DRAWS + plain_won.var(ddof=1) / RUNS)
    assert abs(won.mean() - mu) <= 4 * se
    assert drawn.totals["won"].best - drawn.totals["won"].worst \
        > plain.totals["won"].best - plain.totals["won"].worst


def test_route_shares_are_drawn_from_their_beta_posteriors(tmp_path: Path) -> None:
    """A route out of a stage fitted from n visits (shrunk by the calibration's prior of
    10 visits): each draw of its share is a Dirichlet's marginal, Beta(p c, (1 - p) c)
    with c = n + 10, whose mean is p and variance p (1 - p) / (c + 1). Over 2,000 draws
    the mean lies within 4 standard errors of p and the sample variance within its 99.9%
    chi-square interval on 1,999 degrees of freedom (normal theory; this Beta's excess
    kurtosis, -0.03, makes the interval if anything wide); the remainder (lost) is never
    negative, and the same seed gives the same draws."""
    path = tmp_path / "quick.yaml"
    path.write_text(QUICK)
    n, p, count = 40, 0.3, 2000
    fitted = salesproc.load(path).with_changes([
        ("fitted", {"stages.ask.next": {"n": n}}), ("stages.ask.next", {"won": p})])
    assert [(f.setting, f.value, f.n) for f in fitted.fitted] == [
        ("stages.ask.next", {"won": p}, n)]
    shares = np.array([dict(d)["stages.ask.next"]["won"] for d in draws(fitted, count, 1)])
    c = n + 10
    var = p * (1 - p) / (c + 1)
    assert abs(shares.mean() - p) <= 4 * math.sqrt(var / count)
    low, high = (stats.chi2.ppf(q, count - 1) / (count - 1) for q in (0.0005, 0.9995))
    assert low <= shares.var(ddof=1) / var <= high
    assert (shares <= 1).all() and (shares > 0).all()
    assert draws(fitted, 3, 1) == draws(fitted, 3, 1) != draws(fitted, 3, 2)


def test_calibrate_writes_how_sure_it_is_and_a_later_change_drops_it(tmp_path: Path) -> None:
    """The calibrated variant holds a `fitted:` entry for every value it sets, which the
    forecast draws from; a variant of it that sets one of those values again is no longer
    fitted there (its what-if value is not drawn around the fitted one), and the others
    stay."""
    path = tmp_path / "slower.yaml"  # stays of days: not wins entered after the fact
    path.write_text(QUICK.replace("{fixed: 0.01}", "{exponential: {mean: 2}}"))
    proc = salesproc.load(path)
    truth = salesproc.simulate(proc, events=True)
    assert truth.events is not None
    export = write_generic(deals_of(truth.events, proc), tmp_path / "h.csv")
    variant = tmp_path / "calibrated.yaml"
    done = run("calibrate", str(export), "--process", str(path), "-o", str(variant))
    assert done.exit_code == 0, done.output
    calibrated = salesproc.load(variant)
    settings = {f.setting for f in calibrated.fitted}
    assert "arrivals.rate" in settings and "stages.ask.delay" in settings
    rate = next(f for f in calibrated.fitted if f.setting == "arrivals.rate")
    assert rate.low < rate.estimate == rate.value < rate.high and rate.n > 100
    what_if = tmp_path / "what-if.yaml"
    what_if.write_text('salesproc: 1\nextends: calibrated.yaml\nname: What if\n'
                       'set: {arrivals.rate: 9}\n')
    changed = salesproc.load(what_if)
    assert {f.setting for f in changed.fitted} == settings - {"arrivals.rate"}
    assert {f.setting for f in calibrated.with_changes(["arrivals.rate=9"]).fitted} == \
        settings - {"arrivals.rate"}
    # a change above or below a fitted setting changes it too
    delay = next(f.value for f in calibrated.fitted if f.setting == "stages.ask.delay")
    inner = f"stages.ask.delay.{next(iter(delay))}"  # the fitted family's parameters
    assert {f.setting for f in calibrated.with_changes(
        ["arrivals={rate: 9, per: day}", f"{inner}={delay[next(iter(delay))]}"]).fitted} \
        == settings - {"arrivals.rate", "stages.ask.delay"}
    # calibrated again, from what the history gives: a value not fitted this time keeps
    # the entry of the calibration it came from
    from salesproc.prediction.calibration import Calibration

    again = Calibration(calibrated, dt.datetime(2025, 1, 6), dt.datetime(2025, 2, 5), 0)
    assert set(again.certainty()) == settings
    for process, drawn in ((variant, True), (path, False)):
        ahead = run("forecast", str(export), "--process", str(process), "--horizon", "10d",
                    "-r", "20", "--seed", "1")
        assert ahead.exit_code == 0, ahead.output
        assert ("the runs draw" in ahead.output) is drawn


def test_buyer_shares_are_drawn_only_all_together() -> None:
    """The buyer types' shares add up to one: they are drawn together, and not at all
    once a what-if has set some of them (its shares are no longer the fitted ones)."""
    two = salesproc.check_text(QUICK.replace(
        "buyer_types: {b: {name: B, share: 1, value: 1}}",
        "buyer_types: {b: {name: B, share: 0.4, value: 1}, c: {name: C, share: 0.6, "
        "value: 1}}")).process
    assert two is not None
    fitted = two.with_changes([("fitted", {"buyer_types.b.share": {"n": 50},
                                           "buyer_types.c.share": {"n": 50}})])
    (first,) = draws(fitted, 1, 3)
    shares = dict(first)
    assert set(shares) == {"buyer_types.b.share", "buyer_types.c.share"}
    assert math.isclose(sum(shares.values()), 1.0)
    changed = fitted.with_changes([("buyer_types.b.share", 0.5),
                                   ("buyer_types.c.share", 0.5)]).with_changes(
        [("fitted", {"buyer_types.c.share": {"n": 50}})])
    assert draws(changed, 1, 3) == [[]]  # one of two: not drawn
