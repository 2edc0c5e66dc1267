"""Variants of a process without copying files: `extends:` files and `--set` overrides.

A variant file names its base and says only what differs::

    salesproc: 1
    extends: five-step.yaml
    name: Five-step with a free trial
    set:                                   # the same paths as --set on the command line
      roles.se.headcount: 3
      stages.demo.next: {trial: 0.7}
    add_stages:
      - {id: trial, after: demo, name: Free trial, owner: se, delay: 14, next: {proposal: 0.6}}
    remove_stages: [call]

Resolving merges the base (itself possibly a variant) and the changes into one document
whose every value remembers the file, line and column it came from, so the validator's
findings point into the file that holds the mistake, or at the `--set` that caused it.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from pathlib import Path as FilePath
from typing import Any

from salesproc.core.diagnostics import Diagnostic, did_you_mean, make, shown
from salesproc.core.errors import InvalidProcessError
from salesproc.process.yamlio import Document, Path, Span, load_file, load_text

VARIANT_KEYS = ("extends", "set", "add_stages", "remove_stages")
COMMAND_LINE = "<command line>"
CHANGES = "<changes>"  # where changes given as objects (not text) are said to be
MAX_DEPTH = 8


def resolve(doc: Document, _chain: tuple[str, ...] = ()) -> Document:
    """The full process *doc* describes: itself, or its base with its changes applied.

    Raises :class:`InvalidProcessError` when the variant cannot be applied (a missing
    base, a cycle, a setting that names nothing); the merged document is then checked
    like any process file.
    """
    data = doc.data
    misplaced = [k for k in ("set", "add_stages", "remove_stages") if k in data]
    if "extends" not in data:
        if misplaced:
            raise InvalidProcessError([doc.diagnostic(
                "SP603", f"'{misplaced[0]}' is only for variant files", (misplaced[0],),
                key=True, hint="add `extends: BASE.yaml` to make this file a variant")])
        return doc
    problems = [doc.diagnostic("SP603", f"a variant changes '{k}' through set:, "
                               "add_stages: or remove_stages:", (k,), key=True,
                               hint=f"write e.g. set: {{{k}.<id>.<key>: value}}")
                for k in ("roles", "information", "stages", "buyer_types", "arrivals",
                          "simulation", "currency", "time_unit") if k in data]
    problems += _shape_problems(doc)
    if problems:
        raise InvalidProcessError(problems)
    base = _load_base(doc, _chain)
    merged = _merge_top(base, doc)
    changes = [k for k in ("remove_stages", "add_stages") if data.get(k)]
    stages = merged.data.get("stages")
    if changes and not (isinstance(stages, list) and all(isinstance(s, dict) for s in stages)):
        raise InvalidProcessError([doc.diagnostic(
            "SP601", f"the base '{data['extends']}' has no list of stages to change",
            (changes[0],), key=True, hint="extends: must name a process file with stages:")])
    _remove_stages(merged, doc)
    _add_stages(merged, doc)
    for key in doc.data.get("set") or {}:
        apply_setting(merged, key, doc)
    return merged


def _shape_problems(doc: Document) -> list[Diagnostic]:
    """What would stop the merge itself; every other mistake is found in the merged file."""
    data = doc.data
    found = []

    def wrong(path: Path, wanted: str) -> None:
        found.append(doc.diagnostic("SP104", f"expected {wanted} here", path))

    if not isinstance(data["extends"], str):
        wrong(("extends",), "the path of the base file")
    if not isinstance(data.get("set", {}), dict):
        wrong(("set",), "a mapping of setting: value")
    removed = data.get("remove_stages", [])
    if not isinstance(removed, list) or not all(isinstance(r, str) for r in removed):
        wrong(("remove_stages",), "a list of stage ids")
    added = data.get("add_stages", [])
    if not isinstance(added, list):
        wrong(("add_stages",), "a list of stages")
        return found
    for j, entry in enumerate(added):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            wrong(("add_stages", j), "a stage with an id")
        elif any(not isinstance(entry.get(k, ""), str) for k in ("after", "before")):
            wrong(("add_stages", j), "after: or before: a stage id")
    return found


def _load_base(doc: Document, chain: tuple[str, ...]) -> Document:
    extends = doc.data["extends"]
    here = os.path.abspath(doc.file)
    # from the folder the file really is in: '..' out of a symlinked folder goes where the
    # system takes it, and where calibrate wrote the path from
    target = os.path.normpath(os.path.join(os.path.dirname(os.path.realpath(here)), extends))
    if target in chain or target in (here, os.path.realpath(here)):
        raise InvalidProcessError([doc.diagnostic(
            "SP602", f"'{extends}' extends this file again: a variant cannot be its own base",
            ("extends",), hint="point extends: at the original process")])
    if len(chain) >= MAX_DEPTH:
        raise InvalidProcessError([doc.diagnostic(
            "SP602", f"more than {MAX_DEPTH} variants extend each other", ("extends",))])
    named = os.path.relpath(target) if not os.path.isabs(doc.file) else target
    try:
        base = load_file(named)
    except InvalidProcessError as exc:  # where and what, never the base's lines: it may be
        first = exc.diagnostics[0] if exc.diagnostics else None  # no process file at all
        reason = "unreadable" if first is None else \
            f"{first.message} (at {first.file}:{first.line}:{first.column})"
        raise InvalidProcessError([doc.diagnostic(
            "SP601", f"cannot use '{shown(extends)}' as the base: {reason}", ("extends",),
            hint="extends: is a path relative to this file")]) from None
    if "salesproc" not in base.data:  # not a process file: say so, never show its lines
        raise InvalidProcessError([doc.diagnostic(
            "SP601", f"cannot use '{shown(extends)}' as the base: it is not a process file (it "
            "does not start with `salesproc: 1`)", ("extends",),
            hint="extends: is a path relative to this file")])
    return resolve(base, (*chain, here))


def _merge_top(base: Document, variant: Document) -> Document:
    """The base's data and positions, with the variant's own top-level keys on top."""
    data = copy.deepcopy(base.data)
    merged = Document(variant.file, data, dict(base.values), dict(base.keys),
                      dict(base.yaml11_booleans), list(base.findings) + list(variant.findings),
                      set(base.refused), dict(base.files))
    for key in base.data:
        merged.files.setdefault((key,), base.file_of((key,)))
    merged.values[()] = variant.values.get((), Span(1, 1, 1, 1))
    merged.files[()] = variant.file
    for key, value in variant.data.items():
        if key in VARIANT_KEYS:
            continue
        graft(merged, (key,), variant, (key,))
        data[key] = copy.deepcopy(value)
    return merged


def graft(target: Document, at: Path, source: Document, source_path: Path) -> None:
    """Make *target*'s positions under *at* those of *source* under *source_path*."""
    _drop(target, at)
    cut = len(source_path)
    for table_from, table_to in ((source.values, target.values), (source.keys, target.keys)):
        for path, span in table_from.items():
            if path[:cut] == source_path:
                table_to[at + path[cut:]] = span
    for path, text in source.yaml11_booleans.items():
        if path[:cut] == source_path:
            target.yaml11_booleans[at + path[cut:]] = text
    target.refused |= {at + p[cut:] for p in source.refused if p[:cut] == source_path}
    target.files[at] = source.file_of(source_path)
    for path, file in source.files.items():
        if path[:cut] == source_path and len(path) > cut:
            target.files[at + path[cut:]] = file


def _drop(doc: Document, at: Path) -> None:
    cut = len(at)
    for table in (doc.values, doc.keys, doc.files, doc.yaml11_booleans):
        for path in [p for p in table if p[:cut] == at]:
            del table[path]
    doc.refused = {p for p in doc.refused if p[:cut] != at}


def _reindex_stages(doc: Document, order: Sequence[tuple[Document, Path]]) -> None:
    """Positions of the stage list after stages were added or removed."""
    snapshot = Document(doc.file, doc.data, dict(doc.values), dict(doc.keys),
                        dict(doc.yaml11_booleans), [], set(doc.refused), dict(doc.files))
    for i in range(len(order) + len(doc.data.get("stages", [])) + 1):
        _drop(doc, ("stages", i))
    for i, (source, source_path) in enumerate(order):
        graft(doc, ("stages", i), snapshot if source is doc else source, source_path)


def _remove_stages(merged: Document, variant: Document) -> None:
    gone = variant.data.get("remove_stages") or []
    if not gone:
        return
    stages = merged.data["stages"]
    ids = [s.get("id") for s in stages]
    errors = [variant.diagnostic("SP201", f"unknown stage '{sid}'", ("remove_stages", j),
                                 hint=did_you_mean(str(sid), map(str, ids)))
              for j, sid in enumerate(gone) if sid not in ids]
    if errors:
        raise InvalidProcessError(errors)
    keep = [i for i, s in enumerate(stages) if s.get("id") not in gone]
    merged.data["stages"] = [stages[i] for i in keep]
    _unfit_stages(merged, [str(g) for g in gone])
    crm_stages = merged.data.get("crm", {}).get("stages")
    if isinstance(crm_stages, dict):  # CRM names of a removed stage map to nothing now
        for name in [n for n, target in crm_stages.items() if target in gone]:
            del crm_stages[name]
    _reindex_stages(merged, [(merged, ("stages", i)) for i in keep])


def _add_stages(merged: Document, variant: Document) -> None:
    added = variant.data.get("add_stages") or []
    if not added:
        return
    order: list[tuple[Document, Path]] = [(merged, ("stages", i))
                                          for i in range(len(merged.data["stages"]))]
    stages = list(merged.data["stages"])
    errors: list[Diagnostic] = []
    for j, entry in enumerate(added):
        where = ("add_stages", j)
        anchors = [k for k in ("after", "before") if k in entry]
        if len(anchors) != 1:
            errors.append(variant.diagnostic(
                "SP605", "a new stage needs exactly one of after: or before:", where,
                hint="e.g. after: demo"))
            continue
        anchor = entry[anchors[0]]
        ids = [s.get("id") for s in stages]
        if anchor not in ids:
            errors.append(variant.diagnostic("SP201", f"unknown stage '{anchor}'",
                                             (*where, anchors[0]),
                                             hint=did_you_mean(str(anchor), map(str, ids))))
            continue
        at = ids.index(anchor) + (1 if anchors[0] == "after" else 0)
        stage = {k: copy.deepcopy(v) for k, v in entry.items() if k not in ("after", "before")}
        stages.insert(at, stage)
        order.insert(at, (variant, where))
    if errors:
        raise InvalidProcessError(errors)
    merged.data["stages"] = stages
    _reindex_stages(merged, order)
    for i, (source, _) in enumerate(order):
        if source is variant:  # after: / before: are consumed, not part of the stage
            for anchor in ("after", "before"):
                _drop(merged, ("stages", i, anchor))


def apply_setting(merged: Document, setting: str, source: Document) -> None:
    """Set the value at dotted *setting* (stages by id) to *source*'s `set:` value for it."""
    where: Path = ("set", setting)
    target = locate(merged, setting, source, where)
    parent = _get(merged.data, target[:-1])
    parent[target[-1]] = copy.deepcopy(_get(source.data, where))
    graft(merged, target, source, where)
    merged.keys[target] = source.span(where, key=True)
    _unfit(merged, setting, source)


def _unfit(merged: Document, setting: str, source: Document) -> None:
    """A setting changed by anything but the calibration that fitted it is no longer
    fitted: its `fitted:` entry goes (a forecast would draw it around the fitted value)."""
    fitted = merged.data.get("fitted")
    if not isinstance(fitted, dict) or setting == "fitted":
        return
    own = source.data.get("fitted")
    given = source.data.get("set")
    if isinstance(given, dict) and isinstance(given.get("fitted"), dict):
        own = given["fitted"]
    if not (isinstance(own, dict) and setting in own):
        for key in [k for k in fitted if related(k, setting)]:
            del fitted[key]


def related(a: str, b: str) -> bool:
    """Whether one dotted setting holds the other (or is it): a change of either changes
    the value at the other."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def _unfit_stages(merged: Document, ids: Sequence[str]) -> None:
    """Stages removed (or put in again): their fitted entries go, the file's and every
    buyer type's."""
    fitted = merged.data.get("fitted")
    if not isinstance(fitted, dict):
        return
    for key in list(fitted):
        parts = key.split(".")
        if (len(parts) > 1 and parts[0] == "stages" and parts[1] in ids) or (
                len(parts) > 3 and parts[0] == "buyer_types" and parts[2] == "stages"
                and parts[3] in ids):
            del fitted[key]


def locate(doc: Document, setting: str, source: Document, key_path: Path) -> Path:
    """The data path a dotted setting names; an SP604 finding if it names nothing."""
    node: Any = doc.data
    path: list[str | int] = []
    parts = setting.split(".")
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list) and path == ["stages"]:
            ids = [s.get("id") if isinstance(s, dict) else None for s in node]
            if part not in ids:
                raise _unknown(source, key_path, setting, f"no stage '{part}'",
                               did_you_mean(part, [str(i) for i in ids]))
            index = ids.index(part)
            path.append(index)
            node = node[index]
            continue
        if not isinstance(node, dict):
            raise _unknown(source, key_path, setting,
                           f"'{'.'.join(parts[:depth])}' has no parts to set")
        if part not in node and not last and (_override_level(doc, path, part)
                                               or _optional_block(path, part)):
            node[part] = {}  # made on the way: a buyer type's first override of a stage, or
            #                 a block the file leaves out (simulation.start without simulation:)
        if part not in node and not last:
            raise _unknown(source, key_path, setting, f"nothing called '{part}' there",
                           did_you_mean(part, [str(k) for k in node]))
        path.append(part)
        node = node.get(part)
    return tuple(path)


def _optional_block(path: list[str | int], part: str) -> bool:
    """*part* is a top-level block of settings the file may leave out (the format's
    mappings: simulation:, arrivals:, roles:, ...), which a setting under it makes."""
    from salesproc.process.schema import schema

    properties = schema()["properties"]
    return not path and part != "set" and properties.get(part, {}).get("type") == "object"


def _override_level(doc: Document, path: list[str | int], part: str) -> bool:
    """*part* is a level of a buyer type's overrides that a setting may create:
    `buyer_types.<id>.stages` or `.fields`, or a stage or a declared field under them."""
    if len(path) == 2 and path[0] == "buyer_types" and part in ("stages", "fields"):
        return True
    if len(path) != 3 or path[0] != "buyer_types":
        return False
    if path[2] == "fields":
        fields = doc.data.get("fields")
        return isinstance(fields, dict) and part in fields
    stages = doc.data.get("stages")
    ids = {s.get("id") for s in stages if isinstance(s, dict)} if isinstance(stages, list) \
        else set()
    return path[2] == "stages" and part in ids


def _unknown(source: Document, key_path: Path, setting: str, why: str,
             hint: str | None = None) -> InvalidProcessError:
    return InvalidProcessError([source.diagnostic(
        "SP604", f"cannot set '{setting}': {why}", key_path, key=True,
        hint=hint or "settings are dotted paths into the process, with stages by id: "
        "roles.se.headcount, stages.demo.work, buyer_types.committee.share")])


def _get(data: Any, path: Path) -> Any:
    for part in path:
        data = data[part]
    return data


# --- --set on the command line ------------------------------------------------------------


def command_line_settings(settings: Sequence[str]) -> Document:
    """The --set options as a document, positioned in a pseudo-file '<command line>'.

    Line n is the n-th --set; columns are offsets within it, so a diagnostic shows the
    option with a caret under the wrong value.
    """
    data: dict[str, Any] = {}
    doc = Document(COMMAND_LINE, {"set": data})
    errors: list[Diagnostic] = []
    for line, option in enumerate(settings, start=1):
        key, sep, raw = option.partition("=")
        key = key.strip()
        if not sep or not key:
            errors.append(make("SP605", f"--set {option!r} is not PATH=VALUE", file=COMMAND_LINE,
                               line=line, column=1, hint="e.g. --set roles.se.headcount=3"))
            continue
        if key.split(".")[0] in (*VARIANT_KEYS, "salesproc"):
            errors.append(make("SP604", f"--set {key}: '{key.split('.')[0]}' cannot be "
                               "changed from the command line", file=COMMAND_LINE, line=line,
                               column=1, end_column=len(key) + 1,
                               hint="--set changes the process; to start from another file, "
                               "name that file instead"))
            continue
        if "\n" in raw or "\r" in raw:
            errors.append(make("SP605", f"--set {key}: a value is one line", file=COMMAND_LINE,
                               line=line, column=len(key) + 2,
                               hint="write a list or mapping inline: [a, b] or {k: v}"))
            continue
        try:
            parsed = load_text(f"v: {raw}\n", COMMAND_LINE)
        except InvalidProcessError as exc:
            first = exc.diagnostics[0]
            errors.append(make("SP605", f"--set {key}: {first.message}", file=COMMAND_LINE,
                               line=line, column=len(key) + 2, hint=first.hint))
            continue
        data[key] = parsed.data.get("v")
        offset = len(option) - len(raw) - 3  # "v: " stands where "KEY=" was
        for path, span in parsed.values.items():
            if path[:1] == ("v",):
                where: Path = ("set", key, *path[1:])
                doc.values[where] = Span(line, span.column + offset, line,
                                         span.end_column + offset)
        doc.keys[("set", key)] = Span(line, 1, line, len(key) + 1)
        doc.yaml11_booleans.update({("set", key, *p[1:]): t
                                    for p, t in parsed.yaml11_booleans.items()})
        errors += [make(d.code, d.message, file=COMMAND_LINE, line=line,
                        column=d.column + offset, hint=d.hint) for d in parsed.findings]
    if errors:
        raise InvalidProcessError(errors)
    return doc


Changes = Mapping[str, object] | Sequence[str | tuple[str, object]]
"""Changes to a process: ``PATH=VALUE`` text (as ``--set`` takes it: the value is YAML,
reported against '<command line>'), or (path, value) pairs and mappings whose values are
Python objects in the file's form (``{"gamma": {"mean": 3.0, "sd": 1.0}}``, a list of
campaigns), reported against '<changes>'. The n-th text change is line n of
'<command line>', the n-th object change line n of '<changes>'."""


def apply_changes(doc: Document, changes: Changes) -> Document:
    """*doc* (resolved) with *changes* applied in order, positions included: the one way a
    process is changed, whether by --set, a sweep's point, a fitted value or a forecast's
    start. The document is copied, never changed; nothing is read or written."""
    texts, objects = _split(changes)
    order: list[tuple[int, str, Document]] = []
    if texts:
        typed = command_line_settings([t for _, t in texts])
        order += [(k, t.partition("=")[0].strip(), typed) for k, t in texts]
    if objects:
        given = object_settings([o for _, o in objects])
        order += [(k, o[0], given) for k, o in objects]
    if not order:
        return doc
    merged = copy.copy(doc)
    merged.data = copy.deepcopy(doc.data)
    merged.values, merged.keys = dict(doc.values), dict(doc.keys)
    merged.files, merged.refused = dict(doc.files), set(doc.refused)
    merged.yaml11_booleans = dict(doc.yaml11_booleans)
    for _, key, source in sorted(order, key=lambda item: item[0]):
        apply_setting(merged, key, source)
    return merged


def change_list(changes: Changes) -> list[str | tuple[str, Any]]:
    """*changes* as a list, each 'PATH=VALUE' text or a (path, value) pair."""
    return (list(changes.items()) if isinstance(changes, Mapping)
            else [changes] if isinstance(changes, str) else list(changes))


def _split(changes: Changes) -> tuple[list[tuple[int, str]], list[tuple[int, tuple[str, Any]]]]:
    """The text changes and the object changes, each with its place among all of them."""
    items = change_list(changes)
    texts = [(k, c) for k, c in enumerate(items) if isinstance(c, str)]
    objects = [(k, c) for k, c in enumerate(items) if not isinstance(c, str)]
    for _, change in objects:
        if not (isinstance(change, tuple) and len(change) == 2 and isinstance(change[0], str)):
            raise TypeError(f"a change is 'PATH=VALUE' text or a (path, value) pair, not "
                            f"{change!r}")
    return texts, objects


def object_settings(changes: Sequence[tuple[str, Any]]) -> Document:
    """(path, value) changes as a document, positioned in a pseudo-file '<changes>': line
    n is the n-th change, so a finding on a value names the setting it came from
    (:func:`said_by_setting`)."""
    data: dict[str, Any] = {}
    doc = Document(CHANGES, {"set": data})
    errors: list[Diagnostic] = []
    for line, (key, value) in enumerate(changes, start=1):
        at = {"file": CHANGES, "line": line, "column": 1}
        if not key.strip() or key.split(".")[0] in (*VARIANT_KEYS, "salesproc"):
            errors.append(make("SP604", f"cannot set '{shown(key)}': it names no setting of "
                               "the process", **at))
            continue
        try:
            data[key] = _plain(value)
        except ValueError as exc:
            errors.append(make("SP010", str(exc), **at))
            continue
        doc.keys[("set", key)] = doc.values[("set", key)] = Span(line, 1, line, 1)
    if errors:
        raise InvalidProcessError(errors)
    return doc


def _plain(value: Any) -> Any:
    """*value* as the reader would have made it from YAML: plain dicts, lists, text and
    finite numbers (a date as its ISO text); ValueError for a number that is not finite,
    TypeError for what a process file cannot hold."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):  # numpy's too
        return int(value)
    if isinstance(value, numbers.Real):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a finite number")
        return float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"the keys of a mapping in a process are text: {value!r}")
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    raise TypeError(f"a process file cannot hold {type(value).__name__} values: {value!r}")


def said_by_setting(diagnostics: Sequence[Diagnostic], changes: Changes) -> list[str]:
    """Each error once, worded by the setting it lies in when it lies in one of *changes*
    ('buyer_types.b.value: 1000000000000000.0 is out of range ...'), else by its file and
    line."""
    texts, objects = _split(changes)
    named = {(COMMAND_LINE, n): t.partition("=")[0].strip()
             for n, (_, t) in enumerate(texts, start=1)}
    named |= {(CHANGES, n): o[0] for n, (_, o) in enumerate(objects, start=1)}
    said = [f"{named[(d.file, d.line)]}: {d.message}" if (d.file, d.line) in named
            else f"{d.file}:{d.line}: {d.message}" for d in diagnostics if d.is_error]
    return list(dict.fromkeys(said))  # a value checked by several rules: said once


def describe(settings: Sequence[str | tuple[str, Any]],
             file: str | os.PathLike[str] | None = None) -> str:
    """A short name for a variant: its file's stem and its changes (PATH=VALUE)."""
    parts = [FilePath(file).stem] if file else []
    return " ".join([*parts, *(change_text(s) for s in settings)])


def change_text(change: str | tuple[str, Any]) -> str:
    """A change as ``PATH=VALUE`` text: as written, or a (path, value) pair with its value
    in YAML's flow form (JSON is YAML)."""
    if isinstance(change, str):
        return change
    path, value = change
    return f"{path}={value_text(value)}"


def value_text(value: object) -> str:
    """A setting's value as ``--set`` text: text as it is, anything else in YAML's flow
    form (JSON is YAML)."""
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value)
