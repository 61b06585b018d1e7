"""When nodes are reachable: connectivity processes (always, markov, periodic, trace,
churn), a group's churn fraction, and a battery's initial charge
(docs/connectivity.md). Times are drawn relative to the run's horizon so that
outages happen while the run is still going."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from fuzz.units import duration, durations, fractions, moments, percent

KINDS = ("always", "markov", "periodic", "trace", "churn")


@dataclass
class Reachability:
    """A node entry's `connectivity` (None: the default), and any trace file it names."""

    connectivity: dict[str, Any] | None = None
    files: dict[str, str] = field(default_factory=dict)


def trace_csv(intervals: list[tuple[float, float | None]], node: str | None) -> str:
    """A trace file's text: header, a comment, one DOWN interval per row."""
    header = "start,end,node" if node else "start,end"
    rows = [f"{duration(a)},{'' if b is None else duration(b)}" for a, b in intervals]
    if node:
        rows = [f"{r},{node}" for r in rows]
    return "\n".join(["# DOWN intervals drawn by the fuzzer", header, *rows]) + "\n"


@st.composite
def down_intervals(draw: st.DrawFn, horizon_s: float) -> list[tuple[float, float | None]]:
    """Sorted, possibly overlapping DOWN intervals; the last may never end."""
    out: list[tuple[float, float | None]] = []
    for _ in range(draw(st.integers(1, 3))):
        start = draw(moments(horizon_s))
        length = draw(st.one_of(durations(1, 30), durations(1, max(2.0, horizon_s / 3))))
        out.append((start, start + length))
    if draw(st.integers(0, 4)) == 0:
        out.append((draw(moments(horizon_s)), None))
    return sorted(out, key=lambda iv: iv[0])


@st.composite
def connectivity(draw: st.DrawFn, name: str, horizon_s: float, members: list[str]) -> Reachability:
    """A node entry's connectivity process; `members` are the node names it expands to."""
    kind = draw(st.sampled_from((*KINDS, "always", "always")))
    if kind == "always":
        if draw(st.booleans()):
            return Reachability()
        return Reachability({"kind": "always"})
    if kind == "markov":
        conn = {
            "kind": "markov",
            "mean_up": duration(draw(st.one_of(durations(1, 60), durations(10, horizon_s)))),
            "mean_down": duration(draw(durations(1, max(10.0, horizon_s / 4)))),
        }
        if draw(st.booleans()):
            conn["start_up"] = draw(st.booleans())
        return Reachability(conn)
    if kind == "periodic":
        period = draw(st.one_of(durations(5, 120), durations(30, max(60.0, horizon_s / 2))))
        awake = draw(durations(1, period))
        return Reachability({"kind": "periodic", "period": duration(period),
                             "awake": duration(awake)})  # fmt: skip
    if kind == "trace":
        node = draw(st.sampled_from([None, *members])) if len(members) > 1 else None
        path = f"traces/{name}.csv"
        text = trace_csv(draw(down_intervals(horizon_s)), node)
        return Reachability({"kind": "trace", "file": path}, {path: text})
    low = draw(moments(horizon_s))
    if draw(st.booleans()):
        return Reachability({"kind": "churn", "leave_after": duration(low)})
    high = draw(durations(low, max(low, horizon_s * 1.5)))
    return Reachability({"kind": "churn", "leave_after": [duration(low), duration(high)]})


@st.composite
def group_churn(draw: st.DrawFn, horizon_s: float) -> dict[str, Any]:
    """`nodes[i].churn`: a fraction of a group leaves for good at a drawn time."""
    out: dict[str, Any] = {"fraction": percent(draw(fractions(0.0, 1.0)))}
    low = draw(moments(horizon_s))
    if draw(st.booleans()):
        out["after"] = duration(low)
    else:
        high = draw(durations(low, max(low, horizon_s)))
        out["between"] = [duration(low), duration(high)]
    return out


@st.composite
def initial_charge(draw: st.DrawFn) -> Any:
    low = draw(fractions(0.0, 1.0))
    if draw(st.booleans()):
        return percent(low)
    return [percent(low), percent(draw(fractions(low, 1.0)))]
