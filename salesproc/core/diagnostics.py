"""One record per finding, whatever found it (YAML parser, schema, lint), and its formats.

The codes in :data:`CODES` are the contract: tools and CI scripts may match on them.
Wording of messages may improve; a code never changes meaning.
"""

from __future__ import annotations

import difflib
import enum
import functools
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field

from salesproc.core.escaping import quoted as quoted  # values read from a file, cut short
from salesproc.core.escaping import shown as shown  # messages quote values through it


class Severity(str, enum.Enum):
    """How bad a finding is: errors fail validation, warnings only with --strict; a note
    (of reading a CRM export) says what was left out or guessed."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True)
class Rule:
    """A diagnostic code's stable name, severity and meaning (docs/codes.md's table)."""

    code: str
    name: str
    severity: Severity
    summary: str


def rules(*rows: tuple[str, str, str, str]) -> dict[str, Rule]:
    """A code table from (code, name, severity, summary) rows."""
    return {code: Rule(code, name, Severity(sev), summary) for code, name, sev, summary in rows}


#: Every diagnostic code salesproc can report. docs/codes.md's table is checked against this.
CODES: dict[str, Rule] = rules(
    # Reading the file
    ("SP001", "unreadable-file", "error", "The file does not exist or cannot be read."),
    ("SP002", "file-too-large", "error", "The file is larger than a process file can be."),
    ("SP003", "not-text", "error", "The file is not UTF-8 text (binary, or another encoding)."),
    ("SP004", "empty-file", "error", "The file is empty or holds only comments."),
    ("SP005", "yaml-syntax", "error", "The file is not valid YAML."),
    ("SP006", "duplicate-key", "error", "The same key appears twice in one mapping."),
    ("SP007", "too-complex", "error", "Too many aliases, nodes or nesting levels (alias bomb)."),
    ("SP008", "not-a-mapping", "error", "The top level of a process file must be a mapping."),
    ("SP009", "unsupported-tag", "error",
     "A tag such as !!python/object (never constructed), or one its value does not fit."),
    ("SP010", "not-finite", "error", "A number is .nan or .inf, or has hundreds of digits."),
    ("SP011", "yaml11-number", "error", "010 or 1:30, which YAML 1.1 reads as 8 or 90."),
    ("SP012", "bad-merge", "error", "A merge key (<<) of something that is not a mapping."),
    # Schema (shape of the file)
    ("SP100", "missing-version", "error", "The file does not start with `salesproc: 1`."),
    ("SP101", "newer-version", "error", "The file needs a newer salesproc than this one."),
    ("SP102", "unknown-key", "error", "A key the format does not know (typo?)."),
    ("SP103", "missing-key", "error", "A required key is missing."),
    ("SP104", "wrong-type", "error", "A value has the wrong type (text for a number, ...)."),
    ("SP105", "invalid-id", "error", "An id is not lowercase snake_case."),
    ("SP106", "out-of-range", "error", "A number is below its minimum or above its maximum."),
    ("SP107", "invalid-duration", "error", "A duration is neither a number nor like 4h, 3d, 2w."),
    ("SP108", "invalid-distribution", "error", "A distribution is not one of the known forms."),
    ("SP109", "yaml11-boolean", "error", "yes/no/on/off read as true/false where text was meant."),
    ("SP110", "invalid-value", "error", "A value is not one of the allowed choices."),
    ("SP111", "extension-in-condition", "error",
     "An x- key inside when:, where it would be ignored and the condition always hold."),
    # References
    ("SP201", "unknown-stage", "error", "A reference to a stage that is not defined."),
    ("SP202", "unknown-role", "error", "A reference to a role that is not defined."),
    ("SP203", "unknown-information", "error", "Required information that is not defined."),
    ("SP204", "unknown-buyer-type", "error", "A reference to a buyer type that is not defined."),
    ("SP205", "duplicate-id", "error", "Two stages share one id."),
    ("SP206", "route-off-path", "error", "A route to a stage that is not on this buyer's path."),
    ("SP207", "reserved-id", "error", "A stage is called `won` or `lost`, the two outcomes."),
    ("SP208", "duplicate-in-list", "error",
     "A list names the same stage or item twice, or crm: names one CRM stage or loss "
     "reason twice (case and spacing aside)."),
    ("SP209", "amount-as-duration", "error",
     "A deal value, or a number field, written as a duration such as '3d'."),
    ("SP210", "unknown-field", "error",
     "A condition, a buyer type or crm: fields: names a field that fields: does not "
     "declare."),
    ("SP211", "wrong-field-test", "error",
     "A number field tested with a list, a category field with bounds, or a category the "
     "field does not have."),
    ("SP212", "invalid-field", "error",
     "A field with neither number: nor shares: (or both), named value, buyer_type or any, "
     "or of another kind for one buyer type."),
    ("SP213", "field-test-decided", "warning",
     "A test of a field that no deal passes, or every deal does, whatever its buyer type."),
    # Flow
    ("SP301", "unreachable-stage", "warning", "A stage on a buyer's path that no deal reaches."),
    ("SP302", "no-path-to-won", "error", "No deal of this buyer type can ever be won."),
    ("SP303", "dead-end-stage", "error", "Every deal that enters this stage is lost."),
    ("SP304", "loop-without-exit", "error", "Deals circle forever, or thousands of times."),
    ("SP305", "routes-above-one", "error", "The route probabilities of a stage add up above 1."),
    ("SP306", "shares-not-one", "error",
     "Buyer-type shares, a buyer type's entry shares, a field's category shares or a "
     "stage's loss reasons' shares do not add up to 1."),
    # Information and capacity
    ("SP401", "unused-information", "warning", "Information defined but never required."),
    ("SP402", "unused-role", "warning", "A role that owns, assists or approves nothing."),
    ("SP501", "over-capacity", "warning", "A role's offered load exceeds its headcount."),
    # Variants
    ("SP502", "no-calendar", "warning",
     "Work written in hours, but no calendar: people would work nights and weekends."),
    ("SP503", "work-over-a-week", "warning",
     "One piece of work longer than the role's working week."),
    ("SP504", "little-time-for-deals", "warning",
     "A role gives deals under a tenth of its working time (time_for_deals)."),
    ("SP505", "over-deal-capacity", "warning",
     "A role's stages hold more open deals on average than its people may carry "
     "(max_deals)."),
    ("SP701", "invalid-date", "error", "A date that does not exist (2026-02-30)."),
    ("SP702", "invalid-hours", "error", "Working hours that are not a time range (17-9)."),
    ("SP703", "before-start", "error", "A campaign dated before the simulation starts."),
    ("SP704", "holiday-outside", "warning", "A holiday outside the simulated period."),
    ("SP705", "seasonality-not-one", "error", "Seasonal multipliers that do not average 1."),
    ("SP706", "ramp-over-horizon", "warning", "A ramp longer than the whole simulation."),
    ("SP707", "dates-out-of-order", "error", "Headcount dates not in order."),
    ("SP708", "business-days-misused", "error",
     "Business days (3bd) outside a delay, or mixed with other units in one delay."),
    ("SP601", "base-unavailable", "error", "The file named by extends: cannot be read."),
    ("SP602", "extends-cycle", "error", "Variants extend each other in a circle."),
    ("SP603", "variant-key", "error", "A variant-only key outside a variant, or the reverse."),
    ("SP604", "unknown-setting", "error",
     "A setting to change (set: or the command line) that names nothing."),
    ("SP605", "invalid-change", "error",
     "A malformed change on the command line, or a new stage without a place."),
)


@dataclass(frozen=True)
class Diagnostic:
    """One finding, located in a file."""

    code: str
    message: str
    file: str = "<unknown>"
    line: int = 1
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None
    path: str = ""
    hint: str | None = None
    severity: Severity = field(default=Severity.ERROR)

    @property
    def rule(self) -> str:
        return CODES[self.code].name

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.column, self.code)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["severity"] = self.severity.value
        data["rule"] = self.rule
        return data


def make(code: str, message: str, **where: object) -> Diagnostic:
    """A Diagnostic with the default severity of its code."""
    return Diagnostic(code, message, severity=CODES[code].severity, **where)  # type: ignore[arg-type]


def did_you_mean(word: str, options: Iterable[str]) -> str | None:
    """'did you mean 'x'?' for the closest of *options*, or None when none is close."""
    match = closest(word, options)
    return f"did you mean '{match[0]}'?" if match else None


def closest(word: str, options: Iterable[str]) -> tuple[str, float] | None:
    """The closest of *options* to *word* and how close (difflib's ratio, 0.6 to 1; 0 for
    an option found only because it starts with *word*), or None when none is close: the
    one rule of 'similar names', for hints and for matching names alike.

    Linear in the number of options: a cheap bound (difflib's quick_ratio) ranks them,
    and only the three best get the exact, quadratic-in-length ratio.
    """
    options = list(dict.fromkeys(options))
    cutoff = 0.6
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(word)
    letters = _letters(word)
    ranked: list[tuple[float, str]] = []
    for option in options:
        length = len(option) + len(word)
        if not length:  # two empty texts: difflib's ratios are all 1
            ranked.append((1.0, option))
        # difflib's real_quick_ratio, then its quick_ratio (the same numbers)
        elif 2.0 * min(len(option), len(word)) / length >= cutoff:
            bound = _quick_ratio(_letters(option), letters, length)
            if bound >= cutoff:
                ranked.append((bound, option))
    best: tuple[float, str] | None = None
    for _, option in sorted(ranked, reverse=True)[:3]:
        matcher.set_seq1(option)
        score = matcher.ratio()
        if score >= cutoff and (best is None or score > best[0]):
            best = (score, option)
    if best:
        return best[1], best[0]
    if len(word) >= 3:
        prefixed = [o for o in options if o.startswith(word)]
        if prefixed:
            return prefixed[0], 0.0
    return None


@functools.lru_cache(maxsize=4096)
def _letters(text: str) -> Counter[str]:
    """How often each character occurs in *text*: a name is looked up against the same
    names again and again (every unknown name of a file against its stage ids). Shared:
    read it, do not change it."""
    return Counter(text)


def _quick_ratio(a: Counter[str], b: Counter[str], length: int) -> float:
    """difflib.SequenceMatcher.quick_ratio of two texts of *length* characters together,
    from their characters' counts: 2 * (characters in common, as a multiset) / length.
    difflib counts it over every character of one text, in Python; this, over each
    distinct character once (a third of a 60-character name's time, or less)."""
    if len(a) > len(b):
        a, b = b, a
    matches = sum(min(n, b[c]) for c, n in a.items())
    return 2.0 * matches / length


def some(items: Sequence[str], most: int = 8) -> str:
    """'a, b, c' or 'a, b, …, h (40 in all)': a list short enough for a hint."""
    if len(items) <= most:
        return ", ".join(items)
    return f"{', '.join(items[:most])}, … ({len(items)} in all)"


SourceLines = Callable[[str], Sequence[str] | None]


def read_source_lines(file: str) -> Sequence[str] | None:
    """Lines of *file* for snippets, or None when it is not a regular text file (a pipe
    would block, a device never ends)."""
    if not os.path.isfile(file):
        return None
    try:
        with open(file, encoding="utf-8") as handle:
            return handle.read(2_000_000).splitlines()
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def format_text(
    diagnostics: Iterable[Diagnostic], source_lines: SourceLines = read_source_lines
) -> str:
    """actionlint-style text: location, severity, code, message, caret snippet and hint."""
    cache: dict[str, Sequence[str] | None] = {}
    chunks = []
    for diag in diagnostics:
        if diag.file not in cache:
            cache[diag.file] = source_lines(diag.file)
        chunks.append(_format_one(diag, cache[diag.file]))
    return "".join(chunks)


def _format_one(diag: Diagnostic, lines: Sequence[str] | None) -> str:
    out = [f"{diag.file}:{diag.line}:{diag.column}: {diag.severity.value} {diag.code} "
           f"{diag.message}\n"]
    if lines is not None and 1 <= diag.line <= len(lines):
        out.append(_snippet(diag, lines[diag.line - 1]))
    if diag.hint:
        out.append(f"  hint: {diag.hint}\n")
    return "".join(out)


def _snippet(diag: Diagnostic, text: str, window: int = 100) -> str:
    """The source line with a caret under the finding; long lines are cut around it."""
    start = max(diag.column - 1, 0)
    cut = max(0, start - window // 2) if start >= window else 0
    shown = ("…" if cut else "") + text[cut:cut + window]
    start = start - cut + (1 if cut else 0)
    if diag.end_line == diag.line and diag.end_column and diag.end_column > diag.column:
        width = diag.end_column - diag.column
    else:
        width = len(shown) - start
    width = max(1, min(width, len(shown) - start))
    gutter = f"{diag.line:>5} | "
    marker = " " * start + "^" + "~" * (width - 1)
    return f"{gutter}{shown}\n{' ' * (len(gutter) - 2)}| {marker}\n"


def format_json(diagnostics: Iterable[Diagnostic]) -> str:
    """Findings as a JSON list, one object per finding (the layout docs/commands.md documents)."""
    return json.dumps([d.to_dict() for d in diagnostics], indent=2) + "\n"


def format_github(diagnostics: Iterable[Diagnostic]) -> str:
    """GitHub Actions workflow commands: annotations on the pull request's diff."""
    lines = []
    for d in diagnostics:
        level = "error" if d.is_error else "warning"
        message = _github_escape(f"{d.code} {d.message}" + (f" (hint: {d.hint})" if d.hint else ""))
        end = (f",endLine={d.end_line},endColumn={d.end_column}"
               if d.end_line is not None and d.end_column is not None else "")
        lines.append(
            f"::{level} file={_github_escape(d.file, prop=True)},line={d.line},col={d.column}"
            f"{end},title={d.code} {d.rule}::{message}\n"
        )
    return "".join(lines)


def _github_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


FORMATTERS: dict[str, Callable[[Sequence[Diagnostic]], str]] = {
    "text": format_text,
    "json": format_json,
    "github": format_github,
}


def summary(diagnostics: Sequence[Diagnostic], files: int) -> str:
    """The closing line: how many files were checked and what was found."""
    errors = sum(d.is_error for d in diagnostics)
    warnings = len(diagnostics) - errors
    noun = "file" if files == 1 else "files"
    if not diagnostics:
        return f"{files} {noun} checked: no problems found"
    return f"{files} {noun} checked: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")
