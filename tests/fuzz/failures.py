"""Scheduled failures (`failures:`): nodes, uplinks, partitions and `links:` cuts,
temporary or outlasting the run, overlapping or not (docs/connectivity.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from fuzz.units import duration, durations, moments

PERMANENT_S = 30 * 86400.0
"""A failure this long outlasts every generated run: the format's 'never comes back'."""


@dataclass(frozen=True)
class Targets:
    """What a failure may name: single nodes, groups (a `count:` entry's name) and
    link names (`<child>-<parent>`). The server is never a target."""

    nodes: list[str]
    groups: list[str]
    links: list[str]


@st.composite
def window(draw: st.DrawFn, horizon_s: float) -> dict[str, Any]:
    """`at` and `duration`: mostly inside the run, sometimes for good."""
    at = draw(moments(horizon_s))
    if draw(st.integers(0, 4)) == 0:
        return {"at": duration(at), "duration": duration(PERMANENT_S)}
    length = draw(st.one_of(durations(1, 30), durations(1, max(2.0, horizon_s / 2))))
    return {"at": duration(at), "duration": duration(length)}


@st.composite
def failure(draw: st.DrawFn, targets: Targets, horizon_s: float, index: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(["node", "link", "partition", "links"]))
    names = targets.nodes + targets.groups
    out: dict[str, Any]
    if kind in ("node", "link"):
        out = {kind: draw(st.sampled_from(names))}
    else:
        pool = names + (targets.links if kind == "links" else [])
        cut = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
        out = {kind: cut}
        if draw(st.booleans()):
            out["name"] = f"cut{index}"
    out.update(draw(window(horizon_s)))
    return out


@st.composite
def failures(draw: st.DrawFn, targets: Targets, horizon_s: float) -> list[dict[str, Any]]:
    count = draw(st.sampled_from([0, 0, 1, 1, 2, 3]))
    return [draw(failure(targets, horizon_s, i)) for i in range(count)]
