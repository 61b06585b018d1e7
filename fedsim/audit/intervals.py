"""Interval arithmetic for the invariants: merge, overlap, clipped length.

Intervals are (start, end, label) tuples in simulated seconds. Overlap is strict:
an interval that ends at the instant another starts does not overlap it, so an
exchange that starts the instant a path comes back up is fine.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["Span", "clipped_length", "first_overlap", "fmt", "merged", "overlapping"]

Span = tuple[float, float, str]


def fmt(t: float) -> str:
    """A time for a violation message."""
    return f"{t:.3f} s"


def merged(spans: Iterable[Span]) -> list[Span]:
    """Sorted spans with overlapping or touching ones joined (labels joined by `+`)."""
    out: list[Span] = []
    for s, e, why in sorted(spans):
        if out and s <= out[-1][1]:
            ps, pe, pwhy = out[-1]
            label = pwhy if why in pwhy.split("+") else f"{pwhy}+{why}"
            out[-1] = (ps, max(pe, e), label)
        else:
            out.append((s, e, why))
    return out


def first_overlap(spans: list[Span], start: float, end: float) -> Span | None:
    """The first of `spans` (merged, sorted) that overlaps [start, end], or None. A
    zero-length span strictly inside counts (a blip still breaks a connection)."""
    for s, e, why in spans:
        if s >= end:
            break
        if e > start:
            return (s, e, why)
    return None


def overlapping(spans: list[Span], start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """For each [start[i], end[i]]: the index of the first of `spans` (merged, sorted)
    that overlaps it, or -1. Vectorised: messages are many."""
    if not spans or start.size == 0:
        return np.full(start.size, -1, dtype=np.int64)
    starts = np.fromiter((s for s, _, _ in spans), dtype=np.float64, count=len(spans))
    ends = np.fromiter((e for _, e, _ in spans), dtype=np.float64, count=len(spans))
    i = np.searchsorted(ends, start, side="right")  # first span that ends after `start`
    inside = i < len(spans)
    j = np.minimum(i, len(spans) - 1)
    hit = inside & (starts[j] < end)
    return np.where(hit, j, -1)


def clipped_length(spans: Iterable[Span], lo: float, hi: float) -> float:
    """Total length of the merged `spans` inside [lo, hi]."""
    total = 0.0
    for s, e, _ in merged(spans):
        a, b = max(s, lo), min(e, hi)
        if b > a:
            total += b - a
    return total
