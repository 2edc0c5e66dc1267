"""How long drawing takes, apart from Graphviz's `dot` (not a test).

    python bench/render.py [--runs 20]

For each example: the median time to build the graphs, the DOT and Mermaid text of every
diagram and the playbook, next to the time to load (parse and validate) the same file in
the same process. Then one `dot` run for SVG, for comparison.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from salesproc import load
from salesproc.drawing import graph, to_dot, to_image, to_mermaid
from salesproc.drawing.playbook import to_markdown
from salesproc.process.model import Process

ROOT = Path(__file__).resolve().parent.parent


def median_ms(job: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        job()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def draw(process: Process) -> None:
    for g in [graph.combined_graph(process),
              *(graph.buyer_graph(process, b) for b in process.buyer_types)]:
        to_dot(g, process.time_unit)
        to_mermaid(g, process.time_unit)
    to_markdown(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    for path in sorted((ROOT / "processes").glob("*.yaml")):
        process = load(path)
        graphs = [graph.combined_graph(process),
                  *(graph.buyer_graph(process, b) for b in process.buyer_types)]

        loading = median_ms(partial(load, path), runs)
        drawing = median_ms(partial(draw, process), runs)
        dot_ms = median_ms(partial(to_image, to_dot(graphs[0], process.time_unit), "svg"),
                           max(3, runs // 5))
        print(f"{path.name:28} {len(graphs)} diagrams + playbook: {drawing:6.1f} ms "
              f"({drawing / loading:4.1f}x loading the file, {loading:5.1f} ms); "
              f"one `dot` SVG: {dot_ms:6.1f} ms")


if __name__ == "__main__":
    main()
