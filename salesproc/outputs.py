"""Writing result files safely: to a temporary file beside the target, then renamed.

A crash, a full disk or Ctrl-C never leaves a half-written file where the user's
previous output (or their own file) was.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from salesproc.errors import SalesprocError


def write_atomic(path: str | os.PathLike[str], content: str | bytes) -> None:
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise SalesprocError(f"cannot write {target}: folder {folder} does not exist",
                             hint="create the folder first, or choose another output path")
    if target.is_dir():
        raise SalesprocError(f"cannot write {target}: it is a folder")
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise SalesprocError(f"cannot write in {folder}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise SalesprocError(f"cannot write {target}: {exc.strerror}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
