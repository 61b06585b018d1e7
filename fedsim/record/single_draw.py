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
        engine.execute(fig)
        fig.set_layout_engine(None)  # laid out: savefig's dry run has nothing left to do
        fig.dpi = figure_dpi
        fig.savefig(target, format=fmt, dpi=dpi, **kwargs)
    finally:
        fig.set_layout_engine(engine)
        fig.set_canvas(canvas)
        fig.dpi = figure_dpi
