"""A process as Salesforce metadata (SFDX source), for an admin to deploy.

What is written, for the Opportunity object:

- ``standardValueSets/OpportunityStage.standardValueSet-meta.xml``: every stage in file
  order, then the won and the lost values. A stage's values are the CRM names its `crm:
  stages:` section maps onto it (as written there), else its name; the outcomes' are the
  names mapped to won and lost, else Closed Won and Closed Lost. Each open value's
  probability is the model's chance to win from its stage, every buyer type together
  (:func:`salesproc.process.analysis.stage_win_chances`), and its forecast category
  follows from it (:func:`salesproc.crm_metadata.salesforce.forecast_category`).
- per buyer type, a business process (its path's values and the outcomes), a record type
  that uses it (label: the buyer type's name), and a Path: each stage's guidance (its
  name (unless its value is the name), description, guidance and what to find out that
  has no CRM field) and, as key fields, the CRM fields that record the rest of what it
  requires (`crm: information:`).
- a validation rule per stage and required information that has a CRM field: the deal
  cannot move past the stage (to a later stage of its buyer type's path, or won) while
  the field is blank.
- what ``x-salesforce:`` holds (written by ``import salesforce``): Salesforce's own
  labels, forecast categories, default value, translations, names, the validation rules
  that are not salesproc's (kept element by element) and the key fields no rule asks for
  (``not_required``), written back as they were read.

- an approval process per stage and group of buyer types with the same approvals
  there, where Salesforce's entry criteria can hold their conditions (value bounds);
  each approval a step, assigned to a queue named after its role.

Everything else the process says (owners, times, routes, the other approvals, stage
conditions, loss reasons, arrivals) has no place in this metadata:
:attr:`SalesforceExport.not_expressed` lists it, item by item.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from salesproc.core.errors import SalesprocError
from salesproc.core.escaping import shown
from salesproc.crm_metadata import salesforce as sf
from salesproc.crm_metadata.metadata_xml import block, document, leaf
from salesproc.process import analysis
from salesproc.process.model import LOST, WON, Approval, BuyerType, Condition, Process, Stage

OBJECT = "objects/Opportunity"
STAGE_SET = "standardValueSets/OpportunityStage.standardValueSet-meta.xml"
EXTENSION = "x-salesforce"
_RECORD_TYPE_KEYS = ("name", "business_process", "business_process_description", "path",
                     "path_label")


@dataclass
class SalesforceExport:
    """The files to write (path under the SFDX package folder -> text) and what the
    metadata cannot hold (one sentence each)."""

    files: dict[str, str] = field(default_factory=dict)
    not_expressed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Names:
    """How one buyer type is named in Salesforce."""

    record_type: str
    business_process: str
    business_process_description: str
    path: str
    path_label: str


def to_salesforce(process: Process) -> SalesforceExport:
    """The SFDX source of *process*'s stages, buyer types, Path guidance and required
    information, and the list of what it cannot hold."""
    extra = _extension(process)
    values = stage_values(process)
    won, lost = outcome_values(process)
    _check_unique([*(v for vs in values.values() for v in vs), *won, *lost])
    chances = analysis.stage_win_chances(process)
    out = SalesforceExport()
    out.files[STAGE_SET] = _stage_set(process, values, won, lost, chances, extra)
    for lang, table in extra.get("translations", {}).items():
        out.files[f"standardValueSetTranslations/OpportunityStage-{lang}"
                  ".standardValueSetTranslation-meta.xml"] = _translation(table)
    taken: set[str] = set()
    named = {b: _buyer_names(buyer, extra, taken) for b, buyer in process.buyer_types.items()}
    for buyer in process.buyer_types.values():
        names = named[buyer.id]
        if not names.record_type:  # "": the org's master record type, as it was
            if names.path:
                out.files[f"pathAssistants/{names.path}.pathAssistant-meta.xml"] = _path(
                    process, buyer, names, values, extra.get("labels", {}),
                    out.not_expressed)
            continue
        out.files[f"{OBJECT}/businessProcesses/{names.business_process}"
                  ".businessProcess-meta.xml"] = _business_process(buyer, names, values, won,
                                                                   lost)
        out.files[f"{OBJECT}/recordTypes/{names.record_type}.recordType-meta.xml"] = \
            _record_type(buyer, names)
        if names.path:  # "": the record type has no Path
            out.files[f"pathAssistants/{names.path}.pathAssistant-meta.xml"] = _path(
                process, buyer, names, values, extra.get("labels", {}), out.not_expressed)
    record_types = {b: n.record_type for b, n in named.items()}
    rules = _validation_rules(process, values, won, record_types,
                              set(extra.get("not_required", {})))
    rules += [(rule_name, _kept_rule(rule_name, parts)) for rule_name, parts in
              extra.get("validation_rules", {}).items()]
    for rule_name, text in sorted(rules):
        out.files[f"{OBJECT}/validationRules/{rule_name}.validationRule-meta.xml"] = text
    approvals, left = _approval_processes(process, values, record_types)
    for process_name, text in approvals:
        out.files[f"approvalProcesses/Opportunity.{process_name}.approvalProcess-meta.xml"] \
            = text
    out.not_expressed += left
    out.not_expressed[:0] = _not_expressed(process)
    return out


# --- names ---------------------------------------------------------------------------------


def stage_values(process: Process) -> dict[str, list[str]]:
    """Stage id -> its stage values: the CRM names `crm: stages:` maps onto it, in written
    order, else its name."""
    return {sid: [n for n, target in process.crm.names if target == sid] or [stage.name]
            for sid, stage in process.stages.items()}


def outcome_values(process: Process) -> tuple[list[str], list[str]]:
    """The won and the lost stage values: the names `crm: stages:` maps onto won and
    lost, else Closed Won and Closed Lost."""
    won = [n for n, target in process.crm.names if target == WON] or [sf.WON_VALUE]
    lost = [n for n, target in process.crm.names if target == LOST] or [sf.LOST_VALUE]
    return won, lost


def _check_unique(names: list[str]) -> None:
    seen: dict[str, str] = {}
    for name in names:
        key = name.strip().lower()
        if key in seen:
            raise SalesprocError(
                f"two stage values would both be called '{shown(name)}' in Salesforce",
                hint="a stage's name is its value unless crm: stages: maps a CRM name onto "
                "it: give one of them its own name there")
        if len(name) > sf.VALUE_MOST:
            raise SalesprocError(f"the stage value '{shown(name[:60])}…' is {len(name)} "
                                 f"characters; Salesforce holds {sf.VALUE_MOST}")
        seen[key] = name


def _buyer_names(buyer: BuyerType, extra: Mapping[str, Any], taken: set[str]) -> _Names:
    given = extra.get("record_types", {}).get(buyer.id, {})
    record_type = given["name"] if "name" in given else sf.developer_name(buyer.id, taken)
    taken.add(record_type.lower())  # a given name is taken too
    return _Names(record_type, given.get("business_process", record_type),
                  given.get("business_process_description", buyer.description),
                  given.get("path", record_type),
                  given.get("path_label", f"{buyer.name} path"[:sf.LABEL_MOST]))


# --- the files -----------------------------------------------------------------------------


def _stage_set(process: Process, values: dict[str, list[str]], won: list[str],
               lost: list[str], chances: dict[str, float], extra: Mapping[str, Any]) -> str:
    labels = extra.get("labels", {})
    categories = extra.get("forecast_categories", {})
    default = extra.get("default")

    def entry(value: str, chance: float, closed: bool, is_won: bool) -> list[str]:
        category = categories.get(value) or sf.forecast_category(chance, closed=closed,
                                                                 won=is_won)
        return block("standardValue", [
            leaf("fullName", value, 2), leaf("default", value == default, 2),
            leaf("label", labels.get(value, value), 2), leaf("closed", closed, 2),
            leaf("forecastCategory", category, 2),
            leaf("probability", round(100 * chance), 2), leaf("won", is_won, 2)], 1)

    lines = [leaf("sorted", False, 1)]
    for sid in process.stages:
        for value in values[sid]:
            lines += entry(value, chances[sid], False, False)
    for value in won:
        lines += entry(value, 1.0, True, True)
    for value in lost:
        lines += entry(value, 0.0, True, False)
    return document("StandardValueSet", lines)


def _translation(table: Mapping[str, str]) -> str:
    lines: list[str] = []
    for label, translated in table.items():
        lines += block("valueTranslation", [leaf("masterLabel", label, 2),
                                            leaf("translation", translated, 2)], 1)
    return document("StandardValueSetTranslation", lines)


def _path_values(buyer: BuyerType, values: dict[str, list[str]]) -> list[str]:
    return [v for sid in buyer.path for v in values[sid]]


def _business_process(buyer: BuyerType, names: _Names, values: dict[str, list[str]],
                      won: list[str], lost: list[str]) -> str:
    lines = [leaf("fullName", names.business_process, 1)]
    if names.business_process_description:
        lines.append(leaf("description", names.business_process_description, 1))
    lines.append(leaf("isActive", True, 1))
    for value in [*_path_values(buyer, values), *won, *lost]:
        lines += block("values", [leaf("fullName", sf.encode_value(value), 2),
                                  leaf("default", False, 2)], 1)
    return document("BusinessProcess", lines)


def _record_type(buyer: BuyerType, names: _Names) -> str:
    lines = [leaf("fullName", names.record_type, 1), leaf("active", True, 1),
             leaf("businessProcess", names.business_process, 1)]
    if buyer.description:
        lines.append(leaf("description", buyer.description, 1))
    lines.append(leaf("label", buyer.name[:sf.LABEL_MOST], 1))
    return document("RecordType", lines)


def _path(process: Process, buyer: BuyerType, names: _Names, values: dict[str, list[str]],
          labels: Mapping[str, str], problems: list[str]) -> str:
    lines = [leaf("active", True, 1), leaf("entityName", "Opportunity", 1),
             leaf("fieldName", "StageName", 1), leaf("masterLabel", names.path_label, 1)]
    for sid in buyer.path:
        stage = buyer.stages[sid]
        find_out = [process.information[i].label for i in stage.requires
                    if i not in process.crm.information]  # the others are key fields
        shown_as = [labels.get(v, v) for v in values[sid]]  # what the Path shows
        name = None if shown_as == [stage.name] else stage.name
        info = sf.guidance_html(name, stage.description, stage.guidance, find_out)
        if len(info) > sf.GUIDANCE_MOST:
            problems.append(f"the Path guidance of stage {sid} for {buyer.id} is {len(info):,} "
                            f"characters; Salesforce holds {sf.GUIDANCE_MOST:,}: shorten its "
                            "guidance or description")
        keys = [process.crm.information[i] for i in stage.requires
                if i in process.crm.information]
        if not info and not keys:
            continue  # nothing to show: Salesforce keeps no step either
        for value in values[sid]:
            lines += block("pathAssistantSteps", [
                *(leaf("fieldNames", f, 2) for f in dict.fromkeys(keys)),
                *([leaf("info", info, 2)] if info else []),
                leaf("picklistValueName", value, 2)], 1)
    lines.append(leaf("recordTypeName", names.record_type or sf.MASTER_RECORD_TYPE, 1))
    return document("PathAssistant", lines)


def _validation_rules(process: Process, values: dict[str, list[str]], won: list[str],
                      record_types: dict[str, str], optional: set[str]
                      ) -> list[tuple[str, str]]:
    """(name, file text) of each rule: per stage and required information with a CRM
    field (not one of the *optional* fields), the buyer types that require it there
    grouped by the values that lie past it (*record_types*: buyer type id -> its record
    type)."""
    out = []
    rule_names: set[str] = set()
    for sid, stage in process.stages.items():
        needed = dict.fromkeys(i for b in process.buyer_types.values() if sid in b.path
                               for i in b.stages[sid].requires
                               if process.crm.information.get(i, "") not in ("", *optional))
        for info in needed:
            groups: dict[tuple[str, ...], list[str]] = {}
            for buyer in process.buyer_types.values():
                if sid in buyer.path and info in buyer.stages[sid].requires:
                    later = buyer.path[buyer.path.index(sid) + 1:]
                    past = tuple([*(v for s in later for v in values[s]), *won])
                    groups.setdefault(past, []).append(buyer.id)
            everyone = len(groups) == 1 and len(next(iter(groups.values()))) == \
                len(process.buyer_types)
            for past, buyers in sorted(groups.items(), key=lambda group: sorted(
                    record_types[b] for b in group[1])):  # as Salesforce lists them
                name = sf.developer_name(f"{values[sid][0]} needs "
                                         f"{process.crm.information[info]}", rule_names)
                out.append((name, _rule(process, stage, info, list(past),
                                        [] if everyone else
                                        [record_types[b] for b in buyers], name)))
    return out


def _kept_rule(rule_name: str, parts: Mapping[str, str]) -> str:
    """A validation rule kept as import salesforce read it (x-salesforce:)."""
    return document("ValidationRule", [leaf("fullName", rule_name, 1),
                                       *(leaf(tag, text, 1) for tag, text in parts.items())])


def _rule(process: Process, stage: Stage, info: str, past: list[str],
          record_types: list[str], name: str) -> str:
    item = process.information[info]
    column = process.crm.information[info]
    message = f"Fill in {item.label} before the deal moves on from {stage.name}."
    lines = [leaf("fullName", name, 1), leaf("active", True, 1),
             leaf("description", item.label, 1),
             leaf("errorConditionFormula", sf.rule_formula(past, record_types, column), 1),
             leaf("errorDisplayField", column, 1),
             leaf("errorMessage", message[:sf.MESSAGE_MOST], 1)]
    return document("ValidationRule", lines)


# --- approval processes ------------------------------------------------------------------


def _approval_processes(process: Process, values: dict[str, list[str]],
                        record_types: dict[str, str]) -> tuple[list[tuple[str, str]],
                                                                list[str]]:
    """(name, file text) of an approval process per stage and group of buyer types with
    the same approvals there, each approval a step; and what could not be expressed.

    Salesforce runs the first approval process whose entry criteria a deal meets, and
    its steps one after another: a stage's approvals are one process (the deal at one of
    the stage's values, of the group's record types), and an approval's condition can be
    the process's own only when it is the stage's one approval and tests the deal's value
    alone (Amount). Each step's approver is a queue named after the role."""
    out: list[tuple[str, str]] = []
    left: list[str] = []
    taken: set[str] = set()
    queues: dict[str, str] = {}
    for sid in process.stages:
        groups: dict[str, tuple[list[str], tuple[Approval, ...]]] = {}
        having = [b for b in process.buyer_types.values() if sid in b.path]
        for buyer in having:
            approvals = effective_approvals(buyer.stages[sid], buyer.id)
            if approvals:
                groups.setdefault(repr(approvals), ([], approvals))[0].append(buyer.id)
        for buyers, approvals in sorted(groups.values(), key=lambda g: sorted(
                record_types[b] for b in g[0])):
            why = approval_problem(approvals)
            if why:
                left += [f"approval '{a.name or 'by ' + a.role}' at stage {sid} for "
                         f"{', '.join(buyers)} (by {a.role}): {why}" for a in approvals]
                continue
            condition = approvals[0].when
            bounds = [] if condition is None else [
                (op, float(getattr(condition, f"value_{op}"))) for op, _ in sf.BOUNDS
                if getattr(condition, f"value_{op}") is not None]
            types = [] if len(buyers) == len(having) else sorted(record_types[b]
                                                                  for b in buyers)
            formula = sf.approval_formula(values[sid], types, bounds)
            label = approvals[0].name if len(approvals) == 1 and approvals[0].name else \
                f"{process.stages[sid].name} approvals"
            name = sf.developer_name(f"{values[sid][0]} {' '.join(types)} approvals", taken)
            for a in approvals:
                queues.setdefault(a.role, sf.developer_name(a.role))
            out.append((name, _approval_process(label, formula, approvals, queues,
                                                len(out) + 1)))
            left += [f"approval '{a.name or 'by ' + a.role}' at stage {sid}: its chance of "
                     f"a no ({a.reject:g}) and where a rejected deal goes" for a in approvals
                     if a.reject > 0]
    if queues:
        left.insert(0, "approvers: the approval processes assign each step to a queue named "
                    "after its role; create the queues (" + ", ".join(
                        f"{q} for {r}" for r, q in queues.items()) + ") before deploying. "
                    "Salesforce asks for a stage's approvals one after another, where the "
                    "process runs them at once; the processes are written inactive")
    return out, left


def effective_approvals(stage: Stage, buyer: str) -> tuple[Approval, ...]:
    """The approvals of *stage* that a deal of *buyer* may need: those whose condition
    names its buyer type or none, without that test (its record type says it)."""
    out = []
    for a in stage.approvals:
        c = a.when
        if c is not None and c.buyer_types is not None:
            if buyer not in c.buyer_types:
                continue
            c = replace(c, buyer_types=None)
            a = replace(a, when=None if c == Condition() else c)
        out.append(a)
    return tuple(out)


def approval_problem(approvals: tuple[Approval, ...]) -> str | None:
    """Why a stage's approvals cannot be one approval process (None: they can)."""
    for a in approvals:
        c = a.when
        if c is None:
            continue
        if c.fields or c.any:
            return "a condition on deal fields or with any: is not one Salesforce's " \
                "approval entry criteria hold here"
        if len(approvals) > 1:
            return "Salesforce runs one approval process per deal: a condition of one of " \
                "several approvals at a stage cannot be its entry criteria"
    return None


def _approval_process(label: str, formula: str, approvals: tuple[Approval, ...],
                      queues: dict[str, str], order: int) -> str:
    lines = [leaf("active", False, 1), leaf("allowRecall", True, 1),
             *block("allowedSubmitters", [leaf("type", "owner", 2)], 1),
             *block("approvalPageFields", [leaf("field", f, 2) for f in
                                           ("Name", "Owner", "StageName", "Amount")], 1)]
    step_names: set[str] = set()
    for a in approvals:
        title = a.name or f"Approval by {a.role}"
        lines += block("approvalStep", [
            leaf("allowDelegate", False, 2),
            *block("assignedApprover", [
                *block("approver", [leaf("name", queues[a.role], 4),
                                    leaf("type", "queue", 4)], 3),
                leaf("whenMultipleApprovers", "FirstResponse", 3)], 2),
            leaf("description", title, 2), leaf("label", title[:sf.LABEL_MOST], 2),
            leaf("name", sf.developer_name(title, step_names), 2)], 1)
    lines += [leaf("description", label, 1), leaf("enableMobileDeviceAccess", False, 1),
              *block("entryCriteria", [leaf("formula", formula, 2)], 1),
              leaf("finalApprovalRecordLock", False, 1),
              leaf("finalRejectionRecordLock", False, 1),
              leaf("label", label[:sf.APPROVAL_LABEL_MOST], 1),
              leaf("processOrder", order, 1), leaf("recordEditability", "AdminOnly", 1),
              leaf("showApprovalHistory", True, 1)]
    return document("ApprovalProcess", lines)


# --- what the metadata cannot hold ---------------------------------------------------------


def _not_expressed(process: Process) -> list[str]:
    """What the process says that these files do not: each a sentence."""
    out = []
    if process.roles:
        out.append(f"roles and owners ({len(process.roles)} roles: who works each stage, "
                   "headcount, calendars): Salesforce's stages have no owner")
    timed = [s for s in process.stages.values() if s.delay.mean or s.work.mean]
    if timed:
        out.append(f"times in stage (work and delay of {len(timed)} stages)")
    out.append("routes: where deals go from each stage and how often (Salesforce holds one "
               "probability per stage: the chance to win from it)")
    out += [f"the condition (when:) of stage {sid} for {buyer.id}: every deal of its record "
            "type may take the stage" for buyer in process.buyer_types.values()
            for sid in buyer.path if buyer.stages[sid].when is not None]
    unmapped = sorted(({i for s in process.stages.values() for i in s.requires} |
                      {i for b in process.buyer_types.values() for s in b.stages.values()
                       for i in s.requires}) - set(process.crm.information))
    if unmapped:
        out.append("required information with no CRM field (crm: information:), listed in "
                   "the Path guidance but not enforced: " + ", ".join(unmapped))
    if any(s.reasons for s in process.stages.values()):
        out.append("loss reasons (a picklist of your own, e.g. Loss_Reason__c)")
    if process.fields:
        out.append(f"deal fields ({', '.join(process.fields)}): their distributions")
    out.append("buyer types' shares of leads and deal values, arrivals, the calendar and "
               "the simulation settings")
    return out


# --- x-salesforce --------------------------------------------------------------------------


def _extension(process: Process) -> Mapping[str, Any]:
    """``x-salesforce:`` checked: what import salesforce kept of Salesforce's own
    settings. A malformed one is an error naming the key."""
    raw = process.extensions.get(EXTENSION, {})
    where = f"{process.source or 'the process'}: {EXTENSION}"
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise SalesprocError(f"{where} must be a mapping")
    known = {"labels", "forecast_categories", "default", "translations", "record_types",
             "validation_rules", "not_required"}
    for key, value in raw.items():
        if key not in known:
            raise SalesprocError(f"{where}: unknown key '{shown(str(key))}'",
                                 hint=f"known keys: {', '.join(sorted(known))}")
        if key == "default":
            if not isinstance(value, str):
                raise SalesprocError(f"{where}.default must be a stage value's name")
            continue
        if key == "not_required":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise SalesprocError(f"{where}.not_required must be a list of CRM fields")
            continue
        if not isinstance(value, Mapping):
            raise SalesprocError(f"{where}.{key} must be a mapping")
        for inner_key, inner in value.items():
            nested = key in ("translations", "record_types", "validation_rules")
            fits = isinstance(inner, Mapping) and all(isinstance(v, str) for v in
                                                      inner.values()) if nested \
                else isinstance(inner, str)
            if not fits:
                raise SalesprocError(f"{where}.{key}.{shown(str(inner_key))} is not "
                                     "what import salesforce writes there")
            if key == "forecast_categories" and inner not in sf.FORECAST_CATEGORIES:
                raise SalesprocError(f"{where}.forecast_categories: '{shown(str(inner))}' is "
                                     "no forecast category",
                                     hint=f"one of {', '.join(sf.FORECAST_CATEGORIES)}")
            if key == "record_types" and set(inner) - set(_RECORD_TYPE_KEYS):
                raise SalesprocError(f"{where}.record_types.{shown(str(inner_key))}: unknown "
                                     "key", hint=f"known: {', '.join(_RECORD_TYPE_KEYS)}")
    return raw
