"""Network-model throughput: packet-fidelity segments/s and flow-fidelity messages/s.

Standalone SimPy environments (no aiohttp), so the numbers are the model's own cost.
"""

from __future__ import annotations

import time

import numpy as np
import simpy

from fedsim.net.flow import FlowChannel
from fedsim.net.link import Hop, Link, NoLoss, Transmitter
from fedsim.net.loss import Bernoulli
from fedsim.net.packet import PacketChannel

__all__ = ["main"]


def _run(
    cls: type, n_channels: int, nbytes: int, msgs: int, loss: float = 0.0
) -> tuple[float, int, int]:
    env = simpy.Environment()
    cell = Transmitter("cell", 50e6, clock=lambda: env.now)
    chans = []
    for i in range(n_channels):
        fwd = Bernoulli(loss) if loss > 0 else NoLoss()
        link = Link(
            f"d{i}",
            f"d{i}",
            "gw",
            (cell, Transmitter(f"r{i}", 50e6, clock=lambda: env.now)),
            0.01,
            loss=(fwd, NoLoss()),
        )
        link.queue_limit = 10_000
        chans.append((cls(env, (Hop(link, 0),), np.random.default_rng(i)), link))

    def proc(ch):
        yield ch.connect()
        for _ in range(msgs):
            yield ch.send(0, nbytes)

    for ch, _ in chans:
        env.process(proc(ch))
    t0 = time.perf_counter()
    env.run()
    wall = time.perf_counter() - t0
    segs = sum(link.counters[0].packets for _, link in chans)
    return wall, segs, n_channels * msgs


def main() -> int:
    wall, segs, _ = _run(PacketChannel, 50, 100_000, 4)
    print(f"packet_segments_per_s {segs / wall:.0f}")
    wall, _, msgs = _run(FlowChannel, 2000, 10_000, 10)
    print(f"flow_messages_per_s {msgs / wall:.0f}")
    # the common FL case: a 2.5 KB HTTP message on a loss-free connection
    wall, _, msgs = _run(FlowChannel, 2000, 2_500, 10)
    print(f"flow_small_messages_per_s {msgs / wall:.0f}")
    # 100 KB messages at 1 % loss (the scoreboard replay)
    wall, _, msgs = _run(FlowChannel, 500, 100_000, 4, loss=0.01)
    print(f"flow_lossy_messages_per_s {msgs / wall:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
