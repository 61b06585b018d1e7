"""Wire bytes booked ahead of the clock: what crossed by time t never decreases, and a
cut takes back exactly what was booked past it (so a round's delta is never negative)."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from fedsim.net.flow import FlowChannel, wire_booked_after
from fedsim.net.link import Hop, Link, Transmitter
from fedsim.net.packet import PacketChannel


def _link() -> Link:
    return Link("l", "l.a", "l.b", (Transmitter("l>", 20e3), Transmitter("l<", 20e3)), 0.05)


@pytest.mark.parametrize("channel_type", [FlowChannel, PacketChannel])
def test_crossed_wire_bytes_never_decrease_across_a_cut(channel_type: type) -> None:
    env = simpy.Environment()
    link = _link()
    ch = channel_type(env, (Hop(link, 0),), np.random.default_rng(0))
    counters = link.counters[0]

    def send() -> object:
        yield ch.connect()
        ev = ch.send(0, 20_000)  # ~8 s at 20 kbit/s
        ev.defused = True
        yield env.timeout(100)

    env.process(send())
    crossed: list[int] = []
    for t in np.arange(0.5, 4.0, 0.5):
        env.run(until=float(t))
        ahead = wire_booked_after([ch], env.now)
        crossed.append(counters.wire_bytes - ahead.get(id(counters), 0))
    assert wire_booked_after([ch], env.now)  # mid-transfer: some bytes booked ahead
    ch.break_("cut")
    assert wire_booked_after([ch], env.now) == {}
    crossed.append(counters.wire_bytes)  # after the take-back: exactly what had crossed
    assert crossed == sorted(crossed)
    assert crossed[-1] == crossed[-2]
    assert 0 < crossed[-1] < 20_000
