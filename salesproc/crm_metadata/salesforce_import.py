"""Salesforce metadata into a process file: everything the metadata says about the sales
process that the file can hold, and a report of the rest.

- The open stage values, in the stage set's order, are the stages (consecutive values
  whose Path guidance names one stage, as `export salesforce` writes a stage with
  several CRM names, are one stage); their ids are made from the values' names, and `crm:
  stages:` maps each value (and the won and lost ones) onto them.
- Each active record type is a buyer type (its label the name, its description the
  description), whose path is its business process's stages; without record types, one
  buyer type takes every stage.
- Each record type's Path gives its stages' names, descriptions and guidance, and what to
  find out; a key field becomes an information item recorded in that field (`crm:
  information:`). Validation rules that `export salesforce` wrote give the information a
  stage requires; others are reported.
- The approval processes `export salesforce` writes give the stages' approvals (a step
  an approval by the role its queue is named after; the record types and value bounds
  its condition); others are reported.
- Salesforce's probabilities are not the model's: they become starting routes whose
  chance to win from each stage is the stage's probability (each route the ratio of its
  stage's probability to the next one's), said so in the file.
- Owners, times, shares and deal values do not exist in Salesforce: the file has one
  role, ``rep``, and equal shares, marked as starting points to replace.
- Salesforce's own settings that the process has no key for (labels, forecast
  categories, the default value, translations, names of record types and Paths) are kept
  under ``x-salesforce:``, so that `export salesforce` writes them back.

Then the file is checked and exported again, in memory, and every component of the
metadata read is compared with what the export would write: each difference is reported,
so that "the round trip gives the same metadata" is checked, not hoped.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from salesproc.core.errors import InvalidProcessError
from salesproc.core.escaping import shown
from salesproc.crm_metadata import salesforce as sf
from salesproc.crm_metadata.metadata_xml import children, flag, name, value
from salesproc.crm_metadata.salesforce_export import EXTENSION, to_salesforce
from salesproc.crm_metadata.salesforce_read import Component, Metadata, read_metadata
from salesproc.process.starter import yaml_text
from salesproc.version import __version__

ROLE = "rep"
VALUE = 10000
MASTER = sf.MASTER_RECORD_TYPE


@dataclass
class SalesforceImport:
    """The process file's text and what could not be carried over (one line each)."""

    text: str
    not_carried: list[str] = field(default_factory=list)


@dataclass
class _Stage:
    id: str
    values: list[str]
    name: str
    probability: float | None
    description: str = ""
    guidance: str = ""
    requires: list[str] = field(default_factory=list)
    approvals: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Buyer:
    id: str
    name: str
    description: str
    path: list[str]
    record_type: str
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-stage as read


def from_salesforce(folder: str | os.PathLike[str]) -> SalesforceImport:
    """The process file made from the Salesforce metadata under *folder*, and the report."""
    meta = read_metadata(folder)
    notes: list[str] = []
    importer = _Importer(meta, notes)
    text = importer.render(os.path.basename(os.path.abspath(folder)))
    notes += _differences(meta, text)
    header = ["# Not carried over from Salesforce (salesproc import salesforce):",
              *(f"#   {shown(n)}" for n in notes)] if notes else []
    lines = text.split("\n")
    return SalesforceImport("\n".join([*lines[:2], *header, *lines[2:]]), notes)


class _Importer:
    def __init__(self, meta: Metadata, notes: list[str]) -> None:
        self.meta, self.notes = meta, notes
        self.information: dict[str, tuple[str, str | None]] = {}  # id -> (label, field)
        self.extension: dict[str, Any] = {}
        self.stages = self._stages()
        self.by_value = {v: s.id for s in self.stages for v in s.values}
        self.won = [v.full_name for v in meta.values if v.closed and v.won]
        self.lost = [v.full_name for v in meta.values if v.closed and not v.won]
        self.buyers = self._buyers()
        self._paths()
        self._rules()
        self._settle()
        self._settings()
        self.roles: dict[str, str] = {}  # role id -> its queue
        self._approvals()

    # --- reading ---------------------------------------------------------------------------

    def _stages(self) -> list[_Stage]:
        guidance = self._step_names()
        out: list[_Stage] = []
        taken: set[str] = {"won", "lost"}  # the outcomes' own ids
        for v in self.meta.values:
            if v.closed:
                continue
            named = guidance.get(v.full_name)
            if out and named is not None and out[-1].name == named \
                    and guidance.get(out[-1].values[-1]) == named:
                out[-1].values.append(v.full_name)
                continue
            out.append(_Stage(sf.identifier(v.full_name, taken), [v.full_name],
                              named or v.label, v.probability))
        return out

    def _step_names(self) -> dict[str, str]:
        """Stage value -> the stage name its Path guidance gives (salesproc's own)."""
        names: dict[str, str] = {}
        for path in self.meta.of("PathAssistant"):
            for step in children(path.element, "pathAssistantSteps"):
                found = sf.read_guidance(value(step, "info"))
                if found.name is not None:
                    names.setdefault(value(step, "picklistValueName"), found.name)
        return names

    def _buyers(self) -> list[_Buyer]:
        processes = {c.name: c for c in self.meta.of("BusinessProcess")}
        out: list[_Buyer] = []
        taken: set[str] = set()
        used: set[str] = set()
        for rt in self.meta.of("RecordType"):
            if not flag(rt.element, "active", True):
                self.notes.append(f"record type {rt.name} is inactive: left out")
                continue
            bp_name = value(rt.element, "businessProcess")
            bp = processes.get(bp_name)
            if bp is None:
                self.notes.append(f"record type {rt.name} names the business process "
                                  f"'{bp_name}', which is not in the folder: left out")
                continue
            used.add(bp_name)
            path: list[str] = []
            for raw in children(bp.element, "values"):
                stage_value = sf.decode_value(value(raw, "fullName"))
                sid = self.by_value.get(stage_value)
                if sid is None and stage_value not in (*self.won, *self.lost):
                    self.notes.append(f"business process {bp_name}: the value "
                                      f"'{stage_value}' is not in the stage set: left out")
                if sid is not None and sid not in path:
                    path.append(sid)
            if not path:
                self.notes.append(f"record type {rt.name}: its business process has no "
                                  "open stage: left out")
                continue
            buyer = _Buyer(sf.identifier(rt.name, taken), value(rt.element, "label") or
                           rt.name, value(rt.element, "description"), path, rt.name)
            names = {"name": rt.name, "business_process": bp_name,
                     "business_process_description": value(bp.element, "description"),
                     "path": rt.name, "path_label": f"{buyer.name} path"}
            self._record_type_names(buyer, names)
            out.append(buyer)
            extra = [name(c) for c in rt.element if name(c) in ("picklistValues",
                                                                 "compactLayoutAssignment")]
            if extra:
                self.notes.append(f"record type {rt.name}: its {', '.join(sorted(set(extra)))}"
                                  " (other picklists, layouts) are not carried")
        for bp_name in processes:
            if bp_name not in used:
                self.notes.append(f"business process {bp_name}: no active record type uses "
                                  "it: left out")
        if not out:  # the master record type: no record type, sales process or Path
            out.append(_Buyer("all", "All deals", "", [s.id for s in self.stages], MASTER))
            self.extension.setdefault("record_types", {})["all"] = {"name": ""}
        return out

    def _record_type_names(self, buyer: _Buyer, names: dict[str, str]) -> None:
        defaults = {"name": buyer.id, "business_process": names["name"],
                    "business_process_description": buyer.description,
                    "path": names["name"], "path_label": f"{buyer.name} path"}
        differ = {k: v for k, v in names.items() if v != defaults[k]}
        if differ:
            self.extension.setdefault("record_types", {})[buyer.id] = differ

    def _paths(self) -> None:
        by_type = {b.record_type: b for b in self.buyers}
        shown_on: set[str] = set()
        for path in self.meta.of("PathAssistant"):
            record_type = value(path.element, "recordTypeName")
            targets = [by_type[record_type]] if record_type in by_type else \
                [b for b in self.buyers if b.record_type == MASTER or record_type == MASTER]
            if not targets:
                self.notes.append(f"Path {path.name}: for record type {record_type}, which "
                                  "is not imported: left out")
                continue
            for buyer in targets:
                shown_on.add(buyer.id)
                if buyer.record_type == MASTER:  # the one buyer type of an org without
                    self.extension["record_types"][buyer.id].update(  # record types
                        path=path.name, path_label=value(path.element, "masterLabel"))
                given = self.extension.get("record_types", {}).get(buyer.id, {})
                if path.name != given.get("path", buyer.record_type) and \
                        buyer.record_type != MASTER:
                    self.extension.setdefault("record_types", {}).setdefault(
                        buyer.id, {})["path"] = path.name
                label = value(path.element, "masterLabel")
                if label != f"{buyer.name} path" and buyer.record_type != MASTER:
                    self.extension.setdefault("record_types", {}).setdefault(
                        buyer.id, {})["path_label"] = label
                self._steps(path, buyer)
        for buyer in self.buyers:  # a record type without a Path gets none on export
            if buyer.id not in shown_on and buyer.record_type != MASTER:
                self.extension.setdefault("record_types", {}).setdefault(
                    buyer.id, {})["path"] = ""

    def _steps(self, path: Component, buyer: _Buyer) -> None:
        for step in children(path.element, "pathAssistantSteps"):
            stage_value = value(step, "picklistValueName")
            sid = self.by_value.get(stage_value)
            if sid is None or sid not in buyer.path:
                self.notes.append(f"Path {path.name}: the step of '{stage_value}' (no open "
                                  f"stage of {buyer.id}): left out")
                continue
            found = sf.read_guidance(value(step, "info"))
            requires = [self._info(label, None) for label in found.labels]
            requires += [self._info(None, f) for f in (c.text or "" for c in
                                                        children(step, "fieldNames")) if f]
            buyer.stages.setdefault(sid, {"description": found.description,
                                          "guidance": found.guidance,
                                          "requires": requires})

    def _info(self, label: str | None, column: str | None) -> str:
        """The information item of *label* or of the CRM field *column* (made once)."""
        for iid, (known, known_column) in self.information.items():
            if (column is not None and known_column == column) or \
                    (column is None and known_column is None and known == label):
                return iid
        base = column.removesuffix("__c") if column else label or "information"
        iid = sf.identifier(base, set(self.information))
        self.information[iid] = (label or column or iid, column)
        return iid

    def _rules(self) -> None:
        """What stages require, from salesproc's own validation rules; the others kept as
        they are. A key field that no rule asks for is kept optional (not_required)."""
        by_type = {b.record_type: b for b in self.buyers}
        enforced: set[str] = set()
        for rule in self.meta.of("ValidationRule"):
            read = sf.read_rule(value(rule.element, "errorConditionFormula"))
            if read is None or not flag(rule.element, "active", True):
                self._keep_rule(rule)
                continue
            stage_values, types, column = read
            enforced.add(column)
            iid = self._info(None, column)
            description = value(rule.element, "description")
            if description and self.information[iid][0] == column:
                self.information[iid] = (description, column)
            buyers = [by_type[t] for t in types if t in by_type] if types else self.buyers
            for buyer in buyers:
                order = [*buyer.path]
                later = [self.by_value.get(v) for v in stage_values]
                first = min((order.index(s) for s in later if s in order), default=None)
                if first is None or first == 0:
                    if any(v in self.won for v in stage_values) and first is None:
                        first = len(order)
                    else:
                        self.notes.append(f"validation rule {rule.name}: no stage of "
                                          f"{buyer.id} comes before its values: not carried")
                        continue
                stage = buyer.stages.setdefault(order[first - 1], {
                    "description": "", "guidance": "", "requires": []})
                if iid not in stage["requires"]:
                    stage["requires"].append(iid)

        optional = [c for _, c in self.information.values() if c and c not in enforced]
        if optional:
            self.extension["not_required"] = optional

    def _keep_rule(self, rule: Component) -> None:
        """A validation rule salesproc does not write (the admin's own, or inactive): kept
        as it is, element by element, under x-salesforce: validation_rules."""
        parts = {name(c): c.text or "" for c in rule.element if name(c) != "fullName"}
        if any(len(c) for c in rule.element) or len(parts) != len(rule.element) - 1:
            self.notes.append(f"validation rule {rule.name} ({rule.where}): nested or "
                              "repeated elements: not carried")
            return
        self.extension.setdefault("validation_rules", {})[rule.name] = parts

    def _approvals(self) -> None:
        """The stages' approvals, from the approval processes salesproc writes: each step
        an approval by the role its queue is named after, with the process's record types
        and Amount bounds as its condition. Others are reported."""
        by_type = {b.record_type: b.id for b in self.buyers}
        for process in sorted(self.meta.of("ApprovalProcess"), key=lambda c: _order(c)):
            criteria = [value(e, "formula") for e in children(process.element,
                                                              "entryCriteria")]
            read = sf.read_approval_formula(criteria[0]) if criteria else None
            steps = list(children(process.element, "approvalStep"))
            approvers = [[a for a in children(step, "assignedApprover")] for step in steps]
            queues = [[value(p, "name") for a in found for p in children(a, "approver")
                       if value(p, "type") == "queue"] for found in approvers]
            if read is None or not steps or any(len(q) != 1 for q in queues) or any(
                    len(list(children(step, "entryCriteria"))) for step in steps):
                self.notes.append(f"approval process {process.name} ({process.where}): its "
                                  "approvers and criteria are not those salesproc writes; "
                                  "add it under approvals: of its stage by hand")
                continue
            stage_values, types, bounds = read
            stage = next((s for s in self.stages if s.values[0] == stage_values[0]), None)
            buyers = [by_type[t] for t in types if t in by_type]
            if stage is None or len(buyers) != len(types):
                self.notes.append(f"approval process {process.name}: for a stage or record "
                                  "type that is not imported: left out")
                continue
            for step, (queue,) in zip(steps, queues, strict=True):
                role = sf.identifier(queue)
                self.roles.setdefault(role, queue)
                when: dict[str, Any] = {}
                if buyers:
                    when["buyer_type"] = buyers
                if bounds:
                    when["value"] = dict(bounds)
                stage.approvals.append({"name": value(step, "description") or
                                        value(step, "label"), "by": role, "when": when})

    def _settle(self) -> None:
        """Each stage's description, guidance and requires: the most common among the
        buyer types that have it; a buyer type that differs overrides it."""
        for stage in self.stages:
            seen = [b.stages[stage.id] for b in self.buyers if stage.id in b.stages]
            if not seen:
                continue
            for key in ("description", "guidance", "requires"):
                common = Counter(repr(s[key]) for s in seen).most_common(1)[0][0]
                chosen = next(s[key] for s in seen if repr(s[key]) == common)
                setattr(stage, key, chosen)

    def _settings(self) -> None:
        labels = {v.full_name: v.label for v in self.meta.values if v.label != v.full_name}
        if labels:
            self.extension["labels"] = labels
        chances = self._chances()
        categories = {}
        for v in self.meta.values:
            chance = 1.0 if v.won else 0.0 if v.closed else chances.get(v.full_name, 0.0)
            expected = sf.forecast_category(chance, closed=v.closed, won=v.won)
            if v.forecast and v.forecast != expected:
                if v.forecast in sf.FORECAST_CATEGORIES:
                    categories[v.full_name] = v.forecast
                else:
                    self.notes.append(f"{v.where}: forecast category '{v.forecast}' is "
                                      "not one of Salesforce's: not carried")
        if categories:
            self.extension["forecast_categories"] = categories
        defaults = [v.full_name for v in self.meta.values if v.default]
        if defaults:
            self.extension["default"] = defaults[0]
        if self.meta.translations:
            self.extension["translations"] = self.meta.translations
        for v in self.meta.values:
            if v.closed and v.probability is not None and v.probability != (
                    100 if v.won else 0):
                self.notes.append(f"{v.where}: probability {v.probability:g} of a closed "
                                  "value: salesproc writes 100 (won) or 0 (lost)")

    # --- routes from probabilities ---------------------------------------------------------

    def _chances(self) -> dict[str, float]:
        """Stage value -> the chance to win the routes give (its stage's probability)."""
        return {v: (s.probability or 0) / 100 for s in self.stages for v in s.values}

    def _route(self, here: _Stage, there: _Stage | None) -> tuple[str, float]:
        p_here = (here.probability or 0.0) / 100
        if there is None:
            return "won", p_here
        p_there = (there.probability or 0.0) / 100
        if p_there <= 0:
            return there.id, 1.0
        return there.id, min(1.0, p_here / p_there)

    def _routes(self) -> tuple[dict[str, tuple[str, float]],
                               dict[str, dict[str, tuple[str, float]]]]:
        """The stages' routes (to the next stage in order; the last to won), and each
        buyer type's own where its path goes elsewhere."""
        by_id = {s.id: s for s in self.stages}
        order = [s.id for s in self.stages]
        default = {s.id: self._route(s, by_id[order[k + 1]] if k + 1 < len(order) else None)
                   for k, s in enumerate(self.stages)}
        own: dict[str, dict[str, tuple[str, float]]] = {}
        for buyer in self.buyers:
            for k, sid in enumerate(buyer.path):
                there = by_id[buyer.path[k + 1]] if k + 1 < len(buyer.path) else None
                route = self._route(by_id[sid], there)
                if route[0] != default[sid][0]:
                    own.setdefault(buyer.id, {})[sid] = route
        for stage in self.stages:
            if stage.probability is None:
                self.notes.append(f"stage value {stage.values[0]} has no probability: its "
                                  "starting route wins nothing")
        for k, stage in enumerate(self.stages[:-1]):
            after = self.stages[k + 1]
            if (stage.probability or 0) > (after.probability or 0):
                self.notes.append(f"the probability of {stage.values[0]} "
                                  f"({stage.probability or 0:g}%) is above that of "
                                  f"{after.values[0]} ({after.probability or 0:g}%): no "
                                  "route gives that; its starting route is 1")
        return default, own

    # --- writing ---------------------------------------------------------------------------

    def render(self, folder: str) -> str:
        default, own = self._routes()
        q = yaml_text
        out = [f"# Imported by salesproc {__version__} from Salesforce metadata "
               f"({shown(folder)}).",
               "# Salesforce holds no owners, times, shares or deal values: those below are "
               "starting points.",
               "salesproc: 1",
               f"name: {q('Sales process from Salesforce (' + folder + ')')}",
               "roles:",
               f"  {ROLE}: {{title: Sales rep, headcount: 1}}   # a starting point: "
               "Salesforce's stages have no owner",
               *(f"  {rid}: {{title: {q(queue)}, headcount: 1}}   # the approval queue "
                 f"{q(queue)}" for rid, queue in self.roles.items() if rid != ROLE)]
        if self.information:
            out.append("information:")
            for iid, (label, _) in self.information.items():
                out.append(f"  {iid}: {{label: {q(label)}}}")
        out += ["# Routes: starting points made from Salesforce's probabilities (the chance "
                "to win",
                "# from each stage is its probability); calibrate them from your history.",
                "stages:"]
        for stage in self.stages:
            out += [f"  - id: {stage.id}", f"    name: {q(stage.name)}", f"    owner: {ROLE}"]
            if stage.description:
                out.append(f"    description: {q(stage.description)}")
            if stage.guidance:
                out.append(f"    guidance: {q(stage.guidance)}")
            if stage.requires:
                out.append(f"    requires: [{', '.join(stage.requires)}]")
            if stage.approvals:
                out.append("    approvals:   # work, delays and the chance of a no: not in "
                           "Salesforce")
                out += [f"      - {_approval(a)}" for a in stage.approvals]
            target, p = default[stage.id]
            probability = "none" if stage.probability is None else f"{stage.probability:g}%"
            out.append(f"    next: {{{target}: {_number(p)}}}   # Salesforce: {probability}")
        out.append("buyer_types:")
        shares = _shares(len(self.buyers))
        for buyer, share in zip(self.buyers, shares, strict=True):
            out += [f"  {buyer.id}:", f"    name: {q(buyer.name)}"]
            if buyer.description:
                out.append(f"    description: {q(buyer.description)}")
            out += [f"    share: {share}   # a starting point", f"    value: {VALUE}   # a "
                    "starting point", f"    path: [{', '.join(buyer.path)}]"]
            overrides = self._overrides(buyer, own.get(buyer.id, {}))
            if overrides:
                out.append("    stages:")
                for sid, lines in overrides.items():
                    out += [f"      {sid}:", *(f"        {line}" for line in lines)]
        out += ["crm:", "  stages:"]
        for stage in self.stages:
            out += [f"    {q(v)}: {stage.id}" for v in stage.values]
        out += [f"    {q(v)}: won" for v in self.won] + [f"    {q(v)}: lost" for v in self.lost]
        mapped = {iid: column for iid, (_, column) in self.information.items() if column}
        if mapped:
            out.append("  information:")
            out += [f"    {iid}: {q(column)}" for iid, column in mapped.items()]
        if self.extension:
            out += ["# Salesforce's own settings, which export salesforce writes back:",
                    f"{EXTENSION}:", *_block(self.extension, 1)]
        return "\n".join(out) + "\n"

    def _overrides(self, buyer: _Buyer, routes: dict[str, tuple[str, float]]) -> dict[
            str, list[str]]:
        by_id = {s.id: s for s in self.stages}
        out: dict[str, list[str]] = {}
        for sid in buyer.path:
            lines = []
            seen = buyer.stages.get(sid)
            if seen is not None:
                stage = by_id[sid]
                for key in ("description", "guidance"):
                    if seen[key] != getattr(stage, key):
                        lines.append(f"{key}: {yaml_text(seen[key])}")
                if seen["requires"] != stage.requires:
                    lines.append(f"requires: [{', '.join(seen['requires'])}]")
            if sid in routes:
                target, p = routes[sid]
                lines.append(f"next: {{{target}: {_number(p)}}}")
            if lines:
                out[sid] = lines
        return out


def _order(process: Component) -> tuple[int, str]:
    """An approval process's place: its processOrder, then its name."""
    text = value(process.element, "processOrder")
    return (int(text) if text.isdigit() else 10**9), process.name


def _approval(approval: dict[str, Any]) -> str:
    """One approval as a YAML flow mapping."""
    parts = [f"name: {yaml_text(approval['name'])}", f"by: {approval['by']}"]
    when = approval["when"]
    tests = []
    if "buyer_type" in when:
        tests.append(f"buyer_type: [{', '.join(when['buyer_type'])}]")
    if "value" in when:
        bounds = ", ".join(f"{op}: {number:.15g}" for op, number in when["value"].items())
        tests.append(f"value: {{{bounds}}}")
    if tests:
        parts.append(f"when: {{{', '.join(tests)}}}")
    return "{" + ", ".join(parts) + "}"


def _number(p: float) -> str:
    return f"{round(p, 6):g}" if p not in (0, 1) else str(int(p))


def _shares(n: int) -> list[str]:
    """*n* equal shares adding up to 1 (the last takes what rounding left)."""
    each = round(1 / n, 4)
    return [f"{each:g}"] * (n - 1) + [f"{round(1 - each * (n - 1), 4):g}"]


_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}  # YAML 1.1's


def _block(data: dict[str, Any], depth: int) -> list[str]:
    """Nested mappings as block YAML: keys that are ids plain, the others quoted."""
    out = []
    for key, item in data.items():
        shown_key = key if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", key) and key.lower() not in \
            _YAML_WORDS else yaml_text(str(key))
        if isinstance(item, dict):
            out += [f"{'  ' * depth}{shown_key}:", *_block(item, depth + 1)]
        elif isinstance(item, list):
            out.append(f"{'  ' * depth}{shown_key}: [{', '.join(yaml_text(str(i)) for i in item)}]")
        else:
            out.append(f"{'  ' * depth}{shown_key}: {yaml_text(str(item))}")
    return out


# --- the round trip, checked ---------------------------------------------------------------


def _differences(meta: Metadata, text: str) -> list[str]:
    """Each way the metadata that the file gives back on export differs from what was
    read: a component left out, added, or with other content (its first difference)."""
    from salesproc.process.loader import check_text

    result = check_text(text, "<imported>")
    if result.process is None:
        raise InvalidProcessError(result.diagnostics)
    exported = to_salesforce(result.process)
    from xml.etree.ElementTree import fromstring

    again = {_key(path): fromstring(body) for path, body in exported.files.items()}
    read: dict[tuple[str, str], Element] = {("StandardValueSet", ""): meta.stage_set}
    read.update({(c.kind, c.name): c.element for c in meta.components})
    out = []
    for lang, table in meta.translations.items():
        if ("Translation", lang) not in again:
            out.append(f"the {lang} translation of the stages ({len(table)} labels)")
    for key, element in read.items():
        kind, item = key
        shown_as = f"{kind} {item}".strip()
        if key not in again:
            out.append(f"{shown_as}: export salesforce does not write it")
            continue
        difference = _first_difference(element, again[key], kind)
        if difference:
            out.append(f"{shown_as} will differ on export: {difference}")
    for key in again:
        if key not in read and key[0] not in ("Translation",):
            out.append(f"{key[0]} {key[1]}: export salesforce adds it".replace("  ", " "))
    return out


def _key(path: str) -> tuple[str, str]:
    base = os.path.basename(path)
    stem, _, kind = base.removesuffix("-meta.xml").rpartition(".")
    kinds = {"standardValueSet": "StandardValueSet", "businessProcess": "BusinessProcess",
             "recordType": "RecordType", "pathAssistant": "PathAssistant",
             "validationRule": "ValidationRule", "standardValueSetTranslation": "Translation",
             "approvalProcess": "ApprovalProcess"}
    if kind == "standardValueSet":
        return "StandardValueSet", ""
    if kind == "standardValueSetTranslation":
        return "Translation", stem.removeprefix("OpportunityStage-")
    if kind == "approvalProcess":
        return "ApprovalProcess", stem.removeprefix("Opportunity.")
    return kinds[kind], stem


def _first_difference(a: Element, b: Element, where: str) -> str | None:
    """Where two elements first differ (children in order, text without surrounding
    space; the business processes' and Paths' own fullName, which the file name holds
    in SFDX, left aside)."""
    def kids(e: Element) -> list[Element]:
        return [c for c in e if isinstance(c.tag, str) and not (
            name(c) == "fullName" and where in ("PathAssistant",))]

    if (a.text or "").strip() != (b.text or "").strip() and not len(a):
        return f"{name(a)} is {shown((a.text or '').strip()[:60])!r} in Salesforce, " \
            f"{shown((b.text or '').strip()[:60])!r} on export"
    ka, kb = kids(a), kids(b)
    for k in range(max(len(ka), len(kb))):
        if k >= len(ka):
            return f"export adds {name(kb[k])} (element {k + 1} of {name(b)})"
        if k >= len(kb):
            return f"{name(ka[k])} (element {k + 1} of {name(a)}) is not written"
        if name(ka[k]) != name(kb[k]):
            return f"element {k + 1} of {name(a)} is {name(ka[k])}, on export {name(kb[k])}"
        inner = _first_difference(ka[k], kb[k], where)
        if inner:
            return inner
    return None
