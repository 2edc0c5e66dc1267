"""Check a loaded document against ``schemas/process.schema.json``.

jsonschema's errors are precise but written for programmers; each one is turned into a
:class:`~salesproc.core.diagnostics.Diagnostic` that sales ops can act on: located at the
offending key or value, with a code and, where it helps, a "did you mean".
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator
from importlib import resources
from typing import Any

from salesproc.core.diagnostics import Diagnostic, did_you_mean, shown
from salesproc.process.yamlio import Document, Path, json_pointer

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
    """Where the installed schema file is."""
    return str(resources.files("salesproc").joinpath(SCHEMA_RESOURCE))


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft7Validator, validators  # deferred: only `validate` pays

    def pattern(validator: Any, regex: str, instance: Any, _schema: Any) -> Iterator[Any]:
        # JSON Schema patterns are ECMA 262, where $ matches only at the very end; in
        # Python it also matches before a final newline, so 'demo\n' passed as an id
        if validator.is_type(instance, "string") and not re.search(_ecma(regex), instance):
            from jsonschema.exceptions import ValidationError

            yield ValidationError(f"{instance!r} does not match {regex!r}")

    return validators.extend(Draft7Validator, {"pattern": pattern})(schema())


@functools.lru_cache(maxsize=64)
def _ecma(regex: str) -> str:
    """A pattern's Python form with ECMA's end anchor: a final unescaped $ becomes \\Z."""
    if regex.endswith("$") and not regex.endswith("\\$"):
        return regex[:-1] + r"\Z"
    return regex


def check(doc: Document) -> list[Diagnostic]:
    """Every schema finding in *doc*, version first (a newer file is not read further)."""
    version = _check_version(doc)
    if version and version[0].code == "SP101":
        return version
    found: dict[tuple[str, str, str], Diagnostic] = {}
    reported = doc.refused | ({("salesproc",)} if version else set())
    translator = _Translator(doc)
    for error in _errors(doc.data):
        if tuple(error.absolute_path) in reported:
            continue  # already reported, more precisely, by the loader or the version check
        for diag in translator.translate(error):
            found.setdefault((diag.code, diag.path, diag.message), diag)
    for path in doc.yaml11_booleans:  # the schema cannot see into x- keys
        if any(str(part).startswith("x-") for part in path):
            diag = translator.yaml11(path, None)
            found.setdefault((diag.code, diag.path, diag.message), diag)
    # an x- key refused in a condition: what is written under it adds nothing
    refused = [d.path for d in found.values() if d.code == "SP111"]
    kept = [d for d in found.values()
            if d.code == "SP111" or not any(_within(d.path, p) for p in refused)]
    findings = _dedented(doc, _one_per_place(kept))
    return version + sorted(findings, key=Diagnostic.sort_key)


#: Documents the schema found nothing wrong with, by their content: a process read again
#: (every command of a session, every test) is not validated again. Bounded.
_VALID: dict[str, None] = {}
_VALID_KEPT = 256


def _errors(data: Any) -> list[Any]:
    """jsonschema's errors in *data*, none for content already found valid (validating a
    process takes 5-10 ms; its key, a fraction of that)."""
    try:
        key: str | None = json.dumps(data, sort_keys=True,
                                     default=lambda o: f"{type(o).__name__}:{o!r}")
    except (TypeError, ValueError, RecursionError):  # not plain data: validate every time
        key = None
    if key is not None and key in _VALID:
        return []
    errors = _schema_errors(data)
    if not errors and key is not None:
        if len(_VALID) >= _VALID_KEPT:
            del _VALID[next(iter(_VALID))]
        _VALID[key] = None
    return errors


#: Documents jsonschema alone validates in a process before the schema is compiled to
#: Python: compiling takes as long as validating about 15 documents, so a command that
#: reads a few files (a pre-commit hook, a simulation) never pays for it, and a process
#: that reads many pays at most about twice what the best choice in hindsight would.
COMPILE_AFTER = 16
_validated = [0]


def _schema_errors(data: Any) -> list[Any]:
    """jsonschema's errors in *data*: its own check for the first COMPILE_AFTER
    documents, then the compiled one first (nothing more for a valid document)."""
    if _validated[0] < COMPILE_AFTER:
        _validated[0] += 1
        return list(_validator().iter_errors(data))
    return [] if _passes(data) else list(_validator().iter_errors(data))


def _passes(data: Any) -> bool:
    """Whether *data* is valid, by the schema compiled to Python (fastjsonschema: a tenth
    of jsonschema's time, for the common case of a valid file); jsonschema then finds
    each error of an invalid one, with its place. The two agree on every case file and
    on mutated ones (tests/test_schema.py)."""
    from fastjsonschema import JsonSchemaException

    try:
        _compiled()(data)
    except JsonSchemaException:
        return False
    except Exception:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _compiled() -> Any:
    """The schema as fastjsonschema's compiled check, its patterns in ECMA's form (as
    _validator checks them) and no format checks (jsonschema's Draft7Validator makes
    none by default)."""
    import fastjsonschema

    def ecma(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (_ecma(v) if k == "pattern" and isinstance(v, str) else ecma(v))
                    for k, v in node.items()}
        if isinstance(node, list):
            return [ecma(v) for v in node]
        return node

    return fastjsonschema.compile(ecma(schema()), formats={}, use_formats=False)


def _dedented(doc: Document, found: list[Diagnostic]) -> list[Diagnostic]:
    """A key with nothing after it, followed by siblings that are wrong where they stand,
    is one mistake: the lines below it lost their indentation. Say that, once, on the
    first of those lines, instead of an error for the empty key and one for each line."""
    for path, value in _mappings(doc.data, ()):
        keys = list(value)
        for k, key in enumerate(keys):
            if value[key] is not None or k + 1 == len(keys):
                continue
            empty = json_pointer((*path, key))
            stray = [s for s in keys[k + 1:]
                     if any(_within(d.path, json_pointer((*path, s))) for d in found)]
            if not stray or not any(d.path == empty for d in found):
                continue
            cascade = [empty, *(json_pointer((*path, s)) for s in stray)]
            found = [d for d in found if not any(_within(d.path, c) for c in cascade)]
            found.append(doc.diagnostic(
                "SP104", f"'{stray[0]}' stands beside '{key}' instead of under it, so "
                f"'{key}' is empty", (*path, stray[0]), key=True,
                hint=f"indent '{stray[0]}' (and the lines that belong with it) further than "
                f"'{key}'"))
    return found


def _mappings(data: Any, path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    if isinstance(data, dict):
        yield path, data
        for key, value in data.items():
            yield from _mappings(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _mappings(value, (*path, i))


def _within(pointer: str, prefix: str) -> bool:
    return pointer == prefix or pointer.startswith(prefix + "/")


def _one_per_place(found: Iterable[Diagnostic]) -> list[Diagnostic]:
    """One mistake, one error: where a value has the wrong type, its range or pattern
    findings at the same place add nothing (headcount: 0.5 is not also 'below 1')."""
    found = list(found)
    typed = {d.path for d in found if d.code in ("SP104", "SP109")}
    return [d for d in found if d.code in ("SP104", "SP109") or d.path not in typed
            or d.code not in ("SP106", "SP105", "SP110")]


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
            if key.startswith("x-") and _in_condition(path):
                yield self._extension_in_condition(key, path)
                continue
            if key in known or key.startswith("x-"):
                continue
            where = f" in {self.where(path)}" if path else ""
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
        where = f" in {self.where(path)}" if path else ""
        yield self.doc.diagnostic("SP103", f"missing required key '{missing}'{where}", path,
                                  hint=f"add {missing}: ..." + (f" ({description})"
                                                               if description else ""))

    def _dependencies(self, error: Any, path: Path) -> Iterator[Diagnostic]:
        """A key that needs another beside it (a uniform's max beside its min)."""
        for key, needs in error.validator_value.items():
            if key in error.instance:
                for missing in needs:
                    if missing not in error.instance:
                        where = f" in {self.where(path)}" if path else ""
                        yield self.doc.diagnostic(
                            "SP103", f"missing required key '{missing}'{where}", path,
                            hint=f"'{key}' needs '{missing}' beside it")

    def _type(self, error: Any, path: Path) -> Iterator[Diagnostic]:
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        if path in self.doc.yaml11_booleans and "boolean" not in names:
            yield self.yaml11(path, wanted)
            return
        yield self.doc.diagnostic("SP104", f"expected {wanted}, got {_describe(error.instance)}",
                                  path, hint=_type_hint(path, error.instance, names))

    def yaml11(self, path: Path, wanted: str | None) -> Diagnostic:
        """*wanted*: what the place expects; None where any value goes (x- keys)."""
        text = self.doc.yaml11_booleans[path]
        if wanted is None:
            value = "false" if text.lower() in ("no", "n", "off") else "true"
            message = f"'{text}' is read as {value}, not as the text '{text}'"
        else:
            message = f"'{text}' is read as a yes/no value (true/false); {wanted} is " \
                      "expected here"
        return self.doc.diagnostic(
            "SP109", message, path, hint=f"YAML reads yes, no, on and off as true/false: "
            f"write '{text}' in quotes")

    def _pattern(self, error: Any, path: Path) -> Iterator[Diagnostic]:
        kind = self.patterns.get(error.validator_value)
        if "propertyNames" in error.absolute_schema_path:  # the key itself is wrong
            yield from self._propertyNames(error, path)
        elif kind == "id":
            yield self.doc.diagnostic(
                "SP105", f"'{shown(error.instance)}' is not a valid id", path,
                hint=f"ids are lowercase letters, digits and _, e.g. '{_snake(error.instance)}'")
        elif kind == "duration":
            yield self._bad_duration(error.instance, path)
        else:
            yield self.doc.diagnostic("SP110", f"'{error.instance}' is not allowed here", path,
                                      hint=error.schema.get("description"))

    def _propertyNames(self, error: Any, path: Path) -> Iterator[Diagnostic]:
        key = error.instance
        if str(key).startswith("x-") and _in_condition(path):
            yield self._extension_in_condition(str(key), path)
            return
        extension = " (x- keys are allowed only where the format has fixed keys)" \
            if str(key).startswith("x-") else ""
        yield self.doc.diagnostic(
            "SP105", f"'{key}' is not a valid id{extension}", (*path, key), key=True,
            hint=f"ids are lowercase letters, digits and _, e.g. '{_snake(str(key))}'")

    def _extension_in_condition(self, key: str, path: Path) -> Diagnostic:
        """SP111: an x- key inside when:. Elsewhere the format ignores x- keys; a condition
        that ignored one would hold for every deal, the opposite of what was meant."""
        name = _snake(key[2:])
        return self.doc.diagnostic(
            "SP111", f"'{key}' in a condition is not a field salesproc knows: an x- key "
            "would be ignored here, and the condition would hold for every deal", (*path, key),
            key=True, hint=f"declare the field under fields: (fields: {{{name}: {{number: "
            f"...}}}}) and test it by its id: when: {{{name}: ...}}")

    def _bad_duration(self, value: Any, path: Path) -> Diagnostic:
        if _is_deal_value(path):
            amount = money(value)
            return self.doc.diagnostic(
                "SP104", f"a deal value is a plain number, not '{value}'", path,
                hint=f"write {amount:.15g}" if amount is not None else "write the amount as a "
                "number in the file's currency, e.g. 35000")
        spelled = _SPELLED_DURATION.match(value) if isinstance(value, str) else None
        if spelled:  # '2 weeks': the unit written out
            short = _UNIT_LETTERS[spelled.group(2).lower().rstrip("s")]
            return self.doc.diagnostic(
                "SP107", f"'{value}' is not a duration", path,
                hint=f"write {spelled.group(1)}{short}: a number with min, h, d or w (or bd, "
                "business days, for a delay)")
        return self.doc.diagnostic(
            "SP107", f"'{value}' is not a duration", path,
            hint="write a number in the file's time_unit, or a number with min, h, d or w "
            "(e.g. 4h, 3d, 2w)")

    def where(self, path: Path) -> str:
        """A readable name for a place in the file: 'stage demo', 'roles.ae', ..."""
        if len(path) >= 2 and path[0] == "stages" and isinstance(path[1], int):
            stages = self.doc.data.get("stages")
            stage = stages[path[1]] if isinstance(stages, list) and path[1] < len(stages) \
                else None
            sid = stage.get("id") if isinstance(stage, dict) else None
            name = f"stage '{sid}'" if isinstance(sid, str) else f"stage {path[1] + 1}"
            rest = ".".join(map(str, path[2:]))
            return name + (f" ({rest})" if rest else "")
        return ".".join(map(str, path))

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
            yield self.yaml11(path, "one of " + ", ".join(allowed))
            return
        yield self.doc.diagnostic("SP110", f"{_describe(error.instance)} is not allowed here",
                                  path, hint=hint)

    def _anyOf(self, error: Any, path: Path) -> Iterator[Diagnostic]:
        kind = self.kinds.get(id(error.schema))
        if kind is None:
            yield from self._branch_by_type(error, path)
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

    def _branch_by_type(self, error: Any, path: Path) -> Iterator[Diagnostic]:
        """Of a value's alternatives (a number or dates; 'always' or a calendar; a date
        or a duration), the findings of the one its type fits; else what is expected."""
        value = error.instance
        branches = [_types(b) for b in error.schema["anyOf"]]
        fits = [i for i, types in enumerate(branches) if _json_type(value) in types]
        if len(fits) == 1:
            yield from self._branch_errors(error, fits[0])
            return
        wanted = " or ".join(dict.fromkeys(_TYPE_NAMES.get(t, t) for ts in branches
                                           for t in ts))
        what = error.schema.get("description", "")
        if not fits:
            yield self.doc.diagnostic("SP104", f"expected {wanted}, got {_describe(value)}",
                                      path, hint=what or None)
        else:
            yield self.doc.diagnostic("SP110", f"{_describe(value)} is not allowed here",
                                      path, hint=what or None)

    def _type_of_quantity(self, value: Any, path: Path, kind: str) -> Iterator[Diagnostic]:
        if path in self.doc.yaml11_booleans:
            yield self.yaml11(path, "a number")
            return
        code = "SP108" if kind == "distribution" else "SP104"
        yield self.doc.diagnostic(code, f"expected a number or a {kind}, got "
                                  f"{_describe(value)}", path, hint=_DIST_HINT)

    def _distribution(self, error: Any, value: dict[str, Any], path: Path
                      ) -> Iterator[Diagnostic]:
        from salesproc.core.dists import KINDS

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
              "{gamma: {mean: 2, sd: 1}}, {weibull: {mean: 2, sd: 1}}, {empirical: [1, 2, 4]}")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    return "array" if isinstance(value, list) else "null"


def _types(branch: dict[str, Any]) -> set[str]:
    """The JSON types a schema branch accepts (following $ref, allOf and anyOf)."""
    if "$ref" in branch:
        return _types(schema()["definitions"][branch["$ref"].rsplit("/", 1)[1]])
    if "type" in branch:
        kinds = {branch["type"]} if isinstance(branch["type"], str) else set(branch["type"])
        return kinds | ({"integer"} if "number" in kinds else set())
    found: set[str] = set()
    for key in ("anyOf", "allOf", "oneOf"):
        for sub in branch.get(key, []):
            found |= _types(sub)
    return found


def _in_condition(path: Path) -> bool:
    """Whether *path* is inside a when: (a condition, its any: list or a field's test)."""
    return any(part == "when" and i >= 2 and path[i - 2] in ("stages", "approvals")
               for i, part in enumerate(path))


def _is_deal_value(path: Path) -> bool:
    return len(path) >= 3 and path[0] == "buyer_types" and path[2] == "value"


_MONEY = re.compile(r"^\s*(?:[A-Z]{3}\s*)?[$€£¥]?\s*([0-9][0-9,. ]*)\s*([kKmM]?)\s*"
                    r"(?:[A-Z]{3})?\s*$")


def money(text: Any) -> float | None:
    """'35k' -> 35000, '$150,000' -> 150000, '1.5M' -> 1500000; None if it is not money."""
    match = _MONEY.match(str(text))
    if not match:
        return None
    digits = match.group(1).replace(",", "").replace(" ", "")
    try:
        amount = float(digits)
    except ValueError:
        return None
    return amount * {"": 1, "k": 1e3, "m": 1e6}[match.group(2).lower()]


_PERCENT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$")
_SPELLED_DURATION = re.compile(
    r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(minutes?|mins|hours?|hrs?|days?|weeks?|wks?)\s*$", re.I)
_UNIT_LETTERS = {"minute": "min", "min": "min", "hour": "h", "hr": "h", "day": "d",
                 "week": "w", "wk": "w"}
_COMPARISON = re.compile(r"^\s*value\s*(>=|>|<=|<|=>|=<)\s*\$?([0-9][0-9,_.]*[kKmM]?)\s*$")
_OPERATORS = {">=": "gte", "=>": "gte", ">": "gt", "<=": "lte", "=<": "lte", "<": "lt"}


def _type_hint(path: Path, value: Any, wanted: list[str]) -> str | None:
    """What to write instead, for the mistakes people make most."""
    if isinstance(value, str) and "number" in wanted:
        percent = _PERCENT.match(value)
        if percent:
            return f"write {float(percent.group(1)) / 100:g}: shares and chances are " \
                   "numbers between 0 and 1"
    if path and path[-1] == "next" and isinstance(value, str):
        return f"next: maps each stage to the share of deals that goes there: " \
               f"next: {{{value}: 1}}"
    if path and path[-1] == "when" and isinstance(value, str):
        comparison = _COMPARISON.match(value)
        if comparison:
            bound = money(comparison.group(2))
            if bound is not None:
                return f"conditions are data, not code: when: {{value: " \
                       f"{{{_OPERATORS[comparison.group(1)]}: {bound:.15g}}}}}"
        return "conditions are data, not code: when: {value: {gte: 50000}} or when: " \
               "{buyer_type: [committee]}"
    if len(path) >= 2 and path[-2] == "when" and path[-1] == "buyer_type" \
            and isinstance(value, str) and "array" in wanted:
        return f"buyer_type: takes a list, even of one: write [{value}]"
    if value is None and "object" in wanted:
        return "nothing is written here: if the lines below belong to it, indent them under it"
    return None
