"""Write the example CRM exports: in examples/five-step-salesforce/, a year of the five-step
process simulated and exported as Salesforce writes Opportunity.csv and
OpportunityHistory.csv (CRM stage names, segments, three currencies, repeated history rows,
a few empty amounts), as it stood on 2026-11-27; in examples/hubspot-first-export/, a
quarter of the starter process that `salesproc init` writes (acme-sales.yaml), as a HubSpot
deals export with HubSpot's own stage names (the README's first hour measures it).

    python scripts/make_example_export.py

The README's `salesproc measure` examples read them; tests/test_measure.py and
tests/test_first_hour.py check they are what this script writes.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import salesproc  # noqa: E402
from salesproc.experiments.export import deals_of, write_hubspot, write_salesforce  # noqa: E402
from salesproc.process import starter  # noqa: E402

FOLDER = ROOT / "examples" / "five-step-salesforce"
NAMES = {"inquiry": "Prospecting", "call": "Qualification", "demo": "Needs Analysis",
         "proposal": "Proposal/Price Quote", "agreement": "Negotiation/Review"}
SEGMENTS = {"single_decision_maker": "SMB", "standard": "Mid-Market",
            "committee": "Enterprise"}
AS_OF = 326.0  # days after the start (2026-01-05): the export was taken on 2026-11-27
FIRST = ROOT / "examples" / "hubspot-first-export"
HUBSPOT_NAMES = {"inquiry": "Appointment Scheduled", "meeting": "Presentation Scheduled"}


def write(folder: Path = FOLDER) -> tuple[Path, Path]:
    process = salesproc.load(ROOT / "processes" / "five-step.yaml")
    result = salesproc.simulate(process, replications=1, horizon="330d", warmup=0, seed=7,
                                events=True)
    assert result.events is not None
    deals = deals_of(result.events, process, AS_OF, names=NAMES, segments=SEGMENTS)
    return write_salesforce(deals, folder, currencies=(("EUR", 1.08), ("GBP", 1.27)),
                            empty_amounts=40)


def write_first(folder: Path = FIRST) -> tuple[Path, Path]:
    """acme-sales.yaml, the starter process as `salesproc init` writes it for a start on
    2026-01-05, and deals.csv, a quarter of it exported by HubSpot on 2026-04-06 (its
    stage names, a Date entered column per stage, loss reasons)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = folder / "acme-sales.yaml"
    written.write_text(starter.render("acme-sales", today=dt.date(2026, 1, 5),
                                      schema="../../schemas/process.schema.json"), "utf-8")
    process = salesproc.load(written)
    result = salesproc.simulate(process, replications=1, horizon="91d", warmup=0, seed=3,
                                events=True)
    assert result.events is not None
    deals = deals_of(result.events, process, 91.0, names=HUBSPOT_NAMES)
    return written, write_hubspot(deals, folder / "deals.csv", list(HUBSPOT_NAMES.values()))


if __name__ == "__main__":
    for path in (*write(), *write_first()):
        print(f"wrote {path.relative_to(ROOT)}")
