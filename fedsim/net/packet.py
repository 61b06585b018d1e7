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
* Sender: ns-3 3.44's TcpSocketBase/TcpTxBuffer mechanism. Scoreboard flags per
  segment (SACKed, lost, retransmitted); pipe = sent - SACKed - lost + retransmitted;
  a hole with 3 SACKed segments above it is marked lost and retransmitted once
  (NextSeg rule 1; rule 3 is not used, as ns-3's retransmission counts show);
  congestion states OPEN/DISORDER/RECOVERY/LOSS; fast recovery with PRR;
  Cubic (`tcp.Cubic`: byte-counting slow start, ssthresh = 0.7 cwnd, cubic growth
  with the TCP-friendly floor, count clamp 20 after a timeout); cwnd is not
  capped by the receive window (no cwnd validation). A lost retransmission is
  found by the timer only. Timer: started when data is sent and none is running,
  restarted by every ACK that advances SND.UNA (in recovery only by the first
  partial ACK); a timeout doubles it (60 s cap), the next advancing ACK resets
  it. On timeout: every un-SACKed segment is lost, ssthresh = max(0.7 cwnd, 2),
  cwnd = 1, LOSS state until SND.UNA passes the recovery point. RTT samples from
  the timestamp echo, taken only for data first sent since the last timeout.
* Receiver: cumulative ACK + SACK, delayed ACK every 2 segments or 200 ms (so a
  lone in-order segment after a timeout waits 200 ms), immediate ACK when a gap
  exists or was just filled and for the first data segment; the timestamp echoed
  is that of the last in-order segment at the ACK point (RFC 7323).
* Handshake: SYN / SYN-ACK / ACK; the SYN timer is 3 s, doubling, `syn_tries`
  tries, then ETIMEDOUT. Timers are lazy (one pending timeout, re-checked on
  expiry) so that re-arming on every ACK costs no event.
"""

from __future__ import annotations

import errno
import math
from collections import deque
from typing import Any

import numpy as np
import simpy

from fedsim.net.link import Hop, Transmitter
from fedsim.net.tcp import Cubic, RtoEstimator, TcpParams, path_mtu, reverse_path, segment_sizes

__all__ = ["PacketChannel"]

UP, DOWN = 0, 1
_SYN, _SYNACK, _HSACK, _DATA, _ACK = range(5)


class _Pkt:
    __slots__ = ("ack", "kind", "retx", "sack", "seq", "size", "ts", "wire")

    def __init__(self, kind: int, wire: int, seq: int = 0, size: int = 0) -> None:
        self.kind, self.wire, self.seq, self.size = kind, wire, seq, size
        self.retx = False
        self.ack = 0
        self.sack: frozenset[int] = frozenset()
        self.ts = 0.0


def _queue(tx: Transmitter) -> deque[float]:
    """Departure times of the packets booked on a transmitter (its drop-tail queue)."""
    q = tx.__dict__.get("_pkt_queue")
    if q is None:
        q = tx.__dict__["_pkt_queue"] = deque()
    return q


class _Timer:
    """A lazily re-armed timer: moving the deadline later costs no event; moving it
    earlier schedules a new one (the stale event is recognised and ignored)."""

    __slots__ = ("armed", "at", "deadline", "env", "fn", "gen")

    def __init__(self, env: simpy.Environment, fn: Any) -> None:
        self.env, self.fn = env, fn
        self.deadline = math.inf
        self.at = math.inf
        self.gen = 0
        self.armed = False

    def arm(self, delay: float) -> None:
        self.deadline = self.env.now + delay
        self.armed = True
        if self.deadline < self.at - 1e-12:
            self._schedule()

    def stop(self) -> None:
        self.armed = False

    def _schedule(self) -> None:
        self.gen += 1
        self.at = self.deadline
        gen = self.gen
        to = self.env.timeout(max(0.0, self.deadline - self.env.now))
        to.callbacks.append(lambda _e: self._fire(gen))

    def _fire(self, gen: int) -> None:
        if gen != self.gen:
            return
        self.at = math.inf
        if not self.armed:
            return
        if self.env.now < self.deadline - 1e-12:
            self._schedule()
            return
        self.armed = False
        self.fn()


_OPEN, _DISORDER, _RECOVERY, _LOSS = range(4)


class _Side:
    """Sender state of one direction plus the matching receiver state."""

    def __init__(self, ch: PacketChannel, d: int) -> None:
        p = ch.params
        self.d = d
        self.rto = RtoEstimator(p)
        self.cc = Cubic(p)
        self.cwnd = float(p.initial_window)
        self.ssthresh = math.inf
        self.sizes: list[int] = []
        self.una = 0
        self.nxt = 0
        # scoreboard (ns-3 TcpTxBuffer flags), all within [una, nxt)
        self.sacked: set[int] = set()
        self.lost: set[int] = set()
        self.retrans: set[int] = set()
        self.state = _OPEN
        self.dupacks = 0
        self.recover = 0
        self.recover_active = False
        self.first_partial = True
        self.prr_delivered = 0
        self.prr_out = 0
        self.prr_flight = 1
        self.cwnd_limited = False
        """ns-3 m_isCwndLimited: cwnd - pipe < 1 segment after the last data send."""
        self.history: deque[int] = deque()
        """Segments sent once and not yet ACKed since the last timeout (RTT samples)."""
        self.last_send = 0.0
        self.timer = _Timer(ch.env, lambda: ch._on_rto(self))
        self.msgs: deque[tuple[int, simpy.Event, int]] = deque()
        self.sent_once: set[int] = set()
        # receiver
        self.rcv_nxt = 0
        self.ooo: set[int] = set()
        self.unacked = 0
        self.quick = True
        self.ts_recent = -1.0
        self.ts_echo = 0.0
        self.high_ack_sent = 0
        self.delack = _Timer(ch.env, lambda: ch._send_ack(self))


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
        self._connect_ev: simpy.Event | None = None
        self._syn_tries = 0
        self._syn_sent_at = 0.0
        self._syn_timer = _Timer(env, self._on_syn_timeout)
        self.connected = False

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
        for h in self.paths[direction]:
            h.link.counters[h.direction].payload_bytes += nbytes
        if s.una == s.nxt and self.env.now - s.last_send > s.rto.current:
            s.cwnd = min(s.cwnd, float(self.params.initial_window))  # restart after idle
        s.sizes.extend(segment_sizes(nbytes, self.mss))
        end = len(s.sizes)
        if end <= s.rcv_nxt:
            ev.succeed(nbytes)
            return ev
        s.msgs.append((end, ev, nbytes))
        self._try_send(s)
        return ev

    def break_(self, cause: str) -> None:
        """Fail every pending and future event with ConnectionResetError(cause)."""
        if self._broken is not None:
            return
        self._broken = cause
        evs = [ev for s in self.sides for _, ev, _ in s.msgs]
        if self._connect_ev is not None:
            evs.insert(0, self._connect_ev)
        for s in self.sides:
            s.msgs.clear()
            s.timer.stop()
            s.delack.stop()
        self._syn_timer.stop()
        for ev in evs:
            if not ev.triggered:
                ev.fail(ConnectionResetError(cause))

    def close(self) -> None:
        """Orderly close: FIN/ACK counted each way; pending sends still complete."""
        if not self._closed and self._broken is None:
            for d in (UP, DOWN):
                for h in self.paths[d]:
                    c = h.link.counters[h.direction]
                    c.wire_bytes += 2 * self.params.ack_bytes
                    c.packets += 2
        self._closed = True

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
            c.drops += 1
            return
        tx = link.tx[hop.direction]
        now = self.env.now
        q = _queue(tx)
        while q and q[0] <= now:
            q.popleft()
        if len(q) > link.queue_limit:
            c.drops += 1
            return
        _, end = tx.reserve(now, pkt.wire * 8.0)
        q.append(end)
        c.wire_bytes += pkt.wire
        c.packets += 1
        if link.loss[hop.direction].drop(self.rng):
            c.drops += 1
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
            self._emit(DOWN, _Pkt(_SYNACK, self.params.syn_bytes))
        elif k == _SYNACK:
            self._on_synack()

    # -- handshake ---------------------------------------------------------------------------------
    def _send_syn(self) -> None:
        self._syn_sent_at = self.env.now
        self._syn_timer.arm(self.params.syn_retry * 2.0**self._syn_tries)
        self._syn_tries += 1
        if self.path[0].link.up:
            self._emit(UP, _Pkt(_SYN, self.params.syn_bytes))

    def _on_syn_timeout(self) -> None:
        ev = self._connect_ev
        if ev is None or ev.triggered or self._broken is not None:
            return
        if self._syn_tries >= self.params.syn_tries:
            self._connect_ev = None
            ev.fail(OSError(errno.ETIMEDOUT, f"connect timed out after {self._syn_tries} SYNs"))
            return
        self._send_syn()

    def _on_synack(self) -> None:
        ev = self._connect_ev
        if ev is None or ev.triggered:
            return
        self._syn_timer.stop()
        rtt = self.env.now - self._syn_sent_at
        for s in self.sides:
            s.rto.sample(rtt)
            s.last_send = self.env.now
        self._emit(UP, _Pkt(_HSACK, self.params.ack_bytes))
        self._connect_ev = None
        self.connected = True
        ev.succeed(None)
        for s in self.sides:
            self._try_send(s)

    # -- sender (ns-3 TcpSocketBase + TcpTxBuffer + TcpCubic + PRR) -----------------------------
    def _pipe(self, s: _Side) -> int:
        """RFC 6675 pipe as ns-3 counts it: sent - SACKed - lost + retransmitted."""
        return (s.nxt - s.una) - len(s.sacked) - len(s.lost) + len(s.retrans)

    def _next_seg(self, s: _Side, recovery: bool = False) -> int | None:
        """NextSeg() as ns-3.44's TcpTxBuffer runs it (RFC 6675 with ns-3 #805).

        Once a SACK has been seen, rules 1 and 3 consider only segments below the
        highest SACKed one (criterion 1.b). Rule 1: the first lost, not yet
        retransmitted segment. Rule 2: new data within the receive window. Rule 3
        (only in fast recovery): the first segment below the highest SACK that is
        neither SACKed, lost nor retransmitted."""
        high = max(s.sacked) if s.sacked else None
        cand = [q for q in s.lost if q not in s.retrans and (high is None or q < high)]
        if cand:
            return min(cand)
        if s.nxt < len(s.sizes) and s.nxt - s.una < self.maxwin:
            return s.nxt
        if recovery:
            top = s.nxt if high is None else high
            for q in range(s.una, top):
                if q not in s.sacked and q not in s.lost and q not in s.retrans:
                    return q
        return None

    def _try_send(self, s: _Side) -> None:
        if not self.connected or self._broken is not None:
            return
        while s.cwnd - self._pipe(s) >= 1.0:
            q = self._next_seg(s, s.state == _RECOVERY)
            if q is None:
                break
            self._send_seg(s, q)

    def _send_seg(self, s: _Side, seq: int) -> None:
        size = s.sizes[seq]
        pkt = _Pkt(_DATA, size + self.params.header_bytes + self.params.framing_bytes, seq, size)
        pkt.ts = self.env.now
        if seq < s.nxt:
            pkt.retx = True
            s.retrans.add(seq)
            h = self.paths[s.d][0]
            h.link.counters[h.direction].retransmissions += 1
        else:
            pkt.retx = seq in s.sent_once  # data re-sent after an idle restart
            s.history.append(seq)
            s.nxt = seq + 1
        if s.state == _RECOVERY:
            s.prr_out += 1
        s.sent_once.add(seq)
        s.last_send = self.env.now
        if not s.timer.armed:
            s.timer.arm(s.rto.current)
        # ns-3 (>= 3.42) SendDataPacket: the window is "cwnd limited" only if less than
        # one segment of it is left unused; Cubic grows cwnd only while it is.
        s.cwnd_limited = s.cwnd < self._pipe(s) + 1
        self._emit(s.d, pkt)

    def _new_ack(self, s: _Side, reset_rto: bool) -> None:
        if reset_rto:
            s.rto.reset()
            s.timer.arm(s.rto.current)
        if s.una >= len(s.sizes):
            s.timer.stop()

    def _increase(self, s: _Side, acked: int) -> None:
        # ns-3 >= 3.42 (issue #966): TcpCubic::IncreaseWindow returns at once unless the
        # last send found the flight cwnd-limited, so cwnd stops growing while the
        # receive window (or the application) limits the flight.
        if s.cwnd_limited:
            s.cwnd = s.cc.increase(s.cwnd, s.ssthresh, acked, self.env.now)

    def _prr(self, s: _Side, delivered: int, dupack: bool, safe: bool) -> None:
        """Proportional rate reduction as ns-3.44's TcpPrrRecovery runs it (RFC 6937bis-08,
        ns-3 !2059 in 3.43), in segments.

        `delivered` is SACK-derived (newly SACKed + newly cumulatively ACKed). On a
        duplicate ACK (and on entering recovery) ns-3 adds one more segment while
        prr_delivered < RecoverFS, even with SACK on. The +1 of PRR-SSRB applies only
        when the ACK cumulatively covers a retransmitted segment (m_isRetransDataAcked)."""
        if dupack and s.prr_delivered < s.prr_flight:
            delivered += 1
        if delivered == 0:
            return
        s.prr_delivered += delivered
        pipe = self._pipe(s)
        if pipe > s.ssthresh:
            sndcnt = math.ceil(s.prr_delivered * s.ssthresh / s.prr_flight) - s.prr_out
        else:
            limit = max(s.prr_delivered - s.prr_out, delivered) + (1 if safe else 0)
            sndcnt = min(limit, int(s.ssthresh - pipe))
        sndcnt = max(sndcnt, 0 if s.prr_out > 0 else 1)
        s.cwnd = float(pipe + sndcnt)

    def _enter_recovery(self, s: _Side, delivered: int) -> None:
        s.lost.add(s.una)  # the head is presumed lost (MarkHeadAsLost)
        s.recover = s.nxt
        s.recover_active = True
        s.state = _RECOVERY
        s.ssthresh = s.cc.ssthresh(s.cwnd)
        s.prr_out = 0
        s.prr_delivered = 0
        s.prr_flight = max(1, self._pipe(s))
        self._prr(s, delivered, True, False)
        if s.una not in s.retrans:  # fast retransmit, outside the window
            self._send_seg(s, s.una)

    def _update_lost(self, s: _Side) -> None:
        """A hole with `dupack_threshold` SACKed segments above it is lost."""
        dup = self.params.dupack_threshold
        if len(s.sacked) < dup:
            return
        count = 0
        for q in range(max(s.sacked), s.una - 1, -1):
            if q in s.sacked:
                count += 1
            elif count >= dup and q not in s.lost:
                s.lost.add(q)
        if count >= dup:
            s.lost.add(s.una)

    def _on_ack(self, s: _Side, pkt: _Pkt) -> None:
        ack = pkt.ack
        # RTT sample from the timestamp echo (ns-3 EstimateRtt), before anything else.
        if s.history and ack >= s.history[0] + 1:
            s.rto.sample(max(1e-6, self.env.now - pkt.ts))
            while s.history and s.history[0] + 1 <= ack:
                s.history.popleft()
            s.cc.rtt(s.rto.srtt)
        new_sack = [q for q in pkt.sack if s.una <= q < s.nxt and q not in s.sacked]
        for q in new_sack:
            # ns-3 TcpTxBuffer::Update clears the lost flag, not the retransmitted one:
            # a SACKed retransmission still counts in pipe until it is cumulatively ACKed.
            s.sacked.add(q)
            s.lost.discard(q)
        if new_sack:
            self._update_lost(s)
        if ack < s.una:
            return
        old = s.una
        # ns-3 m_isRetransDataAcked: a partial ACK in recovery covers an un-SACKed
        # retransmitted segment (PRR's "safe ACK").
        safe = (
            s.state == _RECOVERY
            and old < ack < s.recover
            and any(q in s.retrans and q not in s.sacked for q in range(old, ack))
        )
        delivered = len(new_sack)
        for q in range(old, ack):
            if q not in s.sacked:
                delivered += 1
            s.sacked.discard(q)
            s.lost.discard(q)
            s.retrans.discard(q)
        s.una = ack
        dup = bool(new_sack)
        if dup and s.state != _LOSS:
            if s.state != _RECOVERY:
                s.dupacks += 1
            if s.state == _OPEN:
                s.state = _DISORDER
            if s.state == _RECOVERY:
                self._prr(s, delivered, True, safe)
            elif s.state == _DISORDER and (
                (
                    s.dupacks == self.params.dupack_threshold
                    and (ack >= s.recover or not s.recover_active)
                )
                or s.una in s.lost
            ):
                self._enter_recovery(s, delivered)
        if ack > old:
            acked = delivered
            if not dup:
                s.dupacks = 0
            if ack < s.recover and s.state == _RECOVERY:
                if acked >= 1:
                    self._prr(s, delivered, False, safe)
                if ack not in s.retrans and ack < s.nxt:
                    q = self._next_seg(s)
                    self._send_seg(s, ack if q is None else q)
                self._new_ack(s, s.first_partial)
                s.first_partial = False
            elif ack < s.recover and s.state == _LOSS:
                self._increase(s, acked)
                self._new_ack(s, True)
            else:
                exited = False
                if s.state == _DISORDER and not dup:
                    s.state = _OPEN
                elif s.state == _RECOVERY:
                    s.first_partial = True
                    acked = ack - old
                    s.state = _OPEN
                    s.dupacks = 0
                    exited = True
                elif s.state == _LOSS:
                    s.first_partial = True
                    acked = max(0, ack - s.recover)
                    s.state = _OPEN
                if ack >= s.recover:
                    s.recover_active = False
                if exited:
                    self._new_ack(s, True)
                    s.cwnd = s.ssthresh
                if s.state == _OPEN:
                    self._increase(s, acked)
                    self._new_ack(s, True)
        self._try_send(s)

    def _on_rto(self, s: _Side) -> None:
        if self._broken is not None or s.una >= s.nxt:
            return
        s.dupacks = 0
        s.retrans.clear()
        s.lost = {q for q in range(s.una, s.nxt) if q not in s.sacked}
        s.recover = s.nxt
        s.recover_active = True
        s.rto.expire()
        s.history.clear()
        s.ssthresh = s.cc.ssthresh(s.cwnd)
        s.cc.reset()
        s.state = _LOSS
        s.cwnd = 1.0
        self._try_send(s)

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

    def _deliver(self, s: _Side) -> None:
        while s.msgs and s.msgs[0][0] <= s.rcv_nxt:
            _, ev, n = s.msgs.popleft()
            if not ev.triggered:
                ev.succeed(n)
