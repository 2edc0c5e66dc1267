"""Optional dependencies, imported only when a feature that needs them is used."""

from __future__ import annotations

from typing import Any

from salesproc.core.errors import ToolMissingError


def pandas() -> Any:
    """The pandas module, or a ToolMissingError that says how to install it."""
    try:
        import pandas as module
    except ImportError:
        raise ToolMissingError("pandas is not installed",
                               hint="pip install 'salesproc[pandas]'") from None
    return module
