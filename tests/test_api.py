"""The Python API as a notebook user meets it: typed, documented, and the walk-through in
docs/python.md runs as written."""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import math
import re
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest

import salesproc
from tests.conftest import ROOT, repository_copy

DOC = ROOT / "docs" / "python.md"


@pytest.mark.slow
def test_the_walk_through_runs_as_written(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    """From a copy of the folders it reads (it writes out/run.html beside them)."""
    monkeypatch.chdir(repository_copy(tmp_path, "processes", "examples/five-step-salesforce",
                                      "examples/plans"))
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text("utf-8"), re.DOTALL)
    assert len(blocks) >= 4
    namespace: dict[str, object] = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for block in blocks:
            exec(compile(block, str(DOC), "exec"), namespace)
    output = printed.getvalue()
    assert "deals won (95% CI of the mean" in output
    assert "longest wait: inquiry for sdr" in output
    assert re.search(r"^bottleneck: (none|sdr|ae|se)$", output, re.MULTILINE)
    ahead, record = namespace["ahead"], namespace["record"]
    won = ahead.totals["won"]  # type: ignore[attr-defined]
    assert f"won in 13 weeks: {won.neutral:.0f} ({won.worst:.0f}–{won.best:.0f})" in output
    assert won.worst <= won.neutral <= won.best
    assert len(record.origins) == 2 and not record.failed  # type: ignore[attr-defined]
    frame = namespace["frame"]
    assert list(frame.columns) == ["scope", "subject", "metric", "mean", "low", "high", "n",
                                   "worst", "neutral", "best"]
    visits = namespace["visits"]
    assert len(visits) == len(namespace["result"].events)  # type: ignore[attr-defined]
    week: Any = namespace["week"]
    assert week.reconciles and week.forecast.until.month == 12
    assert math.fsum(m.won for m in week.forecast.moves) == pytest.approx(
        week.forecast.change["won"].mean)
    planned: Any = namespace["planned"]
    assert len(planned.evaluation.runs) == 4 and planned.plan.months == 12


@pytest.mark.parametrize("name", ["simulate", "compare", "sweep", "load", "check"])
def test_public_functions_are_typed_without_any(name: str) -> None:
    from salesproc.experiments import compare, results

    function = getattr(salesproc, name)
    hints = typing.get_type_hints(function, localns={**vars(results), **vars(compare)})
    assert "return" in hints and len(hints) == len(inspect.signature(function).parameters) + 1
    for hint in hints.values():
        assert "Any" not in str(hint), (name, hint)
    assert function.__doc__


def test_every_public_class_and_function_has_a_docstring() -> None:
    import dataclasses
    import importlib
    import pkgutil

    missing = []
    for info in pkgutil.walk_packages(salesproc.__path__, "salesproc."):
        if info.name.endswith(("__main__", "__mypyc")):  # __mypyc: the compiled kernel's
            continue  # shared library (setup.py), no module of its own
        module = importlib.import_module(info.name)
        if not str(module.__file__).endswith(".py"):  # compiled (mypyc keeps no docstring)
            missing += undocumented_source(info.name)
            continue
        assert module.__doc__, info.name
        for name, member in vars(module).items():
            if name.startswith("_") or getattr(member, "__module__", None) != info.name:
                continue
            if not (inspect.isclass(member) or inspect.isfunction(member)):
                continue
            doc = member.__doc__ or ""
            generated = dataclasses.is_dataclass(member) and doc.startswith(f"{name}(")
            if not doc or generated:  # a dataclass's own __doc__ is just its signature
                missing.append(f"{info.name}.{name}")
    assert missing == []


def undocumented_source(name: str) -> list[str]:
    """The public classes and functions of compiled module *name* that its source leaves
    without a docstring (and the module itself, if it has none)."""
    source = ROOT.joinpath(*name.split(".")).with_suffix(".py")
    tree = ast.parse(source.read_text("utf-8"))
    found = [] if ast.get_docstring(tree) else [name]
    return found + [f"{name}.{node.name}" for node in tree.body
                    if isinstance(node, (ast.ClassDef, ast.FunctionDef))
                    and not node.name.startswith("_") and not ast.get_docstring(node)]


def test_importing_salesproc_loads_no_simulation_library() -> None:
    code = ("import sys, salesproc; print(sorted(m for m in ('simpy', 'numpy', 'scipy', "
            "'networkx', 'graphviz', 'pandas') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"


def test_the_library_uses_one_worker_unless_asked() -> None:
    assert inspect.signature(salesproc.simulate).parameters["workers"].default == 1
    settings = salesproc.simulate(ROOT / "processes" / "five-step.yaml", replications=2,
                                  horizon=100).settings
    assert settings.workers == 1


def test_library_messages_never_name_command_line_options() -> None:
    """The CLI translates: a hint such as 'shorten --horizon' is the CLI's to give."""
    from salesproc.cli import cli

    options = {opt for command in cli.commands.values() for param in command.params
               for opt in getattr(param, "opts", []) if opt.startswith("--")}
    assert "--horizon" in options and "--set" in options
    offenders = []
    for path in (ROOT / "salesproc").rglob("*.py"):
        if path.parent.name == "cli" or path.name == "variants.py":  # variants reads --set
            continue
        tree = ast.parse(path.read_text("utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    id(node) not in docstrings:
                named = {o for o in options if re.search(rf"{o}\b", node.value)}
                if named:
                    offenders.append(f"{path.name}: {sorted(named)} in {node.value[:50]!r}")
    assert offenders == []
