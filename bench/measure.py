"""How fast `measure` reads a Salesforce-shaped history, and how much memory it takes.

    python bench/measure.py                  # 100,000 history rows
    python bench/measure.py --rows 20000000  # a large org's OpportunityHistory
    python bench/measure.py --control        # NUL bytes in one history row in 50

Generates Opportunity.csv and OpportunityHistory.csv in a temporary folder (about 4
history rows per deal, repeated rows included), then runs `salesproc measure` on them in
a child process and prints its wall time and peak memory (the child's maximum RSS), with
the time to read the same file with Python's csv module alone as the baseline measured in
the same run.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote",
          "Negotiation/Review"]


def generate(folder: Path, rows: int, seed: int = 1, control: bool = False,
             owners: int = 1) -> tuple[Path, Path]:
    rng = random.Random(seed)
    opp, hist = folder / "Opportunity.csv", folder / "OpportunityHistory.csv"
    start = dt.datetime(2023, 1, 2)
    written, deal = 0, 0
    with open(opp, "w", newline="") as o, open(hist, "w", newline="") as h:
        ow, hw = csv.writer(o, quoting=csv.QUOTE_ALL), csv.writer(h, quoting=csv.QUOTE_ALL)
        ow.writerow(["Id", "StageName", "CreatedDate", "Amount", "CloseDate", "IsClosed",
                     "IsWon", "CurrencyIsoCode", "Segment__c", "Loss_Reason__c", "OwnerId"])
        hw.writerow(["Id", "OpportunityId", "StageName", "CreatedDate", "Amount", "Comment"])
        while written < rows:
            deal += 1
            ident = f"006{deal:012d}"
            t = start + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 900))
            created = t
            amount = f"{rng.lognormvariate(9.5, 0.8):.2f}"
            k = 0
            outcome = "open"
            while k < len(STAGES):
                comment = "next step:\x00\x00 call" if control and written % 50 == 0 else ""
                hw.writerow([f"017{written:012d}", ident, STAGES[k],
                             t.strftime("%Y-%m-%dT%H:%M:%S.000Z"), amount, comment])
                written += 1
                stay = dt.timedelta(hours=rng.expovariate(1 / 72))
                if rng.random() < 0.15:  # only the amount changed, half-way through the stay
                    hw.writerow([f"017{written:012d}", ident, STAGES[k],
                                 (t + stay / 2).strftime("%Y-%m-%dT%H:%M:%S.000Z"), amount, ""])
                    written += 1
                t += stay
                if rng.random() < 0.35:
                    outcome = "lost"
                    break
                k += 1
            else:
                outcome = "won"
            if outcome != "open" and t < dt.datetime(2025, 6, 1):
                stage = "Closed Won" if outcome == "won" else "Closed Lost"
                hw.writerow([f"017{written:012d}", ident, stage,
                             t.strftime("%Y-%m-%dT%H:%M:%S.000Z"), amount, ""])
                written += 1
            else:
                stage, outcome = STAGES[min(k, len(STAGES) - 1)], "open"
            ow.writerow([ident, stage, created.strftime("%Y-%m-%dT%H:%M:%S.000Z"), amount,
                         t.date().isoformat(), str(outcome != "open").lower(),
                         str(outcome == "won").lower(), "USD", "Mid-Market",
                         "Price" if outcome == "lost" else "",
                         f"005{rng.randrange(owners):012d}"])
    return opp, hist


def child(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    began = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    took = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return took, max(peak, before) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--control", action="store_true",
                        help="NUL bytes in a quoted comment of one history row in 50")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        opp, hist = generate(folder, args.rows, control=args.control)
        print(f"generated {args.rows:,} history rows ({hist.stat().st_size / 1e6:,.0f} MB) "
              f"in {time.perf_counter() - t:.1f} s")
        process = ROOT / "processes" / "five-step.yaml"
        baseline = [sys.executable, "-c", "import csv, sys\n"
                    "for _ in csv.reader(open(sys.argv[1], newline='')): pass", str(hist)]
        base_s, _ = child(baseline)
        measure = [sys.executable, "-m", "salesproc", "measure", str(opp), str(hist),
                   "--process", str(process), "--format", "json", "-o", str(folder / "m.json")]
        took, peak = child(measure)
        print(f"salesproc measure: {took:.2f} s, peak memory {peak:,.0f} MB")
        print(f"python csv.reader over the history alone: {base_s:.2f} s "
              f"(measure ÷ csv.reader: {took / base_s:.2f}×)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
