"""Semantic rules: what the schema cannot say. Each rule is a small function with a code.

Rules run on schema-valid data. Reference rules come first, on the data; the flow rules
(reachability, dead ends, loops, capacity) need every reference to resolve, so they run
only when the reference rules found no error, on the built model, where they read the
routes through :mod:`salesproc.process.routing` like everything else does.

Graph checks are plain breadth-first searches over route edges rather than networkx:
importing networkx costs ~0.2 s, which would double the time of `salesproc validate`
in a pre-commit hook, and reachability is all these rules need.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from salesproc.core import dists, units
from salesproc.core.calendar import MONTHS, WEEKDAYS, parse_date, parse_hours
from salesproc.core.defaults import (
    LITTLE_TIME_FOR_DEALS,
    MAX_DURATION,
    MAX_HORIZON_DAYS,
    MAX_VISITS_PER_DEAL,
)
from salesproc.core.diagnostics import Diagnostic, did_you_mean, shown, some
from salesproc.process import analysis, routing
from salesproc.process.model import (
    CONDITION_KEYS,
    LOST,
    OUTCOMES,
    WON,
    Process,
    buyer_path,
    calendar_from,
    effective_stage_data,
    file_calendar,
    file_horizon,
    fold,
    start_date,
)
from salesproc.process.yamlio import Document, Path


class Context:
    """The document plus the look-ups every rule needs (and, for the flow rules, the
    model built from it)."""

    def __init__(self, doc: Document, process: Process | None = None) -> None:
        self.doc = doc
        self._process = process
        self.data: dict[str, Any] = doc.data
        self.stage_index: dict[str, int] = {}
        for i, stage in enumerate(self.data["stages"]):
            self.stage_index.setdefault(stage["id"], i)
        self.roles: dict[str, Any] = self.data["roles"]
        self.information: dict[str, Any] = self.data.get("information", {})
        self.buyers: dict[str, Any] = self.data["buyer_types"]
        self.suggestions = MAX_SUGGESTIONS  # did-you-mean look-ups left for this file

    def suggest(self, name: str, known: Iterable[str]) -> str | None:
        """did_you_mean, for the first MAX_SUGGESTIONS unknown names of a file only: a file
        of thousands of typos must not take minutes to report."""
        if self.suggestions <= 0:
            return None
        self.suggestions -= 1
        return did_you_mean(name, known)

    @property
    def process(self) -> Process:
        assert self._process is not None, "flow rules run on a built model"
        return self._process

    def at(self, code: str, message: str, path: Path, *, key: bool = False,
           hint: str | None = None) -> Diagnostic:
        return self.doc.diagnostic(code, message, path, key=key, hint=hint)

    def stage_origin(self, buyer: str, stage: str, key: str) -> Path:
        """Where a buyer's effective stage key is written: its override, or the stage."""
        override = self.buyers[buyer].get("stages", {}).get(stage, {})
        if key in override:
            return ("buyer_types", buyer, "stages", stage, key)
        return ("stages", self.stage_index[stage], key)

    def stage_blocks(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        """Every stage and stage override as written, with its path."""
        for i, stage in enumerate(self.data["stages"]):
            yield ("stages", i), stage
        for b, buyer in self.buyers.items():
            for s, override in buyer.get("stages", {}).items():
                yield ("buyer_types", b, "stages", s), override


Rule = Callable[[Context], Iterable[Diagnostic]]


MAX_SUGGESTIONS = 100
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _unknown(ctx: Context, code: str, kind: str, name: str, known: Iterable[str],
             path: Path, key: bool = False) -> Diagnostic:
    known = list(known)
    hint = ctx.suggest(name, known) or (f"defined {kind}s: {some(known)}" if known
                                        else f"no {kind}s are defined")
    return ctx.at(code, f"unknown {kind} '{name}'", path, key=key, hint=hint)


# --- reference rules ----------------------------------------------------------------------


def duplicate_stage_ids(ctx: Context) -> Iterator[Diagnostic]:
    """SP205: two stages with one id."""
    seen: dict[str, int] = {}
    for i, stage in enumerate(ctx.data["stages"]):
        sid = stage["id"]
        if sid in seen:
            line = ctx.doc.span(("stages", seen[sid], "id")).line
            yield ctx.at("SP205", f"stage id '{sid}' is used twice (first at line {line})",
                         ("stages", i, "id"), hint="give each stage its own id")
        seen.setdefault(sid, i)


def reserved_stage_ids(ctx: Context) -> Iterator[Diagnostic]:
    """SP207: a stage called won or lost."""
    for i, stage in enumerate(ctx.data["stages"]):
        if stage["id"] in OUTCOMES:
            yield ctx.at("SP207", f"'{stage['id']}' is an outcome, not a stage id",
                         ("stages", i, "id"),
                         hint="won and lost end a deal by themselves: remove this stage, "
                         "and route the stage before it to won (next: {won: 0.9})")


def role_references(ctx: Context) -> Iterator[Diagnostic]:
    """SP202: owners, assistants, approvers and needed_by name defined roles."""
    for path, block in ctx.stage_blocks():
        if "owner" in block and block["owner"] not in ctx.roles:
            yield _unknown(ctx, "SP202", "role", block["owner"], ctx.roles, (*path, "owner"))
        for j, role in enumerate(block.get("assist", [])):
            if role not in ctx.roles:
                yield _unknown(ctx, "SP202", "role", role, ctx.roles, (*path, "assist", j))
        for j, approval in enumerate(block.get("approvals", [])):
            if approval["by"] not in ctx.roles:
                yield _unknown(ctx, "SP202", "role", approval["by"], ctx.roles,
                               (*path, "approvals", j, "by"))
    for iid, item in ctx.information.items():
        if "needed_by" in item and item["needed_by"] not in ctx.roles:
            yield _unknown(ctx, "SP202", "role", item["needed_by"], ctx.roles,
                           ("information", iid, "needed_by"))


def information_references(ctx: Context) -> Iterator[Diagnostic]:
    """SP203: requires: names defined information."""
    for path, block in ctx.stage_blocks():
        for j, item in enumerate(block.get("requires", [])):
            if item not in ctx.information:
                hint = ctx.suggest(item, ctx.information) or (
                    f"define it under information: {item}: {{label: ...}}")
                yield ctx.at("SP203", f"unknown information '{item}'", (*path, "requires", j),
                             hint=hint)


def stage_references(ctx: Context) -> Iterator[Diagnostic]:
    """SP201: routes, rejections, paths, overrides and opportunity_stage name defined stages."""
    stages = list(ctx.stage_index)
    targets = [*stages, WON, LOST]
    for path, block in ctx.stage_blocks():
        for to in block.get("next", {}):
            if to not in targets:
                yield _unknown(ctx, "SP201", "stage", to, targets, (*path, "next", to),
                               key=True)
        for j, approval in enumerate(block.get("approvals", [])):
            back = approval.get("on_reject")
            if back is not None and back not in ctx.stage_index:
                yield _unknown(ctx, "SP201", "stage", back, stages,
                               (*path, "approvals", j, "on_reject"))
    opportunity = ctx.data.get("opportunity_stage")
    if opportunity is not None and opportunity not in ctx.stage_index:
        yield _unknown(ctx, "SP201", "stage", opportunity, stages, ("opportunity_stage",))
    for b, buyer in ctx.buyers.items():
        for j, sid in enumerate(buyer.get("path", [])):
            if sid not in ctx.stage_index:
                yield _unknown(ctx, "SP201", "stage", sid, stages, ("buyer_types", b, "path", j))
        for sid in buyer.get("stages", {}):
            if sid not in ctx.stage_index:
                yield _unknown(ctx, "SP201", "stage", sid, stages,
                               ("buyer_types", b, "stages", sid), key=True)
        for sid in buyer.get("enter", {}):
            if sid not in ctx.stage_index:
                yield _unknown(ctx, "SP201", "stage", sid, stages,
                               ("buyer_types", b, "enter", sid), key=True)


def buyer_type_references(ctx: Context) -> Iterator[Diagnostic]:
    """SP204: campaigns and conditions name defined buyer types."""
    buyers = list(ctx.buyers)
    for j, campaign in enumerate(ctx.data.get("arrivals", {}).get("campaigns", [])):
        if "buyer_type" in campaign and campaign["buyer_type"] not in ctx.buyers:
            yield _unknown(ctx, "SP204", "buyer type", campaign["buyer_type"], buyers,
                           ("arrivals", "campaigns", j, "buyer_type"))
    for path, condition in _conditions(ctx):
        for k, b in enumerate(condition.get("buyer_type", [])):
            if b not in ctx.buyers:
                yield _unknown(ctx, "SP204", "buyer type", b, buyers,
                               (*path, "buyer_type", k))


def _conditions(ctx: Context) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every condition as written, with its path: stages' and approvals' when:, and the
    alternatives of their any: lists."""
    def within(path: Path, condition: dict[str, Any]) -> Iterator[tuple[Path, dict[str, Any]]]:
        yield path, condition
        for k, alternative in enumerate(condition.get("any", [])):
            yield from within((*path, "any", k), alternative)

    for path, block in ctx.stage_blocks():
        if "when" in block:
            yield from within((*path, "when"), block["when"])
        for j, approval in enumerate(block.get("approvals", [])):
            if "when" in approval:
                yield from within((*path, "approvals", j, "when"), approval["when"])


def _field_tests(ctx: Context) -> Iterator[tuple[Path, str, Any]]:
    """Every test of a field in a condition: (path, field id, the test)."""
    for path, condition in _conditions(ctx):
        for key, test in condition.items():
            if key not in CONDITION_KEYS:
                yield (*path, key), key, test


def field_definitions(ctx: Context) -> Iterator[Diagnostic]:
    """SP212: a field that is neither a number nor categories (or both), named as a
    condition's own key, or given another kind by a buyer type."""
    fields = ctx.data.get("fields", {})
    for fid, raw in fields.items():
        kinds = [k for k in ("number", "shares") if k in raw]
        if len(kinds) != 1:
            yield ctx.at("SP212", f"field '{fid}' has " + ("neither number: nor shares:"
                                                           if not kinds else
                                                           "both number: and shares:"),
                         ("fields", fid), key=True,
                         hint="a field is a number (number: a distribution) or a category "
                         "(shares: each category and its share): give exactly one")
        if fid in CONDITION_KEYS:
            yield ctx.at("SP212", f"'{fid}' cannot name a field: when: already uses it",
                         ("fields", fid), key=True,
                         hint=f"give the field another id, e.g. deal_{fid}")
    for b, buyer in ctx.buyers.items():
        for fid, raw in buyer.get("fields", {}).items():
            if fid not in fields:
                yield _unknown(ctx, "SP210", "field", fid, fields,
                               ("buyer_types", b, "fields", fid), key=True)
                continue
            declared = "number" if "number" in fields[fid] else "shares"
            given = [k for k in ("number", "shares") if k in raw]
            if given != [declared]:
                yield ctx.at("SP212", f"buyer type '{b}' gives field '{fid}' "
                             f"{' and '.join(given)}, but it is declared with {declared}:",
                             ("buyer_types", b, "fields", fid), key=True,
                             hint=f"a buyer type changes a field's {declared}: only, keeping "
                             "its kind")


def field_references(ctx: Context) -> Iterator[Diagnostic]:
    """SP210 and SP211: conditions test declared fields, numbers with bounds and
    categories with a list of categories the field has."""
    fields = ctx.data.get("fields", {})
    for path, fid, test in _field_tests(ctx):
        if fid not in fields:
            known = [*fields, *CONDITION_KEYS]
            hint = ctx.suggest(fid, known) or (
                f"declared fields: {some(list(fields))}" if fields else
                f"declare it under fields: (fields: {{{fid}: {{number: ...}}}}), or test "
                "value or buyer_type")
            yield ctx.at("SP210", f"unknown field '{fid}'", path, key=True, hint=hint)
            continue
        number = "number" in fields[fid]
        if number and isinstance(test, list):
            yield ctx.at("SP211", f"field '{fid}' is a number: a list of categories cannot "
                         "test it", path, hint=f"compare it with bounds: {fid}: {{gt: ...}} "
                         "(also gte, lt, lte)")
        elif not number and isinstance(test, dict):
            categories = list(_categories(ctx, fid))
            yield ctx.at("SP211", f"field '{fid}' is a category: it has no "
                         f"{'/'.join(test) or 'bounds'}", path,
                         hint=f"list the categories that match: {fid}: "
                         f"[{', '.join(categories[:2])}]")
        elif not number:
            categories = list(_categories(ctx, fid))
            for k, category in enumerate(test):
                if category not in categories:
                    yield ctx.at("SP211", f"'{shown(str(category))}' is not a category of "
                                 f"field '{fid}'", (*path, k),
                                 hint=ctx.suggest(str(category), categories)
                                 or f"its categories: {some(categories)}")


def field_chances(ctx: Context) -> Iterator[Diagnostic]:
    """SP213: a test of a field that no deal passes, or every deal does, whatever its
    buyer type (bounds outside a number's range, every category listed): the condition
    then says nothing, or never lets a deal through, which is rarely what was meant."""
    fields = ctx.data.get("fields", {})
    for path, fid, test in _field_tests(ctx):
        if fid not in fields or isinstance(test, list) == ("number" in fields[fid]):
            continue  # reported by field_references
        if isinstance(test, list) and not set(test) <= set(_categories(ctx, fid)):
            continue  # an unknown category: reported by field_references
        chances = [_chance(ctx, b, fid, test) for b in ctx.buyers]
        known = [c for c in chances if c is not None]
        if not known:
            continue
        if max(known) <= 0.0:
            yield ctx.at("SP213", f"no deal passes this test of field '{fid}': it can never "
                         "hold", path, key=True, hint=_range_hint(ctx, fid))
        elif min(known) >= 1.0:
            yield ctx.at("SP213", f"every deal passes this test of field '{fid}': it always "
                         "holds", path, key=True, hint="leave it out, or " +
                         _range_hint(ctx, fid)[0].lower() + _range_hint(ctx, fid)[1:])


def _chance(ctx: Context, buyer: str, fid: str, test: Any) -> float | None:
    """Chance a deal of *buyer* passes *test* of field *fid*; None if its distribution
    has problems of its own (reported by the distribution rule)."""
    from salesproc.process.model import Bounds

    declared = ctx.data["fields"][fid]
    own = ctx.buyers[buyer].get("fields", {}).get(fid, {})
    if isinstance(test, list):
        shares = own.get("shares", declared.get("shares", {}))
        return math.fsum(p for c, p in shares.items() if c in test)
    spec = own.get("number", declared.get("number"))
    if problems_in(spec) or any(isinstance(v, str) for _, v in _leaf_paths((), spec)):
        return None  # reported by the distribution rule
    bounds = Bounds(test.get("gte"), test.get("gt"), test.get("lte"), test.get("lt"))
    return bounds.probability(dists.from_spec(spec, float))


def _range_hint(ctx: Context, fid: str) -> str:
    declared = ctx.data["fields"][fid]
    if "shares" in declared:
        return f"List only some of the categories of '{fid}': " + \
            some(list(_categories(ctx, fid)))
    return f"Compare '{fid}' with a number within its range, as drawn for each buyer type"


def _categories(ctx: Context, fid: str) -> dict[str, None]:
    """Every category of a category field, the file's and every buyer type's own."""
    found = dict.fromkeys(ctx.data["fields"][fid].get("shares", {}))
    for buyer in ctx.buyers.values():
        found.update(dict.fromkeys(buyer.get("fields", {}).get(fid, {}).get("shares", {})))
    return found


def crm_references(ctx: Context) -> Iterator[Diagnostic]:
    """SP201, SP203, SP204 and SP210: the crm: section maps CRM names onto defined stages
    (or won or lost) and buyer types (its rules and its HubSpot pipelines), CRM fields onto
    defined information, and CRM columns onto declared fields."""
    crm = ctx.data.get("crm", {})
    targets = [*ctx.stage_index, WON, LOST]
    for name, target in crm.get("stages", {}).items():
        if target not in targets:
            yield _unknown(ctx, "SP201", "stage", target, targets, ("crm", "stages", name))
    buyers = list(ctx.buyers)
    for j, rule in enumerate(crm.get("buyer_types", [])):
        if rule["buyer_type"] not in ctx.buyers:
            yield _unknown(ctx, "SP204", "buyer type", rule["buyer_type"], buyers,
                           ("crm", "buyer_types", j, "buyer_type"))
    default = crm.get("default_buyer_type")
    if default is not None and default not in ctx.buyers:
        yield _unknown(ctx, "SP204", "buyer type", default, buyers, ("crm", "default_buyer_type"))
    for j, pipeline in enumerate(crm.get("hubspot", [])):
        chosen = pipeline.get("buyer_type")
        if chosen is not None and chosen not in ctx.buyers:
            yield _unknown(ctx, "SP204", "buyer type", chosen, buyers,
                           ("crm", "hubspot", j, "buyer_type"))
    for iid in crm.get("information", {}):
        if iid not in ctx.information:
            yield _unknown(ctx, "SP203", "information item", iid, list(ctx.information),
                           ("crm", "information", iid), key=True)
    declared = list(ctx.data.get("fields", {}))
    for fid in crm.get("fields", {}):
        if fid not in declared:
            yield _unknown(ctx, "SP210", "field", fid, declared, ("crm", "fields", fid), key=True)


def duplicates_in_lists(ctx: Context) -> Iterator[Diagnostic]:
    """SP208: a path, requires: or assist: lists an item twice; crm: stages or
    lost_reasons names one CRM name twice as the export's names are compared (case and
    spacing aside), so that one of the two targets would silently win."""
    crm = ctx.data.get("crm", {})
    for section in ("stages", "lost_reasons"):
        named: dict[str, str] = {}
        for name in crm.get(section, {}):
            first = named.setdefault(fold(name), name)
            if first != name:
                yield ctx.at("SP208", f"'{name}' is '{first}' again: CRM names are compared "
                             "without case and spacing", ("crm", section, name),
                             hint="keep one of the two")
    lists: list[tuple[Path, list[Any]]] = [
        (("buyer_types", b, "path"), buyer.get("path", [])) for b, buyer in ctx.buyers.items()]
    for path, block in ctx.stage_blocks():
        lists.append(((*path, "requires"), block.get("requires", [])))
        lists.append(((*path, "assist"), block.get("assist", [])))
    for path, items in lists:
        seen = set()
        for j, item in enumerate(items):
            if item in seen:
                yield ctx.at("SP208", f"'{item}' is listed twice", (*path, j),
                             hint="remove the second one")
            seen.add(item)


def route_sums(ctx: Context) -> Iterator[Diagnostic]:
    """SP305: a stage's route probabilities add up above 1."""
    for path, block in ctx.stage_blocks():
        routes = block.get("next", {})
        total = math.fsum(routes.values())
        if total > 1 + 1e-9:
            parts = " + ".join(f"{p:g}" for p in routes.values())
            yield ctx.at("SP305", f"route probabilities add up to {total:g} ({parts}), above 1",
                         (*path, "next"),
                         hint="each number is the share of deals taking that route; "
                         "what is left over is lost")


def share_sum(ctx: Context) -> Iterator[Diagnostic]:
    """SP306: buyer-type shares, or a buyer type's entry shares, do not add up to 1."""
    total = math.fsum(b["share"] for b in ctx.buyers.values())
    if abs(total - 1.0) > 1e-6:
        parts = " + ".join(f"{b['share']:g}" for b in ctx.buyers.values())
        yield ctx.at("SP306", f"buyer-type shares add up to {total:g} ({parts}), not 1",
                     ("buyer_types",), key=True,
                     hint="share is the fraction of leads of each type; make them add up to 1")
    for b, buyer in ctx.buyers.items():
        enter = buyer.get("enter", {})
        total = math.fsum(enter.values())
        if enter and abs(total - 1.0) > 1e-3:
            parts = " + ".join(f"{p:g}" for p in enter.values())
            yield ctx.at("SP306", f"the entry shares of buyer type '{b}' add up to {total:g} "
                         f"({parts}), not 1", ("buyer_types", b, "enter"), key=True,
                         hint="each is the share of this buyer type's new deals that enter "
                         "at that stage; make them add up to 1")
    for path, shares, what in _other_shares(ctx):
        total = math.fsum(shares.values())
        if abs(total - 1.0) > 1e-3:
            parts = " + ".join(f"{p:g}" for p in shares.values())
            yield ctx.at("SP306", f"the shares of {what} add up to {total:g} ({parts}), not 1",
                         path, key=True, hint="make them add up to 1")


def _other_shares(ctx: Context) -> Iterator[tuple[Path, dict[str, float], str]]:
    """Fields' category shares (the file's and buyer types' own) and stages' loss
    reasons: (path, shares, what they are shares of)."""
    for fid, raw in ctx.data.get("fields", {}).items():
        if "shares" in raw:
            yield ("fields", fid, "shares"), raw["shares"], f"field '{fid}'"
    for b, buyer in ctx.buyers.items():
        for fid, raw in buyer.get("fields", {}).items():
            if "shares" in raw:
                yield (("buyer_types", b, "fields", fid, "shares"), raw["shares"],
                       f"field '{fid}' for buyer type '{b}'")
    for path, block in ctx.stage_blocks():
        if "lost_reasons" in block:
            yield (*path, "lost_reasons"), block["lost_reasons"], "the loss reasons"


def distributions(ctx: Context) -> Iterator[Diagnostic]:
    """SP108 and SP209: distribution parameters that make no sense, and deal values
    written as durations."""
    unit = ctx.data.get("time_unit", "day")

    def duration(value: Any) -> float:
        return units.parse_duration(value, unit)

    for path, spec in _time_distributions(ctx):
        problem = dists.spec_problem(spec, duration)
        if problem:
            yield ctx.at("SP108", problem, path)
    for b, buyer in ctx.buyers.items():
        path = ("buyer_types", b, "value")
        texts = [v for _, v in _leaf_paths(path, buyer["value"]) if isinstance(v, str)]
        if texts:
            yield ctx.at("SP209", f"deal value '{texts[0]}' is written as a duration", path,
                         hint=f"write the value as a number in {ctx.data.get('currency', 'USD')}")
        else:
            problem = dists.spec_problem(buyer["value"], float)
            if problem:
                yield ctx.at("SP108", problem, path)
    for path, spec in _field_numbers(ctx):
        texts = [v for _, v in _leaf_paths(path, spec) if isinstance(v, str)]
        if texts:
            yield ctx.at("SP209", f"a number field's '{shown(texts[0])}' is written as a "
                         "duration", path, hint="write the field's numbers as plain numbers")
            continue
        problem = dists.spec_problem(spec, float)
        if problem:
            yield ctx.at("SP108", problem, path)


def _field_numbers(ctx: Context) -> Iterator[tuple[Path, Any]]:
    """Every number field's distribution: the file's, and buyer types' own."""
    for fid, raw in ctx.data.get("fields", {}).items():
        if "number" in raw:
            yield ("fields", fid, "number"), raw["number"]
    for b, buyer in ctx.buyers.items():
        for fid, raw in buyer.get("fields", {}).items():
            if "number" in raw:
                yield ("buyer_types", b, "fields", fid, "number"), raw["number"]


def _time_distributions(ctx: Context) -> Iterator[tuple[Path, Any]]:
    for path, block in ctx.stage_blocks():
        for key in ("delay", "work"):
            if key in block:
                yield (*path, key), block[key]
        for j, approval in enumerate(block.get("approvals", [])):
            for key in ("delay", "work"):
                if key in approval:
                    yield (*path, "approvals", j, key), approval[key]


def simulation_settings(ctx: Context) -> Iterator[Diagnostic]:
    """SP106: a horizon beyond what salesproc simulates, a warm-up as long as the horizon."""
    settings = ctx.data.get("simulation", {})
    unit = ctx.data.get("time_unit", "day")
    horizon = file_horizon(settings, unit)
    longest = units.convert(MAX_HORIZON_DAYS, "day", unit)
    if horizon > longest:
        yield ctx.at("SP106", f"a horizon of {units.describe(horizon, unit)} is longer than "
                     f"salesproc simulates ({units.describe(longest, unit)})",
                     ("simulation", "horizon"), hint="simulate a year or a few: horizon: 365")
    elif "warmup" in settings and units.parse_duration(settings["warmup"], unit) >= horizon:
        yield ctx.at("SP106", "the warm-up is as long as the whole simulation",
                     ("simulation", "warmup"),
                     hint="warmup must be shorter than horizon (default 365 days)")


def duration_bounds(ctx: Context) -> Iterator[Diagnostic]:
    """Every time of a process, written as a number or as text ('3d'), is at most
    MAX_DURATION time units (the schema bounds some numbers more loosely)."""
    unit = ctx.data.get("time_unit", "day")
    for path, value in _durations(ctx):
        text = units.is_duration_text(value)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if (text or number) and not units.parse_duration(value, unit) <= MAX_DURATION:
            shown = value.strip() if text else f"{value:,}"
            yield ctx.at("SP106", f"'{shown}' is longer than any time in a process "
                         f"can be ({MAX_DURATION:,.0f} {unit}s)", path,
                         hint="check the number and its unit (min, h, d, w)")


def _durations(ctx: Context) -> Iterator[tuple[Path, Any]]:
    """Every time of the process: distributions' parameters, patience, campaigns (the
    horizon and warm-up have rules of their own, with tighter bounds)."""
    for path, spec in _time_distributions(ctx):
        yield from _leaf_paths(path, spec)
    for path, block in ctx.stage_blocks():
        if "patience" in block:
            yield (*path, "patience"), block["patience"]
    for b, buyer in ctx.buyers.items():
        if "patience" in buyer:
            yield ("buyer_types", b, "patience"), buyer["patience"]
    for j, campaign in enumerate(ctx.data.get("arrivals", {}).get("campaigns", [])):
        for key in ("at", "every"):
            if key in campaign:
                yield ("arrivals", "campaigns", j, key), campaign[key]


def _leaf_paths(path: Path, value: Any) -> Iterator[tuple[Path, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaf_paths((*path, k), v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaf_paths((*path, i), v)
    else:
        yield path, value


def unused_information(ctx: Context) -> Iterator[Diagnostic]:
    """SP401: information no stage requires."""
    required = {item for _, block in ctx.stage_blocks() for item in block.get("requires", [])}
    for iid in ctx.information:
        if iid not in required:
            yield ctx.at("SP401", f"information '{iid}' is never required by a stage",
                         ("information", iid), key=True,
                         hint=f"add it to a stage's requires: [{iid}], or remove it")


def unused_roles(ctx: Context) -> Iterator[Diagnostic]:
    """SP402: a role that owns, assists and approves nothing."""
    used: set[str] = set()
    for _, block in ctx.stage_blocks():
        used.update([block.get("owner", ""), *block.get("assist", [])])
        used.update(a["by"] for a in block.get("approvals", []))
    for rid in ctx.roles:
        if rid not in used:
            yield ctx.at("SP402", f"role '{rid}' owns, assists and approves nothing",
                         ("roles", rid), key=True,
                         hint="name it as a stage owner, in assist, or as an approver")


# --- calendar and dates ----------------------------------------------------------------------


def dates(ctx: Context) -> Iterator[Diagnostic]:
    """SP701-SP708: dates that exist and are in order, working hours, campaigns after the
    start, holidays inside the period, seasonality averaging 1, sensible ramps, and
    business days only where they mean something."""
    data, unit = ctx.data, ctx.data.get("time_unit", "day")
    given = data.get("simulation", {}).get("start")
    if given is not None and parse_date(given) is None:
        yield ctx.at("SP701", f"'{given}' is not a date", ("simulation", "start"),
                     hint="write YYYY-MM-DD, a day that exists")
    start = start_date(data) if given is None or parse_date(given) else start_date({})
    horizon = units.convert(file_horizon(data.get("simulation", {}), unit), unit, "day")
    end = start + dt.timedelta(days=min(horizon, MAX_HORIZON_DAYS))  # longer: SP106 says so
    for path, block in _calendars(ctx):
        if isinstance(block, dict) and "hours" in block and parse_hours(block["hours"]) is None:
            yield ctx.at("SP702", f"'{block['hours']}' is not a range of working hours",
                         (*path, "hours"), hint="write e.g. 09:00-17:00, or 9-12, 13-17")
        for j, day in enumerate(block.get("holidays", []) if isinstance(block, dict) else []):
            date = parse_date(day)
            if date is None:
                yield ctx.at("SP701", f"'{day}' is not a date", (*path, "holidays", j),
                             hint="write YYYY-MM-DD, a day that exists")
            elif not start <= date < end:
                yield ctx.at("SP704", f"the holiday {date} is outside the simulated period "
                             f"({start} to {end - dt.timedelta(days=1)})",
                             (*path, "holidays", j), hint="check the year, or the start")
    for j, campaign in enumerate(data.get("arrivals", {}).get("campaigns", [])):
        at = campaign.get("at")
        if isinstance(at, str) and DATE.match(at):
            date = parse_date(at)
            if date is None:
                yield ctx.at("SP701", f"'{at}' is not a date",
                             ("arrivals", "campaigns", j, "at"))
            elif date < start:
                yield ctx.at("SP703", f"the campaign on {date} comes before the simulation "
                             f"starts ({start})", ("arrivals", "campaigns", j, "at"),
                             hint="set simulation.start earlier, or move the campaign")
    yield from _staffing(ctx, start, end)
    seasonality = data.get("arrivals", {}).get("seasonality", {})
    for key, names in (("months", MONTHS), ("weekdays", WEEKDAYS)):
        given_values = seasonality.get(key)
        if given_values is None:
            continue
        values = [float(given_values.get(n, 1.0)) for n in names]
        mean = math.fsum(values) / len(values)
        if abs(mean - 1.0) > 1e-3:
            scaled = ", ".join(f"{n}: {given_values[n] / mean:.3g}" for n in names
                               if n in given_values)
            yield ctx.at("SP705", f"the {key} multipliers average {mean:.3g}, not 1 (the "
                         f"rate would change by {mean - 1:+.1%})",
                         ("arrivals", "seasonality", key),
                         hint=f"divide each by {mean:.4g}: {scaled} (unlisted count as 1)")
    yield from _business_days(ctx)


def _calendars(ctx: Context) -> Iterator[tuple[Path, Any]]:
    if "calendar" in ctx.data:
        yield ("calendar",), ctx.data["calendar"]
    for rid, role in ctx.roles.items():
        if "calendar" in role:
            yield ("roles", rid, "calendar"), role["calendar"]


def _staffing(ctx: Context, start: dt.date, end: dt.date) -> Iterator[Diagnostic]:
    horizon_weeks = (end - start).days / 7
    for rid, role in ctx.roles.items():
        headcount = role.get("headcount")
        if isinstance(headcount, dict):
            parsed = []
            for day in headcount:
                date = parse_date(day)
                if date is None:
                    yield ctx.at("SP701", f"'{day}' is not a date", ("roles", rid, "headcount",
                                                                    day), key=True)
                else:
                    parsed.append((date, day))
            for (before, _), (after, text) in itertools.pairwise(parsed):
                if after <= before:
                    yield ctx.at("SP707", f"headcount dates go back in time: {after} after "
                                 f"{before}", ("roles", rid, "headcount", text), key=True,
                                 hint="list the dates in order, earliest first")
        ramp = role.get("ramp")
        if ramp is not None and ramp["weeks"] > horizon_weeks:
            yield ctx.at("SP706", f"a ramp of {ramp['weeks']:g} weeks is longer than the "
                         f"simulation ({horizon_weeks:.0f} weeks): no new person reaches "
                         "full speed", ("roles", rid, "ramp", "weeks"),
                         hint="check the weeks, or simulate longer")


def _business_days(ctx: Context) -> Iterator[Diagnostic]:
    """Business days mean something for a delay (waiting on the prospect), and all of a
    delay's values must count them."""
    for path, value in _durations(ctx):
        delay = "delay" in path
        if units.is_business(value) and not delay:
            yield ctx.at("SP708", f"'{value}' counts business days, which only a delay "
                         "can", path, hint="write work and other times as 4h, 3d or 2w")
    for path, spec in _time_distributions(ctx):
        if path[-1] != "delay":
            continue
        leaves = [v for _, v in _leaf_paths(path, spec)]
        business = [units.is_business(v) for v in leaves]
        if any(business) and not all(business):
            yield ctx.at("SP708", "a delay counts business days in some values and not in "
                         "others", path, hint="write every value of this delay in bd, "
                         "e.g. {uniform: {min: 2bd, max: 5bd}}")


def work_scale(ctx: Context) -> Iterator[Diagnostic]:
    """SP502 and SP503: work of hours with no calendar; work longer than a working week."""
    unit = ctx.data.get("time_unit", "day")
    calendar = file_calendar(ctx.data)
    hours = {u: calendar.work_hours(u) for u in units.TIME_UNITS}
    warned = False
    for path, spec in _time_distributions(ctx):
        if path[-1] != "work" or problems_in(spec) or any(
                units.parse_duration(v, unit) > MAX_DURATION for _, v in _leaf_paths(path, spec)
                if units.is_duration_text(v)
                or (isinstance(v, int | float) and not isinstance(v, bool))):
            continue  # another rule reports it
        mean = dists.from_spec(spec, lambda v: units.parse_duration(v, unit, hours)).mean
        work_hours = mean * hours[unit]
        in_hours = unit in ("hour", "minute") or any(
            isinstance(v, str) and v.strip().endswith(("h", "min"))
            for _, v in _leaf_paths(path, spec))
        if "calendar" not in ctx.data and in_hours and work_hours > 0 and not warned:
            warned = True
            yield ctx.at("SP502", f"work of {units.describe(work_hours, 'hour')} runs on a "
                         "24-hour, 7-day clock: without a calendar, people work nights and "
                         "weekends, and a day of work is 24 hours", path,
                         hint="add calendar: {hours: 09:00-17:00, days: [mon, tue, wed, thu, "
                         "fri]}, or calendar: always to keep the 24-hour clock")
        role = _role_of(ctx, path)
        week = calendar_from(ctx.roles[role]["calendar"], calendar).hours_per_week \
            if role in ctx.roles and "calendar" in ctx.roles[role] else calendar.hours_per_week
        if work_hours > week:
            yield ctx.at("SP503", f"this work takes {units.describe(work_hours, 'hour')}, more "
                         f"than a working week of {role} ({units.describe(week, 'hour')})",
                         path, hint="is it the time the prospect takes? that is delay:, "
                         "which nobody works on")


def _role_of(ctx: Context, path: Path) -> str:
    """Whose work is at *path*: an approval's approver, else the stage's owner."""
    if "approvals" in path:
        i = path.index("approvals")
        block = _get_path(ctx.data, path[: i + 2])
        return str(block.get("by", ""))
    block = _get_path(ctx.data, path[:-1])
    owner = block.get("owner") if isinstance(block, dict) else None
    if owner is None and path[0] == "buyer_types" and str(path[3]) in ctx.stage_index:
        owner = ctx.data["stages"][ctx.stage_index[str(path[3])]].get("owner")  # overridden
    return str(owner or "")


def _get_path(data: Any, path: Path) -> Any:
    for part in path:
        data = data[part]
    return data


def problems_in(spec: Any) -> bool:
    """A distribution the distribution rule will report: not for other rules to read."""
    try:
        return dists.spec_problem(spec, lambda v: units.parse_duration(v, "day")) is not None
    except (ValueError, KeyError, TypeError):
        return True


REFERENCE_RULES: tuple[Rule, ...] = (
    duplicate_stage_ids, reserved_stage_ids, role_references, information_references,
    stage_references, buyer_type_references, crm_references, duplicates_in_lists, route_sums,
    share_sum,
    duration_bounds, distributions, simulation_settings, dates, work_scale,
    field_definitions, field_references, field_chances,
)


# --- flow rules (per buyer type) ----------------------------------------------------------


def _edges(ctx: Context, buyer_id: str) -> dict[str, set[str]]:
    """Directed edges of one buyer's flow (won and lost are nodes), from the routing rule."""
    buyer = ctx.process.buyer_types[buyer_id]
    return {sid: routing.targets(buyer.stages[sid], buyer) for sid in buyer.path}


def _reachable(edges: Mapping[str, set[str]], start: Iterable[str]) -> set[str]:
    seen = set(start)
    queue = deque(seen)
    while queue:
        for nxt in edges.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _reverse(edges: Mapping[str, set[str]]) -> dict[str, set[str]]:
    back: dict[str, set[str]] = defaultdict(set)
    for src, targets in edges.items():
        for t in targets:
            back[t].add(src)
    return back


def routes_off_path(ctx: Context) -> Iterator[Diagnostic]:
    """SP206: a route, rejection or entry to a stage that is not on that buyer's path."""
    for b in ctx.buyers:
        on_path = set(buyer_path(ctx.data, b))
        effective = effective_stage_data(ctx.data, b)
        for sid in ctx.buyers[b].get("enter", {}):
            if sid not in on_path:
                yield ctx.at("SP206", f"buyer type '{b}' has deals enter at '{sid}', which is "
                             "not on its path", ("buyer_types", b, "enter", sid), key=True,
                             hint=f"add '{sid}' to buyer_types.{b}.path")
        for sid in buyer_path(ctx.data, b):
            for to in effective[sid].get("next", {}):
                if to not in on_path and to not in OUTCOMES:
                    yield ctx.at(
                        "SP206", f"for buyer type '{b}', stage '{sid}' routes to '{to}', "
                        f"which is not on its path", (*ctx.stage_origin(b, sid, "next"), to),
                        key=True, hint=f"add '{to}' to buyer_types.{b}.path, or override "
                        f"buyer_types.{b}.stages.{sid}.next")
            for j, approval in enumerate(effective[sid].get("approvals", [])):
                back = approval.get("on_reject")
                if back is not None and back not in on_path:
                    yield ctx.at(
                        "SP206", f"for buyer type '{b}', a rejection in '{sid}' goes back to "
                        f"'{back}', which is not on its path",
                        (*ctx.stage_origin(b, sid, "approvals"), j, "on_reject"),
                        hint=f"add '{back}' to buyer_types.{b}.path")


def flow_shape(ctx: Context) -> Iterator[Diagnostic]:
    """Unreachable stages, no way to win, dead ends and loops without exit, per buyer."""
    found: dict[tuple[str, Path, str], list[str]] = {}
    order: list[tuple[str, Path, str, str]] = []

    def note(code: str, path: Path, message: str, hint: str, buyer: str) -> None:
        if (code, path, message) not in found:
            found[(code, path, message)] = []
            order.append((code, path, message, hint))
        if buyer not in found[(code, path, message)]:
            found[(code, path, message)].append(buyer)

    for b in ctx.buyers:
        on_path = buyer_path(ctx.data, b)
        edges = _edges(ctx, b)
        enter = [s for s in ctx.buyers[b].get("enter", {}) if s in on_path]
        reached = _reachable(edges, enter or [on_path[0]])
        back = _reverse(edges)
        can_win = _reachable(back, [WON])
        can_end = _reachable(back, [WON, LOST])
        for j, sid in enumerate(on_path):
            if sid not in reached:
                note("SP301", ("buyer_types", b, "path", j) if "path" in ctx.buyers[b]
                     else ("stages", ctx.stage_index[sid], "id"),
                     f"stage '{sid}' is never reached", f"route a stage to '{sid}' in its next:, "
                     f"or leave it out of this buyer's path", b)
        if WON not in reached:
            note("SP302", ("buyer_types", b), f"no deal of buyer type '{b}' can be won",
                 "some stage on this buyer's path needs a route to won, e.g. next: {won: 0.9}",
                 b)
        for sid in on_path:
            where = ctx.stage_origin(b, sid, "next")
            if sid not in reached:
                if not edges.get(sid, set()) - {LOST}:  # named even where nothing leads
                    note("SP303", where, f"every deal that enters stage '{sid}' is lost: it "
                         "routes nowhere", "add a route from it towards won, e.g. next: "
                         "{won: 0.8}, or remove the stage", b)
                continue
            if sid not in can_end:
                note("SP304", where, f"deals in stage '{sid}' circle forever: its routes never "
                     "lead out of the loop", "give one stage of the loop a route to won or a "
                     "probability total below 1 (the rest is lost)", b)
            elif sid not in can_win and WON in reached:
                note("SP303", where, f"every deal that enters stage '{sid}' is lost",
                     "add a route from it towards won, e.g. next: {won: 0.8}", b)
    for code, path, message, hint in order:
        buyers = found[(code, path, message)]
        who = f" (buyer type {', '.join(buyers)})" if code != "SP302" else ""
        yield ctx.at(code, message + who, path, hint=hint, key=code == "SP302")


# Unused-item warnings wait for clean references: a typo would otherwise make them noise.
FLOW_RULES: tuple[Rule, ...] = (routes_off_path, flow_shape, unused_information, unused_roles)


def references(doc: Document) -> list[Diagnostic]:
    """Every reference finding in a schema-valid document: what must hold before a model
    can be built from it."""
    ctx = Context(doc)
    return [d for rule in REFERENCE_RULES for d in rule(ctx)]


def flow(process: Process, doc: Document) -> list[Diagnostic]:
    """The flow rules, then (when they find no error) endless rework and capacity."""
    ctx = Context(doc, process)
    found = [d for rule in FLOW_RULES for d in rule(ctx)]
    if any(d.is_error for d in found):
        return found
    rework = endless_rework(process, doc)  # capacity needs a finite number of visits
    return found + (rework or capacity(process, doc))


def endless_rework(process: Process, doc: Document) -> list[Diagnostic]:
    """Loops whose way out is so unlikely that a deal circles thousands of times."""
    found: list[Diagnostic] = []
    ctx = Context(doc)
    for b, buyer in process.buyer_types.items():
        try:
            visits = analysis.expected_visits(buyer)
        except ValueError:
            visits = {s: math.inf for s in buyer.path}
        for sid, v in visits.items():
            if v > MAX_VISITS_PER_DEAL:
                found.append(ctx.at(
                    "SP304", f"a deal of buyer type '{b}' enters stage '{sid}' about "
                    f"{v:,.0f} times: its loop almost never lets deals out",
                    ctx.stage_origin(b, sid, "next"),
                    hint="make the routes out of the loop more likely"))
    return found


def capacity(process: Process, doc: Document) -> list[Diagnostic]:
    """Roles offered more work than their people's working time can do (the queue grows
    without end): in working time, against the average headcount over the horizon; then
    the limits of real teams that cannot be right (SP504, SP505)."""
    found: list[Diagnostic] = []
    for rid, role in process.roles.items():
        if role.time_for_deals < LITTLE_TIME_FOR_DEALS:
            found.append(doc.diagnostic(
                "SP504", f"role '{rid}' gives deals {role.time_for_deals:.0%} of its working "
                f"time ({role.time_for_deals * role.calendar.hours_per_week:.1f} hours of a "
                f"{role.calendar.hours_per_week:g}-hour week): every piece of its work takes "
                f"{1 / role.time_for_deals:,.0f} times as long", ("roles", rid, "time_for_deals"),
                hint="time_for_deals is a share of the week: 0.6 for 60%"))
    if process.arrivals is None:
        return found
    for rid, held in analysis.open_deals(process).items():
        role = process.roles[rid]
        places = role.mean_headcount(process.simulation.horizon) * (role.max_deals or 0)
        if held > places:
            found.append(doc.diagnostic(
                "SP505", f"role '{rid}' carries at most {places:g} open deals at once "
                f"({role.max_deals} a person), but its stages hold {held:,.1f} on average "
                "even if nobody waited: deals will pile up waiting for a place",
                ("roles", rid, "max_deals"),
                hint=f"raise max_deals to at least "
                f"{math.ceil(held / max(role.mean_headcount(process.simulation.horizon), 1))}"
                ", add people, or shorten the delays of its stages"))
    for rid, share in analysis.utilization(process).items():
        role = process.roles[rid]
        people = role.mean_headcount(process.simulation.horizon)
        needed = share * people if people else math.inf
        if share > 1:
            shown = f"{people:g}" if role.staffing else f"{role.headcount}"
            worth = f"{needed:.1f} people's worth of work" if math.isfinite(needed) else "work"
            found.append(doc.diagnostic(
                "SP501", f"role '{rid}' is offered {worth} but has "
                f"{shown}{' on average' if role.staffing else ''}: the pipeline cannot keep "
                "up and deals will pile up", ("roles", rid, "headcount"),
                hint=(f"raise headcount to at least {math.ceil(needed)}, or lower the work "
                      "per deal or the arrival rate") if math.isfinite(needed) else
                "nobody is in the role during the simulation (its headcount starts later): "
                "give it people from the start, or start the simulation later"))
    return found
