"""Packet fidelity: lossless timing, multi-hop, contention, segments, loss recovery."""

from __future__ import annotations

import errno

import numpy as np
import pytest
import simpy

from fedsim.net.flow import lossless_transfer_time
from fedsim.net.link import Hop, Link, Transmitter
from fedsim.net.loss import Bernoulli
from fedsim.net.packet import PacketChannel
from fedsim.net.tcp import TcpParams


def _link(name: str, bw: float, lat: float, *, tx0: Transmitter | None = None, **kw) -> Link:
    return Link(
        name, f"{name}.a", f"{name}.b",
        (tx0 or Transmitter(f"{name}>", bw), Transmitter(f"{name}<", bw)), lat, **kw,
    )  # fmt: skip


def _transfer(env, ch, nbytes: int, direction: int = 0) -> list[float]:
    out: list[float] = []

    def proc():
        yield ch.connect()
        yield ch.send(direction, nbytes)
        out.append(env.now)

    env.process(proc())
    return out


@pytest.mark.parametrize("size", [1000, 10_000, 100_000])
@pytest.mark.parametrize(("bw", "lat"), [(20e6, 0.005), (5e6, 0.04), (50e3, 0.1)])
def test_lossless_close_to_flow_formula(size: int, bw: float, lat: float) -> None:
    env = simpy.Environment()
    link = _link("l", bw, lat)
    ch = PacketChannel(env, (Hop(link, 0),), np.random.default_rng(0))
    out = _transfer(env, ch, size)
    env.run()
    assert out[0] == pytest.approx(lossless_transfer_time(size, bw, lat), rel=0.05)


def test_small_message_exact() -> None:
    env = simpy.Environment()
    link = _link("l", 20e6, 0.005)
    ch = PacketChannel(env, (Hop(link, 0),), np.random.default_rng(0))
    out = _transfer(env, ch, 1000)
    env.run()
    assert out[0] == pytest.approx(0.0154896, rel=1e-9)  # ns-3's value for this row


def test_segments_and_acks_counted() -> None:
    env = simpy.Environment()
    link = _link("l", 10e6, 0.01)
    ch = PacketChannel(env, (Hop(link, 0),), np.random.default_rng(0))
    _transfer(env, ch, 10_000)
    env.run()
    up, down = link.counters
    assert up.payload_bytes == 10_000
    assert up.packets == 1 + 1 + 7
    assert up.wire_bytes == 58 + 54 + 10_000 + 7 * 54
    assert down.packets >= 1 + 4
    assert up.retransmissions == 0


def test_multi_hop() -> None:
    env = simpy.Environment()
    a, b = _link("a", 1e6, 0.01), _link("b", 100e6, 0.05)
    ch = PacketChannel(env, (Hop(a, 0), Hop(b, 0)), np.random.default_rng(0))
    out = _transfer(env, ch, 50_000)
    env.run()
    single = lossless_transfer_time(50_000, 1e6, 0.06)
    assert single < out[0] < single * 1.1
    assert b.counters[0].packets == a.counters[0].packets


def test_contention_on_shared_transmitter() -> None:
    env = simpy.Environment()
    R, N, S = 1e6, 8, 200_000
    shared = Transmitter("cell", R)
    chans = [
        PacketChannel(
            env,
            (Hop(_link(f"d{i}", R, 0.001, tx0=shared, queue_limit=1000), 0),),
            np.random.default_rng(i),
        )
        for i in range(N)
    ]
    outs = [_transfer(env, ch, S) for ch in chans]
    env.run()
    p = TcpParams()
    wire = S + -(-S // p.mss(1500)) * (p.header_bytes + p.framing_bytes)
    per_flow_bits = 8 * (wire + p.syn_bytes + p.ack_bytes)
    assert max(o[0] for o in outs) == pytest.approx(N * per_flow_bits / R, rel=0.05)


def test_retransmissions_on_loss() -> None:
    retx, times = 0, []
    for seed in range(20):
        env = simpy.Environment()
        link = _link("l", 20e6, 0.005, loss=(Bernoulli(0.05), Bernoulli(0.0)))
        ch = PacketChannel(env, (Hop(link, 0),), np.random.default_rng(seed))
        out = _transfer(env, ch, 100_000)
        env.run()
        times.append(out[0])
        retx += link.counters[0].retransmissions
        assert link.counters[0].drops >= 0
    assert retx > 20 * 69 * 0.05 * 0.5
    assert np.mean(times) > lossless_transfer_time(100_000, 20e6, 0.005)


def test_break_and_unreachable() -> None:
    env = simpy.Environment()
    link = _link("l", 1e6, 0.01)
    ch = PacketChannel(env, (Hop(link, 0),), np.random.default_rng(0))
    seen: list[str] = []

    def proc():
        yield ch.connect()
        ev = ch.send(0, 1_000_000)
        ch.break_("cut")
        try:
            yield ev
        except ConnectionResetError as e:
            seen.append(str(e))

    env.process(proc())
    env.run()
    assert seen == ["cut"]
    link.down_causes.add("x")
    ev = PacketChannel(env, (Hop(link, 0),), np.random.default_rng(0)).connect()
    assert ev.value.errno == errno.ENETUNREACH
    ev.defused = True


def test_syn_timeout() -> None:
    env = simpy.Environment()
    a, b = _link("a", 1e6, 0.01), _link("b", 1e6, 0.01)
    b.down_causes.add("down")
    ch = PacketChannel(env, (Hop(a, 0), Hop(b, 0)), np.random.default_rng(0))
    got: list[OSError] = []

    def proc():
        try:
            yield ch.connect()
        except OSError as e:
            got.append(e)

    env.process(proc())
    env.run()
    assert got[0].errno == errno.ETIMEDOUT
    assert env.now == pytest.approx(3 * (2**6 - 1))


def test_prr_as_ns3_44() -> None:
    """ns-3.44 TcpPrrRecovery (RFC 6937bis-08, ns-3 !2059): a duplicate ACK adds one segment
    of DeliveredData while prr_delivered < RecoverFS (also with SACK); the SSRB +1 only on a
    safe ACK. Here pipe <= ssthresh, so the reduction-bound branch applies."""
    env = simpy.Environment()
    ch = PacketChannel(env, (Hop(_link("l", 1e6, 0.01), 0),), np.random.default_rng(0))
    s = ch.sides[0]
    s.n, s.una, s.nxt = 20, 0, 6  # 6 sent, none SACKed or lost: pipe = 6
    s.ssthresh, s.prr_flight, s.prr_out, s.prr_delivered = 10.0, 20, 2, 0
    s.prr(1, True, False)  # duplicate ACK: delivered 1 + 1
    assert s.prr_delivered == 2
    assert s.cwnd == 6 + max(2 - 2, 2)
    s.prr(1, False, False)  # partial ACK, not safe: no +1 at all
    assert s.prr_delivered == 3
    assert s.cwnd == 6 + 1
    s.prr(1, False, True)  # safe ACK (a retransmission cumulatively ACKed): SSRB +1
    assert s.cwnd == 6 + max(4 - 2, 1) + 1
    s.prr_delivered = s.prr_flight
    s.prr(1, True, False)  # past RecoverFS: no extra segment
    assert s.prr_delivered == s.prr_flight + 1
