"""Option types and options the commands share: spans of time, dates, formats, workers,
where the work runs."""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import click

from salesproc.cli.app import Failure
from salesproc.cli.writing import SUFFIXES
from salesproc.core.defaults import CRM_FORMATS, MAX_REPLICATIONS, MAX_WORKERS
from salesproc.core.diagnostics import shown
from salesproc.core.errors import SalesprocError
from salesproc.core.units import SPAN_HELP

if TYPE_CHECKING:
    from salesproc.core.execution import Place, Session

DURATION = SPAN_HELP


FORMATS = ["table", "json", "csv", "html"]


FORMAT_HELP = ("table for the terminal, json or csv for other tools, html for one page with "
               "charts that opens offline.")


def output_option(formats: Sequence[str] = tuple(FORMATS)
                  ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """-o FILE, as often as wanted: each file in the format its name ends with (with one
    -o, --format may say another), the result made once for all of them."""
    endings = ", ".join(end for end, kind in SUFFIXES.items() if kind in formats)
    return click.option(
        "-o", "--output", "outputs", multiple=True,
        type=click.Path(dir_okay=False, path_type=str),
        help=f"Write the results to this file instead of the terminal, in the format its "
        f"name ends with ({endings}) unless --format says another. Several -o write one "
        "file each from one run.")


CHARTS_OPTION = click.option(
    "--charts", "charts_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=str),
    help="Also write each chart as DIR/NAME.svg and DIR/NAME.png, for slides.")


REPLICATIONS = click.IntRange(1, MAX_REPLICATIONS)


RANGED = click.IntRange(3, MAX_REPLICATIONS)  # a worst-to-best range needs 3 runs or more


WORKERS = click.IntRange(1, MAX_WORKERS)


class Duration(click.ParamType):  # type: ignore[type-arg]
    """A span of time (units.parse_span: a bare number is days, in every command): its
    form checked here and kept as text, read in the process's time unit by span once
    the process is loaded."""

    name = "duration"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        from salesproc.core.units import is_span_text, parse_span

        text = str(value).strip()
        try:
            amount = float(text)
        except ValueError:
            if not is_span_text(text):
                self.fail(f"{text!r} is not a duration ({DURATION})", param, ctx)
            amount = parse_span(text, "day")
        if not math.isfinite(amount) or amount < 0 or (self.positive and amount == 0):
            self.fail(f"{text!r} is not a duration {'above' if self.positive else 'of at least'}"
                      " 0", param, ctx)
        return text

    def __init__(self, positive: bool = False) -> None:
        self.positive = positive


def span(text: str | None, unit: str, option: str) -> float | None:
    """*text* given to *option* (checked by Duration), in *unit*; a bare number where a
    process counts time in another unit is a usage error that says what to write."""
    from salesproc.core.units import SpanError, parse_span

    if text is None:
        return None
    try:
        return parse_span(text, unit)
    except SpanError as exc:
        raise click.BadParameter(f"{exc}: {exc.hint}", param_hint=option) from None


class Date(click.ParamType):  # type: ignore[type-arg]
    """A date (2026-03-31) or a date and time (2026-03-31T18:00), in the team's local
    time (no zone: times in exports are read so too), from 1900 on (as dates in exports
    are). A *past* date is not after today: the history as of a later day does not
    exist yet; a later one (the end of a forecast) is at most a century ahead. A day
    alone is the end of that day, or its start where *start_of_day* (a backtest's origin:
    the history as it stood when the day began)."""

    name = "date"
    _FORM = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?")

    def __init__(self, past: bool = True, start_of_day: bool = False) -> None:
        self.past = past
        self.start_of_day = start_of_day

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        import datetime as dt

        text = str(value).strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+)?\s*(?:Z|UTC|[+-]\d{2}(?::?\d{2})?)",
                        text):
            self.fail(f"'{shown(text)}' has a time zone; give the team's local time "
                      "without one (2026-03-31T18:00), as the export's times are read",
                      param, ctx)
        try:
            if not self._FORM.fullmatch(text):
                raise ValueError(text)
            day_time = dt.time() if self.start_of_day else dt.time(23, 59, 59)
            when = dt.datetime.combine(dt.date.fromisoformat(text), day_time) \
                if len(text) == 10 else dt.datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"'{shown(text)}' is not a date like 2026-03-31 (or 2026-03-31T18:00)",
                      param, ctx)
        today = dt.date.today()
        if when.year < 1900:
            self.fail(f"{text} is before 1900: no CRM history is that old", param, ctx)
        if self.past and when.date() > today:
            self.fail(f"{when:%Y-%m-%d} is after today ({today.isoformat()}): the history "
                      "as it stood then is not known yet", param, ctx)
        if when.year > today.year + 100:
            self.fail(f"{when:%Y-%m-%d} is more than a century ahead", param, ctx)
        return when


EXECUTOR_VARIABLE = "SALESPROC_EXECUTOR"


EXECUTOR_OPTION = click.option(
    "--executor", metavar="PLACE", help="Where the runs go: local (this machine's cores; "
    "local:N for N processes) or dask://HOST:PORT (the scheduler of a Dask cluster; pip "
    f"install 'salesproc[dask]'). Default: ${EXECUTOR_VARIABLE}, else local. Results do "
    "not depend on it.")


def executor_place(executor: str | None, workers: int | None) -> Place:
    """Where a command runs its work: --executor, else $SALESPROC_EXECUTOR, else local
    (local:N says how many processes, as --workers does). Read before any work: a bad
    value, or a cluster without Dask's package installed, is said first."""
    from salesproc.core import execution

    if executor is not None:
        where = execution.place(executor)  # a SettingsError: a usage error on --executor
    else:
        said = os.environ.get(EXECUTOR_VARIABLE, "").strip()
        try:
            where = execution.place(said) if said else execution.LOCAL
        except SalesprocError as exc:
            raise Failure(f"{EXECUTOR_VARIABLE}={said!r}: {exc.message}", hint=exc.hint
                          ) from None
    if where.workers is not None and workers is not None and where.workers != workers:
        raise click.UsageError(f"--workers {workers} and --executor {where} disagree: give "
                               "one of them")
    if where.address is not None:
        execution.distributed()
    return where


@contextlib.contextmanager
def running(where: Place, workers: int | None) -> Iterator[Session]:
    """The session a command runs its work in, at *where* (local: worker_count(*workers*)
    processes unless it says how many); a Dask scheduler is reached here."""
    from salesproc.core import execution

    with execution.session(where, worker_count(workers)) as opened:
        yield opened


def simulation_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by compare and sweep (the same as simulate's)."""
    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        click.option("-r", "--replications", type=REPLICATIONS, help="Paired replications "
                     "(default: the base file's, else 20)."),
        click.option("--horizon", type=Duration(positive=True),
                     help=f"How long to simulate ({DURATION})."),
        click.option("--warmup", type=Duration(), help="Initial time left out."),
        click.option("--seed", type=click.IntRange(min=0), help="Random seed."),
        click.option("-w", "--workers", type=WORKERS,
                     help="Parallel processes (default: all cores)."),
        EXECUTOR_OPTION,
        click.option("--buyer", help="Report this buyer type's deals (every buyer type "
                     "is still simulated: they share the team)."),
        click.option("--format", "fmt", type=click.Choice(FORMATS),
                     default="table", show_default=True, help=FORMAT_HELP),
        output_option(),
        CHARTS_OPTION,
    ]
    for option in reversed(options):
        func = option(func)
    return func


WORKERS_VARIABLE = "SALESPROC_WORKERS"


def worker_count(given: int | None) -> int:
    """The command line uses every core unless told otherwise: by its option, or by the
    environment's SALESPROC_WORKERS (a CI job or a container allowed fewer cores than the
    machine shows, a test run that already keeps every core busy); the library, one."""
    if given is not None:
        return given
    said = os.environ.get(WORKERS_VARIABLE, "").strip()
    if said:
        if not said.isdigit() or not 1 <= int(said) <= MAX_WORKERS:
            raise Failure(f"{WORKERS_VARIABLE}={said!r} is no number of workers",
                          hint=f"set it to a whole number from 1 to {MAX_WORKERS}, or unset it "
                          "to use every core")
        return int(said)
    return min(os.cpu_count() or 1, MAX_WORKERS)


#: The CRM exports measure, calibrate, forecast and backtest read, and which they are.
HISTORY_ARGUMENT = click.argument("history", metavar="HISTORY...", nargs=-1, required=True,
                                  type=click.Path(path_type=str))
CRM_OPTION = click.option("--crm", "crm", type=click.Choice(CRM_FORMATS),
                          help="Which export this is (default: told by its columns).")
