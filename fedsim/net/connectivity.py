"""Connectivity processes: when a node is reachable. Each is a small SimPy process.

`always` needs no process. `markov` alternates exponential up and down periods
(means from the topology). `periodic` is a sleep schedule (NB-IoT PSM-like): awake
for `awake` in every `period`, with a per-device phase so devices do not wake in
lock step. `trace` replays DOWN intervals read from a CSV file at load time.
Churn (`kind: churn`, or a group's `churn: {fraction, between}`) retires a chosen
part of a group for good after a uniformly drawn time. A process stops once its
node is retired (churn, empty battery): a retired node never comes back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fedsim.rng import Streams
from fedsim.scenario import ConnectivitySpec

if TYPE_CHECKING:
    from fedsim.net.network import Network

__all__ = ["churn_plan", "start_churn", "start_connectivity"]


def start_connectivity(net: Network, node: str, spec: ConnectivitySpec, streams: Streams) -> None:
    if spec.kind in ("always", "churn"):
        return  # churn is started per group by `start_churn`
    if spec.kind == "trace":
        intervals = [(s, e) for s, e, who in spec.trace if who is None or who == node]
        if intervals:
            net.env.process(_trace(net, node, _merged(intervals)))
        return
    rng = streams.get("node", node, "connectivity")
    proc = _markov if spec.kind == "markov" else _periodic
    net.env.process(proc(net, node, spec, rng))


def _markov(net: Network, node: str, spec: ConnectivitySpec, rng: Any) -> Iterator[Any]:
    cause = net.cause_for("node", node)
    up = spec.start_up
    if not up:
        net.set_down("node", node, cause)
    while True:
        mean = spec.mean_up_s if up else spec.mean_down_s
        yield net.env.timeout(float(rng.exponential(mean)))
        if node in net.retired:
            return
        if up:
            net.set_down("node", node, cause)
        else:
            net.set_up("node", node, cause)
        up = not up


def _periodic(net: Network, node: str, spec: ConnectivitySpec, rng: Any) -> Iterator[Any]:
    cause = net.cause_for("node", node)
    asleep = spec.period_s - spec.awake_s
    if asleep <= 0:
        return
    phase = float(rng.uniform(0.0, spec.period_s))
    # Start inside the cycle at `phase`: awake during [0, awake), asleep after.
    if phase < spec.awake_s:
        yield net.env.timeout(spec.awake_s - phase)
    else:
        net.set_down("node", node, cause)
        yield net.env.timeout(spec.period_s - phase)
        if node in net.retired:
            return
        net.set_up("node", node, cause)
        yield net.env.timeout(spec.awake_s)
    while node not in net.retired:
        net.set_down("node", node, cause)
        yield net.env.timeout(asleep)
        if node in net.retired:
            return
        net.set_up("node", node, cause)
        yield net.env.timeout(spec.awake_s)


def _merged(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sorted, overlapping or touching intervals joined."""
    out: list[tuple[float, float]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _trace(net: Network, node: str, intervals: list[tuple[float, float]]) -> Iterator[Any]:
    cause = net.cause_for("node", node)
    for start, end in intervals:
        if start > net.env.now:
            yield net.env.timeout(start - net.env.now)
        if node in net.retired:
            return
        net.set_down("node", node, cause, for_good=net.scenario.fl.lasts_for_good(end), until=end)
        if end == float("inf"):
            return
        yield net.env.timeout(end - net.env.now)
        if node in net.retired:
            return
        net.set_up("node", node, cause)


def churn_plan(
    group: str, members: list[str], spec: ConnectivitySpec, streams: Streams
) -> list[tuple[float, str]]:
    """(leave time, node) for the members of `group` that leave, in time order.

    round(fraction x members) leave (half rounds up), chosen without replacement;
    each leaves after a time drawn uniformly from `spec.leave_after_s`.
    """
    rng = streams.get("group", group, "churn")
    count = min(len(members), int(spec.churn_fraction * len(members) + 0.5))
    chosen = sorted(rng.choice(sorted(members), size=count, replace=False).tolist())
    lo, hi = spec.leave_after_s
    times = rng.uniform(lo, hi, size=count) if hi > lo else [lo] * count
    return sorted(zip((float(t) for t in times), chosen, strict=True))


def start_churn(
    net: Network, group: str, members: list[str], spec: ConnectivitySpec, streams: Streams
) -> None:
    for at, node in churn_plan(group, members, spec, streams):
        net.env.process(_leave(net, node, at))


def _leave(net: Network, node: str, at: float) -> Iterator[Any]:
    yield net.env.timeout(at)
    net.retire(node, f"churn:{node}")
