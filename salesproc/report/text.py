"""Results as text for a terminal: what simulate, compare and sweep print."""

from __future__ import annotations

import math
from collections.abc import Callable

from salesproc.sim.compare import (
    HEADLINE,
    ChangeStyle,
    Comparison,
    SweepResult,
    change_text,
    step_confidence,
    verdict,
)
from salesproc.sim.results import Bottleneck, SimulationResult
from salesproc.stats import Estimate, significant
from salesproc.units import plural

INTERVAL_NOTE = ("± is the 95% confidence interval of the mean: how sure the average is, "
                 "not the range of outcomes")


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


def simulation(result: SimulationResult) -> str:
    """What `salesproc simulate` prints: the answers first, then the tables."""
    p, s, summary = result.process, result.settings, result.summary
    unit = p.time_unit
    cur = p.currency
    window = s.horizon - s.warmup
    runs = s.replications
    g = result.get

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
        f"From {p.start:%a %Y-%m-%d}; the team works {p.calendar.describe()}",
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
            f"  Bottleneck         {neck.stage}, waiting for {neck.role}: "
            f"{_num(neck.queue_days.mean, 0)} deal-{plural(unit, 2)} of waiting "
            f"({neck.share_of_queueing:.0%} of all), {neck.role} "
            f"{pm(neck.utilization, 0, pct=True)} busy")
    lines.append(
        f"  End pipeline       {_num(g('all', 'open').mean, 0)} open deals worth {cur} "
        f"{_num(g('all', 'open_value').mean, 0)}; weighted by win chance {cur} "
        f"{_num(g('all', 'open_weighted').mean, 0)}")
    for warning in result.warnings:
        lines.append(f"  warning: {warning}")
    lines += _calendar_tables(result, pm)
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
        [[r, "→".join(dict.fromkeys([str(role.headcount),
                                      *(str(n) for t, n in role.staffing if 0 < t < s.horizon)])),
          pm(g("role", r, "utilization"), 0, pct=True),
          _num(g("role", r, "queue_days").mean, 0)] for r, role in p.roles.items()])]
    lost = [(k, e) for k, e in summary.items() if k.scope == "lost"]
    if lost:
        lost.sort(key=lambda item: -item[1].mean)
        lines += ["", "Lost deals by stage and reason", _table(
            ["stage", "reason", "deals"], [[k.subject, k.metric, pm(e)] for k, e in lost])]
    return "\n".join(lines) + "\n"


def _calendar_tables(result: SimulationResult, pm: Callable[..., str]) -> list[str]:
    """Leads, wins, revenue and the open pipeline per month (and quarter), as planned."""
    cur = result.process.currency
    out: list[str] = []
    for scope, title in (("month", "By month"), ("quarter", "By quarter")):
        labels = list(dict.fromkeys(k.subject for k in result.summary if k.scope == scope))
        if not labels:
            continue
        rows = []
        for label in labels:
            part = result.get(scope, label, "measured").mean
            shown = label + (" (part)" if part < 1 - 1e-9 else "")
            rows.append([shown, pm(result.get(scope, label, "leads"), 0),
                         pm(result.get(scope, label, "won")),
                         pm(result.get(scope, label, "revenue"), 0),
                         _num(result.get(scope, label, "open").mean, 0),
                         _num(result.get(scope, label, "open_value").mean, 0)])
        out += ["", title, _table([scope, "new leads", "won", f"revenue ({cur})",
                                   "open at end", f"open value ({cur})"], rows)]
    return out


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


def _figure(e: Estimate, style: ChangeStyle) -> str:
    if style == "points":
        return _pm(e, 1, pct=True)
    if style == "relative" and e.mean >= 1000:
        return _pm(e, 0)
    return _pm(e)


def comparison(comparison: Comparison) -> str:
    """What `salesproc compare` prints: a verdict per variant, then the figures."""
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
        for h in HEADLINE:
            diff = comparison.difference(variant, h.key)
            before_figure = base.summary[h.key]
            shown = f"{h.label} ({unit}s)" if h.style == "time" else (
                f"{h.label} ({p.currency})" if h.key.metric in ("revenue", "open_weighted")
                else h.label)
            rows.append([shown, _figure(before_figure, h.style),
                         _figure(variant.result.summary[h.key], h.style),
                         change_text(diff, h.style, before_figure.mean, unit),
                         "*" if significant(diff) else ""])
        before, after = base.bottleneck(), variant.result.bottleneck()
        rows.append(["Bottleneck", _neck(before), _neck(after), "", ""])
        lines += [f"{variant.label}", _table(["figure", "base", "variant", "change", ""],
                                             rows), ""]
    return "\n".join(lines)


def _neck(neck: Bottleneck | None) -> str:
    return "none" if neck is None else f"{neck.stage} ({neck.role})"


def sweep(done: SweepResult) -> str:
    """What `salesproc sweep` prints: a row per point, with the gain of each step."""
    comparison, points = done.comparison, done.points
    base = comparison.base.result
    p, s = base.process, base.settings
    varying = done.varying()
    headers = [points[0][i].split("=")[0] for i in varying] + [
        "won", f"revenue ({p.currency})", "lead-to-win", f"cycle ({p.time_unit}s)",
        "bottleneck", "won vs previous", ""]
    rows = []
    for index, (point, run) in enumerate(zip(points, done.runs, strict=True)):
        result = run.result
        step = done.step(index)
        gain = "" if step is None else change_text(step, "absolute", 0.0, p.time_unit)
        rows.append([*(point[i].split("=", 1)[1] for i in varying),
                     _pm(result["all", "won"]), _pm(result["all", "revenue"], 0),
                     _pm(result["all", "lead_to_win"], 1, pct=True),
                     _pm(result["all", "cycle_mean"]), _neck(result.bottleneck()), gain,
                     "" if step is None else ("*" if significant(step) else "")])
    last_gain = done.last_gain()
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
