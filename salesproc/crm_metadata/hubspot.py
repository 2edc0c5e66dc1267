"""HubSpot's deal pipelines to and from a process: the JSON of HubSpot's CRM API v3
(``GET /crm/v3/pipelines/deals``: ``{"results": [pipeline, ...]}``, each pipeline with
its ``id``, ``label``, ``displayOrder`` and ``stages``, each stage with its ``id``,
``label``, ``displayOrder`` and ``metadata: {"isClosed": "true"|"false", "probability":
"0.0".."1.0"}``, strings as HubSpot writes them).

Out (:func:`to_hubspot`): one pipeline per `crm: hubspot:` entry where the process has
them (what `import hubspot` read), else one per buyer type (its path's stages, labelled
with their names, then Closed Won and Closed Lost), as a Salesforce record type is one
per buyer type. A stage's probability is the model's chance to win from it
(:func:`salesproc.process.analysis.win_chances`), to the tenth HubSpot takes.

In (:func:`from_hubspot`): a process file whose stages are the pipelines' open stages
(one stage per label, in HubSpot's order), one buyer type per pipeline, routes set so
that the model's chance to win from each stage is HubSpot's probability (a starting
point someone typed into HubSpot, not a measurement: `salesproc calibrate` fits them),
and a `crm:` section that maps the labels and keeps the ids, so that exporting it gives
the same pipelines back. What a process cannot hold (HubSpot's own bookkeeping, archived
stages, numbering) is listed, never dropped in silence.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Mapping as MappingType
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from salesproc.core.diagnostics import shown
from salesproc.core.errors import SalesprocError
from salesproc.history.mapping import Mapping, _yaml_key
from salesproc.history.table import LOST_CODE, UNMAPPED, WON_CODE
from salesproc.process import analysis
from salesproc.process.model import LOST, WON, Process, fold
from salesproc.process.starter import new_id

#: HubSpot's default pipeline and outcome stages: ids and labels a new account has.
DEFAULT_PIPELINE = "default"
WON_STAGE = ("closedwon", "Closed Won")
LOST_STAGE = ("closedlost", "Closed Lost")
#: HubSpot's ids of a new account's pipeline and stages: kept, but no name for a process
#: stage or buyer type, since accounts relabel them (appointmentscheduled is often Discovery)
RENAMED = (DEFAULT_PIPELINE, "appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
           "decisionmakerboughtin", "contractsent", "closedwon", "closedlost")
#: HubSpot takes a deal stage's probability in steps of a tenth.
STEP = 0.1
#: What HubSpot adds to a pipeline or stage it returns: its bookkeeping, not the process.
BOOKKEEPING = ("createdAt", "updatedAt", "archivedAt", "archived", "writePermissions")
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
MAX_LABEL = 200  # the crm: section's longest name


class PipelineError(SalesprocError):
    """A pipelines JSON that is not what HubSpot's API returns; the message names the
    place in it (``results[0].stages[2].metadata.probability``)."""


# ---------------------------------------------------------------- out: process -> JSON


def to_hubspot(process: Process) -> tuple[dict[str, Any], list[str]]:
    """The process as HubSpot's pipelines JSON, and what to know about it (probabilities
    rounded to HubSpot's tenths, stages a pipeline has that its buyer type does not)."""
    said: list[str] = []
    if process.crm.hubspot:
        mapping = Mapping(process)
        pipelines = [_kept_pipeline(process, mapping, k, said)
                     for k in range(len(process.crm.hubspot))]
    else:
        pipelines = [_buyer_pipeline(process, b, k, said)
                     for k, b in enumerate(process.buyer_types)]
    return {"results": pipelines}, said


def _buyer_pipeline(process: Process, bid: str, order: int, said: list[str]
                    ) -> dict[str, Any]:
    """One buyer type's pipeline: its path's stages labelled with their names, then the
    two outcomes."""
    buyer = process.buyer_types[bid]
    chances = analysis.win_chances(buyer)
    stages = [_stage(sid, buyer.stages[sid].name, k, False, chances[sid], said, buyer.name)
              for k, sid in enumerate(buyer.path)]
    n = len(stages)
    stages += [_stage(WON_STAGE[0], WON_STAGE[1], n, True, 1.0, said, buyer.name),
               _stage(LOST_STAGE[0], LOST_STAGE[1], n + 1, True, 0.0, said, buyer.name)]
    only = len(process.buyer_types) == 1
    return {"id": DEFAULT_PIPELINE if only else bid,
            "label": process.name if only else buyer.name,
            "displayOrder": order, "stages": stages}


def _kept_pipeline(process: Process, mapping: Mapping, k: int, said: list[str]
                   ) -> dict[str, Any]:
    """A pipeline of `crm: hubspot:`: its stages as written there, each label mapped onto
    the process (crm: stages, else by name), with the model's chance from its stage."""
    kept = process.crm.hubspot[k]
    chances = _chances(process, kept.buyer_type)
    stages = []
    for order, (sid, label) in enumerate(kept.stages):
        code = mapping.lookup(fold(label))
        where = f"crm: hubspot: {kept.label}: {label}"
        if code == UNMAPPED:
            raise PipelineError(f"{where}: the label maps onto no stage of the process",
                                hint=f"map it under crm: stages ({_yaml_key(label)}: STAGE)")
        target = mapping.target(code) or ""
        if code in (WON_CODE, LOST_CODE):
            stages.append(_stage(sid, label, order, True, 1.0 if code == WON_CODE else 0.0,
                                 said, kept.label))
            continue
        chance = chances.get(target)
        if chance is None:
            said.append(f"{where}: its stage {target} is on no path of the pipeline's buyer "
                        "type: probability 0")
        stages.append(_stage(sid, label, order, False, chance or 0.0, said, kept.label))
    return {"id": kept.id, "label": kept.label,
            "displayOrder": k if kept.display_order is None else kept.display_order,
            "stages": stages}


def _chances(process: Process, bid: str | None) -> dict[str, float]:
    """The chance to win from each stage: of one buyer type, or of all, each weighted by
    how many of its deals visit the stage (leads by share, times the expected visits)."""
    if bid is not None:
        return analysis.win_chances(process.buyer_types[bid])
    weights: dict[str, float] = {}
    sums: dict[str, float] = {}
    for buyer in process.buyer_types.values():
        visits = analysis.expected_visits(buyer)
        for sid, chance in analysis.win_chances(buyer).items():
            w = buyer.share * visits.get(sid, 0.0)
            weights[sid] = weights.get(sid, 0.0) + w
            sums[sid] = sums.get(sid, 0.0) + w * chance
    return {sid: sums[sid] / w if w > 0 else 0.0 for sid, w in weights.items()}


def _stage(sid: str, label: str, order: int, closed: bool, chance: float, said: list[str],
           pipeline: str) -> dict[str, Any]:
    """One stage as HubSpot writes it (metadata as strings, the probability in tenths)."""
    tenths = tenth(chance)
    if not closed and abs(tenths - chance) > 0.005:
        said.append(f"{pipeline}: {label}: the model's chance to win {chance:.1%} is written "
                    f"{tenths:.0%} (HubSpot takes tenths)")
    return {"id": sid, "label": label, "displayOrder": order,
            "metadata": {"isClosed": "true" if closed else "false",
                         "probability": f"{tenths:.1f}"}}


def tenth(chance: float) -> float:
    """*chance* to HubSpot's nearest tenth (halves up: 0.45 is 0.5)."""
    return math.floor(chance / STEP + 0.5 + 1e-9) * STEP


def dumps(document: dict[str, Any]) -> str:
    """The JSON text of a pipelines document (non-ASCII and control characters escaped,
    as every JSON salesproc writes)."""
    return json.dumps(document, indent=2) + "\n"


# ---------------------------------------------------------------- in: JSON -> process


@dataclass
class _Stage:
    id: str
    label: str
    order: float
    closed: bool
    probability: float
    where: str


@dataclass
class _Pipeline:
    id: str
    label: str
    order: float
    where: str
    stages: list[_Stage] = field(default_factory=list)


@dataclass
class Imported:
    """A process file read from HubSpot's pipelines: its text, and the report of what it
    could not carry over or took as a starting point (one line each)."""

    text: str
    report: list[str]


def from_hubspot(document: Any, source: str = "pipelines.json") -> Imported:
    """The process file for HubSpot's pipelines JSON *document* (parsed), or a
    :class:`PipelineError` naming the place in it that is not what HubSpot writes."""
    from salesproc.process.loader import check_text

    report: list[str] = []
    pipelines = _pipelines(document, report)
    text = _process_text(pipelines, source, report)
    checked = check_text(text, source)
    wrong = next((d for d in checked.diagnostics if d.is_error), None)
    if wrong is not None:  # the pipelines hold something a process cannot
        raise PipelineError(f"the process made of it does not validate: {wrong.message}")
    return Imported(text, report)


def _pipelines(document: Any, report: list[str]) -> list[_Pipeline]:
    """The pipelines of *document* in HubSpot's order, checked; archived ones left out."""
    items = document.get("results") if isinstance(document, dict) else document
    if isinstance(document, dict) and "results" not in document and "stages" in document:
        items = [document]  # GET /crm/v3/pipelines/deals/{id}: one pipeline
    if not isinstance(items, list) or not items:
        raise PipelineError("not HubSpot's deal pipelines: expected {\"results\": [pipeline, "
                            "...]} as GET /crm/v3/pipelines/deals returns it",
                            hint="save the API's answer as it comes, e.g. curl ... "
                            "/crm/v3/pipelines/deals > pipelines.json")
    found: list[_Pipeline] = []
    skipped: dict[str, int] = {}
    for k, item in enumerate(items):
        where = f"results[{k}]"
        _object(item, where)
        if _archived(item, where, report):
            continue
        pipeline = _Pipeline(_text(item, "id", where), _text(item, "label", where),
                             _order(item, where), where)
        stages = item.get("stages")
        if not isinstance(stages, list) or not stages:
            raise PipelineError(f"{where}.stages: a pipeline needs a list of stages")
        for j, raw in enumerate(stages):
            at = f"{where}.stages[{j}]"
            _object(raw, at)
            if _archived(raw, at, report):
                continue
            closed, probability = _metadata(raw.get("metadata"), f"{at}.metadata")
            pipeline.stages.append(_Stage(_text(raw, "id", at), _text(raw, "label", at),
                                          _order(raw, at), closed, probability, at))
            for key in BOOKKEEPING:
                skipped[key] = skipped.get(key, 0) + (key in raw)
        for key in BOOKKEEPING:
            skipped[key] = skipped.get(key, 0) + (key in item)
        _check_stages(pipeline)
        if [s.order for s in pipeline.stages] != list(range(len(pipeline.stages))):
            report.append(f"{where}.stages: displayOrder is not 0, 1, 2, ... in order: "
                          "the order is kept, the numbers are not")
        found.append(pipeline)
    if not found:
        raise PipelineError("every pipeline in the file is archived: nothing to import")
    _unique([p.id for p in found], "pipeline id", "results[*].id")
    _unique([fold(p.label) for p in found], "pipeline label", "results[*].label")
    kept = sorted(found, key=lambda p: p.order)  # HubSpot lists them so (ties: file order)
    if [p.id for p in kept] != [p.id for p in found]:
        report.append("the pipelines are listed by their displayOrder, not as the file "
                      "has them")
    held = [f"{key} ({n})" for key, n in skipped.items() if n]
    if held:
        report.append("HubSpot's bookkeeping is not part of the process and is not kept: "
                      + ", ".join(held))
    return kept


def _archived(item: MappingType[str, Any], where: str, report: list[str]) -> bool:
    """Whether a pipeline or stage is archived in HubSpot: then left out, and said so."""
    if item.get("archived") is not True:
        return False
    report.append(f"{where} ({shown(str(item.get('label', '')))}): archived in HubSpot; "
                  "left out")
    return True


def _object(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise PipelineError(f"{where}: expected an object, found {_kind(value)}")


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true or false",
            type(None): "null"}.get(type(value), "a number")


def _text(item: dict[str, Any], key: str, where: str) -> str:
    """A label or id: text of one line, no control characters, not too long."""
    value = item.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool) and key == "id":
        value = str(value)  # an id written as a number
    if not isinstance(value, str) or not value.strip():
        raise PipelineError(f"{where}.{key}: expected text, found "
                            f"{'empty text' if isinstance(value, str) else _kind(value)}")
    bad = CONTROL.search(value)
    if bad:
        raise PipelineError(f"{where}.{key}: {shown(value)[:80]} holds a control character "
                            f"({shown(bad.group())}); HubSpot's names are plain text",
                            hint="correct the name in HubSpot (or in the file) and export "
                            "it again")
    if len(value) > MAX_LABEL:
        raise PipelineError(f"{where}.{key}: {len(value):,} characters, longer than a "
                            f"name may be ({MAX_LABEL})")
    return " ".join(value.split()) if key == "label" else value


def _order(item: dict[str, Any], where: str) -> float:
    value = item.get("displayOrder", math.inf)
    if isinstance(value, bool) or not isinstance(value, int | float) or (
            math.isfinite(value) and (value < 0 or value != int(value))):
        raise PipelineError(f"{where}.displayOrder: expected a whole number of 0 or more, "
                            f"found {shown(json.dumps(value))[:40]}")
    return float(value)


def _metadata(value: Any, where: str) -> tuple[bool, float]:
    """isClosed and probability of a deal stage, as HubSpot writes them (strings) or as
    JSON's own true and numbers."""
    if not isinstance(value, dict) or "probability" not in value:
        raise PipelineError(f"{where}: a deal stage needs metadata with its probability "
                            "({\"probability\": \"0.2\", ...})",
                            hint="is this a ticket pipeline? export the deal pipelines: "
                            "GET /crm/v3/pipelines/deals")
    raw = value["probability"]
    try:
        probability = float(raw) if not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError):
        probability = math.nan
    if not 0.0 <= probability <= 1.0:  # NaN too
        raise PipelineError(f"{where}.probability: {shown(json.dumps(raw))[:40]} is not a "
                            "probability from 0.0 to 1.0",
                            hint="HubSpot writes 20% as \"0.2\"" if isinstance(
                                probability, float) and 1 < probability <= 100 else None)
    closed = value.get("isClosed", "false")
    if closed not in (True, False, "true", "false"):
        raise PipelineError(f"{where}.isClosed: {shown(json.dumps(closed))[:40]} is neither "
                            "\"true\" nor \"false\"")
    return closed in (True, "true"), probability


def _check_stages(pipeline: _Pipeline) -> None:
    """Stage ids and labels unique within the pipeline, one open stage at least, and the
    stages in HubSpot's display order."""
    where = pipeline.where
    _unique([s.id for s in pipeline.stages], "stage id", f"{where}.stages[*].id")
    _unique([fold(s.label) for s in pipeline.stages], "stage label",
            f"{where}.stages[*].label")
    if all(s.closed for s in pipeline.stages):
        raise PipelineError(f"{where}.stages: every stage is closed; a pipeline needs an "
                            "open stage for deals to go through")
    pipeline.stages.sort(key=lambda s: s.order)


def _unique(values: Sequence[str], what: str, where: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise PipelineError(f"{where}: the {what} {shown(value)[:80]} is there twice")
        seen.add(value)


ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def slug(label: str, taken: MappingType[str, object], prefix: str = "stage",
         given: str = "") -> str:
    """An id for a stage or buyer type: HubSpot's own id where it is one a process file
    takes and not one of a new account's (RENAMED), nor a number, else one from its label
    ('Decision Maker Bought-In' -> decision_maker_bought_in); unique among *taken* (a
    number added), starting with a letter (*prefix* added)."""
    if ID.match(given) and given not in taken and given not in (WON, LOST, *RENAMED):
        return given
    return new_id(label, taken, prefix)


def routes(chances: Sequence[float]) -> list[dict[str, float]]:
    """`next` of each stage of a chain so that the model's chance to win from stage i is
    *chances[i]*: on to the next stage with p_i / p_(i+1) where the chance grows, else on
    with 1 - b and straight to won with b = (p_i - p_(i+1)) / (1 - p_(i+1)); the last stage
    is won with its own chance. The rest is lost."""
    out: list[dict[str, float]] = []
    for here, after in itertools.pairwise(chances):
        if here <= after and after > 0:
            out.append({"on": here / after})
        else:
            won = (here - after) / (1.0 - after)
            out.append({"on": 1.0 - won, WON: won} if won > 0 else {"on": 1.0})
    out.append({WON: chances[-1]} if chances else {})
    return out


def _process_text(pipelines: list[_Pipeline], source: str, report: list[str]) -> str:
    """The process file of *pipelines*: stages in order (the first pipeline's, each later
    one's new stages after the stage before them), one buyer type per pipeline."""
    ids: dict[str, str] = {}  # folded label -> stage id
    names: dict[str, str] = {}
    order: list[str] = []
    outcomes: dict[str, str] = {}  # folded label -> won or lost, and its label
    outcome_labels: dict[str, str] = {}
    for pipeline in pipelines:
        run: list[str] = []  # new stages waiting for the known stage they come before
        for stage in pipeline.stages:
            key = fold(stage.label)
            if stage.closed:
                won = stage.probability >= 0.5
                if stage.probability not in (0.0, 1.0):
                    report.append(f"{stage.where}: closed with probability "
                                  f"{stage.probability:g}: taken as {'won' if won else 'lost'}")
                outcomes.setdefault(key, WON if won else LOST)
                outcome_labels.setdefault(key, stage.label)
                continue
            if key in ids:
                at = order.index(ids[key])
                order[at:at] = run
                run = []
                continue
            ids[key] = slug(stage.label, names, given=stage.id)
            names[ids[key]] = stage.label
            run.append(ids[key])
        order.extend(run)
    base_routes: dict[str, dict[str, float]] = {}
    buyers: list[tuple[str, _Pipeline, list[str], dict[str, dict[str, float]]]] = []
    taken: dict[str, object] = {}
    for pipeline in pipelines:
        path = [ids[fold(s.label)] for s in pipeline.stages if not s.closed]
        chances = [s.probability for s in pipeline.stages if not s.closed]
        own = {}
        for sid, step, at in zip(path, routes(chances), range(len(path)), strict=True):
            nxt = {(path[at + 1] if t == "on" else t): round(p, 4) for t, p in step.items()}
            own[sid] = {t: p for t, p in nxt.items() if p > 0}
            base_routes.setdefault(sid, own[sid])
        bid = slug(pipeline.label, taken, "buyer", given=pipeline.id)
        taken[bid] = pipeline
        buyers.append((bid, pipeline, path, own))
        _said_probabilities(pipeline, report)
    said: dict[str, list[str]] = {sid: [] for sid in order}
    for _, pipeline, path, _ in buyers:
        chances = [s.probability for s in pipeline.stages if not s.closed]
        for sid, chance in zip(path, chances, strict=True):
            said[sid].append(f"{chance:.0%}" if len(buyers) == 1 else
                             f"{shown(pipeline.label)} {chance:.0%}")
    return _render(order, names, base_routes, buyers, outcomes, outcome_labels, said,
                   source)


def _said_probabilities(pipeline: _Pipeline, report: list[str]) -> None:
    """A report line for probabilities the export could not write back as they are."""
    for stage in pipeline.stages:
        tenths = tenth(stage.probability)
        if abs(tenths - stage.probability) > 1e-9 and not stage.closed:
            report.append(f"{stage.where}: probability {stage.probability:g} is not in "
                          f"HubSpot's tenths: export hubspot writes {tenths:.1f}")


def _render(order: list[str], names: dict[str, str], base: dict[str, dict[str, float]],
            buyers: list[tuple[str, _Pipeline, list[str], dict[str, dict[str, float]]]],
            outcomes: dict[str, str], outcome_labels: dict[str, str],
            said: dict[str, list[str]], source: str) -> str:
    """The process file's text, commented."""
    q = json.dumps  # every name quoted: YAML reads JSON strings as the very text
    first = buyers[0][1]
    lines = [
        f"# Imported from HubSpot's deal pipelines ({shown(source)}) by salesproc import "
        "hubspot.",
        "# The routes (next:) are starting points, not measurements: each is set so that the",
        "# model's chance to win from a stage is the probability typed into HubSpot for it.",
        "# salesproc calibrate fits them, and the times in stage, to your deals. Owners,",
        "# times, what to find out, deal values and arrivals are not in HubSpot's",
        "# pipelines: fill them in.",
        "salesproc: 1",
        f"name: {q(first.label if len(buyers) == 1 else 'HubSpot deal pipelines')}",
        "description: Imported from HubSpot's deal pipelines.",
        "currency: USD                 # HubSpot's pipelines do not say: check it",
        "time_unit: day",
        "roles:",
        "  rep: {title: Sales rep, headcount: 1}   # who works the deals: not in HubSpot",
        "stages:",
    ]
    for sid in order:
        nxt = base.get(sid, {})
        chance = "HubSpot's probability: " + ", ".join(said[sid])
        lines += [f"  - id: {sid}", f"    name: {q(names[sid])}", "    owner: rep",
                  f"    next: {_flow(nxt)}".ljust(44) + f"  # {chance}"]
    lines.append("buyer_types:")
    share = round(1.0 / len(buyers), 6)
    for k, (bid, pipeline, path, own) in enumerate(buyers):
        last = k == len(buyers) - 1
        lines += [f"  {bid}:", f"    name: {q(pipeline.label)}",
                  f"    share: {round(1.0 - share * (len(buyers) - 1), 6) if last else share}"
                  + ("   # HubSpot does not say how deals split between pipelines"
                     if len(buyers) > 1 else ""),
                  "    value: 10000                # a placeholder: deal values are not in "
                  "the pipelines"]
        if path != order:
            lines.append(f"    path: [{', '.join(path)}]")
        overrides = {sid: r for sid, r in own.items() if r != base.get(sid)}
        if overrides:
            lines.append("    stages:")
            lines += [f"      {sid}: {{next: {_flow(r)}}}" for sid, r in overrides.items()]
    lines += ["arrivals: {rate: 10, per: week}   # a placeholder: not in HubSpot's pipelines",
              "crm:", "  stages:                     # HubSpot's stage labels -> stages"]
    for key, sid in {**{fold(names[s]): s for s in order}, **outcomes}.items():
        label = names.get(sid) if sid in names else outcome_labels[key]
        lines.append(f"    {q(label)}: {sid}")
    if len(buyers) == 1:
        lines.append(f"  pipeline: {q(first.label)}     # measure reads this pipeline's "
                     "deals")
    else:
        lines.append("  buyer_types:                # a deal's pipeline gives its buyer type")
        lines += [f"    - {{field: Pipeline, is: {q(p.label)}, buyer_type: {bid}}}"
                  for bid, p, _, _ in buyers]
    lines.append("  hubspot:                    # HubSpot's ids and order: export hubspot "
                 "writes them back")
    for k, (bid, pipeline, _, _) in enumerate(buyers):
        lines += [f"    - id: {q(pipeline.id)}", f"      label: {q(pipeline.label)}"]
        if pipeline.order != k and math.isfinite(pipeline.order):
            lines.append(f"      display_order: {int(pipeline.order)}")
        lines.append(f"      buyer_type: {bid}")
        lines.append("      stages:")
        lines += [f"        {q(s.id)}: {q(s.label)}" for s in pipeline.stages]
    return "\n".join(lines) + "\n"


def _flow(routes_of: MappingType[str, float]) -> str:
    return "{" + ", ".join(f"{t}: {p:g}" for t, p in routes_of.items()) + "}"
