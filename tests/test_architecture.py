"""The shape of the package: layers, each importing only from itself and below, and no
import cycle anywhere (imports inside functions count too)."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "salesproc"

#: Lowest first: each layer is a folder of the package (the interfaces are the package's
#: own top-level modules). A module may import from its own layer and the layers below it.
LAYERS: tuple[tuple[str, str], ...] = (
    ("core", "the foundations: units, calendars, defaults, diagnostics, statistics, files"),
    ("process", "defining and checking a process: YAML, schema, rules, the model"),
    ("history", "deal histories read from CRM exports"),
    ("crm_metadata", "a process as a CRM's own configuration, out and in"),
    ("drawing", "diagrams and the playbook"),
    ("sim", "the simulation kernel"),
    ("experiments", "replications, comparisons, sweeps, a simulation as an export"),
    ("measuring", "a real pipeline measured from its history"),
    ("prediction", "calibration, forecasts, backtests"),
    ("charts", "matplotlib charts of results"),
    ("report", "results as text, Markdown, JSON, CSV, HTML and Excel workbooks"),
    ("interfaces", "the library API and the command line"),
)

#: The package's top-level modules and the layer each belongs to.
TOP_LEVEL = {"version": "core", "__init__": "interfaces", "__main__": "interfaces",
             "api": "interfaces", "cli": "interfaces"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts == ("__init__",):
        return "__init__"
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def imports(*, typing: bool = True) -> dict[str, set[str]]:
    """Module -> the salesproc modules it imports, anywhere in its code; without *typing*,
    leaving out those imported for type hints alone (under ``if TYPE_CHECKING:``), which
    never run."""
    known = {module_name(p) for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        found: set[str] = set()
        tree = ast.parse(path.read_text("utf-8"))
        hints = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                 and ast.unparse(block.test) == "TYPE_CHECKING"
                 for stmt in block.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if not typing and id(node) in hints:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and \
                    node.module.split(".")[0] == "salesproc":
                base = node.module.removeprefix("salesproc").lstrip(".")
                for alias in node.names:
                    target = f"{base}.{alias.name}".lstrip(".")
                    found.add(target if target in known else (base or "__init__"))
            elif isinstance(node, ast.Import):
                found.update(a.name.removeprefix("salesproc.") for a in node.names
                             if a.name.startswith("salesproc."))
        graph[name] = found - {name}
    return graph


def layer_of(module: str) -> int:
    top = module.split(".")[0]
    folder = TOP_LEVEL.get(top, top)
    for index, (name, _) in enumerate(LAYERS):
        if name == folder:
            return index
    raise AssertionError(f"salesproc.{module} lives in no layer's folder: move it into one "
                         "(or add the folder to LAYERS)")


def test_every_module_has_a_layer() -> None:
    for module in imports():
        layer_of(module)


def test_no_import_goes_up_a_layer() -> None:
    upward = [f"{a} ({LAYERS[layer_of(a)][0]}) -> {b} ({LAYERS[layer_of(b)][0]})"
              for a, targets in imports().items() for b in targets
              if layer_of(b) > layer_of(a)]
    assert upward == []


def test_there_is_no_import_cycle() -> None:
    """No cycle among the imports that run (a type hint may name a class of a module that
    imports this one: a forecast's track record is a backtest's)."""
    graph = imports(typing=False)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == []


def test_the_test_would_see_a_cycle() -> None:
    """The import finder sees imports inside functions (the lazy ones), and tells those
    for type hints alone."""
    assert "prediction.backtest" in imports()["prediction.forecast"]
    assert "prediction.backtest" not in imports(typing=False)["prediction.forecast"]
    graph = imports()
    assert "experiments.experiment" in graph["api"]  # imported inside simulate()
    assert "report.text" in graph["cli.forecast"]


def public_definitions() -> list[tuple[str, int, str]]:
    """(file, line, name) of each public function, class, method and property in the
    package, except click commands (the decorator uses them) and the methods of a class
    built on another (a file object's readinto is called by io)."""
    found: list[tuple[str, int, str]] = []

    def visit(body: list[ast.stmt], where: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                if not node.name.startswith("_"):
                    found.append((where, node.lineno, node.name))
                if not node.bases:
                    visit(node.body, where)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                commands = [d for d in node.decorator_list if "command" in ast.unparse(d)]
                if not node.name.startswith("_") and not commands:
                    found.append((where, node.lineno, node.name))

    for path in sorted(PACKAGE.rglob("*.py")):
        visit(ast.parse(path.read_text(encoding="utf-8")).body, str(path.relative_to(ROOT)))
    return found


def test_every_public_definition_is_used_somewhere() -> None:
    """Dead code is a second place where a rule seems to live: every public function,
    class, method and property is named somewhere besides its definition (the package,
    its tests, scripts, benchmarks, build (setup.py) or documentation)."""
    import re
    from collections import Counter

    texts = [*PACKAGE.rglob("*.py"), *(ROOT / "tests").rglob("*.py"),
             *(ROOT / "scripts").rglob("*.py"), *(ROOT / "bench").rglob("*.py"),
             *(ROOT / "docs").rglob("*.md"), ROOT / "README.md", ROOT / "setup.py"]
    words = Counter(w for path in texts
                    for w in re.findall(r"\w+", path.read_text(encoding="utf-8")))
    unused = [f"{where}:{line} {name}" for where, line, name in public_definitions()
              if words[name] <= 1]
    assert not unused, unused


def test_a_month_and_a_year_are_defined_once() -> None:
    """units.DAYS_PER_MONTH is the one average month: no other module writes its own
    (365.25 / 12 in one place and 365 / 12 in another made a measured rate and a simulated
    one disagree by 0.07%)."""
    import re

    own = re.compile(r"365(\.\d+)?\s*/\s*12|30\.4\d*|365\.2\d*")
    found = [f"{path.relative_to(ROOT)}:{n}" for path in sorted(PACKAGE.rglob("*.py"))
             if path.name != "units.py"
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if own.search(line.split("#")[0])]
    assert not found, found
