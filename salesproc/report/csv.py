"""Results as CSV: one row per figure, for spreadsheets and pandas."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence

from salesproc.measurement import Measurement, scopes
from salesproc.sim.compare import HEADLINE, Comparison, SweepResult
from salesproc.sim.results import SimulationResult
from salesproc.stats import significant


def _write(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return out.getvalue()


def _cell(value: object) -> object:
    """NaN (no data) is an empty cell; floats keep every digit; text that a spreadsheet
    would run as a formula (=, +, -, @ first) is quoted with a leading apostrophe."""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def simulation(result: SimulationResult) -> str:
    """scope, subject, metric, mean, low, high, n."""
    return _write(["scope", "subject", "metric", "mean", "low", "high", "n"], result.rows())


def comparison(done: Comparison) -> str:
    """variant, metric, base, variant_mean, difference, low, high, significant."""
    rows = []
    for variant in done.variants:
        for h in HEADLINE:
            diff = done.difference(variant, h.key)
            rows.append([variant.label, h.key.metric, done.base.result.summary[h.key].mean,
                         variant.result.summary[h.key].mean, diff.mean, diff.low, diff.high,
                         significant(diff)])
    return _write(["variant", "metric", "base", "variant_mean", "difference", "low", "high",
                   "significant"], rows)


def sweep(done: SweepResult) -> str:
    """One column per setting, then metric, mean, low, high."""
    settings = [p.split("=", 1)[0] for p in done.points[0]]
    rows = []
    for point, run in zip(done.points, done.runs, strict=True):
        values = [p.split("=", 1)[1] for p in point]
        for h in HEADLINE:
            e = run.result.summary[h.key]
            rows.append([*values, h.key.metric, e.mean, e.low, e.high])
    return _write([*settings, "metric", "mean", "low", "high"], rows)


MEASURE_HEADER = ["section", "scope", "stage", "target", "metric", "value", "low", "high", "n",
                  "deal", "detail"]


def measurement(done: Measurement) -> str:
    """One row per figure: section, scope (all or a buyer type), stage, target, metric,
    value, low, high, n; open deals as rows of section open_deal, with what they need."""
    rows: list[list[object]] = []
    for s in scopes(done):
        for name, e in (("lead_to_win", s.lead_to_win),
                        ("opportunity_win_rate", s.opportunity_win_rate)):
            rows.append(["deals", s.name, "", "", name, e.mean, e.low, e.high, e.n, "", ""])
        for name, value in (("deals", s.deals), ("open", s.open), ("won", s.won),
                            ("lost", s.lost), ("won_value", s.won_value),
                            ("cycle_mean", s.cycle[0]), ("cycle_p10", s.cycle[1]),
                            ("cycle_p50", s.cycle[2]), ("cycle_p90", s.cycle[3]),
                            ("velocity_per_month", s.velocity),
                            ("new_per_week", s.new_per_week)):
            rows.append(["deals", s.name, "", "", name, float(value), "", "", "", "", ""])
        for p in s.pipeline:
            for name, value in (("deals", p.deals), ("value", p.value), ("age_p50", p.age_p50),
                                ("age_p90", p.age_p90), ("stale", p.stale)):
                rows.append(["pipeline", s.name, p.stage, "", name, float(value), "", "", "",
                             "", ""])
        for t in s.times:
            rows.append(["time_in_stage", s.name, t.stage, "", "mean", t.mean.mean, t.mean.low,
                         t.mean.high, t.visits, "", ""])
            for name, value in (("median", t.median), ("p90", t.p90),
                                ("file_mean", t.file_mean if t.file_mean is not None
                                 else math.nan)):
                rows.append(["time_in_stage", s.name, t.stage, "", name, value, "", "",
                             t.visits, "", ""])
        for m in s.moves:
            rows.append(["flow", s.name, m.source, m.target, "share", m.share.mean, m.share.low,
                         m.share.high, m.share.n, "", "" if m.allowed else "not allowed"])
        for stage, reason, count in s.losses:
            rows.append(["lost", s.name, stage, "", "deals", float(count), "", "", "", "",
                         reason])
    for d in done.open_deals.rows():
        rows.append(["open_deal", d.buyer_type, d.stage, "", "age_days", d.age, "", "", "",
                     d.id, "; ".join([*d.requires, *(f"approval: {a}" for a in d.approvals)])])
    return _write(MEASURE_HEADER, rows)
