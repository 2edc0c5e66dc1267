"""Results as JSON documents: the results' own dict layouts, written strictly (no NaN)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from salesproc.experiments.compare import Comparison, SweepResult
from salesproc.experiments.results import SimulationResult

if TYPE_CHECKING:
    from salesproc.experiments.plan import PlanResult
    from salesproc.measuring.breakdown import Breakdown
    from salesproc.measuring.deal_measurement import DealMeasurement
    from salesproc.measuring.measurement import Measurement
    from salesproc.measuring.review import Review
    from salesproc.prediction.backtest import Backtest
    from salesproc.prediction.fitcheck import FitCheck
    from salesproc.prediction.forecast import Forecast


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def simulation(result: SimulationResult) -> str:
    """What `simulate --format json` writes."""
    return _dumps(result.to_dict())


def comparison(done: Comparison) -> str:
    """What `compare --format json` writes."""
    return _dumps(done.to_dict())


def sweep(done: SweepResult) -> str:
    """What `sweep --format json` writes."""
    return _dumps(done.to_dict())


def measurement(done: Measurement) -> str:
    """What `measure --format json` writes."""
    return _dumps(done.to_dict())


def deal_measurement(done: DealMeasurement) -> str:
    """What `measure --format json` writes of a deal table."""
    return _dumps(done.to_dict())


def breakdown(done: Breakdown) -> str:
    """What `measure --by ... --format json` writes."""
    return _dumps(done.to_dict())


def review(done: Review) -> str:
    """What `review --format json` writes."""
    return _dumps(done.to_dict())


def forecast(done: Forecast) -> str:
    """What `forecast --format json` writes (its track record too, when it has one)."""
    return _dumps(done.to_dict())


def backtest(done: Backtest) -> str:
    """What `backtest --format json` writes (and `forecast --track-record` reads)."""
    return _dumps(done.to_dict())


def fit_check(done: FitCheck) -> str:
    """What `calibrate --check --check-json FILE` writes."""
    return _dumps(done.to_dict())


def plan(done: PlanResult) -> str:
    """What `plan --format json` writes."""
    return _dumps(done.to_dict())
