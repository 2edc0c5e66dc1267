"""A `crm:` section proposed from an export: its stage names, with counts, in the export's
own order where it has one (Salesforce's stage sort order, HubSpot's display order, else
the stages' probability), else in their usual order in deals' timelines; each mapped the
way the reader maps names (history.mapping: same name, the process file's own entries,
the usual outcome names), else to the outcome the export marks it (IsClosed and IsWon),
else to the outcome its name says, else to the stage whose name is similar (the
did-you-mean rule of history.mapping), else by its place in the order.

Two CRM stages never land on one process stage in silence: where a similar name would
match a stage another CRM stage matches better, it is placed by its order instead, and
where two still share a stage, each line says so.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from salesproc.core.diagnostics import shown
from salesproc.core.units import plural
from salesproc.history import dealtable, generic, hubspot, salesforce
from salesproc.history.assemble import TRUE, Reading
from salesproc.history.csvfile import CsvFile, Export, parse_amounts
from salesproc.history.mapping import (
    CRM_NAME_MOST,
    LOSS_REASON_COLUMNS,
    Mapping,
    _yaml_key,
    without_pipeline,
)
from salesproc.history.notes import Notebook
from salesproc.history.read import Format, format_of
from salesproc.history.table import UNMAPPED
from salesproc.process.model import LOST, WON, Crm, Process, fold

# The export's own facts about its stages, in any file that has a stage column beside them
# (Opportunity.csv, OpportunityHistory.csv, a HubSpot deals export), or in a list of the
# stages (Salesforce's OpportunityStage object, HubSpot's pipeline stages).
ORDER = ("StageSortOrder", "Stage Sort Order", "SortOrder", "Sort Order", "displayOrder",
         "Display Order", "Display order")
PROBABILITY = ("Probability", "Probability (%)", "DefaultProbability", "Default Probability",
               "Deal probability", "metadata.probability")
CLOSED = ("IsClosed", "Closed", "Is Closed", "hs_is_closed", "metadata.isClosed")
WON_FLAG = ("IsWon", "Won", "Is Closed Won", "hs_is_closed_won")
LIST_NAMES = ("ApiName", "Api Name", "MasterLabel", "Master Label", "label", "Stage Name",
              "StageName", "Stage")
FALSE = ("false", "0", "no", "n", "f")
WORDS = re.compile(r"[\w'’]+")  # a name's words: "won't" is not "won"


@dataclass
class CrmStage:
    """One CRM stage name as the export shows it: how often, where it usually falls in a
    deal's timeline (0 first .. 1 last), and what the export itself says of it."""

    name: str
    rows: int = 0
    deals: int = 0
    place: float = math.nan
    order: float = math.nan  # the export's sort or display order
    probability: float = math.nan  # percent: the median of its rows
    closed: float = math.nan  # the share of its rows marked closed
    won: float = math.nan  # the share of its rows marked won
    target: str = ""
    why: str = ""
    score: float = math.inf  # how good a match by name (lower is better; inf: none)
    shares: list[str] = field(default_factory=list)
    alias: bool = False  # known only by another name of a stage in a stage list

    @property
    def outcome(self) -> bool:
        return self.target in (WON, LOST)


def stage_names(files: Sequence[Export], reading: Reading, kind: Format
                ) -> list[tuple[str, int, int, float]]:
    """(name, rows, deals, usual place 0..1) of each CRM stage name, in their usual order."""
    names: list[pa.Array] = []
    deals: list[pa.Array] = []
    times: list[np.ndarray] = []
    for file in files:
        if kind == "hubspot":
            entered = [c for c in file.header if hubspot.ENTERED.match(c)]
            header = [file.column(*hubspot.COLUMNS["created"]) or "", *entered]
            for batch in file.batches(header, reading.notes):
                for c in entered:
                    stage = hubspot.ENTERED.match(c).group("stage")  # type: ignore[union-attr]
                    at, ok = reading.dates(file, c, batch.values[c], batch.rows, required=False)
                    has = ok & ~np.isnat(at)
                    names.append(pa.array([stage] * int(has.sum()), pa.string()))
                    deals.append(pa.array([str(r) for r in batch.rows[has]], pa.string()))
                    times.append(at[has].astype(np.int64).astype(float))
            continue
        if kind == "salesforce":
            if not salesforce.is_history(file):
                continue
            found = file.require(salesforce.HISTORY_COLUMNS, salesforce.HINT)
            deal, stage, at_col = found["deal"], found["stage"], found["at"]
        elif kind == "events":
            deal, stage, at_col = "deal", "stage", "entered"
        elif not generic.is_generic(file, reading) and dealtable.is_deal_table(file, reading):
            found = file.require(dealtable.columns(reading)[0], dealtable.HINT)
            deal, stage, at_col = found["deal"], found["stage"], found["created"]
        else:
            found = file.require(generic.columns(reading)[0], generic.HINT)
            deal, stage, at_col = found["deal"], found["stage"], found["changed_at"]
        for batch in file.batches([deal, stage, at_col], reading.notes):
            if kind == "events":
                at = parse_amounts(batch.values[at_col])[0]
                ok = ~np.isnan(at)
            else:
                dated, ok = reading.dates(file, at_col, batch.values[at_col], batch.rows,
                                          required=True)
                at = dated.astype(np.int64).astype(float)
            names.append(pc.filter(batch.values[stage], pa.array(ok)))
            deals.append(pc.filter(batch.values[deal], pa.array(ok)))
            times.append(at[ok])
    if not names:
        return []
    name = pa.concat_arrays(names).dictionary_encode()
    code = name.indices.to_numpy(zero_copy_only=False)
    deal = pa.concat_arrays(deals).dictionary_encode().indices.to_numpy(
        zero_copy_only=False).astype(np.int64)
    at = np.concatenate(times)
    order = np.lexsort((at, deal))
    d = deal[order]
    start = np.ones(len(d), dtype=bool)
    start[1:] = d[1:] != d[:-1]
    group = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    size = np.diff(np.append(first, len(d)))
    rank = (np.arange(len(d)) - first[group]) / np.maximum(size[group] - 1, 1)
    place = np.empty(len(d))
    place[order] = rank
    out = []
    for k, word in enumerate(name.dictionary.to_pylist()):
        mine = code == k
        out.append((str(word), int(mine.sum()), len(np.unique(deal[mine])),
                    float(np.median(place[mine]))))
    return sorted(out, key=lambda r: (r[3], -r[1]))


def is_stage_list(file: Export) -> bool:
    """The file lists the CRM's stages (a name and a sort or display order per row), not
    deals: Salesforce's OpportunityStage, HubSpot's pipeline stages."""
    return bool(file.column(*LIST_NAMES) and file.column(*ORDER)) and not (
        salesforce.is_history(file) or salesforce.is_opportunities(file)
        or hubspot.is_hubspot(file))


def _stage_column(file: Export, kind: Format | None, reading: Reading) -> list[str]:
    """The columns of *file* that hold a CRM stage name (two in a stage list: its API name
    and its label)."""
    if kind is None:
        return list(dict.fromkeys(c for n in LIST_NAMES if (c := file.column(n))))
    if kind == "salesforce":
        return [file.column(*salesforce.HISTORY_COLUMNS["stage"]) or ""]
    if kind == "hubspot":
        return [file.column(*hubspot.COLUMNS["stage"]) or ""]
    if kind == "generic":
        return [file.column(*generic.columns(reading)[0]["stage"]) or ""]
    return []


def _flags(values: pa.Array) -> np.ndarray:
    """1.0 for true, 0.0 for false, NaN for empty or anything else, of a flag column."""
    text = pc.utf8_lower(pc.utf8_trim_whitespace(values))
    yes = np.asarray(pc.is_in(text, value_set=pa.array(TRUE)).to_numpy(zero_copy_only=False),
                     dtype=bool)
    no = np.asarray(pc.is_in(text, value_set=pa.array(FALSE)).to_numpy(zero_copy_only=False),
                    dtype=bool)
    return np.where(yes, 1.0, np.where(no, 0.0, math.nan))


def stage_facts(files: Iterable[tuple[Export, Format | None]], reading: Reading
                ) -> dict[str, CrmStage]:
    """What the export says of each CRM stage (by folded name): its sort order, its
    probability (percent; a file writing 0..1 is scaled), the shares of its rows marked
    closed and won. *files* pairs each file with its format (None: a stage list)."""
    found: dict[str, dict[str, list[np.ndarray]]] = {}
    names: dict[str, str] = {}
    aliases: set[str] = set()  # names met only as a stage list's second name
    primary: set[str] = set()
    for file, kind in files:
        stages = [c for c in _stage_column(file, kind, reading) if c]
        roles = {role: file.column(*choices) for role, choices in
                 (("order", ORDER), ("probability", PROBABILITY), ("closed", CLOSED),
                  ("won", WON_FLAG))}
        present = {r: c for r, c in roles.items() if c}
        current = kind is not None and not (salesforce.is_history(file) or kind == "generic")
        if not stages or not (present or current):  # a history file: its timeline counts
            continue
        parts: dict[str, list[np.ndarray]] = {r: [] for r in present}
        labels: list[list[pa.Array]] = [[] for _ in stages]
        for batch in file.batches([*stages, *present.values()], reading.notes):
            for k, column in enumerate(stages):
                labels[k].append(batch.values[column])
            for role, column in present.items():
                values = batch.values[column]
                parts[role].append(_flags(values) if role in ("closed", "won")
                                   else parse_amounts(values)[0])
        if "probability" in parts:
            every = np.concatenate(parts["probability"])
            if np.nanmax(every, initial=0.0) <= 1.0:
                parts["probability"] = [p * 100.0 for p in parts["probability"]]
        columns = {r: np.concatenate(p) for r, p in parts.items()}
        for alias, chunks in enumerate(labels):
            text = pa.concat_arrays(chunks)
            encoded = pc.dictionary_encode(text)
            index = encoded.indices.to_numpy(zero_copy_only=False)
            for k, raw in enumerate(encoded.dictionary.to_pylist()):
                key = fold(raw)
                if not key:
                    continue
                names.setdefault(key, " ".join(str(raw).split()))
                if alias and key not in primary:
                    aliases.add(key)
                elif not alias:
                    primary.add(key)
                    aliases.discard(key)
                mine = index == k
                facts = found.setdefault(key, {})
                if current:  # each row a deal now in that stage
                    facts.setdefault("rows", []).append(np.full(int(mine.sum()), 1.0))
                for role, values in columns.items():
                    facts.setdefault(role, []).append(values[mine])
    out = {}
    for key, facts in found.items():
        stage = CrmStage(names[key], alias=key in aliases)
        for role, chunks in facts.items():
            values = np.concatenate(chunks)
            if role == "rows":
                stage.rows = stage.deals = len(values)
                continue
            values = values[~np.isnan(values)]
            if len(values):
                setattr(stage, role, float(np.min(values) if role == "order"
                                           else np.median(values) if role == "probability"
                                           else np.mean(values)))
        out[key] = stage
    return out


@dataclass
class Found:
    """What an export says of its stages, before any is placed on a process: each CRM
    stage matched by name and by what the export marks it (not yet by its place), in
    the export's own order (:func:`_order`: *how* says which); the files of deals with
    their formats, and the reading they were read with."""

    stages: list[CrmStage]
    how: str
    deals: Sequence[Export]
    kinds: list[Format]
    reading: Reading
    mapping: Mapping


def export_stages(paths: Sequence[str], process: Process, kind: Format | None = None,
                  today: dt.date | None = None) -> Found:
    """The CRM stages of the export *paths*, with their counts and what the export says
    of them, matched onto *process* by name and in order (:class:`Found`)."""
    mapping = Mapping(process)
    reading = Reading(mapping, Notebook(), today or dt.date.today())
    files = [CsvFile(p, "CSV") for p in paths]
    lists = [f for f in files if is_stage_list(f)]
    deals = [f for f in files if f not in lists]
    kinds = [format_of(f, reading, kind)[0] for f in deals]
    hubspot_names = bool(kinds) and kinds[0] == "hubspot"  # 'Demo (Sales Pipeline)' is Demo

    def plain(name: str) -> str:
        return without_pipeline(name) if hubspot_names else name

    stages: dict[str, CrmStage] = {}
    for name, rows, count, place in stage_names(deals, reading, kinds[0]) if deals else ():
        _add(stages, CrmStage(plain(name), rows, count, place))
    facts = stage_facts([*zip(deals, kinds, strict=True), *((f, None) for f in lists)],
                        reading)
    for fact in facts.values():
        fact.name = plain(fact.name)
        stage = stages.get(fold(fact.name))
        if stage is None and not fact.alias:  # a stage no deal's timeline shows (a deal's
            stages[fold(fact.name)] = fact  # current stage only, or one in the stage list)
        elif stage is not None:
            stage.order, stage.probability = fact.order, fact.probability
            stage.closed, stage.won = fact.closed, fact.won
    for stage in stages.values():
        _match(stage, mapping)
    ordered, how = _order(list(stages.values()))
    return Found(ordered, how, deals, kinds, reading, mapping)


def loss_column(deals: Sequence[Export]) -> str | None:
    """The export's usual column of why deals were lost, if it has one."""
    return next((c for f in deals for c in [f.column(*LOSS_REASON_COLUMNS)] if c), None)


def suggest_mapping(paths: Sequence[str], process: Process, kind: Format | None = None,
                    today: dt.date | None = None) -> str:
    """A `crm:` section to paste into the process file, as YAML with comments."""
    found = export_stages(paths, process, kind, today)
    ordered, mapping, deals = found.stages, found.mapping, found.deals
    _keep_the_better_match(ordered)
    _place(ordered, list(process.stages))
    _shared(ordered)
    reason = None if mapping.crm.lost_reason else loss_column(deals)
    buyers = [] if mapping.crm.buyer_rules or len(process.buyer_types) < 2 else \
        buyer_columns(deals, found.reading)
    merge = "" if process.crm == Crm() else (  # `>> FILE` again would write crm: twice
        "# The process has a crm: section already: merge these lines into it (a second crm:\n"
        "# would not validate, and this one leaves out what that one has).\n")
    return merge + _yaml(ordered, found.how, reason) + _buyer_lines(buyers, process)


def _add(stages: dict[str, CrmStage], stage: CrmStage) -> None:
    """Count *stage* in under its folded name (HubSpot's 'Demo (Sales Pipeline)', listed
    as 'Demo', which the reader maps it as, is one stage with Demo)."""
    held = stages.setdefault(fold(stage.name), stage)
    if held is not stage:
        held.place = (held.place * held.rows + stage.place * stage.rows) / \
            max(held.rows + stage.rows, 1)
        held.rows += stage.rows
        held.deals += stage.deals


def _match(stage: CrmStage, mapping: Mapping) -> None:
    """The target of a CRM stage by its name and what the export says of it (not yet by
    its place)."""
    key = fold(stage.name)
    code = mapping.lookup(key)
    if code != UNMAPPED:
        stage.target = mapping.target(code) or ""
        stage.score = 0.0
        stage.why = "as the process file maps it" if mapping.mapped_by_file(key) else \
            "same name" if not stage.outcome else "an outcome's usual name"
        return
    if stage.closed >= 0.5:
        won = stage.won >= 0.5 if not math.isnan(stage.won) else stage.probability >= 100
        stage.target = WON if won else LOST
        stage.why = "the export marks it closed and " + ("won" if won else "not won")
        return
    words = set(WORDS.findall(key))
    if math.isnan(stage.closed) and words & {"won", "lost"}:  # an open stage may say 'lost'
        stage.target = WON if "won" in words else LOST
        stage.why = "an outcome, by its name"
        return
    similar = mapping.similar(stage.name)
    if similar is not None:
        stage.target, stage.score = similar[0], 1.0 - similar[2]
        stage.why = f"a name similar to '{similar[1]}'"


def _order(stages: list[CrmStage]) -> tuple[list[CrmStage], str]:
    """The stages in the export's own order where every stage that is not an outcome has
    one (sort order, else probability), else in their usual order in deals' timelines;
    the outcomes last."""
    going = [s for s in stages if not s.outcome]

    def place(s: CrmStage) -> float:
        return 0.5 if math.isnan(s.place) else s.place

    def told(figure: list[float]) -> bool:  # every stage has one, and they differ
        return not any(math.isnan(f) for f in figure) and len(set(figure)) > 1

    if told([s.order for s in going]):
        key, how = (lambda s: (s.order, place(s), -s.rows)), "export's stage sort order"
    elif told([s.probability for s in going]):
        key, how = (lambda s: (s.probability, place(s), -s.rows)), \
            "order of the export's probability"
    else:
        key, how = (lambda s: (0.0, place(s), -s.rows)), "usual order in deals' timelines"
    outcomes = [s for s in stages if s.outcome]
    return sorted(going, key=key) + sorted(outcomes, key=lambda s: (place(s), -s.rows)), how


def _keep_the_better_match(stages: list[CrmStage]) -> None:
    """Where CRM stages matched by a similar name land on a stage that another CRM stage
    matches better, they lose the match (and are placed by their order instead)."""
    best: dict[str, CrmStage] = {}
    for s in stages:
        if s.target and not s.outcome:
            held = best.get(s.target)
            if held is None or (s.score, -s.deals) < (held.score, -held.deals):
                best[s.target] = s
    for s in stages:
        if s.target and not s.outcome and s.score > 0 and best[s.target] is not s:
            s.why = f"{s.why} (which {_yaml_key(best[s.target].name)} matches better); " \
                "guessed from its place in the order"
            s.target, s.score = "", math.inf


def _place(stages: list[CrmStage], process: list[str]) -> None:
    """Targets for the stages still without one, from their place in the order: each run
    of them spread over the process stages between the matched stages around it (onto the
    previous matched stage where none is free between)."""
    going = [s for s in stages if not s.outcome]
    index = {sid: i for i, sid in enumerate(process)}
    k = 0
    while k < len(going):
        if going[k].target:
            k += 1
            continue
        end = k
        while end < len(going) and not going[end].target:
            end += 1
        before = index[going[k - 1].target] if k else -1
        after = index[going[end].target] if end < len(going) else len(process)
        free = list(range(before + 1, after)) or [max(before, 0) if before >= 0 else
                                                   min(after, len(process) - 1)]
        run = going[k:end]
        for i, s in enumerate(run):
            s.target = process[free[i * len(free) // len(run)]]
            if not s.why:
                s.why = "guessed from its place in the order"
        k = end


def _shared(stages: list[CrmStage]) -> None:
    """Each CRM stage that shares its process stage with others names them."""
    by_target: dict[str, list[CrmStage]] = {}
    for s in stages:
        if not s.outcome:
            by_target.setdefault(s.target, []).append(s)
    for group in by_target.values():
        for s in group if len(group) > 1 else ():
            s.shares = [o.name for o in group if o is not s]


BUYER_WORDS = re.compile(r"segment|type|tier|size|industry|market|vertical|region")
MAX_BUYER_VALUES = 10  # more distinct words than this is no column of kinds of buyer


def buyer_columns(files: Sequence[Export], reading: Reading
                  ) -> list[tuple[str, list[tuple[str, int]]]]:
    """The export's columns that may tell buyer types apart: named like a segment, type,
    tier, size, industry, market or region, with 2 to 10 distinct words; each with its
    words and their rows, the most common first."""
    found: list[tuple[str, list[tuple[str, int]]]] = []
    for file in files:
        for column in file.header:
            if not BUYER_WORDS.search(fold(column)) or \
                    any(column == name for name, _ in found):
                continue
            counts: dict[str, int] = {}
            for batch in file.batches([column], reading.notes):
                for item in pc.value_counts(pc.utf8_trim_whitespace(
                        batch.values[column])).to_pylist():
                    if item["values"]:
                        counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]
                if len(counts) > MAX_BUYER_VALUES:
                    break
            if 2 <= len(counts) <= MAX_BUYER_VALUES:
                found.append((column, sorted(counts.items(), key=lambda kv: -kv[1])))
    return found


def _buyer_lines(columns: list[tuple[str, list[tuple[str, int]]]], process: Process) -> str:
    """Commented lines that name the candidate buyer-type columns, with a rule to start
    from (commented out: which word is which buyer type is for a person to say)."""
    if not columns:
        return ""
    lines = ["  # buyer_types: the first rule that matches gives a deal its buyer type",
             f"  # ({', '.join(process.buyer_types)}); columns of the export that may tell "
             "them:"]
    for column, words in columns:
        listed = ", ".join(f"{shown(w)} ({n:,})" for w, n in words)
        lines.append(f"  #   {shown(column)}: {listed}")
    column, words = columns[0]
    lines += ["  # buyer_types:",
              f"  #   - {{field: {_yaml_key(column)}, is: {_yaml_key(words[0][0])}, "
              "buyer_type: BUYER_TYPE}"]
    return "\n".join(lines).replace("\r", " ") + "\n"


def _yaml(stages: list[CrmStage], how: str, reason: str | None) -> str:
    lines = [f"# A crm: section proposed from the export: CRM stage names in the {how}",
             "# (rows, deals). Check each target, then paste it into the process file."]
    shared = {s.target: [o.name for o in stages if o.target == s.target]
              for s in stages if s.shares}
    for target, names in shared.items():
        lines.append(f"# note: {len(names)} CRM stages land on {target} "
                     f"({', '.join(_yaml_key(n) for n in names)}): their time counts as one "
                     "stage; map them apart if they are different steps.")
    lines += ["crm:", "  stages:"]
    for s in stages:
        said = [f"{s.rows:,} {plural('row', s.rows)}, {s.deals:,} {plural('deal', s.deals)}"]
        if not math.isnan(s.probability):
            said.append(f"probability {s.probability:.0f}%")
        said.append(s.why)
        if s.shares:
            said.append(f"shares {s.target} with {', '.join(_yaml_key(n) for n in s.shares)}")
        comment = "; ".join(said).replace("\n", " ")
        if len(s.name) > CRM_NAME_MOST:  # the file could not hold it: said, not proposed
            lines.append(f"    # a stage name of {len(s.name):,} characters ({comment}): "
                         f"longer than a crm: name may be ({CRM_NAME_MOST}); is the stage "
                         "column the right one?")
            continue
        lines.append(f"    {_yaml_key(s.name)}: {s.target}".ljust(42) + f"  # {comment}")
    if reason:
        lines.append(f"  lost_reason: {_yaml_key(reason)}".ljust(42)
                     + "  # the export's column of why deals were lost")
    return "\n".join(lines) + "\n"
