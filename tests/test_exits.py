"""Exit curves (competing risks with open visits censored) against what theory says."""

from __future__ import annotations

import math

import numpy as np

from salesproc.prediction.exits import exit_curve

WON, LOST, NEXT = -1, -2, 3
TARGETS = (WON, LOST, NEXT)


def _visits(n: int, seed: int, *, censor_days: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wins after an exponential stay of mean 10 days (share 0.3), losses after one of
    mean 60 days (0.5), moves on after one of mean 20 (0.2); each visit watched for a
    uniform time up to *censor_days* (still open after that)."""
    rng = np.random.default_rng(seed)
    target = rng.choice(np.array(TARGETS), n, p=[0.3, 0.5, 0.2])
    mean = np.select([target == WON, target == LOST], [10.0, 60.0], 20.0)
    stay = rng.exponential(mean)
    watched = rng.uniform(0, censor_days, n)
    return np.minimum(stay, watched), target, stay <= watched


def test_shares_are_unbiased_where_counting_ended_visits_is_not() -> None:
    n = 6000
    days, target, ended = _visits(n, 1, censor_days=120)
    curve = exit_curve(days, target, ended, TARGETS)
    naive = np.array([np.mean(target[ended] == t) for t in TARGETS])
    truth = np.array([0.3, 0.5, 0.2])
    rng = np.random.default_rng(3)  # the estimate's standard error, by the bootstrap
    picks = (rng.integers(0, n, n) for _ in range(100))
    se = np.std([exit_curve(days[k], target[k], ended[k], TARGETS).shares() for k in picks],
                axis=0)
    assert np.all(np.abs(curve.shares() - truth) < 4 * se)
    # the fast wins are over-counted among the visits that ended: the bias is real
    assert naive[0] - truth[0] > 8 * se[0]


def test_a_deal_of_any_age_leaves_as_a_memoryless_stage_says() -> None:
    """One exit hazard for all: the chance to be won within H days is the same at every
    age, p_won * (1 - exp(-H / mean))."""
    n = 8000
    rng = np.random.default_rng(2)
    target = rng.choice(np.array([WON, LOST]), n, p=[0.4, 0.6])
    stay = rng.exponential(30.0, n)
    watched = rng.uniform(0, 200, n)
    curve = exit_curve(np.minimum(stay, watched), target, stay <= watched, (WON, LOST))
    horizon = 20.0
    truth = 0.4 * (1 - math.exp(-horizon / 30.0))
    for age in (0.0, 15.0, 60.0):
        at_risk = int(np.sum(np.minimum(stay, watched) > age))
        draws = curve.given_age(age, 4000)
        won = np.mean([w <= horizon and t == WON for w, t in draws])
        se = math.sqrt(truth * (1 - truth) / at_risk)
        assert abs(won - truth) < 4 * se, (age, won, truth)


def test_a_deal_older_than_every_exit_leaves_at_the_tail_rate() -> None:
    """Past the data, the oldest visits' exit rate and split carry on: a stalled deal is
    not resolved at once at the stage's ordinary win share."""
    days = np.array([1.0] * 40 + [5.0] * 40 + [30.0] * 10 + [100.0] * 20)
    target = np.array([WON] * 40 + [WON] * 10 + [LOST] * 30 + [WON] * 2 + [LOST] * 28)
    ended = np.array([True] * 90 + [False] * 20)  # 20 zombies, 100 days old and open
    curve = exit_curve(days, target, ended, (WON, LOST))
    draws = curve.given_age(200.0, 1000)
    assert all(w > 0 for w, _ in draws)
    won = np.mean([t == WON for _, t in draws])
    assert won < 0.3  # the late exits were mostly losses; ordinary deals win 58%
    soon = np.mean([w <= 30 for w, _ in draws])
    hazard = curve.tail_hazard(200.0)  # no visit older: measured past the edge (5 days)
    assert hazard == 0.5 / (10 * (30 - 5) + 20 * (100 - 5))  # half an exit over the days
    assert abs(soon - (1 - math.exp(-30 * hazard))) < 0.01  # the draws follow the tail


def test_no_draw_goes_to_a_target_never_seen_and_moves_off_the_list_are_censored() -> None:
    days = np.array([2.0, 3.0, 4.0, 5.0])
    target = np.array([WON, 7, LOST, WON])  # 7: a move the process has no route for
    curve = exit_curve(days, target, np.ones(4, dtype=bool), (WON, LOST))
    assert curve.ended == 3
    assert {t for _, t in curve.given_age(0.0, 50)} <= {WON, LOST}
    assert math.isclose(float(curve.shares().sum()), 1.0)


def test_a_deal_stalled_for_months_is_not_taken_for_a_fresh_one() -> None:
    """Signing: ordinary deals leave within weeks, 52% won; twenty stalled deals sit open
    for 150 to 300 days. One stalled for 204 days has the tail's small chance to move at
    all in the next 60 days, not the stage's 52%."""
    rng = np.random.default_rng(4)
    stays = rng.exponential(8.0, 300)
    target = np.where(rng.uniform(size=300) < 0.52, WON, LOST)
    days = np.concatenate([stays, np.linspace(150, 300, 20)])
    ended = np.concatenate([np.ones(300, dtype=bool), np.zeros(20, dtype=bool)])
    curve = exit_curve(days, np.concatenate([target, np.full(20, WON)]), ended, (WON, LOST))
    draws = curve.given_age(204.0, 2000)
    moved = np.mean([w <= 60 for w, _ in draws])
    hazard = 0.5 / float(np.sum(days[days > 204] - 204))
    assert abs(moved - (1 - math.exp(-60 * hazard))) < 1e-3
    assert moved < 0.05
    fresh = curve.given_age(0.0, 2000)  # a fresh deal: the stage's own odds
    assert abs(np.mean([t == WON and w <= 60 for w, t in fresh]) - 0.52) < 4 * math.sqrt(
        0.52 * 0.48 / 300)


def test_the_stays_that_moved_on_are_unbiased_where_every_visit_is_not() -> None:
    """Wins after an exponential stay of mean 10 days (share 0.3), moves on after one of
    mean 20 (0.2), losses after one of mean 60 (a zombie closed after months), many
    visits still open: the mean stay before a move on (won or on) lies within 4 standard
    errors of its truth, (0.3 * 10 + 0.2 * 20) / 0.5 = 14 days (sd sqrt(440 - 14^2) over
    the moves seen); the Kaplan–Meier mean of every visit lies far above it."""
    from salesproc.core.survival import kaplan_meier
    from salesproc.prediction.exits import onward

    n = 6000
    days, target, ended = _visits(n, 2, censor_days=120)
    on = onward(days, ended, ended & (target == LOST))
    moved = int((ended & (target != LOST)).sum())
    assert on.n == moved
    assert abs(on.mean() - 14.0) <= 4 * math.sqrt(440 - 14**2) / math.sqrt(moved)
    assert kaplan_meier(days, ended).restricted_mean()[0] > 20
    assert abs(float(np.mean(on.sample())) - on.mean()) <= 0.01 * on.mean()
    assert on.mean(5.0) < 5.0
