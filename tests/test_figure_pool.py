"""Figures made ahead (fedsim.record.figure_pool) are drawn byte for byte as figures made
on the spot, whatever size and tick count the figure that takes one needs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib
import pytest
from fake_results import write_synthetic_run
from matplotlib.figure import Figure

from fedsim.record import figure_pool
from fedsim.record.plots import _RC, RUN_FIGURES, figure_svg, make_figures_ahead, run_figures
from fedsim.record.runs import RunData, load_run


@pytest.fixture(autouse=True)
def _empty_pool() -> Iterator[None]:
    while figure_pool.take(1.0, 1.0) is not None:
        pass
    yield
    while figure_pool.take(1.0, 1.0) is not None:
        pass


def _svgs(run: RunData) -> dict[str, str]:
    return {stem: figure_svg(fig) for stem, fig in run_figures(run)}


@pytest.mark.parametrize("devices", [8, 90])
def test_pooled_figures_draw_as_new_ones(tmp_path: Path, devices: int) -> None:
    """8 devices: a tick per device in the energy figure; 90: more clients than the
    timeline shows (80 rows) and grouped energy bars."""
    run = load_run(write_synthetic_run(tmp_path, rounds=5, devices=devices, gateways=3))
    fresh = _svgs(run)
    make_figures_ahead()
    assert figure_pool.pooled() == len(RUN_FIGURES)
    pooled = _svgs(run)
    assert figure_pool.pooled() == 0  # every figure took one
    assert len(fresh) == 6
    assert pooled == fresh


def test_a_figure_needing_more_ticks_than_made_ahead_grows_them() -> None:
    def labelled(fig: Figure, ax: Any) -> str:
        n = 3 * figure_pool.X_TICKS
        with matplotlib.rc_context(_RC):  # as run_figures draws
            ax.set_xticks(range(n), [f"t{i}" for i in range(n)], fontsize=6)
            ax.set_yticks(range(n))
        return figure_svg(fig)

    with matplotlib.rc_context(_RC):
        fresh = Figure(figsize=(9.0, 12.0), layout="constrained")
        fresh_axes = fresh.add_subplot()
    make_figures_ahead(["metric_vs_time"])
    pooled = figure_pool.take(9.0, 12.0)
    assert pooled is not None
    assert labelled(*pooled) == labelled(fresh, fresh_axes)


def test_take_resizes_and_an_empty_pool_gives_none() -> None:
    assert figure_pool.take(7.0, 4.0) is None
    make_figures_ahead(["participation"])
    taken = figure_pool.take(8.0, 2.5)
    assert taken is not None
    assert tuple(taken[0].get_size_inches()) == (8.0, 2.5)
    assert taken[0].axes == [taken[1]]
    assert figure_pool.take(8.0, 2.5) is None


def test_each_figure_is_made_with_the_rows_it_may_show() -> None:
    """Taken in `run_figures` order: the timeline's axes with a tick per shown client,
    the links' with one per link group, the others with a locator's few."""
    from fedsim.record.link_groups import MAX_LINK_GROUPS
    from fedsim.record.plots import MAX_TIMELINE_CLIENTS

    make_figures_ahead(["links", "metric_vs_time", "timeline"])
    ticks = []
    while (taken := figure_pool.take(7.0, 4.0)) is not None:
        ticks.append(len(taken[1].yaxis.majorTicks))
    assert ticks == [figure_pool.X_TICKS, MAX_TIMELINE_CLIENTS, MAX_LINK_GROUPS]
