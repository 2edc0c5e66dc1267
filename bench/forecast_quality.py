"""How good is the forecast on messy CRM histories whose truth is known? Backtest it
against the naive baselines on generated histories (salesproc.prediction.synthetic) and
print, per preset and horizon, the errors of the model and of every baseline, the
coverage of the worst-to-best band with its 95% interval, and any origin that failed.

    python bench/forecast_quality.py [--histories 20] [--presets real small-team]
        [--horizons 60 90] [--runs 100] [--shape salesforce]

Each history is generated from tests/cases/history/steady-five-step.yaml (nothing in it
is dated, so it may start on any day), written in the CRM's own shape, read back as a
user's export would be, and backtested at monthly origins (salesproc.prediction.backtest). The
histories run on every core.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from salesproc.core.stats import proportion  # noqa: E402
from salesproc.history.read import read_history  # noqa: E402
from salesproc.prediction.backtest import BASELINES, MODEL, backtest  # noqa: E402
from salesproc.prediction.forecast import burst_under_way  # noqa: E402
from salesproc.prediction.synthetic import PRESETS, generate, reading, write  # noqa: E402

PROCESS = ROOT / "tests" / "cases" / "history" / "steady-five-step.yaml"
START = dt.date(2025, 6, 2)
#: per preset: its mess, and the first and last origin (days after the start)
SETUPS = {
    "real": (replace(PRESETS["real"], per_month=40), 180, 365),
    "small-team": (replace(PRESETS["small-team"], days=300), 150, 210),
    "clean": (replace(PRESETS["clean"], per_month=40), 180, 365),
}


def one(preset: str, seed: int, horizon: float, runs: int, shape: str) -> dict[str, object]:
    """Backtest one generated history: per origin, the actuals and every forecast."""
    mess, first, last = SETUPS[preset]
    truth = generate(PROCESS, mess, seed=seed, start=START)
    with tempfile.TemporaryDirectory() as folder:
        files = write(truth, folder, shape)  # type: ignore[arg-type]
        history = read_history([str(f) for f in files], reading(truth, shape),  # type: ignore[arg-type]
                               today=truth.end.date())
        origins = []
        at = dt.datetime.combine(START, dt.time()) + dt.timedelta(days=first)
        at = at.replace(day=1) + dt.timedelta(days=32)
        at = at.replace(day=1)
        while (at - dt.datetime.combine(START, dt.time())).days <= last:
            origins.append(at)
            at = (at + dt.timedelta(days=32)).replace(day=1)
        result = backtest(history, origins, horizon, replications=runs, seed=seed)
    rows = []
    for o in result.origins:
        row = {"burst": bool(burst_under_way(history.at(o.at))), "at": f"{o.at:%Y-%m}",
               "actual_won": o.actual("won"), "actual_revenue": o.actual("revenue"),
               "low_won": o.outcome("won").worst, "high_won": o.outcome("won").best,
               "low_revenue": o.outcome("revenue").worst,
               "high_revenue": o.outcome("revenue").best}
        for k in (MODEL, *BASELINES):
            row[f"{k}_won"] = o.forecast("won", k)
            row[f"{k}_revenue"] = o.forecast("revenue", k)
        rows.append(row)
    return {"rows": rows, "failed": [f"{f.at:%Y-%m-%d}: {f.reason}" for f in result.failed]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--histories", type=int, default=20)
    parser.add_argument("--presets", nargs="+", default=["real", "small-team"],
                        choices=sorted(SETUPS))
    parser.add_argument("--horizons", nargs="+", type=float, default=[60.0, 90.0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--shape", default="salesforce")
    args = parser.parse_args()
    for preset in args.presets:
        for horizon in args.horizons:
            with ProcessPoolExecutor() as pool:
                done = list(pool.map(one, [preset] * args.histories, range(args.histories),
                                     [horizon] * args.histories,
                                     [args.runs] * args.histories,
                                     [args.shape] * args.histories))
            report(preset, horizon, args.histories, done)
    return 0


def report(preset: str, horizon: float, histories: int, done: list[dict[str, object]]) -> None:
    every = [r for d in done for r in d["rows"]]  # type: ignore[attr-defined]
    failed = [f for d in done for f in d["failed"]]  # type: ignore[attr-defined]
    print(f"\n{preset}, {horizon:g} days: {histories} histories, {len(every)} origins, "
          f"{len(failed)} failed")
    for f in failed:
        print(f"  failed {f}")
    calm = [r for r in every if not r["burst"]]
    scores(every, "every origin")
    if len(calm) < len(every):
        scores(calm, f"the {len(calm)} origins with no burst of new deals under way")
    print("  deals won by origin: origins, burst under way, actual, model bias, model MAE, "
          "run-rate MAE, inside the band (wins, revenue)")
    for at in sorted({str(r["at"]) for r in every}):
        mine = [r for r in every if r["at"] == at]
        actual = np.array([r["actual_won"] for r in mine], dtype=float)
        model = np.array([r[f"{MODEL}_won"] for r in mine], dtype=float)
        rate = np.array([r["run_rate_won"] for r in mine], dtype=float)
        inside = np.mean([r["low_won"] <= r["actual_won"] <= r["high_won"] for r in mine])
        paid = np.mean([r["low_revenue"] <= r["actual_revenue"] <= r["high_revenue"]
                        for r in mine])
        print(f"    {at}  {len(mine):3d}  {sum(bool(r['burst']) for r in mine):3d}  "
              f"{actual.mean():6.1f}  {np.mean(model - actual):+6.1f}  "
              f"{np.mean(abs(model - actual)):5.1f}  {np.mean(abs(rate - actual)):5.1f}  "
              f"{inside:4.0%}  {paid:4.0%}")


def scores(rows: list[dict[str, object]], which: str) -> None:
    print(f" {which}:")
    for figure in ("won", "revenue"):
        actual = np.array([r["actual_" + figure] for r in rows], dtype=float)
        model = np.array([r[f"{MODEL}_{figure}"] for r in rows], dtype=float)
        low = np.array([r["low_" + figure] for r in rows], dtype=float)
        high = np.array([r["high_" + figure] for r in rows], dtype=float)
        inside = int(((low <= actual) & (actual <= high)).sum())
        cover = proportion(inside, len(rows))
        print(f"  {figure}: 10-90 coverage {cover.mean:.0%} ({inside}/{len(rows)}; 95% "
              f"{cover.low:.0%}-{cover.high:.0%}); model MAE {np.mean(abs(model - actual)):,.1f}"
              f", bias {np.mean(model - actual):+,.1f}")
        for k in BASELINES:  # each against the model on the origins it could forecast
            f = np.array([r[f"{k}_{figure}"] for r in rows], dtype=float)
            ok = np.isfinite(f)
            if not ok.any():
                print(f"    {k:18} no origin")
                continue
            mine = float(np.mean(np.abs(model[ok] - actual[ok])))
            theirs = float(np.mean(np.abs(f[ok] - actual[ok])))
            print(f"    {k:18} MAE {theirs:12,.1f} (bias {np.mean(f[ok] - actual[ok]):+10,.1f})"
                  f"  model {mine:12,.1f}  model/it {mine / theirs:5.2f}  ({int(ok.sum())} "
                  "origins)")


if __name__ == "__main__":
    sys.exit(main())
