"""Quantities written the way users write them in topology files.

The generator draws numbers in base units and writes them with a unit, so the
loader's unit parsing is exercised too (only spellings docs/topology.md promises).
"""

from __future__ import annotations

import math

from hypothesis import strategies as st


def duration(seconds: float) -> str:
    """`90s`, `2.5min`, `3h`: the largest unit that keeps the number short."""
    if seconds >= 3600 and seconds % 900 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 60 and seconds % 15 == 0:
        return f"{seconds / 60:g}min"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


def bandwidth(bps: float) -> str:
    if bps >= 1e9:
        return f"{bps / 1e9:g}Gbps"
    if bps >= 1e6:
        return f"{bps / 1e6:g}Mbps"
    if bps >= 1e3:
        return f"{bps / 1e3:g}kbps"
    return f"{bps:g}bps"


def percent(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def durations(low_s: float, high_s: float) -> st.SearchStrategy[float]:
    """Whole seconds (or tenths below 10 s) in [low, high]: short YAML, exact units."""
    if high_s <= 10:
        return st.integers(round(low_s * 10), round(high_s * 10)).map(lambda x: x / 10)
    return st.integers(math.ceil(low_s), max(math.ceil(low_s), int(high_s))).map(float)


def fractions(low: float, high: float) -> st.SearchStrategy[float]:
    """Fractions on a 0.1 % grid, written as percentages."""
    return st.integers(round(low * 1000), round(high * 1000)).map(lambda x: x / 1000)


def moments(horizon_s: float) -> st.SearchStrategy[float]:
    """A time in the run, often early: short runs finish their rounds in seconds, and
    an outage is most telling while a round is in flight."""
    return st.one_of(durations(0, 10), durations(0, min(120.0, horizon_s)), durations(0, horizon_s))
