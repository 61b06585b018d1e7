"""Texts laid out once (fedsim.record.text_layout) draw every figure fedsim draws byte for
byte as matplotlib lays them out each time, in both formats, whatever was laid out before
(another figure, the other format's resolution)."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import pytest
from fake_results import write_synthetic_run
from figure_saves import KWARGS as _KWARGS
from figure_saves import RC as _RC
from figure_saves import sample_runs as _runs
from matplotlib.figure import Figure
from matplotlib.text import Text

from fedsim.record import text_layout
from fedsim.record.plots import (
    comparison_figures,
    render_figure,
    run_figures,
    warm_up,
)
from fedsim.record.runs import load_run
from fedsim.record.single_draw import savefig_single_draw
from fedsim.record.text_layout import shared_text_layouts


def _laid_out_each_time(fig: Figure, fmt: str) -> bytes:
    """As the file is written without fedsim.record.text_layout."""
    assert Text._get_layout is text_layout._usual
    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        savefig_single_draw(fig, buf, fmt, **_KWARGS[fmt])
    return buf.getvalue()


def test_this_matplotlib_gets_the_shared_layouts() -> None:
    """Else the figures would still be right, only slower: say so here."""
    assert text_layout._applies()
    with shared_text_layouts():
        assert Text._get_layout is text_layout._kept_layout
        with shared_text_layouts():  # nested: the outer one's
            assert Text._get_layout is text_layout._kept_layout
        assert Text._get_layout is text_layout._kept_layout
    assert Text._get_layout is text_layout._usual


def test_every_run_figure_is_drawn_as_without_shared_layouts(tmp_path: Path) -> None:
    warm_up(io.BytesIO(), "svg")  # layouts of other texts already kept, as in the helper
    for run in _runs(tmp_path):
        each_time = {
            stem: {fmt: _laid_out_each_time(fig, fmt) for fmt in ("svg", "png")}
            for stem, fig in run_figures(run)
        }
        shared = {stem: dict(render_figure(fig, ["svg", "png"])) for stem, fig in run_figures(run)}
        assert len(each_time) == 6
        assert shared == each_time, run.name


def test_png_first_then_svg_is_drawn_as_without(tmp_path: Path) -> None:
    """A layout kept at one resolution is never reused at another."""
    run = _runs(tmp_path)[0]
    each_time = [_laid_out_each_time(fig, "svg") for _, fig in run_figures(run)]
    for _, fig in run_figures(run):
        render_figure(fig, ["png"])
    shared = [dict(render_figure(fig, ["svg"]))["svg"] for _, fig in run_figures(run)]
    assert shared == each_time


def test_comparison_figures_are_drawn_as_without_shared_layouts(tmp_path: Path) -> None:
    runs = [
        load_run(write_synthetic_run(tmp_path, name="float", rounds=6)),
        load_run(write_synthetic_run(tmp_path, name="int8", rounds=6, codec="int8")),
    ]
    each_time = [_laid_out_each_time(fig, "svg") for _, fig in comparison_figures(runs)]
    shared = [dict(render_figure(fig, ["svg"]))["svg"] for _, fig in comparison_figures(runs)]
    assert len(each_time) == 3
    assert shared == each_time


@pytest.mark.parametrize("rotation", [0, 45, 90])
def test_texts_that_differ_only_in_what_the_layout_reads_are_laid_out_apart(
    rotation: int,
) -> None:
    """Same string, other rotation, alignment, size or line spacing: each its own layout."""

    def figure() -> Figure:
        fig = Figure(figsize=(4, 3))
        ax = fig.add_subplot()
        ax.text(0.2, 0.2, "label\ntwo", rotation=rotation, ha="right", linespacing=2.0)
        ax.text(0.5, 0.5, "label\ntwo", rotation=rotation, ha="left", fontsize=14)
        ax.text(0.8, 0.8, "label\ntwo", rotation=rotation, va="baseline", multialignment="right")
        ax.text(0.1, 0.9, "label\ntwo", rotation=rotation, rotation_mode="anchor")
        return fig

    each_time = _laid_out_each_time(figure(), "svg")
    with shared_text_layouts():
        shared = _laid_out_with_shared(figure())
    assert shared == each_time


def _laid_out_with_shared(fig: Figure) -> bytes:
    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        savefig_single_draw(fig, buf, "svg", **_KWARGS["svg"])
    return buf.getvalue()


def test_a_style_that_measures_glyphs_otherwise_gets_its_own_layouts() -> None:
    """Glyph hinting changes a text's measured size in PNG (Agg measures hinted glyphs)."""

    def figure() -> Figure:
        fig = Figure(figsize=(3, 2), layout="constrained")
        fig.add_subplot().set(title="Hinted Title", xlabel="kerning AV To", ylabel="0.75")
        return fig

    def png(fig: Figure) -> bytes:
        buf = io.BytesIO()
        with matplotlib.rc_context(_RC):
            savefig_single_draw(fig, buf, "png", **_KWARGS["png"])
        return buf.getvalue()

    unhinted = {"text.hinting": "none"}
    with shared_text_layouts():
        png(figure())  # kept under the default hinting
    with matplotlib.rc_context(unhinted), shared_text_layouts():
        shared = png(figure())
    with matplotlib.rc_context(unhinted):
        each_time = _laid_out_each_time(figure(), "png")
    assert shared == each_time
