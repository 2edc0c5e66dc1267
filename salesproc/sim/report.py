"""Simulation results as a terminal summary, a stable JSON document, or CSV rows."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from salesproc import __version__
from salesproc.sim.compare import (
    HEADLINE,
    Comparison,
    change_text,
    marginal,
    step_confidence,
    verdict,
)
from salesproc.sim.experiment import SimulationResult
from salesproc.sim.metrics import jsonable
from salesproc.stats import Estimate, significant
from salesproc.units import plural

JSON_LAYOUT_VERSION = 2
DEAL_METRICS = ("leads", "won", "lost", "lead_to_win", "opportunities", "opportunity_win_rate",
                "revenue", "throughput_week", "throughput_month", "cycle_mean", "cycle_p10",
                "cycle_p50", "cycle_p90", "open", "open_value", "open_weighted")
INTERVAL_NOTE = ("± is the 95% confidence interval of the mean: how sure the average is, "
                 "not the range of outcomes")
STAGE_METRICS = ("visits", "time", "delay", "queue", "work", "approval", "wip", "lost",
                 "win_chance", "open", "open_value", "open_weighted")


def estimate_dict(e: Estimate) -> dict[str, Any]:
    """{'mean', 'low', 'high', 'n'}: the JSON form of every figure (null where undefined);
    n is how many replications it rests on."""
    return {"mean": jsonable(e.mean), "low": jsonable(e.low), "high": jsonable(e.high),
            "n": e.n}


def to_dict(result: SimulationResult) -> dict[str, Any]:
    """The documented JSON layout (README, "simulate --format json")."""
    p, s, summary = result.process, result.settings, result.summary

    def block(prefix: tuple[str, ...], names: tuple[str, ...]) -> dict[str, Any]:
        keys = {n: (*prefix, n) for n in names}
        return {n: estimate_dict(summary[key]) for n, key in keys.items() if key in summary}

    bottleneck = result.bottleneck()
    return {
        "layout": JSON_LAYOUT_VERSION,
        "salesproc": __version__,
        "process": {"name": p.name, "file": p.source, "time_unit": p.time_unit,
                    "currency": p.currency},
        "settings": {"horizon": s.horizon, "warmup": s.warmup, "replications": s.replications,
                     "seed": s.seed, "buyer": s.buyer,
                     "opportunity_stage": p.opportunity_stage},
        "interval": "95% confidence interval of the mean over replications",
        "warnings": result.warnings,
        "overall": block(("all",), DEAL_METRICS),
        "buyer_types": {b: block(("buyer", b), DEAL_METRICS) for b in p.buyer_types
                        if s.buyer in (None, b)},
        "stages": {sid: block(("stage", sid), STAGE_METRICS) for sid in p.stages},
        "lost_reasons": [{"stage": k[1], "reason": k[2], "deals": estimate_dict(e)}
                         for k, e in summary.items() if k[0] == "lost"],
        "roles": {r: {"headcount": role.headcount,
                      "utilization": estimate_dict(summary[("role", r, "utilization")]),
                      "queue_days": estimate_dict(summary[("role", r, "queue_days")])}
                  for r, role in p.roles.items()},
        "queues": [{"stage": k[1], "role": k[2], "deal_days": estimate_dict(e)}
                   for k, e in summary.items() if k[0] == "queue"],
        "bottleneck": None if bottleneck is None else {
            "stage": bottleneck["stage"], "role": bottleneck["role"],
            "queue_days": estimate_dict(bottleneck["queue_days"]),
            "utilization": estimate_dict(bottleneck["utilization"]),
            "queue_per_visit": estimate_dict(bottleneck["queue_per_visit"]),
            "share_of_queueing": bottleneck["share_of_queueing"]},
    }


def to_json(result: SimulationResult) -> str:
    return json.dumps(to_dict(result), indent=2, allow_nan=False) + "\n"


def to_csv(result: SimulationResult) -> str:
    """One row per figure: scope, subject, metric, mean, low, high, n (replications)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["scope", "subject", "metric", "mean", "low", "high", "n"])
    for key, e in result.summary.items():
        scope, subject, metric = (key[0], "", key[1]) if len(key) == 2 else key
        writer.writerow([scope, subject, metric, *(_cell(v) for v in (e.mean, e.low, e.high)),
                         e.n])
    return out.getvalue()


def _cell(value: float) -> str:
    return "" if math.isnan(value) else repr(value)


# --- terminal summary ---------------------------------------------------------------------


def _num(x: float, digits: int = 1) -> str:
    return "–" if math.isnan(x) else f"{x:,.{digits}f}"


def _pm(e: Estimate, digits: int = 1, pct: bool = False, runs: int | None = None) -> str:
    """'12.3 ± 0.4', or '0.5 (0.0–1.4)' where the interval was cut at 0; with *runs*, a
    figure resting on fewer replications says on how many."""
    scale = 100.0 if pct else 1.0
    unit = "%" if pct else ""
    if math.isnan(e.mean):
        return "–"

    def fmt(x: float) -> str:
        return f"{x * scale:,.{digits}f}{unit}"

    text = fmt(e.mean)
    if e.cut:
        text += f" ({fmt(e.low)}–{fmt(e.high)})"
    elif not math.isnan(e.half_width):
        text += f" ± {fmt(e.half_width)}"
    if runs is not None and e.n < runs:
        text += f" [{e.n} of {runs} runs]"
    return text


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = ["  " + "  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                              for i, (h, w) in enumerate(zip(headers, widths, strict=True)))]
    for row in rows:
        lines.append("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                      for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    return "\n".join(lines)


def to_text(result: SimulationResult) -> str:
    p, s, summary = result.process, result.settings, result.summary
    unit = p.time_unit
    cur = p.currency
    window = s.horizon - s.warmup
    runs = s.replications

    def g(*key: str) -> Estimate:
        return summary.get(key, Estimate(math.nan, math.nan, math.nan, 0))

    def pm(e: Estimate, digits: int = 1, pct: bool = False) -> str:
        return _pm(e, digits, pct, runs)

    title = f"{p.name}" + (f" — buyer type {s.buyer}" if s.buyer else "")
    opportunity = p.opportunity_stage
    lines = [
        title,
        f"{s.replications} {plural('replication', s.replications)} (runs) × {window:g} "
        f"{plural(unit, window)} measured"
        + (f" after a {s.warmup:g}-{unit} warm-up" if s.warmup else "")
        + f", seed {s.seed}",
        INTERVAL_NOTE + ("" if runs > 1 else " (one run: no interval)"),
        "",
        f"  Won deals          {pm(g('all', 'won'))}   of {_num(g('all', 'leads').mean, 0)} "
        "leads",
        f"  Revenue won        {cur} {pm(g('all', 'revenue'), 0)}",
        f"  Lead-to-win rate   {pm(g('all', 'lead_to_win'), 1, pct=True)}   of leads that "
        "ended (won or lost)",
        f"  Opportunity win    {pm(g('all', 'opportunity_win_rate'), 1, pct=True)}   of "
        f"opportunities that ended (deals that reached {opportunity})",
        f"  Cycle time         {pm(g('all', 'cycle_mean'))} {plural(unit, 2)} to win   "
        f"(p10 {_num(g('all', 'cycle_p10').mean)}, median {_num(g('all', 'cycle_p50').mean)},"
        f" p90 {_num(g('all', 'cycle_p90').mean)})",
        "  Throughput         " + _throughput(g("all", "throughput_week"),
                                               g("all", "throughput_month"), window, unit),
    ]
    neck = result.bottleneck()
    if neck is None:
        lines.append("  Bottleneck         none: no deal ever waited for a person")
    else:
        lines.append(
            f"  Bottleneck         {neck['stage']}, waiting for {neck['role']}: "
            f"{_num(neck['queue_days'].mean, 0)} deal-{plural(unit, 2)} of waiting "
            f"({neck['share_of_queueing']:.0%} of all), {neck['role']} "
            f"{pm(neck['utilization'], 0, pct=True)} busy")
    lines.append(
        f"  End pipeline       {_num(g('all', 'open').mean, 0)} open deals worth {cur} "
        f"{_num(g('all', 'open_value').mean, 0)}; weighted by win chance {cur} "
        f"{_num(g('all', 'open_weighted').mean, 0)}")
    for warning in result.warnings:
        lines.append(f"  warning: {warning}")
    lines += ["", "By buyer type", _table(
        ["buyer type", "leads", "won", "lead-to-win", "opportunity win", f"revenue ({cur})",
         "cycle time"],
        [[b, _num(g("buyer", b, "leads").mean, 0), pm(g("buyer", b, "won")),
          pm(g("buyer", b, "lead_to_win"), 1, pct=True),
          pm(g("buyer", b, "opportunity_win_rate"), 1, pct=True),
          pm(g("buyer", b, "revenue"), 0), pm(g("buyer", b, "cycle_mean"))]
         for b in p.buyer_types if s.buyer in (None, b)])]
    lines += ["", f"Time in stage ({plural(unit, 2)} per visit) and deals in stage", _table(
        ["stage", "visits", "delay", "queue", "work", "approval", "total", "avg deals",
         "win chance"],
        [[sid, _num(g("stage", sid, "visits").mean, 0), _num(g("stage", sid, "delay").mean, 2),
          _num(g("stage", sid, "queue").mean, 2), _num(g("stage", sid, "work").mean, 2),
          _num(g("stage", sid, "approval").mean, 2), pm(g("stage", sid, "time"), 2),
          _num(g("stage", sid, "wip").mean), pm(g("stage", sid, "win_chance"), 0, pct=True)]
         for sid in p.stages])]
    lines += ["", "Roles", _table(
        ["role", "headcount", "busy", f"deal-{plural(unit, 2)} waited for"],
        [[r, str(role.headcount), pm(g("role", r, "utilization"), 0, pct=True),
          _num(g("role", r, "queue_days").mean, 0)] for r, role in p.roles.items()])]
    lost = [(k, e) for k, e in summary.items() if k[0] == "lost"]
    if lost:
        lost.sort(key=lambda item: -item[1].mean)
        lines += ["", "Lost deals by stage and reason", _table(
            ["stage", "reason", "deals"], [[k[1], k[2], pm(e)] for k, e in lost])]
    return "\n".join(lines) + "\n"


def _throughput(week: Estimate, month: Estimate, window: float, unit: str) -> str:
    """Wins a week and a month, each only when at least that long was measured."""
    if math.isnan(week.mean):
        return (f"– (only {window:g} {plural(unit, window)} measured: too short for a weekly "
                "figure)")
    text = f"{_num(week.mean)} wins a week"
    if math.isnan(month.mean):
        return text + " (too short a run for a monthly figure)"
    return text + f", {_num(month.mean)} a month"


# --- comparisons and sweeps ---------------------------------------------------------------


def _figure(e: Estimate, style: str, cur: str) -> str:
    if style == "points":
        return _pm(e, 1, pct=True)
    if style == "relative" and e.mean >= 1000:
        return _pm(e, 0)
    return _pm(e)


def comparison_text(comparison: Comparison) -> str:
    base = comparison.base.result
    p, s = base.process, base.settings
    unit = p.time_unit
    lines = [f"Compared with {comparison.base.label}: {s.replications} paired "
             f"{plural('replication', s.replications)}, same seed ({s.seed}) and the same "
             "deals in every variant;",
             INTERVAL_NOTE + ";",
             "[a, b] is the 95% confidence interval of the difference of the means; * marks a "
             "difference the run-to-run spread cannot explain" + (
                 "." if s.replications > 1 else " (none: one replication judges nothing)."),
             ""]
    for variant in comparison.variants:
        lines += ["Verdict: " + verdict(comparison, variant), ""]
    for variant in comparison.variants:
        rows = []
        for key, label, style in HEADLINE:
            diff = comparison.difference(variant, key)
            shown = f"{label} ({unit}s)" if style == "time" else (
                f"{label} ({p.currency})" if key[1] in ("revenue", "open_weighted") else label)
            rows.append([shown, _figure(base[key], style, p.currency),
                         _figure(variant.result[key], style, p.currency),
                         change_text(diff, style, base[key].mean, unit),
                         "*" if significant(diff) else ""])
        before, after = base.bottleneck(), variant.result.bottleneck()
        rows.append(["Bottleneck", _neck(before), _neck(after), "", ""])
        lines += [f"{variant.label}", _table(["figure", "base", "variant", "change", ""],
                                             rows), ""]
    return "\n".join(lines)


def _neck(neck: dict[str, Any] | None) -> str:
    return "none" if neck is None else f"{neck['stage']} ({neck['role']})"


def comparison_dict(comparison: Comparison) -> dict[str, Any]:
    """The documented JSON layout of `compare` (README)."""
    base = comparison.base.result
    out: dict[str, Any] = {
        "layout": JSON_LAYOUT_VERSION,
        "base": {"label": comparison.base.label, "name": base.process.name,
                 "file": base.process.source},
        "settings": {"horizon": base.settings.horizon, "warmup": base.settings.warmup,
                     "replications": base.settings.replications, "seed": base.settings.seed},
        "interval": "95% confidence interval of the mean over replications",
        "variants": [],
    }
    for variant in comparison.variants:
        figures = {}
        for key, _, _ in HEADLINE:
            diff = comparison.difference(variant, key)
            figures[key[1]] = {"base": estimate_dict(base[key]),
                               "variant": estimate_dict(variant.result[key]),
                               "difference": estimate_dict(diff),
                               "significant": significant(diff)}
        before, after = base.bottleneck(), variant.result.bottleneck()
        out["variants"].append({
            "label": variant.label, "name": variant.result.process.name,
            "file": variant.result.process.source, "verdict": verdict(comparison, variant),
            "figures": figures,
            "bottleneck": {"base": None if before is None else [before["stage"],
                                                                 before["role"]],
                           "variant": None if after is None else [after["stage"],
                                                                   after["role"]]}})
    return out


def comparison_json(comparison: Comparison) -> str:
    return json.dumps(comparison_dict(comparison), indent=2, allow_nan=False) + "\n"


def comparison_csv(comparison: Comparison) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["variant", "metric", "base", "variant_mean", "difference", "low", "high",
                     "significant"])
    for variant in comparison.variants:
        for key, _, _ in HEADLINE:
            diff = comparison.difference(variant, key)
            writer.writerow([variant.label, key[1], _cell(comparison.base.result[key].mean),
                             _cell(variant.result[key].mean), _cell(diff.mean),
                             _cell(diff.low), _cell(diff.high), significant(diff)])
    return out.getvalue()


def sweep_text(comparison: Comparison, points: list[tuple[str, ...]]) -> str:
    base = comparison.base.result
    p, s = base.process, base.settings
    runs = [comparison.base, *comparison.variants]
    varying = [i for i in range(len(points[0])) if len({pt[i] for pt in points}) > 1]
    headers = [points[0][i].split("=")[0] for i in varying] + [
        "won", f"revenue ({p.currency})", "lead-to-win", f"cycle ({p.time_unit}s)",
        "bottleneck", "won vs previous", ""]
    rows = []
    last_gain = None
    for index, (point, run) in enumerate(zip(points, runs, strict=True)):
        result = run.result
        step = marginal(comparison, index, ("all", "won"))
        gain = "" if step is None else change_text(step, "absolute", 0.0, p.time_unit)
        rows.append([*(point[i].split("=", 1)[1] for i in varying),
                     _pm(result["all", "won"]), _pm(result["all", "revenue"], 0),
                     _pm(result["all", "lead_to_win"], 1, pct=True),
                     _pm(result["all", "cycle_mean"]), _neck(result.bottleneck()), gain,
                     "" if step is None else ("*" if significant(step) else "")])
        if step is not None and significant(step) and step.mean > 0:
            last_gain = point
    steps = len(comparison.variants)
    level = step_confidence(comparison)
    lines = [f"{p.name}: sweep of {', '.join(headers[:len(varying)])}; {s.replications} "
             f"paired {plural('replication', s.replications)} each, seed {s.seed}",
             INTERVAL_NOTE + ";",
             f"won vs previous: change from the row above, [interval]; the {steps} "
             f"{plural('interval', steps)} hold together at 95% (each at {level:.2%}, "
             "Bonferroni); * marks a change the run-to-run spread cannot explain.", "",
             _table(headers, rows), ""]
    if len(varying) == 1 and s.replications < 2:
        lines.append("With one replication no step can be judged.")
    elif len(varying) == 1:
        if last_gain is None:
            lines.append("No step adds a significant number of won deals.")
        else:
            lines.append(f"Won deals last grow significantly at {last_gain[varying[0]]}; "
                         "beyond it, more brings no measurable gain.")
    return "\n".join(lines) + "\n"


def sweep_dict(comparison: Comparison, points: list[tuple[str, ...]]) -> dict[str, Any]:
    runs = [comparison.base, *comparison.variants]
    rows = []
    for index, (point, run) in enumerate(zip(points, runs, strict=True)):
        step = marginal(comparison, index, ("all", "won"))
        rows.append({
            "settings": dict(p.split("=", 1) for p in point),
            "figures": {key[1]: estimate_dict(run.result[key]) for key, _, _ in HEADLINE},
            "bottleneck": None if run.result.bottleneck() is None else [
                run.result.bottleneck()["stage"], run.result.bottleneck()["role"]],  # type: ignore[index]
            "won_vs_previous": None if step is None else {
                **estimate_dict(step), "significant": significant(step)}})
    base = comparison.base.result
    return {"layout": JSON_LAYOUT_VERSION, "process": base.process.name,
            "file": base.process.source, "replications": base.settings.replications,
            "seed": base.settings.seed, "step_confidence": step_confidence(comparison),
            "points": rows}


def sweep_csv(comparison: Comparison, points: list[tuple[str, ...]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    settings = [p.split("=", 1)[0] for p in points[0]]
    writer.writerow([*settings, "metric", "mean", "low", "high"])
    for point, run in zip(points, [comparison.base, *comparison.variants], strict=True):
        values = [p.split("=", 1)[1] for p in point]
        for key, _, _ in HEADLINE:
            e = run.result[key]
            writer.writerow([*values, key[1], _cell(e.mean), _cell(e.low), _cell(e.high)])
    return out.getvalue()
