"""The one contract of every result's JSON layout (``to_dict()``, ``--format json``).

Every result says which layout it is written in (``layout``: one version for all of
them) and what it is (``kind``). A figure estimated from runs or from deals is an
**estimate**: ``{"mean", "low", "high", "n"}``, its mean (for a share: the observed
share) with the 95% interval [low, high] and the number of runs or deals it rests on.
What may actually happen, the spread of the runs, is an **outcome range**:
``{"worst", "neutral", "best"}`` (percentiles of the runs). A simulated figure carries
both, side by side. A number without data is ``null``, never NaN: the JSON is strict.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from salesproc.core.stats import Estimate
from salesproc.version import __version__

#: The layout every result is written in; raised when a shape changes.
LAYOUT_VERSION = 3
ESTIMATE = ("mean", "low", "high", "n")
OUTCOME = ("worst", "neutral", "best")


@lru_cache(maxsize=512)
def number(value: float) -> float | None:
    """*value*, or None where it is NaN or infinite: how a result's JSON says "no data"."""
    return float(value) if math.isfinite(value) else None


def clean(value: Any) -> Any:
    """*value* with every NaN and infinity (no data) made None, all the way down."""
    if isinstance(value, float):
        return number(value)
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def header(kind: str) -> dict[str, Any]:
    """The first keys of every result: its layout version, its kind and who wrote it."""
    return {"layout": LAYOUT_VERSION, "kind": kind, "salesproc": __version__}


def estimate(e: Estimate) -> dict[str, Any]:
    """An estimate's JSON form: {'mean', 'low', 'high', 'n'}."""
    return {"mean": number(e.mean), "low": number(e.low), "high": number(e.high), "n": e.n}


def outcome(worst: float, neutral: float, best: float) -> dict[str, Any]:
    """An outcome range's JSON form: {'worst', 'neutral', 'best'}."""
    return {"worst": number(worst), "neutral": number(neutral), "best": number(best)}


def figure(e: Estimate, spread: Iterable[float]) -> dict[str, Any]:
    """A simulated figure: its estimate and its outcome range side by side."""
    worst, neutral, best = spread
    return {**estimate(e), **outcome(worst, neutral, best)}


def frame(rows: Iterable[Sequence[object]], columns: Sequence[str]) -> Any:
    """A result's rows as a pandas DataFrame (the same rows its CSV holds); needs pandas
    (pip install 'salesproc[pandas]')."""
    from salesproc.core import optional

    return optional.pandas().DataFrame(list(rows), columns=list(columns))


def read_estimate(data: Any) -> Estimate:
    """An estimate back from its JSON form (None: NaN); ValueError if it is not one."""
    if not isinstance(data, dict) or not set(ESTIMATE) <= set(data):
        raise ValueError(f"not an estimate ({', '.join(ESTIMATE)}): {str(data)[:60]}")

    def value(key: str) -> float:
        found = data[key]
        if found is None:
            return math.nan
        if isinstance(found, bool) or not isinstance(found, int | float):
            raise ValueError(f"{key} is not a number: {str(found)[:30]}")
        return float(found)

    n = data["n"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n is not a count: {str(n)[:30]}")
    return Estimate(value("mean"), value("low"), value("high"), n)
