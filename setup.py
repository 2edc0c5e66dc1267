"""How salesproc is built: setup.cfg says everything, but for the simulation kernel,
compiled to C with mypyc where it can be (about three times the speed of plain Python).

The kernel's modules (salesproc/sim/compiled.py: KERNEL) are compiled when a wheel or an
editable install is built (pip install ., pip install -e .), with the mypy that
pyproject.toml's build requirements bring. If that cannot be done (no mypy, no C
compiler, no Python headers, or SALESPROC_PLAIN=1 in the environment), the install goes
on without them and the same sources run as plain Python. The extension modules from an
earlier build are removed first, and the compiled kernel records the digest of its
sources: an edited source is never shadowed by an extension compiled from the old one
(salesproc.sim.compiled checks it at import).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
SIM = HERE / "salesproc" / "sim"
BUILDS = {"build", "build_ext", "bdist_wheel", "editable_wheel", "develop", "install"}


def say(text: str) -> None:
    print(f"salesproc setup: {text}", file=sys.stderr)


def compiled_rules() -> ModuleType:
    """salesproc/sim/compiled.py, loaded on its own (the package needs its
    dependencies; that file needs only the standard library)."""
    spec = importlib.util.spec_from_file_location("salesproc_sim_compiled",
                                                  SIM / "compiled.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def kernel() -> list[Any]:
    """The kernel's extension modules (mypyc's), or none: when this run builds nothing
    (metadata only), is told not to, or cannot compile."""
    if not BUILDS & set(sys.argv[1:]):
        return []
    rules = compiled_rules()
    for old in rules.compiled_files(SIM):  # never shadowing newer sources
        old.unlink()
    if os.environ.get("SALESPROC_PLAIN"):
        say("SALESPROC_PLAIN is set: the simulation kernel is not compiled")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        say("mypyc not found: the simulation kernel is not compiled (plain Python)")
        return []
    (SIM / f"{rules.BUILT}.py").write_text(rules.built_module(rules.digest(SIM)))
    sources = [f"salesproc/sim/{name}.py" for name in (*rules.KERNEL, rules.BUILT)]
    try:
        # not the project's strict type check (its own job): third-party types need not
        # be installed where this builds (numpy's are then Any), and the modules the
        # kernel imports are read for their types, their findings not reported
        options = ["--config-file=", "--ignore-missing-imports", "--follow-imports=silent"]
        return list(mypycify([*options, *sources], group_name=rules.GROUP))
    except (Exception, SystemExit) as exc:  # mypyc exits on errors it found
        say(f"mypyc could not compile the simulation kernel ({exc!r}): plain Python")
        return []


class OptionalBuildExt(build_ext):
    """Builds the compiled kernel, or nothing if that fails (no C compiler or Python
    headers): the sources then run as plain Python."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # a compiler missing or failing, whatever it raises
            say(f"the simulation kernel could not be compiled ({exc}): plain Python")
            self.extensions = []
            rules = compiled_rules()
            for built in rules.compiled_files(SIM):  # nothing half-built left behind
                built.unlink()
            (SIM / f"{rules.BUILT}.py").unlink(missing_ok=True)

    def get_outputs(self) -> list[str]:
        return super().get_outputs() if self.extensions else []


setup(ext_modules=kernel(), cmdclass={"build_ext": OptionalBuildExt})
