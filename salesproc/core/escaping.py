"""Text from files made harmless where it is written: the one home of that rule.

CRM exports and process files hold whatever their authors typed or their tools wrote: an
escape sequence (ESC ``[2J`` clears a terminal, ESC ``]0;`` retitles it), a NUL, a bell,
a C1 control such as CSI (U+009B, which some terminals read as ESC ``[``), a
bidirectional override that reorders what a reader sees, a line separator. None of them
reaches a terminal or a text file as itself. A control character is written as its
Python escape — ESC as the four characters ``\\x1b``, CSI as ``\\x9b``, U+202E as
``\\u202e`` — so the reader sees that it is there and which it is.

By where the text goes:

- :func:`shown`: a value quoted inside a message — every character that does not print
  (line breaks and tabs too, and no-break or other unusual spaces: the message says what
  the file holds, e.g. why a name did not match) as its escape.
- :func:`table_cell`: a cell of a terminal table — its control characters, line breaks
  and tabs (which would break the row or the column) as escapes; a no-break space stays.
- :func:`visible`: a whole text output (a table, a report, Markdown, CSV, a ``-o`` file):
  its control characters as escapes, except the line breaks and tabs that lay it out. The
  command line passes everything it writes through it, so no report can forget.
- :func:`plain`: a CSV cell, for spreadsheets and pandas: on one line (line breaks and
  tabs as spaces), its other controls as escapes — not dropped, so that a deal id with an
  escape sequence in it stays itself (and two such ids stay two) wherever it is joined.

JSON needs none of them (``json.dumps`` escapes every control); HTML escapes its text with
:func:`visible` first, the drawings (DOT, Mermaid) write every control as a space.
"""

from __future__ import annotations

import re
import unicodedata

# C0 but tab and line feed, DEL, C1; line and paragraph separators; bidi embeddings,
# overrides and isolates (what "Trojan source" uses)
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_OUTPUT = re.compile(f"[{_CONTROLS}]")
_CELL_BREAKS = re.compile("[\t\n\r\u2028\u2029]")
_CELL = re.compile(f"[\t\n{_CONTROLS}]")


def _escape(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]


def shown(text: str) -> str:
    """Text for a message or a table cell, with line breaks and every other character that
    does not print (controls, format characters, separators) made visible."""
    if text.isprintable():  # nearly always: no copy, no loop in Python
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


#: The most characters of a file's value that a message quotes (a cell can be megabytes).
QUOTED_MOST = 100


def quoted(text: str, most: int = QUOTED_MOST) -> str:
    """A value read from a file, for a message: :func:`shown`, and cut to *most*
    characters with how long it was, so that a 5 MB cell is not written out whole."""
    if len(text) <= most:
        return shown(text)
    return f"{shown(text[:most])}… ({len(text):,} characters)"


def table_cell(text: str) -> str:
    """A terminal table's cell on one line: control characters, line breaks and tabs made
    visible."""
    return _CELL.sub(_escape, text)


def visible(text: str) -> str:
    """A whole text output with its control characters made visible: its line breaks and
    tabs kept, as its layout. Linear, and a no-op on clean text."""
    return _OUTPUT.sub(_escape, text)


def plain(text: str) -> str:
    """A CSV cell's text on one line: line breaks and tabs become spaces, the other
    control characters their escapes (ESC as ``\\x1b``)."""
    return _CELL.sub(_escape, _CELL_BREAKS.sub(" ", text))


_MARKDOWN = {c: "\\" + c for c in "\\`*_[]|~#"} | {"<": "&lt;", ">": "&gt;", "&": "&amp;"}


def markdown(text: str) -> str:
    """Text from a file or an export shown as text in Markdown (GitHub's, Slack's, an
    email's) on one line: no emphasis, link, table cell break, heading or raw HTML can
    come from it (a bare address or @name is text the viewer may still link, as it
    links any); line breaks, tabs and other control or separator characters become
    spaces."""
    return "".join(" " if unicodedata.category(c)[0] in "CZ" and c != " "
                   else _MARKDOWN.get(c, c) for c in text).strip()

