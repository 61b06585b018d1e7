"""The handshake's last ACK on a lossy path: lost as packet fidelity loses it.

Packet fidelity sends the client's final ACK as a packet like any other: a lossy hop may
drop it (a drop there, its bytes lost, no later hop carries it), and nothing waits for
it, since the data that follows acknowledges the same SYN-ACK. Flow fidelity sent it on
every hop and never lost it (a lossy uplink showed fewer drops than packet's). The FIN
exchange is lost in neither fidelity (both count two frames each way, no draw)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import simpy

from fedsim.net.flow import FlowChannel
from fedsim.net.link import Hop, Link, NoLoss, Transmitter
from fedsim.net.packet import PacketChannel

CHANNELS = {"flow": FlowChannel, "packet": PacketChannel}
ACK_BYTES = 54


class NthLost:
    """Loses the packets whose position among those crossing it is in `lose` (0: the
    first), nothing else."""

    mean_rate = 0.5  # (lossy: the fidelities draw fates)

    def __init__(self, *lose: int) -> None:
        self.lose = set(lose)
        self.seen = 0

    def drop(self, rng: np.random.Generator) -> bool:
        self.seen += 1
        return self.seen - 1 in self.lose

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        fates = np.array([self.seen + j in self.lose for j in range(n)], dtype=bool)
        self.seen += n
        return fates


def _exchange(fidelity: str, up_loss: Any) -> tuple[float, tuple[Link, Link]]:
    """Connect over two hops (the first one's uplink lossy as given), send 3000 B up and
    answer with 3000 B; returns when the answer arrived, and the links."""
    access = Link("access", "dev", "gw", (Transmitter("a-up", 1e6), Transmitter("a-dn", 1e6)),
                  0.01, loss=(up_loss, NoLoss()))  # fmt: skip
    backhaul = Link("backhaul", "gw", "srv", (Transmitter("b-up", 1e7), Transmitter("b-dn", 1e7)),
                    0.005)  # fmt: skip
    env = simpy.Environment()
    ch = CHANNELS[fidelity](env, (Hop(access, 0), Hop(backhaul, 0)), np.random.default_rng(0), None)
    env.run(until=ch.connect())
    env.run(until=ch.send(0, 3000))
    env.run(until=ch.send(1, 3000))
    done = env.now
    ch.close()
    env.run(until=done + 5.0)
    return done, (access, backhaul)


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_a_lost_final_ack_is_a_drop_on_its_hop_and_costs_no_time(fidelity: str) -> None:
    # The uplink's second packet is the client's final ACK (the first is the SYN).
    done, (access, backhaul) = _exchange(fidelity, NthLost(1))
    clean, (access0, backhaul0) = _exchange(fidelity, NthLost())  # lossy, loses nothing
    assert done == pytest.approx(clean, rel=1e-12)  # nothing waited for it
    up, up0 = access.counters[0], access0.counters[0]
    assert (up.drops, up.lost_bytes) == (1, ACK_BYTES)
    assert (up0.drops, up0.lost_bytes) == (0, 0)
    assert up.packets == up0.packets  # the access hop carried it ...
    assert backhaul.counters[0].packets == backhaul0.counters[0].packets - 1  # ... no further
    assert backhaul.counters[0].wire_bytes == backhaul0.counters[0].wire_bytes - ACK_BYTES


def test_both_fidelities_count_the_same_frames_when_the_final_ack_is_lost() -> None:
    counts = {}
    for fidelity in CHANNELS:
        _done, links = _exchange(fidelity, NthLost(1))
        counts[fidelity] = [
            (c.packets, c.wire_bytes, c.drops, c.lost_bytes, c.control_bytes)
            for link in links
            for c in link.counters
        ]
    assert counts["flow"] == counts["packet"]
