"""The flow model's shortcuts give what the general code gives: a send's bookings (what
a cut takes back from) are exactly what it added to the counters, the totals booked
ahead are the parts' totals, and a message's head costs a heap entry only when someone
asks for it."""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fedsim.net.flow import FlowChannel, _Model
from fedsim.net.jitter import UniformJitter
from fedsim.net.link import Hop, Link, NoLoss, transmitter
from fedsim.net.loss import Bernoulli
from fedsim.net.metered import MeteredCounters

_rate = st.sampled_from([1e9, 10e6, 250e3, 5e3])
_latency = st.sampled_from([0.0005, 0.01, 0.3])
_hop = st.tuples(_rate, _rate, _latency, st.booleans())
_send = st.tuples(
    st.sampled_from([0.0, 0.0, 0.001, 0.05, 2.0]),  # wait before it
    st.integers(0, 1),  # direction
    st.one_of(
        st.integers(0, 3000),
        st.integers(1, 300_000),
        st.tuples(st.integers(1, 40), st.sampled_from([-1, 0, 1])).map(
            lambda k: k[0] * 1448 + k[1]  # whole segments: a window filled exactly
        ),
    ),
)


def _path(hops: list[tuple]) -> tuple[Hop, ...]:
    """Hops of (rate up, rate down, latency, metered counters[, loss up[, duty cycle[,
    per-frame bits]]])."""
    out = []
    for i, (up, down, lat, metered, *more) in enumerate(hops):
        loss, duty, fbits = (*more, 0.0, 1.0, 0.0)[:3]
        counters = (MeteredCounters(0), MeteredCounters(1)) if metered else None
        kw: dict = {"counters": counters} if counters else {}
        if loss:
            kw["loss"] = (Bernoulli(loss), NoLoss())
        tx = (transmitter(f"{i}>", up, fbits, duty_cycle=duty), transmitter(f"{i}<", down, fbits))
        link = Link(f"l{i}", f"n{i}", f"n{i + 1}", tx, lat, **kw)
        out.append(Hop(link, 0))
    return tuple(out)


def _fields(obj) -> dict:
    """An object's attributes, whether it keeps them in slots or a __dict__."""
    names = [n for k in type(obj).__mro__ for n in getattr(k, "__slots__", ())]
    out = {n: getattr(obj, n) for n in names if hasattr(obj, n)}
    out.update(getattr(obj, "__dict__", {}))
    return out


def vars_of(x) -> tuple:
    """A sender's RTO estimator, Cubic and HyStart state."""
    r, c, h = x.rto, x.cc, x.cc.hs
    hs = None if h is None else (h.found, h.end, h.round_start, h.last_ack, h.curr, h.samples)
    return (r.srtt, r.rttvar, r.cur, r.backoff, c.delay_min, c.epoch, c.k, c.origin, hs)


_COUNTS = (
    "wire_bytes",
    "packets",
    "data_bytes",
    "header_bytes",
    "control_bytes",
    "retx_bytes",
    "lost_bytes",
    "retransmissions",
)  # fmt: skip (a Booking's order)


def _counts(ch: FlowChannel) -> dict[int, tuple[int, ...]]:
    cs = {id(c): c for P in ch._m.paths for c in P.counters}
    return {k: tuple(getattr(c, a) for a in _COUNTS) for k, c in cs.items()}


def _summed(bookings) -> dict[int, tuple[int, ...]]:
    out: dict[int, list[int]] = {}
    for c, _start, _done, *counts in bookings:
        tot = out.setdefault(id(c), [0] * len(_COUNTS))
        for i, x in enumerate(counts[: len(_COUNTS)]):  # not a block's lost-frame count
            tot[i] += x
    return {k: tuple(v) for k, v in out.items()}


def _world(hops, sends, cut: float | None, seen: list | None = None):
    """Run `sends` on a fresh path; return every counter and transmitter at the end, and
    when each send was delivered (or failed), and each direction's TCP state. `seen`
    gets, per send, (its bookings summed per counter, the counters' changes)."""
    env = simpy.Environment()
    done: list[tuple[int, float, bool]] = []
    path = _path(hops)
    ch = FlowChannel(env, path, np.random.default_rng(7))

    def proc():
        try:
            yield ch.connect()
        except ConnectionResetError:
            return
        for i, (wait, direction, nbytes) in enumerate(sends):
            if wait:
                yield env.timeout(wait)
            if ch._broken is not None:
                return
            before = _counts(ch)
            ev = ch.send(direction, nbytes)
            ev.defused = True
            ev.callbacks.append(lambda e, i=i: done.append((i, env.now, e.ok)))
            entry = ch._ahead.get(ev)
            if seen is not None and entry is not None:
                after = _counts(ch)
                changes = {
                    k: tuple(x - y for x, y in zip(v, before[k], strict=True))
                    for k, v in after.items()
                    if v != before[k]
                }
                seen.append((_summed(entry), changes))
            for q in (env.now, env.now + 0.01, env.now + 1.0):  # totals agree with the parts
                parts = [(c, w, n) for c, w, n, _parts, _lost in ch.booked_parts_after(q)]
                assert list(ch.booked_after(q)) == parts

    def cutter():
        yield env.timeout(cut)
        ch.break_("cut")

    env.process(proc())
    if cut is not None:
        env.process(cutter())
    env.run()
    links = [h.link for h in path]
    senders = [
        (x.cwnd, x.ssthresh, x.free_at, x.delivered_at, x.last_active, x.quick, vars_of(x))
        for x in ch._senders
    ]
    return (
        done,
        senders,
        [tx._gaps.intervals() for link in links for tx in link.tx],
        [
            {k: v for k, v in _fields(c).items() if type(v) is int}
            for link in links
            for c in link.counters
        ],
        [(t.busy_time, t.busy_until) for link in links for t in link.tx],
    )


_lossy_hop = st.tuples(
    _rate, _rate, _latency, st.booleans(), st.sampled_from([0.0, 0.05, 0.3]),
    st.sampled_from([1.0, 1.0, 0.1]),
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(_lossy_hop, min_size=1, max_size=3), st.lists(_send, min_size=1, max_size=8))
def test_a_sends_bookings_are_what_it_counted(hops, sends) -> None:
    """Per counter, a send's bookings sum to what it added: wire bytes, packets, every
    class, the lost bytes and the retransmissions, on loss-free and lossy paths alike (a
    cut takes back from them, so bytes and airtime come from one record)."""
    seen: list = []
    _world(hops, sends, cut=None, seen=seen)
    for booked, counted in seen:
        assert booked == counted


def test_every_send_records_its_bookings() -> None:
    seen: list = []
    hops = [(1e9, 1e9, 0.0005, True), (10e9, 10e9, 0.001, False)]
    _world(hops, [(0.0, 0, 3000)] * 3, cut=None, seen=seen)
    assert len(seen) == 3
    assert all(booked for booked, _ in seen)


def test_a_head_is_made_only_when_asked_and_fires_at_the_first_segment() -> None:
    env = simpy.Environment()
    path = _path([(10e6, 10e6, 0.01, False)])
    ch = FlowChannel(env, path, np.random.default_rng(0))
    fired: list[tuple[str, float]] = []

    def proc():
        yield ch.connect()
        entries = len(env._queue)
        quiet = ch.send(0, 20_000)  # nobody asks: one entry (its delivery)
        assert len(env._queue) == entries + 1
        ev = ch.send(1, 20_000)
        head, size = ch.head(ev)
        assert ch.head(ev) == (head, size)  # asked twice: the same event
        assert len(env._queue) == entries + 3
        head.callbacks.append(lambda _e: fired.append(("head", env.now)))
        ev.callbacks.append(lambda _e: fired.append(("all", env.now)))
        yield quiet & ev

    env.process(proc())
    env.run()
    assert [k for k, _ in fired] == ["head", "all"]
    assert fired[0][1] < fired[1][1]


_framed_hop = st.tuples(
    _rate, _rate, _latency, st.booleans(), st.just(0.0), st.just(1.0),
    st.sampled_from([304.0, 1500.0]),
)  # fmt: skip
"""A hop whose frames carry airtime beyond their bytes (Ethernet's, Wi-Fi's)."""


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(_hop, _framed_hop), min_size=1, max_size=3),
    st.lists(_send, min_size=1, max_size=10),
    st.one_of(st.none(), st.floats(0.0, 5.0)),
)
@example(  # a message that fills the initial window exactly: cwnd-limited, cwnd grows
    [(1e9, 1e9, 0.0005, True)], [(0.0, 0, 10 * 1448), (0.0, 0, 40 * 1448)], None
)
def test_a_message_sent_in_one_round_is_what_the_round_loop_gives(hops, sends, cut) -> None:
    """`_Model._one_round` (a message within the window) against `_clean`'s round loop:
    the same deliveries, TCP state, bookings and counters, bit for bit."""
    fast = _world(hops, sends, cut=cut)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            _Model, "_one_round", lambda m, t, d, nbytes, _nseg, s: m._clean(t, d, nbytes, s)
        )
        loop = _world(hops, sends, cut=cut)
    assert fast == loop


def test_small_messages_take_the_one_round_path() -> None:
    calls: list[int] = []
    one_round = _Model._one_round

    def spy(m, t, d, nbytes, nseg, s):
        calls.append(nseg)
        return one_round(m, t, d, nbytes, nseg, s)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_Model, "_one_round", spy)
        _world([(1e9, 1e9, 0.0005, True)], [(0.0, 0, 300), (0.0, 1, 3000), (0.0, 0, 100_000)],
               cut=None)  # fmt: skip
    assert calls == [1, 3]  # 100 KB needs several rounds: the loop


def _deliveries(link_kw: dict, rng) -> tuple[list[float], list[int]]:
    """Connect and send a few messages over one hop; delivery times and wire bytes."""
    env = simpy.Environment()
    tx = (transmitter("a>", 10e6), transmitter("<b", 10e6))
    link = Link("l", "a", "b", tx, 0.01, **link_kw)
    ch = FlowChannel(env, (Hop(link, 0),), rng)
    times: list[float] = []

    def proc():
        yield ch.connect()
        for n in (300, 40_000, 3000):
            yield ch.send(0, n)
            times.append(env.now)
            yield ch.send(1, n // 3)
            times.append(env.now)

    env.process(proc())
    env.run()
    return times, [c.wire_bytes for c in link.counters]


@pytest.mark.parametrize(
    "link_kw",
    [{}, {"loss": (Bernoulli(0.05), NoLoss())}, {"jitter": UniformJitter(0.002)}],
    ids=["clean", "lossy", "jitter"],
)
def test_a_generator_is_made_only_for_a_path_that_draws(link_kw: dict) -> None:
    """A channel given what makes its generator asks for it only if its path has jitter
    or may lose; either way it runs as with the generator given outright."""
    made: list[int] = []

    def make() -> np.random.Generator:
        made.append(1)
        return np.random.default_rng(3)

    lazy = _deliveries(link_kw, make)
    assert made == ([] if not link_kw else [1])
    assert lazy == _deliveries(link_kw, np.random.default_rng(3))


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.none(), st.floats(1e-6, 100.0)),
    st.floats(0.0, 10.0),
    st.floats(1e-6, 100.0),
    st.floats(1e-6, 100.0),
)
def test_a_pair_of_rtt_samples_is_two_samples(srtt, rttvar, first, second) -> None:
    """`RtoEstimator.sample_pair` (a one-round send's two samples) leaves the state two
    `sample` calls leave, and returns the SRTT between them, bit for bit."""
    from fedsim.net.tcp import RtoEstimator, TcpParams

    a, b = RtoEstimator(TcpParams()), RtoEstimator(TcpParams())
    for r in (a, b):
        r.srtt, r.rttvar, r.backoff = srtt, rttvar, 3
    a.sample(first)
    between = a.srtt
    a.sample(second)
    assert b.sample_pair(first, second) == between
    assert _fields(a) == _fields(b)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([1e9, 250e3]),
    st.sampled_from([0.0, 304.0, 1500.0]),
    st.sampled_from([1.0, 0.1]),
    st.lists(st.tuples(st.floats(0.0, 0.5), st.integers(8, 80_000), st.integers(1, 40)),
             min_size=1, max_size=20),
)  # fmt: skip
def test_a_framed_booking_is_its_bits_plus_its_frames_bits(rate, fbits, duty, bookings) -> None:
    """A `FramedTransmitter` books each frame's fixed bits beyond its bytes, as a plain
    transmitter given those bits does: the same (start, end) and the same state."""
    from fedsim.net.link import Transmitter

    framed = transmitter("f", rate, fbits, duty_cycle=duty)
    plain = Transmitter("p", rate, duty_cycle=duty)
    for now, nbits, frames in bookings:
        got = framed.reserve(now, float(nbits), frames)
        assert got == plain.reserve(now, nbits + frames * fbits, frames)
    assert framed._gaps.intervals() == plain._gaps.intervals()
    assert (framed.busy_time, framed.held_time, framed.busy_until) == (
        plain.busy_time, plain.held_time, plain.busy_until)  # fmt: skip
