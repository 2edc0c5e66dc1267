"""Writing result files safely: to a temporary file beside the target, then renamed.

A crash, a full disk or Ctrl-C never leaves a half-written file where the user's
previous output (or their own file) was. Devices and pipes (``-o /dev/stdout``) are
written in place: renaming over them would replace the device with a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from salesproc.core.errors import SalesprocError


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """A file handle whose content replaces *path* only when the block ends normally."""
    target = Path(path)
    if target.is_dir():
        raise SalesprocError(f"cannot write {target}: it is a folder")
    text = "b" not in mode
    encoding, newline = ("utf-8", "") if text else (None, None)
    if target.exists() and not target.is_file():
        with _errors(target), open(target, mode, encoding=encoding, newline=newline) as handle:
            yield handle
        return
    folder = target.parent
    if not folder.is_dir():
        raise SalesprocError(f"cannot write {target}: folder {folder} does not exist",
                             hint="create the folder first, or choose another output path")
    with _errors(folder):
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with _errors(target), os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
            yield handle
        with _errors(target):
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike[str], content: str | bytes) -> None:
    """Replace *path* with *content* atomically (see atomic_open)."""
    with atomic_open(path, "w" if isinstance(content, str) else "wb") as handle:
        handle.write(content)


@contextlib.contextmanager
def _errors(where: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise SalesprocError(f"cannot write {where}: {exc.strerror}") from None
