"""Flow fidelity: one TCP connection as a transfer-time model, one SimPy event per send.

Why: thousands of devices exchanging megabyte models cannot afford an event per
segment. This model replays TCP at the granularity of a *round* (one congestion
window), which is what decides transfer time on short, IoT-sized transfers:

* Handshake: SYN, SYN-ACK, then the client's ACK, each serialized on every hop
  and propagated; connect() succeeds when the SYN-ACK reaches the client. A lost
  SYN or SYN-ACK costs the SYN timer (3 s, doubling), up to `syn_tries` tries.
* Rounds: the sender puts its whole window (10 * 2^k segments in slow start,
  capped by the socket buffer) on the wire at the round start. The round's bits
  are booked on each hop's `Transmitter` (`reserve`), so a shared medium or a
  busy link delays the round. The next round starts when the ACK of the
  round's first segment is back at the sender (the receiver ACKs the first
  data segment at once, as ns-3 and Linux's quick-ack do; later ACKs follow the
  delayed-ACK rule, which does not slow slow start because it counts bytes).
  On a single link a round therefore costs max(RTT1, W * t_seg), where
  RTT1 = 2L + t_seg(first) + t_ack.
* Loss: each segment's fate is drawn from each hop's loss model (a whole
  window per call). A lost segment followed by at least 3 more segments of
  the message is repaired by fast retransmit (SACK-style: all holes of the
  window go out in the next round, window *= beta); dup ACKs come from the
  segments after the last hole in the flight, the new data the earlier ACKs
  release, and two limited-transmit segments. A tail loss, or a lost
  retransmission (ns-3 and Linux without RACK detect those only by timeout),
  waits for the retransmission timer (RFC 6298, >= 1 s, armed at the last ACK
  that advanced, doubling while retransmissions are lost) and restarts slow start from 1 segment.
* cwnd persists across sends of one direction; it grows only in rounds that
  used the full window (Linux's cwnd-limited rule) and restarts from
  min(cwnd, IW) after an idle period longer than the RTO.

Exact lossless single-link formula (B bit/s, one-way latency L, MTU m,
MSS = m - 52, t(x) = 8x/B): with t0 = 2 (t(58) + L) + t(54) (handshake plus
the client's ACK, which precedes the data on the wire), split the message into
segments, take windows W_k = min(10 * 2^k, buffer / MSS) segments, and let
every round but the last cost max(2L + t(first segment) + t(54), t(window));
the last round costs t(its wire bytes) + L. `lossless_transfer_time` evaluates
exactly this, through the same code FlowChannel runs.

Limits (documented, deliberate): a transmitter keeps one `busy_until`, so a
flow's future rounds are booked ahead and competing flows on a shared medium
queue FIFO behind whole rounds rather than interleaving in idle gaps; ACK loss
and spurious timeouts are not modelled; jitter is one draw per hop per round.
"""

from __future__ import annotations

import errno
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from fedsim.net.link import Hop, Link, LinkCounters, Transmitter
from fedsim.net.tcp import Cubic, RtoEstimator, TcpParams, path_mtu, reverse_path, segment_sizes

__all__ = ["FlowChannel", "lossless_transfer_time"]

UP, DOWN = 0, 1


def _draw(loss: Any, rng: np.random.Generator, n: int) -> np.ndarray:
    """Fates of n packets from any LossModel (vectorised when the model offers it)."""
    if n <= 0:
        return np.zeros(0, dtype=bool)
    if getattr(loss, "mean_rate", 0.0) <= 0.0 and not hasattr(loss, "draw"):
        return np.zeros(n, dtype=bool)
    draw = getattr(loss, "draw", None)
    if draw is not None:
        return np.asarray(draw(rng, n), dtype=bool)
    return np.fromiter((loss.drop(rng) for _ in range(n)), dtype=bool, count=n)


@dataclass
class _Sender:
    """One direction's TCP sender state (it outlives single sends)."""

    rto: RtoEstimator
    cwnd: int
    ssthresh: float = math.inf
    free_at: float = 0.0
    """When the sender's previous data has left its first hop."""
    delivered_at: float = 0.0
    """Delivery time of the previous message (per-direction order)."""
    last_active: float = 0.0
    cc: Cubic | None = None
    """Cubic state (created on first use)."""


@dataclass
class _Round:
    first_at_rcv: float
    last_at_rcv: float
    first_ack: float
    last_ack: float


@dataclass
class _Path:
    """Per-hop constants of one direction, looked up once."""

    hops: tuple[Hop, ...]
    tx: list[Transmitter] = field(init=False)
    rate: list[float] = field(init=False)
    lat: list[float] = field(init=False)
    counters: list[LinkCounters] = field(init=False)

    def __post_init__(self) -> None:
        self.tx = [h.link.tx[h.direction] for h in self.hops]
        self.rate = [t.rate_bps for t in self.tx]
        self.lat = [h.link.latency_s for h in self.hops]
        self.counters = [h.link.counters[h.direction] for h in self.hops]


class _Model:
    """The transfer-time computations, free of SimPy (shared with the calculator)."""

    def __init__(self, path: tuple[Hop, ...], rng: np.random.Generator, params: TcpParams):
        self.rng = rng
        self.p = params
        self.mtu = path_mtu(path)
        self.mss = params.mss(self.mtu)
        self.maxwin = params.max_window(self.mtu)
        self.paths = (_Path(path), _Path(reverse_path(path)))

    # -- one packet or one window along a path ---------------------------------------------
    def _jitter(self, hop: Hop) -> float:
        j = hop.link.jitter
        return 0.0 if j is None else j.sample(self.rng)

    def packet(self, t: float, d: int, nbytes: int, count: bool = True) -> float:
        """Send one small packet (SYN, ACK) along direction d; return its arrival time."""
        P = self.paths[d]
        bits = nbytes * 8.0
        for i, hop in enumerate(P.hops):
            _, e = P.tx[i].reserve(t, bits)
            t = e + P.lat[i] + self._jitter(hop)
            if count:
                c = P.counters[i]
                c.wire_bytes += nbytes
                c.packets += 1
        return t

    def lost_at(self, d: int, n: int) -> np.ndarray:
        """For n packets along direction d: index of the hop that drops each, or -1."""
        P = self.paths[d]
        where = np.full(n, -1, dtype=np.int64)
        alive = np.arange(n)
        for i, hop in enumerate(P.hops):
            if alive.size == 0:
                break
            m = _draw(hop.link.loss[hop.direction], self.rng, alive.size)
            if m.any():
                where[alive[m]] = i
                alive = alive[~m]
        return where

    def window(self, t: float, d: int, sizes: list[int]) -> _Round:
        """Put a window of segments on the wire at t; book every hop's transmitter."""
        P, p = self.paths[d], self.p
        wire = [s + p.header_bytes + p.framing_bytes for s in sizes]
        bits = 8.0 * sum(wire)
        fbits, lbits = 8.0 * wire[0], 8.0 * wire[-1]
        first = last = t
        for i, hop in enumerate(P.hops):
            s, e = P.tx[i].reserve(first, bits)
            first_out = s + fbits / P.rate[i]
            last_out = max(e, last + lbits / P.rate[i])
            delay = P.lat[i] + self._jitter(hop)
            first, last = first_out + delay, last_out + delay
        back = self.paths[1 - d]
        abits = 8.0 * p.ack_bytes
        ret = sum(abits / r + lat for r, lat in zip(back.rate, back.lat, strict=True))
        return _Round(first, last, first + ret, last + ret)

    def count_window(
        self, d: int, sizes: list[int], where: np.ndarray, retx: int, t_ack: float
    ) -> None:
        """Byte/packet counters for a window; its ACKs (booked from t_ack) on the reverse path."""
        P, p = self.paths[d], self.p
        wire = np.asarray(sizes, dtype=np.int64) + (p.header_bytes + p.framing_bytes)
        for i, c in enumerate(P.counters):
            reached = (where < 0) | (where >= i)
            c.wire_bytes += int(wire[reached].sum())
            c.packets += int(reached.sum())
            c.retransmissions += retx if i == 0 else 0
            c.drops += int((where == i).sum())
        delivered = int((where < 0).sum())
        if delivered:
            nacks = -(-delivered // p.delack_segments)
            back = self.paths[1 - d]
            for tx, c in zip(back.tx, back.counters, strict=True):
                tx.reserve(t_ack, nacks * p.ack_bytes * 8.0)
                c.wire_bytes += nacks * p.ack_bytes
                c.packets += nacks

    # -- handshake ---------------------------------------------------------------------------
    def handshake(self, t: float) -> tuple[bool, float]:
        """One SYN attempt at t. Returns (success, time the SYN-ACK reaches the client)."""
        p = self.p
        for d in (UP, DOWN):
            P = self.paths[d]
            if not all(h.link.up for h in P.hops):
                self._count_partial(d, p.syn_bytes, self._first_down(d))
                return False, t
            where = int(self.lost_at(d, 1)[0])
            if where >= 0:
                self._count_partial(d, p.syn_bytes, where, drop=True)
                return False, t
            t = self.packet(t, d, p.syn_bytes)
        return True, t

    def _first_down(self, d: int) -> int:
        return next(i for i, h in enumerate(self.paths[d].hops) if not h.link.up)

    def _count_partial(self, d: int, nbytes: int, upto: int, drop: bool = False) -> None:
        P = self.paths[d]
        for i in range(upto + (1 if drop else 0)):
            P.counters[i].wire_bytes += nbytes
            P.counters[i].packets += 1
        if drop:
            P.counters[upto].drops += 1

    # -- data ----------------------------------------------------------------------------------
    def transfer(self, t: float, d: int, nbytes: int, s: _Sender) -> float:
        """Carry nbytes from the sender of direction d starting at t; return delivery time."""
        p = self.p
        if t - s.last_active > s.rto.current:
            s.cwnd = min(s.cwnd, p.initial_window)  # slow-start restart after idle
        for c in self.paths[d].counters:
            c.payload_bytes += nbytes
        queue: deque[tuple[int, bool]] = deque((x, False) for x in segment_sizes(nbytes, self.mss))
        if s.cc is None:
            s.cc = Cubic(p)
        cc = s.cc
        delivered = t
        while queue:
            w = min(s.cwnd, self.maxwin, len(queue))
            segs = [queue.popleft() for _ in range(w)]
            sizes = [x for x, _ in segs]
            nretx = sum(1 for _, r in segs if r)
            r = self.window(t, d, sizes)
            if w == 1 and not segs[0][1] and s.cwnd < 2:
                # a lone in-order segment (cwnd = 1 after a timeout) waits for the
                # receiver's delayed-ACK timer
                r.first_ack += p.delack_timeout
                r.last_ack += p.delack_timeout
            where = self.lost_at(d, w)
            self.count_window(d, sizes, where, nretx, r.first_at_rcv)
            lost = np.flatnonzero(where >= 0)
            delivered = max(delivered, r.last_at_rcv)
            if lost.size < w:
                s.rto.reset()  # an ACK advancing SND.UNA re-arms the base RTO (ns-3 NewAck)
            if lost.size == 0:
                if nretx == 0:
                    s.rto.sample(r.last_ack - t)
                s.rto.reset()
                # ns-3 grows cwnd on every ACK, even while the receive window limits
                # the flight (no cwnd validation): byte-counting slow start, then Cubic.
                if s.cwnd < s.ssthresh:
                    s.cwnd += w
                else:
                    for _ in range(w):
                        s.cwnd = int(cc.increase(s.cwnd, s.ssthresh, 1, r.first_ack))
                s.free_at = t
                if queue:
                    t = r.first_ack
                continue
            # Lost segments go out again first; decide how the sender learns of them.
            for j in reversed(lost):
                queue.appendleft((sizes[j], True))
            i_last, i_first = int(lost[-1]), int(lost[0])
            fresh = sum(1 for _, rr in queue if not rr)
            # Dup ACKs come from the segments after the hole in this flight and from the
            # new data that the ACKs of the segments before it release (ACK clocking:
            # two per ACKed segment in slow start, one in congestion avoidance), plus
            # two limited-transmit segments (RFC 3042).
            released = i_last * (2 if s.cwnd < s.ssthresh else 1) + 2
            dupacks = (w - 1 - i_last) + min(fresh, released)
            lost_retx = any(segs[j][1] for j in lost)
            s.ssthresh = cc.ssthresh(s.cwnd)
            spacing = (r.last_at_rcv - r.first_at_rcv) / max(1, w - 1)
            if dupacks >= p.dupack_threshold and not lost_retx:
                s.cwnd = int(s.ssthresh)
                t = r.first_ack + spacing * min(w - 1, i_first + p.dupack_threshold)
            else:
                # A tail loss, or a lost retransmission (no RACK): the timer decides.
                cc.reset()
                s.cwnd = 1
                armed = t if i_first == 0 else r.first_ack + spacing * (i_first - 1)
                t = armed + s.rto.expire()
        s.free_at = t
        s.last_active = delivered
        return delivered


class FlowChannel:
    """A TCP connection over `path` at flow fidelity (see the module docstring)."""

    def __init__(
        self,
        env: simpy.Environment,
        path: tuple[Hop, ...],
        rng: np.random.Generator,
        params: TcpParams | None = None,
    ) -> None:
        if not path:
            raise ValueError("a channel needs a path of at least one hop")
        self.env = env
        self.path = tuple(path)
        self.params = params or TcpParams()
        self._m = _Model(self.path, rng, self.params)
        self._senders = tuple(
            _Sender(RtoEstimator(self.params), self.params.initial_window) for _ in (UP, DOWN)
        )
        self._pending: dict[simpy.Event, None] = {}
        self._broken: str | None = None
        self._closed = False
        self.connected = False

    # -- Channel protocol ----------------------------------------------------------------------
    def connect(self) -> simpy.Event:
        """Three-way handshake; ENETUNREACH if the first hop is down, ETIMEDOUT after
        `syn_tries` lost SYNs (3 s, 6 s, 12 s ... apart)."""
        ev = self.env.event()
        if self._broken is not None:
            ev.fail(ConnectionResetError(self._broken))
            return ev
        first = self.path[0].link
        if not first.up:
            ev.fail(OSError(errno.ENETUNREACH, f"network unreachable: {first.name} is down"))
            return ev
        self._pending[ev] = None
        self._syn(ev, 0)
        return ev

    def send(self, direction: int, nbytes: int) -> simpy.Event:
        """Carry nbytes; one timer at the computed delivery time."""
        env = self.env
        ev = env.event()
        if self._broken is not None:
            ev.fail(ConnectionResetError(self._broken))
            return ev
        if self._closed:
            ev.fail(BrokenPipeError("send on a closed channel"))
            return ev
        s = self._senders[direction]
        now = env.now
        start = max(now, s.free_at)
        t = self._m.transfer(start, direction, int(nbytes), s) if nbytes > 0 else start
        t = max(t, s.delivered_at)
        s.delivered_at = t
        self._pending[ev] = None
        self._at(t, lambda: self._finish(ev, nbytes))
        return ev

    def break_(self, cause: str) -> None:
        """Fail every pending event and all future ones with ConnectionResetError(cause)."""
        if self._broken is not None:
            return
        self._broken = cause
        pending, self._pending = list(self._pending), {}
        for ev in pending:
            if not ev.triggered:
                ev.fail(ConnectionResetError(cause))

    def close(self) -> None:
        """Orderly close: FIN/ACK both ways are counted; pending sends still complete."""
        if self._closed or self._broken is not None:
            self._closed = True
            return
        self._closed = True
        for d in (UP, DOWN):
            for c in self._m.paths[d].counters:
                c.wire_bytes += 2 * self.params.ack_bytes
                c.packets += 2

    # -- internals -------------------------------------------------------------------------------
    def _at(self, t: float, fn: Any) -> None:
        to = self.env.timeout(max(0.0, t - self.env.now))
        to.callbacks.append(lambda _e: fn())

    def _finish(self, ev: simpy.Event, value: Any) -> None:
        if self._pending.pop(ev, 0) is None and not ev.triggered:
            ev.succeed(value)

    def _syn(self, ev: simpy.Event, k: int) -> None:
        if ev.triggered or self._broken is not None:
            return
        p, now = self.params, self.env.now
        ok, t = self._m.handshake(now) if self.path[0].link.up else (False, now)
        if ok:
            rtt = t - now
            for s in self._senders:
                s.rto.sample(rtt)
                s.last_active = t
                s.free_at = t
            self._m.packet(t, UP, p.ack_bytes)  # the client's ACK, ahead of any data
            self._senders[UP].free_at = t
            self._at(t, lambda: self._connected(ev))
            return
        wait = p.syn_retry * 2.0**k
        if k + 1 >= p.syn_tries:
            exc = OSError(errno.ETIMEDOUT, f"connect timed out after {k + 1} SYNs")
            self._at(now + wait, lambda: self._fail(ev, exc))
        else:
            self._at(now + wait, lambda: self._syn(ev, k + 1))

    def _connected(self, ev: simpy.Event) -> None:
        self.connected = True
        self._finish(ev, None)

    def _fail(self, ev: simpy.Event, exc: BaseException) -> None:
        if self._pending.pop(ev, 0) is None and not ev.triggered:
            ev.fail(exc)


def lossless_transfer_time(
    size_bytes: float,
    bandwidth_bps: float,
    latency_s: float,
    mtu: int = 1500,
    handshake: bool = True,
    params: TcpParams | None = None,
) -> float:
    """Seconds from the sender's first byte (SYN if `handshake`) to the receiver's last.

    The exact formula of the module docstring, evaluated by the same code that
    FlowChannel runs, on a fresh loss-free link.
    """
    params = params or TcpParams()
    link = Link(
        "calc",
        "a",
        "b",
        (Transmitter("a>b", bandwidth_bps), Transmitter("b>a", bandwidth_bps)),
        latency_s,
        mtu=mtu,
    )
    m = _Model((Hop(link, 0),), np.random.default_rng(0), params)
    s = _Sender(RtoEstimator(params), params.initial_window)
    t = 0.0
    if handshake:
        _, t = m.handshake(0.0)
        m.packet(t, UP, params.ack_bytes)
    if size_bytes <= 0:
        return t
    return m.transfer(t, UP, int(size_bytes), s)
