"""Write the example CRM export in examples/five-step-salesforce/: a year of the five-step
process simulated and exported as Salesforce writes Opportunity.csv and
OpportunityHistory.csv (CRM stage names, segments, three currencies, repeated history rows,
a few empty amounts), as it stood on 2026-11-27.

    python scripts/make_example_export.py

The README's `salesproc measure` example reads it; tests/test_measure.py checks it is
what this script writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import salesproc  # noqa: E402
from salesproc.history.export import deals_of, write_salesforce  # noqa: E402

FOLDER = ROOT / "examples" / "five-step-salesforce"
NAMES = {"inquiry": "Prospecting", "call": "Qualification", "demo": "Needs Analysis",
         "proposal": "Proposal/Price Quote", "agreement": "Negotiation/Review"}
SEGMENTS = {"single_decision_maker": "SMB", "standard": "Mid-Market",
            "committee": "Enterprise"}
AS_OF = 326.0  # days after the start (2026-01-05): the export was taken on 2026-11-27


def write(folder: Path = FOLDER) -> tuple[Path, Path]:
    process = salesproc.load(ROOT / "processes" / "five-step.yaml")
    result = salesproc.simulate(process, replications=1, horizon="330d", warmup=0, seed=7,
                                events=True)
    assert result.events is not None
    deals = deals_of(result.events, process, AS_OF, names=NAMES, segments=SEGMENTS)
    return write_salesforce(deals, folder, currencies=(("EUR", 1.08), ("GBP", 1.27)),
                            empty_amounts=40)


if __name__ == "__main__":
    for path in write():
        print(f"wrote {path.relative_to(ROOT)}")
