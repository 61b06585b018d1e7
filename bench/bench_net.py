"""Network-model throughput: packet-fidelity segments/s and flow-fidelity messages/s.

Standalone SimPy environments (no aiohttp), so the numbers are the model's own cost.
Flow benchmarks on a shared cell also run with the scanning transmitter the gap index
replaced (tests/booking_reference.py) and print index/scan ratios measured here.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import simpy

from fedsim.net.flow import FlowChannel
from fedsim.net.link import Hop, Link, NoLoss, Transmitter
from fedsim.net.loss import Bernoulli
from fedsim.net.packet import PacketChannel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.booking_reference import ScanningTransmitter

__all__ = ["main"]


def _run(
    cls: type,
    n_channels: int,
    nbytes: int,
    msgs: int,
    loss: float = 0.0,
    tx_cls: type = Transmitter,
) -> tuple[float, int, int]:
    env = simpy.Environment()
    cell = tx_cls("cell", 50e6, clock=lambda: env.now)
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


def _flow_rate(n: int, nbytes: int, msgs: int, loss: float = 0.0) -> tuple[float, float]:
    """Flow messages/s on one shared cell: (gap index, scanning transmitter)."""
    rates = []
    for tx_cls in (Transmitter, ScanningTransmitter):
        wall, _, count = _run(FlowChannel, n, nbytes, msgs, loss=loss, tx_cls=tx_cls)
        rates.append(count / wall)
    return rates[0], rates[1]


def _record_cell(devices: int, nbytes: int) -> list[tuple[float, float, float]]:
    """The bookings a round's uploads make on one shared 50 Mbit/s cell (every device
    sends `nbytes` at once, so the flow fidelity books each one's windows ahead of the
    clock between the others'): (clock, ready time, bits) of each."""
    calls: list[tuple[float, float, float]] = []

    class Recorded(Transmitter):
        def reserve(self, now: float, nbits: float) -> tuple[float, float]:
            if self.name == "cell":
                calls.append((self.clock(), now, nbits))
            return super().reserve(now, nbits)

    _run(FlowChannel, devices, nbytes, 1, tx_cls=Recorded)
    return calls


def _replay(tx_cls: type, calls: list[tuple[float, float, float]]) -> float:
    """Wall seconds per booking of `calls` on a fresh cell."""
    clock = [0.0]
    cell = tx_cls("cell", 50e6, clock=lambda: clock[0])
    reserve = cell.reserve
    t0 = time.perf_counter()
    for t, now, bits in calls:
        clock[0] = t
        reserve(now, bits)
    return (time.perf_counter() - t0) / len(calls)


def _compare(name: str, new: float, old: float) -> None:
    print(f"{name} {new:.0f} (scanning transmitter {old:.0f}; index/scan {new / old:.2f}x)")


def main() -> int:
    wall, segs, _ = _run(PacketChannel, 50, 100_000, 4)
    print(f"packet_segments_per_s {segs / wall:.0f}")
    _compare("flow_messages_per_s", *_flow_rate(2000, 10_000, 10))
    # the common FL case: a 2.5 KB HTTP message on a loss-free connection
    wall, _, msgs = _run(FlowChannel, 2000, 2_500, 10)
    print(f"flow_small_messages_per_s {msgs / wall:.0f}")
    # 100 KB messages at 1 % loss (the scoreboard replay)
    _compare("flow_lossy_messages_per_s", *_flow_rate(500, 100_000, 4, loss=0.01))
    # many devices on one cell: the cost of a booking must not grow with the bookings
    for devices in (1_000, 10_000):
        calls = _record_cell(devices, 30_000)
        new, old = _replay(Transmitter, calls), _replay(ScanningTransmitter, calls)
        print(f"shared_cell_{devices}_devices_us_per_booking {new * 1e6:.2f} "
              f"(scanning transmitter {old * 1e6:.2f}; scan/index {old / new:.1f}x; "
              f"{len(calls)} bookings replayed)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
