"""Simulated deals written as CRM exports: Salesforce (Opportunity + OpportunityHistory),
HubSpot deals, or a generic stage-change CSV, as those CRMs write them.

For trying `salesproc measure` on a known truth (the tests do), for benchmarks, and for
demo data. CRM stage names are the process's stage names; the outcomes are `Closed Won`
and `Closed Lost`; the buyer type is a custom field (`Segment__c`, HubSpot's `Segment`),
the loss reason `Loss_Reason__c` (`Closed Lost Reason`).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from salesproc.model import WON, Process
from salesproc.sim.results import Visit
from salesproc.units import HOURS

WON_NAME, LOST_NAME = "Closed Won", "Closed Lost"
BUYER_FIELD, REASON_FIELD = "Segment__c", "Loss_Reason__c"


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


def write_salesforce(deals: Sequence[Deal], folder: str | os.PathLike[str], *,
                     encoding: str = "utf-8", repeat: int = 3,
                     currencies: Sequence[tuple[str, float]] = (), empty_amounts: int = 0
                     ) -> tuple[Path, Path]:
    """Opportunity.csv and OpportunityHistory.csv in *folder*, quoted as Data Loader
    writes them. Every *repeat*-th stage visit gets a second history row in the same stage
    (an amount change), as real histories have. *currencies* ((code, rate) pairs) writes
    every other deal's amount in the next of these currencies, converted at its rate;
    every *empty_amounts*-th deal has no amount, as in real exports."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    opp, hist = folder / "Opportunity.csv", folder / "OpportunityHistory.csv"
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


def write_hubspot(deals: Sequence[Deal], path: str | os.PathLike[str], stages: Sequence[str],
                  *, encoding: str = "utf-8") -> Path:
    """A HubSpot deals export: one row per deal, a `Date entered "<stage> (Sales
    Pipeline)"` column per stage (the last entry, as HubSpot keeps it)."""
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


def write_generic(deals: Sequence[Deal], path: str | os.PathLike[str], *,
                  encoding: str = "utf-8") -> Path:
    """A stage-change CSV: deal, stage, changed_at, amount, segment, reason."""
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
