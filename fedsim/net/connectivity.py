"""Connectivity processes: when a node is reachable. Each is a small SimPy process.

`always` needs no process. `markov` alternates exponential up and down periods
(means from the topology). `periodic` is a sleep schedule (NB-IoT PSM-like): awake
for `awake` in every `period`, with a per-device phase so devices do not wake in
lock step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fedsim.rng import Streams
from fedsim.scenario import ConnectivitySpec

if TYPE_CHECKING:
    from fedsim.net.network import Network

__all__ = ["start_connectivity"]


def start_connectivity(net: Network, node: str, spec: ConnectivitySpec, streams: Streams) -> None:
    if spec.kind == "always":
        return
    rng = streams.get("node", node, "connectivity")
    proc = _markov if spec.kind == "markov" else _periodic
    net.env.process(proc(net, node, spec, rng))


def _markov(net: Network, node: str, spec: ConnectivitySpec, rng: Any) -> Any:
    cause = net.cause_for("node", node)
    up = spec.start_up
    if not up:
        net.set_down("node", node, cause)
    while True:
        mean = spec.mean_up_s if up else spec.mean_down_s
        yield net.env.timeout(float(rng.exponential(mean)))
        if up:
            net.set_down("node", node, cause)
        else:
            net.set_up("node", node, cause)
        up = not up


def _periodic(net: Network, node: str, spec: ConnectivitySpec, rng: Any) -> Any:
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
        net.set_up("node", node, cause)
        yield net.env.timeout(spec.awake_s)
    while True:
        net.set_down("node", node, cause)
        yield net.env.timeout(asleep)
        net.set_up("node", node, cause)
        yield net.env.timeout(spec.awake_s)
