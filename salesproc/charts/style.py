"""How every chart looks, in one place: the colour-blind-safe palette, sizes, fonts, number
formats, and writing a figure as SVG or PNG.

Figures are made with :class:`matplotlib.figure.Figure` directly (no pyplot): nothing
global, nothing shown on a screen, safe in a server or a notebook. Text stays text in the
SVG (searchable, small, and XML-escaped by matplotlib); ``$`` is never read as math, so a
stage called "Pay $5k deposit" is drawn as written.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Okabe & Ito's palette: told apart with every common colour-vision deficiency
BLUE, ORANGE, GREEN, VERMILLION = "#0072B2", "#E69F00", "#009E73", "#D55E00"
SKY, PURPLE, YELLOW, GREY = "#56B4E9", "#CC79A7", "#F0E442", "#7F7F7F"
SERIES = (BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, YELLOW, GREY)
INK, FAINT, BAND_ALPHA = "#1f2a44", "#c9d3e6", 0.25
# the parts of the time in a stage, in the order they happen
PARTS = {"delay": ("waiting on the prospect", SKY),
         "queue": ("waiting for our busy people", VERMILLION),
         "after_hours": ("waiting for the working day", GREY),
         "work": ("our work", BLUE), "approval": ("approvals", ORANGE)}

WIDTH, HEIGHT = 7.2, 3.6  # inches: a slide's half width at 100 dpi
PNG_DPI = 200

_RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",  # matplotlib's own font: the same drawing everywhere
    "font.size": 9,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.edgecolor": INK,
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": FAINT,
    "grid.linewidth": 0.6,
    "xtick.color": INK,
    "ytick.color": INK,
    "text.color": INK,
    "text.parse_math": False,  # '$' in a stage name is a dollar sign
    "svg.fonttype": "none",  # text stays text
    "legend.frameon": False,
}


@contextmanager
def drawing() -> Iterator[None]:
    """matplotlib's settings for the charts, only while one is drawn."""
    import matplotlib

    with matplotlib.rc_context(cast(Any, _RC)):
        yield


def figure(width: float = WIDTH, height: float = HEIGHT) -> tuple[Figure, Axes]:
    """A new figure with one set of axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def panels(count: int, width: float = WIDTH, height: float = HEIGHT,
           across: bool = True) -> tuple[Figure, list[Axes]]:
    """A new figure with *count* sets of axes side by side (*across*) or stacked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    grid = fig.subplots(1 if across else count, count if across else 1, squeeze=False)
    return fig, list(grid.flat)


def heading(fig: Figure, text: str) -> None:
    """The title of a figure of several panels."""
    fig.suptitle(text, x=0.01, ha="left", fontweight="bold", fontsize=11)


def title(ax: Axes, text: str, subtitle: str = "") -> None:
    """A chart's title in sales words, with a grey line saying what is shown."""
    ax.set_title(text + ("\n" if subtitle else ""), loc="left")
    if subtitle:
        ax.text(0, 1.02, subtitle, transform=ax.transAxes, fontsize=8, color=GREY,
                va="bottom")


def svg(fig: Figure, salt: str) -> str:
    """The figure as an SVG document; *salt* keeps its internal ids apart from those of
    other charts inlined in the same page. matplotlib escapes text for XML but writes
    control characters as they are, which XML forbids: they are made visible
    (:func:`salesproc.core.escaping.visible`)."""
    import matplotlib

    from salesproc.core.escaping import visible

    with matplotlib.rc_context(cast(Any, {**_RC, "svg.hashsalt": salt})), _no_glyph_warnings():
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    return visible(out.getvalue())


def png(fig: Figure) -> bytes:
    """The figure as a PNG image for slides."""
    out = io.BytesIO()
    with drawing(), _no_glyph_warnings():
        fig.savefig(out, format="png", dpi=PNG_DPI, metadata={"Software": None})
    return out.getvalue()


@contextmanager
def _no_glyph_warnings() -> Iterator[None]:
    """No warning of a character the font lacks: a control character in a name is drawn
    as a box in a PNG (and as its escape in an SVG), and matplotlib's warning would write
    it, raw, to the terminal."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font",
                                category=UserWarning)
        yield


def money(x: float, currency: str = "") -> str:
    """1234567 → '1.2M USD': amounts as a sales leader reads them."""
    if not math.isfinite(x):
        return "–"
    size = abs(x)
    text = (f"{x / 1e9:.1f}B" if size >= 1e9 else f"{x / 1e6:.1f}M" if size >= 1e6
            else f"{x / 1e3:.0f}k" if size >= 1e4 else f"{x / 1e3:.1f}k" if size >= 1e3
            else f"{x:,.0f}")
    return f"{text} {currency}".strip()


def number(x: float, digits: int = 1) -> str:
    """12345.6 → '12,345.6'; '–' where there is no number."""
    return "–" if x is None or not math.isfinite(x) else f"{x:,.{digits}f}"


def percent(x: float | None, digits: int = 0) -> str:
    """0.123 → '12%'; '–' where there is no share."""
    return "–" if x is None or not math.isfinite(x) else f"{x:.{digits}%}"


def value(block: dict[str, Any] | None, name: str = "mean") -> float:
    """A figure of the JSON layout ({'mean', 'low', 'high', ...}); NaN where null."""
    if not block:
        return math.nan
    found = block.get(name)
    return math.nan if found is None else float(found)


def interval(block: dict[str, Any] | None,
             format_: Callable[[float], str] | None = None) -> str:
    """'12.3 (10.1–14.5)': a mean and its 95% interval, for the tables beside charts."""
    format_ = format_ or number
    mean, low, high = value(block), value(block, "low"), value(block, "high")
    if math.isnan(mean):
        return "–"
    if math.isnan(low):
        return format_(mean)
    return f"{format_(mean)} ({format_(low)}–{format_(high)})"


def axis_money(ax: Axes, axis: str = "y") -> None:
    """Amounts on an axis as 200k, 1.2M."""
    from matplotlib.ticker import FuncFormatter

    formatter = FuncFormatter(lambda x, _: money(x))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)


def axis_percent(ax: Axes, axis: str = "y") -> None:
    """Shares on an axis as percentages."""
    from matplotlib.ticker import PercentFormatter

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(PercentFormatter(1.0))


def short(text: str, most: int = 26, lines: int = 2) -> str:
    """A label that fits beside a bar: wrapped at *most* characters a line, at most
    *lines* lines, the rest cut with an ellipsis (the table beside the chart has it all)."""
    import textwrap

    words = " ".join(str(text).split())
    parts = textwrap.wrap(words, most, break_long_words=True) or [""]
    if len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = parts[-1][: most - 1].rstrip() + "…"
    return "\n".join(parts)


def legend_below(fig: Figure, columns: int = 4) -> None:
    """The figure's legend under the plot, where it hides no bar."""
    fig.legend(loc="outside lower center", ncols=columns, fontsize=8)
