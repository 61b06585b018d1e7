"""Empty figures made ahead of time, by a process that waits to draw.

Why: making a figure, its axes and their tick marks (five artists per tick) was ~15 % of
drawing a run's figures, and none of it depends on the run. The plot helper fills the
pool while the run simulates (fedsim.record.plot_helper); `take` hands out a figure
resized to what the caller asked for, or None once the pool is empty (the caller then
makes one). A taken figure is drawn byte for byte as a new one would be
(tests/test_figure_pool.py).
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

__all__ = ["X_TICKS", "Y_TICKS", "fill", "pooled", "take"]

X_TICKS = 12
"""Ticks made ahead on each x axis: a locator's usual few, and more on demand."""
Y_TICKS = 81
"""Ticks made ahead on each y axis: a row per shown client of the timeline (at most 80),
per device or group of the energy figure (60) or per link group (40), and a spare."""

_POOL: list[tuple[Figure, Any]] = []


def fill(count: int) -> None:
    """Make `count` figures with one axes each (`layout="constrained"`, as
    fedsim.record.plots makes them), under the caller's style (rcParams apply when an
    artist is made)."""
    for _ in range(count):
        fig = Figure(layout="constrained")
        ax = fig.add_subplot()
        ax.xaxis.get_major_ticks(X_TICKS)
        ax.yaxis.get_major_ticks(Y_TICKS)
        _POOL.append((fig, ax))


def take(width: float, height: float) -> tuple[Figure, Any] | None:
    """A pooled figure of `width` x `height` inches and its axes, or None."""
    if not _POOL:
        return None
    fig, ax = _POOL.pop()
    fig.set_size_inches(width, height)
    return fig, ax


def pooled() -> int:
    """How many figures are ready."""
    return len(_POOL)
