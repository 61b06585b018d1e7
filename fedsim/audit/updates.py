"""Accepted updates: none may have crossed a path that was down."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.audit.intervals import first_overlap, fmt
from fedsim.audit.paths import path_spans

__all__ = ["update_over_down_path"]

NAME = "update-over-down-path"


@invariant(
    NAME,
    "no update is accepted from a device whose path to the server was down at any "
    "instant between its upload exchange's start and the server's acceptance",
)
def update_over_down_path(result: Any) -> Iterator[Violation]:
    ev = getattr(result, "evidence", None)
    if ev is None:
        return
    spans = path_spans(ev)
    for a in ev.accepted:
        hit = first_overlap(spans.get(a.client, []), a.start, a.accepted)
        if hit is None and a.start == a.accepted:
            hit = next((s for s in spans.get(a.client, []) if s[0] <= a.start < s[1]), None)
        if hit is not None:
            yield Violation(
                NAME,
                f"client {a.client}, round {a.round}: update accepted at {fmt(a.accepted)} "
                f"(upload started {fmt(a.start)}) while down {fmt(hit[0])}-{fmt(hit[1])}: {hit[2]}",
            )
