"""Graphviz drawings: departments as swimlanes, stage cards, conversion on every arrow.

:func:`to_dot` returns DOT text (built with the ``graphviz`` package, deterministic:
node ids are stage ids); :func:`to_image` runs Graphviz's ``dot`` for SVG, PNG or PDF.

Safe by construction: stage ids are snake_case, so the drawing's own nodes have ids with
a ``-`` (``lost-demo``, ``approval-demo-0``, ``legend-box``) that no stage can take; every
text from the process file goes into an HTML-like label, escaped, so no name, title or
department can add DOT statements, HTML or links.
"""

from __future__ import annotations

import html
import math
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

import graphviz
import networkx as nx

from salesproc.core.errors import SalesprocError, ToolMissingError
from salesproc.drawing.labels import duration, listing, one_line, share, wrap
from salesproc.process.model import LOST, WON

IMAGE_FORMATS = ("svg", "png", "pdf")
FONT = "Helvetica"
LANE_FILL = "#f4f6fb"
LANE_LINE = "#b9c4dc"
STAGE_FILL = "#ffffff"
APPROVAL_FILL, APPROVAL_LINE = "#eaf2fb", "#1a5276"
WON_FILL, WON_LINE = "#dff3df", "#2e7d32"
LOST_GREY = "#8a8a8a"
REWORK = "#d35400"
PASSING = "#5b6b8c"  # deals a stage's when: does not let in, passing it by
INSTALL_HINT = ("install Graphviz: sudo apt-get install graphviz (Debian/Ubuntu) or "
                "brew install graphviz (macOS)")


HOT_FILL, HOT_LINE = "#fbe3d6", "#d55e00"  # the bottleneck (Okabe-Ito vermillion)


@dataclass(frozen=True)
class Overlay:
    """Results drawn onto the flowchart (see :mod:`salesproc.drawing.results`): extra
    lines on stage cards, highlighted nodes, and arrows as wide as their flow."""

    notes: dict[str, list[str]] = field(default_factory=dict)  # node id -> lines (text)
    hot: frozenset[str] = frozenset()  # node ids: the bottleneck stage and its approvals
    widths: dict[tuple[str, str, str], float] = field(default_factory=dict)  # edge -> pt
    labels: dict[tuple[str, str, str], str] = field(default_factory=dict)  # edge -> text
    caption: list[str] = field(default_factory=list)  # lines under the title


def _h(text: str) -> str:
    """Process text as the content of an HTML-like label: escaped, on one line."""
    return html.escape(one_line(text), quote=True)


def lost_id(sid: str) -> str:
    """The drawing's node for a stage's lost deals (stage ids never hold a '-')."""
    return f"lost-{sid}"


def approval_id(sid: str, k: int) -> str:
    """The drawing's node for a stage's k-th approval."""
    return f"approval-{sid}-{k}"


LEGEND_ID = "legend-box"
ENTRY_ID = "entry-new"  # where new deals come from, when they enter at several stages


def _lane_id(department: str, taken: dict[str, str]) -> str:
    if department not in taken:
        slug = re.sub(r"[^a-z0-9]+", "_", department.lower()).strip("_") or "lane"
        name = f"cluster_{slug}"
        while name in taken.values():
            name += "_"
        taken[department] = name
    return taken[department]


def _lines(text: str, width: int) -> str:
    return '<br align="left"/>'.join(_h(line) for line in wrap(text, width))


def _table(rows: list[str]) -> str:
    cells = "".join(f'<tr><td align="left" balign="left">{row}</td></tr>' for row in rows)
    return f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">{cells}</table>>'


def stage_label(node: dict[str, Any], unit: str, notes: list[str] | None = None) -> str:
    """An HTML-like label: name, owner and usual time, what to collect (and the
    results' *notes*, when drawn with them)."""
    who = node["owner_title"] + "".join(f" + {a}" for a in node["assist"])
    rows = [f"<b>{_lines(node['name'], 30)}</b>",
            f'<font color="#555555">{_h(who)} · ~{_h(duration(node["expected_time"], unit))}'
            "</font>"]
    if node["requires"]:
        rows.append('<font point-size="9" color="#333333">'
                    f"{_lines('Collect: ' + listing(node['requires']), 40)}</font>")
    if node["when"]:
        rows.append(f'<font point-size="9">{_lines("only deals where " + node["when"], 40)}'
                    "</font>")
    rows += [f'<font color="{APPROVAL_LINE}"><b>{_h(line)}</b></font>' for line in notes or ()]
    return _table(rows)


def approval_label(approval: dict[str, Any], unit: str) -> str:
    """An approval's note: its name, who gives it, how long it takes, when it applies."""
    rows = [f'<b>✔ {_lines(approval["name"], 28)}</b>',
            f"{_h(approval['role_title'])} · ~{_h(duration(approval['time'], unit))}"]
    if approval["when"]:
        rows.append(f'<font point-size="9">only if {_h(approval["when"])}</font>')
    return _table(rows)


def _legend(graph: nx.MultiDiGraph, results: bool = False) -> str:
    """The legend of what this drawing shows: a symbol the drawing does not use (no
    approval, no rework, no loss) is not explained."""
    kinds = {data["kind"] for _, _, data in graph.edges(data=True)}
    approvals = any(d.get("approvals") for _, d in graph.nodes(data=True))
    rows = ["<b>Legend</b>", "box: a stage — owner · usual time",
            *([f'<font color="{APPROVAL_LINE}">note: an approval, in its department</font>']
              if approvals else []),
            "→ 60%: share of deals that moves on",
            *([f'<font color="{REWORK}">⟲ sent back by an approval</font>']
              if "rejection" in kinds else []),
            *([f'<font color="{LOST_GREY}">✗ lost, with the reason</font>']
              if "lost" in kinds else []),
            *([f'<font color="{PASSING}">↷ share of the deals reaching a stage that do '
               "not match its condition and pass it by</font>"] if "pass" in kinds else [])]
    if results:
        rows += ["arrow width: how many deals move",
                 "40% · 9/mo: share of the stage's deals, deals a month",
                 f'<font color="{HOT_LINE}">red card: the bottleneck and its role\'s '
                 "approvals</font>"]
    return _table(rows)


def to_dot(graph: nx.MultiDiGraph, unit: str, direction: str = "LR",
           overlay: Overlay | None = None) -> str:
    """DOT source for a graph made by :mod:`salesproc.drawing.graph`, with results drawn on it
    when an *overlay* is given."""
    over = overlay or Overlay()
    title = f"<b>{_h(graph.graph['process'])}</b><br/>{_h(graph.graph['title'])}"
    title += "".join(f'<br/><font point-size="11">{_h(line)}</font>' for line in over.caption)
    dot = graphviz.Digraph(
        name="salesproc",
        graph_attr={"rankdir": direction, "fontname": FONT, "label": f"<{title}>",
                    "labelloc": "t", "fontsize": "14", "nodesep": "0.35", "ranksep": "0.55",
                    "newrank": "true", "compound": "true"},
        node_attr={"fontname": FONT, "fontsize": "10"},
        edge_attr={"fontname": FONT, "fontsize": "9"})
    stages = [n for n, d in graph.nodes(data=True) if d["kind"] == "stage"]
    lanes: dict[str, list[tuple[str, str]]] = {}  # department -> (node id, label)
    for sid in stages:
        node = graph.nodes[sid]
        lanes.setdefault(node["department"], []).append(
            (sid, stage_label(node, unit, over.notes.get(sid))))
        for k, approval in enumerate(node["approvals"]):
            lanes.setdefault(approval["department"], []).append(
                (approval_id(sid, k), approval_label(approval, unit)))
    lane_ids: dict[str, str] = {}
    for department, members in lanes.items():
        with dot.subgraph(name=_lane_id(department, lane_ids)) as lane:
            lane.attr(label=f"<{_h(department)}>", style="rounded,filled", fillcolor=LANE_FILL,
                      color=LANE_LINE, fontname=FONT, fontsize="12", labeljust="l")
            for node_id, label in members:
                approval = node_id.startswith("approval-")
                hot = node_id in over.hot
                lane.node(node_id, label=label, shape="note" if approval else "box",
                          style="filled" if approval else "rounded,filled",
                          fillcolor=HOT_FILL if hot else APPROVAL_FILL if approval
                          else STAGE_FILL,
                          color=HOT_LINE if hot else APPROVAL_LINE if approval else "#5b6b8c",
                          **({"penwidth": "2.5"} if hot else {}))
                if not approval and graph.has_edge(node_id, LOST, key="lost"):
                    lane.node(lost_id(node_id),
                              label=_lost_label(graph.edges[node_id, LOST, "lost"]),
                              shape="plaintext", fontcolor=LOST_GREY, fontsize="9")
    for sid in stages:
        for k in range(len(graph.nodes[sid]["approvals"])):
            dot.edge(sid, approval_id(sid, k), style="dotted", color=APPROVAL_LINE,
                     arrowhead="none")
    dot.node(WON, label="Won", shape="doublecircle", style="filled", fillcolor=WON_FILL,
             color=WON_LINE, fontcolor=WON_LINE, fontsize="12")
    order = {sid: i for i, sid in enumerate(stages)}
    for src, dst, key, data in graph.edges(keys=True, data=True):
        kind = data["kind"]
        backwards = dst in order and order[dst] <= order[src]
        _edge(dot, src, dst, kind, data, backwards, over.widths.get((src, dst, key)),
              over.labels.get((src, dst, key)))
    entries = graph.graph.get("entries") or {}
    if entries:  # `enter:` in the file: new deals start at more than the first stage
        dot.node(ENTRY_ID, label="New deals", shape="cds", style="filled",
                 fillcolor=APPROVAL_FILL, color=APPROVAL_LINE, fontsize="11")
        for sid, p in entries.items():
            if sid in order:
                dot.edge(ENTRY_ID, sid, label=f"{share(p)} enter here", color=APPROVAL_LINE,
                         fontcolor=APPROVAL_LINE, style="dashed")
    dot.node(LEGEND_ID, label=_legend(graph, overlay is not None), shape="box", style="rounded",
             color="#cccccc", fontsize="9")
    source: str = dot.source
    return source


def _lost_label(data: dict[str, Any]) -> str:
    reasons = [*data["reasons"], *(f"{r} says no" for r in data.get("refusals", []))]
    lines = [f"✗ {share(data['probability'])} lost:",
             *(line for reason in reasons for line in wrap(reason, 26))]
    return "<" + '<br align="left"/>'.join(_h(line) for line in lines) + '<br align="left"/>>'



def _edge(dot: graphviz.Digraph, src: str, dst: str, kind: str, data: dict[str, Any],
          backwards: bool, width: float | None = None, label: str | None = None) -> None:
    """backwards: a route to an earlier stage (rework), drawn without pulling the layout;
    *width* and *label*, the results' flow where they are drawn."""
    p = label if label is not None else share(data["probability"])
    pen = {} if width is None else {"penwidth": f"{width:.2f}"}
    if kind == "lost":
        dot.edge(src, lost_id(src), style="dashed", color=LOST_GREY, arrowsize="0.6",
                 **pen, **({"label": p, "fontcolor": LOST_GREY} if label else {}))
    elif kind == "rejection":
        dot.edge(approval_id(src, data["approval_index"]), dst, label=f"⟲ {p} sent back",
                 color=REWORK, fontcolor=REWORK, style="bold", constraint="false", **pen)
    elif kind == "pass":
        dot.edge(src, dst, label=f"↷ {share(data['probability'])} pass by", color=PASSING,
                 fontcolor=PASSING, style="dotted", constraint="false")
    elif dst == WON:
        dot.edge(src, dst, label=p, color=WON_LINE, fontcolor=WON_LINE,
                 **(pen or {"penwidth": "1.6"}))
    else:
        dot.edge(src, dst, label=p, **(pen or {"penwidth": "1.3"}),
                 **({"constraint": "false", "style": "dashed"} if backwards else {}))


DOT_TIMEOUT = 60.0  # seconds; SALESPROC_DOT_TIMEOUT overrides it
#: Beyond this many arrows `dot` is not tried: its layout time grows steeply with them
#: (about 5 s at 420 arrows, past 60 s at 930; at 40,000 it fills gigabytes of memory),
#: while a real process's whole diagram has well under 200.
MAX_DOT_ARROWS = 500


def dot_timeout() -> float:
    """How long `dot` may take: a densely routed process can keep it busy for minutes."""
    try:
        value = float(os.environ.get("SALESPROC_DOT_TIMEOUT", DOT_TIMEOUT))
    except ValueError:
        return DOT_TIMEOUT
    return value if math.isfinite(value) and value > 0 else DOT_TIMEOUT


def to_image(source: str, fmt: str) -> bytes:
    """Run Graphviz's `dot` on DOT *source*; SVG, PNG or PDF bytes.

    Refuses a drawing of more than :data:`MAX_DOT_ARROWS` arrows, and stops `dot` after
    :func:`dot_timeout` seconds, each with an error that says what to do.
    """
    if fmt not in IMAGE_FORMATS:
        raise SalesprocError(f"unknown image format {fmt!r}")
    arrows = source.count("->")
    if arrows > MAX_DOT_ARROWS:
        raise SalesprocError(
            f"the drawing has {arrows:,} arrows, more than Graphviz can lay out in a "
            f"reasonable time and memory ({MAX_DOT_ARROWS})", hint="draw one buyer type at "
            "a time, or as Mermaid or DOT text")
    program = shutil.which("dot")
    if program is None:
        raise ToolMissingError("Graphviz's `dot` program is not installed", hint=INSTALL_HINT)
    limit = dot_timeout()
    try:
        done = subprocess.run([program, f"-T{fmt}"], input=source.encode("utf-8"),
                              capture_output=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired:
        raise SalesprocError(
            f"Graphviz gave up drawing {arrows} arrows after {limit:g} s: the process is "
            "too densely routed to lay out", hint="draw one buyer type at a time, or as "
            "Mermaid; the environment variable SALESPROC_DOT_TIMEOUT sets how many seconds "
            "to wait") from None
    except OSError as exc:
        raise SalesprocError(f"cannot run Graphviz's `dot`: {exc.strerror}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SalesprocError("Graphviz failed to draw the process: "
                             + (message[0] if message else f"exit {done.returncode}"))
    return done.stdout
