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
