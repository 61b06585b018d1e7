"""Flow fidelity: one TCP connection as a transfer-time model, one SimPy event per send.

Why: thousands of devices exchanging megabyte models cannot afford an event per
segment. This model computes a send's delivery time up front, at the granularity
of a *flight* (the segments one round of ACKs releases), and schedules one timer.

* Handshake: SYN, SYN-ACK, then the client's ACK, each serialized on every hop
  and propagated; connect() succeeds when the SYN-ACK reaches the client. A lost
  SYN or SYN-ACK costs the SYN timer (3 s, doubling), up to `syn_tries` tries; a
  round trip longer than the timer sends the SYN again meanwhile, each answered by a
  SYN-ACK, as in packet fidelity. Every SYN sent again is a retransmission. The
  handshake's RTT sample runs from the first SYN to reach the server (the SYN-ACK's
  timestamp echo, as in ns-3), to the first SYN-ACK back.
* Flights: a flight is put on the wire as one block at the time of its first
  release: one `Transmitter.reserve` per hop (a shared medium or a busy link
  delays it), one loss draw per hop (`draw(rng, n)`), counters updated once.
* Loss-free paths whose ACK gaps stay below the minimum RTO (checked once per
  channel) take a closed form, round by round: each round puts min(cwnd,
  buffer, rest) segments on the wire, less the one an odd round leaves at the
  receiver for its delayed ACK (the first data segment is ACKed at once, later
  ones two at a time); the next starts when the first segment's ACK is back;
  cwnd grows by the segments the round's ACKs covered, only after cwnd-limited
  rounds (ns-3 >= 3.42). HyStart (tcp.HyStart) sees the round's ACKs one by one,
  two bottleneck serializations apart, while it may still end slow start.
* Lossy paths (and very slow ones, where the timer fires spuriously) run the
  same sender as packet.py, `tcp.TcpSender` (ns-3 3.44's TCP: SACK scoreboard,
  NextSeg, PRR fast recovery with Cubic's 0.7 decrease, RTO with backoff,
  cwnd-limited growth), on the flights (`_Replay`, a `TcpSender` whose
  `transmit` hooks add segments to the open flight). The receiver logic is
  packet.py's (delayed ACKs: a lone in-order segment waits 200 ms): it turns a
  flight's arrivals (evenly spaced between the first and the last) into ACKs,
  and the sender takes them in order (`on_ack`), checking its timer before each
  (`on_rto`); what it releases forms the next flight (a timer firing starts a
  flight of its own). A flight that loses nothing on a clean scoreboard and
  leaves no odd segment waiting for a delayed ACK is taken in bulk.
* ACK loss: `loss` is per direction, and the reverse direction carries the ACKs. On a
  reverse path that may drop, each ACK draws its fate per hop as data does
  (`draw(rng, n)`, `_Model.acks`), is counted on the hops it reached and as a drop with
  its bytes lost on the hop that lost it (as packet fidelity counts it), and the sender
  hears only the ACKs that arrive: a later cumulative ACK covers a lost one, each ACK
  carries every SACK (as packet.py's receiver), and when a flight's last ACKs are all
  lost the retransmission timer recovers. Such paths take the replay (neither the
  closed form nor bulk). The handshake's last ACK and the FIN exchange are never lost
  (the data that follows carries the ACK; packet fidelity's close is not lost either).
* cwnd, ssthresh, Cubic and the RTO estimator persist across sends of one
  direction; cwnd restarts from min(cwnd, IW) after an idle period longer than
  the RTO.
* Each pending send and handshake keeps its bookings as counted (`_Model.log`,
  `link.Booking`: one per hop per flight, per ACK batch, per SYN). What of them had
  not gone out by t is what a round ending at t has not yet seen cross and what a
  cut at t takes back: bytes by class, their busy time and the booked hold, which the
  transmitter releases (`link.take_back`), so a radio is not left busy with frames
  that never went out.

Lossless single-link formula (B bit/s, one-way latency L, MTU m, MSS = m - 52,
t(x) = 8x/B): with t0 = 2 (t(58) + L) + t(54) (handshake plus the client's ACK,
which precedes the data on the wire), split the message into segments sent in
rounds of the windows above (10, 18, 36, 72 ... in slow start, as one segment
waits for a delayed ACK; capped by buffer / MSS; HyStart may end slow start
early on links whose ACKs come less than 2 ms apart), and let every round but
the last cost
max(2L + t(first segment) + t(54), t(window)); the last round costs t(its wire
bytes) + L. `lossless_transfer_time` evaluates exactly this, through the same
code FlowChannel runs (on links slow enough for spurious timeouts it runs the
replay instead, as FlowChannel does).

Limits (documented, deliberate): a flight's segments are sent back to back from
its first release (one frame hold apart on a duty-cycled radio), so ACK clocking
inside a flight is approximate (a release after the open flight would have drained
starts a new flight: none leaves before it is released); a flight's ACKs are booked
as one batch from its first arrival; drop-tail overflow and ACK queueing are modelled
on duty-cycled radios only (elsewhere bookings made ahead of time are no queue); jitter
is one draw per hop per flight; the handshake's last ACK and the FIN are never lost.
"""

from __future__ import annotations

import errno
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import simpy
from simpy.core import StopSimulation
from simpy.events import PENDING, EventPriority

from fedsim.net.link import (
    Booking,
    Hop,
    Link,
    LinkCounters,
    Transmitter,
    take_back,
    transmitter,
    unsent_parts,
    unsent_totals,
)
from fedsim.net.model_spans import ModelSpans, model_unsent, unsent_payload
from fedsim.net.tcp import OPEN, Cubic, RtoEstimator, TcpParams, TcpSender, path_mtu, reverse_path
from fedsim.sim_heap import call_at

__all__ = ["FlowChannel", "lossless_transfer_time", "wire_booked_after"]

UP, DOWN = 0, 1
_Ack = tuple[float, int, tuple[int, ...], float]
"""An ACK reaching the sender: (time, cumulative ACK, newly SACKed segments, echo)."""


Randomness = np.random.Generator | Callable[[], np.random.Generator]
"""A channel's random numbers: its generator, or what makes it when first needed."""


class _NoDraws:
    """The generator of a path that never draws: any use is a bug, said loudly."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"a flow path without jitter or loss drew a random number ({name})")


_NO_DRAWS: Any = _NoDraws()


def _carried(where: np.ndarray, sizes: list[int], hops: int) -> list[tuple[int, int]]:
    """(payload, segments) reaching each of `hops` hops, given the hop that loses each
    segment (-1: none): a segment lost on hop i is on hop i's wire, not on later ones."""
    wl = where.tolist()
    out = []
    for i in range(hops):
        on = [size for size, h in zip(sizes, wl, strict=True) if h < 0 or h >= i]
        out.append((sum(on), len(on)))
    return out


def _draw(loss: Any, rng: np.random.Generator, n: int) -> np.ndarray:
    """Fates of n packets from any LossModel (vectorised when the model offers it)."""
    draw = getattr(loss, "draw", None)
    if draw is not None:
        return np.asarray(draw(rng, n), dtype=bool)
    if getattr(loss, "mean_rate", 1.0) <= 0.0:
        return np.zeros(n, dtype=bool)
    return np.fromiter((loss.drop(rng) for _ in range(n)), dtype=bool, count=n)


@dataclass(slots=True)  # (two per connection of every device: no __dict__ each)
class _Sender:
    """One direction's TCP state that outlives single sends (sender and receiver side)."""

    rto: RtoEstimator
    cc: Cubic
    cwnd: float
    ssthresh: float = math.inf
    free_at: float = 0.0
    """When the sender's previous data has left its first hop."""
    delivered_at: float = 0.0
    """Delivery time of the previous message (per-direction order)."""
    last_active: float = 0.0
    quick: bool = True
    """The receiver still ACKs its first data segment at once (ns-3, Linux quick-ack)."""


@dataclass(slots=True)  # (two per connection of every device: no __dict__ each)
class _Path:
    """Per-hop constants of one direction, looked up once (tuples: ~30 bytes less than
    a list each, 16 per connection of every device)."""

    hops: tuple[Hop, ...]
    tx: tuple[Transmitter, ...] = field(init=False)
    rate: tuple[float, ...] = field(init=False)
    lat: tuple[float, ...] = field(init=False)
    counters: tuple[LinkCounters, ...] = field(init=False)
    loss: tuple[Any, ...] = field(init=False)
    jitter: tuple[Any, ...] = field(init=False)
    lossy: bool = field(init=False)
    """Any hop of this direction may drop a packet (checked once per channel)."""
    limit: tuple[int, ...] = field(init=False)
    """Each hop's drop-tail queue limit, in packets."""
    fbits: tuple[float, ...] = field(init=False)
    hop_constants: tuple[tuple[Callable[[float, float, int], tuple[float, float]], float,
                               float, Any, float, LinkCounters, float],
                         ...] = field(init=False)  # fmt: skip
    ack_hops: tuple[tuple[Callable[[float, float, int], Any], Callable[[int, int], None],
                          LinkCounters], ...] = field(init=False)  # fmt: skip

    def __post_init__(self) -> None:
        self.tx = tuple(h.link.tx[h.direction] for h in self.hops)
        self.rate = tuple(t.rate_bps for t in self.tx)
        self.fbits = tuple(t.frame_bits for t in self.tx)
        """Each hop's per-frame airtime as bits at its rate (its kind's: Wi-Fi, LoRa...): a frame
        of b wire bytes is (8 b + fbits) / rate on air, as `Transmitter.airtime`."""
        self.lat = tuple(h.link.latency_s for h in self.hops)
        self.counters = tuple(h.link.counters[h.direction] for h in self.hops)
        self.loss = tuple(h.link.loss[h.direction] for h in self.hops)
        self.jitter = tuple(h.link.jitter for h in self.hops)
        self.lossy = any(getattr(x, "mean_rate", 1.0) > 0.0 for x in self.loss)
        self.limit = tuple(h.link.queue_limit for h in self.hops)
        reserve = [t.reserve for t in self.tx]
        duty = [t.duty_cycle for t in self.tx]
        self.hop_constants = tuple(
            zip(reserve, self.rate, self.lat, self.jitter, duty, self.counters, self.fbits,
                strict=True)
        )  # fmt: skip
        """Per hop: (its transmitter's `reserve`, rate, latency, jitter, duty cycle, its
        counters, per-frame bits), for the booking loops (looked up once per channel)."""
        self.ack_hops = tuple(zip(reserve, [c.count_frames for c in self.counters],
                                  self.counters, strict=True))  # fmt: skip
        """Per hop: (`reserve`, its counter's `count_frames`, the counter), for `acks`."""


class _Flight:
    """Segments put on the wire as one block (one booking per hop, one loss draw)."""

    __slots__ = ("first", "seqs", "spacing", "t", "ts", "where")

    def __init__(
        self,
        t: float,
        seqs: list[int],
        first: float,
        spacing: float,
        where: list[int],
        ts: list[float],
    ) -> None:
        self.t, self.seqs, self.first, self.spacing, self.where = t, seqs, first, spacing, where
        self.ts = ts
        """Each segment's release time: its timestamp (what its ACK's echo carries)."""


class _Model:
    """The transfer-time computations, free of SimPy (shared with the calculator)."""

    def __init__(self, path: tuple[Hop, ...], rng: Randomness, params: TcpParams):
        self.head_at = math.inf
        """When the last transfer's first segment reached the receiver."""
        self.log: list[Booking] | None = None
        """While a channel records (a send, a handshake): every booking made, as it is
        counted (`fedsim.net.link.Booking`); a cut takes back from these."""
        self.p = params
        self.mtu = path_mtu(path)
        self.mss = params.mss(self.mtu)
        self.maxwin = params.max_window(self.mtu)
        self.ovh = params.header_bytes + params.framing_bytes
        self.paths = (_Path(path), _Path(reverse_path(path)))
        if callable(rng):  # a path that never draws (no jitter, no loss) makes no generator
            draws = any(P.lossy or any(j is not None for j in P.jitter) for P in self.paths)
            rng = rng() if draws else _NO_DRAWS
        self.rng: np.random.Generator = rng
        self.syn_reached = False
        """The last `handshake` attempt's SYN reached the server."""
        abits = 8.0 * params.ack_bytes
        # ACK return time along each direction's reverse path (serialization + latency)
        self.ret = tuple(
            sum((abits + f) / r + lat for r, lat, f in zip(b.rate, b.lat, b.fbits, strict=True))
            for b in (self.paths[1], self.paths[0])
        )
        # The closed-form path needs the retransmission timer never to fire: the longest
        # gap between ACKs that advance SND.UNA (two full segments at the bottleneck, or a
        # round trip) must stay below the smallest RTO. Otherwise (very slow links) even
        # a loss-free path takes the replay, which has the timer (spurious timeouts).
        # A duty cycle stretches each segment's hold of the medium by 1/duty; on the
        # reverse path it paces the ACKs themselves (a LoRa download is ACK-limited),
        # so such a direction books every ACK and times it by its booking.
        self.metered_acks = tuple(
            any(t.duty_cycle < 1.0 for t in self.paths[1 - d].tx) for d in (UP, DOWN)
        )
        seg_bits = 8.0 * (self.mss + self.ovh)
        self.closed_form = tuple(
            not P.lossy
            and not self.paths[1 - d].lossy  # ACKs that may be lost take the replay
            and not self.metered_acks[d]
            and max(2.0 * max((seg_bits + t.frame_bits) / (t.rate_bps * t.duty_cycle)
                              for t in P.tx),
                    sum((seg_bits + f) / r for r, f in zip(P.rate, P.fbits, strict=True))
                    + sum(P.lat) + self.ret[d])
            < params.min_rto
            for d, P in enumerate(self.paths)
        )  # fmt: skip

    # -- one packet or one block along a path --------------------------------------------------
    def packet(
        self,
        t: float,
        d: int,
        nbytes: int,
        count: bool = True,
        hops: int | None = None,
        resent: bool = False,
    ) -> float:
        """Send one small packet (SYN, ACK) along direction d, over its first `hops` hops
        (all by default); return its arrival time (infinity when a full duty-cycled queue
        drops it). `resent`: a SYN sent again, a retransmission on every hop it crosses."""
        P = self.paths[d]
        bits = nbytes * 8.0
        log = self.log
        for i, tx in enumerate(P.tx[:hops]):
            if self.full(i, d, t):
                if count:
                    P.counters[i].refused += 1  # never on this hop's wire
                return math.inf
            s, e = tx.reserve(t, bits, 1)
            ready = t
            j = P.jitter[i]
            t = e + P.lat[i] + (0.0 if j is None else j.sample(self.rng))
            if count:
                c = P.counters[i]
                if c.wake is not None:  # a device's radio: awake from ready to sent
                    c.wake(ready, e, nbytes, 1)
                c.count_frames(nbytes, 1)
                c.control_bytes += nbytes
                c.retransmissions += resent
                if log is not None:
                    log.append((c, s, e, nbytes, 1, 0, 0, nbytes, 0, 0, resent))
        return t

    def full(self, i: int, d: int, t: float) -> bool:
        """Hop i of direction d is a duty-cycled radio whose queue at t already holds
        more than `queue_limit` full-size frames: drop-tail drops what arrives. (Other
        transmitters fill gaps between bookings made ahead of time, so their bookings
        are no queue to drop from.)"""
        P = self.paths[d]
        tx = P.tx[i]
        dc = tx.duty_cycle
        return dc < 1.0 and (tx.queued_until(t) - t) * dc * P.rate[i] > P.limit[i] * (
            8.0 * (self.mss + self.ovh) + P.fbits[i]
        )

    def lost_at(self, d: int, n: int) -> np.ndarray:
        """For n packets along direction d: index of the hop that drops each, or -1."""
        P = self.paths[d]
        where = np.full(n, -1, dtype=np.int64)
        if not P.lossy:
            return where
        alive = np.arange(n)
        for i, loss in enumerate(P.loss):
            if alive.size == 0:
                break
            m = _draw(loss, self.rng, alive.size)
            if m.any():
                where[alive[m]] = i
                alive = alive[~m]
        return where

    def block(
        self,
        t: float,
        d: int,
        n: int,
        payload: int,
        fpay: int,
        lpay: int,
        queues: bool = False,
        carried: list[tuple[int, int]] | None = None,
    ) -> tuple[float, float, int]:
        """Put n segments (payload bytes in all, first/last carrying fpay/lpay) on the wire
        at t as one block: one booking per hop. Returns the arrival times of the first
        and the last segment at the receiver and how many hops the block entered.

        With `queues`, a full duty-cycled queue (`full`) drops the whole block there; the
        block's own frames do not count: they are ACK-clocked, released as the queue
        drains, not a burst. Without it, a sender whose retransmission timer fires faster
        than the radio drains (TCP's 60 s maximum RTO against LoRa's 1 % duty cycle)
        would book without bound.

        `carried`, when segments are lost on the way: (payload, segments) that reach each
        hop (a segment lost on hop i occupies hop i, no later one), so every hop books the
        airtime of what it counts; a hop nothing reaches books nothing, nor do later ones."""
        ovh = self.ovh
        wire = payload + n * ovh
        bits = 8.0 * wire
        first = last = t
        P = self.paths[d]
        log = self.log
        for i, (reserve, rate, lat, j, dc, c, fb) in enumerate(P.hop_constants):
            if queues and self.full(i, d, first):
                return first, last, i
            if carried is not None:
                payload, n = carried[i]
                if n == 0:
                    break
                wire = payload + n * ovh
                bits = 8.0 * wire
            # Book `bits` on hop i for a block whose first/last segments reach it at
            # first/last; they reach the next hop at the new first/last.
            s, e = reserve(first, bits, n)
            # (8 x bytes + fb) / rate: a frame's airtime (fb: its kind's per-frame part)
            if dc < 1.0:  # frames go out one hold apart; the last one's silence follows it
                e = s + (e - s) / dc - (8.0 * (lpay + ovh) + fb) / rate * (1.0 / dc - 1.0)
            out = last + (8.0 * (lpay + ovh) + fb) / rate  # the last frame leaves after it arrives
            if e > out:
                out = e
            if log is not None:  # as data; `_Replay.close` reclassifies what it must
                log.append((c, s, out, wire, n, payload, wire - payload, 0, 0, 0, 0))
            if c.wake is not None:  # a device's radio: awake from ready to the last frame out
                c.wake(first, out, wire, n)
            delay = lat + (0.0 if j is None else j.sample(self.rng))
            first, last = s + (8.0 * (fpay + ovh) + fb) / rate + delay, out + delay
        return first, last, len(P.tx)

    def acks(self, t: float, d: int, n: int) -> list[bool] | None:
        """n ACKs for direction d's data, booked from t on the reverse path, counted.
        On a reverse path that may drop a packet, each ACK draws its fate per hop (as
        data does) and is booked and counted up to the hop that loses it, a drop there
        (as packet fidelity counts it); returns which ACKs were lost (None: none could be)."""
        if n <= 0:
            return None
        if self.paths[1 - d].lossy:
            return self._lossy_acks(t, d, n)
        ab = self.p.ack_bytes
        bits = 8.0 * n * ab
        nab = n * ab
        log = self.log
        for reserve, count_frames, c in self.paths[1 - d].ack_hops:
            s, e = reserve(t, bits, n)
            if c.wake is not None:  # a device's radio: awake from ready to sent
                c.wake(t, e, nab, n)
            count_frames(nab, n)
            c.control_bytes += nab
            if log is not None:
                log.append((c, s, e, nab, n, 0, 0, nab, 0, 0, 0))
        return None

    def _lossy_acks(self, t: float, d: int, n: int) -> list[bool]:
        """`acks` on a reverse path that may drop: an ACK lost on hop i occupies hop i's
        wire (counted there, a drop with its bytes lost), no later hop's."""
        where = self.lost_at(1 - d, n)
        hops = self.paths[1 - d].ack_hops
        lost_on = np.bincount(where[where >= 0], minlength=len(hops)).tolist()
        ab = self.p.ack_bytes
        log = self.log
        k = n  # the ACKs that reach hop i: all, less those lost on an earlier hop
        for i, (reserve, count_frames, c) in enumerate(hops):
            if k == 0:
                break
            lost = lost_on[i]
            kab = k * ab
            s, e = reserve(t, 8.0 * kab, k)
            if c.wake is not None:  # a device's radio: awake from ready to sent
                c.wake(t, e, kab, k)
            count_frames(kab, k)
            c.control_bytes += kab
            c.drops += lost
            c.lost_bytes += lost * ab
            if log is not None:
                log.append((c, s, e, kab, k, 0, 0, kab, 0, lost * ab, 0, lost))
            k -= lost
        return (where >= 0).tolist()

    def lossy_packet(self, t: float, d: int, nbytes: int, resent: bool = False) -> float:
        """`packet` for one that may be lost on the way (an ACK, a SYN): its arrival time,
        or infinity when a hop loses it (counted up to there, a drop there) or a full
        queue drops it."""
        if self.paths[d].lossy:
            where = int(self.lost_at(d, 1)[0])
            if where >= 0:
                self._count_partial(t, d, nbytes, where, drop=True, resent=resent)
                return math.inf
        return self.packet(t, d, nbytes, resent=resent)

    # -- handshake ---------------------------------------------------------------------------
    def handshake(self, t: float, resent: bool = False) -> tuple[bool, float]:
        """One SYN attempt at t (`resent`: a SYN sent again, counted as a retransmission
        on every hop it crosses, as packet fidelity does; its SYN-ACK is none). Returns
        (success, time the SYN-ACK reaches the client); `syn_reached` says whether the
        SYN reached the server (a failure with it set lost the SYN-ACK)."""
        p = self.p
        self.syn_reached = False
        for d in (UP, DOWN):
            P = self.paths[d]
            again = resent and d == UP
            if not all(h.link.up for h in P.hops):
                down = self._first_down(d)
                self._count_partial(t, d, p.syn_bytes, down, resent=again)
                P.counters[down].refused += 1  # refused at the down hop, never on its wire
                return False, t
            t0, t = t, self.lossy_packet(t, d, p.syn_bytes, resent=again)
            if t == math.inf:  # lost on a hop's wire, or a full duty-cycled queue dropped it
                return False, t0
            self.syn_reached = True
        return True, t

    def _first_down(self, d: int) -> int:
        return next(i for i, h in enumerate(self.paths[d].hops) if not h.link.up)

    def _count_partial(
        self, t: float, d: int, nbytes: int, upto: int, drop: bool = False, resent: bool = False
    ) -> None:
        """A packet sent at t that stops at hop `upto` (down, or lost there with `drop`):
        the hops before carry it (and hop `upto` when it is lost on its wire)."""
        P = self.paths[d]
        if self.packet(t, d, nbytes, hops=upto + (1 if drop else 0), resent=resent) == math.inf:
            return  # a full queue on the way dropped it first (counted there)
        if drop:
            c = P.counters[upto]
            c.drops += 1
            c.lost_bytes += nbytes
            log = self.log
            if log and log[-1][0] is c:  # its booking there carries the loss (a cut takes
                log[-1] = (*log[-1][:9], nbytes, log[-1][10])  # back lost bytes too)

    # -- data ----------------------------------------------------------------------------------
    def transfer(self, t: float, d: int, nbytes: int, s: _Sender) -> float:
        """Carry nbytes from the sender of direction d starting at t; return delivery time."""
        p = self.p
        if t - s.last_active > s.rto.cur:
            s.cwnd = min(s.cwnd, float(p.initial_window))  # slow-start restart after idle
        s.cc.rebase()  # this message's segments are numbered from 0
        P = self.paths[d]
        for c in P.counters:
            c.payload_bytes += nbytes
        self.head_at = math.inf
        if self.closed_form[d]:
            nseg = -(-nbytes // self.mss)
            if nseg <= self.maxwin and nseg <= max(1, int(s.cwnd)):
                done, free = self._one_round(t, d, nbytes, nseg, s)
            else:
                done, free = self._clean(t, d, nbytes, s)
        else:
            done, free = _Replay(self, d, s, nbytes, t).run()
        s.free_at = free
        s.last_active = done
        return done

    def _one_round(
        self, t: float, d: int, nbytes: int, nseg: int, s: _Sender
    ) -> tuple[float, float]:
        """`_clean` for a message that leaves in its first round (a poll, a small model:
        most messages): the same operations in the same order, without the round loop
        (`tests/test_flow_fast_paths.py` compares the two)."""
        rto, ret, mss, ovh = s.rto, self.ret[d], self.mss, self.ovh
        lastpay = nbytes - (nseg - 1) * mss
        first, last, _ = self.block(t, d, nseg, nbytes, mss if nseg > 1 else lastpay, lastpay)
        wire = nbytes + nseg * ovh
        self.head_at = first
        limited = nseg >= max(1, int(s.cwnd))
        # The ACKs read no TCP state, and the RTT samples and the window read no booking:
        # booking the ACKs before both samples is the round loop's order in effect.
        self.acks(first, d, -(-nseg // self.p.delack_segments))
        if nseg > 1:  # the first segment's sample (Cubic sees it) and the last one's
            srtt = rto.sample_pair(first + ret - t, last + ret - t)
            gap = 2.0 * (last - first) / (nseg - 1)
        else:
            rto.sample(first + ret - t)
            srtt, gap = rto.srtt, 0.0
        acked = 1 + (nseg - 1) // 2 * 2 if s.quick else nseg // 2 * 2
        s.cwnd, s.ssthresh = _grow(s.cc, s.cwnd, s.ssthresh, acked, first + ret, gap, 0, nseg,
                                   srtt, limited)  # fmt: skip
        s.quick = False
        hdr = nseg * ovh
        for c in self.paths[d].counters:
            c.count_frames(wire, nseg)
            c.data_bytes += nbytes
            c.header_bytes += hdr
        return last, t

    def _clean(self, t: float, d: int, nbytes: int, s: _Sender) -> tuple[float, float]:
        """A loss-free path: whole rounds in closed form, no per-segment work.

        Each round puts min(cwnd, buffer, rest) segments on the wire at its start, less
        the one an odd round leaves at the receiver waiting for its delayed ACK (it still
        counts in flight: the receiver ACKs the first data segment at once, later ones two
        at a time, so a round of w segments ACKs w +- 1 of them); the next round starts
        when the first segment's ACK is back. cwnd grows only after cwnd-limited rounds,
        by the segments the round's ACKs covered."""
        P, mss, ovh, ret = self.paths[d], self.mss, self.ovh, self.ret[d]
        full, rest = divmod(nbytes, mss)
        nseg = full + (1 if rest else 0)
        lastpay = rest or mss
        sent = 0
        pkts = 0
        last = t
        rto, cc = s.rto, s.cc
        delack = self.p.delack_timeout
        held = 0  # segments the receiver holds for a delayed ACK (0 or 1)
        held_at = -math.inf  # when the held segment reached the receiver
        quick = s.quick

        def book(at: float, q: int, k: int) -> tuple[float, float]:
            """Segments q .. q + k - 1 on the wire at `at`: first/last arrivals."""
            fin = q + k >= nseg
            pay = (k - 1) * mss + lastpay if fin else k * mss
            f, e, _ = self.block(at, d, k, pay, mss if k > 1 or not fin else lastpay,
                                 lastpay if fin else mss)  # fmt: skip
            return f, e

        while True:
            cw = int(s.cwnd)
            room = max(1, cw - held)
            w = min(room, self.maxwin - held, nseg - sent)
            first, last = book(t, sent, w)
            if sent == 0:
                self.head_at = first
            limited = w >= room
            # The round's RTT samples: its first segment's (the smallest, what Cubic's
            # minimum delay and HyStart see) and its last segment's (the largest).
            rto.sample(first + ret - t)
            if held and sent + w < nseg and held_at + delack < first:
                # The receiver's delayed-ACK timer ACKs the held segment before this
                # round reaches it; that lone ACK frees and grows the window mid-round.
                at = held_at + delack + ret
                self.acks(held_at + delack, d, 1)
                s.cwnd, s.ssthresh = _grow(cc, s.cwnd, s.ssthresh, 1, at, 0.0, sent - 1,
                                           sent + w, rto.srtt, limited)  # fmt: skip
                held = 0
                extra = min(int(s.cwnd) - w, self.maxwin - w, nseg - sent - w)
                if extra > 0:
                    _, late = book(at, sent + w, extra)
                    last = max(last, late)
                    w += extra
                    limited = w >= int(s.cwnd)
            pkts += w
            k = -(-w // self.p.delack_segments)
            self.acks(first, d, k)
            final = sent + w >= nseg
            # ACKs every 2 segments, 2 bottleneck serializations apart; cwnd grows only
            # after cwnd-limited rounds (ns-3 >= 3.42)
            gap = 2.0 * (last - first) / (w - 1) if w > 1 else 0.0
            got = held + w
            if quick:  # the first segment is ACKed alone, then two at a time
                acked, held, quick = 1 + (got - 1) // 2 * 2, (got - 1) % 2, False
            else:
                acked, held = got // 2 * 2, got % 2
            held_at = last
            s.cwnd, s.ssthresh = _grow(
                cc, s.cwnd, s.ssthresh, acked, first + ret, gap, sent + w - got, sent + w,
                rto.srtt, limited,
            )  # fmt: skip
            if w > 1:
                rto.sample(last + ret - t)
            sent += w
            if final:
                break
            t = first + ret
        s.quick = False
        wire = nbytes + pkts * ovh
        for c in P.counters:
            c.count_frames(wire, pkts)
            c.data_bytes += nbytes
            c.header_bytes += pkts * ovh
        return last, t


class _Replay(TcpSender):
    """One message over a lossy path: the shared `TcpSender` (ns-3 3.44's scoreboard,
    PRR, Cubic, RTO) and packet.py's receiver logic (delayed ACKs), flight by flight.
    The scoreboard is per message; cwnd and ssthresh are taken from the direction's
    `_Sender` and written back at the end (the RTO estimator and Cubic are shared).

    The segments the sender releases while one flight's ACKs come back form the next
    flight, booked as one block on every hop at the time of the first release (a timer
    firing starts a flight of its own). Each flight draws its fates once per hop. The
    receiver turns the flight's arrivals (evenly spaced between the first and the last)
    into ACKs; the sender then takes them in order, checking its retransmission timer
    before each. A flight that loses nothing while the scoreboard is clean, and has no odd
    segment out, is taken in bulk (no per-segment work)."""

    def __init__(self, m: _Model, d: int, s: _Sender, nbytes: int, t: float) -> None:
        super().__init__(m.p, m.maxwin, s.rto, s.cc, s.cwnd, s.ssthresh, now=t)
        self.m, self.d, self.s = m, d, s
        full, rest = divmod(nbytes, m.mss)
        self.n = full + (1 if rest else 0)
        self.lastpay = rest or m.mss
        self.nbytes = nbytes
        self.ret = m.ret[d]
        self.metered = m.metered_acks[d]
        self.ack_lossy = m.paths[1 - d].lossy
        """ACKs may be lost on the way back: each carries every SACK (as packet.py), since
        the one that reported a segment first may never arrive."""
        self.last_ack = -math.inf
        p = m.p
        self.delack = p.delack_timeout
        self.delack_n = p.delack_segments
        # receiver
        self.rcv_nxt = 0
        self.ooo: set[int] = set()
        self.unacked = 0
        self.ts_recent = -1.0
        self.ts_echo = 0.0
        self.high_ack = 0
        self.dl_armed = False
        self.dl_at = 0.0
        self.done_at = math.inf
        # flights
        self.open: list[int] = []
        self.open_ts: list[float] = []
        self.open_t = t
        self.open_rx: list[int] = []
        """Positions in the open flight of the segments sent again."""
        self.queue: deque[_Flight] = deque()
        self.last_flight_t = t
        seg_bits = 8.0 * (m.mss + m.ovh)
        self.hold = max(
            (seg_bits + tx.frame_bits) / (tx.rate_bps * tx.duty_cycle) for tx in m.paths[d].tx
        )
        """A full segment's hold of the path's slowest transmitter: how fast a flight
        drains."""

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> tuple[float, float]:
        self.try_send()
        self.close()
        while True:
            if self.queue:
                fl = self.queue.popleft()
                if not self.bulk(fl):
                    self.events(self.receive(fl))
                self.close()
                continue
            if self.una >= self.n:
                break
            if self.dl_armed:  # the receiver's delayed-ACK timer fires
                at = self.dl_at
                evs = [a for a in (self.ack(at),) if a is not None]
                if not self.metered:  # metered ACKs are booked (and counted) one by one
                    evs = self.arriving(at, evs)
                self.events(evs)
            elif self.armed:
                self.rto_fire(self.deadline)
            else:  # pragma: no cover - outstanding data always has a timer
                raise RuntimeError("flow replay stalled")
            self.close()
        s = self.s
        s.quick = False
        s.cwnd, s.ssthresh = self.cwnd, self.ssthresh  # what outlives the message
        return self.done_at, self.last_flight_t

    def close(self) -> None:
        """Book the open flight on every hop, draw its fates, count it, queue it."""
        seqs = self.open
        if not seqs:
            return
        ts, self.open, self.open_ts = self.open_ts, [], []
        m, d, n, mss, lastpay = self.m, self.d, self.n, self.m.mss, self.lastpay
        t = self.open_t
        w = len(seqs)
        sizes = [lastpay if q == n - 1 else mss for q in seqs]
        pay = sum(sizes)
        where = m.lost_at(d, w)  # fates first: a hop books only the segments reaching it
        carried = _carried(where, sizes, len(m.paths[d].tx)) if where.max() >= 0 else None
        log = m.log
        booked = 0 if log is None else len(log)  # this flight's bookings: log[booked:]
        first, last, hops = m.block(t, d, w, pay, sizes[0], sizes[-1], queues=True, carried=carried)
        P, ovh = m.paths[d], m.ovh
        spacing = (last - first) / (w - 1) if w > 1 else 0.0
        rx, self.open_rx = self.open_rx, []
        self.last_flight_t = t
        full = hops == len(P.tx)
        if full and where.max() < 0:
            wire = pay + w * ovh
            rx_pay = sum(sizes[j] for j in rx)
            for c in P.counters:
                c.wire_bytes += wire
                c.data_bytes += pay - rx_pay
                c.header_bytes += (w - len(rx)) * ovh
                c.retx_bytes += rx_pay + len(rx) * ovh
                c.retransmissions += len(rx)
                c.packets += w
            if rx and log is not None:
                parts = (pay - rx_pay, (w - len(rx)) * ovh, 0, rx_pay + len(rx) * ovh, 0, len(rx))
                log[booked:] = [(c, s, out, wire, w, *parts) for c, s, out, *_ in log[booked:]]
            self.queue.append(_Flight(t, seqs, first, spacing, [], ts))
            return
        wl = where.tolist()
        queued = set()  # segments a full queue dropped: never on that hop's wire
        if not full:
            for j in range(w):
                if wl[j] < 0 or hops <= wl[j]:
                    wl[j] = hops
                    queued.add(j)
        again = set(rx)
        for i, c in enumerate(P.counters):
            on = [j for j, h in enumerate(wl) if h < 0 or h > i or (h == i and j not in queued)]
            on_pay = sum(sizes[j] for j in on)
            rx_on = [j for j in on if j in again]
            rx_pay = sum(sizes[j] for j in rx_on)
            c.wire_bytes += on_pay + len(on) * ovh
            c.data_bytes += on_pay - rx_pay
            c.header_bytes += (len(on) - len(rx_on)) * ovh
            c.retx_bytes += rx_pay + len(rx_on) * ovh
            lost = sum(sizes[j] + ovh for j in on if wl[j] == i)
            c.lost_bytes += lost
            c.packets += len(on)
            c.retransmissions += len(rx_on)
            dropped = sum(1 for j in on if wl[j] == i)
            c.drops += dropped
            c.refused += wl.count(i) - dropped  # a full queue's: never on this hop's wire
            if log is not None and booked + i < len(log):  # as counted, not as data
                _, s, out, *_ = log[booked + i]
                log[booked + i] = (c, s, out, on_pay + len(on) * ovh, len(on), on_pay - rx_pay,
                                   (len(on) - len(rx_on)) * ovh, 0, rx_pay + len(rx_on) * ovh,
                                   lost, len(rx_on), dropped)  # fmt: skip
        self.queue.append(_Flight(t, seqs, first, spacing, wl, ts))

    # -- receiver (ns-3 ReceivedData, as packet.py) ------------------------------------------
    def ack(self, at: float, sack: tuple[int, ...] = ()) -> _Ack | None:
        """The receiver sends an ACK at `at`; it reaches the sender one return trip later.
        `sack` holds the segment this ACK newly reports as received out of order (the
        sender's scoreboard has the earlier ones already)."""
        self.dl_armed = False
        self.unacked = 0
        self.s.quick = False
        if self.rcv_nxt > self.high_ack:
            self.high_ack = self.rcv_nxt
        if self.ack_lossy:
            sack = tuple(self.ooo)
        if self.metered:  # booked on the reverse path; arrivals stay in order
            arrive = self.m.lossy_packet(at, 1 - self.d, self.m.p.ack_bytes)
            if arrive == math.inf:
                return None  # lost, or a full queue dropped it: a later ACK or the timer
            arrive = max(arrive, self.last_ack)
            self.last_ack = arrive
            return (arrive, self.rcv_nxt, sack, self.ts_echo)
        return (at + self.ret, self.rcv_nxt, sack, self.ts_echo)

    def receive(self, fl: _Flight) -> list[_Ack]:
        evs: list = []  # _Ack, or None for an ACK a full queue dropped (metered only)
        first, sp, where, ooo = fl.first, fl.spacing, fl.where, self.ooo
        for j, q in enumerate(fl.seqs):
            if where and where[j] >= 0:
                continue
            ts = fl.ts[j]
            a = first + j * sp
            if self.dl_armed and self.dl_at < a:
                evs.append(self.ack(self.dl_at))
            if ts >= self.ts_recent:
                self.ts_recent = ts
                if q == self.rcv_nxt and q <= self.high_ack:
                    self.ts_echo = ts
            before = self.rcv_nxt
            if q < before or q in ooo:
                evs.append(self.ack(a))  # duplicate: ACK at once
                continue
            sack: tuple[int, ...] = ()
            if q == before:
                if before == 0:
                    self.m.head_at = a
                r = before + 1
                while r in ooo:
                    ooo.discard(r)
                    r += 1
                self.rcv_nxt = r
                if r >= self.n and a < self.done_at:
                    self.done_at = a
            else:
                ooo.add(q)
                sack = (q,)
            if ooo or self.rcv_nxt > before + 1:
                evs.append(self.ack(a, sack))  # a gap exists, or one was just filled
                continue
            self.unacked += 1
            if self.s.quick or self.unacked >= self.delack_n:
                evs.append(self.ack(a))
            elif not self.dl_armed:
                self.dl_armed = True
                self.dl_at = a + self.delack
        if self.metered:
            return [e for e in evs if e is not None]  # type: ignore[misc]
        return self.arriving(first, evs)

    def arriving(self, t: float, evs: list[_Ack]) -> list[_Ack]:
        """Book the receiver's ACKs from t on the reverse path; the sender hears only
        those that arrive (a later cumulative ACK covers a lost one; when the tail's are
        all lost, the retransmission timer recovers)."""
        lost = self.m.acks(t, self.d, len(evs))
        if lost is None:
            return evs
        return [e for e, gone in zip(evs, lost, strict=True) if not gone]

    def bulk(self, fl: _Flight) -> bool:
        """A flight of new data that lost nothing, on a clean scoreboard: take its ACK
        stream at once (what the per-ACK replay would do, without per-segment work)."""
        if (
            fl.where
            or self.metered
            or self.ack_lossy
            or self.state != OPEN
            or self.sacked
            or self.lost
            or self.ooo
            or self.dl_armed
            or self.open
        ):
            return False
        seqs = fl.seqs
        w = len(seqs)
        if seqs[0] != self.una or seqs[-1] != self.nxt - 1 or self.rcv_nxt != self.una:
            return False
        if (w - (1 if self.s.quick else 0)) % 2:
            # An odd segment out waits for the receiver's delayed-ACK timer (200 ms), which
            # the retransmission timer may beat: the per-ACK receiver decides that. Taking
            # it in bulk ACKed it at once, and on a link whose frames outlast the RTO that
            # one early RTT sample lifted the sender out of its spurious-timeout regime.
            return False
        a0 = fl.first + self.ret
        sp = fl.spacing
        if (self.armed and self.deadline < a0) or 2.0 * sp >= self.rto.base:
            return False
        alast = a0 + (w - 1) * sp
        if self.rcv_nxt == 0:
            self.m.head_at = fl.first
        # receiver: everything in order; ACKs every 2 segments
        self.rcv_nxt = self.nxt
        if self.rcv_nxt >= self.n:
            self.done_at = min(self.done_at, fl.first + (w - 1) * sp)
        self.ts_recent = self.ts_echo = fl.ts[-1]
        self.high_ack = self.rcv_nxt
        self.unacked = 0
        self.s.quick = False
        self.m.acks(fl.first, self.d, -(-w // self.delack_n))
        # sender
        rto = self.rto
        srtt = rto.srtt
        if self.hist_lo < self.nxt:
            for j in range(1 if w > 1 else 0, w, 2):
                rto.sample(a0 + j * sp - fl.ts[j - 1 if j else 0])  # the pair's first
                if srtt is None or j <= 1:
                    srtt = rto.srtt  # what Cubic and HyStart see: the flight's first sample
            self.hist_lo = self.nxt
        una = self.una
        self.una = self.nxt
        rto.reset()
        self.dupacks = 0
        self.cwnd, self.ssthresh = _grow(
            self.cc, self.cwnd, self.ssthresh, w, a0, 2.0 * sp, una, self.nxt, srtt,
            self.cwnd_limited,
        )  # fmt: skip
        self.now = a0
        self.try_send()
        if self.una >= self.n:
            self.armed = False
        else:
            self.armed = True
            self.deadline = alast + rto.cur
        return True

    # -- sender: the shared TcpSender, fed the ACK stream in order --------------------------
    def events(self, evs: list[_Ack]) -> None:
        for at, ack, sacks, echo in evs:
            while self.armed and self.deadline < at:
                self.rto_fire(self.deadline)
            self.now = at
            self.on_ack(ack, sacks, echo)

    def drained(self) -> None:
        """A release after the open flight would have left the path's slowest transmitter
        (two segments' grace: an ACK pair's spacing) starts a flight of its own. Booked with
        the open flight, it would leave before it was released: a delayed ACK's release
        joined the next round's, a round trip later, and the early arrivals, timed against
        the later release, gave RTT samples a round trip short (1 Mbit/s, 1 s one way: SRTT
        0.6 s for 2 s, then one spurious timeout after another)."""
        if self.open and self.now > self.open_t + (len(self.open) + 2) * self.hold:
            self.close()

    def transmit(self, q: int, retx: bool) -> None:
        """TcpSender hook: the segment joins the open flight."""
        self.drained()
        if not self.open:
            self.open_t = self.now
        self.open.append(q)
        self.open_ts.append(self.now)
        if retx:
            self.open_rx.append(len(self.open) - 1)

    def transmit_new(self, first: int, k: int) -> None:
        """TcpSender hook: k new segments join the open flight."""
        self.drained()
        if not self.open:
            self.open_t = self.now
        self.open.extend(range(first, first + k))
        self.open_ts.extend([self.now] * k)

    def rto_fire(self, at: float) -> None:
        """The retransmission timer expired at `at` (ns-3 ReTxTimeout): what was released
        before goes out first; what the timeout releases forms a flight of its own."""
        self.close()
        self.now = at
        self.on_rto()
        self.close()


def _grow(
    cc: Cubic,
    cwnd: float,
    ssthresh: float,
    acked: int,
    now: float,
    gap: float,
    una: int,
    high: int,
    srtt: float | None,
    limited: bool,
) -> tuple[float, float]:
    """(cwnd, ssthresh) after the `acked` segments from `una` on were ACKed two per ACK,
    ACKs `gap` apart from `now`, with `high` segments sent (HyStart's round end) and the
    smoothed RTT `srtt`; cwnd grows only if the flight was cwnd-`limited`. Slow start in
    closed form while HyStart cannot end it, else ACK by ACK as packet.py does."""
    hs = cc.hs
    if hs is not None and not hs.found and cwnd < ssthresh and cwnd + acked >= hs.low:
        return _grow_acks(cc, cwnd, ssthresh, acked, now, gap, una, high, srtt, limited)
    ssthresh = cc.pkts_acked(cwnd, ssthresh, srtt, now)
    if not limited:
        return cwnd, ssthresh
    if cwnd < ssthresh:
        cc.new_round(una + min(2, acked), high, now)
        take = acked if ssthresh == math.inf else min(acked, 2 * math.ceil((ssthresh - cwnd) / 2))
        cwnd += take
        acked -= take
        now += gap * (take // 2)
    while acked > 0:
        a = min(2, acked)
        acked -= a
        cwnd = cc.increase(cwnd, ssthresh, a, now)
        now += gap
    return cwnd, ssthresh


def _grow_acks(
    cc: Cubic,
    cwnd: float,
    ssthresh: float,
    acked: int,
    now: float,
    gap: float,
    una: int,
    high: int,
    srtt: float | None,
    limited: bool,
) -> tuple[float, float]:
    """`_grow` ACK by ACK (ns-3's PktsAcked, then IncreaseWindow), for slow start that
    HyStart may end: its tests need every ACK's time."""
    while acked > 0:
        a = min(2, acked)
        acked -= a
        una += a
        ssthresh = cc.pkts_acked(cwnd, ssthresh, srtt, now)
        if limited:
            if cwnd < ssthresh:
                cc.new_round(una, high, now)
            cwnd = cc.increase(cwnd, ssthresh, a, now)
        now += gap
    return cwnd, ssthresh


class FlowChannel:
    """A TCP connection over `path` at flow fidelity (see the module docstring)."""

    def __init__(
        self,
        env: simpy.Environment,
        path: tuple[Hop, ...],
        rng: Randomness,
        params: TcpParams | None = None,
    ) -> None:
        """`rng`: the channel's generator, or what makes it (asked only if the path can
        draw: a hop with jitter, or a loss model that may drop)."""
        if not path:
            raise ValueError("a channel needs a path of at least one hop")
        self.env = env
        self.path = tuple(path)
        self.params = params or TcpParams()
        self._m = _Model(self.path, rng, self.params)
        p = self.params
        self._senders = tuple(
            _Sender(RtoEstimator(p), Cubic(p), float(p.initial_window)) for _ in (UP, DOWN)
        )
        self._pending: dict[simpy.Event, None] = {}
        self._ahead: dict[simpy.Event, list[Booking]] = {}
        """Per pending event: the bookings it made (`_Model.log`), as counted. What of
        them lies after t is what had not crossed by t (`booked_after`), and what a cut
        at t takes back, bytes and airtime alike (`fedsim.net.link.take_back`)."""
        self._loose: list[Booking] = []
        """Bookings still to go out that no pending event holds: the close's FIN/ACKs, a
        failed SYN's, a finished exchange's last ACKs. On a busy duty-cycled radio they
        can queue long after they were made; a cut (the run's end included) takes back
        what of them had not gone out, as it does a pending exchange's."""
        self._heads: dict[simpy.Event, float | tuple[simpy.Event, int]] = {}
        """Per pending send longer than a segment: when its first segment arrives, or,
        once `head` was asked, (the event that says so, the segment's size)."""
        self._broken: str | None = None
        self._closed = False
        self._syn_echo: float | None = None
        """When the first SYN to reach the server was sent: the timestamp its SYN-ACKs
        echo (ns-3 and Linux keep it for a SYN sent again), so the handshake's RTT
        sample runs from it, as in packet fidelity."""
        self._unfired: list[tuple[float, list[Booking]]] = []
        """While a handshake that will succeed is under way: (when, its bookings) of the
        SYNs its timer sends again and of the client's final ACK, all booked ahead. An
        application that gives up on the connect first stops the timer (`close`): what
        was due after that is taken back, count and bytes."""
        self.connected = False
        self._spans = (ModelSpans(), ModelSpans())
        """Per direction, where the stream's model bytes lie: a cut takes back the model
        among what it keeps off a hop (`fedsim.net.model_spans`)."""

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
        now = env._now
        free = s.free_at
        start = free if free > now else now  # (`max(now, free)`, without the call)
        m = self._m
        if nbytes <= 0:
            t = max(start, s.delivered_at)  # nothing goes on the wire
        else:
            m.log = log = []
            self._spans[direction].sent += int(nbytes)
            t = m.transfer(start, direction, int(nbytes), s)
            if s.delivered_at > t:  # (`max`: in order after the previous message)
                t = s.delivered_at
            m.log = None
            if t > now:
                self._ahead[ev] = log
        s.delivered_at = t
        self._pending[ev] = None
        if nbytes > m.mss and m.head_at < t:
            self._heads[ev] = m.head_at  # its event is made when asked (`head`)
        call_at(env, t, partial(self._finish, ev, nbytes))
        return ev

    def count_model(self, direction: int, nbytes: int) -> None:
        """Of the payload just sent in `direction`, the last `nbytes` are model (the byte
        ledger): counted on every hop now, taken back where a cut keeps them off."""
        self._spans[direction].mark(nbytes)
        for c in self._m.paths[direction].counters:
            c.model_bytes += nbytes

    def head(self, event: simpy.Event) -> tuple[simpy.Event, int] | None:
        """For a message longer than one segment: an event that succeeds when its first
        segment reaches the receiver, and that segment's size (the receiver may read
        that much before the rest arrives). Ask right after `send` (the transport asks
        for responses only; the other heads cost nothing)."""
        head = self._heads.get(event)
        if head is not None and type(head) is not tuple:  # made now, its time fixed at the send
            at, head = head, (self.env.event(), self._m.mss)
            self._heads[event] = head
            call_at(self.env, at, partial(self._head, event))
        return head

    def break_(self, cause: str) -> None:
        """Fail every pending event and all future ones with ConnectionResetError(cause)."""
        if self._broken is not None:
            return
        self._broken = cause
        self._heads.clear()
        self._take_back(self.env.now)
        pending, self._pending = list(self._pending), {}
        for ev in pending:
            if not ev.triggered:
                ev.fail(ConnectionResetError(cause))

    def close(self) -> None:
        """Orderly close: FIN/ACK both ways are counted; pending sends still complete.
        A channel that never connected (or was broken) sends no FIN, and a connect still
        under way sends no further SYN (a socket closed in SYN_SENT)."""
        if self._closed or self._broken is not None or not self.connected:
            self._closed = True
            self._give_up_connect()
            return
        self._closed = True
        now = self.env.now
        m = self._m
        m.log = log = []
        for d in (UP, DOWN):  # each side's FIN and its ACK of the other's: booked, counted
            for _ in range(2):
                m.packet(now, d, self.params.ack_bytes)
        m.log = None
        self._keep_loose(log)

    @property
    def finished(self) -> bool:
        """Broken, or closed with nothing pending and its FIN/ACKs gone out: nothing of
        it is still booked ahead of the clock (a cut would have nothing to take back)."""
        if self._broken is not None:
            return True
        if not self._closed or self._pending:
            return False
        now = self.env.now
        return all(b[2] <= now for b in self._loose)

    # -- internals -------------------------------------------------------------------------------
    def _bookings(self) -> Iterator[Booking]:
        """The bookings of every pending event, and the loose ones (`_loose`)."""
        for ev, log in self._ahead.items():
            if ev._value is PENDING:  # (`not ev.triggered`)
                yield from log
        yield from self._loose

    def _keep_loose(self, log: list[Booking]) -> None:
        """Keep those of `log`'s bookings still to go out among the loose ones (and drop
        the loose ones that went out)."""
        now = self.env._now
        loose = self._loose
        if loose:  # (one pass over both, in this order)
            self._loose = [b for b in (*loose, *log) if b[2] > now]
            return
        late = [b for b in log if b[2] > now]
        if late:
            self._loose = late

    def booked_after(self, t: float) -> Iterator[tuple[LinkCounters, int, int]]:
        """(counters, wire bytes, packets) of the pending exchanges' bookings that had
        not gone out by `t` (`fedsim.net.link.unsent`): the counters minus these are
        what had crossed by `t` (a round's byte delta), and a cut at `t` takes back
        exactly these."""
        if not self._ahead and not self._loose:  # asked of every live channel, every round
            return iter(())
        return unsent_totals(self._bookings(), t)

    def booked_parts_after(
        self, t: float
    ) -> Iterator[tuple[LinkCounters, int, int, list[int], int]]:
        """As `booked_after`, with the wire bytes split by class (`WIRE_PARTS`, summing
        to the wire bytes) and the lost bytes among them."""
        if not self._ahead and not self._loose:
            return iter(())
        return unsent_parts(self._bookings(), t)

    def model_booked_after(self, t: float) -> Iterator[tuple[LinkCounters, int]]:
        """(counters, model bytes) among the bytes `booked_parts_after` lists as data: the
        model counted on a hop that had not gone out there by `t`."""
        if not (self._ahead or self._loose) or not self._carries_model():
            return iter(())  # (asked of every live channel at every round's end)
        return self._model_after(self._pending_bookings(), t)

    def _pending_bookings(self) -> list[Booking]:
        """The bookings of the messages not yet delivered: the stream's last bytes. (A
        delivered message's bookings still to go out, kept loose, carry bytes that
        reached the receiver: they are not the stream's tail.)"""
        return [b for ev, log in self._ahead.items() if ev._value is PENDING for b in log]

    def _carries_model(self) -> bool:
        return bool(self._spans[UP].total or self._spans[DOWN].total)

    def _model_after(self, bookings: list[Booking], t: float) -> Iterator[tuple[LinkCounters, int]]:
        left = unsent_payload(bookings, t)
        for d in (UP, DOWN):
            cs = self._m.paths[d].counters
            yield from model_unsent(self._spans[d], cs, [left.get(id(c), 0) for c in cs])

    def _take_back(self, now: float) -> None:
        """The path broke at `now`: what its bookings had not sent by then is taken back,
        bytes, airtime and the model among those bytes (`fedsim.net.model_spans`). Payload
        stays: it counts what the application handed to the network."""
        bookings = list(self._bookings())
        if self._carries_model():
            for c, model in list(self._model_after(self._pending_bookings(), now)):
                c.model_bytes -= model
        take_back(bookings, now)
        self._ahead.clear()
        self._loose = []
        self._unfired = []

    def _at(self, t: float, fn: Callable[[Any], object]) -> None:
        """`fn(due)` at t, ordered as a SimPy timeout made now (`fedsim.sim_heap`)."""
        call_at(self.env, t, fn)

    def _head(self, ev: simpy.Event, _timeout: simpy.Event) -> None:
        if self._broken is None and ev in self._heads:
            head = self._heads[ev][0]  # type: ignore[index]
            if head._value is PENDING:  # (`not head.triggered`)
                _succeed(self.env, head, None)

    def _finish(self, ev: simpy.Event, value: Any, _timeout: simpy.Event | None = None) -> None:
        log = self._ahead.pop(ev, None)
        if log:  # its last ACKs may still wait for a busy radio
            self._keep_loose(log)
        self._heads.pop(ev, None)
        if self._pending.pop(ev, 0) is None and ev._value is PENDING:  # (`not ev.triggered`)
            _succeed(self.env, ev, value)

    def _syn(self, ev: simpy.Event, k: int, _timeout: simpy.Event | None = None) -> None:
        if ev.triggered or self._broken is not None:
            return
        if self._closed:  # the application gave up on this connect: no SYN after that
            self._pending.pop(ev, None)
            return
        p, now, m = self.params, self.env.now, self._m
        m.log = log = []
        up = self.path[0].link.up
        ok, t = m.handshake(now, resent=k > 0) if up else (False, now)
        if ok:
            self._unfired = self._resend_syns(now, k, t)
            rtt = t - (now if self._syn_echo is None else self._syn_echo)
            for s in self._senders:
                s.rto.sample(rtt)
                s.last_active = t
                s.free_at = t
            booked = len(log)
            # The client's ACK, ahead of any data. On a lossy path it may be lost, a drop
            # on the hop that loses it (packet fidelity's too); nothing waits for it: the
            # data that follows carries the same acknowledgement.
            m.lossy_packet(t, UP, p.ack_bytes)
            self._unfired.append((t, log[booked:]))
            self._senders[UP].free_at = t
            if t > now:
                self._ahead[ev] = log
            m.log = None
            self._at(t, partial(self._connected, ev))
            return
        if up and m.syn_reached and self._syn_echo is None:  # its SYN-ACK was lost
            self._syn_echo = now
        m.log = None  # a SYN that failed went out (or stopped where it was lost) ...
        self._keep_loose(log)  # ... or waits in a busy radio's queue
        wait = p.syn_retry * 2.0**k
        if k + 1 >= p.syn_tries:
            exc = OSError(errno.ETIMEDOUT, f"connect timed out after {k + 1} SYNs")
            self._at(now + wait, partial(self._fail, ev, exc))
        else:
            self._at(now + wait, partial(self._syn, ev, k + 1))

    def _resend_syns(
        self, sent: float, k: int, answered: float
    ) -> list[tuple[float, list[Booking]]]:
        """SYN attempt k, sent at `sent`, is answered at `answered`: a round trip longer
        than its SYN timer (3 s, doubling) sends the SYN again meanwhile, and the server,
        still in SYN_RCVD, answers each with a SYN-ACK (ns-3; packet fidelity does the
        same). Booked ahead as retransmissions, with the handshake's bookings: a cut (the
        run's end included) before a timer fires takes its SYN back, count and bytes
        (`fedsim.net.link.take_back`). The connection is the first SYN's."""
        p, m = self.params, self._m
        log = m.log if m.log is not None else []
        resent = []
        fire = sent + p.syn_retry * 2.0**k
        while fire < answered and k + 1 < p.syn_tries:
            k += 1
            booked = len(log)
            m.handshake(fire, resent=True)
            resent.append((fire, log[booked:]))
            fire += p.syn_retry * 2.0**k
        return resent

    def _give_up_connect(self) -> None:
        """Closed while its handshake is under way (SYN_SENT), as packet fidelity stops
        its SYN timer: the SYNs the timer would still send, their SYN-ACKs and the
        client's final ACK never go out; what of them was booked is taken back."""
        unfired, self._unfired = self._unfired, []
        now = self.env.now
        gone = [b for at, bookings in unfired if at > now for b in bookings]
        if not gone:
            return
        take_back(gone, now)
        ids = {id(b) for b in gone}
        for log in (*self._ahead.values(), self._loose):  # taken back once, not again
            log[:] = [b for b in log if id(b) not in ids]

    def _connected(self, ev: simpy.Event, _timeout: simpy.Event) -> None:
        self._unfired = []
        self.connected = True
        self._finish(ev, None)

    def _fail(self, ev: simpy.Event, exc: BaseException, _timeout: simpy.Event) -> None:
        log = self._ahead.pop(ev, None)
        if log:
            self._keep_loose(log)
        if self._pending.pop(ev, 0) is None and not ev.triggered and not self._closed:
            ev.fail(exc)  # (closed: the application gave up on it; nobody is told)


def _succeed(env: simpy.Environment, ev: simpy.Event, value: Any) -> None:
    """`ev.succeed(value)` from inside a SimPy callback. When nothing else is due at
    this instant, SimPy would process `ev` next: its callbacks run here and now instead,
    in the same order, without a trip through the event heap (one per message)."""
    queue = env._queue  # `env.peek() > env.now`, inline
    if not queue or queue[0][0] > env._now:
        ev._ok = True
        ev._value = value
        callbacks, ev.callbacks = ev.callbacks, None
        try:
            for callback in callbacks:
                callback(ev)
        except StopSimulation:  # `env.run(until=ev)`: as `Environment.step` handles it
            ev.callbacks = callbacks[callbacks.index(callback) + 1 :]
            env.schedule(ev, EventPriority(-1))
            raise
    else:
        ev.succeed(value)


def lossless_transfer_time(
    size_bytes: float,
    bandwidth_bps: float,
    latency_s: float,
    mtu: int = 1500,
    handshake: bool = True,
    params: TcpParams | None = None,
    frame_bits: float = 0.0,
) -> float:
    """Seconds from the sender's first byte (SYN if `handshake`) to the receiver's last.

    The exact formula of the module docstring, evaluated by the same code that
    FlowChannel runs, on a fresh loss-free link (whose every frame is on air
    `frame_bits` / rate beyond its bytes: its kind's per-frame airtime, as a link's
    transmitter books it).
    """
    params = params or TcpParams()
    link = Link(
        "calc",
        "a",
        "b",
        (
            transmitter("a>b", bandwidth_bps, frame_bits),
            transmitter("b>a", bandwidth_bps, frame_bits),
        ),
        latency_s,
        mtu=mtu,
    )
    m = _Model((Hop(link, 0),), np.random.default_rng(0), params)
    s = _Sender(RtoEstimator(params), Cubic(params), float(params.initial_window))
    t = 0.0
    if handshake:
        _, t = m.handshake(0.0)
        s.rto.sample(t)  # as FlowChannel: the handshake's round trip is the first RTT sample
        s.last_active = t
        m.packet(t, UP, params.ack_bytes)
    if size_bytes <= 0:
        return t
    return m.transfer(t, UP, int(size_bytes), s)


def wire_booked_after(channels: Iterable[Any], t: float) -> dict[int, int]:
    """id(LinkCounters) -> wire bytes `channels` booked on those counters for after `t`.

    Both fidelities book ahead of the clock (flow: a whole transfer at once; packet: a
    frame queued behind others); subtracting this from a counter gives the wire bytes
    that had crossed by `t`, which never decreases, even when a later cut takes the
    rest back. A channel without `booked_after` books nothing ahead."""
    out: dict[int, int] = {}
    for channel in channels:
        after = getattr(channel, "booked_after", None)
        if after is None:
            continue
        for c, w, _n in after(t):
            out[id(c)] = out.get(id(c), 0) + w
    return out
