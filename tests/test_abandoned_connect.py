"""A connect the application gives up on (aiohttp's connect timeout, a cancel) stops
sending SYNs, as a closed socket in SYN_SENT does: the transport closes the channel,
and no SYN leaves after that. Before, both fidelities kept retrying (3, 6, 12 ... s
apart) up to `syn_tries`: airtime and wire bytes no stack spends, which on a
duty-cycled radio queued ahead of the next attempt's SYNs (a LoRa sensor's connects
then timed out for hours)."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from fedsim.net.flow import FlowChannel
from fedsim.net.link import Hop, Link, Transmitter
from fedsim.net.packet import PacketChannel


def _link(name: str) -> Link:
    return Link(
        name, f"{name}.a", f"{name}.b",
        (Transmitter(f"{name}>", 1e6), Transmitter(f"{name}<", 1e6)), 0.01,
    )  # fmt: skip


def _syns_sent(channel_type: type, close_at: float | None) -> tuple[int, bool]:
    """SYNs on the first hop, and whether the connect event was left to fail unheard."""
    env = simpy.Environment()
    access, backhaul = _link("access"), _link("backhaul")
    backhaul.down_causes.add("gateway down")  # every SYN is lost past the first hop
    ch = channel_type(env, (Hop(access, 0), Hop(backhaul, 0)), np.random.default_rng(0))
    ev = ch.connect()
    ev.defused = True  # nobody waits for it any more once it is abandoned
    if close_at is not None:

        def give_up():
            yield env.timeout(close_at)
            ch.close()

        env.process(give_up())
    env.run(until=400.0)
    return access.counters[0].packets, ev.triggered


@pytest.mark.parametrize("channel_type", [FlowChannel, PacketChannel])
def test_an_abandoned_connect_sends_no_more_syns(channel_type: type) -> None:
    retried, _ = _syns_sent(channel_type, close_at=None)
    assert retried == 6  # SYNs at 0, 3, 9, 21, 45, 93 s
    abandoned, _ = _syns_sent(channel_type, close_at=10.0)
    assert abandoned == 3  # at 0, 3 and 9 s; none after the close at 10 s
