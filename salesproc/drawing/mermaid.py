"""Mermaid flowcharts, which GitHub draws natively inside Markdown.

Safe by construction: every node id is generated (``s_<stage id>`` for a stage,
``l_<stage id>`` for its lost deals, ``lane_<n>``, ``entry`` for new deals), so no stage
can collide with another node or with a Mermaid keyword such as ``end``; every label is
a quoted string in which quotes, angle brackets, ampersands and hashes are written as
Mermaid entity codes (``#quot;``, ``#lt;`` ...), and line breaks and other control
characters as spaces, so no name can break a label or start a statement (not even in a
``%%`` comment).
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from salesproc.drawing.labels import duration, listing, one_line, share, wrap
from salesproc.process.model import WON

_ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;",
             "`": "#96;"}


def escape(text: str) -> str:
    """User text made safe inside a quoted Mermaid label."""
    return "".join(_ENTITIES.get(ch, ch) for ch in one_line(text))


def _node_id(sid: str) -> str:
    return "won" if sid == WON else f"s_{sid}"


def _lost_id(sid: str) -> str:
    return f"l_{sid}"


def _label(node: dict[str, Any], unit: str) -> str:
    lines = ["<b>" + "<br/>".join(escape(x) for x in wrap(node["name"], 30)) + "</b>"]
    who = node["owner_title"] + "".join(f" + {a}" for a in node["assist"])
    lines.append(escape(f"{who} · ~{duration(node['expected_time'], unit)}"))
    if node["requires"]:
        lines.append("<small>" + escape("Collect: " + listing(node["requires"])) + "</small>")
    if node["when"]:
        lines.append("<small>" + escape("only deals where " + node["when"]) + "</small>")
    for approval in node["approvals"]:
        when = f" if {approval['when']}" if approval["when"] else ""
        lines.append("<small>" + escape(f"✔ {approval['name']} ({approval['role_title']})"
                                        f"{when}") + "</small>")
    return "<br/>".join(lines)


def to_mermaid(graph: nx.MultiDiGraph, unit: str, direction: str = "LR") -> str:
    """A `flowchart` for a graph made by :mod:`salesproc.drawing.graph`."""
    out = [f"flowchart {direction}",
           f"  %% {escape(graph.graph['process'])}: {escape(graph.graph['title'])}",
           "  %% arrows: share of deals moving on; thick: sent back by an approval; "
           "dotted: lost"]
    lanes: dict[str, list[str]] = {}
    stages = [n for n, d in graph.nodes(data=True) if d["kind"] == "stage"]
    for sid in stages:
        lanes.setdefault(graph.nodes[sid]["department"], []).append(sid)
    for i, (department, members) in enumerate(lanes.items(), start=1):
        out.append(f'  subgraph lane_{i}["{escape(department)}"]')
        out.append("    direction " + direction)
        for sid in members:
            out.append(f'    {_node_id(sid)}["{_label(graph.nodes[sid], unit)}"]:::stage')
            if graph.has_edge(sid, "lost", key="lost"):
                data = graph.edges[sid, "lost", "lost"]
                reasons = [*data["reasons"], *(f"{r} says no" for r in data["refusals"])]
                out.append(f'    {_lost_id(sid)}["{escape("✗ " + "; ".join(reasons))}"]'
                           ":::lost")
        out.append("  end")
    out.append('  won(["✓ Won"]):::won')
    for src, dst, data in graph.edges(data=True):
        kind = data["kind"]
        p = share(data["probability"])
        if kind == "lost":
            out.append(f'  {_node_id(src)} -.->|"{p}"| {_lost_id(src)}')
        elif kind == "rejection":
            text = escape(f"{p} sent back ({data['approval']})")
            out.append(f'  {_node_id(src)} ==>|"{text}"| {_node_id(dst)}')
        elif kind == "pass":
            out.append(f'  {_node_id(src)} -.->|"{escape("↷ " + p + " pass by")}"| '
                       f"{_node_id(dst)}")
        else:
            out.append(f'  {_node_id(src)} -->|"{p}"| {_node_id(dst)}')
    entries = graph.graph.get("entries") or {}
    if entries:  # `enter:` in the file: new deals start at more than the first stage
        out.append('  entry>"New deals"]:::entry')
        out += [f'  entry -.->|"{share(p)} enter here"| {_node_id(sid)}'
                for sid, p in entries.items() if sid in stages]
        out.append("  classDef entry fill:#eaf2fb,stroke:#1a5276,color:#1a5276")
    out += ["  classDef stage fill:#ffffff,stroke:#5b6b8c,color:#1f2a44",
            "  classDef won fill:#dff3df,stroke:#2e7d32,color:#2e7d32",
            "  classDef lost fill:#ffffff,stroke:#cccccc,color:#8a8a8a,font-size:11px"]
    return "\n".join(out) + "\n"
