"""Drawing processes: DOT and Mermaid text (no system program), SVG/PNG/PDF via Graphviz."""

from salesproc.render.dot import to_dot, to_image
from salesproc.render.mermaid import to_mermaid

__all__ = ["to_dot", "to_image", "to_mermaid"]
