"""Results as text for a terminal: what simulate, compare and sweep print."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from salesproc.core.calendar import partly
from salesproc.core.escaping import shown, table_cell
from salesproc.core.stats import Estimate, significant
from salesproc.core.units import plural
from salesproc.experiments.compare import (
    ChangeStyle,
    Comparison,
    SweepResult,
    Variant,
    change_text,
    verdict,
)
from salesproc.experiments.results import Hire, SimulationResult, Wait

T = TypeVar("T")

if TYPE_CHECKING:  # the CRM-history reports load pyarrow: only when one is made
    from salesproc.experiments.plan import PlanResult
    from salesproc.measuring.breakdown import Breakdown
    from salesproc.measuring.deal_measurement import DealMeasurement
    from salesproc.measuring.measurement import Measurement
    from salesproc.measuring.review import Review
    from salesproc.prediction.backtest import Backtest, Beaten, Blend
    from salesproc.prediction.calibration import Calibration
    from salesproc.prediction.fitcheck import FitCheck
    from salesproc.prediction.forecast import Forecast, Outcome

INTERVAL_NOTE = ("± is the 95% confidence interval of the mean: how sure the average is, "
                 "not the range of outcomes")
RANGE_NOTE = ("worst–best case is the 10th to 90th percentile of the runs: what the measured "
              "period may bring")


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


def _table(headers: list[str], rows: list[list[str]], text: tuple[int, ...] = (0,)) -> str:
    """Columns padded to their widest cell: those in *text* to the left, numbers right.
    Every cell goes through :func:`~salesproc.core.escaping.table_cell`: a line break, tab or
    escape sequence in a name from a file cannot break the table or reach the terminal."""
    headers = [table_cell(h) for h in headers]
    rows = [[table_cell(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  " + "  ".join(c.ljust(w) if i in text else c.rjust(w) for i, (c, w) in
                                enumerate(zip(cells, widths, strict=True)))

    lines = [line(headers)] + [line(row) for row in rows]
    lines = [row.rstrip() for row in lines]
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

    scope = ("all", "") if result.buyer is None else ("buyer", result.buyer)

    def d(metric: str) -> Estimate:  # a deal figure of the buyer type reported, or of all
        return g(*scope, metric)

    title = p.name + (f" — {p.buyer_types[result.buyer].name} deals" if result.buyer else "") \
        + (f" — {p.buyer_types[s.only_buyer].name} leads only" if s.only_buyer else "")
    opportunity = p.opportunities_reach(result.buyer or s.only_buyer)
    def span(*key: str, digits: int = 0) -> str:
        worst, _, best = result.outcome(*key)
        if math.isnan(worst):
            return ""
        return f"   worst–best case {_num(worst, digits)}–{_num(best, digits)}"

    lines = [
        title,
        f"{s.replications} {plural('replication', s.replications)} (runs) × {window:g} "
        f"{plural(unit, window)} measured"
        + (f" after a {s.warmup:g}-{unit} warm-up" if s.warmup else "")
        + f", seed {s.seed}",
        f"From {p.start:%a %Y-%m-%d}; the team works {p.calendar.describe()}",
        INTERVAL_NOTE + ("" if runs > 1 else " (one run: no interval)"),
        RANGE_NOTE,
        *([f"Figures of {p.buyer_types[result.buyer].name} deals ({result.buyer}); every "
           "buyer type is simulated, for they share the team: the waiting, bottleneck, "
           "months, time in stage and roles are all deals'"] if result.buyer else []),
        "",
        f"  Won deals          {pm(d('won'))}   of {_num(d('leads').mean, 0)} "
        "leads" + span(*scope, "won"),
        f"  Revenue won        {cur} {pm(d('revenue'), 0)}" + span(*scope, "revenue"),
        f"  Lead-to-win rate   {pm(d('lead_to_win'), 1, pct=True)}   of leads that "
        "ended (won or lost)",
        f"  Opportunity win    {pm(d('opportunity_win_rate'), 1, pct=True)}   of "
        f"opportunities that ended (deals that reached {opportunity})",
        f"  Cycle time         {pm(d('cycle_mean'))} {plural(unit, 2)} to win   "
        f"(p10 {_num(d('cycle_p10').mean)}, median {_num(d('cycle_p50').mean)},"
        f" p90 {_num(d('cycle_p90').mean)})",
        "  Throughput         " + _throughput(d("throughput_week"),
                                               d("throughput_month"), window, unit),
    ]
    lines += [f"  Waiting            {_waiting(result, pm)}",
              f"  Bottleneck         {_bottleneck(result)}"]
    lines.append(
        f"  End pipeline       {_num(d('open').mean, 0)} open deals worth {cur} "
        f"{_num(d('open_value').mean, 0)}; weighted by win chance {cur} "
        f"{_num(d('open_weighted').mean, 0)}")
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
         for b in p.buyer_types if s.only_buyer in (None, b)])]
    hours = not all(role.calendar.always for role in p.roles.values())  # a calendar
    lines += ["", f"Time in stage ({plural(unit, 2)} per visit) and deals in stage"
              + ("; queue: waiting for busy people, after hours: for the working day"
                 if hours else ""), _table(
        ["stage", "visits", "delay", "queue", *(["after hours"] if hours else []), "work",
         "approval", "total", "avg deals", "win chance"],
        [[sid, _num(g("stage", sid, "visits").mean, 0), _num(g("stage", sid, "delay").mean, 2),
          _num(g("stage", sid, "queue").mean, 2),
          *([_num(g("stage", sid, "after_hours").mean, 2)] if hours else []),
          _num(g("stage", sid, "work").mean, 2),
          _num(g("stage", sid, "approval").mean, 2), pm(g("stage", sid, "time"), 2),
          _num(g("stage", sid, "wip").mean), pm(g("stage", sid, "win_chance"), 0, pct=True)]
         for sid in p.stages])]
    limited = any(role.time_for_deals < 1 or role.max_deals for role in p.roles.values())
    lines += ["", "Roles", _table(
        ["role", "headcount", *(["time for deals", "open deals each"] if limited else []),
         "busy", f"deal-{plural(unit, 2)} waited for (busy)"],
        [[r, "→".join(dict.fromkeys([str(role.headcount),
                                      *(str(n) for t, n in role.staffing if 0 < t < s.horizon)])),
          *([f"{role.time_for_deals:.0%}", "no limit" if role.max_deals is None
             else f"at most {role.max_deals:,}"] if limited else []),
          pm(g("role", r, "utilization"), 0, pct=True),
          _num(g("role", r, "queue_days").mean, 0)] for r, role in p.roles.items()])]
    lost = [(k, e) for k, e in summary.items() if k.scope == "lost"]
    if lost:
        lost.sort(key=lambda item: -item[1].mean)
        lines += ["", "Lost deals by stage and reason", _table(
            ["stage", "reason", "deals"], [[k.subject, k.metric, pm(e)] for k, e in lost])]
    return "\n".join(lines) + "\n"


def _waiting(result: SimulationResult, pm: Callable[..., str]) -> str:
    """The two kinds of waiting apart: for busy people (where the longest wait is), and
    for the working day (nights, weekends, holidays: no reason to hire)."""
    unit = plural(result.process.time_unit, 2)
    people = result.get("waiting", "", "people")
    text = f"{_num(people.mean, 0)} deal-{unit} for busy people"
    wait = result.longest_wait()
    if wait is None:
        text += " (nobody waited for a person)"
    else:
        text += (f", most at {wait.stage} for {wait.role} ({wait.share_of_queueing:.0%}; "
                 f"{wait.role} {pm(wait.utilization, 0, pct=True)} busy)")
    if not all(role.calendar.always for role in result.process.roles.values()):
        day = result.get("waiting", "", "working_day")
        text += f"; {_num(day.mean, 0)} for the working day (nights, weekends, holidays)"
    return text


def _bottleneck(result: SimulationResult) -> str:
    """Where one more person helps most, with the paired evidence; or why nowhere."""
    unit = result.process.time_unit
    if result.hires is None:
        return "not checked (one more person per role was not simulated)"
    if not result.hires:
        return ("none: nobody waited for busy people" if result.settings.replications > 1
                else "not checked: one replication gives no paired interval")
    neck = result.bottleneck()
    if neck is None:
        return ("none: one more person measurably helps in no role (paired runs on the "
                "same deals: " + "; ".join(_hire(h, unit) for h in result.hires) + ")")
    tried = ", ".join(h.role for h in result.hires)
    return (f"{neck.role}: hire there; with one more, {_change(neck.hire, unit)} (paired "
            f"runs on the same deals, one more in each of {tried})")


def _hire(hire: Hire, unit: str) -> str:
    """'one more sdr: cycle time -0.42 days [-0.63, -0.21], won deals +1.2 [-0.5, +2.9]'."""
    return f"one more {hire.role}: {_change(hire, unit)}"


def _change(hire: Hire, unit: str) -> str:
    """'cycle time -0.42 days [-0.63, -0.21], won deals +1.2 [-0.5, +2.9]'."""
    return (f"cycle time {change_text(hire.cycle, 'time', 0.0, unit)}, won deals "
            f"{change_text(hire.won, 'absolute', 0.0, unit)}")


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
    whose = "" if comparison.buyer is None else (
        f"; figures of {p.buyer_types[comparison.buyer].name} deals (every buyer type "
        "simulated)")
    lines = [f"Compared with {comparison.base.label}: {s.replications} paired "
             f"{plural('replication', s.replications)}, same seed ({s.seed}) and the same "
             f"deals in every variant{whose};",
             INTERVAL_NOTE + ";", RANGE_NOTE + ";",
             "[a, b] is the 95% confidence interval of the difference of the means; * marks a "
             "difference the run-to-run spread cannot explain" + (
                 "." if s.replications > 1 else " (none: one replication judges nothing)."),
             ""]
    for variant in comparison.variants:
        lines += ["Verdict: " + verdict(comparison, variant), ""]
    for variant in comparison.variants:
        rows = comparison_rows(comparison, variant)
        lines += [f"{variant.label}", _table(list(COMPARISON_HEADERS), rows), ""]
    return "\n".join(lines)


COMPARISON_HEADERS = ("figure", "base", "variant", "variant worst–best", "change", "")


def comparison_rows(comparison: Comparison, variant: Variant) -> list[list[str]]:
    """A variant's table, as the terminal shows it (the HTML page too): each headline
    figure for base and variant, the variant's worst–best case, the change and a * where
    it is significant, then where deals wait longest for people."""
    base = comparison.base.result
    p, unit = base.process, base.process.time_unit
    rows = []
    for h in comparison.headline:
        diff = comparison.difference(variant, h.key)
        before = base.summary[h.key]
        shown = f"{h.label} ({unit}s)" if h.style == "time" else (
            f"{h.label} ({p.currency})" if h.key.metric in ("revenue", "open_weighted")
            else h.label)
        rows.append([shown, _figure(before, h.style),
                     _figure(variant.result.summary[h.key], h.style),
                     _range(variant.result.ranges[h.key], h.style),
                     change_text(diff, h.style, before.mean, unit),
                     "*" if significant(diff) else ""])
    rows.append(["Longest wait", _neck(base.longest_wait()),
                 _neck(variant.result.longest_wait()), "", "", ""])
    return rows


def _range(r: tuple[float, float, float], style: ChangeStyle) -> str:
    """A worst–best case range, in the figure's own style."""
    if math.isnan(r[0]):
        return "–"
    if style == "points":
        return f"{r[0]:.1%}–{r[2]:.1%}"
    digits = 0 if style == "relative" and r[2] >= 1000 else 1
    return f"{_num(r[0], digits)}–{_num(r[2], digits)}"


def _neck(wait: Wait | None) -> str:
    """Where deals wait longest for busy people: 'inquiry (sdr)'."""
    return "none" if wait is None else f"{wait.stage} ({wait.role})"


def sweep(done: SweepResult) -> str:
    """What `salesproc sweep` prints: a row per point with the gain of each step, or for
    two settings a grid per figure (rows: the first setting, columns: the second)."""
    comparison, points = done.comparison, done.points
    base = comparison.base.result
    p, s = base.process, base.settings
    varying = done.varying()
    names = [points[0][i].split("=")[0] for i in varying]
    steps = done.steps()
    level = done.step_confidence()
    whose = "" if comparison.buyer is None else (
        f"; figures of {p.buyer_types[comparison.buyer].name} deals (every buyer type "
        "simulated)")
    lines = [f"{p.name}: sweep of {', '.join(names) or 'one point'}; {s.replications} "
             f"paired {plural('replication', s.replications)} each, seed {s.seed}{whose}",
             INTERVAL_NOTE + ";"]
    if len(varying) == 2:
        lines += [f"won vs previous: change from the cell on the left; the {steps} "
                  f"{plural('interval', steps)} hold together at 95% (each at {level:.2%}, "
                  "Bonferroni); * marks a change the run-to-run spread cannot explain.", ""]
        return "\n".join(lines + _sweep_grids(done, varying)) + "\n"
    key = done.headline
    headers = [*names, "won", f"revenue ({p.currency})", "lead-to-win",
               f"cycle ({p.time_unit}s)", "longest wait", "won vs previous", ""]
    rows = []
    for index, (point, run) in enumerate(zip(points, done.runs, strict=True)):
        result = run.result
        step = done.step(index)
        gain = "" if step is None else change_text(step, "absolute", 0.0, p.time_unit)
        rows.append([*(point[i].split("=", 1)[1] for i in varying),
                     _pm(result.summary[key[0].key]), _pm(result.summary[key[1].key], 0),
                     _pm(result.summary[key[2].key], 1, pct=True),
                     _pm(result.summary[key[4].key]), _neck(result.longest_wait()), gain,
                     "" if step is None else ("*" if significant(step) else "")])
    last_gain = done.last_gain()
    lines += [f"won vs previous: change from the row above, [interval]; the {steps} "
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
    lines += _sweep_target(done)
    return "\n".join(lines) + "\n"


def _sweep_target(done: SweepResult) -> list[str]:
    """`sweep --target`: each point's chance of making the number, and the answer."""
    target = done.target
    if target is None:
        return []
    p = done.comparison.base.result.process
    what = (f"bookings of {p.currency} {target.amount:,.0f}" if target.measure == "bookings"
            else f"{target.amount:,.0f} deals won")
    chances = ", ".join(f"{' '.join(point)}: {e.mean:.0%} ({e.low:.0%}–{e.high:.0%})"
                        for point, e in zip(done.points, done.target_chances(), strict=True))
    answer = done.target_answer()
    said = (f"{' '.join(answer)} is the first that makes it in at least {target.chance:.0%} "
            "of runs" if answer is not None else
            f"no value swept makes it in {target.chance:.0%} of runs")
    return ["", f"To make {what} over the measured period: {said}.",
            f"Chance of each (share of runs, 95% interval): {chances}"]


def _sweep_grids(done: SweepResult, varying: list[int]) -> list[str]:
    """A two-setting sweep as grids: won deals (with the step from the left), revenue,
    lead-to-win rate, cycle time and the longest wait, one cell per combination."""
    p = done.comparison.base.result.process
    down, across = varying
    row_values = list(dict.fromkeys(pt[down].split("=", 1)[1] for pt in done.points))
    col_values = list(dict.fromkeys(pt[across].split("=", 1)[1] for pt in done.points))
    cells = {(pt[down].split("=", 1)[1], pt[across].split("=", 1)[1]): i
             for i, pt in enumerate(done.points)}
    corner = (f"{done.points[0][down].split('=')[0]} \\ "
              f"{done.points[0][across].split('=')[0]}")
    h = done.headline

    def won(i: int) -> str:
        step = done.step(i)
        mark = "" if step is None else (
            f" ({change_text(step, 'absolute', 0.0, p.time_unit).split(' [')[0]}"
            f"{'*' if significant(step) else ''})")
        return _pm(done.runs[i].result.summary[h[0].key]) + mark

    figures: list[tuple[str, Callable[[int], str]]] = [
        ("Won deals (change from the left)", won),
        (f"Revenue ({p.currency})", lambda i: _pm(done.runs[i].result.summary[h[1].key], 0)),
        ("Lead-to-win rate",
         lambda i: _pm(done.runs[i].result.summary[h[2].key], 1, pct=True)),
        (f"Cycle time ({p.time_unit}s)",
         lambda i: _pm(done.runs[i].result.summary[h[4].key])),
        ("Longest wait for people", lambda i: _neck(done.runs[i].result.longest_wait())),
    ]
    out = []
    for label, cell in figures:
        rows = [[r, *(cell(cells[r, c]) if (r, c) in cells else "–" for c in col_values)]
                for r in row_values]
        out += [label, _table([corner, *col_values], rows), ""]
    return out


# --- measure ------------------------------------------------------------------------------

OPEN_DEALS_SHOWN = 15


def _share(e: Estimate) -> str:
    """'71% (68–74%)': a measured share and its 95% interval."""
    if math.isnan(e.mean):
        return "–"
    return f"{e.mean:.0%} ({e.low:.0%}–{e.high:.0%})"


def _days(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:,.1f} d"


def measurement(m: Measurement, buyer: str | None = None) -> str:
    """What `salesproc measure` prints: the answers, the pipeline now, time in stage and
    flow beside the file's numbers, then where the data and the file disagree; for all
    buyer types, or for *buyer* alone."""
    p, cur = m.process, m.process.currency
    o = m.overall if buyer is None else m.buyers[buyer]
    first = f"{m.first_created:%Y-%m-%d}" if m.first_created else "–"
    cycle_mean, p10, p50, p90 = o.cycle
    unvalued = (m.open_deals.of(buyer) if buyer else m.open_deals).unvalued()
    lines = [
        f"{p.name}" + (f" — buyer type {buyer}" if buyer else "")
        + f": measured from {', '.join(shown(s) for s in m.sources)}",
        f"As of {m.as_of:%Y-%m-%d %H:%M}; {o.deals:,} deals created {first} to then. "
        "Shares: 95% Wilson interval. Times in days; open deals count as still in their "
        "stage (Kaplan–Meier).",
        "",
        f"  Open deals         {o.open:,} worth {cur} {_num(sum(s.value for s in o.pipeline), 0)}"
        + (f" ({unvalued:,} of unknown value)" if unvalued else "")
        + f", {sum(s.stale for s in o.pipeline):,} of them stale",
        f"  Won / lost         {o.won:,} won ({cur} {_num(o.won_value, 0)}), {o.lost:,} lost",
        f"  Lead-to-win        {_share(o.lead_to_win)} of the {o.won + o.lost:,} deals "
        "that ended",
        f"  Opportunity win    {_share(o.opportunity_win_rate)} of the {o.opportunities:,} "
        f"that ended after reaching {p.opportunities_reach(buyer)}",
        f"  Cycle time         {_days(cycle_mean)} from created to won (p10 {_num(p10)}, "
        f"median {_num(p50)}, p90 {_num(p90)})",
        f"  Sales velocity     {cur} {_num(o.velocity, 0)} a month = {o.open_opportunities:,} "
        f"open opportunities × {_num(o.opportunity_win_rate.mean * 100, 0)}% × average won "
        f"deal ÷ cycle time",
        f"  New deals          {_num(o.new_per_week)} a week",
    ]
    lines += ["", "Pipeline now: open deals by stage (stale: in the stage longer than its "
              "patience, than 90% of deals stayed, or than any that left)", _table(
                  ["stage", "deals", f"value ({cur})", "median age", "p90 age", "stale"],
                  [[s.stage, f"{s.deals:,}", _num(s.value, 0), _days(s.age_p50),
                    _days(s.age_p90), f"{s.stale:,}"] for s in o.pipeline])]
    lines += ["", "Time in stage (! where the file's simulated mean lies outside the data's "
              "95% interval)", _table(
                  ["stage", "visits", "still in", "median", "p90", "mean (95% interval)",
                   "file"],
                  [[t.stage, f"{t.visits:,}", f"{t.open:,}", _days(t.median), _days(t.p90),
                    "–" if math.isnan(t.mean.mean) else
                    f"{t.mean.mean:,.1f} ({t.mean.low:,.1f}–{t.mean.high:,.1f})",
                    ("–" if t.file_mean is None else f"{t.file_mean:,.1f}")
                    + (" !" if t.outside else "")] for t in o.times])]
    lines += ["", "Flow: where deals went from each stage (! where the file's share lies "
              "outside the data's 95% interval; ✗ a move the file does not allow)", _table(
                  ["from → to", "deals", "share (95% interval)", "file"],
                  [[f"{mv.source} → {mv.target}", f"{mv.deals:,}", _share(mv.share),
                    ("–" if mv.file_share is None else f"{mv.file_share:.0%}")
                    + (" !" if mv.outside else "") + ("" if mv.allowed else " ✗")]
                   for mv in o.moves])]
    entered = ", ".join(f"{s} {n:,}" for s, n in o.entered_at.items())
    skipped = ", ".join(f"{s} {n:,}" for s, n in o.skipped.items()) or "none"
    lines += ["", f"  Deals first seen at: {entered}",
              f"  Stages skipped (deals that jumped over them): {skipped}",
              f"  Moves backwards: {o.backwards:,}"]
    if m.unused_stages and buyer is None:
        lines.append(f"  Stages the data never uses: {', '.join(m.unused_stages)}")
    if o.losses:
        lines += ["", "Why deals were lost", _table(
            ["stage", "reason", "deals"],
            [[s or "–", shown(r), f"{n:,}"] for s, r, n in o.losses[:12]], (0, 1))]
    if m.buyers and buyer is None:
        lines += ["", "By buyer type", _table(
            ["buyer type", "deals", "open", "won", "lead-to-win", "opportunity win",
             "cycle time"],
            [[b, f"{s.deals:,}", f"{s.open:,}", f"{s.won:,}", _share(s.lead_to_win),
              _share(s.opportunity_win_rate), _days(s.cycle[0])] for b, s in m.buyers.items()])]
    lines += ["", "New deals by month created, and how far they got (cohorts)", _table(
        ["month", "created", *p.stages, "won", "lost", "open"],
        [[c.month, f"{c.created:,}", *(f"{c.reached[s]:,}" for s in p.stages), f"{c.won:,}",
          f"{c.lost:,}", f"{c.open:,}"] for c in o.cohorts])]
    deals = m.open_deals if buyer is None else m.open_deals.of(buyer)
    if len(deals):
        shown_deals = deals.rows(OPEN_DEALS_SHOWN)
        lines += ["", f"To close: the {len(shown_deals)} open deals longest in their stage "
                  f"(all {len(deals):,} in the JSON and CSV output)", _table(
                      ["deal", "buyer type", "stage", "age", f"value ({cur})", "still needs"],
                      [[shown(d.id) + (" (stale)" if d.stale else ""), d.buyer_type or "–",
                        d.stage, _days(d.age), _num(d.value, 0),
                        "; ".join([*d.requires, *(f"approval: {a}" for a in d.approvals)])
                        or "–"] for d in shown_deals], (0, 1, 2, 5))]
    for warning in m.warnings:
        lines += ["", f"warning: {warning}"]
    return "\n".join(lines) + "\n"


def breakdown(b: Breakdown) -> str:
    """What `salesproc measure --by FIELD` prints: a row per value of the field (or per
    owner), with the win rate's 95% interval, then each value's loss reasons."""
    cur = b.process.currency
    lines = [f"{b.process.name}: deals by {b.by}, measured from "
             f"{', '.join(shown(s) for s in b.sources)}",
             f"As of {b.as_of:%Y-%m-%d %H:%M}. Win rate: won ÷ (won + lost), with its 95% "
             "Wilson interval; cycle: median days from created to won (Kaplan–Meier, open "
             "deals as still going).", "",
             _table([b.by, "deals", "open", "won", "lost", "win rate", "median cycle",
                     f"open pipeline ({cur})"],
                    [[g.value, f"{g.deals:,}", f"{g.open:,}", f"{g.won:,}", f"{g.lost:,}",
                      _share(g.win_rate), _days(g.cycle_median), _num(g.open_value, 0)]
                     for g in b.groups])]
    reasons = [[g.value, reason, f"{n:,}"] for g in b.groups for reason, n in g.losses]
    if reasons:
        lines += ["", f"Loss reasons by {b.by}", _table([b.by, "reason", "deals"], reasons,
                                                        text=(0, 1))]
    return "\n".join(lines) + "\n"


def deal_measurement(m: DealMeasurement, buyer: str | None = None) -> str:
    """What `salesproc measure` prints of a deal table (one row per deal, no stage
    history): first what cannot be measured, then what can; for *buyer* alone if given."""
    from salesproc.core.diagnostics import shown

    p, cur = m.process, m.process.currency
    o = m.overall if buyer is None else m.buyers[buyer]
    first = f"{m.first_created:%Y-%m-%d}" if m.first_created else "–"
    c = o.cycle
    mean = "–" if math.isnan(c.mean.mean) else \
        f"{c.mean.mean:,.1f} d ({c.mean.low:,.1f}–{c.mean.high:,.1f})"
    lines = [
        f"{p.name}" + (f" — buyer type {buyer}" if buyer else "")
        + f": measured from {', '.join(shown(s) for s in m.sources)} (a deal table)",
        m.not_measured,
        f"As of {m.as_of:%Y-%m-%d %H:%M}; {o.deals:,} deals created {first} to then. "
        "Shares: 95% Wilson interval. Times in days; ages count from the deal's creation.",
        "",
        f"  Open deals         {o.open:,} worth {cur} {_num(o.open_value, 0)}",
        f"  Won / lost         {o.won:,} won ({cur} {_num(o.won_value, 0)}), {o.lost:,} lost"
        + (f"; {o.after_the_fact:,} won within an hour of creation (entered after the fact)"
           if o.after_the_fact else ""),
        f"  Win rate           {_share(o.win_rate)} of the {o.won + o.lost:,} deals that ended",
        f"  Cycle time         {_days(c.median)} median from created to won (p90 "
        f"{_num(c.p90)}; mean {mean}); Kaplan–Meier over {c.won:,} won deals, "
        f"{c.open:,} open deals counted as still going",
        f"  New deals          {_num(o.new_per_week)} a week",
    ]
    title = "Pipeline now: open deals by stage (age since created)" if m.stages_known else \
        "Pipeline then: open deals (the stage they were at on this date is unknown)"
    lines += ["", title, _table(
        ["stage", "deals", f"value ({cur})", "median age", "p90 age"],
        [[s.stage or "(unknown)", f"{s.deals:,}", _num(s.value, 0), _days(s.age_p50),
          _days(s.age_p90)] for s in o.pipeline])]
    if m.buyers and buyer is None:
        lines += ["", "By buyer type", _table(
            ["buyer type", "deals", "open", "won", "lost", "win rate", "median cycle"],
            [[b, f"{s.deals:,}", f"{s.open:,}", f"{s.won:,}", f"{s.lost:,}",
              _share(s.win_rate), _days(s.cycle.median)] for b, s in m.buyers.items()])]
    lines += ["", "When in the quarter deals are won (! where an even spread over the days "
              "lies outside the data's 95% interval)", _table(
                  ["part of the quarter", "won", "share (95% interval)", "even spread"],
                  [[q.part, f"{q.won:,}", _share(q.share),
                    ("–" if math.isnan(q.even) else f"{q.even:.0%}")
                    + (" !" if q.outside else "")] for q in o.quarter])]
    lines += ["", "New deals by month created", _table(
        ["month", "created"], [[month, f"{n:,}"] for month, n in o.months])]
    if o.losses:
        lines += ["", "Why deals were lost (at which stage is not in a deal table)", _table(
            ["reason", "deals"], [[shown(r), f"{n:,}"] for r, n in o.losses[:12]], (0,))]
    for warning in m.warnings:
        lines += ["", f"warning: {warning}"]
    return "\n".join(lines) + "\n"


# --- calibrate ----------------------------------------------------------------------------


def calibration(cal: Calibration, written: str | None = None) -> str:
    """What `salesproc calibrate` prints: each fitted value with what it rests on, the
    values kept for want of data, and what to know."""
    from salesproc.prediction.calibration import flow

    lines = [f"{cal.process.name}: calibrated from {cal.deals:,} deals created "
             f"{cal.since:%Y-%m-%d} to {cal.until:%Y-%m-%d}"
             + (f"; written to {shown(written)}" if written else ""), ""]
    lines.append(_table(["setting", "value", "n", "estimate (95% interval)"], [
        [f.setting, _short(flow(f.value)), f"{f.n:,}",
         ", ".join(f"{s.target} {s.share:.0%} ({s.low:.0%}–{s.high:.0%})" for s in f.shares)
         if f.shares else f"{_sig(f.estimate)} ({_sig(f.low)}–{_sig(f.high)})"]
        for f in cal.fitted], (0, 1, 3)))
    if cal.kept:
        lines += ["", "Not enough data (the base file's value is kept)", _table(
            ["setting", "what", "observations", "needed"],
            [[k.setting, k.what, f"{k.n:,}", f"{k.needed:,}"] for k in cal.kept], (0, 1))]
    lines += [""] + [f"note: {n}" for n in cal.notes]
    return "\n".join(lines).rstrip("\n") + "\n"


def _sig(x: float) -> str:
    """Four significant digits, thousands separated: 32.49, 0.2929, 60,851."""
    if math.isnan(x):
        return "–"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def _short(text: str, most: int = 60) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def fit_check(done: FitCheck) -> str:
    """What `salesproc calibrate --check` adds: the history beside the fitted process's
    simulated range, a mark where it lies outside, and for each figure outside the
    setting to change and the value the data suggests."""
    from salesproc.core.diagnostics import shown

    outside = done.outside
    share = done.coverage
    lines = ["", f"Fit check: the calibrated process simulated {done.replications} times over "
             f"the history's {done.days:,.0f} days from {done.start:%Y-%m-%d}, from an empty "
             "pipeline; each run is measured as the history is (cut at the same day, the "
             "deals and visits still open then counted as still going). The range holds a "
             f"history of the process itself with chance {share:.1%} (it allows for the "
             "history's luck and for the runs' number); ! marks a history figure outside it.",
             _table(["stage", "figure", "history", "simulated median", "range"],
                    [[c.scope, c.figure, _sig(c.history), _sig(c.median),
                      f"{_sig(c.low)}–{_sig(c.high)}" + (" !" if c.outside else "")]
                     for c in done.checks], (0, 1)),
             f"  {len(outside)} of {len(done.judged)} figures outside their range (about "
             f"{done.expected:.1f} expected by chance)"]
    if outside:
        lines += ["", "What to change:"]
        lines += [f"  {c.scope}, {c.figure}: {shown(c.advice)}" for c in outside]
    return "\n".join(lines) + "\n"


# --- forecast -----------------------------------------------------------------------------

DEALS_SHOWN = 15


TOTALS_ORDER = ("won", "won_from_pipeline", "won_from_new_deals", "won_entered_after_the_fact",
                "revenue", "lost",
                "open_at_end", "open_value_at_end")  # the split of the wins right under them


def _ordered(figures: Mapping[str, T], order: Sequence[str]) -> list[tuple[str, T]]:
    """*figures* in *order* (any others after them, as they come)."""
    return [(k, figures[k]) for k in order if k in figures] + \
        [(k, v) for k, v in figures.items() if k not in order]


def forecast(done: Forecast) -> str:
    """What `salesproc forecast` prints: the totals as worst / neutral / best case beside
    the mean and its confidence interval, by month, the deals that carry the period, and
    the CRM's own view."""

    cases = done.cases
    cur = done.process.currency
    lines = [
        f"{done.process.name}: forecast from {done.as_of:%Y-%m-%d} to {done.until:%Y-%m-%d}, "
        f"{done.replications} runs",
        f"Worst / neutral / best case: the {cases[0]:g}th, {cases[1]:g}th and {cases[2]:g}th "
        "percentile of the runs (what may happen). Mean ± its 95% confidence interval (how "
        "sure the average is, not the range of outcomes).", ""]
    names = {"won": "Deals won", "revenue": f"Revenue won ({cur})", "lost": "Deals lost",
             "won_from_pipeline": "  of today's open deals",
             "won_from_new_deals": "  of new deals",
             "won_entered_after_the_fact": "  entered after the fact",
             "open_at_end": "Open deals at the end",
             "open_value_at_end": f"Open pipeline at the end ({cur})"}
    money = ("revenue", "open_value_at_end")  # whole units of the currency: no cents

    def mean(key: str, o: Outcome) -> str:
        digits = 0 if key in money else 1
        return _num(o.mean.mean, digits) + ("" if math.isnan(o.mean.low) else
                                            f" ({_num(o.mean.low, digits)}–"
                                            f"{_num(o.mean.high, digits)})")

    lines.append(_table(["figure", "worst", "neutral", "best", "mean (95% CI of the mean)"], [
        [names[k], _num(o.worst, 0), _num(o.neutral, 0), _num(o.best, 0), mean(k, o)]
        for k, o in _ordered(done.totals, TOTALS_ORDER)
        if k != "won_entered_after_the_fact" or o.best > 0]))
    for title, periods in (("month", done.months), ("quarter", done.quarters)):
        if periods and (title == "month" or len(periods) > 1):
            lines += ["", f"By {title} (worst–best, neutral)", _table(
                [title, "deals won", f"revenue ({cur})"],
                [[label + (" (part)" if partly(label, done.as_of, done.until) else ""),
                  f"{_num(m['won'].neutral, 0)} ({_num(m['won'].worst, 0)}–"
                  f"{_num(m['won'].best, 0)})", f"{_num(m['revenue'].neutral, 0)} "
                  f"({_num(m['revenue'].worst, 0)}–{_num(m['revenue'].best, 0)})"]
                 for label, m in periods])]
    crm = done.crm
    lines += ["", f"The CRM's own view of today's {crm['open_deals']:,.0f} open deals: worth "
              f"{cur} {_num(crm['open_value'], 0)}, weighted by its probability {cur} "
              f"{_num(crm['weighted_pipeline'], 0)}"
              + "".join(f"; {shown(k.removeprefix('category '))} {cur} {_num(v, 0)}"
                        for k, v in crm.items() if k.startswith("category "))]
    if done.deals:
        lines += ["", f"Open deals by expected value won (chance × value); all "
                  f"{len(done.deals):,} in the JSON", _table(
                      ["deal", "buyer type", "stage", f"value ({cur})", "chance won",
                       "likely month", "CRM probability"],
                      [[shown(d.id), d.buyer_type, d.stage, _num(d.value, 0),
                        f"{d.chance:.0%}", d.month or "–",
                        "–" if math.isnan(d.crm_probability) else f"{d.crm_probability:.0%}"]
                       for d in done.deals[:DEALS_SHOWN]], (0, 1, 2))]
    if done.campaigns:
        lines += ["", "What the campaigns add (runs with them less the same runs without: new "
                  "leads, wins and revenue; worst–best, neutral)", _table(
                      ["month", "new leads", "deals won", f"revenue ({cur})"],
                      [[label, *(f"{_num(m[k].neutral, 0)} ({_num(m[k].worst, 0)}–"
                                 f"{_num(m[k].best, 0)})" for k in ("leads", "won", "revenue"))]
                       for label, m in done.campaigns])]
    lines += [f"note: {n}" for n in done.notes]
    record = track_record_lines(done)
    return "\n".join(lines) + "\n" + "".join(line + "\n" for line in ["", *record] if record)


def backtest(done: Backtest) -> str:
    """What `salesproc backtest` prints: per figure, each origin's forecast range beside
    what happened and beside the baselines' forecasts, then the scores of the model and of
    every baseline, which baseline did best and whether the model beat it; the failed
    origins with their reasons."""
    cases = done.cases
    lines = [f"Backtest: at each origin, calibrated on the history before it and forecast "
             f"{done.horizon_days:g} days ahead; the range is worst to best case (the "
             f"{cases[0]:g}th to {cases[2]:g}th percentile of the runs), ! marks an actual "
             "outside it. Baselines are made at the same origins from what was known then."]
    for figure in ("won", "revenue"):
        lines += ["", BACKTEST_FIGURES[figure] + ", per origin",
                  _table(*backtest_origin_rows(done, figure)),
                  "", BACKTEST_FIGURES[figure] + f", over {len(done.origins)} origins",
                  _table(*backtest_score_rows(done, figure)),
                  *(f"  {line}" for line in backtest_summary(done, figure))]
    if done.failed:
        lines += ["", "Failed origins (left out of the scores):"]
        lines += [f"  {f.at:%Y-%m-%d}: {_one_line(f.reason)}" for f in done.failed]
    lines += [f"note: {n}" for n in done.notes]
    return "\n".join(lines) + "\n"


BACKTEST_FIGURES = {"won": "Deals won", "revenue": "Revenue"}
#: Short column names of the baselines in the per-origin tables.
BASELINE_COLUMNS = {"run_rate": "run rate", "seasonal_quarter": "quarter back",
                    "seasonal_year": "year back", "weighted_pipeline": "CRM weighted",
                    "markov": "Markov"}


def _one_line(text: str) -> str:
    return " ".join(shown(text).split())


def _amount(figure: str, x: float) -> str:
    return _num(x, 1 if figure == "won" else 0)


def backtest_origin_rows(done: Backtest, figure: str) -> tuple[list[str], list[list[str]]]:
    """The per-origin table of *figure* (headers, rows): the model's range and neutral
    case, the actual (! outside the range), each baseline's forecast."""
    from salesproc.prediction.backtest import BASELINES

    headers = ["origin", "range", "neutral", "actual",
               *(BASELINE_COLUMNS[k] for k in BASELINES)]
    rows = []
    for o in done.origins:
        out = o.outcome(figure)
        digits = 0
        rows.append([f"{o.at:%Y-%m-%d}", f"{_num(out.worst, digits)}–{_num(out.best, digits)}",
                     _num(out.neutral, digits),
                     _num(o.actual(figure), digits) + ("" if o.inside(figure) else " !"),
                     *(_amount(figure, o.forecast(figure, k)) for k in BASELINES)])
    return headers, rows


def backtest_score_rows(done: Backtest, figure: str) -> tuple[list[str], list[list[str]]]:
    """The scores of *figure* (headers, rows): MAE, MAPE (origins with an actual of 0
    left out, counted) and bias of the model and of each baseline."""
    from salesproc.prediction.backtest import BASELINES, MODEL

    names = {MODEL: "model (neutral case)", **BASELINES}
    rows = []
    for key, s in done.scores(figure).items():
        mape = "–" if math.isnan(s.mape) else f"{s.mape:.0%}"
        if s.mape_left_out:
            mape += f" ({s.mape_left_out} left out)"
        rows.append([names[key], f"{s.origins}", _amount(figure, s.mae), mape,
                     "–" if math.isnan(s.bias) else
                     f"{s.bias:+,.{1 if figure == 'won' else 0}f}"])
    return ["forecaster", "origins", "MAE", "MAPE", "bias"], rows


def backtest_summary(done: Backtest, figure: str) -> list[str]:
    """The lines under a figure's scores: the model's pinball losses, interval score and
    coverage, and the best baseline with whether the model beat it."""
    from salesproc.prediction.backtest import BASELINES

    spread = done.spread(figure)
    cases = done.cases
    c = spread.coverage
    losses = " / ".join(_amount(figure, v) for v in spread.pinball.values())
    lines = [f"Pinball loss at p{cases[0]:g} / p{cases[1]:g} / p{cases[2]:g}: {losses}; "
             f"interval score of the p{cases[0]:g}–p{cases[2]:g} band: "
             f"{_amount(figure, spread.interval_score)}",
             f"Inside the p{cases[0]:g}–p{cases[2]:g} band: {spread.inside} of {c.n} origins"
             + ("" if c.n == 0 else f" ({c.mean:.0%}; 95% interval {c.low:.0%}–{c.high:.0%}; "
                f"an honest forecast: {(cases[2] - cases[0]) / 100:.0%})")]
    verdict = done.verdict(figure)
    best = verdict["best_baseline"]
    if best is not None:
        model = _amount(figure, verdict["model_mae"])
        lines.append(f"Best baseline on MAE: {BASELINES[best]}, "
                     f"{_amount(figure, verdict['best_baseline_mae'])} over "
                     f"{verdict['origins']} origins; the model's {model} over those origins "
                     + ("beat it" if verdict["model_beats_it"] else "did not beat it"))
    return lines


def blends(found: Sequence[Blend]) -> list[str]:
    """What `forecast --blend` adds under the track record: each figure's blend of the
    model's neutral case with the record's best baseline, and how it did there."""
    from salesproc.prediction.backtest import BASELINES

    words = {"won": "deals won", "revenue": "revenue"}
    lines = []
    for b in found:
        if b.weight >= 1.0:
            lines.append(f"  Blend for {words[b.figure]}: the model alone did best on the "
                         f"record (no weight on the {BASELINES[b.baseline]} lowered its MAE)")
            continue
        lines.append(f"  Blend for {words[b.figure]}: {b.weight:.2f} × the model + "
                     f"{1 - b.weight:.2f} × the {BASELINES[b.baseline]} = "
                     f"{_amount(b.figure, b.forecast)} (its MAE over {b.origins} origins "
                     f"{_amount(b.figure, b.mae)}, the model's {_amount(b.figure, b.model_mae)})")
    return lines


def track_record_lines(done: Forecast) -> list[str]:
    """The lines of *done*'s track record (and blends), if it has one; else none."""
    record = done.track_record
    if record is None:
        return []
    return [*track_record(record.backtest, record.beaten, done, record.source),
            *blends(record.blends or [])]


def track_record(record: Backtest, beaten: list[Beaten], done: Forecast, source: str
                 ) -> list[str]:
    """What `forecast --track-record` adds under the forecast: the saved backtest's errors
    of the model and of each baseline, and each baseline that beat the model there beside
    its forecast of this period."""
    from salesproc.prediction.backtest import BASELINES, MODEL

    n = len(record.origins)
    if not n:
        return [f"Track record ({_one_line(source)}): no origin was backtested"]
    first, last = record.origins[0].at, record.origins[-1].at
    lines = [f"Track record ({_one_line(source)}: {n} origins from {first:%Y-%m-%d} to "
             f"{last:%Y-%m-%d}, {record.horizon_days:g} days ahead each)"]
    days = (done.until - done.as_of).total_seconds() / 86400
    if abs(days - record.horizon_days) > 1:
        lines.append(f"  This forecast looks {days:,.0f} days ahead, the record's "
                     f"{record.horizon_days:g}: errors grow with the period, so the record "
                     "says less about this one")
    words = {"won": "deals won", "revenue": "revenue"}
    for figure in ("won", "revenue"):
        scores = record.scores(figure)
        others = "; ".join(f"{BASELINES[k]} {_amount(figure, s.mae)}"
                           + ("" if s.origins == n else f" (over the {s.origins} it forecast)")
                           for k, s in scores.items() if k != MODEL and s.origins)
        lines.append(f"  Over the last {n} origins this forecast's MAE of {words[figure]} was "
                     f"{_amount(figure, scores[MODEL].mae)}" + (f"; {others}" if others else ""))
    for b in beaten:
        ours = done.totals[b.figure].neutral
        lines.append(f"  On this history the {BASELINES[b.baseline]} beat the model on "
                     f"{words[b.figure]} (MAE {_amount(b.figure, b.baseline_mae)} against "
                     f"{_amount(b.figure, b.model_mae)} over "
                     + (f"{b.origins} origins" if b.origins == n
                        else f"the {b.origins} origins both forecast") + "): for this "
                     f"period it says {_amount(b.figure, b.forecast)}, beside the model's "
                     f"neutral case of {_amount(b.figure, ours)}")
    if not beaten:
        lines.append("  No baseline beat the model on this history")
    if record.failed:
        lines.append(f"  {len(record.failed)} origin(s) of the record failed and are left out")
    return lines


def review(r: Review) -> str:
    """What `salesproc review` prints: the movement (reconciled), each stage's moves, the
    deals that need attention by owner, data hygiene at both dates, and each owner."""
    return "\n".join(("\n" + line) if kind == "heading" else line
                     for kind, line in review_lines(r, _table, _name_cell, table_cell)) + "\n"


NAME_WIDTH = 48  # the most of a name from an export a terminal table shows


def _name_cell(text: str) -> str:
    """A name from an export in a terminal table: on one line, and cut with '…' past
    NAME_WIDTH characters, so that one long name does not widen every row."""
    cut = text if len(text) <= NAME_WIDTH else text[:NAME_WIDTH - 1] + "…"
    return table_cell(cut)


def _since_lines(r: Review) -> list[tuple[str, str]]:
    """What changed since the saved review it was compared with (--against), if any."""
    p = r.previous
    if p is None:
        return []
    cur = r.currency
    h0, h1 = p.hygiene.to_dict(), r.hygiene_end.to_dict()
    gaps = "; ".join(f"{k.replace('_', ' ')} {h0[k]:,} → {h1[k]:,}" for k in h1
                     if h0[k] != h1[k])
    return [("text", f"Since the review of {p.end:%Y-%m-%d %H:%M}: open pipeline "
                     f"{p.open_end.deals:,} {plural('deal', p.open_end.deals)} "
                     f"({_num(p.open_end.value, 0)} {cur}) → "
                     f"{r.open_end.deals:,} ({_num(r.open_end.value, 0)} {cur}); "
                     f"deals that need attention: {len(p.newly_flagged):,} new, "
                     f"{len(p.cleared):,} no longer"
                     + (f"; data hygiene: {gaps}" if gaps else "") + ".")]


def _signed(x: float, digits: int = 1) -> str:
    """'+1.9', '−24,509': a change, its sign always shown."""
    return "–" if math.isnan(x) else f"{x:+,.{digits}f}".replace("-", "−")


def _around(e: Estimate, digits: int = 1, signed: bool = False) -> str:
    """'40.8 (39.5–42.0)': an estimate and its 95% interval ('to' between signed ends)."""
    shown = _signed if signed else _num
    if math.isnan(e.low):
        return shown(e.mean, digits)
    return (f"{shown(e.mean, digits)} ({shown(e.low, digits)}"
            f"{' to ' if signed else '–'}{shown(e.high, digits)})")


def _forecast_lines(r: Review, table: Callable[..., str]) -> list[tuple[str, str]]:
    """The forecast's change over the period and what moved it (review --forecast)."""
    f = r.forecast
    if f is None:
        return []
    cur = r.currency
    won, revenue = f.actual["won"], f.actual["revenue"]
    out = [("heading", f"The forecast to {f.until:%Y-%m-%d}"),
           ("text", f"Deals won from {r.start:%Y-%m-%d} to {f.until:%Y-%m-%d}: "
                    f"{_around(f.before['won'])} as forecast at the start; "
                    f"{_around(f.after['won'])} now, {_num(won, 0)} of them won already: "
                    f"{_around(f.change['won'], signed=True)}. Revenue: "
                    f"{_around(f.before['revenue'], 0)} → {_around(f.after['revenue'], 0)} "
                    f"{cur} ({_num(revenue, 0)} won already): "
                    f"{_around(f.change['revenue'], 0, signed=True)} {cur}.")]
    if f.saved is not None:
        out.append(("text", f"The saved review said {_num(f.saved.get('won', math.nan))} "
                            f"deals and {_num(f.saved.get('revenue', math.nan), 0)} {cur} at "
                            "its end."))
    out += [("table", table(["what moved it", "deals", "won", f"revenue ({cur})"],
                            [[m.cause, f"{m.deals:,}" if m.deals else "",
                              _signed(m.won), _signed(m.revenue, 0)] for m in f.moves])),
            ("text", "Each deal's expected wins and revenue by the forecast's end (a deal "
                     "won in the period: 1 and its value) at the end less at the start, by "
                     "what happened to it; the new deals still to come were expected for "
                     "the whole period at the start, for what is left of it at the end. "
                     "The parts add up to the change; its interval is from "
                     f"{f.replications:,} paired runs.")]
    return out


def _share_of(e: Estimate) -> str:
    """'36% of 98 (27–46%)': a share of a count, with its 95% interval."""
    return "–" if math.isnan(e.mean) else f"{e.mean:.0%} of {e.n:,} ({e.low:.0%}–{e.high:.0%})"


def _p(p: float) -> str:
    return "–" if math.isnan(p) else f"{p:.2g}"


def review_lines(r: Review, table: Callable[..., str], cell: Callable[[str], str],
                 prose: Callable[[str], str] | None = None) -> list[tuple[str, str]]:
    """The review as (kind, text) lines, kind 'title', 'heading', 'text', 'table' or
    'note': the one layout of the terminal, Markdown and the HTML page (each gives its own
    *table* and *cell*, and *prose* for a sentence, *cell* by default: the terminal's
    cell cuts a long name, which must not cut a sentence)."""
    prose = prose or cell
    cur = r.currency
    who = f" for {cell(r.owner)}" if r.owner else ""
    out: list[tuple[str, str]] = [
        ("title", f"{cell(r.process_name)}: pipeline review{who}, {r.start:%Y-%m-%d %H:%M} "
                  f"to {r.end:%Y-%m-%d %H:%M}"),
        ("text", "Values as they stood at each date; an unknown amount counts as 0."),
        ("heading", "What moved"),
        ("table", table(["", "deals", f"value ({cur})"],
                        [[name, f"{f.deals:,}", _num(f.value, 0)] for name, f in
                         [("open at start", r.open_start), ("+ new", r.new),
                          ("+ reopened", r.reopened), ("- won", r.won), ("- lost", r.lost)]]
                        + [["+/- amount changes", "", _num(r.amount_changes, 0)],
                           ["= open at end", f"{r.open_end.deals:,}",
                            _num(r.open_end.value, 0)]])),
        *_since_lines(r),
        ("text", f"Close dates: {r.slipped.deals:,} deals ({_num(r.slipped.value, 0)} {cur}) "
                 "expected in the period slipped out of it; "
                 f"{r.pulled_in.deals:,} ({_num(r.pulled_in.value, 0)} {cur}) expected later "
                 "were won in it."),
        *_forecast_lines(r, table),
        ("heading", "By stage"),
        ("table", table(["stage", "open at start", "open at end", "moved forward",
                         "moved back", "stayed"],
                        [[cell(s.stage), f"{s.open_start.deals:,}", f"{s.open_end.deals:,}",
                          f"{s.forward:,}", f"{s.back:,}", f"{s.stayed:,}"]
                         for s in r.stages])),
        ("heading", f"Deals that need attention ({len(r.attention):,})")]
    if r.attention:
        out.append(("table", table(
            ["owner", "deal", "stage", "days in stage", f"value ({cur})", "why"],
            [[cell(a.owner), cell(a.name or a.deal), cell(a.stage), _num(a.days_in_stage, 0),
              _num(a.value, 0), ", ".join(a.reasons)] for a in r.attention],
            text=(0, 1, 2, 5))))
    else:
        out.append(("text", "None."))
    out.append(("heading", "Why deals were lost"))
    if r.losses:
        from salesproc.measuring.review import BEFORE_DAYS

        out.append(("table", table(
            ["reason", "this period", f"the {BEFORE_DAYS:g} days before", "p"],
            [[cell(s.reason), _share_of(s.now), _share_of(s.before), _p(s.p_value)]
             for s in r.losses], text=(0,))))
        shift = r.biggest_shift()
        before = r.losses[0].before.n
        out.append(("text", f"Biggest change: {prose(shift)}." if shift else
                    f"No deal was lost in the {BEFORE_DAYS:g} days before: nothing to compare "
                    "with." if not before else
                    "No reason's share changed by more than chance (p, the two-proportion "
                    f"test's, below 0.05 / {len(r.losses)}: one in twenty for the reasons "
                    "together)."))
    else:
        out.append(("text", "No deal was lost in the period or the 90 days before it."))
    out += [("heading", "Win rate and cycle by month created"),
            ("table", table(["month", "deals", "won", "lost", "open", "win rate (of closed)",
                             "median days to win"],
                            [[c.month, f"{c.deals:,}", f"{c.won:,}", f"{c.lost:,}",
                              f"{c.open:,}", _share(c.win_rate),
                              _days(c.cycle_median) + (
                                  " so far" if c.open and not math.isnan(c.cycle_median)
                                  else "" if math.isnan(c.cycle_low) else
                                  f" ({c.cycle_low:,.0f}–{c.cycle_high:,.0f})")]
                             for c in r.cohorts])),
            ("text", "A young month's win rate is of the deals closed so far, and its "
                     "median days to win of its quick wins so far: losses often close sooner "
                     "than wins, so the rate reads low, and the median short, until its deals "
                     "close.")]
    h0, h1 = r.hygiene_start.to_dict(), r.hygiene_end.to_dict()
    weeks = [(at, h.to_dict()) for at, h in r.hygiene_trend]
    out += [("heading", "Data hygiene"),
            ("table", table(["", f"{r.start:%Y-%m-%d}", f"{r.end:%Y-%m-%d}"],
                            [[k.replace("_", " "), f"{h0[k]:,}", f"{h1[k]:,}"] for k in h1])),
            ("text", "Week by week (each week's losses, wins and moves its own):"),
            ("table", table(["", *(f"{at:%m-%d}" for at, _ in weeks)],
                            [[k.replace("_", " "), *(f"{h[k]:,}" for _, h in weeks)]
                             for k in h1])),
            ("heading", "By owner"),
            ("table", table(["owner", "open at end", f"open value ({cur})", "new", "won",
                             f"won value ({cur})", "lost", "forward", "back",
                             "need attention", "hygiene"],
                            [[cell(o.owner), f"{o.open_end.deals:,}", _num(o.open_end.value, 0),
                              f"{o.new.deals:,}", f"{o.won.deals:,}", _num(o.won.value, 0),
                              f"{o.lost.deals:,}", f"{o.forward:,}", f"{o.back:,}",
                              f"{o.attention:,}", f"{o.hygiene:,}"] for o in r.owners]))]
    out += [("note", f"note: {prose(n)}") for n in r.notes]
    return out



# --- plan ---------------------------------------------------------------------------------


def plan(result: PlanResult) -> str:
    """What `salesproc plan` prints: the chance to make the number, each target, the
    months with the team and the constraint, the classic arithmetic, the optimised plan."""
    data = result.to_dict()
    money = data["measure"] == "bookings"
    currency = data["currency"]

    def amount(x: float | None) -> str:
        return "–" if x is None else f"{x:,.0f}"

    def share(block: dict[str, object]) -> str:
        low, mean, high = block["low"], block["mean"], block["high"]
        if not isinstance(mean, float):
            return "–"
        if not isinstance(low, float) or not isinstance(high, float):
            return f"{mean:.0%}"
        return f"{mean:.0%} ({low:.0%}–{high:.0%})"

    what = f"bookings in {currency}" if money else "deals won"
    runs = data["replications"]
    lines = [
        f"{shown(data['process'])}: plan {shown(data['plan'])}",
        f"{data['months_planned']} months from {data['start']}; {what}; {runs} "
        f"{plural('replication', runs)} (runs), seed {data['seed']}"
        + ("; every time and value fixed at its mean" if data["deterministic"] else ""),
        "worst–best case is the 10th to 90th percentile of the runs; chance (in brackets: "
        "its 95% interval) is the share of runs that make the target",
        "",
        f"  The number       {currency + ' ' if money else ''}{amount(data['number'])}"
        f"{'' if money else ' deals won'} over {len(data['targets'])} target(s): made in "
        f"{share(data['chance'])} of runs",
    ]
    if data["cost"] is not None:
        lines.append(f"  Team cost        {currency} {data['cost']:,.0f} over the plan "
                     "(the roles with a cost)")
    for rid, months in data["hires"].items():
        lines.append(f"  Hires of {rid:<8s}{', '.join(months) or 'none'}")
    lines += ["", "By target", _table(
        ["target", "amount", "worst", "neutral", "best", "chance", "classic"],
        [[t["period"], amount(t["target"]), amount(t["worst"]),
          amount(_or(t["neutral"], t["mean"])),
          amount(t["best"]), share(t["chance"]), amount(t["classic"])]
         for t in data["targets"]], text=(0,))]
    shown_roles = {*data["hires"], *(m["constraint"] for m in data["months"])}
    roles = [r for r in (data["months"][0]["roles"] if data["months"] else ())
             if r in shown_roles]  # the plan's roles and those that bound a month
    lines += ["", "By month (people: headcount / ramped full-time equivalent)", _table(
        ["month", "worst", "neutral", "best", "classic", "constraint",
         *(f"{rid} people" for rid in roles)],
        [[m["month"], amount(m["worst"]), amount(_or(m["neutral"], m["mean"])),
          amount(m["best"]),
          amount(m["classic"]), m["constraint"],
          *(f"{m['roles'][rid]['headcount']} / {m['roles'][rid]['effective']:.2f}"
            for rid in roles)] for m in data["months"]], text=(0, 5))]
    lines += ["", *classic_lines(data)]
    if "optimisation" in data:
        lines += ["", *_optimisation_lines(data)]
    lines += [f"note: {shown(n)}" for n in data["notes"]]
    return "\n".join(lines) + "\n"


def _or(x: float | None, fallback: float | None) -> float | None:
    """*x*, or *fallback* where it is missing (a median of fewer than three runs)."""
    return fallback if x is None else x


def classic_lines(data: dict[str, Any]) -> list[str]:
    """The classic capacity arithmetic behind the 'classic' column, in words."""
    c = data["classic"]
    money = data["measure"] == "bookings"
    unit = f"{data['currency']} " if money else ""
    per = f"{unit}{c['per_lead']:,.{0 if money else 3}f}"
    lines = ["Classic capacity arithmetic (the 'classic' column): a month's figure is the "
             "smallest of",
             f"  pipeline: leads arriving × {per} a lead brings (win chance"
             + (" × average value)" if money else ")")]
    named = {*data["hires"], *(m["constraint"] for m in data["months"])}
    for rid, hours in c["work_per_lead_hours"].items():
        if rid not in named:  # the plan's roles and those that bound a month
            continue
        full = c["full_speed_month"].get(rid, math.nan)
        text = (f"  {rid}: people × ramp × working hours ÷ {hours:,.2f} working hours a lead "
                f"× {per}; a full-speed {rid} carries {unit}{full:,.0f} a month")
        quota = c["quota"].get(rid)
        if quota:
            text += f" = quota {unit}{quota:,.0f} × attainment {full / quota:.0%}"
        lines.append(text)
    return lines


def _optimisation_lines(data: dict[str, Any]) -> list[str]:
    o = data["optimisation"]
    currency = data["currency"]
    lines = [f"Cheapest plan for a {o['chance_asked']:.0%} chance", "  " + shown(
        o["explanation"])]
    if o["frontier"]:
        lines += ["", "Trade-off: the cheapest schedule tried for each chance", _table(
            ["cost", "chance", "hires"],
            [[f"{currency} {p['cost']:,.0f}", f"{p['chance']:.0%}",
              "; ".join(f"{rid}: {', '.join(ms) or 'none'}" for rid, ms in p["hires"].items())]
             for p in o["frontier"]], text=(2,))]
    return lines
