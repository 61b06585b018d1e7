"""Empty figures made ahead of time, by a process that waits to draw.

Why: making a figure, its axes and their tick marks (five artists per tick) was ~15 % of
drawing a run's figures, and none of it depends on the run. The plot helper fills the
pool while the run simulates, a figure per figure it will draw, each with the y ticks
that figure may need (fedsim.record.plot_helper); `take` hands out a figure
resized to what the caller asked for, or None once the pool is empty (the caller then
makes one). A taken figure is drawn byte for byte as a new one would be
(tests/test_figure_pool.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure

__all__ = ["X_TICKS", "fill", "pooled", "take"]

X_TICKS = 12
"""Ticks made ahead on each x axis (and on a y axis by default): a locator's usual few;
more are made on demand."""

_POOL: list[tuple[Figure, Any]] = []


def fill(y_ticks: Sequence[int]) -> None:
    """Make one figure with one axes per entry of `y_ticks` (its y axis gets that many
    ticks ahead), taken in this order (`layout="constrained"`, as fedsim.record.plots
    makes them), under the caller's style (rcParams apply when an artist is made)."""
    made = []
    for count in y_ticks:
        fig = Figure(layout="constrained")
        ax = fig.add_subplot()
        ax.xaxis.get_major_ticks(X_TICKS)
        ax.yaxis.get_major_ticks(count)
        made.append((fig, ax))
    _POOL.extend(reversed(made))  # `take` pops the last


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
