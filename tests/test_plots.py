"""plots: every figure is written as PNG and SVG, deterministically."""

from __future__ import annotations

from pathlib import Path

from fake_results import write_synthetic_run

from fedsim.record.plots import plot_comparison, plot_run


def test_plot_run_writes_png_and_svg(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path, name="a")
    paths = plot_run(run, tmp_path / "plots")
    stems = {p.stem for p in paths}
    assert stems == {
        "metric_vs_time",
        "metric_vs_bytes",
        "participation",
        "timeline",
        "links",
        "energy",
    }
    assert {p.suffix for p in paths} == {".png", ".svg"}
    for p in paths:
        assert p.stat().st_size > 1000
    svg = (tmp_path / "plots" / "timeline.svg").read_text()
    assert "offline" in svg  # the outage is in the legend
    again = plot_run(run, tmp_path / "again")
    assert [p.read_bytes() for p in paths if p.suffix == ".svg"] == [
        p.read_bytes() for p in again if p.suffix == ".svg"
    ]


def test_plot_comparison(tmp_path: Path) -> None:
    runs = [
        write_synthetic_run(tmp_path, name="a"),
        write_synthetic_run(tmp_path, name="b", codec="int8"),
    ]
    paths = plot_comparison(runs, tmp_path / "cmp")
    assert sorted(p.name for p in paths) == [
        "compare_energy.png",
        "compare_energy.svg",
        "compare_metric_vs_bytes.png",
        "compare_metric_vs_bytes.svg",
        "compare_metric_vs_time.png",
        "compare_metric_vs_time.svg",
    ]


def test_plots_tolerate_missing_tables(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path, name="a")
    for name in ("timeline.csv", "links.csv"):
        (run / name).unlink()
    assert {p.stem for p in plot_run(run, tmp_path / "p")} == {
        "metric_vs_time",
        "metric_vs_bytes",
        "participation",
        "energy",
    }


def test_long_runs_are_drawn_at_display_resolution(tmp_path: Path) -> None:
    """A long run: one timeline image instead of a rectangle per interval (an outage still
    shows), participation bars averaged over groups of rounds, metric lines without markers."""
    from matplotlib.colors import to_rgba
    from matplotlib.image import AxesImage

    from fedsim.record.plots import (
        MAX_ROUND_BARS,
        MAX_TIMELINE_SPANS,
        STATE_COLOURS,
        TIMELINE_COLUMNS,
        run_figures,
    )
    from fedsim.record.runs import load_run

    run = load_run(write_synthetic_run(tmp_path, name="long", rounds=300, devices=40))
    assert len(run.timeline) > MAX_TIMELINE_SPANS
    figs = dict(run_figures(run))
    (ax,) = figs["timeline"].axes
    (image,) = [a for a in ax.get_children() if isinstance(a, AxesImage)]
    assert not ax.collections  # no per-interval rectangles
    pixels = image.get_array()
    assert pixels.shape[1] == TIMELINE_COLUMNS
    # dev00 (first row) is offline from 30 % to 45 % of the run (fake_results' outage)
    assert tuple(pixels[5, int(0.375 * TIMELINE_COLUMNS)]) == to_rgba(STATE_COLOURS["offline"])
    layers = figs["participation"].axes[0].collections  # one per stacked layer of bars
    assert layers
    assert all(len(layer.get_paths()) <= MAX_ROUND_BARS for layer in layers)
    assert "mean of 2 rounds" in figs["participation"].axes[0].get_title()
    (line,) = figs["metric_vs_time"].axes[0].lines[:1]
    assert line.get_marker() in (None, "None", "")
