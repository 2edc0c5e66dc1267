"""Backtest the forecast on the team's own past: at each origin, calibrate on the history
before it, forecast the next period, and compare with what happened.

Reported per origin and overall: the actual wins and revenue beside the forecast's worst
to best range, the share of actuals inside that 10th-90th percentile band (about 80% for
an honest forecast), and the mean absolute error of the neutral case beside two
baselines: the run rate (the wins of the 90 days before the origin, carried forward) and
the CRM's weighted pipeline (the open deals' amounts times the CRM's probability; the
probability as exported, which may know more than the CRM knew at the origin).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from salesproc.calibration import calibrate, write_variant
from salesproc.forecast import Outcome, forecast
from salesproc.history.table import OUTCOME_OPEN, OUTCOME_WON, History
from salesproc.loader import load
from salesproc.model import Process

RUN_RATE_DAYS = 90


@dataclass(frozen=True)
class Origin:
    """One forecast origin: the forecast of the next period and what happened."""

    at: dt.datetime
    until: dt.datetime
    won: Outcome
    revenue: Outcome
    actual_won: int
    actual_revenue: float
    run_rate_won: float
    run_rate_revenue: float
    weighted_pipeline: float  # the CRM's: open amounts × probability at the origin

    @property
    def won_inside(self) -> bool:
        return self.won.worst <= self.actual_won <= self.won.best

    @property
    def revenue_inside(self) -> bool:
        return self.revenue.worst <= self.actual_revenue <= self.revenue.best


@dataclass
class Backtest:
    """Every origin, and the coverage and errors over all of them."""

    origins: list[Origin]
    horizon_days: float
    notes: list[str] = field(default_factory=list)

    def coverage(self, figure: str = "won") -> float:
        """The share of origins whose actual lies in the forecast's 10th-90th band (of
        those with a band: a forecast of fewer than 3 runs has none)."""
        judged = [o for o in self.origins if math.isfinite(o.won.worst)]
        inside = [o.won_inside if figure == "won" else o.revenue_inside for o in judged]
        return float(np.mean(inside)) if inside else math.nan

    def errors(self) -> dict[str, float]:
        """Mean absolute errors of the neutral case and of the baselines."""
        o = self.origins

        def mae(pairs: list[tuple[float, float]]) -> float:
            return float(np.mean([abs(a - b) for a, b in pairs])) if pairs else math.nan

        return {
            "won_neutral": mae([(x.won.neutral, x.actual_won) for x in o]),
            "won_run_rate": mae([(x.run_rate_won, x.actual_won) for x in o]),
            "revenue_neutral": mae([(x.revenue.neutral, x.actual_revenue) for x in o]),
            "revenue_run_rate": mae([(x.run_rate_revenue, x.actual_revenue) for x in o]),
            "revenue_weighted_pipeline": mae([(x.weighted_pipeline, x.actual_revenue)
                                              for x in o if math.isfinite(x.weighted_pipeline)]),
        }

    def to_dict(self) -> dict[str, Any]:
        def clean(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {
            "horizon_days": self.horizon_days,
            "origins": [{"at": o.at.isoformat(), "until": o.until.isoformat(),
                         "won": o.won.to_dict(), "revenue": o.revenue.to_dict(),
                         "actual_won": o.actual_won, "actual_revenue": o.actual_revenue,
                         "run_rate_won": o.run_rate_won,
                         "run_rate_revenue": o.run_rate_revenue,
                         "weighted_pipeline": clean(o.weighted_pipeline),
                         "won_inside": o.won_inside, "revenue_inside": o.revenue_inside}
                        for o in self.origins],
            "coverage": {"won": clean(self.coverage("won")),
                         "revenue": clean(self.coverage("revenue"))},
            "mean_absolute_error": {k: clean(v) for k, v in self.errors().items()},
            "notes": self.notes,
        }


def backtest(history: History, origins: list[dt.datetime], horizon_days: float, *,
             replications: int = 100, seed: int | None = None,
             folder: str | None = None) -> Backtest:
    """At each origin: calibrate the process on the history before it (a variant written
    to *folder*, by default beside the process file's), forecast *horizon_days* ahead and
    compare with the history after it."""
    import os
    import tempfile

    process = history.process
    done: list[Origin] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(dir=folder or os.path.dirname(
            os.path.abspath(process.source or "."))) as scratch:
        for k, at in enumerate(origins):
            until = at + dt.timedelta(days=horizon_days)
            before = history.at(at)
            if len(before.deals) < 30 or until > history.as_of:
                notes.append(f"{at:%Y-%m-%d}: left out ("
                             + ("fewer than 30 deals before it" if len(before.deals) < 30
                                else "the history ends before its period does") + ")")
                continue
            fitted = _calibrated(before, os.path.join(scratch, f"origin{k}.yaml"))
            result = forecast(before, until, process=fitted, replications=replications,
                              seed=seed)
            done.append(_origin(history, before, at, until, result.totals["won"],
                                result.totals["revenue"]))
    return Backtest(done, horizon_days, notes)


def _calibrated(history: History, path: str) -> Process:
    cal = calibrate(history)
    write_variant(cal, path)
    return load(path)


def _origin(full: History, before: History, at: dt.datetime, until: dt.datetime,
            won: Outcome, revenue: Outcome) -> Origin:
    d = full.deals
    start, end = np.datetime64(at, "s"), np.datetime64(until, "s")
    closed = (d.outcome == OUTCOME_WON) & (d.closed > start) & (d.closed <= end)
    value = np.nan_to_num(d.value[closed])
    past = (d.outcome == OUTCOME_WON) & (d.closed > start - np.timedelta64(RUN_RATE_DAYS, "D")) \
        & (d.closed <= start)
    days = (until - at).total_seconds() / 86400
    scale = days / RUN_RATE_DAYS
    b = before.deals
    is_open = b.outcome == OUTCOME_OPEN
    known = is_open & np.isfinite(b.value) & np.isfinite(b.probability)
    weighted = float(np.sum(b.value[known] * b.probability[known])) if known.any() else math.nan
    return Origin(at, until, won, revenue, int(closed.sum()), float(value.sum()),
                  float(past.sum()) * scale, float(np.nansum(d.value[past])) * scale, weighted)
