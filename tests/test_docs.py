"""The README and the pages in docs/ stay true: the code tables, every command output they
show (byte for byte; a simulation's, line for line with its figures within their
sampling error), the files they show as written, and the pictures."""

from __future__ import annotations

import importlib.util
import itertools
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from salesproc.core.diagnostics import CODES
from salesproc.history.notes import CODES as CRM_CODES
from salesproc.process import starter
from tests.conftest import ROOT, repository_copy, run

README = (ROOT / "README.md").read_text("utf-8")
DOCS = sorted((ROOT / "docs").glob("*.md"))
CODES_PAGE = (ROOT / "docs" / "codes.md").read_text("utf-8")


def _load_updater():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("update_readme",
                                                  ROOT / "scripts" / "update_readme.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["update_readme"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


UPDATER = _load_updater()
# the pages show five-step's default run again and again (simulate; each compare's base;
# the sweep's point at the file's headcount): each replication is run once (conftest)
SHOWN = [b for page in UPDATER.pages() for b in UPDATER.blocks(page)]
COMMANDS = sorted({b.args for b in SHOWN})


def test_the_code_tables_list_every_code_as_defined() -> None:
    for code, rule in CODES.items():
        assert f"| {code} | {rule.name} | {rule.severity.value} | {rule.summary} |" in CODES_PAGE
    for code, note in CRM_CODES.items():
        assert f"| {code} | {note.name} | {note.severity.value} | {note.summary} |" in CODES_PAGE


def test_readme_validate_example_is_real_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = run("validate", "tests/cases/invalid/SP201-unknown-next.yaml")
    assert result.output.strip() in README
    commands = (ROOT / "docs" / "commands.md").read_text("utf-8")
    assert result.output.strip() in commands


def test_readme_starts_with_the_two_commands() -> None:
    first_screen = "\n".join(README.splitlines()[:20])
    assert "./dev.sh demo" in first_screen and "./dev.sh test" in first_screen
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("./dev.sh test")


def test_every_page_shows_its_outputs_with_their_command() -> None:
    names = {(b.page.name, b.name) for b in SHOWN}
    assert len(names) == len(SHOWN)  # a block's name is unique on its page
    for page, name in [("README.md", "simulate-head"), ("README.md", "suggest"),
                       ("commands.md", "simulate"), ("commands.md", "measure"),
                       ("commands.md", "calibrate"), ("commands.md", "forecast"),
                       ("commands.md", "backtest"), ("commands.md", "sweep")]:
        assert (page, name) in names
    for block in SHOWN:
        assert block.command.startswith("$ salesproc "), (block.page.name, block.name)


# --- what a simulation's output shows: its structure, and figures within their error --

#: Commands whose figures come from simulation runs alone: a page shows what they mean
#: (every line and label, and figures within their sampling error), not the digits of
#: one stream of random numbers, which a release may draw differently (docs/format.md,
#: "Figures may move within their sampling error"). The others are shown byte for byte:
#: what they read from files, and forecast and backtest, shown with the --seed that
#: makes them reproducible.
SIMULATED = ("simulate", "compare", "sweep")
#: Lines whose figures the runs draw but show without an interval: words compared only
UNSURE = ("Throughput ", "End pipeline ")
#: The chance that an honest re-run (another stream of random numbers) fails a block
FAMILY = 0.001

NUMBER = re.compile(r"(?<![\w.=:-])[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?(?![\w:-])")
#: A figure's interval after it: `M [L, H]` (a change), `M (L–H)` (a share or mean)
BRACKETS = ((r"\s*(?:points|days)?\s*\[", ", ", "]"), (r"\s*(?:d\s*)?\(", "–", ")"))
#: One significant change of a verdict: its figure, and the change with its interval
VERDICT = re.compile(r"(?:: |; )([a-z][a-z -]+?) ([+-]\S+(?: points| days)? \[[^\]]+\])")
RUNS = re.compile(r"(\d+) (?:paired )?replications")


@dataclass(frozen=True)
class Number:
    """A number as printed: its value, the unit of its last digit, where it stands."""

    value: float
    unit: float
    start: int
    end: int


@dataclass(frozen=True)
class Check:
    """One comparison of a figure shown and printed: *kind* is "mean" (a figure with its
    95% interval), "width" (that interval's half-width), "end" (an end of a worst–best
    range, percentiles of the runs) or "range" (its width); old and new are (value,
    the interval's half-width or the range's width, unit of the last digit)."""

    kind: str
    old: tuple[float, float, float]
    new: tuple[float, float, float]


def numbers(line: str) -> list[Number]:
    """The figures of *line* (not the digits of dates, times, settings, p10 and such)."""
    found = []
    for match in NUMBER.finditer(line):
        text = match.group().rstrip("%").replace(",", "")
        decimals = len(text.partition(".")[2])
        found.append(Number(float(text), 10.0 ** -decimals, match.start(), match.end()))
    return found


def skeleton(line: str) -> str:
    """*line* with its figures as #, without the * and ! that mark a significant change
    or a figure outside a range (the runs decide them), its spacing collapsed."""
    text = NUMBER.sub("#", line).replace("*", "").replace("!", "")
    if text.startswith("Verdict: "):  # which changes are significant, the runs decide,
        text = text.split(": ")[1]  # and where a variant's bottleneck is, near a tie
    elif text.startswith("Won deals last grow significantly at "):  # a sweep's: at which
        text = re.sub(r" at \S+;", " at …;", text)  # step, near a tie too
    elif re.match(r"\s*Longest wait\s+\S+ \(\S+\)\s+\S+ \(\S+\)$", text):
        text = "Longest wait"  # a comparison's row of them, near a tie
    return " ".join(text.split())


def intervals(line: str) -> list[tuple[str, int, int, int]]:
    """Where *line* shows a figure with an interval: ("mean", figure, low, high) for
    `M ± H` (low = high = H), `M [L, H]` and `M (L–H)`; ("range", low, high, -1) for a
    worst–best `L–H`; by the index of the numbers in numbers(line)."""
    found, marks = numbers(line), []
    between = [line[a.end:b.start] for a, b in itertools.pairwise(found)]
    i = 0
    while i < len(between):
        after = line[found[i + 2].end:] if i + 2 < len(found) else ""
        if re.fullmatch(r"\s*±\s*", between[i]):
            marks.append(("mean", i, i + 1, i + 1))
            i += 2
        elif i + 1 < len(between) and any(
                re.fullmatch(opening, between[i]) and between[i + 1] == comma
                and after.startswith(closing) for opening, comma, closing in BRACKETS):
            marks.append(("mean", i, i + 1, i + 2))
            i += 3
        elif between[i] == "–":
            marks.append(("range", i, i + 1, -1))
            i += 2
        else:
            i += 1
    return marks


def checks(shown: str, printed: str) -> list[Check]:
    """What a simulated block shows and what its command prints now have the same lines
    (the same words, labels, dates and settings: numbers only on lines that show an
    interval, or the UNSURE ones, may differ); the checks of their figures."""
    old_lines, new_lines = shown.splitlines(), printed.splitlines()
    assert [skeleton(x) for x in new_lines] == [skeleton(x) for x in old_lines]
    found = []
    pairs = list(zip(old_lines, new_lines, strict=True))
    for old, new in [p for p in pairs if p[0].startswith("Verdict: ")]:
        changes = dict(VERDICT.findall(old)), dict(VERDICT.findall(new))  # significant ones
        pairs += [(changes[0][k], changes[1][k]) for k in changes[0].keys() & changes[1]]
    for old, new in pairs:
        if old.startswith("Verdict: "):
            continue
        marks = intervals(old)
        assert marks == intervals(new), (old, new)
        a, b = numbers(old), numbers(new)
        if not marks and not old.lstrip().startswith(UNSURE):
            assert [x.value for x in b] == [x.value for x in a], (old, new)
        for kind, i, low, high in marks:
            if kind == "range":  # worst–best: both ends, and its width
                widths = a[low].value - a[i].value, b[low].value - b[i].value
                found += [Check("end", (a[k].value, widths[0], a[k].unit),
                                (b[k].value, widths[1], b[k].unit)) for k in (i, low)]
                found.append(Check("range", (widths[0], widths[0], a[i].unit + a[low].unit),
                                   (widths[1], widths[1], b[i].unit + b[low].unit)))
                continue
            halves = (a[low].value, b[low].value) if low == high else (
                (a[high].value - a[low].value) / 2, (b[high].value - b[low].value) / 2)
            # a half-width shown as 0 (or 0.4 for 0.449) was up to half a unit more
            found.append(Check("mean", (a[i].value, halves[0] + a[low].unit / 2, a[i].unit),
                               (b[i].value, halves[1] + b[low].unit / 2, b[i].unit)))
            found.append(Check("width", (halves[0], halves[0], a[low].unit),
                               (halves[1], halves[1], b[low].unit)))
    return found


def outside_their_error(shown: str, printed: str) -> list[str]:
    """The figures of a simulated block that moved more than their sampling error allows,
    at FAMILY for the block (Bonferroni: z for the tail FAMILY / 2 / checks), for n runs:

    - a mean, by z standard errors of the difference of two, each its 95% interval's
      half-width over Student's t (Bonferroni intervals, wider, only widen it);
    - an interval's width, by the F quantile of the ratio of two variances;
    - an end of a 10th-90th range of the runs, by z standard errors of the difference
      of two percentiles: the 10th of a normal sample has 1.709 sd / √n, and the range
      is 2.563 sd wide, so 0.667 widths / √n;
    - a range's width, by exp(z √2 · 0.89 / √n): the width of a normal sample's range
      has a relative standard error of 0.89 / √n (its ends' covariance counted);

    each also by half a unit of the last digit of the two numbers."""
    from scipy import stats

    from salesproc.core.stats import t_quantile

    runs = int(RUNS.findall(shown)[0])
    found = checks(shown, printed)
    tail = FAMILY / (2 * max(len(found), 1))
    z = float(stats.norm.isf(tail))
    bound = {"width": math.sqrt(float(stats.f.isf(tail, runs - 1, runs - 1))),
             "range": math.exp(z * math.sqrt(2) * 0.89 / math.sqrt(runs))}
    t = t_quantile(runs - 1)
    moved = []
    for c in found:
        (old, old_half, old_unit), (new, new_half, new_unit) = c.old, c.new
        rounding = (old_unit + new_unit) / 2
        if c.kind == "mean":
            ok = abs(new - old) <= z * math.hypot(old_half, new_half) / t + rounding
        elif c.kind == "end":  # old_half, new_half: the ranges' widths
            spread = 0.667 * math.hypot(old_half, new_half) / math.sqrt(runs)
            ok = abs(new - old) <= z * spread + rounding
        else:
            ok = new <= bound[c.kind] * old + 2 * rounding \
                and old <= bound[c.kind] * new + 2 * rounding
        if not ok:
            moved.append(f"{c.kind} {old:g} shown ({old_half:g}), {new:g} now ({new_half:g})")
    return moved


#: What the blocks wrote into out/, by its name there (out/five-step.calibrated.yaml, which
#: the forecast reads): kept from the block that writes it, or from the run made for a
#: block that reads it, whichever came first in this test run (a calibration takes seconds)
WRITTEN: dict[str, bytes] = {}


@pytest.mark.slow
@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a)[:60] for a in COMMANDS])
def test_every_shown_output_is_real(args: tuple[str, ...], tmp_path: Path) -> None:
    """Each command shown on a page, run once (from a copy of the folders it reads, so
    that its out/ is written there): every block that shows it (all of its output, or
    its first lines where the command says `| head -N`) shows what it prints: byte for
    byte, or, for the SIMULATED commands, the same lines with figures within their
    sampling error."""
    mine = []
    for needed in (a for a in args if a.startswith("out/")):  # written by another block
        (writer,) = {b.args for b in SHOWN if needed in b.args and "-o" in b.args
                     and b.args[b.args.index("-o") + 1] == needed}
        if writer == args:
            mine.append(needed)
            continue
        # the writer's file: its --check writes nothing else and changes nothing in it
        writes = tuple(a for a in writer if a != "--check")
        folder = repository_copy(tmp_path, *UPDATER.inputs(writes))
        if needed in WRITTEN:
            (folder / needed).parent.mkdir(parents=True, exist_ok=True)
            (folder / needed).write_bytes(WRITTEN[needed])
        else:
            UPDATER.output(writes, folder, workers=1)
            WRITTEN[needed] = (folder / needed).read_bytes()
    printed = UPDATER.output(args, repository_copy(tmp_path, *UPDATER.inputs(args)), workers=1)
    WRITTEN.update({name: (tmp_path / name).read_bytes() for name in mine
                    if (tmp_path / name).is_file()})  # not a folder: export salesforce -o
    for block in (b for b in SHOWN if b.args == args):
        if args[0] in SIMULATED:
            assert outside_their_error(block.shown, block.cut(printed)) == [], (
                block.page.name, block.name)
        else:
            assert block.shown == block.cut(printed), (block.page.name, block.name)


def test_a_simulated_block_is_compared_by_its_meaning() -> None:
    """The check of simulated blocks lets figures move within their error, and catches
    a figure, an interval or a range moved beyond it, and any word or setting changed."""
    (shown,) = [b.shown for b in SHOWN if b.name == "simulate-head"]
    won = "  Won deals          265.7 ± 7.5   of 1,378 leads   worst–best case 245–289"
    assert won in shown
    assert outside_their_error(shown, shown) == []
    near = "  Won deals          270.1 ± 9.5   of 1,400 leads   worst–best case 251–294"
    assert outside_their_error(shown, shown.replace(won, near)) == []
    for broken in (won.replace("265.7", "210.7"), won.replace("± 7.5", "± 30.0"),
                   won.replace("245–289", "245–400")):
        assert outside_their_error(shown, shown.replace(won, broken)) != [], broken
    for changed in (("Won deals", "Lost deals"), ("seed 1", "seed 2"), ("301 days", "300 days"),
                    ("most at inquiry for sdr", "most at demo for ae")):
        with pytest.raises(AssertionError):
            outside_their_error(shown, shown.replace(*changed))
    with pytest.raises(AssertionError):  # a line less
        outside_their_error(shown, shown.replace(won + "\n", ""))


def test_install_page_shows_what_init_writes() -> None:
    page = (ROOT / "docs" / "install.md").read_text("utf-8")
    for name, text in (("workflow", starter.WORKFLOW), ("pre-commit", starter.PRE_COMMIT)):
        shown = page.split(f"<!-- {name}:start -->\n```yaml\n")[1].split("```\n")[0]
        assert shown == text, name
    assert f'pip install "{starter.INSTALL}"' in page
    assert f'pip install "{starter.INSTALL}"' in README


def test_links_between_pages_lead_somewhere() -> None:
    """Every relative link of the README and docs/ names a file of the repository, and
    every #anchor a heading of the page it points into (as GitHub makes them)."""
    def anchors(page: Path) -> set[str]:
        headings = re.findall(r"^#+ (.+)$", page.read_text("utf-8"), re.M)
        return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}

    for page in [ROOT / "README.md", *DOCS]:
        for link in re.findall(r"\]\(([^)\s]+)\)", page.read_text("utf-8")):
            if link.startswith(("http://", "https://")):
                continue
            path, _, anchor = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            assert target.exists(), (page.name, link)
            assert ROOT in target.parents or target == ROOT, (page.name, link)
            if anchor:
                assert anchor in anchors(target), (page.name, link)


def test_the_docs_stand_on_their_own() -> None:
    """No page refers to a design document outside the repository."""
    pages = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "bench").glob("*")]
    for page in pages:
        text = page.read_text("utf-8", errors="replace")
        for outside in ("DESIGN.md", "MISSION.md", "STYLE.md", "../shared"):
            assert outside not in text, (page.name, outside)


def test_every_picture_the_pages_show_is_in_the_repository() -> None:
    """The README's and docs' images exist, and the ones scripts/make_images.py makes are
    shown in the README."""
    for page in [ROOT / "README.md", *DOCS]:
        for path in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page.read_text("utf-8")):
            assert (page.parent / path).is_file(), (page.name, path)
            assert (page.parent / path).read_bytes().startswith(b"\x89PNG"), path
    shown = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    for picture in ("five-step.png", "five-step-results.png", "chart-monthly.png"):
        assert f"docs/{picture}" in shown
