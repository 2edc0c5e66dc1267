"""Salesforce metadata read: the Opportunity stage set, business processes, record types,
Paths, validation rules, approval processes and stage translations of an SFDX project or
a Metadata API (mdapi) folder, as plain records with where each came from.

SFDX source (``OpportunityStage.standardValueSet-meta.xml``,
``objects/Opportunity/recordTypes/X.recordType-meta.xml``, ...) and Metadata API source
(``OpportunityStage.standardValueSet``, ``objects/Opportunity.object`` holding the business
processes, record types and validation rules) are found anywhere under the folder given.
Every file is parsed with defusedxml (:mod:`salesproc.crm_metadata.metadata_xml`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element

from salesproc.core.errors import SalesprocError
from salesproc.core.escaping import quoted, shown
from salesproc.crm_metadata.metadata_xml import children, flag, name, parse, relative, value

#: The most files looked at under the folder, and the most stage values read.
FILES_MOST, VALUES_MOST = 200_000, 1_000
_SKIPPED = {".git", "node_modules", ".sfdx", ".sf", "__pycache__"}


@dataclass
class StageValue:
    """One value of the Opportunity stage set."""

    full_name: str
    label: str
    default: bool
    closed: bool
    won: bool
    probability: float | None
    forecast: str
    where: str


@dataclass
class Component:
    """One metadata component: its *kind* (BusinessProcess, RecordType, PathAssistant,
    ValidationRule, ApprovalProcess), its name, its element and where it was read."""

    kind: str
    name: str
    element: Element
    where: str


@dataclass
class Metadata:
    """What was read: the stage set (and where), components, translations (language ->
    label -> translation) and the files read."""

    values: list[StageValue]
    stage_set: Element
    stage_set_where: str
    components: list[Component] = field(default_factory=list)
    translations: dict[str, dict[str, str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def of(self, kind: str) -> list[Component]:
        return [c for c in self.components if c.kind == kind]


_SFDX = {"businessProcesses": ("BusinessProcess", ".businessProcess-meta.xml"),
         "recordTypes": ("RecordType", ".recordType-meta.xml"),
         "validationRules": ("ValidationRule", ".validationRule-meta.xml")}
_MDAPI = {"businessProcesses": "BusinessProcess", "recordTypes": "RecordType",
          "validationRules": "ValidationRule"}


def read_metadata(folder: str | os.PathLike[str]) -> Metadata:
    """Everything of the Opportunity's sales process under *folder* (an SFDX project or
    package folder, or an mdapi folder). An error when the folder has no stage set, or
    two, or a file cannot be read."""
    root = Path(folder)
    if not root.is_dir():
        raise SalesprocError(f"{shown(str(folder))} is not a folder" if root.exists() else
                             f"{shown(str(folder))} does not exist",
                             hint="give the folder of the SFDX project (or its "
                             "force-app/main/default), or an mdapi retrieve")
    found = _files(root)
    sets = [p for p in found if p.name in ("OpportunityStage.standardValueSet-meta.xml",
                                           "OpportunityStage.standardValueSet")]
    if not sets:
        raise SalesprocError(
            f"no Opportunity stage set in {shown(str(folder))}: the folder holds no "
            "standardValueSets/OpportunityStage.standardValueSet-meta.xml (SFDX) or "
            "OpportunityStage.standardValueSet (mdapi)",
            hint="retrieve it first: sf project retrieve start --metadata "
            "StandardValueSet:OpportunityStage")
    if len(sets) > 1:
        raise SalesprocError(f"two Opportunity stage sets in {shown(str(folder))}: "
                             f"{shown(relative(sets[0], root))} and "
                             f"{shown(relative(sets[1], root))}",
                             hint="give the folder of one package")
    where = relative(sets[0], root)
    stage_set = _root(sets[0], where, "StandardValueSet")
    out = Metadata(_values(stage_set, where), stage_set, where, files=[where])
    for path in found:
        _read_file(path, root, out)
    return out


def _files(root: Path) -> list[Path]:
    found: list[Path] = []
    for top, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED)
        for file_name in sorted(names):
            found.append(Path(top) / file_name)
            if len(found) > FILES_MOST:
                raise SalesprocError(f"{shown(str(root))} holds more than {FILES_MOST:,} "
                                     "files: give the folder of the project's metadata")
    return found


def _root(path: Path, where: str, kind: str) -> Element:
    element = parse(path, where)
    if name(element) != kind:
        raise SalesprocError(f"{shown(where)}: the file holds a {shown(name(element))}, not a "
                             f"{kind}")
    return element


def _read_file(path: Path, root: Path, out: Metadata) -> None:
    where = relative(path, root)
    parent, file_name = path.parent.name, path.name
    if parent in _SFDX and path.parent.parent.name == "Opportunity" \
            and file_name.endswith(_SFDX[parent][1]):
        kind = _SFDX[parent][0]
        element = _root(path, where, kind)
        out.components.append(Component(kind, value(element, "fullName") or
                                        file_name.removesuffix(_SFDX[parent][1]),
                                        element, where))
    elif file_name in ("Opportunity.object", "Opportunity.object-meta.xml") \
            and parent == "objects":
        element = _root(path, where, "CustomObject")
        for tag, kind in _MDAPI.items():
            for k, child in enumerate(children(element, tag), 1):
                out.components.append(Component(kind, value(child, "fullName"), child,
                                                 f"{where}: {tag}[{k}]"))
    elif parent == "pathAssistants" and file_name.endswith(
            (".pathAssistant-meta.xml", ".pathAssistant")):
        element = _root(path, where, "PathAssistant")
        if value(element, "entityName") == "Opportunity" and \
                value(element, "fieldName") == "StageName":
            stem = file_name.split(".pathAssistant")[0]
            out.components.append(Component("PathAssistant", stem, element, where))
    elif parent == "approvalProcesses" and file_name.startswith("Opportunity.") and \
            file_name.endswith((".approvalProcess-meta.xml", ".approvalProcess")):
        element = _root(path, where, "ApprovalProcess")
        out.components.append(Component("ApprovalProcess", file_name.split(".")[1], element,
                                         where))
    elif parent == "standardValueSetTranslations" and file_name.startswith(
            "OpportunityStage-") and file_name.endswith(
            (".standardValueSetTranslation-meta.xml", ".standardValueSetTranslation")):
        element = _root(path, where, "StandardValueSetTranslation")
        lang = file_name.removeprefix("OpportunityStage-").split(".")[0]
        out.translations[lang] = {value(t, "masterLabel"): value(t, "translation")
                                  for t in children(element, "valueTranslation")}
    else:
        return
    out.files.append(where)


def _values(stage_set: Element, where: str) -> list[StageValue]:
    found: list[StageValue] = []
    seen: set[str] = set()
    for k, raw in enumerate(children(stage_set, "standardValue"), 1):
        full_name = value(raw, "fullName")
        at = f"{where}: standardValue {k}" + (f" ({quoted(full_name)})" if full_name else "")
        if not full_name:
            raise SalesprocError(f"{shown(at)} has no fullName")
        if full_name.lower() in seen:
            raise SalesprocError(f"{shown(at)}: a second value of that name")
        seen.add(full_name.lower())
        text = value(raw, "probability")
        probability = None
        if text:
            try:
                probability = float(text)
            except ValueError:
                probability = math.nan
            if not 0 <= probability <= 100:
                raise SalesprocError(f"{shown(at)}: probability {quoted(text)} is not a "
                                     "number from 0 to 100")
        closed = flag(raw, "closed")
        found.append(StageValue(full_name, value(raw, "label") or full_name,
                                flag(raw, "default"), closed, closed and flag(raw, "won"),
                                probability, value(raw, "forecastCategory"), at))
        if len(found) > VALUES_MOST:
            raise SalesprocError(f"{shown(where)}: more than {VALUES_MOST:,} stage values")
    if not any(not v.closed for v in found):
        raise SalesprocError(f"{shown(where)}: no open stage (every value is closed)",
                             hint="a sales process needs at least one stage before won "
                             "and lost")
    return found
