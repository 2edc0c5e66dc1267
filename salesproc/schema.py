"""Check a loaded document against ``schemas/process.schema.json``.

jsonschema's errors are precise but written for programmers; each one is turned into a
:class:`~salesproc.diagnostics.Diagnostic` that sales ops can act on: located at the
offending key or value, with a code and, where it helps, a "did you mean".
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

from salesproc.diagnostics import Diagnostic, did_you_mean
from salesproc.yamlio import Document, Path

FORMAT_VERSION = 1
SCHEMA_RESOURCE = "schemas/process.schema.json"
_TYPE_NAMES = {"object": "a mapping (key: value)", "array": "a list", "string": "text",
               "number": "a number", "integer": "a whole number", "boolean": "true or false",
               "null": "nothing"}


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The published JSON Schema of process files, as shipped inside the package."""
    text = resources.files("salesproc").joinpath(SCHEMA_RESOURCE).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def schema_path() -> str:
    return str(resources.files("salesproc").joinpath(SCHEMA_RESOURCE))


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft7Validator  # deferred: only `validate` pays for it

    return Draft7Validator(schema())


def check(doc: Document) -> list[Diagnostic]:
    """Every schema finding in *doc*, version first (a newer file is not read further)."""
    version = _check_version(doc)
    if version and version[0].code == "SP101":
        return version
    found: dict[tuple[str, str, str], Diagnostic] = {}
    reported = doc.refused | ({("salesproc",)} if version else set())
    translator = _Translator(doc)
    for error in _validator().iter_errors(doc.data):
        if tuple(error.absolute_path) in reported:
            continue  # already reported, more precisely, by the loader or the version check
        for diag in translator.translate(error):
            found.setdefault((diag.code, diag.path, diag.message), diag)
    return version + sorted(found.values(), key=Diagnostic.sort_key)


def _check_version(doc: Document) -> list[Diagnostic]:
    data = doc.data
    if "salesproc" not in data:
        return [doc.diagnostic("SP100", "the file does not say its format version", (),
                               hint="add `salesproc: 1` as the first line")]
    value = data["salesproc"]
    if isinstance(value, int) and not isinstance(value, bool) and value > FORMAT_VERSION:
        return [doc.diagnostic(
            "SP101", f"this file is format {value}; this salesproc reads format "
            f"{FORMAT_VERSION}", ("salesproc",),
            hint="this file needs a newer salesproc: pip install --upgrade salesproc")]
    if value != FORMAT_VERSION or isinstance(value, bool):
        return [doc.diagnostic("SP100", f"unknown format version {value!r}", ("salesproc",),
                               hint="write `salesproc: 1`")]
    return []


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f"the text '{value}'"
    return f"the number {value}"


def _snake(text: str) -> str:
    out = "".join(c if c.isalnum() else "_" for c in text.strip().lower())
    return "_".join(part for part in out.split("_") if part) or "my_id"


class _Translator:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        defs = schema()["definitions"]
        self.kinds = {id(defs["distribution"]): "distribution", id(defs["duration"]): "duration",
                      id(defs["quantity"]): "duration"}
        self.patterns = {defs["id"]["pattern"]: "id", defs["duration_text"]["pattern"]: "duration"}

    def translate(self, error: Any) -> Iterator[Diagnostic]:
        path: Path = tuple(error.absolute_path)
        method = getattr(self, "_" + error.validator, None)
        if method is None:
            yield self.doc.diagnostic("SP110", error.message, path)
        else:
            yield from method(error, path)

    def _additionalProperties(self, error: Any, path: Path) -> Iterator[Diagnostic]:
        known = list(error.schema.get("properties", {}))
        for key in error.instance:
            if key in known or key.startswith("x-"):
                continue
            where = f" in {_where(path)}" if path else ""
            hint = did_you_mean(key, known) or (
                "text with a comma inside {...} must be quoted: {label: \"A, B\"}"
                if " " in key else
                f"known keys here: {', '.join(known)}; or prefix your own keys with x-")
            yield self.doc.diagnostic("SP102", f"unknown key '{key}'{where}", (*path, key),
                                      key=True, hint=hint)

    def _required(self, error: Any, path: Path) -> Iterator[Diagnostic]:
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        if not path and missing == "salesproc":
            return  # reported by the version check
        description = error.schema.get("properties", {}).get(missing, {}).get("description")
        where = f" in {_where(path)}" if path else ""
        yield self.doc.diagnostic("SP103", f"missing required key '{missing}'{where}", path,
                                  hint=f"add {missing}: ..." + (f" ({description})"
                                                               if description else ""))

    def _type(self, error: Any, path: Path) -> Iterator[Diagnostic]:
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        if path in self.doc.yaml11_booleans and "boolean" not in names:
            yield self._yaml11(path, wanted)
            return
        yield self.doc.diagnostic("SP104", f"expected {wanted}, got {_describe(error.instance)}",
                                  path)

    def _yaml11(self, path: Path, wanted: str) -> Diagnostic:
        text = self.doc.yaml11_booleans[path]
        return self.doc.diagnostic(
            "SP109", f"'{text}' is read as a yes/no value (true/false); {wanted} is expected "
            "here", path, hint=f"YAML reads yes, no, on and off as true/false: write '{text}' "
            "in quotes")

    def _pattern(self, error: Any, path: Path) -> Iterator[Diagnostic]:
        kind = self.patterns.get(error.validator_value)
        if "propertyNames" in error.absolute_schema_path:  # the key itself is wrong
            yield from self._propertyNames(error, path)
        elif kind == "id":
            yield self.doc.diagnostic(
                "SP105", f"'{error.instance}' is not a valid id", path,
                hint=f"ids are lowercase letters, digits and _, e.g. '{_snake(error.instance)}'")
        elif kind == "duration":
            yield self._bad_duration(error.instance, path)
        else:
            yield self.doc.diagnostic("SP110", f"'{error.instance}' is not allowed here", path,
                                      hint=error.schema.get("description"))

    def _propertyNames(self, error: Any, path: Path) -> Iterator[Diagnostic]:
        key = error.instance
        extension = " (x- keys are allowed only where the format has fixed keys)" \
            if str(key).startswith("x-") else ""
        yield self.doc.diagnostic(
            "SP105", f"'{key}' is not a valid id{extension}", (*path, key), key=True,
            hint=f"ids are lowercase letters, digits and _, e.g. '{_snake(str(key))}'")

    def _bad_duration(self, value: Any, path: Path) -> Diagnostic:
        return self.doc.diagnostic(
            "SP107", f"'{value}' is not a duration", path,
            hint="write a number in the file's time_unit, or a number with min, h, d or w "
            "(e.g. 4h, 3d, 2w)")

    def _range(self, error: Any, path: Path) -> Iterator[Diagnostic]:
        bound = error.validator_value
        side = "at least" if error.validator.startswith(("minimum", "exclusiveMinimum")) \
            else "at most"
        what = error.schema.get("description", "")
        hint = what if what else None
        yield self.doc.diagnostic("SP106", f"{error.instance} is out of range: it must be "
                                  f"{side} {bound:g}", path, hint=hint)

    _minimum = _maximum = _exclusiveMinimum = _exclusiveMaximum = _range

    def _enum(self, error: Any, path: Path) -> Iterator[Diagnostic]:
        allowed = [str(v) for v in error.validator_value]
        hint = (did_you_mean(str(error.instance), allowed) if isinstance(error.instance, str)
                else None) or f"choose one of: {', '.join(allowed)}"
        if path in self.doc.yaml11_booleans:
            yield self._yaml11(path, "one of " + ", ".join(allowed))
            return
        yield self.doc.diagnostic("SP110", f"{_describe(error.instance)} is not allowed here",
                                  path, hint=hint)

    def _anyOf(self, error: Any, path: Path) -> Iterator[Diagnostic]:
        kind = self.kinds.get(id(error.schema))
        if kind is None:
            yield self.doc.diagnostic("SP110", error.message, path)
            return
        value = error.instance
        if isinstance(value, bool) or not isinstance(value, (int, float, str, dict)):
            yield from self._type_of_quantity(value, path, kind)
        elif isinstance(value, (int, float)):
            yield from self._branch_errors(error, 0)
        elif isinstance(value, str):
            yield self._bad_duration(value, path)
        else:
            yield from self._distribution(error, value, path)

    def _type_of_quantity(self, value: Any, path: Path, kind: str) -> Iterator[Diagnostic]:
        if path in self.doc.yaml11_booleans:
            yield self._yaml11(path, "a number")
            return
        code = "SP108" if kind == "distribution" else "SP104"
        yield self.doc.diagnostic(code, f"expected a number or a {kind}, got "
                                  f"{_describe(value)}", path, hint=_DIST_HINT)

    def _distribution(self, error: Any, value: dict[str, Any], path: Path
                      ) -> Iterator[Diagnostic]:
        from salesproc.dists import KINDS

        if len(value) != 1:
            yield self.doc.diagnostic("SP108", "a distribution has exactly one kind, got "
                                      f"{', '.join(map(str, value)) or 'none'}", path,
                                      hint=_DIST_HINT)
            return
        (kind,) = value
        if kind not in KINDS:
            yield self.doc.diagnostic("SP108", f"unknown distribution '{kind}'", (*path, kind),
                                      key=True, hint=did_you_mean(kind, KINDS) or _DIST_HINT)
            return
        yield from self._branch_errors(error, 1 + KINDS.index(kind))

    def _branch_errors(self, error: Any, branch: int) -> Iterator[Diagnostic]:
        for sub in error.context:
            if sub.schema_path and sub.schema_path[0] == branch:
                yield from self.translate(sub)


_DIST_HINT = ("write a number, or one of: {exponential: {mean: 2}}, {uniform: {min: 1, max: 3}}, "
              "{triangular: [1, 2, 5]}, {normal: {mean: 2, sd: 1}}, {lognormal: {mean: 2, sd: 1}}, "
              "{gamma: {mean: 2, sd: 1}}, {empirical: [1, 2, 4]}")


def _where(path: Path) -> str:
    """A readable name for a place in the file: 'stage 3', 'roles.ae', ..."""
    if len(path) >= 2 and path[0] == "stages" and isinstance(path[1], int):
        rest = ".".join(map(str, path[2:]))
        return f"stage {path[1] + 1}" + (f" ({rest})" if rest else "")
    return ".".join(map(str, path))
