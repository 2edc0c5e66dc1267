"""Deals broken down by a deal field (crm: fields:) or by their owner: for each value,
how many deals, open, won and lost, the win rate with its 95% Wilson interval, the median
cycle from created to won (Kaplan–Meier, open deals as still going), the open pipeline's
value, and the loss reasons. A stage history and a deal table are broken down alike: every
figure here comes from the deals table."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from salesproc.core import layout, optional
from salesproc.core.diagnostics import did_you_mean
from salesproc.core.errors import SettingsError
from salesproc.core.layout import number
from salesproc.core.stats import Estimate, proportion
from salesproc.history.table import OUTCOME_LOST, OUTCOME_OPEN, OUTCOME_WON, History
from salesproc.measuring.deal_measurement import cycle, losses
from salesproc.process.model import Process

if TYPE_CHECKING:
    import pandas

OWNER = "owner"
NONE = "(none)"  # a category or owner left empty in the export
UNKNOWN = "(unknown)"  # a number field not given, or not a number
BINS = 4  # a number field is cut at its quartiles


def choices(process: Process) -> list[str]:
    """What deals can be broken down by: owner, and each field crm: fields: maps."""
    return [OWNER, *process.crm.fields]


def check_by(process: Process, by: str) -> None:
    """Raise :class:`SettingsError` (setting 'by') unless deals can be broken down by *by*."""
    if by in choices(process):
        return
    declared = list(process.fields)
    if by in declared:
        hint = f"map it to the export's column: crm: {{fields: {{{by}: COLUMN}}}}"
    else:
        near = did_you_mean(by, [*choices(process), *declared])
        hint = (f"{near}; " if near else "") + f"choose one of: {', '.join(choices(process))}" + (
            f" (declared fields: {', '.join(declared)})" if declared else
            " (the process declares no fields:)")
    raise SettingsError("by", f"cannot break deals down by '{by}'", hint=hint)


@dataclass(frozen=True)
class Group:
    """The deals with one value of the field (or one owner)."""

    value: str
    deals: int
    open: int
    won: int
    lost: int
    win_rate: Estimate  # won ÷ (won + lost), Wilson 95%
    cycle_median: float  # days from created to won (NaN: none won)
    open_value: float  # the open deals' worth, in the process's currency
    losses: list[tuple[str, int]]  # reason, deals


@dataclass
class Breakdown:
    """Deals by one field (or owner): :meth:`to_dict` is the JSON layout, :meth:`rows`
    the CSV's."""

    process: Process
    by: str
    as_of: dt.datetime
    sources: tuple[str, ...]
    groups: list[Group]
    notes: tuple[Any, ...] = ()

    COLUMNS = ("by", "value", "deals", "open", "won", "lost", "win_rate", "low", "high",
               "cycle_median_days", "open_value")

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON layout (docs/commands.md); figures without data are null."""
        data: dict[str, Any] = layout.clean({
            **layout.header("breakdown"),
            "process": {"name": self.process.name, "file": self.process.source,
                        "currency": self.process.currency},
            "sources": list(self.sources), "as_of": self.as_of.isoformat(), "by": self.by,
            "interval": "95% Wilson interval for win rates; cycle in days (Kaplan–Meier "
                        "median)",
            "groups": [{"value": g.value, "deals": g.deals, "open": g.open, "won": g.won,
                        "lost": g.lost, "win_rate": layout.estimate(g.win_rate),
                        "cycle_median_days": number(g.cycle_median),
                        "open_value": number(g.open_value),
                        "lost_reasons": [{"reason": r, "deals": n} for r, n in g.losses]}
                       for g in self.groups],
            "notes": [n.to_dict() for n in self.notes],
        })
        return data

    def to_frame(self) -> pandas.DataFrame:
        """The rows as a pandas DataFrame (needs pandas: pip install 'salesproc[pandas]')."""
        return optional.pandas().DataFrame(self.rows(), columns=list(self.COLUMNS))

    def rows(self) -> list[list[Any]]:
        """One row per value (COLUMNS)."""
        return [[self.by, g.value, g.deals, g.open, g.won, g.lost, g.win_rate.mean,
                 g.win_rate.low, g.win_rate.high, g.cycle_median, g.open_value]
                for g in self.groups]


def breakdown(history: History, by: str) -> Breakdown:
    """The deals of *history* broken down by *by*: 'owner', or a field crm: fields: maps
    (a category by its values, a number by its quartiles). Raises SettingsError for
    anything else."""
    check_by(history.process, by)
    labels, index = _groups(history, by)
    d = history.deals
    groups = []
    for k, label in enumerate(labels):
        mask = index == k
        if not mask.any():
            continue
        won = mask & (d.outcome == OUTCOME_WON)
        lost = mask & (d.outcome == OUTCOME_LOST)
        still = mask & (d.outcome == OUTCOME_OPEN)
        n_won, n_lost = int(won.sum()), int(lost.sum())
        groups.append(Group(label, int(mask.sum()), int(still.sum()), n_won, n_lost,
                            proportion(n_won, n_won + n_lost),
                            cycle(history, won, still).median if won.any() else math.nan,
                            float(np.nansum(d.value[still])), losses(history, lost)))
    return Breakdown(history.process, by, history.as_of, history.sources, groups,
                     history.notes)


def _groups(history: History, by: str) -> tuple[list[str], np.ndarray]:
    """The group labels, and each deal's group (an index into them)."""
    d = history.deals
    column = d.owner if by == OWNER else d.fields.get(by)
    if column is None:  # a history read before crm: fields: named it (a deal log)
        return [UNKNOWN], np.zeros(len(d), dtype=np.int64)
    if isinstance(column, pa.Array):
        words = np.array([w or NONE for w in column.cast(pa.string()).to_pylist()],
                         dtype=object)
        labels, index = np.unique(words.astype(str), return_inverse=True)
        return [str(x) for x in labels], index
    return _bins(column)


def _bins(values: np.ndarray) -> tuple[list[str], np.ndarray]:
    """A number field cut at its quartiles (fewer groups where they coincide), and the
    deals without a number as one group more."""
    known = ~np.isnan(values)
    if not known.any():
        return [UNKNOWN], np.zeros(len(values), dtype=np.int64)
    edges = np.unique(np.quantile(values[known], np.linspace(0, 1, BINS + 1)))
    inner = edges[1:-1]
    index = np.where(known, np.searchsorted(inner, values, side="right"), len(edges) - 1)
    if len(edges) == 1:
        labels = [f"{edges[0]:g}"]
        index = np.where(known, 0, 1)
    else:
        labels = [f"{lo:g} to {hi:g}" for lo, hi in itertools.pairwise(edges)]
    return [*labels, UNKNOWN], index
