"""Regenerate the pictures the README shows: the five-step flowchart, the same flowchart
coloured by a simulation, and one chart of that simulation.

    python scripts/make_images.py

Needs Graphviz's `dot`. The simulation is the README's: five-step with its own settings
(20 replications, seed 1), so the pictures show the figures printed beside them.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from salesproc import charts, load  # noqa: E402
from salesproc.core.outputs import write_atomic  # noqa: E402
from salesproc.drawing import (  # noqa: E402
    graph,
    results_dot,
    to_dot,
    to_image,
)
from salesproc.experiments.experiment import resolve_settings, simulate  # noqa: E402
from salesproc.process.model import Settings  # noqa: E402

DOCS = ROOT / "docs"
SHOWN_CHARTS = ("monthly",)


def main() -> int:
    process = load(ROOT / "processes" / "five-step.yaml")
    plain = to_dot(graph.combined_graph(process), process.time_unit)
    write_atomic(DOCS / "five-step.png", to_image(plain, "png"))
    run: Settings = resolve_settings(process, workers=2)
    data = simulate(process, run).to_dict()
    write_atomic(DOCS / "five-step-results.png", to_image(results_dot(process, data), "png"))
    for chart in charts.simulation(data):
        if chart.name in SHOWN_CHARTS:
            write_atomic(DOCS / f"chart-{chart.name}.png", chart.png())
    print("wrote docs/five-step.png, docs/five-step-results.png, "
          + ", ".join(f"docs/chart-{n}.png" for n in SHOWN_CHARTS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
