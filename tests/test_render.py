"""Flowcharts: golden DOT and Mermaid, real SVG from Graphviz, Mermaid parsed as GitHub does."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from salesproc import check_text, load
from salesproc.drawing import graph, to_dot, to_image, to_mermaid
from salesproc.process.model import Process
from tests.conftest import PROCESSES, ROOT, run

GOLDEN = Path(__file__).resolve().parent / "golden"
MERMAID = Path(__file__).resolve().parent / "mermaid"
UPDATE = os.environ.get("SALESPROC_UPDATE_GOLDEN") == "1"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` missing")


def diagrams(process: Process) -> dict[str, object]:
    out: dict[str, object] = {"all": graph.combined_graph(process)}
    out.update({b: graph.buyer_graph(process, b) for b in process.buyer_types})
    return out


CASES = [(path, name) for path in PROCESSES for name in ["all", *load(path).buyer_types]]


@pytest.mark.parametrize(("path", "name"), CASES, ids=lambda x: getattr(x, "stem", x))
@pytest.mark.parametrize("fmt", ["dot", "mmd"])
def test_golden_files(path: Path, name: str, fmt: str) -> None:
    process = load(path)
    g = diagrams(process)[name]
    render = to_dot if fmt == "dot" else to_mermaid
    text = render(g, process.time_unit)  # type: ignore[arg-type]
    assert text == render(diagrams(load(path))[name], process.time_unit)  # type: ignore[arg-type]
    golden = GOLDEN / f"{path.stem}.{name}.{fmt}"
    if UPDATE:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs; if the change is intended, run "
        "SALESPROC_UPDATE_GOLDEN=1 pytest tests/test_render.py and review the diff")


def svg_text(svg: bytes) -> str:
    root = ET.fromstring(svg)
    return " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))


@needs_dot
@pytest.mark.parametrize("path", PROCESSES, ids=lambda p: p.stem)
def test_svg_shows_every_stage_and_approval(path: Path) -> None:
    process = load(path)
    for name, g in diagrams(process).items():
        text = svg_text(to_image(to_dot(g, process.time_unit), "svg"))  # type: ignore[arg-type]
        words = " ".join(text.split())
        buyer = process.buyer_types.get(name)
        stages = buyer.flow() if buyer else list(process.stages.values())
        for stage in stages:
            assert " ".join(stage.name.split()) in words, (name, stage.name)
            for approval in stage.approvals:
                assert approval.name in words, (name, approval.name)
        assert "Won" in words and "Legend" in words


TRICKY = ['Say "hello"', "Review [draft] (v2) {final}", "end", "subgraph", "graph",
          "Vertrag & Preis <b>bold</b>", "Café, naïve — 日本語 ✓", "50% #1 | best",
          "%% not a comment", "x" * 120, "click here", "A->B --> C", "`code`", "a;b"]


def tricky_process() -> Process:
    stages = "\n".join(
        f"  - {{id: s{i}, name: {_yaml_quote(name)}, owner: ae, work: 0.1, "
        f"next: {{{'won' if i == len(TRICKY) - 1 else f's{i + 1}'}: 0.9}}, "
        f"lost_reason: {_yaml_quote('lost: ' + name)}"
        + (f", approvals: [{{name: {_yaml_quote(name)}, by: ae, reject: 0.1, "
           f"on_reject: s0}}]" if i % 3 == 0 else "") + "}"
        for i, name in enumerate(TRICKY))
    text = f"""salesproc: 1
name: 'Tricky "names" <test>'
roles: {{ae: {{title: "A&E <rep>", department: 'Sales "EMEA" [1]', headcount: 3}}}}
stages:
{stages}
buyer_types: {{b: {{name: "end", share: 1, value: 10}}}}
"""
    result = check_text(text)
    assert result.process is not None, result.diagnostics
    return result.process


def _yaml_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted one


def test_mermaid_ids_and_labels_are_safe() -> None:
    process = tricky_process()
    text = to_mermaid(graph.buyer_graph(process, "b"), process.time_unit)
    reserved = {"end", "subgraph", "graph", "flowchart", "click", "style", "class",
                "classDef", "linkStyle", "direction", "default"}
    for line in text.splitlines()[3:]:
        line = line.strip()
        if line in ("end",) or line.startswith(("classDef", "direction", "%%")):
            continue
        node_ids = re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)(?=\[|\(|\s-|\s=|\s*$)", line)
        assert not reserved & set(node_ids), line
        labels = re.findall(r'"(.*?)"', line)
        assert labels, line
        for label in labels:
            assert '"' not in label and "<b>bold" not in label


def mermaid_parse(texts: list[str]) -> list[str]:
    if shutil.which("node") is None or not (MERMAID / "node_modules" / "mermaid").is_dir():
        pytest.skip("Mermaid's parser is not installed (./dev.sh test installs it with npm)")
    out = subprocess.run(["node", str(MERMAID / "parse.mjs")], input="\n%%%%\n".join(texts),
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout.splitlines()


def test_mermaid_parses_with_mermaids_own_parser() -> None:
    texts = []
    for path in PROCESSES:
        process = load(path)
        texts += [to_mermaid(g, process.time_unit) for g in diagrams(process).values()]  # type: ignore[arg-type]
    tricky = tricky_process()
    texts.append(to_mermaid(graph.buyer_graph(tricky, "b"), tricky.time_unit, "TB"))
    assert mermaid_parse(texts) == ["ok"] * len(texts)


def test_mermaid_parser_rejects_what_github_rejects() -> None:
    """The check above can fail: a bare `end` id is refused by the same parser."""
    assert mermaid_parse(["flowchart LR\n  end --> b\n"])[0].startswith("error")


@needs_dot
def test_sixty_stage_process_still_renders() -> None:
    stages = "\n".join(
        f"  - {{id: s{i}, name: Stage number {i} of a long process, owner: r{i % 7}, "
        f"work: 0.1, next: {{{'won' if i == 59 else f's{i + 1}'}: 0.97"
        + (f", s{i - 5}: 0.02" if i > 10 and i % 9 == 0 else "") + "}}"
        for i in range(60))
    roles = ", ".join(f"r{k}: {{title: Role {k}, department: Dept {k % 4}, headcount: 9}}"
                      for k in range(7))
    process = check_text(f"""salesproc: 1
name: Sixty stages
roles: {{{roles}}}
stages:
{stages}
buyer_types: {{b: {{name: B, share: 1, value: 1}}}}
""").process
    assert process is not None
    svg = to_image(to_dot(graph.buyer_graph(process, "b"), "day"), "svg")
    assert "Stage number 59" in " ".join(svg_text(svg).split())


# --- the command ---------------------------------------------------------------------------


@pytest.fixture
def copied(tmp_path: Path, five_step: Path) -> Path:
    target = tmp_path / "five-step.yaml"
    target.write_text(five_step.read_text())
    return target


@needs_dot
def test_render_writes_one_svg_per_buyer_next_to_the_file(copied: Path) -> None:
    result = run("render", str(copied))
    assert result.exit_code == 0
    names = sorted(p.name for p in copied.parent.glob("*.svg"))
    assert names == ["five-step.committee.svg", "five-step.single_decision_maker.svg",
                     "five-step.standard.svg"]
    ET.fromstring((copied.parent / "five-step.committee.svg").read_bytes())


@needs_dot
@pytest.mark.parametrize("fmt", ["png", "pdf"])
def test_render_combined_image_formats(copied: Path, fmt: str) -> None:
    out = copied.parent / f"flow.{fmt}"
    assert run("render", str(copied), "--combined", "--format", fmt, "-o", str(out)).exit_code == 0
    magic = {"png": b"\x89PNG", "pdf": b"%PDF"}[fmt]
    assert out.read_bytes().startswith(magic)


def test_render_text_formats_go_to_stdout(copied: Path) -> None:
    dot = run("render", str(copied), "--buyer", "standard", "--format", "dot", "--direction", "TB")
    assert dot.exit_code == 0 and dot.output.startswith("digraph ")
    assert "rankdir=TB" in dot.output
    mermaid = run("render", str(copied), "--format", "mermaid")
    assert mermaid.output.count("flowchart LR") == 3
    assert "%% buyer type: committee" in mermaid.output
    assert list(copied.parent.iterdir()) == [copied]


@needs_dot
def test_every_buyer_types_dot_on_the_terminal_is_read_by_graphviz(copied: Path) -> None:
    """Each drawing is named in a DOT comment (Mermaid's %% was a syntax error to dot)."""
    dot = run("render", str(copied), "--format", "dot")
    assert dot.exit_code == 0 and "// buyer type: committee\ndigraph " in dot.output
    drawn = subprocess.run(["dot", "-Tsvg"], input=dot.output, capture_output=True,
                           text=True, check=False)
    assert drawn.returncode == 0, drawn.stderr
    assert drawn.stdout.count("<svg") == 3


@pytest.mark.parametrize("fmt", ["png", "dot"])
def test_render_never_writes_a_drawing_onto_a_process_file(copied: Path, fmt: str) -> None:
    """With one drawing per buyer type the buyer id is added to -o's name: -o of the
    process file itself got past the check, and 'five-step.yaml' became
    'five-step.committee.yaml', a sibling process file overwritten by an image."""
    sibling = copied.parent / f"{copied.stem}.committee.yaml"
    sibling.write_text("salesproc: 1\n")
    for target, said in [(copied, "is an input of this command"),
                         (copied.parent / "other.yaml", "is named as a process file")]:
        result = run("render", str(copied), "--format", fmt, "-o", str(target))
        assert result.exit_code == 2, result.output
        assert said in result.output
    assert sibling.read_text() == "salesproc: 1\n"
    assert sorted(p.name for p in copied.parent.iterdir()) == sorted([copied.name,
                                                                      sibling.name])


def test_render_unknown_buyer_is_a_kind_error(copied: Path) -> None:
    result = run("render", str(copied), "--buyer", "comittee", "--format", "dot")
    assert result.exit_code == 2 and "unknown buyer type 'comittee'" in result.output


def test_render_without_dot_says_how_to_install(copied: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = run("render", str(copied), "--format", "svg")
    assert result.exit_code == 1
    assert "apt-get install graphviz" in result.output and "brew install graphviz" in result.output
    assert "or use --format dot or --format mermaid, which need no install" in result.output
    assert not list(copied.parent.glob("*.svg"))


def test_render_invalid_process_exits_1() -> None:
    bad = ROOT / "tests" / "cases" / "invalid" / "SP201-unknown-next.yaml"
    result = run("render", str(bad), "--format", "dot")
    assert result.exit_code == 1 and "SP201" in result.output


LATE_ENTRIES = """
salesproc: 1
name: Late entries
roles: {r: {title: R, headcount: 3}}
stages:
  - {id: s1, name: First call, owner: r, work: 0.1, next: {s2: 0.5}}
  - {id: s2, name: Demo, owner: r, work: 0.1, next: {s3: 0.5}}
  - {id: s3, name: Contract, owner: r, work: 0.1, next: {won: 0.8}}
buyer_types:
  b: {name: Referred, share: 0.4, value: 1, enter: {s1: 0.7, s3: 0.3}}
  c: {name: Cold, share: 0.6, value: 1}
arrivals: {rate: 5}
"""


def test_where_new_deals_enter_is_drawn_when_the_file_says_enter() -> None:
    from salesproc import check_text
    from salesproc.drawing.graph import buyer_graph, combined_graph
    from salesproc.drawing.playbook import to_markdown

    process = check_text(LATE_ENTRIES).process
    assert process is not None
    referred = to_dot(buyer_graph(process, "b"), process.time_unit)
    assert '"entry-new" -> s1 [label="70% enter here"' in referred
    assert '"entry-new" -> s3 [label="30% enter here"' in referred
    cold = buyer_graph(process, "c")
    assert "entry-new" not in to_dot(cold, process.time_unit)  # all start at the start
    both = combined_graph(process).graph["entries"]
    assert both == pytest.approx({"s1": 0.4 * 0.7 + 0.6, "s3": 0.4 * 0.3})
    mermaid = to_mermaid(combined_graph(process), process.time_unit)
    assert 'entry -.->|"12% enter here"| s_s3' in mermaid
    assert mermaid_parse([mermaid, to_mermaid(buyer_graph(process, "b"), "day")]) == ["ok"] * 2
    assert "New deals start at First call (70%), Contract (30%)." in to_markdown(process)


def test_the_legend_explains_only_what_the_drawing_shows(tmp_path: Path) -> None:
    """The starter process has no approval and nothing sent back: its legend explains
    neither; the five-step process has both, and its legend explains them."""
    from salesproc.process import starter

    path = tmp_path / "starter.yaml"
    path.write_text(starter.render("starter"), "utf-8")
    plain = to_dot(graph.combined_graph(load(path)), "day")
    legend = plain[plain.index('"legend-box"'):]
    assert "lost, with the reason" in legend
    assert "an approval" not in legend and "sent back" not in legend
    full = to_dot(graph.combined_graph(load(ROOT / "processes" / "five-step.yaml")), "day")
    legend = full[full.index('"legend-box"'):]
    assert "an approval" in legend and "sent back" in legend
