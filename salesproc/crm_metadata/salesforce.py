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

#: The record type a Path names when it is for every record type.
MASTER_RECORD_TYPE = "__MASTER__"

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
#: An approval process's label (its description holds the whole name).
APPROVAL_LABEL_MOST = 40

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


def identifier(text: str, taken: set[str] | None = None) -> str:
    """A salesproc id made from a CRM name (``Proposal/Price Quote`` ->
    ``proposal_price_quote``): lower case, digits and underscores, starting with a letter,
    at most 64 characters; one not in *taken*, which it joins."""
    word = re.sub(r"_+", "_", re.sub(r"[^a-z0-9]+", "_", text.lower())).strip("_")
    if not word or not word[0].isalpha():
        word = ("s_" + word).rstrip("_")
    word = word[:60].rstrip("_")
    if taken is not None:
        base, k = word, 2
        while word in taken:
            word = f"{base}_{k}"
            k += 1
        taken.add(word)
    return word


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


def guidance_html(name: str | None, description: str, guidance: str,
                  labels: list[str]) -> str:
    """A stage's Path guidance: its *name* in bold (None: left out, when the step's value
    is the name already), its description in italics, each line of its guidance a
    paragraph, and what to find out as a list; every text HTML-escaped."""

    def text(value: str) -> str:
        return html.escape(value.strip(), quote=False)

    parts = [] if name is None else [f"<p><b>{text(name)}</b></p>"]
    if description.strip():
        parts.append(f"<p><i>{text(' '.join(description.split()))}</i></p>")
    parts += [f"<p>{text(line)}</p>" for line in guidance.split("\n") if line.strip()]
    if labels:
        items = "".join(f"<li>{text(label)}</li>" for label in labels)
        parts.append(f"<p>{FIND_OUT}</p><ul>{items}</ul>")
    return "".join(parts)


class _Blocks(HTMLParser):
    """Rich text as blocks: (kind, text), kind ``b`` (a paragraph all in bold), ``i`` (all
    in italics), ``p`` (any other) or ``li``; line breaks kept as newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, str]] = []
        self.item = False
        self.text: list[str] = []
        self.styles: list[str] = []  # the bold or italic elements open now
        self.kinds: set[str] = set()  # how each piece of the block's text was styled

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("p", "li", "div"):
            self._close()
            self.item = tag == "li"
        elif tag == "br":
            self.text.append("\n")
        elif tag in ("b", "strong", "i", "em"):
            self.styles.append("b" if tag in ("b", "strong") else "i")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("p", "li", "div"):
            self._close()
        elif tag in ("b", "strong", "i", "em") and self.styles:
            self.styles.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if data.strip():
            self.kinds.add(self.styles[-1] if len(self.styles) == 1 else "p")

    def _close(self) -> None:
        text = "\n".join(line.strip() for line in "".join(self.text).split("\n")).strip()
        if text:
            kind = "li" if self.item else next(iter(self.kinds)) if len(self.kinds) == 1 \
                else "p"
            self.blocks.append((kind, text))
        self.text, self.kinds, self.item = [], set(), False

    def close(self) -> None:
        super().close()
        self._close()


def read_guidance(info: str) -> Guidance:
    """A Path step's guidance read back, as :func:`guidance_html` writes it: a first
    paragraph all in bold is the stage's name, a paragraph all in italics after it its
    description, a "Find out:" list what to find out, the other paragraphs (list items
    as "- item") the guidance, one a line."""
    parser = _Blocks()
    parser.feed(info)
    parser.close()
    rest = parser.blocks
    found = Guidance()
    if rest and rest[0][0] == "b":
        found.name, rest = rest[0][1], rest[1:]
    if rest and rest[0][0] == "i":
        found.description, rest = rest[0][1], rest[1:]
    plain: list[str] = []
    for k, (kind, text) in enumerate(rest):
        if text == FIND_OUT and rest[k + 1:] and all(b[0] == "li" for b in rest[k + 1:]):
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


_LITERAL = r'"((?:[^"\\]|\\.)*)"'
_RULE = re.compile(r"\s*AND\s*\((?P<body>.*)\)\s*", re.S)
_STAGE = re.compile(r"ISPICKVAL\s*\(\s*StageName\s*,\s*" + _LITERAL + r"\s*\)")
_TYPE = re.compile(r"RecordType\.DeveloperName\s*=\s*" + _LITERAL)
_BLANK = re.compile(r"ISBLANK\s*\(\s*([A-Za-z][A-Za-z0-9_]*)\s*\)")


def read_rule(formula: str) -> tuple[list[str], list[str], str] | None:
    """(stage values, record types, field) of a rule :func:`rule_formula` wrote; None for
    any other formula (it is then not salesproc's to read)."""
    found = _RULE.fullmatch(formula)
    if found is None:
        return None

    def unquote(text: str) -> str:
        return re.sub(r"\\(.)", r"\1", text)

    values = [unquote(v) for v in _STAGE.findall(formula)]
    types = [unquote(t) for t in _TYPE.findall(formula)]
    blanks = _BLANK.findall(formula)
    if not values or len(blanks) != 1:
        return None
    if rule_formula(values, types, blanks[0]).split() != formula.split():
        return None
    return values, types, blanks[0]


# --- approval processes --------------------------------------------------------------------

#: The value bounds an approval's entry criteria may hold, as the formula writes them.
BOUNDS = (("gte", ">="), ("gt", ">"), ("lte", "<="), ("lt", "<"))


def approval_formula(values: list[str], record_types: list[str],
                     bounds: list[tuple[str, float]]) -> str:
    """The entry criteria of an approval process salesproc writes: the deal is at one of
    the stage *values*, of one of the *record_types* (all when empty), and its Amount
    within *bounds* ((gte|gt|lte|lt, number) pairs)."""
    parts = []
    stages = [f"ISPICKVAL(StageName, {formula_text(v)})" for v in values]
    parts.append(f"OR({', '.join(stages)})" if len(stages) > 1 else stages[0])
    if record_types:
        types = [f"RecordType.DeveloperName = {formula_text(t)}" for t in record_types]
        parts.append(f"OR({', '.join(types)})" if len(types) > 1 else types[0])
    signs = dict(BOUNDS)
    parts += [f"Amount {signs[op]} {number:.15g}" for op, number in bounds]
    return f"AND({', '.join(parts)})" if len(parts) > 1 else parts[0]


_AMOUNT = re.compile(r"Amount\s*(>=|<=|>|<)\s*(-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)")


def read_approval_formula(formula: str) -> tuple[list[str], list[str],
                                                 list[tuple[str, float]]] | None:
    """(stage values, record types, Amount bounds) of entry criteria that
    :func:`approval_formula` wrote; None for any other formula."""
    def unquote(text: str) -> str:
        return re.sub(r"\\(.)", r"\1", text)

    values = [unquote(v) for v in _STAGE.findall(formula)]
    types = [unquote(t) for t in _TYPE.findall(formula)]
    ops = {sign: op for op, sign in BOUNDS}
    bounds = [(ops[sign], float(number)) for sign, number in _AMOUNT.findall(formula)]
    if not values:
        return None
    if approval_formula(values, types, bounds).replace(" ", "") != formula.replace(" ", "") \
            .replace("\n", ""):
        return None
    return values, types, bounds
