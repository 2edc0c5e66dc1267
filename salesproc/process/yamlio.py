"""Safe YAML loading that remembers where every value came from.

PyYAML composes the file into nodes (no Python objects are ever constructed from tags);
we build plain dicts, lists and scalars from those nodes ourselves so that we can

* record the line and column of every key and value (for file:line:col diagnostics),
* report duplicate keys with both positions (PyYAML silently keeps the last one),
* bound alias expansion, node count and nesting (a "billion laughs" file stops at once),
* refuse non-finite numbers and unknown tags, and note YAML 1.1 booleans (yes/no/on/off).
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from salesproc.core.diagnostics import Diagnostic, make
from salesproc.core.errors import InvalidProcessError

MAX_FILE_BYTES = 1_000_000  # a large enterprise process is ~30 kB
MAX_NODES = 200_000  # values built, counting every alias expansion
MAX_ALIASES = 2_000
MAX_DEPTH = 50

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML11_TRUE_FALSE = {"true", "false"}
_YAML12_FLOAT = re.compile(r"^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$")
_YAML11_OCTAL = re.compile(r"^[-+]?0[0-7_]+$")  # 010 is 8 to YAML 1.1, 10 to YAML 1.2
_YAML11_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$")  # 1:30 is 90
MAX_DIGITS = 100  # a number longer than this is a mistake (and Python refuses > 4300)
_COLLECTIONS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Span:
    """Where a value stands in its file: start and end line and column, 1-based."""

    line: int  # 1-based
    column: int  # 1-based
    end_line: int
    end_column: int

    @classmethod
    def of(cls, node: yaml.Node) -> Span:
        start, end = node.start_mark, node.end_mark
        return cls(start.line + 1, start.column + 1, end.line + 1, end.column + 1)


@dataclass
class Document:
    """A loaded YAML file: its data and where each part of it stands in the file."""

    file: str
    data: Any
    values: dict[Path, Span] = field(default_factory=dict)
    keys: dict[Path, Span] = field(default_factory=dict)
    yaml11_booleans: dict[Path, str] = field(default_factory=dict)  # path -> 'no', 'on'...
    findings: list[Diagnostic] = field(default_factory=list)  # duplicate keys, NaN, tags
    refused: set[Path] = field(default_factory=set)  # values already reported in findings
    files: dict[Path, str] = field(default_factory=dict)  # parts from other files (variants)

    def file_of(self, path: Path) -> str:
        """The file that holds *path*: a variant's merged document spans several files."""
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.files:
                return self.files[path[:cut]]
        return self.file

    def span(self, path: Path, key: bool = False) -> Span:
        """The span of the value at *path* (or of its key); the nearest known ancestor if absent."""
        table = self.keys if key else self.values
        if path in table:
            return table[path]
        for cut in range(len(path) - 1, -1, -1):
            if path[:cut] in self.values:
                return self.values[path[:cut]]
        return Span(1, 1, 1, 1)

    def diagnostic(self, code: str, message: str, path: Path, *, key: bool = False,
                   hint: str | None = None) -> Diagnostic:
        span = self.span(path, key=key)
        return make(code, message, file=self.file_of(path), line=span.line, column=span.column,
                    end_line=span.end_line, end_column=span.end_column,
                    path=json_pointer(path), hint=hint)


def json_pointer(path: Path) -> str:
    """A path as a JSON pointer (/stages/0/next), as findings report it."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def load_file(path: str | os.PathLike[str]) -> Document:
    """Read and parse *path*; raise :class:`InvalidProcessError` if it is not usable YAML."""
    name = os.fspath(path)
    text = _read_text(name)
    return load_text(text, name)


def _fail(name: str, code: str, message: str, hint: str | None = None, line: int = 1,
          column: int = 1) -> InvalidProcessError:
    diag = make(code, message, file=name, line=line, column=column, hint=hint)
    return InvalidProcessError([diag])


def _read_text(name: str) -> str:
    if "\x00" in name:
        raise _fail(name.replace("\x00", "\\0"), "SP001", "a file name cannot hold a NUL "
                    "character")
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise _fail(name, "SP001", "this is not a regular file (a pipe or a device)",
                            "name a process file saved on disk")
            raw = handle.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:
        raise _fail(name, "SP001", "this is a folder, not a file") from None
    except FileNotFoundError:
        raise _fail(name, "SP001", "no such file", "check the path and its spelling") from None
    except OSError as exc:
        raise _fail(name, "SP001", f"cannot read the file: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise _fail(name, "SP002", f"the file is larger than {MAX_FILE_BYTES:,} bytes",
                    "a process file is a few kilobytes; is this the right file?")
    if b"\x00" in raw:
        raise _fail(name, "SP003", "this is a binary file, not a YAML text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _fail(name, "SP003", f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x})",
                    "save the file as UTF-8 in your editor", line=line) from None
    return text.removeprefix("\ufeff")


def load_text(text: str, name: str = "<string>") -> Document:
    """Parse YAML *text*; raise :class:`InvalidProcessError` if it is not usable.

    Findings that leave the document usable (duplicate keys, NaN, tags) are kept in
    :attr:`Document.findings` so that they are reported with the schema's findings.
    """
    try:
        _check_depth(text, name)
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        if "nesting depth" in problem:  # libyaml's own nesting limit (PyYAML >= 6.0.2 builds)
            raise _fail(name, "SP007", f"values nest more than {MAX_DEPTH} levels deep",
                        "a process file nests a few levels; is this the right file?",
                        line, column) from None
        hint = _syntax_hint(problem, text.splitlines(), line, column)
        raise _fail(name, "SP005", f"YAML syntax error: {problem}", hint, line, column) from None
    except yaml.YAMLError as exc:
        raise _fail(name, "SP005", f"YAML syntax error: {exc}") from None
    except RecursionError:
        raise _fail(name, "SP007", "the YAML nests too deeply to read") from None
    if node is None:
        raise _fail(name, "SP004", "the file is empty",
                    "start from `salesproc init NAME`, which writes a starter process")
    builder = _Builder(name)
    try:
        data = builder.build(node, ())
    except _TooComplex as exc:
        raise _fail(name, "SP007", str(exc), "write the values out instead of using aliases",
                    exc.span.line, exc.span.column) from None
    doc = Document(name, data, builder.values, builder.keys, builder.yaml11_booleans,
                   builder.errors, builder.refused)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "a single value"
        raise InvalidProcessError([doc.diagnostic(
            "SP008", f"the file holds {kind}; a process file is a mapping of keys", (),
            hint="start with `salesproc: 1` on the first line, then `name:`, `stages:` ...")])
    return doc


def _check_depth(text: str, name: str) -> None:
    """Refuse deep nesting from the event stream, before composing (which is slow on it)."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
                raise _fail(name, "SP007", f"values nest more than {MAX_DEPTH} levels deep",
                            "a process file nests a few levels; is this the right file?",
                            line, column)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"the value '{node.value}'" if isinstance(node, yaml.ScalarNode) else "this"


def _syntax_hint(problem: str, lines: list[str], line: int, column: int) -> str | None:
    """What to do about a YAML syntax error at *line* and *column* of *lines*: which
    character or which indentation is wrong, and what the lines around it say."""
    if "tab" in problem:
        return f"line {line} has a tab at column {column}: YAML indents with spaces, never " \
               "tabs; replace it with spaces that line it up with the lines around it"
    indentation = _indentation_hint(lines, line)
    if indentation is not None and ("mapping values are not allowed" in problem
                                    or "did not find expected" in problem
                                    or "expected <block end>" in problem):
        return indentation
    if "mapping values are not allowed" in problem:
        return "a value containing ': ' must be quoted, e.g. title: \"Sales: EMEA\""
    if "expected <block end>" in problem or "did not find expected key" in problem:
        return "check the indentation of this line against the lines above"
    return None


def _indentation_hint(lines: list[str], number: int) -> str | None:
    """Where line *number*'s indentation breaks the block it stands in: deeper than the
    line above it, which opens no block; or lined up with no line above it. None when
    its indentation is not the trouble."""
    def content(n: int) -> bool:
        text = lines[n - 1].strip()
        return bool(text) and not text.startswith("#")

    def indent(n: int) -> int:
        return len(lines[n - 1]) - len(lines[n - 1].lstrip(" "))

    if not 1 <= number <= len(lines) or not content(number):
        return None
    k = indent(number)
    above = next((n for n in range(number - 1, 0, -1) if content(n)), None)
    if above is None:
        return None
    j = indent(above)
    opens = lines[above - 1].split(" #")[0].rstrip().endswith((":", "|", ">", "-")) or \
        (lines[above - 1].lstrip().startswith("- ") and k == j + 2)
    if k > j and not opens:
        return f"line {number} is indented {k} spaces, deeper than line {above} above it " \
               f"({j}), which opens no block: the keys of one mapping start in the same column"
    if k < j:
        outer = next((n for n in range(above, 0, -1) if content(n) and indent(n) <= k), None)
        if outer is not None and indent(outer) != k:
            return f"line {number} is indented {k} spaces, which lines up with no line " \
                   f"above it (line {above}: {j}, line {outer}: {indent(outer)}): indent it " \
                   "like the lines it belongs with"
    return None


class _TooComplex(Exception):
    def __init__(self, message: str, span: Span) -> None:
        super().__init__(message)
        self.span = span


class _Builder:
    """Builds Python values from composed nodes, recording positions and findings."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.values: dict[Path, Span] = {}
        self.keys: dict[Path, Span] = {}
        self.yaml11_booleans: dict[Path, str] = {}
        self.errors: list[Diagnostic] = []
        self.refused: set[Path] = set()
        self.nodes = 0
        self.seen: set[int] = set()
        self.aliases = 0
        self.scalars = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: Path) -> Any:
        self._count(node, path)
        self.values.setdefault(path, Span.of(node))
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _COLLECTIONS:
            self._error("SP009", f"unsupported YAML tag {node.tag}", Span.of(node), path,
                        "remove the tag; process files hold plain values only")
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)  # the composer makes only these three
        return self._scalar(node, path)

    def _count(self, node: yaml.Node, path: Path) -> None:
        self.nodes += 1
        if id(node) in self.seen and not isinstance(node, yaml.ScalarNode):
            self.aliases += 1  # a collection built a second time: an alias expansion
        self.seen.add(id(node))
        if self.nodes > MAX_NODES or self.aliases > MAX_ALIASES:
            raise _TooComplex("aliases expand to too many values (is this an alias bomb?)",
                              Span.of(node))
        if len(path) > MAX_DEPTH:
            raise _TooComplex(f"values nest more than {MAX_DEPTH} levels deep", Span.of(node))

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, Span] = {}
        for key_node, value_node in self._pairs(node):
            key = self._key(key_node)
            if key is None:
                continue
            key_span = Span.of(key_node)
            if key in first_seen:
                before = first_seen[key]
                self.errors.append(make(
                    "SP006", f"duplicate key '{key}' (first at line {before.line})",
                    file=self.file, line=key_span.line, column=key_span.column,
                    end_line=key_span.end_line, end_column=key_span.end_column,
                    path=json_pointer((*path, key)),
                    hint="YAML keeps only one of them; merge the two or rename one"))
                continue
            first_seen[key] = key_span
            child = (*path, key)
            self.keys[child] = key_span
            result[key] = self.build(value_node, child)
        return result

    def _pairs(self, node: yaml.MappingNode, merging: tuple[int, ...] = ()
               ) -> Iterator[tuple[yaml.Node, yaml.Node]]:
        """Key/value node pairs, with YAML merge keys (<<) expanded; explicit keys win.

        *merging* holds the mappings being merged into, so that a merge of a mapping into
        itself (<<: *self) is reported instead of recursing forever.
        """
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        explicit: list[tuple[yaml.Node, yaml.Node]] = []
        merging = (*merging, id(node))
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) \
                    else [value_node]
                for source in sources:
                    span = Span.of(source)
                    if not isinstance(source, yaml.MappingNode):
                        self._merge_error(f"<< merges mappings, not {_kind(source)}", span,
                                          "write <<: *name, where &name marks a mapping")
                    elif id(source) in merging:
                        self._merge_error("<< merges a mapping into itself", span,
                                          "a merge key may name another mapping only")
                    else:
                        self._count(source, ())
                        merged.extend(self._pairs(source, merging))
            else:
                explicit.append((key_node, value_node))
        names = {k.value for k, _ in explicit if isinstance(k, yaml.ScalarNode)}
        kept: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in merged:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value not in names:
                kept.setdefault(key_node.value, (key_node, value_node))
        yield from kept.values()
        yield from explicit

    def _merge_error(self, message: str, span: Span, hint: str) -> None:
        self.errors.append(make("SP012", message, file=self.file, line=span.line,
                                column=span.column, end_line=span.end_line,
                                end_column=span.end_column, hint=hint))

    def _key(self, node: yaml.Node) -> str | None:
        if isinstance(node, yaml.ScalarNode):
            return str(node.value)
        span = Span.of(node)
        self.errors.append(make("SP005", "a key must be plain text, not a list or mapping",
                                file=self.file, line=span.line, column=span.column))
        return None

    def _scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        tag = node.tag
        if tag == "tag:yaml.org,2002:str":
            if not node.style and _YAML12_FLOAT.match(node.value):  # plain: None or ""
                return float(node.value)  # 1e6: a number in YAML 1.2, text to PyYAML
            return node.value
        if tag == "tag:yaml.org,2002:timestamp":
            return node.value  # no dates in the format: keep the text
        span = Span.of(node)
        short = tag.replace("tag:yaml.org,2002:", "!!")
        if tag not in {"tag:yaml.org,2002:" + t for t in ("int", "float", "bool", "null")}:
            self._error("SP009", f"unsupported YAML tag {short}", span, path,
                        "remove the tag; process files hold plain values only")
            return None
        plain = not node.style
        if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
            digits = sum(c.isalnum() for c in node.value)  # hexadecimal (0x...) too
            if digits > MAX_DIGITS:
                self._error("SP010", f"a number of {digits:,} "
                            "digits is not a sensible value", span, path,
                            "write an ordinary number")
                return None
            if plain and (_YAML11_OCTAL.match(node.value) or _YAML11_BASE60.match(node.value)):
                return self._yaml11_number(node, span, path)
        try:
            value = self.scalars.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, IndexError, KeyError):
            self._error("SP009", f"'{node.value}' cannot be read as {short}", span, path,
                        "remove the tag; process files hold plain values only")
            return None
        if isinstance(value, bool) and node.value.lower() not in _YAML11_TRUE_FALSE:
            self.yaml11_booleans[path] = node.value
        if isinstance(value, float) and not math.isfinite(value):
            self._error("SP010", f"'{node.value}' is not a finite number", span, path,
                        "write an ordinary number")
        return value

    def _yaml11_number(self, node: yaml.ScalarNode, span: Span, path: Path) -> None:
        value = self.scalars.construct_object(node, deep=True)
        text = node.value
        if ":" in text:
            hint = "for a time write 1.5h or 90min; for text, put it in quotes"
            how = "in base 60"
        else:
            hint = f"write {text.lstrip('0+-') or '0'} for the number, or '{text}' in quotes " \
                   "for text"
            how = "as an octal number"
        self._error("SP011", f"'{text}' is read {how}, as {value} (YAML 1.1)", span, path, hint)

    def _error(self, code: str, message: str, span: Span, path: Path, hint: str) -> None:
        self.refused.add(path)
        self.errors.append(make(code, message, file=self.file, line=span.line,
                                column=span.column, end_line=span.end_line,
                                end_column=span.end_column, path=json_pointer(path), hint=hint))
