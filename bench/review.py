"""How fast `review` runs on a 100,000-row Salesforce history, through the CLI.

    python bench/review.py [--rows 100000] [--rounds 3] [--owners 200]

Generates the same export as bench/measure.py (Opportunity.csv and OpportunityHistory.csv,
about 4 history rows per deal, amounts that change), its deals spread over 200 owners, in
a temporary folder, then times, in
child processes (interpreter start included), `salesproc review` of the last week as a
table, and of the last week with three files at once (Markdown, JSON and the page with
its charts); and, as the baseline in the same run, `salesproc measure --format json` of
the same export. Prints the medians, their ratio to the baseline, and the review's ratio
to the project's budget (5 s). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from measure import child, generate  # noqa: E402

BUDGET = 5.0  # seconds, for a review of a 100,000-row history through the CLI


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--owners", type=int, default=200)
    args = parser.parse_args()
    process = str(ROOT / "processes" / "five-step.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        opp, hist = generate(folder, args.rows, owners=args.owners)
        print(f"generated {args.rows:,} history rows of {args.owners:,} owners in "
              f"{time.perf_counter() - t:.1f} s")
        base = [sys.executable, "-m", "salesproc"]
        runs = {
            "measure --format json (baseline)": [*base, "measure", str(opp), str(hist),
                                                 "--process", process, "--format", "json",
                                                 "-o", str(folder / "m.json")],
            "review --week (table)": [*base, "review", str(opp), str(hist), "--process",
                                      process, "--week", "-o", str(folder / "r.txt")],
            "review --week -o .md -o .json -o .html": [
                *base, "review", str(opp), str(hist), "--process", process, "--week",
                "-o", str(folder / "r.md"), "-o", str(folder / "r.json"), "-o",
                str(folder / "r.html")]}
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, command in runs.items():
                for output in folder.glob("r.*"):
                    output.unlink()
                times[name].append(child(command)[0])
        baseline = statistics.median(times["measure --format json (baseline)"])
        for name, took in times.items():
            median = statistics.median(took)
            budget = f"; {median / BUDGET:.2f}x the {BUDGET:g} s budget" \
                if name.startswith("review") else ""
            print(f"{name}: {median:.2f} s (median of {len(took)}); "
                  f"{median / baseline:.2f}x measure{budget}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
