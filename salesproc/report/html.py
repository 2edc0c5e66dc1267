"""Results as one self-contained HTML page: headline figures, the charts of
:mod:`salesproc.charts` inline as SVG with the table of each chart's numbers, and for a
simulation the flowchart coloured by the results.

The page opens offline: no script, no font, no image or style from anywhere else (a
Content-Security-Policy forbids it). Every word from the process file or the CRM is
escaped for HTML, its control characters made visible (:mod:`salesproc.core.escaping`); the
charts' SVG is escaped by matplotlib and :func:`salesproc.charts.style.svg`, the
flowchart's by :mod:`salesproc.drawing.dot`. Without Graphviz the page says where the
flowchart would be.
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from salesproc import charts
from salesproc.charts import Chart
from salesproc.charts.style import interval, money, number, percent, value
from salesproc.core.calendar import partly
from salesproc.core.escaping import visible
from salesproc.version import __version__

if TYPE_CHECKING:
    from salesproc.experiments.compare import Comparison, SweepResult
    from salesproc.experiments.plan import PlanResult
    from salesproc.experiments.results import SimulationResult
    from salesproc.measuring.deal_measurement import DealMeasurement
    from salesproc.measuring.measurement import Measurement
    from salesproc.measuring.review import Review
    from salesproc.prediction.backtest import Backtest
    from salesproc.prediction.forecast import Forecast
    from salesproc.process.model import Process

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 80rem;
       margin: 1.5rem auto; padding: 0 1rem; color: #1f2a44; line-height: 1.45; }
h1 { margin-bottom: .2rem; } .sub { color: #5b6b8c; margin-top: 0; }
h2 { border-bottom: 1px solid #c9d3e6; padding-bottom: .2rem; margin-top: 2.2rem; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }
.card { border: 1px solid #c9d3e6; border-radius: .5rem; padding: .6rem .9rem; min-width: 11rem;
        background: #f8f9fc; }
.card .label { font-size: .85rem; color: #5b6b8c; } .card .big { font-size: 1.5rem;
        font-weight: 600; } .card .small { font-size: .8rem; color: #5b6b8c; }
figure.chart { margin: 1.5rem 0; } figure.chart svg { max-width: 100%; height: auto; }
figcaption { color: #5b6b8c; font-size: .9rem; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
th, td { border: 1px solid #c9d3e6; padding: .25rem .55rem; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; } th { background: #f4f6fb; }
details summary { cursor: pointer; color: #0072B2; }
.note { background: #fff8e6; border-left: 4px solid #E69F00; padding: .4rem .8rem; }
footer { margin-top: 3rem; color: #7f7f7f; font-size: .8rem; }
.zoom { position: relative; border: 1px solid #c9d3e6; border-radius: .5rem; margin: 1rem 0; }
.zoom > input { position: absolute; opacity: 0; pointer-events: none; }
.zoom > label { display: block; cursor: zoom-in; }
.zoom > label svg { display: block; max-width: 100%; height: auto; }
.zoom > input:checked + label { cursor: zoom-out; overflow: auto; max-height: 48rem; }
.zoom > input:checked + label svg { max-width: none; }
.zoom > input:focus-visible + label { outline: 2px solid #0072B2; }
"""
# nothing from anywhere: no script, no request; only the page's own style and data: images
POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{css}</style></head><body>
<h1>{title}</h1><p class="sub">{sub}</p>
{body}
<footer>Made by salesproc {version}{source}. {notes}</footer>
</body></html>
"""


def _e(text: object) -> str:
    """Text for HTML: its control characters made visible (a raw one is a parse error,
    and in the inline SVG not even XML), then escaped."""
    return html.escape(visible(str(text)), quote=True)


def page(title: str, subtitle: str, sections: Sequence[str], source: str | None = None,
         notes: str = "", style: str = "") -> str:
    """The whole page: a title, a line under it, the sections' HTML in order; *style*,
    CSS of its own after the common style. Every page salesproc writes is made here, so
    every one has the same Content-Security-Policy."""
    return _PAGE.format(policy=POLICY, title=_e(title), sub=_e(subtitle), css=_CSS + style,
                        body="\n".join(sections), version=_e(__version__),
                        source=f" from {_e(source)}" if source else "", notes=_e(notes))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An HTML table of text cells (numbers aligned right)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f'<td class="n">{_e(c)}</td>' if _numeric(c) else f"<td>{_e(c)}</td>" for c in row)
        + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _numeric(cell: str) -> bool:
    """A number, a signed change or a range: aligned right."""
    signed = cell[1:2] if cell[:1] in ("+", "-", "–") else cell[:1]
    return signed.isdigit() and len(cell) < 40


def cards(items: Sequence[tuple[str, str, str]]) -> str:
    """Headline figures: (label, big figure, small line under it)."""
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="label">{_e(a)}</div><div class="big">{_e(b)}</div>'
        f'<div class="small">{_e(c)}</div></div>' for a, b, c in items) + "</div>"


def figure(chart: Chart) -> str:
    """A chart inline as SVG, its caption, and its numbers as a table."""
    svg = chart.svg()
    svg = svg[svg.index("<svg"):]  # drop the XML prolog and doctype
    return (f'<figure class="chart" id="chart-{_e(chart.name)}" data-chart="{_e(chart.name)}">'
            f"{svg}<figcaption>{_e(chart.caption)}</figcaption>"
            f"<details><summary>The numbers</summary>"
            f"{table(chart.table.headers, chart.table.rows)}</details></figure>")


def _section(heading: str, *parts: str) -> str:
    return f"<section><h2>{_e(heading)}</h2>{''.join(parts)}</section>"


def _notes(lines: Sequence[str]) -> str:
    return "".join(f'<p class="note">{_e(line)}</p>' for line in lines)


def _charts(found: Sequence[Chart]) -> str:
    return _section("Charts", *(figure(c) for c in found)) if found else ""


def _range_text(block: dict[str, Any] | None, show: Callable[[float], str]) -> str:
    worst, best = value(block, "worst"), value(block, "best")
    if math.isnan(worst) or math.isnan(best):
        return ""
    return f"worst–best case {show(worst)}–{show(best)}"


# --- simulate -----------------------------------------------------------------------------


def simulation(result: SimulationResult) -> str:
    """What `simulate --format html` writes."""
    data = result.to_dict()
    p, s = data["process"], data["settings"]
    reported = data["buyer"]  # one buyer type's deals in full, everyone simulated
    o = data["overall"] if reported is None else data["buyer_types"][reported]
    unit, currency = p["time_unit"], p["currency"]
    neck = data["bottleneck"]
    names = p["names"]
    only = s["only_buyer"]
    who = f"; {names['buyer_types'].get(only, only)} leads only" if only else ""
    if reported is not None:
        who += (f"; figures of {names['buyer_types'].get(reported, reported)} deals (every "
                "buyer type is simulated: they share the team; the bottleneck and the charts "
                "are all deals')")
    sub = (f"Simulated {s['replications']} runs of {number(s['horizon'] - s['warmup'], 0)} "
           f"{unit}s (after {number(s['warmup'], 0)} {unit}s warm-up), seed {s['seed']}{who}. "
           "Figures are means over runs with their 95% confidence interval; the worst–best "
           "case is the 10th to 90th percentile of the runs.")
    top = cards([
        ("Deals won", interval(o["won"], lambda x: number(x, 0)),
         _range_text(o["won"], lambda x: number(x, 0))),
        ("Revenue", money(value(o["revenue"]), currency),
         _range_text(o["revenue"], money)),
        ("Lead-to-win rate", percent(value(o["lead_to_win"]), 1),
         interval(o["lead_to_win"], lambda x: percent(x, 1))),
        ("Cycle time of won deals", f"{number(value(o['cycle_mean']))} {unit}s",
         f"median {number(value(o['cycle_p50']))}, 90% within "
         f"{number(value(o['cycle_p90']))}"),
        ("Bottleneck", names["roles"].get(neck["role"], neck["role"]) if neck else "none",
         _neck_text(data, neck)),
        ("Waiting", f"{number(value(data['waiting']['people']), 0)} deal-{unit}s",
         "for busy people; "
         f"{number(value(data['waiting']['working_day']), 0)} more for the working day "
         "(nights, weekends, holidays)"),
    ])
    return page(f"{p['name']}: simulation", sub,
                [top, _notes(data["warnings"]), _flowchart(result, data),
                 _charts(charts.simulation(data))],
                source=p["file"])


def _neck_text(data: dict[str, Any], neck: dict[str, Any] | None) -> str:
    """The bottleneck card's small print: where one more person helps, with the paired
    evidence; or why no role is named."""
    names, unit = data["process"]["names"], data["process"]["time_unit"]
    if neck is None:
        hires = data["hires"]
        return ("one more person per role not simulated" if hires is None
                else "one more person measurably helps in no role" if hires
                else "nobody waits for busy people")
    hire = neck["hire"]
    cycle = hire["cycle_change"]
    where = "" if neck["stage"] is None else \
        f" at {names['stages'].get(neck['stage'], neck['stage'])}"
    return (f"{percent(value(neck['utilization']))} busy{where}; one more: cycle time "
            f"{number(cycle['mean'], 1)} {unit}s [{number(cycle['low'], 1)}, "
            f"{number(cycle['high'], 1)}], same deals: hire there")


def _flowchart(result: SimulationResult, data: dict[str, Any]) -> str:
    from salesproc.core.errors import SalesprocError, ToolMissingError
    from salesproc.drawing import results_dot, to_image
    from salesproc.drawing.playbook import zoomable

    try:
        svg = to_image(results_dot(result.process, data), "svg").decode("utf-8")
    except ToolMissingError as exc:
        return _section("The process, coloured by the results",
                        _notes([f"The flowchart needs Graphviz: {exc.hint}."]))
    except SalesprocError as exc:
        return _section("The process, coloured by the results", _notes([exc.message]))
    return _section("The process, coloured by the results",
                    "<p>Each card: deals a month, the share moving on and the time in stage; "
                    "arrows as wide as the deals moving; red: the bottleneck. Click the "
                    "drawing to zoom in or out.</p>",
                    zoomable(svg[svg.index("<svg"):], "zoom-flow", "flow"))


# --- compare and sweep --------------------------------------------------------------------


def comparison(done: Comparison) -> str:
    """What `compare --format html` writes."""
    from salesproc.experiments.compare import verdict
    from salesproc.report.text import COMPARISON_HEADERS, comparison_rows

    data = done.to_dict()
    base = done.base.result
    whose = "" if done.buyer is None else (
        f"; figures of {base.process.buyer_types[done.buyer].name} deals")
    sub = (f"Against {done.base.label}: {base.settings.replications} paired runs, the same "
           f"deals in every variant (seed {base.settings.seed}){whose}. [a, b] is the 95% "
           "confidence interval of the difference.")
    parts = [_section("Verdict", *(f"<p>{_e(verdict(done, v))}</p>" for v in done.variants))]
    headers = [*COMPARISON_HEADERS[:-1], "significant"]
    for variant in done.variants:
        rows = [[*row[:-1], "yes" if row[-1] == "*" else ""]
                for row in comparison_rows(done, variant)]
        parts.append(_section(variant.label, table(headers, rows)))
    parts.append(_charts(charts.comparison(data)))
    return page(f"{base.process.name}: what changes", sub, parts, source=base.process.source)


def sweep(done: SweepResult) -> str:
    """What `sweep --format html` writes: the table or grids of the terminal, and charts
    (each figure against the setting, or heatmaps)."""
    from salesproc.report.text import sweep as text_sweep

    data = done.to_dict()
    base = done.comparison.base.result
    text = text_sweep(done)
    sub = (f"{base.settings.replications} paired runs per point, seed {base.settings.seed}. "
           "± is the 95% confidence interval of the mean.")
    return page(f"{base.process.name}: sweep", sub,
                [_charts(charts.sweep(data)),
                 _section("As in the terminal", f"<pre>{_e(text)}</pre>")],
                source=base.process.source)


# --- measure and forecast -----------------------------------------------------------------


def measurement(done: Measurement, buyer: str | None = None) -> str:
    """What `measure --format html` writes: all deals, or *buyer*'s deals alone."""
    data = done.to_dict()
    whose = ""
    if buyer is not None:
        data["overall"] = data["buyer_types"][buyer]
        whose = f" {data['process']['names']['buyer_types'].get(buyer, buyer)} deals only."
    o, currency = data["overall"], data["process"]["currency"]
    sub = (f"Measured from {', '.join(data['sources'])} as of {data['as_of'][:10]}. Shares "
           "with Wilson 95% intervals; times with open stays counted (Kaplan–Meier)." + whose)
    top = cards([
        ("Deals", number(o["deals"], 0), f"{number(o['open'], 0)} open"),
        ("Won", number(o["won"], 0), f"{money(o['won_value'], currency)}"),
        ("Lead-to-win rate", percent(value(o["lead_to_win"], "mean"), 1),
         f"{percent(value(o['lead_to_win'], 'low'), 1)}–"
         f"{percent(value(o['lead_to_win'], 'high'), 1)} (95%), of deals decided"),
        ("Cycle time of won deals", f"{number(o['cycle_days']['mean'] or math.nan)} days",
         f"median {number(o['cycle_days']['p50'] or math.nan)}"),
        ("New deals a week", number(o["new_per_week"] or math.nan), ""),
    ])
    notes = [f"{n['code']} {n['message']} ({n['count']} in all)" for n in data["notes"]]
    return page(f"{data['process']['name']}: the pipeline measured", sub,
                [top, _charts(charts.measurement(data)), *_measured_tables(data, buyer),
                 _section("Data quality", _notes(notes)) if notes else ""],
                source=data["process"]["file"])


def _share(block: dict[str, Any] | None) -> str:
    """'31% (29%–34%)': a measured share and its Wilson 95% interval."""
    low, high = value(block, "low"), value(block, "high")
    return percent(value(block, "mean")) + ("" if math.isnan(low) else
                                             f" ({percent(low)}–{percent(high)})")


def _measured_tables(data: dict[str, Any], buyer: str | None) -> list[str]:
    """What a leader forwards the measure page for, beside its charts: why deals were
    lost, where they went from each stage, each buyer type, and each month's cohort."""
    o, names = data["overall"], data["process"]["names"]
    stage = names["stages"]

    def called(sid: str) -> str:
        return str({"won": "won", "lost": "lost"}.get(sid, stage.get(sid, sid)))

    lost = table(("stage", "reason", "deals"),
                 [(called(r["stage"]), r["reason"] or "(not said)", number(r["deals"], 0))
                  for r in o["lost_reasons"]])
    moves = table(("from", "to", "deals", "share (95% interval)", "the file's share"),
                  [(called(m["from"]), called(m["to"]), number(m["deals"], 0),
                    _share(m["share"]),
                    ("–" if m["file_share"] is None else percent(m["file_share"]))
                    + (" (outside)" if m["outside"] else "")
                    + ("" if m["allowed"] else " (a move the file does not allow)"))
                   for m in o["moves"]])
    buyers = table(("buyer type", "deals", "open", "won", "lead-to-win", "opportunity win",
                    "cycle time (days)"),
                   [(names["buyer_types"].get(b, b), number(d["deals"], 0),
                     number(d["open"], 0), number(d["won"], 0), _share(d["lead_to_win"]),
                     _share(d["opportunity_win_rate"]),
                     number(d["cycle_days"]["mean"] or math.nan))
                    for b, d in data["buyer_types"].items()])
    order = [s for s in stage if any(s in c["reached"] for c in o["cohorts"])]
    cohorts = table(("month", "created", *(stage[s] for s in order), "won", "lost", "open"),
                    [(c["month"], number(c["created"], 0),
                      *(number(c["reached"].get(s, 0), 0) for s in order),
                      number(c["won"], 0), number(c["lost"], 0), number(c["open"], 0))
                     for c in o["cohorts"]])
    return [_section("Why deals were lost", lost) if o["lost_reasons"] else "",
            _section("Where deals went from each stage", moves) if o["moves"] else "",
            _section("By buyer type", buyers)
            if buyer is None and len(data["buyer_types"]) > 1 else "",
            _section("New deals by month created, and how far they got", cohorts)
            if o["cohorts"] else ""]


def deal_measurement(done: DealMeasurement, buyer: str | None = None) -> str:
    """What `measure --format html` writes of a deal table: what cannot be measured first,
    then the figures as cards and tables (a deal table has no charts yet)."""
    data = done.to_dict()
    o = data["overall"] if buyer is None else data["buyer_types"][buyer]
    currency = data["process"]["currency"]
    sub = (f"Measured from {', '.join(data['sources'])} (a deal table) as of "
           f"{data['as_of'][:10]}. Shares with Wilson 95% intervals; ages from creation."
           + (f" Buyer type {buyer} only." if buyer else ""))
    rate, cycle = o["win_rate"], o["cycle_days"]
    top = cards([
        ("Deals", number(o["deals"], 0), f"{number(o['open'], 0)} open"),
        ("Won", number(o["won"], 0), money(o["won_value"], currency)),
        ("Win rate", percent(value(rate, "mean"), 1),
         f"{percent(value(rate, 'low'), 1)}–{percent(value(rate, 'high'), 1)} (95%)"),
        ("Cycle time to won", f"{number(cycle['median'] or math.nan)} days",
         "median, Kaplan–Meier"),
        ("New deals a week", number(o["new_per_week"] or math.nan), ""),
    ])
    pipeline = table(["stage", "deals", f"value ({currency})", "median age", "p90 age"],
                     [[p["stage"] or "(unknown)", number(p["deals"], 0),
                       number(p["value"] or 0.0, 0), number(p["age_p50"] or math.nan),
                       number(p["age_p90"] or math.nan)] for p in o["pipeline"]])
    quarter = table(["part of the quarter", "won", "share", "95% interval", "even spread"],
                    [[q["part"], number(q["won"], 0), percent(value(q["share"], "mean"), 0),
                      f"{percent(value(q['share'], 'low'), 0)}–"
                      f"{percent(value(q['share'], 'high'), 0)}",
                      percent(q["even"] if q["even"] is not None else math.nan, 0)]
                     for q in o["won_in_quarter"]])
    months = table(["month", "created"], [[m, number(n, 0)]
                                          for m, n in o["new_by_month"].items()])
    losses = table(["reason", "deals"], [[r["reason"], number(r["deals"], 0)]
                                         for r in o["lost_reasons"]])
    notes = [f"{n['code']} {n['message']} ({n['count']} in all)" for n in data["notes"]]
    return page(f"{data['process']['name']}: the pipeline measured", sub,
                [_notes([data["not_measured"]]), top,
                 _section("Open deals by stage", pipeline),
                 _section("When in the quarter deals are won", quarter),
                 _section("New deals by month created", months),
                 _section("Why deals were lost", losses) if o["lost_reasons"] else "",
                 _section("Data quality", _notes(notes)) if notes else ""],
                source=data["process"]["file"])


CRM_FIGURES = {"open_deals": "Open deals", "open_value": "Their value",
               "weighted_pipeline": "Weighted by the CRM's probability"}  # forecast's crm keys


def forecast(done: Forecast) -> str:
    """What `forecast --format html` writes; its track record on a saved backtest
    (`forecast --track-record`), if it has one, under the headline figures."""
    from salesproc.report.text import track_record_lines

    track_record = track_record_lines(done)
    data = done.to_dict()
    currency, cases = data["process"]["currency"], data["cases"]
    sub = (f"From the pipeline on {data['as_of'][:10]} to {data['until'][:10]}, "
           f"{data['replications']} runs. Worst, neutral and best case: the "
           f"{cases['worst']}, {cases['neutral']} and {cases['best']} of the runs.")
    t = data["totals"]

    def said(outcome: dict[str, Any], show: Callable[[float], str]) -> tuple[str, str]:
        return (show(value(outcome, "neutral")),
                f"worst {show(value(outcome, 'worst'))}, best {show(value(outcome, 'best'))}")

    top = cards([("Deals won", *said(t["won"], lambda x: number(x, 0))),
                 ("Revenue", *said(t["revenue"], lambda x: money(x, currency))),
                 ("Still open at the end", *said(t["open_at_end"], lambda x: number(x, 0)))])
    deals = sorted(data["deals"], key=lambda d: -(d["chance"] or 0))[:15]
    stages = data["process"]["names"]["stages"]
    rows = [(d["id"], stages.get(d["stage"], d["stage"]), money(d["value"] or math.nan),
             percent(d["chance"]), d["month"] or "–") for d in deals]
    crm = [(CRM_FIGURES.get(k, "Forecast category " + k.removeprefix("category ")),
            money(math.nan if v is None else v, currency)  # None: the CRM has no figure
            if "value" in k or "pipeline" in k or "category" in k else number(v, 0))
           for k, v in data["crm"].items()]
    start, end = (dt.datetime.fromisoformat(data[k]) for k in ("as_of", "until"))
    quarters = [(label + (" (part)" if partly(label, start, end) else ""),
                 f"{number(value(q['won'], 'neutral'), 0)} "
                 f"({number(value(q['won'], 'worst'), 0)}–{number(value(q['won'], 'best'), 0)})",
                 f"{money(value(q['revenue'], 'neutral'), currency)} "
                 f"({money(value(q['revenue'], 'worst'), currency)}–"
                 f"{money(value(q['revenue'], 'best'), currency)})")
                for label, q in data["quarters"].items()]
    record = _section(track_record[0], *(f"<p>{_e(line.strip())}</p>"
                                         for line in track_record[1:])) if track_record else ""
    return page(f"{data['process']['name']}: forecast", sub,
                [top, record, _charts(charts.forecast(data)),
                 _section("The open deals most likely to close",
                          table(("deal", "stage", "value", "chance to win", "likely month"),
                                rows)),
                 _section("By quarter: neutral case (worst–best)",
                          table(("quarter", "deals won", "revenue"), quarters))
                 if len(quarters) > 1 else "",
                 _section("What the CRM says", table(("figure", "amount"), crm)),
                 _notes(data["notes"])],
                source=data["process"]["file"])


# --- plan ---------------------------------------------------------------------------------


def plan(done: PlanResult) -> str:
    """What `plan --format html` writes: the chance to make the number, the target
    chart, the targets and months as tables, the classic arithmetic, and the optimiser's
    answer with its trade-off curve."""
    from salesproc.report.text import classic_lines

    data = done.to_dict()
    currency = data["currency"]
    bookings = data["measure"] == "bookings"

    def show(x: float | None) -> str:  # in the tables: the currency is in their headings
        return "–" if x is None else f"{x:,.0f}"

    def money_card(x: float | None) -> str:
        return "–" if x is None else (f"{currency} {x:,.0f}" if bookings else f"{x:,.0f}")

    unit = f" ({currency})" if bookings else " (deals)"

    sub = (f"{data['months_planned']} months from {data['start']}, {data['replications']} "
           f"runs, seed {data['seed']}. Worst to best case: the 10th to 90th percentile of "
           "the runs; a chance is the share of runs that make the target, with its 95% "
           "interval.")
    top = cards([("The number", money_card(data["number"]),
                  f"{len(data['targets'])} target(s)"),
                 ("Chance to make it", percent(value(data["chance"])),
                  interval(data["chance"], percent)),
                 *((("Team cost", money_card(data["cost"]), "the roles with a cost"),)
                   if data["cost"] is not None else ())])
    targets = [(t["period"], show(t["target"]), show(t["worst"]),
                show(t["neutral"] if t["neutral"] is not None else t["mean"]),
                show(t["best"]), interval(t["chance"], percent), show(t["classic"]))
               for t in data["targets"]]
    months = [(m["month"], show(m["worst"]),
               show(m["neutral"] if m["neutral"] is not None else m["mean"]),
               show(m["best"]), show(m["classic"]), m["constraint"],
               ", ".join(f"{rid} {r['headcount']} ({r['effective']:.2f})"
                         for rid, r in m["roles"].items() if rid in data["hires"]))
              for m in data["months"]]
    hires = "; ".join(f"{rid}: {', '.join(ms) or 'none'}" for rid, ms in data["hires"].items())
    o = data.get("optimisation")
    return page(f"{data['process']}: plan", sub, [
        top, _section("Hires", f"<p>{_e(hires or 'none')}</p>"),
        _section("Cheapest plan", f"<p>{_e(o['explanation'])}</p>") if o else "",
        _charts(charts.plan(data)),
        _section("By target" + unit, table(("target", "amount", "worst", "neutral",
                                            "best", "chance", "classic"), targets)),
        _section("By month" + unit, table(("month", "worst", "neutral", "best", "classic",
                                           "constraint", "people (ramped)"), months)),
        _section("The classic capacity arithmetic",
                 *(f"<p>{_e(line.strip())}</p>" for line in classic_lines(data))),
        _notes(data["notes"])], source=data["plan"])


# --- review -------------------------------------------------------------------------------


def review(done: Review) -> str:
    """What `review --format html` writes: the movement's figures as cards, the waterfall
    and the cohort trend, then the terminal's sections (:func:`review_lines`) as tables."""
    from salesproc.report.text import review_lines

    data, cur = done.to_dict(), done.currency
    lines = review_lines(done, _review_table, str)
    intro = [line for _, line in itertools.takewhile(lambda x: x[0] != "heading", lines[1:])]
    top = cards([(label, money(f.value, cur), f"{f.deals:,} deals") for label, f in (
        ("Open at the start", done.open_start), ("New", done.new), ("Won", done.won),
        ("Lost", done.lost), ("Open at the end", done.open_end))]
        + [("Need attention", f"{len(done.attention):,}", "deals")])
    sections: list[str] = []
    heading, body = "", list[str]()  # the section being gathered
    for kind, line in lines[1 + len(intro):]:
        if kind == "heading":
            sections.append(_section(heading, *body) if heading else "")
            heading, body = line, []
        else:
            body.append(line if kind == "table" else _notes([line]) if kind == "note"
                        else f"<p>{_e(line)}</p>")
    sections.append(_section(heading, *body))
    return page(lines[0][1], " ".join(intro), [top, _charts(charts.review(data)), *sections],
                source=", ".join(done.sources))


def _review_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                  text: tuple[int, ...] = (0,)) -> str:
    """:func:`table` for :func:`review_lines` (which names the text columns: HTML aligns
    by the cells themselves)."""
    return table(headers, rows)


# --- backtest -------------------------------------------------------------------------------


def backtest(done: Backtest) -> str:
    """What `backtest --format html` writes: headline cards (origins, coverage, the
    model's errors beside the best baseline's), the forecast-vs-actual chart, and the
    tables of the terminal: scores per figure and forecaster, each origin's numbers."""
    from salesproc.prediction.backtest import BASELINES
    from salesproc.report.text import (
        BACKTEST_FIGURES,
        backtest_origin_rows,
        backtest_score_rows,
        backtest_summary,
    )

    data = done.to_dict()
    cases = done.cases
    sub = (f"At each origin the process was calibrated on the history before it and "
           f"forecast {done.horizon_days:g} days ahead; the baselines were made at the same "
           f"origins from what was known then. Worst to best case: the p{cases[0]:g} to "
           f"p{cases[2]:g} of the runs.")
    about = data["process"]
    currency = about["currency"] or ""

    def verdict_card(figure: str, show: Callable[[float], str]) -> tuple[str, str, str]:
        v = data["verdict"][figure]
        best = v["best_baseline"]
        if best is None:
            return (f"{BACKTEST_FIGURES[figure]}: MAE", show(value(v, "model_mae")),
                    "no baseline could be made")
        said = "beat" if v["model_beats_it"] else "did not beat"
        return (f"{BACKTEST_FIGURES[figure]}: MAE", show(value(v, "model_mae")),
                f"{said} {BASELINES[best]} ({show(value(v, 'best_baseline_mae'))})")

    coverage = data["spread"]["won"]["coverage"]
    top = cards([
        ("Origins", f"{len(done.origins)}",
         f"{len(done.failed)} failed" if done.failed else "none failed"),
        (f"Deals won inside p{cases[0]:g}–p{cases[2]:g}",
         f"{coverage['inside']} of {coverage['n']}",
         f"95% interval {percent(value(coverage, 'low'))}–{percent(value(coverage, 'high'))}"
         f"; honest: about {percent((cases[2] - cases[0]) / 100)}"),
        verdict_card("won", lambda x: number(x, 1)),
        verdict_card("revenue", lambda x: money(x, currency)),
    ])
    parts = [top, _charts(charts.backtest(data))]
    for figure in ("won", "revenue"):
        headers, rows = backtest_score_rows(done, figure)
        origin_headers, origin_rows = backtest_origin_rows(done, figure)
        parts.append(_section(
            BACKTEST_FIGURES[figure], table(headers, rows),
            "".join(f"<p>{_e(line)}</p>" for line in backtest_summary(done, figure)),
            "<details><summary>Each origin</summary>"
            f"{table(origin_headers, origin_rows)}</details>"))
    if done.failed:
        parts.append(_section("Failed origins (left out of the scores)", _notes(
            [f"{f.at:%Y-%m-%d}: {f.reason}" for f in done.failed])))
    parts.append(_notes(done.notes))
    return page(f"{about['name'] or 'The process'}: would the forecast have been right?", sub,
                parts, source=about["file"])


# --- playbook -----------------------------------------------------------------------------


def playbook(process: Process, source: str | None = None) -> str:
    """What `playbook --format html` writes: the onboarding playbook with its drawings, in
    the reports' page shell. Needs Graphviz (raises ToolMissingError without it)."""
    from salesproc.drawing import playbook as guide

    return page(guide.title(process), process.description or "", [guide.html_body(process)],
                source=source or process.source, notes=guide.REGENERATE,
                style=guide.HTML_STYLE)
