"""Simulated deals written as CRM exports: Salesforce (Opportunity + OpportunityHistory),
HubSpot deals, or a generic stage-change CSV, as those CRMs write them.

For trying `salesproc measure` on a known truth (the tests do), for benchmarks, and for
demo data. CRM stage names are the process's stage names; the outcomes are `Closed Won`
and `Closed Lost`; the buyer type is a custom field (`Segment__c`, HubSpot's `Segment`),
the loss reason `Loss_Reason__c` (`Closed Lost Reason`).

With *fields* (:class:`Fields`), the writers write what a real export carries besides:
each deal's own currency, owner, amount as it changed, and a rich-text `Description`; the
CRM's own names of the outcomes; and on each Salesforce history row the standard fields
as they stood then (`Amount`, `Probability`, `ExpectedRevenue`, `CloseDate`,
`ForecastCategory`). :func:`write_opportunities` and :func:`write_deal_table` write one
row per deal and no stage history. `salesproc.prediction.synthetic` builds such deals.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from salesproc.core.outputs import atomic_open
from salesproc.core.units import HOURS
from salesproc.experiments.results import Visit
from salesproc.process.model import WON, Process

WON_NAME, LOST_NAME = "Closed Won", "Closed Lost"
BUYER_FIELD, REASON_FIELD = "Segment__c", "Loss_Reason__c"
OWNER = "005000000000001"
PLANNED = dt.timedelta(days=60)  # an open deal's CloseDate: 60 days after it was created
DEAL_TABLE = ("deal", "name", "created", "close_date", "stage", "amount", "currency", "owner",
              "lost_reason", "segment")


@dataclass(frozen=True)
class Fields:
    """What a fuller export carries (the writers' *fields*): each CRM stage's probability
    (%, as the CRM is set up; won 100, lost 0) and the CRM's names of the outcomes."""

    probabilities: Mapping[str, int]
    won: str = WON_NAME
    lost: str = LOST_NAME

    def category(self, probability: int, outcome: str) -> str:
        """Salesforce's forecast category for a probability (or outcome)."""
        if outcome != "open":
            return "Closed" if outcome == "won" else "Omitted"
        return "Commit" if probability >= 80 else "Best Case" if probability >= 50 \
            else "Pipeline"


@dataclass
class Deal:
    """One simulated deal, as a CRM would hold it."""

    id: str
    buyer: str
    value: float
    created: dt.datetime
    stages: list[tuple[str, dt.datetime]] = field(default_factory=list)  # entered, in order
    outcome: str = "open"  # open, won, lost
    closed: dt.datetime | None = None
    reason: str = ""
    # Written with *fields* only:
    currency: str = ""
    amounts: list[tuple[dt.datetime, float]] = field(default_factory=list)  # in *currency*,
    owner: str = OWNER  # each from its time on (the first from creation)
    description: str = ""

    def amount_at(self, t: dt.datetime) -> float:
        """The amount (in *currency*) as it stood at *t*: *value* when none is given."""
        found = [a for when, a in self.amounts if when <= t] or [a for _, a in self.amounts[:1]]
        return found[-1] if found else self.value

    def close_at(self, t: dt.datetime) -> dt.date:
        """The CloseDate as it stood at *t*: the day it closed, else the planned day."""
        if self.closed is not None and t >= self.closed:
            return self.closed.date()
        return (self.created + PLANNED).date()

    def stage_name(self, fields: Fields) -> str:
        """The CRM stage it is in at the end: its last stage, or an outcome's name."""
        return {"won": fields.won, "lost": fields.lost}.get(self.outcome, self.stages[-1][0])

    def probability(self, stage: str, fields: Fields) -> int:
        return {fields.won: 100, fields.lost: 0}.get(stage, fields.probabilities.get(stage, 0))


def deals_of(events: Iterable[Visit], process: Process, as_of: float | None = None, *,
             names: Mapping[str, str] | None = None, segments: Mapping[str, str] | None = None
             ) -> list[Deal]:
    """The deals of the first replication in *events*, as they stood at *as_of* (a time
    in the process's unit; default: the end of the log). *names* gives the CRM's name of
    each stage id (default: the stage's name), *segments* the CRM's word for each buyer
    type (default: its id)."""
    start = dt.datetime.combine(process.start, dt.time())
    hours = HOURS[process.time_unit]

    def when(t: float) -> dt.datetime:
        return start + dt.timedelta(seconds=round(t * hours * 3600))

    deals: dict[int, Deal] = {}
    first: int | None = None
    for v in events:
        first = v.replication if first is None else first
        if v.replication != first or (as_of is not None and v.entered > as_of):
            continue
        deal = deals.get(v.deal)
        if deal is None:
            deal = deals[v.deal] = Deal(f"006{v.deal:012d}",
                                        (segments or {}).get(v.buyer_type, v.buyer_type),
                                        v.value, when(v.entered))
        name = (names or {}).get(v.stage, process.stages[v.stage].name)
        if not deal.stages or deal.stages[-1][0] != name:
            deal.stages.append((name, when(v.entered)))
        done = v.finished == v.finished and (as_of is None or v.finished <= as_of)
        if done and (v.outcome == WON or v.outcome.startswith("lost")):
            deal.outcome = "won" if v.outcome == WON else "lost"
            deal.closed = when(v.finished)
            deal.reason = v.outcome.removeprefix("lost:").strip()
    return list(deals.values())


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _plain(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


def _money(amount: float) -> str:
    return "" if amount != amount else f"{amount:.2f}"  # NaN: no amount


def _rows(d: Deal, fields: Fields) -> Iterator[tuple[str, dt.datetime]]:
    """(CRM stage, time) of each row of *d*'s history: each stage it entered, each change of
    its amount (in the stage it was in then), and its close (the outcome's name)."""
    changes = [(t, 0, name) for name, t in d.stages] + [(t, 1, "") for t, _ in d.amounts[1:]]
    if d.closed is not None:
        changes.append((d.closed, 0, d.stage_name(fields)))
    stage = d.stages[0][0]
    for t, _, name in sorted(changes, key=lambda c: (c[0], c[1])):
        stage = name or stage
        yield stage, t


def write_salesforce(deals: Sequence[Deal], folder: str | os.PathLike[str], *,
                     encoding: str = "utf-8", repeat: int = 3,
                     currencies: Sequence[tuple[str, float]] = (), empty_amounts: int = 0,
                     fields: Fields | None = None) -> tuple[Path, Path]:
    """Opportunity.csv and OpportunityHistory.csv in *folder*, quoted as Data Loader
    writes them. Every *repeat*-th stage visit gets a second history row in the same stage
    (an amount change), as real histories have. *currencies* ((code, rate) pairs) writes
    every other deal's amount in the next of these currencies, converted at its rate;
    every *empty_amounts*-th deal has no amount, as in real exports.

    With *fields*, the deals' own currencies, amounts, owners and descriptions are written
    instead (*repeat*, *currencies* and *empty_amounts* are not used), and each history
    row is one of :func:`_rows`, with the standard fields as they stood then."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    opp, hist = folder / "Opportunity.csv", folder / "OpportunityHistory.csv"
    if fields is not None:
        return (write_opportunities(deals, opp, fields, encoding=encoding),
                _write_history(deals, hist, fields, encoding))
    with open(opp, "w", encoding=encoding, newline="") as o, \
            open(hist, "w", encoding=encoding, newline="") as h:
        ow = csv.writer(o, quoting=csv.QUOTE_ALL)
        hw = csv.writer(h, quoting=csv.QUOTE_ALL)
        ow.writerow(["Id", "Name", "StageName", "CreatedDate", "Amount", "CloseDate",
                     "IsClosed", "IsWon", "CurrencyIsoCode", "Probability", "ForecastCategory",
                     "OwnerId", BUYER_FIELD, REASON_FIELD])
        hw.writerow(["Id", "OpportunityId", "StageName", "CreatedDate", "Amount", "CloseDate"])
        row = 0
        for k, d in enumerate(deals):
            currency, rate = ("USD", 1.0)
            if currencies and k % 2:
                currency, rate = currencies[(k // 2) % len(currencies)]
            amount = "" if empty_amounts and k % empty_amounts == 1 else f"{d.value / rate:.2f}"
            stage = {"won": WON_NAME, "lost": LOST_NAME}.get(d.outcome, d.stages[-1][0])
            close = (d.closed or d.created + dt.timedelta(days=60)).date().isoformat()
            ow.writerow([d.id, f"Deal {k} – Café", stage, _iso(d.created), amount, close,
                         str(d.outcome != "open").lower(), str(d.outcome == "won").lower(),
                         currency, {"won": 100, "lost": 0}.get(d.outcome, 50),
                         {"won": "Closed", "lost": "Omitted"}.get(d.outcome, "Pipeline"),
                         "005000000000001", d.buyer, d.reason])
            ends = [t for _, t in d.stages[1:]] + [d.closed]
            for (name, entered), left in zip(d.stages, ends, strict=True):
                row += 1
                hw.writerow([f"008{row:012d}", d.id, name, _iso(entered), amount, close])
                if repeat and row % repeat == 0 and left is not None:  # only the amount
                    row += 1  # changed, half-way through the visit: the same stage again
                    hw.writerow([f"008{row:012d}", d.id, name,
                                 _iso(entered + (left - entered) / 2), amount, close])
            if d.closed is not None:
                row += 1
                hw.writerow([f"008{row:012d}", d.id, stage, _iso(d.closed), amount, close])
    return opp, hist


def write_opportunities(deals: Sequence[Deal], path: str | os.PathLike[str], fields: Fields,
                        *, encoding: str = "utf-8") -> Path:
    """Salesforce's Opportunity.csv: one row per deal as it stands at the end, with a
    multi-line rich-text Description (which may hold whatever bytes the deal's has)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL)
        w.writerow(["Id", "Name", "StageName", "CreatedDate", "Amount", "CloseDate",
                    "IsClosed", "IsWon", "CurrencyIsoCode", "Probability", "ForecastCategory",
                    "OwnerId", BUYER_FIELD, REASON_FIELD, "Description"])
        for k, d in enumerate(deals):
            stage = d.stage_name(fields)
            chance = d.probability(stage, fields)
            w.writerow([d.id, f"Deal {k} – Café", stage, _iso(d.created),
                        _money(d.amount_at(dt.datetime.max)),
                        d.close_at(dt.datetime.max).isoformat(),
                        str(d.outcome != "open").lower(), str(d.outcome == "won").lower(),
                        d.currency, chance, fields.category(chance, d.outcome), d.owner,
                        d.buyer, d.reason, d.description])
    return path


def _write_history(deals: Sequence[Deal], path: Path, fields: Fields, encoding: str) -> Path:
    outcomes = {fields.won: "won", fields.lost: "lost"}
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL)
        w.writerow(["Id", "OpportunityId", "StageName", "CreatedDate", "Amount", "Probability",
                    "ExpectedRevenue", "CloseDate", "ForecastCategory"])
        row = 0
        for d in deals:
            for stage, t in _rows(d, fields):
                row += 1
                amount, chance = d.amount_at(t), d.probability(stage, fields)
                w.writerow([f"008{row:012d}", d.id, stage, _iso(t), _money(amount), chance,
                            _money(amount * chance / 100), d.close_at(t).isoformat(),
                            fields.category(chance, outcomes.get(stage, "open"))])
    return path


def write_deal_table(deals: Sequence[Deal], path: str | os.PathLike[str], fields: Fields, *,
                     encoding: str = "utf-8") -> Path:
    """A one-row-per-deal CSV (a CRM's deals report, a spreadsheet), columns
    :data:`DEAL_TABLE`: the CRM stage it is in now (or the outcome's name); close_date is
    the day it closed, or the planned day while open."""
    path = Path(path)
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow(DEAL_TABLE)
        for k, d in enumerate(deals):
            w.writerow([d.id, f"Deal {k}", _plain(d.created),
                        d.close_at(dt.datetime.max).isoformat(), d.stage_name(fields),
                        _money(d.amount_at(dt.datetime.max)), d.currency, d.owner, d.reason,
                        d.buyer])
    return path


def write_hubspot(deals: Sequence[Deal], path: str | os.PathLike[str], stages: Sequence[str],
                  *, encoding: str = "utf-8", fields: Fields | None = None) -> Path:
    """A HubSpot deals export: one row per deal, a `Date entered "<stage> (Sales
    Pipeline)"` column per stage (the last entry, as HubSpot keeps it). With *fields*, the
    outcomes' names are the CRM's, and each deal's currency and owner are written too
    (Close Date is then the planned day while a deal is open)."""
    if fields is not None:
        return _write_hubspot_fields(deals, Path(path), stages, encoding, fields)
    path = Path(path)
    names = [*stages, WON_NAME, LOST_NAME]
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow(["Record ID", "Deal Name", "Deal Stage", "Create Date", "Close Date",
                    "Amount", "Pipeline", "Segment", "Closed Lost Reason",
                    *[f'Date entered "{n} (Sales Pipeline)"' for n in names]])
        for d in deals:
            entered = dict(d.stages)
            if d.closed is not None:
                entered[WON_NAME if d.outcome == "won" else LOST_NAME] = d.closed
            stage = {"won": WON_NAME, "lost": LOST_NAME}.get(d.outcome, d.stages[-1][0])
            w.writerow([d.id, f"Deal {d.id}", stage, d.created.strftime("%Y-%m-%d %H:%M:%S"),
                        d.closed.strftime("%Y-%m-%d %H:%M:%S") if d.closed else "",
                        f"{d.value:.2f}", "Sales Pipeline", d.buyer, d.reason,
                        *[entered[n].strftime("%Y-%m-%d %H:%M:%S") if n in entered else ""
                          for n in names]])
    return path


def _write_hubspot_fields(deals: Sequence[Deal], path: Path, stages: Sequence[str],
                          encoding: str, fields: Fields) -> Path:
    names = [*stages, fields.won, fields.lost]
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow(["Record ID", "Deal Name", "Deal Stage", "Create Date", "Close Date",
                    "Amount", "Currency", "Pipeline", "Deal owner", "Segment",
                    "Closed Lost Reason",
                    *[f'Date entered "{n} (Sales Pipeline)"' for n in names]])
        for d in deals:
            entered = dict(d.stages)
            if d.closed is not None:
                entered[d.stage_name(fields)] = d.closed
            w.writerow([d.id, f"Deal {d.id}", d.stage_name(fields), _plain(d.created),
                        d.close_at(dt.datetime.max).isoformat(),
                        _money(d.amount_at(dt.datetime.max)), d.currency, "Sales Pipeline",
                        d.owner, d.buyer, d.reason,
                        *[_plain(entered[n]) if n in entered else "" for n in names]])
    return path


def write_generic(deals: Sequence[Deal], path: str | os.PathLike[str], *,
                  encoding: str = "utf-8", fields: Fields | None = None) -> Path:
    """A stage-change CSV: deal, stage, changed_at, amount, segment, reason. With *fields*,
    a currency column too, the amount as it stood on each row (a change of amount is a row
    in the same stage), and the outcomes' names are the CRM's."""
    if fields is not None:
        return _write_generic_fields(deals, Path(path), encoding, fields)
    path = Path(path)
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow(["deal", "stage", "changed_at", "amount", "segment", "reason"])
        for d in deals:
            changes = list(d.stages)
            if d.closed is not None:
                changes.append((WON_NAME if d.outcome == "won" else LOST_NAME, d.closed))
            for name, at in changes:
                w.writerow([d.id, name, at.strftime("%Y-%m-%d %H:%M:%S"), f"{d.value:.2f}",
                            d.buyer, d.reason])
    return path


def _write_generic_fields(deals: Sequence[Deal], path: Path, encoding: str, fields: Fields
                          ) -> Path:
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow(["deal", "stage", "changed_at", "amount", "currency", "segment", "reason"])
        for d in deals:
            for stage, t in _rows(d, fields):
                w.writerow([d.id, stage, _plain(t), _money(d.amount_at(t)), d.currency,
                            d.buyer, d.reason])
    return path


@contextlib.contextmanager
def event_log(path: str | os.PathLike[str]) -> Iterator[Callable[[Visit], None]]:
    """A CSV event log at *path*, one row per stage visit as the simulation streams them
    (``simulate(..., event_sink=...)``), written atomically: the file appears only once
    the run has completed. An open deal's missing times are empty cells."""
    with atomic_open(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(Visit._fields)

        def write(visit: Visit) -> None:
            writer.writerow(["" if isinstance(v, float) and math.isnan(v) else v
                             for v in visit])

        yield write
