"""What the figure tests share: how fedsim saves a figure (its rc and per-format options),
one save with a single draw, and two synthetic runs that draw every kind of figure."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
from fake_results import write_synthetic_run
from matplotlib.figure import Figure

from fedsim.record.plots import _RC, _SVG_META
from fedsim.record.runs import RunData, load_run
from fedsim.record.single_draw import savefig_single_draw

__all__ = ["KWARGS", "RC", "sample_runs", "saved_single"]

RC = _RC
KWARGS = {"svg": {"metadata": _SVG_META}, "png": {"dpi": 130, "metadata": {"Software": None}}}


def saved_single(fig: Figure, fmt: str) -> bytes:
    """`fig` saved as fedsim saves it, with one draw."""
    buf = io.BytesIO()
    with matplotlib.rc_context(RC):
        savefig_single_draw(fig, buf, fmt, **KWARGS[fmt])
    return buf.getvalue()


def sample_runs(tmp_path: Path) -> list[RunData]:
    """A small run (a bar per interval, per device energy) and a larger one (grouped
    energy bars with whiskers, a timeline of the first clients of each group)."""
    return [
        load_run(write_synthetic_run(tmp_path, name="small", rounds=6)),
        load_run(write_synthetic_run(tmp_path, name="large", rounds=4, devices=90, gateways=3)),
    ]
