"""Scheduled failures (`failures:`): nodes, uplinks, partitions and `links:` cuts,
temporary or outlasting the run, overlapping or not, now and then twice on the same
target (docs/connectivity.md)."""

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
def overlapping(draw: st.DrawFn, earlier: dict[str, Any], horizon_s: float) -> dict[str, Any]:
    """A second failure of `earlier`'s target that starts inside it and may end after
    it: the element stays down until the last one ends (an audit found the first end
    bringing it back up)."""
    from fedsim.units import parse_duration

    at, length = parse_duration(earlier["at"]), parse_duration(earlier["duration"])
    start = at + draw(st.sampled_from([0.0, 0.25, 0.5, 0.99])) * min(length, horizon_s)
    out = {k: v for k, v in earlier.items() if k not in ("at", "duration", "name")}
    extra = draw(st.one_of(durations(1, 30), durations(1, max(2.0, horizon_s / 2))))
    return {**out, "at": duration(start), "duration": duration(extra)}


@st.composite
def failures(draw: st.DrawFn, targets: Targets, horizon_s: float) -> list[dict[str, Any]]:
    count = draw(st.sampled_from([0, 0, 1, 1, 2, 3]))
    out: list[dict[str, Any]] = []
    for i in range(count):
        if out and draw(st.integers(0, 3)) == 0:  # the same target again, overlapping
            out.append(draw(overlapping(out[-1], horizon_s)))
        else:
            out.append(draw(failure(targets, horizon_s, i)))
    return out
