"""Saving a figure with one draw (fedsim.record.single_draw) writes the very bytes a plain
`savefig` writes, for every figure fedsim draws, in both formats: the layout it runs
alone is the layout savefig's dry-run draw would have made."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import matplotlib
import pytest
from fake_results import write_synthetic_run
from figure_saves import KWARGS as _KWARGS
from figure_saves import RC as _RC
from figure_saves import sample_runs as _runs
from figure_saves import saved_single as _single
from matplotlib.figure import Figure

from fedsim.record.plots import comparison_figures, run_figures
from fedsim.record.runs import load_run
from fedsim.record.single_draw import savefig_single_draw


def _plain(fig: Figure, fmt: str) -> bytes:
    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format=fmt, **_KWARGS[fmt])
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_every_run_figure_is_written_as_a_plain_savefig_writes_it(tmp_path: Path, fmt: str) -> None:
    for run in _runs(tmp_path):
        plain = {stem: _plain(fig, fmt) for stem, fig in run_figures(run)}
        single = {stem: _single(fig, fmt) for stem, fig in run_figures(run)}
        assert len(plain) == 6
        assert single.keys() == plain.keys()
        for stem, data in plain.items():
            assert single[stem] == data, (run.name, stem)


def test_comparison_figures_are_written_as_a_plain_savefig_writes_them(tmp_path: Path) -> None:
    runs = [
        load_run(write_synthetic_run(tmp_path, name="float", rounds=6)),
        load_run(write_synthetic_run(tmp_path, name="int8", rounds=6, codec="int8")),
    ]
    plain = [_plain(fig, "svg") for _, fig in comparison_figures(runs)]
    single = [_single(fig, "svg") for _, fig in comparison_figures(runs)]
    assert len(plain) == 3
    assert single == plain


def test_the_figure_is_left_as_a_plain_savefig_leaves_it(tmp_path: Path) -> None:
    """Saved once, the figure keeps its layout engine, canvas and resolution, and a second
    save gives what a plain savefig's second save gives (each lays out from where the
    last layout left the axes)."""
    run = _runs(tmp_path)[0]
    ((_, plain_fig),) = run_figures(run, only=["energy"])
    ((_, fig),) = run_figures(run, only=["energy"])
    engine, canvas, dpi = fig.get_layout_engine(), fig.canvas, fig.dpi
    assert _single(fig, "svg") == _plain(plain_fig, "svg")
    assert (fig.get_layout_engine(), fig.canvas, fig.dpi) == (engine, canvas, dpi)
    assert _single(fig, "svg") == _plain(plain_fig, "svg")
    assert _single(fig, "png") == _plain(plain_fig, "png")  # `--png`: after the SVG


def test_figures_without_layout_and_other_formats_are_saved_plainly() -> None:
    def figure(layout: str | None) -> Figure:
        fig = Figure(figsize=(3, 2), layout=layout)
        fig.add_subplot().plot([0, 1], [1, 0], label="a line")
        return fig

    make: Callable[[], Figure] = lambda: figure(None)  # noqa: E731
    assert _single(make(), "svg") == _plain(make(), "svg")
    buf = io.BytesIO()
    savefig_single_draw(figure("constrained"), buf, "pdf")
    assert buf.getvalue().startswith(b"%PDF")
