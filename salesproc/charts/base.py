"""What a chart is: the drawn figure, its words, and the table of its numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Table:
    """The numbers of a chart: header cells and rows of text cells."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Chart:
    """One drawn chart: *name* is its file stem (``funnel``), *title* and *caption* say
    in sales words what it shows."""

    name: str
    title: str
    caption: str
    figure: Figure
    table: Table

    def svg(self) -> str:
        from salesproc.charts.style import svg

        return svg(self.figure, self.name)

    def png(self) -> bytes:
        from salesproc.charts.style import png

        return png(self.figure)
