"""Packet fidelity: TCP segment by segment over the hops of a path.

Why: the flow model is an approximation; this one follows the mechanism and is
what the flow model is checked against (and both against ns-3).

* Each packet is serialized at each hop's `Transmitter` in turn (shared media
  contend through the same object), waits in a drop-tail queue of
  `link.queue_limit` packets, propagates for `latency + jitter` (a hop never
  reorders: a packet leaves no earlier than the previous one of the same
  connection and direction), and may be lost by the hop's loss model or because
  the link is down. One SimPy timeout per packet per hop, with a callback: no
  processes.
* Sender: `tcp.TcpSender`, the one ns-3 3.44 sender state machine both fidelities
  run (SACK scoreboard, NextSeg, OPEN/DISORDER/RECOVERY/LOSS, PRR, Cubic,
  cwnd-limited growth, RTO with backoff; see its docstring). Here `_Side`
  subclasses it: its `transmit` hooks build one packet per segment and put it on
  the first hop, an arriving ACK calls `on_ack`, and the retransmission timer is
  a lazy `_Timer` whose deadline is the sender's own (`arm` re-arms it, expiry
  calls `on_rto`). cwnd restarts from min(cwnd, IW) after an idle period longer
  than the RTO.
* Receiver: cumulative ACK + SACK, delayed ACK every 2 segments or 200 ms (so a
  lone in-order segment after a timeout waits 200 ms), immediate ACK when a gap
  exists or was just filled and for the first data segment; the timestamp echoed
  is that of the last in-order segment at the ACK point (RFC 7323).
* Handshake: SYN / SYN-ACK / ACK; the SYN timer is 3 s, doubling, `syn_tries`
  tries, then ETIMEDOUT. The handshake's RTT sample is the SYN-ACK's timestamp echo:
  the time since the first SYN to reach the server was sent (ns-3 EstimateRtt), not
  since the last SYN sent, which on a round trip longer than the SYN timer is a
  spurious resend whose answer has not come back yet. Timers are lazy (one pending
  timeout, re-checked on expiry) so that re-arming on every ACK costs no event.
"""

from __future__ import annotations

import errno
import math
from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np
import simpy

from fedsim.net.link import Booking, Hop, LinkCounters, Transmitter, take_back, unsent_parts
from fedsim.net.model_spans import ModelSpans, model_unsent, unsent_payload
from fedsim.net.tcp import (
    Cubic,
    RtoEstimator,
    TcpParams,
    TcpSender,
    path_mtu,
    reverse_path,
    segment_sizes,
)

__all__ = ["PacketChannel"]

UP, DOWN = 0, 1
_SYN, _SYNACK, _HSACK, _DATA, _ACK = range(5)


class _Pkt:
    __slots__ = ("ack", "kind", "retx", "sack", "seq", "size", "ts", "wire")

    def __init__(self, kind: int, wire: int, seq: int = 0, size: int = 0) -> None:
        self.kind, self.wire, self.seq, self.size = kind, wire, seq, size
        self.retx = False
        """Sent again (a data segment or a SYN): each hop it crosses counts a
        retransmission with its packet."""
        self.ack = 0
        self.sack: frozenset[int] = frozenset()
        self.ts = 0.0


def _parts(pkt: _Pkt) -> tuple[int, int, int, int]:
    """A packet's wire bytes by class (`WIRE_PARTS`: data, header, control, retx)."""
    if pkt.kind != _DATA:
        return (0, 0, pkt.wire, 0)
    if pkt.retx:
        return (0, 0, 0, pkt.wire)
    return (pkt.size, pkt.wire - pkt.size, 0, 0)


def _queue(tx: Transmitter) -> deque[float]:
    """Departure times of the packets booked on a transmitter (its drop-tail queue)."""
    q = tx.__dict__.get("_pkt_queue")
    if q is None:
        q = tx.__dict__["_pkt_queue"] = deque()
    return q


class _Timer:
    """A lazily re-armed timer: moving the deadline later costs no event; moving it
    earlier schedules a new one (the stale event is recognised and ignored).

    The deadline and the armed flag live on `owner`: the timer itself, or for the
    retransmission timer the `TcpSender`, which re-arms it (`arm`) and then calls
    `ensure` here so that an event exists for the new deadline."""

    __slots__ = ("armed", "at", "deadline", "env", "fn", "gen", "owner")

    def __init__(self, env: simpy.Environment, fn: Any, owner: Any = None) -> None:
        self.env, self.fn = env, fn
        self.owner = self if owner is None else owner
        self.deadline = math.inf
        self.at = math.inf
        self.gen = 0
        self.armed = False

    def arm(self, delay: float) -> None:
        o = self.owner
        o.deadline = self.env.now + delay
        o.armed = True
        self.ensure()

    def ensure(self) -> None:
        """An event exists no later than the owner's deadline."""
        if self.owner.deadline < self.at - 1e-12:
            self._schedule()

    def stop(self) -> None:
        self.owner.armed = False

    def _schedule(self) -> None:
        self.gen += 1
        self.at = self.owner.deadline
        gen = self.gen
        to = self.env.timeout(max(0.0, self.at - self.env.now))
        to.callbacks.append(lambda _e: self._fire(gen))

    def _fire(self, gen: int) -> None:
        if gen != self.gen:
            return
        self.at = math.inf
        o = self.owner
        if not o.armed:
            return
        if self.env.now < o.deadline - 1e-12:
            self._schedule()
            return
        o.armed = False
        self.fn()


class _Side(TcpSender):
    """One direction: the shared `TcpSender` (transmitting segment by segment onto the
    path's hops) plus the receiver state of the same direction."""

    def __init__(self, ch: PacketChannel, d: int) -> None:
        p = ch.params
        super().__init__(p, ch.maxwin, RtoEstimator(p), Cubic(p), float(p.initial_window))
        self.ch = ch
        self.d = d
        self.wire_extra = p.header_bytes + p.framing_bytes
        self.sizes: list[int] = []
        self.last_send = 0.0
        self.timer = _Timer(ch.env, lambda: ch._on_rto(self), owner=self)
        self.msgs: deque[tuple[int, simpy.Event, int]] = deque()
        self.heads: deque[tuple[int, int, simpy.Event]] = deque()
        """(first segment, end, event) of messages whose first segment is awaited."""
        # receiver
        self.rcv_nxt = 0
        self.ooo: set[int] = set()
        self.unacked = 0
        self.quick = True
        self.ts_recent = -1.0
        self.ts_echo = 0.0
        self.high_ack_sent = 0
        self.delack = _Timer(ch.env, lambda: ch._send_ack(self))

    # -- TcpSender hooks -------------------------------------------------------------------------
    def arm(self) -> None:
        TcpSender.arm(self)
        self.timer.ensure()  # a SimPy event no later than the new deadline

    def transmit(self, q: int, retx: bool) -> None:
        size = self.sizes[q]
        pkt = _Pkt(_DATA, size + self.wire_extra, q, size)
        pkt.ts = self.now
        ch = self.ch
        pkt.retx = retx
        self.last_send = self.now
        ch._emit(self.d, pkt)

    def transmit_new(self, first: int, k: int) -> None:
        for q in range(first, first + k):
            self.transmit(q, False)


class PacketChannel:
    """A TCP connection over `path`, simulated packet by packet (see module docstring)."""

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
        self.rng = rng
        self.params = params or TcpParams()
        self.path = tuple(path)
        self.paths = (self.path, reverse_path(self.path))
        self.mss = self.params.mss(path_mtu(self.path))
        self.maxwin = self.params.max_window(path_mtu(self.path))
        self.sides = (_Side(self, UP), _Side(self, DOWN))
        self._last_arrival = [[0.0] * len(self.path) for _ in (UP, DOWN)]
        self._broken: str | None = None
        self._closed = False
        self._on_air: deque[tuple[float, Booking]] = deque()
        """(end of its airtime, booking) of frames booked on a transmitter that may not
        have left yet: `break_` takes back what lay after the cut, bytes and airtime."""
        self._connect_ev: simpy.Event | None = None
        self._heads: dict[simpy.Event, tuple[simpy.Event, int]] = {}
        self._syn_tries = 0
        self._syn_echo: float | None = None
        """The timestamp the server's SYN-ACKs echo: that of the first SYN to reach it
        (ns-3 and Linux do not update it from a SYN sent again, which is out of
        sequence once the first one has been taken)."""
        self._syn_timer = _Timer(env, self._on_syn_timeout)
        self.connected = False
        self._spans = (ModelSpans(), ModelSpans())
        """Per direction, where the stream's model bytes lie: a cut takes back the model
        among what it keeps off a hop (`fedsim.net.model_spans`)."""
        self._top = ([0] * len(self.path), [0] * len(self.path))
        """Per direction and hop: one past the highest segment put on that hop's wire (the
        stream bytes past it never went out there)."""

    # -- Channel protocol ----------------------------------------------------------------------
    def connect(self) -> simpy.Event:
        """Three-way handshake; ENETUNREACH if the first hop is down, ETIMEDOUT after
        `syn_tries` lost SYNs."""
        ev = self.env.event()
        if self._broken is not None:
            ev.fail(ConnectionResetError(self._broken))
            return ev
        first = self.path[0].link
        if not first.up:
            ev.fail(OSError(errno.ENETUNREACH, f"network unreachable: {first.name} is down"))
            return ev
        self._connect_ev = ev
        self._send_syn()
        return ev

    def send(self, direction: int, nbytes: int) -> simpy.Event:
        """Queue nbytes as segments; the event succeeds when the receiver has them all."""
        ev = self.env.event()
        if self._broken is not None:
            ev.fail(ConnectionResetError(self._broken))
            return ev
        if self._closed:
            ev.fail(BrokenPipeError("send on a closed channel"))
            return ev
        s = self.sides[direction]
        nbytes = int(nbytes)
        self._spans[direction].sent += nbytes
        for h in self.paths[direction]:
            h.link.counters[h.direction].payload_bytes += nbytes
        if s.una == s.nxt and self.env.now - s.last_send > s.rto.current:
            s.cwnd = min(s.cwnd, float(self.params.initial_window))  # restart after idle
        first = len(s.sizes)
        s.sizes.extend(segment_sizes(nbytes, self.mss))
        end = s.n = len(s.sizes)
        if end <= s.rcv_nxt:
            ev.succeed(nbytes)
            return ev
        s.msgs.append((end, ev, nbytes))
        if end - first > 1 and first >= s.rcv_nxt:
            head = self.env.event()
            self._heads[ev] = (head, s.sizes[first])
            s.heads.append((first, end, head))
        if self.connected:
            s.now = self.env.now
            s.try_send()
        return ev

    def count_model(self, direction: int, nbytes: int) -> None:
        """Of the payload just sent in `direction`, the last `nbytes` are model (the byte
        ledger): counted on every hop now, taken back where a cut keeps them off."""
        self._spans[direction].mark(nbytes)
        for h in self.paths[direction]:
            h.link.counters[h.direction].model_bytes += nbytes

    def break_(self, cause: str) -> None:
        """Fail every pending and future event with ConnectionResetError(cause)."""
        if self._broken is not None:
            return
        self._broken = cause
        self._take_back(self.env.now)
        evs = [ev for s in self.sides for _, ev, _ in s.msgs]
        if self._connect_ev is not None:
            evs.insert(0, self._connect_ev)
        self._heads.clear()
        for s in self.sides:
            s.msgs.clear()
            s.heads.clear()
            s.timer.stop()
            s.delack.stop()
        self._syn_timer.stop()
        for ev in evs:
            if not ev.triggered:
                ev.fail(ConnectionResetError(cause))

    def close(self) -> None:
        """Orderly close: FIN/ACK counted each way; pending sends still complete.
        A channel that never connected (or was broken) sends no FIN, and a connect still
        under way sends no further SYN (a socket closed in SYN_SENT)."""
        if self._connect_ev is not None and not self._connect_ev.triggered:
            self._syn_timer.stop()  # the application gave up on this connect
            self._connect_ev = None
        if not self._closed and self._broken is None and self.connected:
            now = self.env.now
            wire = 2 * self.params.ack_bytes
            for d in (UP, DOWN):  # each side's FIN and its ACK of the other's
                for h in self.paths[d]:
                    c = h.link.counters[h.direction]
                    start, end = h.link.tx[h.direction].reserve(now, wire * 8.0, 2)
                    if start > now and c.wake is not None:  # a device's radio waits, awake
                        c.wake(now, end, wire, 2)
                    c.wire_bytes += wire
                    c.control_bytes += wire
                    c.packets += 2
                    if end > now:  # as a frame's: a cut takes back what had not gone out
                        self._on_air.append((end, (c, start, end, wire, 2, 0, 0, wire, 0, 0, 0)))
        self._closed = True

    @property
    def finished(self) -> bool:
        """Broken, or closed with nothing pending and none of its frames (FIN/ACKs,
        the last ACKs) still booked ahead of the clock."""
        if self._broken is not None:
            return True
        pending = self._connect_ev is not None and not self._connect_ev.triggered
        if not self._closed or pending or any(s.msgs for s in self.sides):
            return False
        now = self.env.now
        return all(end <= now for end, _ in self._on_air)

    def booked_after(self, t: float) -> Iterator[tuple[LinkCounters, int, int]]:
        """(counters, wire bytes, packets) of frames booked on a transmitter for after
        `t` (the part of each frame's serialization past `t`; a frame not started by
        then counts as a packet): what a cut at `t` takes back."""
        for c, w, n, _parts, _lost in self.booked_parts_after(t):
            yield c, w, n

    def booked_parts_after(
        self, t: float
    ) -> Iterator[tuple[LinkCounters, int, int, list[int], int]]:
        """As `booked_after`, with the wire bytes split by class (`WIRE_PARTS`, summing
        to the wire bytes) and the lost bytes among them."""
        return unsent_parts((b for end, b in self._on_air if end > t), t)

    def _take_back(self, now: float) -> None:
        """The path broke at `now`: frames booked to go out after it never did, nor their
        airtime, nor do they wait in their transmitter's queue (payload stays: it counts
        what the application handed to the network); nor do the model bytes among the
        stream bytes that never went out on a hop (`fedsim.net.model_spans`)."""
        cut = [(end, b) for end, b in self._on_air if end > now]
        if self._carries_model():
            for c, model in list(self._model_after(now, [b for _, b in cut])):
                c.model_bytes -= model
        take_back((b for _, b in cut), now)
        for end, b in cut:
            tx = b[0].transmitter
            q = _queue(tx) if tx is not None else ()
            if end in q:
                q.remove(end)
        self._on_air.clear()

    def model_booked_after(self, t: float) -> Iterator[tuple[LinkCounters, int]]:
        """(counters, model bytes) counted on a hop that had not gone out there by `t`:
        of segments never put on its wire, or of its frames still to leave."""
        if not self._carries_model():
            return iter(())  # (asked of every live channel at every round's end)
        return self._model_after(t, [b for end, b in self._on_air if end > t])

    def _carries_model(self) -> bool:
        return bool(self._spans[0].total or self._spans[1].total)

    def _model_after(self, t: float, cut: list[Booking]) -> Iterator[tuple[LinkCounters, int]]:
        """Per hop, the stream bytes never put on its wire (past its highest segment)
        and those of its frames not sent by `t`: the model among them."""
        left = unsent_payload(cut, t)
        for d, side in enumerate(self.sides):
            cs = [h.link.counters[h.direction] for h in self.paths[d]]
            unsent_by_hop = [
                sum(side.sizes[top:]) + left.get(id(c), 0)
                for c, top in zip(cs, self._top[d], strict=True)
            ]
            yield from model_unsent(self._spans[d], cs, unsent_by_hop)

    # -- the wire --------------------------------------------------------------------------------
    def _emit(self, d: int, pkt: _Pkt) -> None:
        self._hop(d, 0, pkt)

    def _hop(self, d: int, i: int, pkt: _Pkt) -> None:
        if self._broken is not None:
            return
        hop = self.paths[d][i]
        link = hop.link
        c = link.counters[hop.direction]
        if not link.up:
            c.refused += 1
            return
        tx = link.tx[hop.direction]
        now = self.env.now
        q = _queue(tx)
        while q and q[0] <= now:
            q.popleft()
        if len(q) > link.queue_limit:
            c.refused += 1
            return
        start, end = tx.reserve(now, pkt.wire * 8.0)
        q.append(end)
        if start > now and c.wake is not None:  # a device's radio waits for the medium, awake
            c.wake(now, end, pkt.wire, 1)
        c.wire_bytes += pkt.wire
        if pkt.kind != _DATA:
            c.control_bytes += pkt.wire
        elif pkt.retx:
            c.retx_bytes += pkt.wire
        else:
            c.data_bytes += pkt.size
            c.header_bytes += pkt.wire - pkt.size
        if pkt.kind == _DATA and pkt.seq >= self._top[d][i]:
            self._top[d][i] = pkt.seq + 1
        c.packets += 1
        c.retransmissions += pkt.retx
        lost = link.loss[hop.direction].drop(self.rng)
        air = self._on_air
        while air and air[0][0] <= now:
            air.popleft()
        if end > now:
            air.append(
                (end, (c, start, end, pkt.wire, 1, *_parts(pkt), pkt.wire if lost else 0, pkt.retx))
            )
        if lost:
            c.drops += 1
            c.lost_bytes += pkt.wire
            return
        arrive = (
            end + link.latency_s + (0.0 if link.jitter is None else link.jitter.sample(self.rng))
        )
        last = self._last_arrival[d]
        arrive = max(arrive, last[i])
        last[i] = arrive
        nxt = i + 1
        to = self.env.timeout(arrive - now)
        if nxt < len(self.path):
            to.callbacks.append(lambda _e: self._hop(d, nxt, pkt))
        else:
            to.callbacks.append(lambda _e: self._arrive(d, pkt))

    def _arrive(self, d: int, pkt: _Pkt) -> None:
        if self._broken is not None:
            return
        k = pkt.kind
        if k == _DATA:
            self._on_data(self.sides[d], pkt)
        elif k == _ACK:
            self._on_ack(self.sides[1 - d], pkt)
        elif k == _SYN:
            if self._syn_echo is None:  # the SYN that opens the server's side of the connection
                self._syn_echo = pkt.ts
            synack = _Pkt(_SYNACK, self.params.syn_bytes)
            synack.ts = self._syn_echo
            self._emit(DOWN, synack)
        elif k == _SYNACK:
            self._on_synack(pkt)

    # -- handshake ---------------------------------------------------------------------------------
    def _send_syn(self) -> None:
        self._syn_timer.arm(self.params.syn_retry * 2.0**self._syn_tries)
        self._syn_tries += 1
        if self.path[0].link.up:
            syn = _Pkt(_SYN, self.params.syn_bytes)
            syn.ts = self.env.now  # its timestamp option, echoed by the SYN-ACK
            syn.retx = self._syn_tries > 1  # sent again: lost, or its SYN-ACK is on the way
            self._emit(UP, syn)

    def _on_syn_timeout(self) -> None:
        ev = self._connect_ev
        if ev is None or ev.triggered or self._broken is not None:
            return
        if self._syn_tries >= self.params.syn_tries:
            self._connect_ev = None
            ev.fail(OSError(errno.ETIMEDOUT, f"connect timed out after {self._syn_tries} SYNs"))
            return
        self._send_syn()

    def _on_synack(self, synack: _Pkt) -> None:
        ev = self._connect_ev
        if ev is None or ev.triggered:
            return
        self._syn_timer.stop()
        rtt = self.env.now - synack.ts  # from the SYN it answers, not the last one sent
        for s in self.sides:
            s.rto.sample(rtt)
            s.last_send = self.env.now
        self._emit(UP, _Pkt(_HSACK, self.params.ack_bytes))
        self._connect_ev = None
        self.connected = True
        ev.succeed(None)
        for s in self.sides:
            s.now = self.env.now
            s.try_send()

    # -- sender: the shared TcpSender, driven by packet arrivals and the timer -----------------
    def _on_ack(self, s: _Side, pkt: _Pkt) -> None:
        s.now = self.env.now
        s.on_ack(pkt.ack, pkt.sack, pkt.ts)

    def _on_rto(self, s: _Side) -> None:
        if self._broken is not None:
            return
        s.now = self.env.now
        s.on_rto()

    # -- receiver (ns-3 ReceivedData) --------------------------------------------------------------
    def _on_data(self, s: _Side, pkt: _Pkt) -> None:
        seq = pkt.seq
        if pkt.ts >= s.ts_recent:
            s.ts_recent = pkt.ts
            if seq == s.rcv_nxt and seq <= s.high_ack_sent:
                s.ts_echo = pkt.ts
        if seq < s.rcv_nxt or seq in s.ooo:
            self._send_ack(s)  # duplicate: ACK at once
            return
        before = s.rcv_nxt
        if seq == s.rcv_nxt:
            s.rcv_nxt += 1
            while s.rcv_nxt in s.ooo:
                s.ooo.discard(s.rcv_nxt)
                s.rcv_nxt += 1
            self._deliver(s)
        else:
            s.ooo.add(seq)
        if s.ooo or s.rcv_nxt > before + 1:
            self._send_ack(s)  # a gap exists, or one was just filled
            return
        s.unacked += 1
        if s.quick or s.unacked >= self.params.delack_segments:
            s.quick = False
            self._send_ack(s)
        elif not s.delack.armed:
            s.delack.arm(self.params.delack_timeout)

    def _send_ack(self, s: _Side) -> None:
        if self._broken is not None:
            return
        s.delack.stop()
        s.unacked = 0
        s.quick = False
        s.high_ack_sent = max(s.high_ack_sent, s.rcv_nxt)
        a = _Pkt(_ACK, self.params.ack_bytes)
        a.ack = s.rcv_nxt
        a.sack = frozenset(s.ooo)
        a.ts = s.ts_echo
        self._emit(1 - s.d, a)

    def head(self, event: simpy.Event) -> tuple[simpy.Event, int] | None:
        """See `Channel.head`: the first segment of a longer message, in order."""
        return self._heads.get(event)

    def _deliver(self, s: _Side) -> None:
        while s.heads and s.heads[0][0] < s.rcv_nxt:
            _, end, head = s.heads.popleft()
            if end > s.rcv_nxt:  # the rest is still on its way
                head.succeed()
        while s.msgs and s.msgs[0][0] <= s.rcv_nxt:
            _, ev, n = s.msgs.popleft()
            self._heads.pop(ev, None)
            if not ev.triggered:
                ev.succeed(n)
