"""Each text's layout measured once per drawing process, not once per pass.

Why: matplotlib lays a text out from scratch every time it is measured, and a constrained
figure measures each tick label four or five times per file (twice in the layout's two
passes, twice more while drawing to place the axis labels, once to draw it), each time
looking up the font and reading its height tables. That was about a quarter of drawing a
run's figures. A text's layout (`Text._get_layout`: its box and its lines, relative to its
anchor) depends on its string, font, alignment, rotation, line spacing and the resolution,
not on where it sits, so `shared_text_layouts` keeps each one by those inputs while fedsim
saves a figure. The files are byte for byte those matplotlib writes without it
(tests/test_text_layout.py, every run and comparison figure, SVG and PNG).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import matplotlib as mpl
from matplotlib.text import Text

__all__ = ["shared_text_layouts"]

KEPT_LAYOUTS = 20_000
"""Layouts kept at most (a run's figures have a few hundred texts); then it starts over."""

_NEEDED = (
    "_get_layout", "get_wrap", "get_usetex", "get_parse_math", "_get_multialignment",
    "get_rotation", "get_rotation_mode", "get_figure",
)  # fmt: skip
_usual = getattr(Text, "_get_layout", None)
_layouts: dict[tuple[Any, ...], Any] = {}

_STYLE_KEYS = (
    "font.family", "font.sans-serif", "font.serif", "font.monospace", "font.cursive",
    "font.fantasy", "font.enable_last_resort", "text.hinting", "text.kerning_factor",
    "text.usetex", "mathtext.fontset", "mathtext.default", "mathtext.fallback",
    "mathtext.rm", "mathtext.it", "mathtext.bf", "mathtext.sf", "mathtext.tt", "mathtext.cal",
)  # fmt: skip
"""The style a layout depends on besides its text's own properties: which font files a
family name means, how glyphs are measured, mathtext's fonts."""
_kept_under: list[tuple[Any, ...]] = []
"""The style the kept layouts were measured under (empty: none kept yet)."""


def _style() -> tuple[Any, ...]:
    params = mpl.rcParams
    return tuple(repr(params[key]) if key in params else None for key in _STYLE_KEYS)


def _applies() -> bool:
    """This matplotlib lays texts out the way the key below describes."""
    return all(hasattr(Text, name) for name in _NEEDED)


def _kept_layout(text: Text, renderer: Any) -> Any:
    if text.get_wrap():  # a wrapped text's lines depend on where it sits
        return _usual(text, renderer)  # type: ignore[misc]
    key = (
        text.get_text(),
        text.get_figure(root=True).dpi,
        text.get_usetex(),
        text.get_parse_math(),
        text._fontproperties.copy(),  # type: ignore[attr-defined]  # hashable by its state
        text._linespacing,  # type: ignore[attr-defined]
        text._get_multialignment(),  # type: ignore[attr-defined]
        text.get_rotation(),
        text.get_rotation_mode(),
        text._horizontalalignment,  # type: ignore[attr-defined]
        text._verticalalignment,  # type: ignore[attr-defined]
        type(renderer),
        renderer.points_to_pixels(72.0),  # the resolution the renderer measures at
    )
    kept = _layouts.get(key)
    if kept is None:
        if len(_layouts) >= KEPT_LAYOUTS:
            _layouts.clear()
        kept = _layouts[key] = _usual(text, renderer)  # type: ignore[misc]
    box, lines, corner = kept
    return box.frozen(), list(lines), corner  # a copy of the one mutable part


@contextlib.contextmanager
def shared_text_layouts() -> Iterator[None]:
    """Within: every text laid out once per set of inputs (nested: as the outer one), the
    style (rcParams) fixed meanwhile. Single-threaded drawing only (it swaps a method of
    matplotlib's `Text`)."""
    if _usual is None or not _applies() or Text._get_layout is _kept_layout:
        yield
        return
    style = _style()
    if _kept_under != [style]:  # another style since: its layouts would mislead
        _layouts.clear()
        _kept_under[:] = [style]
    Text._get_layout = _kept_layout  # type: ignore[method-assign]
    try:
        yield
    finally:
        Text._get_layout = _usual  # type: ignore[method-assign]
