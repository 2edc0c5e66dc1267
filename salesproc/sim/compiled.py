"""Whether the simulation kernel runs compiled, and never from sources older than it.

``pip install`` (setup.py) compiles the kernel's modules, :data:`KERNEL`, to C with
mypyc where it can: one extension module each beside its source, all linked to one
shared library, and ``_built``, which records the digest of the sources it was compiled
from. Python imports an extension module before a source of the same name, so an
edited source would be shadowed by the extension compiled from the old one. Hence, when
``salesproc.sim`` is imported (:func:`guard`), the digest of the sources is checked
against the one compiled in: if the extensions are not all there, or not from these
sources, every kernel module is imported from its source instead (the same figures,
about three times slower), and :data:`NOTE` says so for the command line to show.
Where nothing was compiled (no C compiler, or mypyc not installed), the sources run as
plain Python, and nothing is said; nor where SALESPROC_PLAIN=1 in the environment asks
for the sources (to compare the two, or to debug).

Only the standard library here: setup.py loads this file on its own (without the
package and its dependencies) to know what to compile and to write ``_built``.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Final

#: The kernel's modules, compiled together (salesproc.sim.<name>), in import order
KERNEL: Final = ("scheduler", "streams", "pool", "compile", "metrics", "engine")
#: The module setup.py writes and compiles with them: the digest of their sources
BUILT: Final = "_built"
#: The shared library the compiled modules are linked into (mypyc's group name)
GROUP: Final = "salesproc.sim.kernel"
FOLDER: Final = Path(__file__).resolve().parent
PACKAGE: Final = "salesproc.sim"

#: Why the kernel runs from its sources although it was compiled (None: it does not)
NOTE: str | None = None


def digest(folder: Path = FOLDER) -> str:
    """The sha256 of the kernel's sources in *folder*, names and bytes."""
    sha = hashlib.sha256()
    for name in KERNEL:
        sha.update(f"{name}\0".encode())
        sha.update((folder / f"{name}.py").read_bytes())
        sha.update(b"\0")
    return sha.hexdigest()


def built_module(sources: str) -> str:
    """The text of ``_built.py`` for sources of digest *sources*."""
    return (
        '"""Written by setup.py when it compiled the simulation kernel (not in git): the\n'
        'digest of the sources compiled (salesproc.sim.compiled checks it)."""\n\n'
        "from typing import Final\n\n"
        f'SOURCES: Final = "{sources}"\n')


def extensions(name: str, folder: Path = FOLDER) -> list[Path]:
    """The extension modules for *name* in *folder* (this Python's suffixes)."""
    return [folder / f"{name}{suffix}" for suffix in importlib.machinery.EXTENSION_SUFFIXES
            if (folder / f"{name}{suffix}").exists()]


def compiled_files(folder: Path = FOLDER) -> list[Path]:
    """Every extension module of the kernel in *folder*: the modules', ``_built``'s and
    the shared library's (what setup.py removes before it compiles again)."""
    names = [*KERNEL, BUILT, GROUP.rsplit(".", 1)[-1] + "__mypyc"]
    return [path for name in names for path in extensions(name, folder)]


def stale_reason(folder: Path = FOLDER) -> str | None:
    """Why the compiled kernel in *folder* must not run (None: it may, or there is
    none): some modules not compiled, or compiled from other sources."""
    present = [bool(extensions(name, folder)) for name in (*KERNEL, BUILT)]
    if not any(present):
        return None  # never compiled here: the sources run, as they should
    if not all(present):
        return "only some of its modules are compiled"
    try:
        built = importlib.import_module(f"{PACKAGE}.{BUILT}")
    except ImportError as exc:
        return f"it cannot be loaded ({exc})"
    if getattr(built, "SOURCES", None) != digest(folder):
        return "its sources changed since it was compiled"
    return None


class _Sources(importlib.abc.MetaPathFinder):
    """Finds the kernel's modules as their sources, ahead of their extension modules."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != PACKAGE or name not in KERNEL:
            return None
        return importlib.util.spec_from_file_location(fullname, self.folder / f"{name}.py")


def guard() -> None:
    """Make sure the kernel runs compiled from its current sources, or from its sources
    (with :data:`NOTE` saying why); called once, as ``salesproc.sim`` is imported."""
    global NOTE
    if os.environ.get("SALESPROC_PLAIN"):
        _run_sources()
        return
    reason = stale_reason()
    if reason is None:
        return
    NOTE = (f"the compiled simulation kernel is not used: {reason}; it runs as plain "
            "Python, the same figures about three times slower (compile it again: pip "
            "install -e . , or ./dev.sh)")
    _run_sources()


def _run_sources() -> None:
    """Import the kernel's modules from their sources from now on."""
    if not any(isinstance(finder, _Sources) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Sources(FOLDER))
