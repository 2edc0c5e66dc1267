"""From a CRM's names to the process's: stages, outcomes, loss reasons, buyer types and
currencies, as the process file's `crm:` section says (the one home of that mapping).

Without a `crm:` entry, a CRM stage whose name or id equals a stage's (case and spacing
aside) is that stage, and the usual names of the two outcomes (Won, Closed Won, Lost,
Closed Lost, and HubSpot's closedwon, closedlost) are won and lost.
"""

from __future__ import annotations

import json
from collections.abc import Mapping as MappingType
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from salesproc.core.diagnostics import closest, did_you_mean, quoted, shown, some
from salesproc.history.csvfile import Export, folded, parse_amounts
from salesproc.history.notes import Note, Notebook
from salesproc.history.table import LOST_CODE, UNMAPPED, WON_CODE
from salesproc.process.model import LOST, WON, Process, fold

OUTCOME_NAMES = {WON: ("won", "closed won", "closedwon", "closed - won", "closed/won"),
                 LOST: ("lost", "closed lost", "closedlost", "closed - lost", "closed/lost")}
AMOUNT_FIELD = "amount"  # a buyer-type rule on the deal's value in the process's currency
#: The usual columns of why a deal was lost (HubSpot, Salesforce, other CRMs' reports).
LOSS_REASON_COLUMNS = ("Closed Lost Reason", "Loss_Reason__c", "LossReason", "Loss Reason",
                       "Lost Reason", "Reason Lost", "lost_reason", "reason")


class Mapping:
    """The process's `crm:` section, ready to apply to columns of an export."""

    def __init__(self, process: Process) -> None:
        self.process = process
        self.crm = process.crm
        codes: dict[str, int] = {}
        for code, names in ((WON_CODE, OUTCOME_NAMES[WON]), (LOST_CODE, OUTCOME_NAMES[LOST])):
            codes.update(dict.fromkeys(names, code))
        for i, (sid, stage) in enumerate(process.stages.items()):
            codes[fold(stage.name)] = i
            codes[fold(sid)] = i
        stage_index = {sid: i for i, sid in enumerate(process.stages)}
        for name, target in self.crm.stages.items():
            codes[name] = {WON: WON_CODE, LOST: LOST_CODE}.get(target, stage_index.get(target,
                                                                                    UNMAPPED))
        self.codes = codes
        self.buyer_index = {b: i for i, b in enumerate(process.buyer_types)}
        self.tally = StageTally()

    def stage_codes(self, names: pa.Array, rows: np.ndarray, file: str, column: str,
                    notes: Notebook) -> np.ndarray:
        """The code of each CRM stage name (a stage index, WON_CODE, LOST_CODE, or
        UNMAPPED with a note naming the unknown stage, its count and first rows)."""
        encoded = pc.dictionary_encode(folded(names))
        words = encoded.dictionary.to_pylist()
        lookup = np.array([self.lookup(w) for w in words] or [UNMAPPED], dtype=np.int16)
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        codes: np.ndarray = lookup[indices]
        blank = np.array([not w.strip() for w in words] or [False])[indices]
        self.tally.count(codes[~blank], [w for w, c in zip(words, lookup, strict=False)
                                         if c == UNMAPPED and w.strip()])
        for k in np.flatnonzero(lookup == UNMAPPED) if words else ():
            where = np.flatnonzero(indices == k)
            raw = names[int(where[0])].as_py()
            self._unknown(raw, rows[where], file, column, notes)
        return codes

    def lookup(self, name: str) -> int:
        """The code of one folded CRM stage name; a pipeline suffix such as
        'Demo (Sales Pipeline)' is tried without it too."""
        found = self.codes.get(name)
        if found is None and without_pipeline(name) != name:
            found = self.codes.get(without_pipeline(name))
        return UNMAPPED if found is None else found

    def target(self, code: int) -> str | None:
        """What a stage code stands for: a stage id, won or lost (None for UNMAPPED)."""
        if code == WON_CODE:
            return WON
        if code == LOST_CODE:
            return LOST
        return None if code == UNMAPPED else list(self.process.stages)[code]

    def mapped_by_file(self, name: str) -> bool:
        """The process file's `crm: stages` names this CRM stage (folded) itself."""
        return name in self.crm.stages

    def similar(self, raw: str) -> tuple[str, str, float] | None:
        """The stage whose name or id is closest to a CRM stage name that is none of them
        (the did-you-mean rule): (stage id, the folded name or id it is close to, how
        close), or None when none is close. Hints and suggested mappings both use it."""
        words: dict[str, str] = {}
        for sid, stage in self.process.stages.items():
            words.setdefault(fold(stage.name), sid)
        for sid in self.process.stages:
            words.setdefault(fold(sid), sid)
        found = closest(fold(raw), words)
        return None if found is None else (words[found[0]], found[0], found[1])

    def _unknown(self, raw: str, rows: np.ndarray, file: str, column: str,
                 notes: Notebook) -> None:
        known = [*self.process.stages, WON, LOST]
        if not raw.strip():
            notes.add("SP804", f"rows with an empty {column}; left out", file,
                      rows=rows[:5].tolist(), count=len(rows), column=column, key="<empty>")
            return
        similar = self.similar(raw)
        hint = (f"did you mean '{similar[1]}'?; or " if similar else "") + (
            f"map it in the process file: crm: {{stages: {{{_yaml_key(raw)}: STAGE}}}}, "
            f"with STAGE one of {some(known)}" if len(raw) <= CRM_NAME_MOST else
            f"a name this long cannot be mapped (a crm: name has at most {CRM_NAME_MOST} "
            f"characters): is {column} the column of the deal's stage?")
        notes.add("SP804", f"unknown CRM stage '{quoted(raw)}'; its rows are left out", file,
                  rows=rows[:5].tolist(), count=len(rows), column=column, hint=hint,
                  key=fold(raw))

    def reasons(self, raw: pa.Array) -> pa.Array:
        """CRM loss reasons as the process reports them (crm.lost_reasons), else as written."""
        if not self.crm.lost_reasons:
            return pc.utf8_trim_whitespace(raw)
        table = self.crm.lost_reasons
        encoded = pc.dictionary_encode(pc.utf8_trim_whitespace(raw))
        words = [table.get(fold(w), w) for w in encoded.dictionary.to_pylist()]
        return pa.array(words, pa.string()).take(encoded.indices)

    def buyers(self, fields: MappingType[str, pa.Array], value: np.ndarray, size: int
               ) -> np.ndarray:
        """Each deal's buyer type (an index; -1 for none): the first `crm.buyer_types` rule
        that matches, else the default (the only buyer type, when there is one)."""
        out = np.full(size, -1, dtype=np.int16)
        for rule in self.crm.buyer_rules:
            column = fields.get(rule.field)
            if column is None and rule.field.lower() != AMOUNT_FIELD:
                continue
            bounded = any(b is not None for b in (rule.gte, rule.gt, rule.lte, rule.lt))
            numbers = value if column is None else \
                parse_amounts(column)[0] if bounded else value
            match = np.ones(size, dtype=bool)
            if rule.values:
                text = folded(column) if column is not None else \
                    pa.array([f"{v:g}" for v in numbers])
                match &= np.asarray(pc.is_in(text, value_set=pa.array(list(rule.values)))
                                    .to_numpy(zero_copy_only=False), dtype=bool)
            with np.errstate(invalid="ignore"):
                for bound, test in ((rule.gte, np.greater_equal), (rule.gt, np.greater),
                                    (rule.lte, np.less_equal), (rule.lt, np.less)):
                    if bound is not None:
                        match &= test(numbers, bound)
            chosen = match & (out < 0)
            out[chosen] = self.buyer_index[rule.buyer_type]
        default = self.default_buyer()
        if default is not None:
            out[out < 0] = self.buyer_index[default]
        return out

    def default_buyer(self) -> str | None:
        if self.crm.default_buyer_type is not None:
            return self.crm.default_buyer_type
        buyers = list(self.process.buyer_types)
        return buyers[0] if len(buyers) == 1 else None

    def rule_fields(self) -> list[str]:
        """The export columns the buyer-type rules, the loss reason and the deal fields
        (crm: fields:) read."""
        names = [r.field for r in self.crm.buyer_rules if r.field.lower() != AMOUNT_FIELD]
        if self.crm.lost_reason:
            names.append(self.crm.lost_reason)
        names.extend(self.crm.fields.values())
        return list(dict.fromkeys(names))

    def number_fields(self) -> set[str]:
        """The declared deal fields that are numbers (the others are categories)."""
        return {f for f, spec in self.process.fields.items() if spec.number is not None}

    def categories(self, fid: str) -> dict[str, str]:
        """A category field's categories as the process writes them, by their folded
        text (as the export's is compared): every buyer type's, since one may name a
        category another does not draw."""
        return {fold(c): c for buyer in self.process.buyer_types.values()
                if fid in buyer.fields for c, _ in buyer.fields[fid].shares}

    def missing_columns(self, files: Sequence[Export]) -> list[Note]:
        """Errors (SP840) for the columns the `crm:` section names that none of *files* has:
        the loss-reason column, and the fields of a buyer type's rules when not one of that
        buyer type's rules reads a column they have (a file may hold rules for the columns
        of several exports: Segment__c for Salesforce beside Segment for HubSpot). A rule on
        the deal's amount needs no column."""
        def has(name: str) -> bool:
            return name.lower() == AMOUNT_FIELD or any(f.column(name) for f in files)

        wanted: dict[str, str] = {}  # column -> what names it
        if self.crm.lost_reason and not has(self.crm.lost_reason):
            wanted[self.crm.lost_reason] = "lost_reason"
        by_buyer: dict[str, list[str]] = {}
        for rule in self.crm.buyer_rules:
            by_buyer.setdefault(rule.buyer_type, []).append(rule.field)
        for fields in by_buyer.values():
            if not any(has(f) for f in fields):
                wanted.update(dict.fromkeys([f for f in fields if f not in wanted],
                                            "buyer_types"))
        header = list(dict.fromkeys(h for f in files for h in f.header))
        return [Note("SP840", f"the column '{shown(name)}' named in crm: {role} is not in the "
                     "export",
                     files[0].path, files[0].header_row, column=name,
                     hint=f"{shown(did_you_mean(name, header) or 'no column is like it')}; its "
                     f"columns are: {some([shown(h) for h in header], 12)}")
                for name, role in wanted.items()]

    def values(self, amounts: np.ndarray, currencies: pa.Array | None, rows: np.ndarray,
               file: str, notes: Notebook) -> np.ndarray:
        """Amounts in the process's currency (crm.currency_rates); NaN with a note where a
        currency has no rate."""
        if currencies is None:
            return amounts
        own = self.process.currency
        rates = {own: 1.0, **self.crm.currency_rates}
        encoded = pc.dictionary_encode(pc.utf8_upper(pc.utf8_trim_whitespace(currencies)))
        codes = encoded.dictionary.to_pylist()
        factor = np.array([rates.get(c, 1.0 if not c else np.nan) for c in codes] or [1.0])
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        out: np.ndarray = amounts * factor[indices]
        for k, code in enumerate(codes):
            if np.isnan(factor[k]):
                where = np.flatnonzero(indices == k)
                notes.add("SP810", f"no rate for {shown(code)}: the value of its deals is "
                          "unknown", file, rows=rows[where][:5].tolist(), count=len(where),
                          hint=f"add it to the process file: crm: {{currency_rates: "
                          f"{{{shown(code)}: RATE}}}}, RATE being one {shown(code)} in {own}",
                          key=code)
        return out


class StageTally:
    """How the stage names read so far mapped: to a stage of the process, to an outcome,
    or to nothing (empty names aside), and the distinct names that mapped to nothing. It
    tells a mapping that is missing or wrong (SP850) from a few stray names (SP804)."""

    def __init__(self) -> None:
        self.stages = self.outcomes = self.unknown = 0
        self.names: dict[str, None] = {}

    def count(self, codes: np.ndarray, unknown_names: Sequence[str]) -> None:
        """Count the codes of one column of stage names (the empty ones left out), and the
        names none was found for (folded)."""
        self.stages += int((codes >= 0).sum())
        self.outcomes += int(((codes == WON_CODE) | (codes == LOST_CODE)).sum())
        self.unknown += int((codes == UNMAPPED).sum())
        self.names.update(dict.fromkeys(unknown_names))

    @property
    def total(self) -> int:
        return self.stages + self.outcomes + self.unknown

    def mapping_wrong(self) -> bool:
        """Most stage names match nothing, or every one that matched is an outcome: what a
        missing or wrong crm: stages section looks like (one stray stage never does)."""
        return self.unknown > 0 and (2 * self.unknown > self.total or self.stages == 0)


def without_pipeline(name: str) -> str:
    """A CRM stage name without the pipeline HubSpot may add: 'Demo (Sales Pipeline)' is
    'Demo'."""
    return name[: name.rindex(" (")] if name.endswith(")") and " (" in name else name


YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


#: The longest name the crm: section takes (the schema's maxLength of its names).
CRM_NAME_MOST = 200


def _yaml_key(name: str) -> str:
    """A CRM name as a YAML key (in hints and suggested mappings): quoted (as JSON, which
    YAML reads) when YAML would misread it as something else than that text (a number, a
    word such as 'no', a list item such as '- Prospecting')."""
    plain = name.replace(" ", "").replace("_", "").replace("-", "").isalnum()
    if plain and name == name.strip() and name[0].isalpha() \
            and name.lower() not in YAML_WORDS:
        return name
    return json.dumps(name)
