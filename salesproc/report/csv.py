"""Results as CSV: one row per figure, for spreadsheets and pandas."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from salesproc.core.escaping import plain
from salesproc.experiments.compare import Comparison, SweepResult
from salesproc.experiments.results import SimulationResult

if TYPE_CHECKING:
    from salesproc.measuring.breakdown import Breakdown
    from salesproc.measuring.deal_measurement import DealMeasurement
    from salesproc.measuring.measurement import Measurement
    from salesproc.measuring.review import Review
    from salesproc.prediction.backtest import Backtest
    from salesproc.prediction.forecast import Forecast


def _write(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return out.getvalue()


#: A formula's first character after a semicolon or a tab: a spreadsheet that splits the
#: file on them (as many do in Europe) would start a cell there.
_INNER_FORMULA = re.compile(r"([;\t]\s*)([=+\-@])")


def _cell(value: object) -> object:
    """NaN (no data) is an empty cell; floats keep every digit; text is on one line with
    its control characters as escapes (:func:`salesproc.core.escaping.plain`), and text that a
    spreadsheet would run as a formula (=, +, -, @ first, spaces aside) is quoted with a
    leading apostrophe — after a semicolon too (x;=cmd;y), where a spreadsheet splitting
    on semicolons starts a cell."""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, str):
        text = _INNER_FORMULA.sub(r"\1'\2", plain(value))
        return "'" + text if text.lstrip()[:1] in ("=", "+", "-", "@") else text
    return value


def simulation(result: SimulationResult) -> str:
    """scope, subject, metric, mean, low, high, n, worst, neutral, best."""
    from salesproc.experiments.results import ROW_FIELDS

    return _write(ROW_FIELDS, result.rows())


def comparison(done: Comparison) -> str:
    """variant, metric, base, variant_mean, difference, low, high, significant, and the
    variant's worst, neutral and best case."""
    return _write(done.COLUMNS, done.rows())


def sweep(done: SweepResult) -> str:
    """One column per setting, then metric, mean, low, high, n."""
    return _write(done.columns(), done.rows())


def measurement(done: Measurement) -> str:
    """section, scope, stage, target, metric, value, low, high, n, deal, detail: one row per
    figure, and a row per open deal with what it still needs."""
    from salesproc.measuring.measurement import ROW_FIELDS

    return _write(ROW_FIELDS, done.rows())


def deal_measurement(done: DealMeasurement) -> str:
    """A deal table's figures, in the columns of measurement's CSV (ROW_FIELDS)."""
    from salesproc.measuring.measurement import ROW_FIELDS

    return _write(ROW_FIELDS, done.rows())


def breakdown(done: Breakdown) -> str:
    """`measure --by`: one row per value (Breakdown.COLUMNS)."""
    return _write(done.COLUMNS, done.rows())


def review(done: Review) -> str:
    """`review`: the review as flat rows (Review.COLUMNS: section, key, deals, value)."""
    return _write(done.COLUMNS, done.rows())


def forecast(done: Forecast) -> str:
    """One row per open deal: deal, buyer_type, stage, value, chance, month,
    crm_probability, forecast_category (sort it as you like)."""
    return _write(done.DEAL_COLUMNS, done.deal_rows())


def backtest(done: Backtest) -> str:
    """One row per origin, figure (won, revenue) and forecaster (model, then each
    baseline): the point forecast (the model's neutral case), the actual, the error
    (forecast less actual); for the model its worst and best case and whether the actual
    was inside. A failed origin is one row per figure with the reason in *failed*."""
    return _write(done.COLUMNS, done.rows())
