"""A process discovered from a CRM's history, for a team that has an export and no process
file yet (`salesproc init NAME --from HISTORY...`).

The stages are the export's stage names in the CRM's own order where it has one (a
stage list's sort order, else the stages' probability), else in the order deals go
through them (:func:`salesproc.history.suggest.export_stages`, the rule
`--suggest-mapping` uses); the outcomes are the names the reader takes for won and lost,
and those the export marks closed. Each stage's routes are those the deals took (the
shares of its visits that went on to each stage, or were won; the rest is lost); the
buyer types are the values of a column the user names (`--buyer-field`), each with a
rule in `crm: buyer_types`. The numbers — arrivals, buyer-type shares, deal values,
routes, times in stage, loss reasons — are then fitted by calibration
(:func:`salesproc.prediction.calibration.calibrate`, the one home of those fits), each
written with its sample size and 95% interval, and `fitted:` says how sure each is, as a
calibrated variant does. Who works each stage and how long the work takes are not in an
export: one role, `rep`, owns every stage, and the file says so.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from salesproc.core.diagnostics import shown
from salesproc.core.errors import SalesprocError
from salesproc.core.units import plural
from salesproc.history import read_history
from salesproc.history.mapping import CRM_NAME_MOST
from salesproc.history.notes import Note
from salesproc.history.read import Format
from salesproc.history.suggest import buyer_columns, export_stages, loss_column
from salesproc.history.table import LOST_CODE, WON_CODE
from salesproc.prediction.calibration import Calibration, calibrate, flow
from salesproc.process.model import WON, Process, fold
from salesproc.process.starter import new_id

#: The placeholder stage the export's names are first matched against: no CRM has it.
_PLACEHOLDER = """\
salesproc: 1
name: placeholder
roles: {rep: {title: Sales rep, headcount: 1}}
stages:
  - {id: salesproc_placeholder, name: salesproc placeholder stage, owner: rep,
     next: {won: 0.5}}
buyer_types: {standard: {name: Standard buyer, share: 1, value: 10000}}
"""
MAX_BUYER_TYPES = 10  # more values than this in a column is no column of buyer types
RARE = 0.01  # a route fewer than this share of a stage's visits took is left out


class DiscoveryError(SalesprocError):
    """The export cannot give a process (no stage but the outcomes, an unknown column)."""


@dataclass
class Discovered:
    """The process file discovered, what reading the export noted, and what to know."""

    text: str
    notes: tuple[Note, ...] = ()
    report: list[str] = field(default_factory=list)
    calibration: Calibration | None = None


@dataclass
class _Draft:
    """The process being written: its parts as the file's values, in order."""

    name: str
    stages: list[dict[str, Any]]
    buyers: dict[str, dict[str, Any]]
    crm: dict[str, Any]
    arrivals: dict[str, Any] = field(default_factory=lambda: {"rate": 10, "per": "week"})
    currency: str = "USD"
    others: list[str] = field(default_factory=list)  # the export's other currencies
    comments: dict[str, str] = field(default_factory=dict)  # setting -> its comment
    fitted: dict[str, Any] = field(default_factory=dict)


def _loaded(text: str) -> Process:
    from salesproc.core.errors import InvalidProcessError
    from salesproc.process.loader import check_text

    checked = check_text(text, "<discovered>")
    if checked.process is None:  # a bug: what is written here always validates
        raise InvalidProcessError(checked.diagnostics)
    return checked.process


def discover(paths: Sequence[str], name: str, *, buyer_field: str | None = None,
             kind: Format | None = None, today: dt.date | None = None) -> Discovered:
    """The process file of the export *paths*, named *name*; *buyer_field* is the column
    whose values are the buyer types (None: one buyer type)."""
    found = export_stages(paths, _loaded(_PLACEHOLDER), kind, today)
    report: list[str] = []
    taken: dict[str, object] = {}
    stages: list[dict[str, Any]] = []
    for s in found.stages:
        if s.outcome:
            continue
        if len(s.name) > CRM_NAME_MOST:
            report.append(f"a stage name of {len(s.name):,} characters is left out: longer "
                          f"than a name may be ({CRM_NAME_MOST}); is the stage column right?")
            continue
        sid = new_id(s.name, taken, "stage")
        taken[sid] = s
        stages.append({"id": sid, "name": s.name, "owner": "rep"})
    if not stages:
        raise DiscoveryError("the export shows no stage but won and lost: there is no "
                             "process to discover", hint="export the deals with their stage "
                             "history (Salesforce's OpportunityHistory, HubSpot's Date "
                             "entered columns)")
    outcomes = {s.name: s.target for s in found.stages if s.outcome}
    crm: dict[str, Any] = {"stages": {**{s["name"]: s["id"] for s in stages}, **outcomes}}
    reason = loss_column(found.deals)
    if reason:
        crm["lost_reason"] = reason
    buyers = _buyer_types(found, buyer_field, crm, report)
    draft = _Draft(name, stages, buyers, crm)
    for k, stage in enumerate(stages):  # a first guess, to read the history with
        stage["next"] = {stages[k + 1]["id"] if k + 1 < len(stages) else WON: 0.5}
    history = read_history(paths, _loaded(_render(draft)), format=kind, today=today)
    if _currency(draft, history):  # amounts in another currency: read again in it
        history = read_history(paths, _loaded(_render(draft)), format=kind, today=today)
    if not history.has_stages:  # each deal's current stage only: no route was seen
        report.append("the export has no stage history (one row per deal): the stages' "
                      f"order is the {found.how}, and every route is a guess; export the "
                      "stage history too for a process that is the deals'")
    _routes(draft, history, report)
    process = _loaded(_render(draft))
    history = replace(history, process=process)
    calibration = calibrate(history)
    _apply(draft, calibration)
    took = "routes as the deals took them" if history.has_stages else "routes guessed"
    report.append(f"stages in the {found.how}; {took}; numbers fitted from "
                  f"{calibration.deals:,} {plural('deal', calibration.deals)}")
    text = _render(draft, header=_header(found.how, took, calibration, paths))
    _loaded(text)  # it validates, or this is a bug (exit 3), never a file that does not
    return Discovered(text, history.notes, report, calibration)


def _buyer_types(found: Any, column: str | None, crm: dict[str, Any],
                 report: list[str]) -> dict[str, dict[str, Any]]:
    """One buyer type, or one per value of *column* with its rule (the most common value
    is the default, for deals with none)."""
    if column is None:
        return {"standard": {"name": "Standard buyer", "share": 1, "value": 10000}}
    named = [c for c in buyer_columns(found.deals, found.reading) if fold(c[0]) == fold(column)]
    if not named:
        has = any(f.column(column) for f in found.deals)
        others = [c for c, _ in buyer_columns(found.deals, found.reading)]
        raise DiscoveryError(
            f"the column {shown(column)} " + (
                f"has fewer than 2 or more than {MAX_BUYER_TYPES} distinct values: no column "
                "of buyer types" if has else "is not in the export"),
            hint=f"columns that may tell buyer types apart: {', '.join(map(shown, others))}"
            if others else "name the column that holds each deal's segment or type")
    real, words = named[0]
    taken: dict[str, object] = {}
    buyers: dict[str, dict[str, Any]] = {}
    rules = []
    for word, count in words:
        bid = new_id(word, taken, "buyer")
        taken[bid] = word
        buyers[bid] = {"name": word, "share": 1, "value": 10000}
        rules.append({"field": real, "is": word, "buyer_type": bid})
        report.append(f"buyer type {bid}: {shown(real)} is {shown(word)} ({count:,} "
                      f"{plural('row', count)})")
    for k, buyer in enumerate(buyers.values()):  # equal shares until calibration fits them
        buyer["share"] = round(1 - round(1 / len(buyers), 4) * (len(buyers) - 1), 4) \
            if k == len(buyers) - 1 else round(1 / len(buyers), 4)
    crm["buyer_types"] = rules
    crm["default_buyer_type"] = next(iter(buyers))
    report.append(f"deals with no {shown(real)} are of buyer type {next(iter(buyers))}, the "
                  "most common")
    return buyers


def _currency(draft: _Draft, history: Any) -> bool:
    """The process's currency: the export's most common one (USD if it says none); the
    others listed for crm: currency_rates, which the export cannot give. True when the
    currency is not the one the draft had."""
    codes = pc.cast(history.deals.currency, pa.string())  # may come dictionary-encoded
    counts = pc.value_counts(pc.utf8_upper(pc.utf8_trim_whitespace(codes))).to_pylist()
    found = sorted(((c["values"], c["counts"]) for c in counts
                    if c["values"] and re.fullmatch(r"[A-Z]{3}", c["values"])),
                   key=lambda vc: -vc[1])
    if not found:
        return False
    chosen = str(found[0][0])
    draft.others = [str(code) for code, _ in found[1:]]
    changed = chosen != draft.currency
    draft.currency = chosen
    return changed


def _routes(draft: _Draft, history: Any, report: list[str]) -> None:
    """Each stage's routes: the shares of its ended visits that went on to each stage or
    were won (those below 1% left out, said); the rest is lost. And a first time in
    stage, the mean of the visits that moved on (calibration fits it, weighing the file's
    as a few visits: a stage without one would pull the fit towards no time at all)."""
    ids = [s["id"] for s in draft.stages]
    index = {sid: k for k, sid in enumerate(history.process.stages)}
    visits = history.visits
    for stage in draft.stages:
        mine = visits.exit[visits.stage == index[stage["id"]]]
        ended = mine[(mine >= 0) | (mine == WON_CODE) | (mine == LOST_CODE)]
        targets, counts = np.unique(ended, return_counts=True)
        routes: dict[str, float] = {}
        for code, count in sorted(zip(targets.tolist(), counts.tolist(), strict=True),
                                  key=lambda tc: -tc[1]):
            if code == LOST_CODE:
                continue
            share = count / len(ended)
            target = WON if code == WON_CODE else ids[code]
            if share < RARE:
                report.append(f"{stage['id']} -> {target}: {count} of {len(ended):,} visits "
                              "(under 1%): left out")
                continue
            routes[target] = round(share, 3)
        if not routes:  # never left but to be lost (or never ended): keep the stage on
            routes = {ids[ids.index(stage["id"]) + 1] if stage["id"] != ids[-1] else WON:
                      0.5}
            if history.has_stages:
                report.append(f"{stage['id']}: no visit that ended went on: its route is "
                              "a guess (0.5 to the next)")
        stage["next"] = routes
        here = visits.stage == index[stage["id"]]
        moved = here & ((visits.exit >= 0) | (visits.exit == WON_CODE)) & \
            ~np.isnat(visits.left)
        if moved.any():
            days = (visits.left[moved] - visits.entered[moved]).astype(float) / 86400.0
            stage["delay"] = {"exponential": {"mean": round(max(float(days.mean()), 0.01),
                                                            3)}}


def _apply(draft: _Draft, calibration: Calibration) -> None:
    """The fitted values into the draft, each with its comment; `fitted:` from it."""
    for f in calibration.fitted:
        _set(draft, f.setting, f.value)
        interval = f.quality if f.shares else (f"95% {_num(f.low)}–{_num(f.high)}"
                                               + (f"; {f.quality}" if f.quality else ""))
        draft.comments[f.setting] = shown(f"{f.what}: n={f.n:,}; {interval}")
    draft.fitted = calibration.certainty()


def _num(x: float) -> str:
    return f"{x:,.4g}" if abs(x) < 1000 else f"{x:,.0f}"


def _set(draft: _Draft, setting: str, value: Any) -> None:
    """One calibrated setting (a `set:` path: stages by id) into the draft."""
    parts = setting.split(".")
    if parts[0] == "stages":
        target: dict[str, Any] = next(s for s in draft.stages if s["id"] == parts[1])
        rest = parts[2:]
    elif parts[0] == "buyer_types":
        target, rest = draft.buyers[parts[1]], parts[2:]
    elif parts[0] == "arrivals":
        target, rest = draft.arrivals, parts[1:]
    else:
        raise ValueError(f"a calibrated setting discovery does not know: {setting}")
    for key in rest[:-1]:
        target = target.setdefault(key, {})
    target[rest[-1]] = value


def _header(how: str, took: str, calibration: Calibration, paths: Sequence[str]
            ) -> list[str]:
    files = ", ".join(shown(p) for p in paths)
    return [
        f"# Discovered by salesproc from {files}.",
        f"# The stages in the {how}; {took}.",
        "# Arrivals, buyer-type shares, deal values, routes and times in stage fitted from",
        f"# {calibration.deals:,} deals created {calibration.since:%Y-%m-%d} to "
        f"{calibration.until:%Y-%m-%d}, each with its observations and 95% interval.",
        "# Who works each stage and for how long is not in an export: one role, rep, owns",
        "# every stage; give each stage its owner, its work and what to find out.",
    ]


ID = re.compile(r"[a-z][a-z0-9_]*")


def _value(value: Any) -> str:
    """A value as the file writes it: numbers and ids plain, names quoted (flow form)."""
    if isinstance(value, str) and ID.fullmatch(value) and value not in ("yes", "no", "on",
                                                                         "off", "null"):
        return value
    return str(value) if isinstance(value, int | float) else flow(value)


def _render(draft: _Draft, header: Sequence[str] = ()) -> str:
    """The process file's text: the draft's values in flow form, each fitted one with its
    comment."""
    def line(indent: str, key: str, value: Any, setting: str) -> str:
        text = f"{indent}{key}: {_value(value)}"
        said = draft.comments.get(setting)
        return f"{text}  # {said}" if said else text

    lines = [*header, "salesproc: 1", f"name: {flow(draft.name)}",
             f"currency: {draft.currency}" + ("" if draft.others else
                                               "   # the export's (USD if it names none)"),
             "time_unit: day", "roles:",
             "  rep: {title: Sales rep, headcount: 1}   # who works the deals: not in the "
             "export", "stages:"]
    for stage in draft.stages:
        sid = stage["id"]
        lines.append(f"  - id: {sid}")
        for key, value in stage.items():
            if key != "id":
                lines.append(line("    ", key, value, f"stages.{sid}.{key}"))
    lines.append("buyer_types:")
    for bid, buyer in draft.buyers.items():
        lines.append(f"  {bid}:")
        for key, value in buyer.items():
            if key != "stages":
                lines.append(line("    ", key, value, f"buyer_types.{bid}.{key}"))
                continue
            lines.append("    stages:                 # this buyer type's own routes")
            for sid, override in value.items():
                said = [draft.comments.get(f"buyer_types.{bid}.stages.{sid}.{k}", "")
                        for k in override]
                lines.append(f"      {sid}: {_value(override)}"
                             + (f"  # {'; '.join(w for w in said if w)}" if any(said) else ""))
    lines.append("arrivals:")
    lines += [line("  ", k, v, f"arrivals.{k}") for k, v in draft.arrivals.items()]
    lines.append("crm:")
    for key, value in draft.crm.items():
        if key == "stages":
            lines.append("  stages:                     # the export's stage names -> stages")
            lines += [f"    {flow(name)}: {target}" for name, target in value.items()]
        elif key == "buyer_types":
            lines.append("  buyer_types:                # the first rule that matches decides")
            lines += [f"    - {_value(rule)}" for rule in value]
        else:
            lines.append(line("  ", key, value, ""))
    if draft.others:
        rates = ", ".join(f"{code}: RATE" for code in draft.others)
        lines += [f"  # currency_rates: {{{rates}}}   # one of each in {draft.currency}: not in "
                  "the export;", "  # until they are given, the deals in them have no value"]
    if draft.fitted:
        lines += ["# How sure each value is (observations, estimate, 95% interval):",
                  "# `salesproc forecast` draws them from it; a later change drops one.",
                  "fitted:"]
        lines += [f"  {k}: {flow(v)}" for k, v in draft.fitted.items()]
    return "\n".join(lines) + "\n"
