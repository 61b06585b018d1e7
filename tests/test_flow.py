"""Flow fidelity: exact lossless timing, multi-hop, contention, failures, counters."""

from __future__ import annotations

import errno
from collections.abc import Callable

import numpy as np
import pytest
import simpy

from fedsim.net.flow import FlowChannel, lossless_transfer_time
from fedsim.net.link import Hop, Link, Transmitter
from fedsim.net.loss import Bernoulli
from fedsim.net.tcp import OPEN, RECOVERY, Cubic, RtoEstimator, TcpParams, TcpSender


def _link(name: str, bw: float, lat: float, *, tx0: Transmitter | None = None, **kw) -> Link:
    return Link(
        name, f"{name}.a", f"{name}.b",
        (tx0 or Transmitter(f"{name}>", bw), Transmitter(f"{name}<", bw)), lat, **kw,
    )  # fmt: skip


def _transfer(env: simpy.Environment, ch, nbytes: int, direction: int = 0) -> list[float]:
    out: list[float] = []

    def proc():
        yield ch.connect()
        yield ch.send(direction, nbytes)
        out.append(env.now)

    env.process(proc())
    return out


@pytest.mark.parametrize("size", [1, 1000, 10_000, 100_000, 1_000_000])
@pytest.mark.parametrize(("bw", "lat"), [(20e6, 0.005), (5e6, 0.04), (5e3, 0.5), (1e9, 0.05)])
def test_lossless_single_hop_matches_formula(size: int, bw: float, lat: float) -> None:
    env = simpy.Environment()
    link = _link("l", bw, lat)
    ch = FlowChannel(env, (Hop(link, 0),), np.random.default_rng(0))
    out = _transfer(env, ch, size)
    env.run()
    assert out[0] == pytest.approx(lossless_transfer_time(size, bw, lat, 1500), rel=1e-12)


def test_formula_small_message_by_hand() -> None:
    """1 KB at 20 Mbps, 5 ms: SYN + SYN-ACK + ACK + one 1054 B segment + latency."""
    t = lambda b: b * 8 / 20e6  # noqa: E731
    expect = 2 * (t(58) + 0.005) + t(54) + t(1000 + 54) + 0.005
    assert lossless_transfer_time(1000, 20e6, 0.005) == pytest.approx(expect, rel=1e-12)
    assert lossless_transfer_time(1000, 20e6, 0.005, handshake=False) == pytest.approx(
        t(1054) + 0.005, rel=1e-12
    )


def test_multi_hop_latencies_add_and_bottleneck_serializes() -> None:
    env = simpy.Environment()
    a, b = _link("a", 1e6, 0.01), _link("b", 100e6, 0.05)
    ch = FlowChannel(env, (Hop(a, 0), Hop(b, 0)), np.random.default_rng(0))
    out = _transfer(env, ch, 50_000)
    env.run()
    single = lossless_transfer_time(50_000, 1e6, 0.06)
    assert single < out[0] < single * 1.1


def test_contention_on_shared_transmitter() -> None:
    """N flows through one transmitter of rate R take about N * wire bits / R."""
    env = simpy.Environment()
    R, N, S = 1e6, 8, 200_000
    shared = Transmitter("cell", R)
    chans = [
        FlowChannel(env, (Hop(_link(f"d{i}", R, 0.001, tx0=shared), 0),), np.random.default_rng(i))
        for i in range(N)
    ]
    outs = [_transfer(env, ch, S) for ch in chans]
    env.run()
    p = TcpParams()
    mss = p.mss(1500)
    wire = S + -(-S // mss) * (p.header_bytes + p.framing_bytes)
    per_flow_bits = 8 * (wire + p.syn_bytes + p.ack_bytes)
    last = max(o[0] for o in outs)
    assert last == pytest.approx(N * per_flow_bits / R, rel=0.05)
    assert shared.busy_time == pytest.approx(N * per_flow_bits / R, rel=1e-9)


def test_counters_lossless() -> None:
    env = simpy.Environment()
    link = _link("l", 10e6, 0.01)
    ch = FlowChannel(env, (Hop(link, 0),), np.random.default_rng(0))
    _transfer(env, ch, 10_000)
    env.run()
    up, down = link.counters
    assert up.payload_bytes == 10_000
    assert up.packets == 1 + 1 + 7  # SYN, handshake ACK, 7 segments
    assert up.wire_bytes == 58 + 54 + 10_000 + 7 * 54
    assert down.packets == 1 + 4  # SYN-ACK, ceil(7/2) delayed ACKs
    assert down.wire_bytes == 58 + 4 * 54
    assert up.retransmissions == 0


def test_second_send_reuses_grown_window() -> None:
    env = simpy.Environment()
    link = _link("l", 100e6, 0.05)
    ch = FlowChannel(env, (Hop(link, 0),), np.random.default_rng(0))
    times: list[float] = []

    def proc():
        yield ch.connect()
        for _ in range(2):
            t0 = env.now
            yield ch.send(0, 200_000)
            times.append(env.now - t0)

    env.process(proc())
    env.run()
    assert times[1] < times[0]


def test_break_fails_pending_and_future_sends() -> None:
    env = simpy.Environment()
    link = _link("l", 1e6, 0.01)
    ch = FlowChannel(env, (Hop(link, 0),), np.random.default_rng(0))
    seen: list[BaseException] = []
    when: list[float] = []

    def proc():
        yield ch.connect()
        ev = ch.send(0, 1_000_000)
        env.process(breaker())
        try:
            yield ev
        except ConnectionResetError as e:
            seen.append(e)
            when.append(env.now)
        try:
            yield ch.send(1, 10)
        except ConnectionResetError as e:
            seen.append(e)

    def breaker():
        yield env.timeout(0.1)
        ch.break_("link l down")

    env.process(proc())
    env.run()
    assert [str(e) for e in seen] == ["link l down", "link l down"]
    assert when[0] < 0.2  # failed at the break, not at the computed delivery (~8 s)


def test_connect_unreachable_and_timeout() -> None:
    env = simpy.Environment()
    a, b = _link("a", 1e6, 0.01), _link("b", 1e6, 0.01)
    a.down_causes.add("outage")
    ch = FlowChannel(env, (Hop(a, 0), Hop(b, 0)), np.random.default_rng(0))
    ev = ch.connect()
    assert ev.triggered
    assert ev.value.errno == errno.ENETUNREACH
    ev.defused = True
    a.down_causes.clear()
    b.down_causes.add("gateway down")
    ch = FlowChannel(env, (Hop(a, 0), Hop(b, 0)), np.random.default_rng(0))
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


def test_connect_retries_until_link_returns() -> None:
    env = simpy.Environment()
    a, b = _link("a", 1e6, 0.01), _link("b", 1e6, 0.01)
    b.down_causes.add("gateway down")
    ch = FlowChannel(env, (Hop(a, 0), Hop(b, 0)), np.random.default_rng(0))
    out = _transfer(env, ch, 1000)

    def heal():
        yield env.timeout(5.0)
        b.down_causes.clear()

    env.process(heal())
    env.run()
    assert 9.0 < out[0] < 9.2  # SYNs at 0, 3 (lost), 9 (through)


def test_loss_costs_time_and_counts_retransmissions() -> None:
    times, retx = [], 0
    for seed in range(40):
        env = simpy.Environment()
        link = _link("l", 20e6, 0.005, loss=(Bernoulli(0.05), Bernoulli(0.0)))
        ch = FlowChannel(env, (Hop(link, 0),), np.random.default_rng(seed))
        out = _transfer(env, ch, 100_000)
        env.run()
        times.append(out[0])
        retx += link.counters[0].retransmissions
        assert link.counters[0].payload_bytes == 100_000
    assert np.mean(times) > lossless_transfer_time(100_000, 20e6, 0.005) * 1.5
    assert retx > 0


def test_per_direction_order() -> None:
    env = simpy.Environment()
    link = _link("l", 1e6, 0.01)
    ch = FlowChannel(env, (Hop(link, 0),), np.random.default_rng(0))
    done: list[int] = []

    def proc():
        yield ch.connect()
        evs = [ch.send(1, n) for n in (500_000, 10)]
        for i, ev in enumerate(evs):
            ev.callbacks.append(lambda _e, i=i: done.append(i))
        yield env.all_of(evs)

    env.process(proc())
    env.run()
    assert done == [0, 1]


class _Recorder(TcpSender):
    """The shared sender with hooks that only record what goes on the wire."""

    def __init__(self) -> None:
        p = TcpParams()
        super().__init__(p, 90, RtoEstimator(p), Cubic(p), float(p.initial_window))
        self.wire: list[tuple[int, bool]] = []

    def transmit(self, q: int, retx: bool) -> None:
        self.wire.append((q, retx))

    def transmit_new(self, first: int, k: int) -> None:
        self.wire.extend((q, False) for q in range(first, first + k))


def test_shared_sender_hooks_fast_retransmit() -> None:
    """Both fidelities run `TcpSender`; driven by hand, it releases the initial window
    through `transmit_new`, and three SACKs above a hole make it retransmit the hole
    through `transmit` (fast retransmit, RECOVERY, ssthresh = 0.7 cwnd)."""
    s = _Recorder()
    s.n = 30
    s.try_send()
    assert s.wire == [(q, False) for q in range(10)]
    assert s.armed
    assert s.deadline == pytest.approx(1.0)
    s.wire.clear()
    s.now = 0.1
    s.on_ack(1, (), 0.0)  # segment 0 ACKed: slow start, cwnd 11, two new segments
    assert s.cwnd == 11.0
    assert s.wire == [(10, False), (11, False)]
    s.wire.clear()
    for q in (2, 3, 4):  # segment 1 lost: SACKs for 2, 3, 4
        s.on_ack(1, (q,), 0.0)
    assert s.state == RECOVERY
    assert s.ssthresh == 7.0
    assert (1, True) in s.wire
    s.now = 0.2
    s.on_ack(s.recover, (), 0.1)  # the recovery point is ACKed: OPEN, cwnd = ssthresh,
    assert s.state == OPEN  # then this ACK's congestion-avoidance growth (at most 1)
    assert 7.0 <= s.cwnd <= 8.0


def _lora(rate: float, up_duty: float, down_duty: float, mtu: int, loss: float) -> Link:
    """A LoRa-like link: duty-cycled transmitters, loss on the data direction (0)."""
    return Link("l", "a", "b", (Transmitter("l>", rate, duty_cycle=up_duty),
                Transmitter("l<", rate, duty_cycle=down_duty)), 1.0, mtu=mtu,
                loss=(Bernoulli(loss), Bernoulli(0.0)))  # fmt: skip


def _mean_times(
    make_link: Callable[[], Link], size: int, seeds: int
) -> tuple[list[float], list[Link]]:
    """Mean delivery time of `size` bytes over fresh links, flow then packet fidelity
    (every transfer must finish), and the links used."""
    from fedsim.net.packet import PacketChannel

    means, links = [], []
    for cls in (FlowChannel, PacketChannel):
        times = []
        for seed in range(seeds):
            env = simpy.Environment()
            link = make_link()
            ch = cls(env, (Hop(link, 0),), np.random.default_rng(seed))
            out = _transfer(env, ch, size)
            env.run()
            assert out, f"{cls.__name__} never delivered"
            times.append(out[0])
            links.append(link)
        means.append(float(np.mean(times)))
    return means, links


def test_duty_cycled_lossy_link_stays_bounded_and_near_packet_fidelity() -> None:
    """6.2 kB over LoRa SF9 (1.76 kbit/s, 1 s, MTU 242) at 1 % duty cycle and 5 % loss:
    each frame holds the channel ~110 s, longer than TCP's 60 s maximum RTO, so
    timeouts keep retransmitting. Drop-tail queues bound the backlog in both
    fidelities (without them the flow replay booked forever); the times agree in
    order of magnitude (flow ~25 % below packet in this pathological regime)."""

    (flow, packet), links = _mean_times(lambda: _lora(1760.0, 0.01, 1.0, 242, 0.05), 6200, 4)
    assert all(link.counters[0].drops > 0 for link in links)  # queues dropped retransmissions
    assert flow > 100 * lossless_transfer_time(6200, 1760.0, 1.0, 242)
    assert 0.5 < flow / packet < 1.5


@pytest.mark.parametrize("size", [700, 6200])
def test_duty_cycle_spaces_the_frames_of_a_window_like_packet_fidelity(size: int) -> None:
    """At a 10 % duty cycle each 242 B frame on SF9 is followed by ~10 s of silence,
    also inside one TCP window (the flow model books a window as one block). Mean over
    seeds within 15 % of packet fidelity; before the fix flow was 2-4x faster."""
    (flow, packet), _ = _mean_times(lambda: _lora(1760.0, 0.1, 1.0, 242, 0.05), size, 20)
    frames = -(-size // 190)  # payload per frame: MTU 242 minus headers
    assert packet > (frames - 1) * 10 * 8 * 242 / 1760.0  # the silences are there
    assert flow == pytest.approx(packet, rel=0.15)


def test_duty_cycled_reverse_path_paces_the_acks_like_packet_fidelity() -> None:
    """A LoRa download: data down a 250 bit/s downlink, ACKs up the device's radio at
    a 10 % duty cycle (a 54 B ACK holds it ~17 s). The ACKs, not the data, set the
    pace; flow books and times each ACK there. Before, flow timed ACKs by the idle
    return time and was ~9x faster than packet (51 s vs 481 s)."""
    (flow, packet), _ = _mean_times(lambda: _lora(250.0, 1.0, 0.1, 68, 0.1), 207, 20)
    assert packet > 200.0
    assert flow == pytest.approx(packet, rel=0.15)


def test_a_shared_cell_is_never_booked_twice() -> None:
    """20 devices each send 1 MB through one 10 Mbit/s cell. The flow model books each
    message ahead of the clock; forgetting bookings by a caller's (future) time once
    deleted other devices' later bookings and let everyone finish by 6.9 s, though the
    cell needs 16.6 s of airtime. Bookings are forgotten by the simulation clock."""
    env = simpy.Environment()
    cell = Transmitter("cell", 10e6, clock=lambda: env.now)
    outs, links = [], []
    for i in range(20):
        link = _link(f"d{i}", 10e6, 0.05, tx0=cell)
        links.append(link)
        ch = FlowChannel(env, (Hop(link, 0),), np.random.default_rng(i))
        outs.append(_transfer(env, ch, 1_000_000))
    env.run()
    done = [t for out in outs for t in out]
    airtime = sum(link.counters[0].wire_bytes for link in links) * 8 / 10e6
    assert len(done) == 20
    assert max(done) >= airtime
    assert cell.busy_time == pytest.approx(airtime)
