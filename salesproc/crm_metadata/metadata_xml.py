"""XML in and out for CRM metadata: written as Salesforce writes it, read safely.

Metadata comes from strangers (a public project, a colleague's retrieve): it is parsed
with defusedxml, which refuses entity declarations (the "billion laughs"), external
entities and references (XXE) and document type declarations, before they can expand or
reach the network; each refusal, and any XML that does not parse, is an error naming the
file and, where the parser knows it, the line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

from salesproc.core.errors import SalesprocError
from salesproc.core.escaping import shown, visible
from salesproc.crm_metadata.salesforce import INDENT, NAMESPACE

#: The largest metadata file read (bytes): a stage set is a few kilobytes.
FILE_MOST = 20_000_000

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"}


def text(value: str) -> str:
    """*value* as XML element text, with the escapes Salesforce writes; a control
    character (which XML cannot hold, or which would drive a terminal that shows the
    file) written as its visible escape, ``\\x1b``, as everything salesproc writes."""
    return "".join(_ESCAPES.get(c, c) for c in visible(value))


def leaf(tag: str, value: str | bool | int, depth: int) -> str:
    """One element on its line: ``<tag>value</tag>``, booleans as ``true``/``false``."""
    shown_value = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return f"{INDENT * depth}<{tag}>{text(shown_value)}</{tag}>"


def block(tag: str, lines: list[str], depth: int) -> list[str]:
    """An element holding others (*lines*, already indented one level deeper)."""
    return [f"{INDENT * depth}<{tag}>", *lines, f"{INDENT * depth}</{tag}>"]


def document(root: str, lines: list[str]) -> str:
    """A metadata file: the XML declaration, then *root* in Salesforce's namespace."""
    return "\n".join(['<?xml version="1.0" encoding="UTF-8"?>',
                      f'<{root} xmlns="{NAMESPACE}">', *lines, f"</{root}>"]) + "\n"


# --- reading -------------------------------------------------------------------------------


def parse(path: Path, shown_as: str) -> Element:
    """The root element of the metadata file *path* (named *shown_as* in messages),
    parsed with defusedxml."""
    import defusedxml
    from defusedxml import ElementTree as SafeTree

    try:
        size = path.stat().st_size
        if size > FILE_MOST:
            raise SalesprocError(f"{shown(shown_as)}: {size:,} bytes, too large for a "
                                 f"metadata file (at most {FILE_MOST:,})")
        data = path.read_bytes()
    except OSError as exc:
        raise SalesprocError(f"cannot read {shown(shown_as)}: {exc.strerror or exc}") from None
    try:
        root: Element = SafeTree.fromstring(data, forbid_dtd=True)
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise SalesprocError(f"{shown(shown_as)}:{line}:{column + 1}: not well-formed XML "
                             f"({_reason(exc)})",
                             hint="retrieve the metadata again, or fix the file") from None
    except defusedxml.DefusedXmlException as exc:
        raise SalesprocError(
            f"{shown(shown_as)}: refused: the file declares a document type or entities "
            f"({type(exc).__name__}), which Salesforce metadata never does; they can expand "
            "without end or read other files", hint="this is not metadata Salesforce wrote; "
            "remove the <!DOCTYPE ...> part if you trust the file") from None
    except (ValueError, UnicodeError) as exc:
        raise SalesprocError(f"{shown(shown_as)}: cannot be read as XML ({exc})") from None
    return root


def _reason(exc: ParseError) -> str:
    """The parser's words without its own position (given before them)."""
    message = str(exc)
    return message.split(":")[0] if ": line" in message else message


def name(element: Element) -> str:
    """An element's tag without its namespace."""
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


def children(element: Element, tag: str) -> Iterator[Element]:
    """The child elements called *tag*, in order."""
    return (child for child in element if name(child) == tag)


def value(element: Element, tag: str, default: str = "") -> str:
    """The text of the first child called *tag* (*default* without one)."""
    for child in children(element, tag):
        return (child.text or "").strip() if tag != "info" else (child.text or "")
    return default


def flag(element: Element, tag: str, default: bool = False) -> bool:
    """A ``true``/``false`` child."""
    found = value(element, tag, "")
    return default if not found else found.lower() == "true"


def relative(path: Path, folder: Path) -> str:
    """*path* as messages show it: from the folder given on the command line."""
    try:
        return os.path.join(str(folder), str(path.relative_to(folder)))
    except ValueError:
        return str(path)
