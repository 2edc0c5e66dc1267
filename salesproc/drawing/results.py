"""The flowchart coloured by a simulation: each stage card shows deals a month, the share
moving on and the time in stage; arrows are as wide as their flow; the bottleneck stage,
and the approvals its role gives, are highlighted.

Works from a simulation's JSON layout (``SimulationResult.to_dict()``, or a file written by
``simulate --format json``), so a saved result can be drawn later against its process.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import networkx as nx

from salesproc.core.diagnostics import shown
from salesproc.core.errors import SalesprocError
from salesproc.core.layout import LAYOUT_VERSION
from salesproc.core.units import convert
from salesproc.drawing import graph as graphs
from salesproc.drawing.dot import Overlay, approval_id, to_dot
from salesproc.drawing.labels import duration, share
from salesproc.process.model import LOST, WON, Process

THINNEST, WIDEST = 0.8, 9.0  # arrow widths, in points


def _mean(block: dict[str, Any] | None) -> float:
    found = (block or {}).get("mean")
    return float(found) if found is not None else math.nan


def check_matches(process: Process, data: dict[str, Any]) -> None:
    """Refuse results of another process (stages or buyer types the file does not have),
    or a document that is not a simulation's results."""
    hint = "draw the JSON a simulation writes (in the json format)"
    if isinstance(data, dict) and data.get("kind") not in (None, "simulation"):
        raise SalesprocError(f"this is the JSON of a {shown(str(data['kind']))[:40]}, not of "
                             "a simulation", hint=hint)
    if isinstance(data, dict) and data.get("layout") != LAYOUT_VERSION:
        raise SalesprocError(f"these results are in layout {shown(str(data.get('layout')))[:20]}"
                             f", not {LAYOUT_VERSION}: written by another version of salesproc",
                             hint="simulate again, and draw what it writes")
    if not isinstance(data, dict) or not isinstance(data.get("stages"), dict) or \
            not isinstance(data.get("settings"), dict) or "moves" not in data:
        raise SalesprocError("this is not the JSON of a simulation by this salesproc", hint=hint)
    unknown = sorted(set(data["stages"]) - set(process.stages))
    if unknown:
        raise SalesprocError(f"the results have stages the process does not: "
                             f"{', '.join(unknown[:5])}",
                             hint="draw the results with the process file they came from")
    buyer = simulated_buyer(data)
    if buyer is not None and buyer not in process.buyer_types:
        raise SalesprocError(f"the results are of buyer type '{buyer}', which the process "
                             "does not have")
    if data.get("process", {}).get("time_unit", process.time_unit) != process.time_unit:
        raise SalesprocError("the results count time in another unit than the process",
                             hint="draw the results with the process file they came from")


def simulated_buyer(data: dict[str, Any]) -> str | None:
    """The one buyer type whose leads a simulation's JSON was run with (settings.only_buyer;
    `buyer` in results written before it had that name), or None for every buyer type."""
    settings = data["settings"]
    found = settings.get("only_buyer", settings.get("buyer"))
    return found if isinstance(found, str) else None


def overlay(graph: nx.MultiDiGraph, process: Process, data: dict[str, Any]) -> Overlay:
    """What a simulation adds to *graph* (made by :mod:`salesproc.drawing.graph` for the buyer
    types the simulation covered)."""
    unit = process.time_unit
    settings = data["settings"]
    window = float(settings["horizon"]) - float(settings["warmup"] or 0.0)
    months = convert(window, unit, "month") if window > 0 else math.nan
    stages, moves = data["stages"], data["moves"]
    neck = data.get("bottleneck") or {}
    notes: dict[str, list[str]] = {}
    for sid in graph.nodes:
        block = stages.get(sid)
        if graph.nodes[sid].get("kind") != "stage" or not block:
            continue
        visits = _mean(block.get("visits"))
        lost = _mean(moves.get(sid, {}).get("lost")) if sid in moves else 0.0
        lost = 0.0 if math.isnan(lost) else lost
        lines = []
        if visits > 0 and months > 0:
            lines.append(f"{visits / months:,.1f} deals a month · "
                         f"{share(1 - lost / visits)} move on")
            lines.append(f"{duration(_mean(block.get('time')), unit)} in stage on average")
        else:
            lines.append("no deals in the simulated period")
        if neck.get("stage") == sid:  # where deals wait longest for the role to hire in
            role = data["process"]["names"]["roles"].get(neck["role"], neck["role"])
            wait = neck.get("wait") or neck  # (results saved by 0.1.0 held it in neck)
            lines.append(f"BOTTLENECK: waiting for {role} "
                         f"{duration(_mean(wait.get('queue_per_visit')), unit)} a visit")
        notes[sid] = lines
    hot = set()
    if neck.get("stage") in graph.nodes:
        hot.add(neck["stage"])
    for sid in graph.nodes:
        for k, approval in enumerate(graph.nodes[sid].get("approvals", ())):
            if approval.get("role") == neck.get("role"):
                hot.add(approval_id(sid, k))
    flows = _edge_flows(graph, moves)
    most = max(flows.values(), default=0.0)
    widths = {edge: THINNEST + (WIDEST - THINNEST) * (f / most if most else 0.0)
              for edge, f in flows.items()}
    labels = {}
    for (src, dst, key), f in flows.items():
        visits = _mean(stages.get(src, {}).get("visits"))
        per_month = f / months if months > 0 else math.nan
        part = share(f / visits) if visits > 0 else "–"
        labels[src, dst, key] = f"{part} · {per_month:,.1f}/mo"
    caption = [f"Simulated: {settings['replications']} runs of "
               f"{duration(window, unit)}; arrows as wide as the deals moving"]
    if neck:
        title = data["process"]["names"]["roles"].get(neck["role"], neck["role"])
        stage = neck.get("stage")
        where = "" if stage is None else \
            f" at {data['process']['names']['stages'].get(stage, stage)}"
        caption.append(f"Bottleneck: {title}{where} ({share(_mean(neck.get('utilization')))}"
                       " busy; one more person helps most)")
    return Overlay(notes=notes, hot=frozenset(hot), widths=widths, labels=labels,
                   caption=caption)


def results_dot(process: Process, data: dict[str, Any], direction: str = "LR") -> str:
    """DOT source of the flowchart coloured by *data*: the buyer type simulated, or all
    of them together."""
    check_matches(process, data)
    buyer = simulated_buyer(data)
    drawn = graphs.buyer_graph(process, buyer) if buyer else graphs.combined_graph(process)
    return to_dot(drawn, process.time_unit, direction, overlay(drawn, process, data))


def _edge_flows(graph: nx.MultiDiGraph, moves: dict[str, dict[str, Any]]
                ) -> dict[tuple[str, str, str], float]:
    """Deals moving along each arrow: the simulated moves from a stage to a target,
    shared among the arrows to that target (a route and a send-back) by their shares."""
    grouped: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
    for src, dst, key, attrs in graph.edges(keys=True, data=True):
        if attrs["kind"] == "pass":
            continue  # the deals passing a stage by are not its moves: not drawn by flow
        grouped[src, dst].append((key, float(attrs.get("probability") or 0.0)))
    flows = {}
    for (src, dst), edges in grouped.items():
        target = "won" if dst == WON else "lost" if dst == LOST else dst
        moved = _mean(moves.get(src, {}).get(target))
        if math.isnan(moved):
            moved = 0.0
        total = math.fsum(p for _, p in edges)
        for key, p in edges:
            flows[src, dst, key] = moved * (p / total if total else 1 / len(edges))
    return flows
