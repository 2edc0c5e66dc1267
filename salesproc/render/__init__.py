"""Drawing processes: DOT and Mermaid text (no system program), SVG/PNG/PDF via Graphviz,
and the flowchart coloured by a simulation's results."""

from salesproc.render.dot import to_dot, to_image
from salesproc.render.mermaid import to_mermaid
from salesproc.render.results import results_dot

__all__ = ["results_dot", "to_dot", "to_image", "to_mermaid"]
