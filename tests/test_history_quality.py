"""Data-quality rules on generated histories with a known truth: import bursts
(history.quality.bursts), close dates in the past and untouched deals."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from salesproc.history.quality import BURST_FALSE_ALARM, bursts

START = np.datetime64("2025-01-01T00:00:00", "s")
AS_OF = dt.datetime(2025, 12, 31, 23, 59, 59)
YEAR = 365 * 86400
DAY = np.timedelta64(1, "D")


def _monthly_base(rng: np.random.Generator) -> np.ndarray:
    """A year of creations: 34 to 57 deals each month, at random times within it."""
    months = [START + np.timedelta64(int(m * YEAR / 12), "s") + rng.uniform(
        0, YEAR / 12, int(rng.integers(34, 58))).astype("timedelta64[s]") for m in range(12)]
    return np.concatenate(months)


@pytest.mark.parametrize("days", [1, 21, 60])
def test_an_import_of_225_deals_over_a_34_to_57_a_month_base_is_found(days: int) -> None:
    rng = np.random.default_rng(days)
    for _ in range(8):
        first = START + np.timedelta64(int(rng.integers(60, 280)), "D")
        extra = first + rng.uniform(0, days * 86400, 225).astype("timedelta64[s]")
        found = bursts(np.concatenate([_monthly_base(rng), extra]), AS_OF)
        assert len(found) == 1, found
        (burst,) = found
        start, end = first.astype("datetime64[D]"), (extra.max()).astype("datetime64[D]")
        slack = 3 + days // 10  # days at the edges of a spread burst look like any other
        assert start - slack * DAY <= np.datetime64(burst.first) <= start + slack * DAY
        assert end - slack * DAY <= np.datetime64(burst.last) <= end + slack * DAY
        assert 0.85 * 225 <= burst.deals - burst.expected <= 225 + 4 * np.sqrt(
            burst.expected + 1)  # the injected deals, around the usual level's
        assert burst.expected < 0.5 * burst.deals


def test_a_long_burst_near_the_cut_ends_where_it_ended() -> None:
    """225 deals over 60 days that ended 30 days before the cut: the weeks around the days
    after it are the burst's or beyond the cut, so no usual level of their own is found;
    they take the nearest day's, and the burst ends where it did (with the same slack as
    above), not at the cut."""
    rng = np.random.default_rng(5)
    cut = dt.datetime(2025, 10, 1)
    for _ in range(8):
        base = _monthly_base(rng)
        first = np.datetime64(cut, "s") - np.timedelta64(90, "D")
        extra = first + rng.uniform(0, 60 * 86400, 225).astype("timedelta64[s]")
        (burst,) = bursts(np.concatenate([base, extra]), cut)
        end = extra.max().astype("datetime64[D]")
        assert np.datetime64(burst.last) <= end + (3 + 60 // 10) * DAY, (burst, end)


def test_clean_poisson_histories_of_the_same_size_show_no_burst() -> None:
    """With a false-alarm rate of at most BURST_FALSE_ALARM (0.1%) per history, more than 3
    of 300 flagged has a chance below 0.04% (binomial)."""
    rng = np.random.default_rng(99)
    flagged = sum(bool(bursts(START + rng.uniform(0, YEAR, rng.poisson(765)).astype(
        "timedelta64[s]"), AS_OF)) for _ in range(300))
    assert BURST_FALSE_ALARM == 0.001
    assert flagged <= 3


def test_bursts_ignore_what_it_cannot_judge() -> None:
    created = START + np.arange(20).astype("timedelta64[h]")  # 20 deals in one day
    assert bursts(created, dt.datetime(2025, 1, 1, 23)) == []  # one day: no usual level
    late = np.concatenate([_monthly_base(np.random.default_rng(1)),
                           np.full(50, np.datetime64("2026-03-01T10:00:00", "s")),
                           np.array(["NaT"] * 5, dtype="datetime64[s]")])
    assert bursts(late, AS_OF) == []  # after the as-of date, and unknown times: left out
