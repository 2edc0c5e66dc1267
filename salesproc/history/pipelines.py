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

import json
import math
import re
from typing import Any

from salesproc.core.errors import SalesprocError
from salesproc.history.mapping import Mapping, _yaml_key
from salesproc.history.table import LOST_CODE, UNMAPPED, WON_CODE
from salesproc.process import analysis
from salesproc.process.model import Process, fold

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
