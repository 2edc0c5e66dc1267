"""Write a generated CRM history with a known truth and a real export's mess in every
shape, to try salesproc on by hand:

    python scripts/make_messy_exports.py OUTDIR [--preset real] [--seed N]
        [--process processes/five-step.yaml] [--start 2025-06-02] [--days N]

OUTDIR gets one folder per shape (salesforce/, hubspot/, generic/, salesforce-deals/,
deal-table/) and process.yaml, the process to read them with (a variant of the process
file, with the CRM names, rates and arrival rate of the truth), e.g.

    salesproc measure OUTDIR/process.yaml OUTDIR/salesforce/*.csv

The presets and what each mess is are described in salesproc/prediction/synthetic.py. The
same arguments write the same bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from salesproc.prediction.synthetic import PRESETS, SHAPES, generate, variant, write  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="real")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--process", type=Path, default=ROOT / "processes" / "five-step.yaml")
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2025, 6, 2),
                        help="the first day (default 2025-06-02: the history ends in the past)")
    parser.add_argument("--days", type=float, help="how long (default: the preset's)")
    args = parser.parse_args(argv)
    history = generate(args.process, PRESETS[args.preset], seed=args.seed, start=args.start,
                       days=args.days)
    for shape in SHAPES:
        for path in write(history, args.outdir / shape, shape):
            print(f"wrote {path}")
    print(f"wrote {variant(history, args.outdir / 'process.yaml')}")
    won = history.count(outcome="won")
    print(f"{len(history.deals)} deals from {history.start:%Y-%m-%d} to {history.end:%Y-%m-%d}"
          f", {won} won ({history.count('after-the-fact')} after the fact), "
          f"{history.count('zombie')} zombies, {history.count('burst')} imported in a burst")
    return 0


if __name__ == "__main__":
    sys.exit(main())
