"""The process as a networkx graph: what every drawing and the playbook are made from.

Nodes are stage ids plus the outcomes ``won`` and ``lost``; an edge carries the share of
deals leaving its stage that take it (``probability``), and its ``kind``, which is also
its key in the multigraph: ``route``, ``rejection`` (an approval sending the deal back;
keyed ``rejection<k>`` for the k-th approval, with its name) or ``lost`` (with the
reasons, a list: in the combined graph, every buyer type's). A stage may both
route to and be sent back to the same stage, hence a MultiDiGraph. Pure and
deterministic: nodes and edges come in file order.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace
from typing import Any

import networkx as nx

from salesproc.process import analysis, routing
from salesproc.process.model import LOST, WON, Approval, BuyerType, Process, Stage


def stage_attributes(process: Process, stage: Stage, buyer: BuyerType | None) -> dict[str, Any]:
    """A stage card's contents: owner, department, what to collect, approvals, usual time."""
    owner = process.roles[stage.owner]
    unit = process.time_unit

    def delay(mean: float, business: bool) -> float:  # business days span the weekends too
        return process.calendar.business(mean, unit) if business else mean

    approvals: list[dict[str, Any]] = []
    for a in stage.approvals:
        applies = 1.0 if buyer is None else a.probability(buyer.value, buyer.id, buyer.fields)
        approvals.append({
            "name": a.name or f"Approval by {process.roles[a.role].title}", "role": a.role,
            "role_title": process.roles[a.role].title,
            "department": process.roles[a.role].department,
            "when": a.when.describe(process.currency) if a.when else "",
            "applies": applies, "reject": a.reject, "on_reject": a.on_reject,
            "time": delay(a.delay.mean, a.delay_business)
            + process.roles[a.role].calendar.elapsed(a.work.mean, unit)})
    approval_time = max((a["time"] for a in approvals), default=0.0)
    return {
        "kind": "stage", "name": stage.name, "owner": stage.owner, "owner_title": owner.title,
        "department": owner.department,
        "assist": [process.roles[r].title for r in stage.assist],
        "requires": [process.information[i].label for i in stage.requires],
        "requires_ids": list(stage.requires), "approvals": approvals,
        "guidance": stage.guidance, "delay": stage.delay, "work": stage.work,
        # usual time on the calendar: the prospect's delay, the work spread over working
        # hours, and the longest approval
        "expected_time": delay(stage.delay.mean, stage.delay_business)
        + owner.calendar.elapsed(stage.work.mean, unit) + approval_time,
        "lost_reason": stage.lost_reason, "patience": stage.patience,
        # a stage's own when: only the deals that match go through it
        "when": stage.when.describe(process.currency) if stage.when else "",
    }


def buyer_graph(process: Process, buyer_id: str) -> nx.MultiDiGraph:
    """The flow of one buyer type, with its overrides applied. ``graph["entries"]``
    holds where its new deals enter (stage id -> share) when the file says `enter:`."""
    buyer = process.buyer_types[buyer_id]
    graph = nx.MultiDiGraph(process=process.name, buyer=buyer_id, title=buyer.name)
    visits = analysis.expected_visits(buyer)
    for sid in buyer.path:
        graph.add_node(sid, **stage_attributes(process, buyer.stages[sid], buyer),
                       visits=visits[sid])
    _outcomes(graph)
    for sid in buyer.path:
        for target, p, attrs in _exits(buyer.stages[sid], buyer):
            graph.add_edge(sid, target, key=_key(attrs), probability=p, **attrs)
        for target, p in _passes(buyer.stages[sid], buyer):
            graph.add_edge(sid, target, key="pass", probability=p, kind="pass")
    graph.graph["entries"] = buyer.entry_shares() if buyer.entries else {}
    return graph


def _passes(stage: Stage, buyer: BuyerType) -> list[tuple[str, float]]:
    """The deals a stage's `when:` does not let in, as they pass on to a stage or won:
    (target, share of the deals reaching the stage), from routing.skips."""
    return [(e.target, e.share) for e in routing.skips(stage, buyer) if e.target != LOST]


def combined_graph(process: Process) -> nx.MultiDiGraph:
    """All buyer types in one picture; edge shares are weighted by each type's deal flow.

    A stage shows every approval any buyer type needs there, and a lost arrow every
    reason any buyer type is lost for.
    """
    graph = nx.MultiDiGraph(process=process.name, buyer=None, title="All buyer types")
    rates = analysis.lead_rates(process)
    if not any(rates.values()):
        rates = {b: bt.share for b, bt in process.buyer_types.items()}
    flow: dict[str, float] = defaultdict(float)  # deals per time unit through each stage
    reach: dict[str, float] = defaultdict(float)  # deals per time unit reaching each stage
    passing: dict[tuple[str, str], float] = defaultdict(float)  # ... passing it to a target
    approvals: dict[str, list[Approval]] = defaultdict(list)
    edges: dict[tuple[str, str, str], dict[str, Any]] = {}
    weights: dict[tuple[str, str, str], float] = defaultdict(float)
    for b, buyer in process.buyer_types.items():
        for sid, r in analysis.expected_reaches(buyer).items():
            reach[sid] += rates[b] * r
            for target, p in _passes(buyer.stages[sid], buyer):
                passing[sid, target] += rates[b] * r * p
        for sid, v in analysis.expected_visits(buyer).items():
            stage = buyer.stages[sid]
            flow[sid] += rates[b] * v
            for approval in stage.approvals:
                if approval not in approvals[sid]:
                    approvals[sid].append(approval)
            for target, p, attrs in _exits(stage, buyer):
                if attrs["kind"] == "rejection":
                    own = stage.approvals[attrs["approval_index"]]
                    attrs = {**attrs, "approval_index": approvals[sid].index(own)}
                key = (sid, target, _key(attrs))
                if key in edges and attrs["kind"] == "lost":
                    _merge_reasons(edges[key], attrs)
                edges.setdefault(key, attrs)
                weights[key] += rates[b] * v * p
    on_some_path = {s for bt in process.buyer_types.values() for s in bt.path}
    for sid, stage in process.stages.items():
        if sid in on_some_path:
            shown = replace(stage, approvals=tuple(approvals[sid]))
            graph.add_node(sid, **stage_attributes(process, shown, None), visits=None)
    _outcomes(graph)
    for edge, attrs in edges.items():
        share = weights[edge] / flow[edge[0]] if flow[edge[0]] else 0.0
        graph.add_edge(edge[0], edge[1], key=edge[2], probability=share, **attrs)
    for (sid, target), weight in passing.items():
        graph.add_edge(sid, target, key="pass", probability=weight / reach[sid], kind="pass")
    graph.graph["entries"] = _entries(process, rates)
    return graph


def _entries(process: Process, rates: dict[str, float]) -> dict[str, float]:
    """Where new deals of every buyer type enter, as shares of all new deals; empty when
    every buyer type starts all its deals at the start of its path (nothing to draw)."""
    if not any(bt.entries for bt in process.buyer_types.values()):
        return {}
    total = math.fsum(rates.values())
    found: dict[str, float] = defaultdict(float)
    for b, buyer in process.buyer_types.items():
        for sid, p in buyer.entry_shares().items():
            found[sid] += rates[b] * p / total if total else 0.0
    return dict(found)


def _merge_reasons(kept: dict[str, Any], other: dict[str, Any]) -> None:
    kept["reasons"] = list(dict.fromkeys([*kept["reasons"], *other["reasons"]]))
    kept["refusals"] = list(dict.fromkeys([*kept["refusals"], *other["refusals"]]))


def _key(attrs: dict[str, Any]) -> str:
    """Edge key: the kind, numbered for rejections (two approvals may send a deal back)."""
    kind: str = attrs["kind"]
    return f"rejection{attrs['approval_index']}" if kind == "rejection" else kind


def _outcomes(graph: nx.MultiDiGraph) -> None:
    graph.add_node(WON, kind="outcome", name="Won")
    graph.add_node(LOST, kind="outcome", name="Lost")


def _reasons(lost: list[routing.Exit]) -> list[str]:
    """Why deals are lost at a stage, in words: each reason, with its share of those
    losses where there are several (`lost_reasons`)."""
    shares: dict[str, float] = {}
    for e in lost:
        shares[e.reason] = shares.get(e.reason, 0.0) + e.share
    total = math.fsum(shares.values())
    if len(shares) < 2 or total <= 0:
        return list(shares)
    return [f"{reason} {share / total:.0%}" for reason, share in shares.items()]


def _exits(stage: Stage, buyer: BuyerType) -> list[tuple[str, float, dict[str, Any]]]:
    """(target, share, edge attributes) from :func:`salesproc.process.routing.exits`: one edge per
    route and rejection, and one lost edge holding every reason and refusal."""
    result: list[tuple[str, float, dict[str, Any]]] = []
    every = routing.exits(stage, buyer)
    lost = [e for e in every if e.target == LOST]
    # reading order: on to stages, won, sent back, lost
    for e in sorted((e for e in every if e.kind == "route"), key=lambda e: e.target == WON):
        result.append((e.target, e.share, {"kind": "route"}))
    for e in every:
        if e.kind == "rejection":
            approval = stage.approvals[e.approval or 0]
            result.append((e.target, e.share, {
                "kind": "rejection", "approval_index": e.approval, "approval": e.reason,
                "when": approval.when.describe() if approval.when else ""}))
    if lost:
        result.append((LOST, math.fsum(e.share for e in lost), {
            "kind": "lost", "reasons": _reasons([e for e in lost if e.approval is None]),
            "refusals": [routing.approval_label(stage, e.approval) for e in lost
                         if e.approval is not None]}))
    return result
