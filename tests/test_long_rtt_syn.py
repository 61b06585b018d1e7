"""On a round trip longer than the SYN timer (3 s, doubling; ns-3's ConnTimeout) the
client sends its SYN again before the SYN-ACK arrives and the server answers each one.
Both fidelities put those SYNs and SYN-ACKs on the wire and count the SYNs as
retransmissions (an outside audit found flow without them and neither counting them)."""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from first_lost import FirstLost

from fedsim.net.calculator import FIDELITIES, run_once
from fedsim.net.link import Hop, Link, NoLoss, Transmitter

SYN_PAIR = 2 * 58  # a resent SYN and the SYN-ACK that answers it


@pytest.mark.parametrize(
    ("latency_s", "resent"),
    [(1.0, 0), (2.0, 1), (8.0, 2)],  # RTT 2 s: none; 4 s: one (at 3 s); 16 s: at 3 and 9 s
)
def test_both_fidelities_resend_and_count_syns_on_long_round_trips(
    latency_s: float, resent: int
) -> None:
    runs = [
        run_once(1e6, latency_s, 3000, rng=np.random.default_rng(0), fidelity=f)
        for f in ("flow", "packet")
    ]
    (t_flow, wire_flow, retx_flow), (t_packet, wire_packet, retx_packet) = runs
    assert wire_flow == wire_packet == 3440 + resent * SYN_PAIR
    assert retx_flow == retx_packet == resent
    assert t_flow == pytest.approx(t_packet, rel=1e-9)


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_a_syn_resent_after_a_loss_is_a_retransmission(fidelity: str) -> None:
    link = Link(
        "link", "a", "b", (Transmitter("up", 1e6), Transmitter("down", 1e6)), 0.01,
        loss=(FirstLost(), NoLoss()),
    )  # fmt: skip
    env = simpy.Environment()
    ch = FIDELITIES[fidelity](env, (Hop(link, 0),), np.random.default_rng(0), None)
    connected = ch.connect()
    env.run(until=connected)
    assert env.now == pytest.approx(3.0 + 0.02 + 2 * 58 * 8 / 1e6)  # the SYN timer, then a RTT
    assert link.counters[0].retransmissions == 1
