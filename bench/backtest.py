"""How long the backtest and the forecast take on a 500-deal export, through the CLI
(interpreter start included).

    python bench/backtest.py [--rounds 1]

Writes a 500-deal Salesforce export of the five-step process (arrivals at a third of the
file's rate, so that a year holds about 500 deals; the deals after the 500th left out) to
a temporary folder, then times:

- `salesproc backtest` at 6 monthly origins, 100 runs each, 90 days ahead;
- `salesproc forecast` 13 weeks ahead, 200 runs.

Prints the median wall times, their ratio to the budgets the project set (30 s and 3 s),
and the backtest's time per origin against one forecast. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROCESS = str(ROOT / "processes" / "five-step.yaml")
DEALS = 500
ORIGINS = 6
BACKTEST_BUDGET, FORECAST_BUDGET = 30.0, 3.0  # seconds


def export(folder: Path) -> list[str]:
    """The 500-deal export in *folder*: Opportunity.csv and OpportunityHistory.csv."""
    import salesproc
    from salesproc.experiments.export import deals_of, write_salesforce

    process = salesproc.load(PROCESS, ["arrivals.rate=10"])
    result = salesproc.simulate(process, replications=1, horizon="330d", warmup=0, seed=7,
                                events=True)
    assert result.events is not None
    deals = sorted(deals_of(result.events, process), key=lambda d: d.created)[:DEALS]
    return [str(p) for p in write_salesforce(deals, folder,
                                             currencies=(("EUR", 1.08), ("GBP", 1.27)))]


def timed(command: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "salesproc"]
    with tempfile.TemporaryDirectory() as folder:
        files = export(Path(folder))
        backtest = [*cli, "backtest", *files, "--process", PROCESS, "--from", "2026-03-01",
                    "--to", "2026-08-01", "--every", "1mo", "--horizon", "90d", "-r", "100",
                    "--seed", "1"]
        forecast = [*cli, "forecast", *files, "--process", PROCESS, "--horizon", "13w",
                    "-r", "200", "--seed", "1"]
        b, f = [], []
        for _ in range(args.rounds):  # alternating, so both see the same machine
            b.append(timed(backtest))
            f.append(timed(forecast))
    bm, fm = statistics.median(b), statistics.median(f)
    print(f"backtest, {ORIGINS} monthly origins x 100 runs, {DEALS} deals: {bm:.2f} s "
          f"(median of {args.rounds}); {bm / BACKTEST_BUDGET:.2f}x the {BACKTEST_BUDGET:g} s "
          "budget")
    print(f"forecast, 13 weeks, 200 runs: {fm:.2f} s; {fm / FORECAST_BUDGET:.2f}x the "
          f"{FORECAST_BUDGET:g} s budget")
    print(f"backtest per origin / one forecast: {bm / ORIGINS / fm:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
