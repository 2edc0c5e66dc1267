"""Drawing processes: DOT and Mermaid text (no system program), SVG/PNG/PDF via Graphviz,
and the flowchart coloured by a simulation's results."""

from salesproc.drawing.dot import to_dot, to_image
from salesproc.drawing.mermaid import to_mermaid
from salesproc.drawing.results import results_dot

__all__ = ["results_dot", "to_dot", "to_image", "to_mermaid"]
