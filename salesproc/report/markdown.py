"""Markdown: what reads well pasted into Slack, an email or a GitHub issue (GitHub-
flavoured tables). Every name from a file or an export goes through
:func:`salesproc.core.escaping.markdown`: no emphasis, link, table cell break, heading or
raw HTML can come from one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from salesproc.core.escaping import markdown

if TYPE_CHECKING:
    from salesproc.measuring.review import Review


def table(headers: Sequence[str], rows: Sequence[Sequence[str]],
          text: tuple[int, ...] = (0,)) -> str:
    """A GitHub-flavoured table: the columns in *text* aligned left, numbers right.
    Cells are written as given (the caller escapes what came from a file)."""
    align = ["---" if k in text else "--:" for k in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def review(r: Review) -> str:
    """`salesproc review --format markdown`: the terminal's review as Markdown."""
    from salesproc.report.text import review_lines

    out = []
    for kind, line in review_lines(r, table, markdown):
        if kind == "title":
            out.append(f"## {line}")
        elif kind == "heading":
            out.append(f"### {line}")
        else:
            out.append(line)
    return "\n\n".join(out) + "\n"
