"""Writing a laid-out figure with one draw instead of two.

Why: `Figure.savefig` on a figure with a layout engine (every fedsim figure is
`layout="constrained"`) draws it twice: a dry run that renders nothing and whose only
lasting effect is the layout, then the real draw with that layout held. Drawing every
artist in the dry run was ~20 % of writing a run's figures. Here the layout runs alone,
in the dry run's conditions (the format's canvas and resolution; each axes applies its
aspect and locator when the layout measures it), and savefig then draws once. The files
are byte for byte those of a plain `savefig` (tests/test_single_draw.py checks every run
figure, SVG and PNG).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import IO, Any

from matplotlib.figure import Figure

__all__ = ["savefig_single_draw"]

_VECTOR_DPI = 72
"""The resolution SVG output lays out and draws at (FigureCanvasSVG.fixed_dpi)."""


def _format_canvas(fig: Figure, fmt: str) -> bool:
    """Attach the canvas savefig would switch to for `fmt`; False for other formats."""
    if fmt == "svg":
        from matplotlib.backends.backend_svg import FigureCanvasSVG

        FigureCanvasSVG(fig)
    elif fmt == "png":
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    else:
        return False
    return True


_COLLAPSED = "constrained_layout not applied"
"""The start of matplotlib's warning when the axes' decorations leave them no room."""
_GROWTH = 1.5
_MAX_GROWTH_STEPS = 3


def _lay_out(fig: Figure, engine: Any) -> None:
    """Run the layout; where labels leave the axes no room, matplotlib would warn on
    stdout and draw the figure without a layout (labels over the plot). Instead the
    figure is made wider (and taller), up to 1.5^3 times, until it fits; a figure that
    still does not fit says so in one line."""
    for step in range(_MAX_GROWTH_STEPS + 1):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            engine.execute(fig)
        collapsed = [w for w in caught if str(w.message).startswith(_COLLAPSED)]
        for w in caught:
            if w not in collapsed:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if not collapsed:
            return
        if step == _MAX_GROWTH_STEPS:
            title = fig.axes[0].get_title() if fig.axes else ""
            warnings.warn(
                f"figure {title!r}: its labels leave no room for the plot even at "
                f"{fig.get_figwidth():.0f}x{fig.get_figheight():.0f} in; drawn without a layout",
                stacklevel=3,
            )
            return
        width, height = fig.get_size_inches()
        fig.set_size_inches(width * _GROWTH, height * 1.2)


def savefig_single_draw(
    fig: Figure, target: str | Path | IO[Any], fmt: str, *, dpi: float | None = None, **kwargs: Any
) -> None:
    """`fig.savefig(target, format=fmt, dpi=dpi, **kwargs)`, the same bytes, one draw.
    Figures without a layout engine, and formats other than SVG and PNG, are saved as
    they are."""
    engine = fig.get_layout_engine()
    canvas, figure_dpi = fig.canvas, fig.dpi
    if engine is None or not _format_canvas(fig, fmt):
        fig.set_canvas(canvas)
        fig.savefig(target, format=fmt, dpi=dpi, **kwargs)
        return
    try:
        fig.dpi = _VECTOR_DPI if fmt == "svg" else (dpi or figure_dpi)
        _lay_out(fig, engine)
        fig.set_layout_engine(None)  # laid out: savefig's dry run has nothing left to do
        fig.dpi = figure_dpi
        fig.savefig(target, format=fmt, dpi=dpi, **kwargs)
    finally:
        fig.set_layout_engine(engine)
        fig.set_canvas(canvas)
        fig.dpi = figure_dpi
