"""Everything written is escaped for where it goes: a process file full of attacks on
DOT, SVG, Mermaid, Markdown and HTML comes out as text, with every node kept apart."""

from __future__ import annotations

import ast
import csv
import io
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from salesproc import load
from salesproc.drawing import graph, to_dot, to_image, to_mermaid
from salesproc.drawing.playbook import to_markdown
from tests.conftest import CASES, ROOT, run
from tests.test_render import mermaid_parse

EVIL = CASES / "valid" / "adversarial-names.yaml"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed")


class Elements(HTMLParser):
    """Every element, attribute and comment of an HTML or SVG page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += attrs

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def elements(page: str) -> Elements:
    parser = Elements()
    parser.feed(page)
    return parser


def assert_only_text(page: str) -> None:
    found = elements(page)
    assert "script" not in found.tags and "img" not in found.tags and "a" not in found.tags
    assert not any(v and "javascript:" in v for _, v in found.attributes)
    assert not any(name.startswith("on") for name, _ in found.attributes)
    # comments are Graphviz's own (node ids), never text from the file
    assert not any("hidden" in c or "alert" in c for c in found.comments)


def test_stage_ids_never_collide_with_the_drawings_own_nodes() -> None:
    process = load(EVIL)
    dot = to_dot(graph.combined_graph(process), process.time_unit)
    nodes = re.findall(r'^\t+("[^"]+"|\w+) \[', dot, re.MULTILINE)
    assert len(nodes) == len(set(nodes))  # demo's lost deals are not the stage demo__lost
    for sid in ("demo", "demo_lost", "demo__lost"):
        assert f"\t\t{sid} [label=" in dot and f'"lost-{sid}" [label=' in dot
    mermaid = to_mermaid(graph.combined_graph(process), process.time_unit)
    ids = re.findall(r"^\s+(\w+)\[", mermaid, re.MULTILINE)
    assert len(ids) == len(set(ids)) == 6


def test_lost_reasons_of_several_buyer_types_appear_once_each() -> None:
    process = load(EVIL)
    combined = graph.combined_graph(process)
    assert combined.edges["demo", "lost", "lost"]["reasons"] == ["x / y",
                                                               "no fit / too expensive <b>"]
    assert combined.edges["demo_lost", "lost", "lost"]["reasons"] == ["a / b"]
    text = to_mermaid(combined, process.time_unit)
    assert text.count("a / b") == 2  # once for each of the two stages that lose for it


@needs_dot
def test_dot_source_is_accepted_and_svg_holds_only_text() -> None:
    process = load(EVIL)
    for diagram in (graph.combined_graph(process), graph.buyer_graph(process, "one")):
        source = to_dot(diagram, process.time_unit)
        done = subprocess.run(["dot", "-Tsvg"], input=source.encode(), capture_output=True,
                              check=False)
        assert done.returncode == 0 and not done.stderr, done.stderr
        svg = to_image(source, "svg").decode()
        assert_only_text(svg)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg  # shown, as text


def test_mermaid_has_no_injected_statements() -> None:
    process = load(EVIL)
    texts = [to_mermaid(graph.combined_graph(process), process.time_unit),
             *(to_mermaid(graph.buyer_graph(process, b), process.time_unit)
               for b in process.buyer_types)]
    for text in texts:
        assert "\r" not in text and "A --> B" not in text
        assert all(line.startswith(("flowchart", "  ")) for line in text.splitlines())
    parsed = mermaid_parse(texts)
    assert parsed == ["ok"] * len(texts)


def test_markdown_playbook_shows_process_text_as_text() -> None:
    text = to_markdown(load(EVIL))
    outside_code = re.sub(r"```mermaid.*?```", "", text, flags=re.DOTALL)
    assert "<script>" not in outside_code and "<img" not in outside_code
    assert "<!--" not in outside_code
    assert not re.search(r"(?<!\\)\]\(javascript:", outside_code)  # no link syntax
    assert r"\[click\](javascript:alert(3))" in outside_code  # escaped, not a link


@needs_dot
def test_html_playbook_shows_process_text_as_text(tmp_path: Path) -> None:
    from salesproc.report.html import POLICY, playbook

    page = playbook(load(EVIL))
    assert_only_text(page)
    # the reports' page shell: the same Content-Security-Policy, nothing from elsewhere
    assert f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">' in page
    # the comment opener in the description hides nothing: later sections are all there
    assert page.count("<h2>") >= 5 and "Two flowchart" in page
    assert "&lt;!-- hidden &lt;img src=x onerror=alert(2)&gt;" in page


# --- control characters: by where the text goes ------------------------------------------

# ESC (a screen-clearing sequence, and one that retitles the window, which click's own
# stripping of colours misses), NUL, BEL, the one-byte CSI, DEL, a right-to-left
# override, a next-line (C1) and a line separator
CONTROLS = "\x1b[2J\x1b]0;x\x07\x00\x9b31m\x7f\u202e\x85\u2028"
RAW = [c.encode() for c in "\x1b\x00\x07\x9b\x7f\u202e\x85\u2028"]
EXAMPLE = ROOT / "examples" / "five-step-salesforce"


def assert_clean(data: bytes, where: str) -> None:
    """No control character of CONTROLS in *data*, as it would reach a terminal or file."""
    found = [c for c in RAW if c in data]
    assert not found, f"{where}: {found}"


def test_each_kind_of_text_gets_its_rule() -> None:
    from salesproc.core.escaping import plain, shown, table_cell, visible

    assert visible("a\x1b[2Jb\tc\nd\x9b\u202e\x00") == "a\\x1b[2Jb\tc\nd\\x9b\\u202e\\x00"
    assert shown("a\x1b\tb\nc\u2028\xa0") == "a\\x1b\\tb\\nc\\u2028\\xa0"
    assert table_cell("a\x1b\tb\nc\u2028\xa0") == "a\\x1b\\tb\\nc\\u2028\xa0"
    assert plain("a\x1b[2J\tb\r\nc\x9b\u202e\x00d") == "a\\x1b[2J b  c\\x9b\\u202e\\x00d"
    for rule in (plain, shown, table_cell, visible):  # clean text passes; each is idempotent
        assert rule("Café – 5 € ± 1") == "Café – 5 € ± 1"
        assert rule(rule(CONTROLS)) == rule(CONTROLS)
        assert not any(c.encode() in rule(CONTROLS).encode() for c in "\x1b\x00\x9b\u202e")


def hostile_export(folder: Path) -> list[str]:
    """The five-step example's open deals and an eighth of the others, with CONTROLS in
    what the CRM says of them: the open deals' ids (one of them a formula once the
    controls are gone), names, owners and forecast categories, every loss reason, and one
    stage name."""
    with open(EXAMPLE / "Opportunity.csv", encoding="utf-8", newline="") as handle:
        deals = list(csv.reader(handle))
    with open(EXAMPLE / "OpportunityHistory.csv", encoding="utf-8", newline="") as handle:
        history = list(csv.reader(handle))
    col = {name: i for i, name in enumerate(deals[0])}
    deals = [deals[0], *(d for k, d in enumerate(deals[1:])
                         if d[col["IsClosed"]] == "false" or k % 8 == 0)]
    renamed: dict[str, str] = {}
    for k, deal in enumerate(deals[1:]):
        if deal[col["IsClosed"]] == "false":
            prefix = "\u202e=2+3" if not renamed else ""
            renamed[deal[col["Id"]]] = deal[col["Id"]] = prefix + deal[col["Id"]] + CONTROLS
            deal[col["Name"]] += CONTROLS
            deal[col["OwnerId"]] += CONTROLS
            deal[col["ForecastCategory"]] = "Pipeline" + CONTROLS
        elif deal[col["IsWon"]] == "false":
            deal[col["Loss_Reason__c"]] = "price" + CONTROLS
        if k == 0:
            history.append(["008999999999999", deal[col["Id"]], "Legal" + CONTROLS,
                            history[-1][3], "", ""])
    history = [history[0], *([r[0], renamed.get(r[1], r[1]), *r[2:]] for r in history[1:]
                             if r[1] in {d[col["Id"]] for d in deals} | set(renamed))]
    assert len(renamed) > 5
    for name, rows in (("Opportunity.csv", deals), ("OpportunityHistory.csv", history)):
        with open(folder / name, "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle, quoting=csv.QUOTE_ALL).writerows(rows)
    return [str(folder / "Opportunity.csv"), str(folder / "OpportunityHistory.csv")]


COMMANDS = {"measure": [], "calibrate": [], "forecast": ["--horizon", "4w", "-r", "3"],
            "backtest": ["--from", "2026-09-01", "--to", "2026-09-01", "--horizon", "28d",
                         "-r", "3"]}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_control_characters_in_a_crm_export_never_reach_a_text_output(
        command: str, tmp_path: Path, five_step: Path) -> None:
    """Every text output of the command (its table, its CSV in a -o file, calibrate's
    process file, its notes and messages) holds no control character from the export: the
    terminal shows them as escapes, CSV cells too (a deal id stays itself), a formula
    stays text."""
    export = hostile_export(tmp_path)
    args = [command, *export, "--process", str(five_step), *COMMANDS[command]]
    table = run(*args)
    assert table.exit_code == 0, table.output
    assert_clean(table.stdout_bytes, "stdout")
    assert_clean(table.stderr_bytes, "stderr")
    stage = [line for line in table.stderr.splitlines() if "unknown CRM stage 'Legal" in line]
    assert len(stage) == 1 and "\\x9b31m\\x7f\\u202e\\x85\\u2028'" in stage[0]  # shown
    if command == "calibrate":  # its file is the calibrated process; the table, stderr
        target = tmp_path / "calibrated.yaml"
        to_file = run(*args, "-o", str(target))
        assert to_file.exit_code == 0, to_file.output
        assert_clean(target.read_bytes(), "-o file")
        assert_clean(to_file.stdout_bytes + to_file.stderr_bytes, "terminal with -o")
        return
    target = tmp_path / "out.csv"
    rows = run(*args, "--format", "csv", "-o", str(target))
    assert rows.exit_code == 0, rows.output
    assert_clean(target.read_bytes(), "-o csv file")
    assert_clean(rows.stdout_bytes + rows.stderr_bytes, "terminal with -o")
    cells = [cell for row in csv.reader(io.StringIO(target.read_text("utf-8"))) for cell in row]
    assert all(cell.isprintable() for cell in cells)
    if command == "forecast":  # the open deals' ids and forecast categories, kept as text
        assert sum(cell.startswith("Pipeline[2J]0;x\\x9b31m") for cell in cells) > 5
        assert sum(cell.startswith("\\u202e=2+3006") for cell in cells) == 1
        page = tmp_path / "page.html"
        assert run(*args, "--format", "html", "-o", str(page)).exit_code == 0
        assert_clean(page.read_bytes(), "html")
        assert "\\x9b31m\\x7f\\u202e\\x85\\u2028" in page.read_text("utf-8")
    if command == "measure":
        # reading dropped the C0 controls (SP820); the CSV escapes the C1 control
        assert any(cell.startswith("price[2J]0;x\\x9b31m") for cell in cells)


def test_the_library_text_report_shows_the_controls_it_quotes(tmp_path: Path,
                                                              five_step: Path) -> None:
    """Without the command line's echo, the text reports of measure (its tables of loss
    reasons and open deals) and forecast (its tables, and the CRM's own view by forecast
    category) still hold no raw control character."""
    import datetime as dt

    from salesproc.history import read_history
    from salesproc.measuring.measurement import measure
    from salesproc.prediction.forecast import forecast
    from salesproc.report import text

    history = read_history(hostile_export(tmp_path), load(five_step))
    done = forecast(history, history.as_of + dt.timedelta(weeks=4), replications=3, seed=1)
    said = text.forecast(done)
    assert_clean(said.encode(), "text.forecast")
    assert "Pipeline[2J]0;x\\x9b31m" in said
    measured = text.measurement(measure(history, simulate_file=False))
    assert_clean(measured.encode(), "text.measurement")
    assert "price[2J]0;x\\x9b31m" in measured


def test_a_chart_with_control_characters_in_its_words_is_well_formed_svg() -> None:
    """matplotlib writes control characters into the SVG as they are, which XML forbids,
    and warns (raw, on the terminal) of each one the font lacks: neither happens."""
    from xml.etree import ElementTree

    from salesproc.charts.style import drawing, figure, png, svg, title

    with drawing():
        fig, ax = figure()
        title(ax, "Stage" + CONTROLS, "by owner" + CONTROLS)
        ax.bar(["a" + CONTROLS], [1.0])
        text = svg(fig, "test")
        assert png(fig).startswith(b"\x89PNG")  # and no warning (an error in the tests)
    assert_clean(text.encode(), "svg")
    ElementTree.fromstring(text.encode())
    assert "Stage\\x1b[2J" in text


def controlled_process(folder: Path) -> Path:
    """The adversarial process with control characters written as YAML escapes in a
    stage's name, a role's title and a loss reason."""
    text = EVIL.read_text("utf-8")
    for old, new in (('lost_reason: "a / b"', 'lost_reason: "a\\e[2J\\x9b / b\\u202e"'),
                     ('name: "legend"', 'name: "legend\\e]0;x\\a\\x85\\0"'),
                     ('title: "SE; x [label=y]"', 'title: "SE\\x7f\\u2028x"')):
        assert old in text
        text = text.replace(old, new)
    path = folder / "controls.yaml"
    path.write_text(text, "utf-8")
    return path


@needs_dot
def test_control_characters_in_a_process_file_reach_no_drawing_or_report(
        tmp_path: Path) -> None:
    """DOT and Mermaid write them as spaces, Markdown too; the HTML playbook, the
    simulation's table and CSV show or drop them."""
    from salesproc.report.html import playbook

    path = controlled_process(tmp_path)
    process = load(path)
    assert process.stages["demo__lost"].name == "legend\x1b]0;x\x07\x85\x00"
    combined = graph.combined_graph(process)
    for text in (to_dot(combined, process.time_unit), to_mermaid(combined, process.time_unit),
                 to_markdown(process), playbook(process)):
        assert_clean(text.encode(), text[:20])
    assert "legend ]0;x" in to_mermaid(combined, process.time_unit)  # controls as spaces
    for fmt in ("table", "csv"):
        done = run("simulate", str(path), "-r", "2", "--horizon", "50", "--no-hires",
                   "--format", fmt)
        assert done.exit_code == 0, done.output
        assert_clean(done.stdout_bytes + done.stderr_bytes, f"simulate {fmt}")


def test_a_file_name_with_an_escape_sequence_is_shown_not_obeyed(tmp_path: Path,
                                                                 five_step: Path) -> None:
    target = tmp_path / "play\x1b[2Jbook\x9b.md"
    done = run("playbook", str(five_step), "-o", str(target))
    assert done.exit_code == 0, done.output
    assert target.exists()
    assert_clean(done.stderr_bytes, "stderr")
    assert "play\\x1b[2Jbook\\x9b.md" in done.stderr


def test_a_usage_error_shows_what_it_quotes(five_step: Path) -> None:
    done = run("simulate", str(five_step), "--buyer", "x\x1b]0;y\x07\x9bz")
    assert done.exit_code == 2
    assert_clean(done.stdout_bytes + done.stderr_bytes, "usage error")
    assert "unknown buyer type 'x\\x1b]0;y\\x07\\x9bz'" in done.stderr


def test_the_command_line_writes_text_only_through_its_one_echo() -> None:
    """click.echo appears in the command line's modules once, inside app.echo(), which
    makes every control character visible: a new command or message cannot forget to."""
    calls = []
    for path in sorted((ROOT / "salesproc" / "cli").glob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        calls += [(path.name, node.lineno, owner.name) for owner in ast.walk(tree)
                  if isinstance(owner, ast.FunctionDef) for node in ast.walk(owner)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in ("echo", "secho", "write")
                  and isinstance(node.func.value, ast.Name)
                  and node.func.value.id in ("click", "sys", "stdout", "stderr")]
    assert [(file, name) for file, _, name in calls] == [("app.py", "echo")], calls
