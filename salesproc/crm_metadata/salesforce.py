"""Salesforce's metadata as salesproc writes and reads it: the one home of each rule that
both `export salesforce` and `import salesforce` follow.

- Element names, nesting and order are the Metadata API's, as Salesforce itself writes
  them when it retrieves source (four spaces, one element a line, the XML declaration
  first): a ``StandardValueSet`` of ``standardValue`` entries (``fullName``, ``default``,
  ``label``, ``closed``, ``forecastCategory``, ``probability``, ``won``); a
  ``BusinessProcess`` (``fullName``, ``description``, ``isActive``, ``values``); a
  ``RecordType`` (``fullName``, ``active``, ``businessProcess``, ``description``,
  ``label``); a ``PathAssistant`` (``active``, ``entityName``, ``fieldName``,
  ``masterLabel``, ``pathAssistantSteps`` of ``fieldNames``, ``info``,
  ``picklistValueName``, then ``recordTypeName``); a ``ValidationRule`` (``fullName``,
  ``active``, ``description``, ``errorConditionFormula``, ``errorDisplayField``,
  ``errorMessage``).
- A stage value inside a business process is URL-encoded (``Proposal%2FPrice Quote``), as
  Salesforce writes it: :func:`encode_value`, :func:`decode_value`.
- A Path step's guidance is HTML (rich text), written escaped inside the XML. salesproc
  writes the stage's name in bold, its description in italics, its guidance, and what to
  find out as a list (:func:`guidance_html`), so that :func:`read_guidance` reads each
  back; guidance written by hand is read as plain text.
- Developer names (record types, paths, validation rules) are letters, digits and single
  underscores, starting with a letter, at most 40 characters: :func:`developer_name`.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

NAMESPACE = "http://soap.sforce.com/2006/04/metadata"
INDENT = "    "

#: The stage values of the outcomes when the process's crm: section names none.
WON_VALUE, LOST_VALUE = "Closed Won", "Closed Lost"

#: Salesforce's forecast categories, as the metadata names them (Forecast is shown as
#: Commit), and the chance to win from which an open stage counts as each.
FORECAST_CATEGORIES = ("Omitted", "Pipeline", "BestCase", "Forecast", "Closed")
BEST_CASE_FROM, COMMIT_FROM = 0.4, 0.7

#: What Salesforce holds of a Path step's guidance (characters of its rich text).
GUIDANCE_MOST = 1000
#: Developer names: at most this many characters.
DEVELOPER_NAME_MOST = 40
#: A stage value's name and label; a record type's label; a validation rule's message.
VALUE_MOST, LABEL_MOST, MESSAGE_MOST = 255, 80, 255

#: Characters Salesforce writes URL-encoded in a business process's stage values.
_ENCODED = frozenset('%/\\:*?"<>|#')


def forecast_category(chance: float, *, closed: bool, won: bool) -> str:
    """The forecast category of a stage value: Closed for a win, Omitted for a loss, and
    an open stage's by its chance to win: Forecast (Commit) from 70%, BestCase from 40%,
    else Pipeline."""
    if closed:
        return "Closed" if won else "Omitted"
    return "Forecast" if chance >= COMMIT_FROM else "BestCase" if chance >= BEST_CASE_FROM \
        else "Pipeline"


def encode_value(name: str) -> str:
    """A stage value as a business process's ``values/fullName`` holds it."""
    return "".join(f"%{ord(c):02X}" if c in _ENCODED else c for c in name)


def decode_value(text: str) -> str:
    """:func:`encode_value` undone (any %XX, as Salesforce may encode more)."""
    from urllib.parse import unquote

    return unquote(text)


def developer_name(text: str, taken: set[str] | None = None) -> str:
    """A developer name made from *text* (an id or a name): letters, digits and single
    underscores, starting with a letter, not ending in one, at most 40 characters; one
    not in *taken* (compared without case: Salesforce's are unique that way), which it
    joins."""
    name = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9]+", "_", text)).strip("_")
    if not name or not name[0].isalpha():
        name = ("X_" + name).rstrip("_")
    if len(name) > DEVELOPER_NAME_MOST:
        digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:6]
        name = name[:DEVELOPER_NAME_MOST - 7].rstrip("_") + "_" + digest
    if taken is not None:
        base, k = name, 2
        while name.lower() in taken:
            suffix = f"_{k}"
            name = base[:DEVELOPER_NAME_MOST - len(suffix)].rstrip("_") + suffix
            k += 1
        taken.add(name.lower())
    return name


# --- a Path step's guidance ---------------------------------------------------------------


@dataclass
class Guidance:
    """A Path step's guidance as salesproc reads it: the stage's *name* (None when the
    guidance was not written by salesproc), its *description*, its *guidance* and what to
    find out (*labels*)."""

    name: str | None = None
    description: str = ""
    guidance: str = ""
    labels: list[str] = field(default_factory=list)


FIND_OUT = "Find out:"


def guidance_html(name: str, description: str, guidance: str, labels: list[str]) -> str:
    """A stage's Path guidance: its name in bold, its description in italics, its
    guidance, and what to find out as a list; every text HTML-escaped, line breaks as
    ``<br>``."""

    def text(value: str) -> str:
        return "<br>".join(html.escape(line, quote=False) for line in value.strip().split("\n"))

    parts = [f"<p><b>{text(name)}</b></p>"]
    if description.strip():
        parts.append(f"<p><i>{text(description)}</i></p>")
    if guidance.strip():
        parts.append(f"<p>{text(guidance)}</p>")
    if labels:
        items = "".join(f"<li>{text(label)}</li>" for label in labels)
        parts.append(f"<p>{FIND_OUT}</p><ul>{items}</ul>")
    return "".join(parts)


class _Blocks(HTMLParser):
    """Rich text as blocks: (kind, text), kind ``b`` (a bold paragraph), ``i`` (italic),
    ``p`` (plain) or ``li``; line breaks kept as newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, str]] = []
        self.open: list[str] = []
        self.text: list[str] = []
        self.marks: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("p", "li", "div"):
            self._close()
            self.open = [tag]
            self.marks = set()
        elif tag == "br":
            self.text.append("\n")
        elif tag in ("b", "strong", "i", "em") and not "".join(self.text).strip():
            self.marks.add("b" if tag in ("b", "strong") else "i")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("p", "li", "div"):
            self._close()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def _close(self) -> None:
        text = "\n".join(line.strip() for line in "".join(self.text).split("\n")).strip()
        if text:
            kind = "li" if self.open == ["li"] else "b" if self.marks == {"b"} else \
                "i" if self.marks == {"i"} else "p"
            self.blocks.append((kind, text))
        self.text, self.marks = [], set()

    def close(self) -> None:
        super().close()
        self._close()


def read_guidance(info: str) -> Guidance:
    """A Path step's guidance read back: salesproc's own (:func:`guidance_html`) part by
    part, anything else as its text (paragraphs and list items on lines of their own)."""
    parser = _Blocks()
    parser.feed(info)
    parser.close()
    blocks = parser.blocks
    if not blocks or blocks[0][0] != "b":
        return Guidance(guidance="\n".join(("- " if k == "li" else "") + t for k, t in blocks))
    found = Guidance(name=blocks[0][1])
    rest = blocks[1:]
    if rest and rest[0][0] == "i":
        found.description = rest[0][1]
        rest = rest[1:]
    plain: list[str] = []
    for k, (kind, text) in enumerate(rest):
        if kind == "p" and text == FIND_OUT and all(b[0] == "li" for b in rest[k + 1:]):
            found.labels = [t for _, t in rest[k + 1:]]
            break
        plain.append(("- " if kind == "li" else "") + text)
    found.guidance = "\n".join(plain)
    return found


# --- validation rules ----------------------------------------------------------------------


def formula_text(value: str) -> str:
    """A text literal of a Salesforce formula."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rule_formula(values: list[str], record_types: list[str], field_name: str) -> str:
    """The error condition of a validation rule that asks for *field_name* once a deal
    (of one of *record_types*, all when empty) is at one of the stage *values*."""
    stages = ",\n    ".join(f"ISPICKVAL(StageName, {formula_text(v)})" for v in values)
    parts = []
    if record_types:
        types = ", ".join(f"RecordType.DeveloperName = {formula_text(t)}" for t in record_types)
        parts.append(f"OR({types})" if len(record_types) > 1 else types)
    parts.append(f"OR(\n    {stages}\n)" if len(values) > 1 else stages)
    parts.append(f"ISBLANK({field_name})")
    return "AND(\n" + ",\n".join(parts) + "\n)"
