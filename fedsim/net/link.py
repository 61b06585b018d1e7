"""A link between two nodes: a transmitter per direction, propagation delay, loss.

Serialization (a rate) and propagation (a delay) are separate, as in ns.py's
`Port` and `Wire`. A `Transmitter` is the thing that serializes bits; links on a
shared medium (a Wi-Fi cell, a LoRa channel, a gateway's backhaul) share one
transmitter object, so contention needs no extra machinery.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import ClassVar, Protocol

import numpy as np

from fedsim.net.bookings import GapIndex, ReadyFrontier

__all__ = [
    "WIRE_PARTS",
    "Booked",
    "Booking",
    "FramedTransmitter",
    "Hop",
    "Jitter",
    "Link",
    "LinkCounters",
    "LossModel",
    "NoLoss",
    "Transmitter",
    "dropped_unsent",
    "resent_unsent",
    "split_taken",
    "take_back",
    "transmitter",
    "unsent",
    "unsent_parts",
    "unsent_totals",
]

WIRE_PARTS = ("data_bytes", "header_bytes", "control_bytes", "retx_bytes")
"""The classes of wire bytes: they sum to `LinkCounters.wire_bytes`."""


class LossModel(Protocol):
    """Decides, per packet, whether it is lost. Stateful models keep their own state."""

    def drop(self, rng: np.random.Generator) -> bool: ...

    @property
    def mean_rate(self) -> float:
        """Long-run fraction of packets lost (for the flow model's expectations)."""
        ...


class Jitter(Protocol):
    """Extra one-way delay per packet or message, in seconds (never negative)."""

    def sample(self, rng: np.random.Generator) -> float: ...


class NoLoss:
    """The loss model of a perfect link."""

    mean_rate = 0.0

    def drop(self, rng: np.random.Generator) -> bool:
        return False


@dataclass
class Transmitter:
    """Serializes bits at `rate_bps`, one frame at a time. Shared by every link of a
    medium.

    The flow fidelity books whole congestion windows ahead of time, so bookings
    are intervals: a transfer takes the first idle gap at or after the time it is
    ready, instead of queueing behind a slow flow's future rounds (a 100 kbit/s
    sensor flow must not hold a 1 Gbit/s backbone idle for a minute).
    A duty-cycled radio instead serves frames in the order they became ready (its
    MAC queue): a frame ready at t waits for every frame ready before t, so an ACK
    queues behind retransmissions already waiting, as in packet fidelity.
    `busy_until` is the end of the last booking.
    """

    name: str
    rate_bps: float
    busy_until: float = 0.0
    busy_time: float = 0.0
    held_time: float = 0.0
    """Seconds of the medium its bookings hold (airtime / duty cycle), less what cuts
    released: what `busy_time` went out holds, so held_time x duty_cycle = busy_time
    (the auditor's `held-matches-busy`: a cut that refunds airtime but keeps the medium
    booked breaks it)."""
    held_past_end: float = 0.0
    """Of `held_time`, what lies past the run's end (set when the run's window closes,
    `Network.end_run`): the rest of the hold of a transmission on air or just sent
    then (a duty-cycled radio's silence after it); the rest fits in the run."""
    duty_cycle: float = 1.0
    """Fraction of time a sender may occupy the medium (LoRa's 1 %): after a frame of
    airtime a, the transmitter stays silent for a * (1/duty_cycle - 1)."""
    frame_bits: float = 0.0
    """Airtime of a frame beyond its wire bytes, as bits at `rate_bps`: its link kind's
    per-frame part from the radio's `RadioProfile` (Wi-Fi: inter-frame spaces, backoff,
    PLCP, MAC ACK and 36 B of MAC framing; Ethernet's 38 B; LoRa: preamble, PHY and MAC
    headers, CRC and the formula's rounding), so the network books what the energy
    ledger charges. A frame of b wire bytes is on air (8 b + frame_bits) / rate_bps
    (`airtime`); 0 on a point-to-point link (`wired`, `backhaul`)."""
    clock: Callable[[], float] | None = field(default=None, repr=False)
    """The simulation clock (SimPy's `now`). Only bookings that ended before it are
    history: the flow fidelity books ahead of the clock, so a caller's `now` may be
    in the future of other channels' bookings. Without a clock nothing is forgotten."""
    _gaps: GapIndex = field(default_factory=GapIndex, repr=False)
    _frontier: ReadyFrontier = field(default_factory=ReadyFrontier, repr=False)
    """Duty-cycled only: (ready time, end) of the bookings that bound the MAC queue."""
    _held: list[tuple[float, float]] = field(default_factory=list, repr=False)
    """Duty-cycled only: (end, ready time) of every live booking, by end: the frontier
    is rebuilt from them when a release shortens one (`give_back`)."""
    framed: ClassVar[bool] = False
    """Each frame's `frame_bits` are booked beyond its bytes (`FramedTransmitter`)."""

    def airtime(self, nbytes: float, frames: float) -> float:
        """Seconds on air of `frames` frames carrying `nbytes` wire bytes in all."""
        return (nbytes * 8.0 + frames * self.frame_bits) / self.rate_bps

    def reserve(self, now: float, nbits: float, frames: int = 1) -> tuple[float, float]:
        """Book the airtime of `frames` frames carrying `nbits` wire bits at the first gap
        from `now`; return (start, end). Callers book at or after the simulation clock
        (what the clock forgot is over). (`frames` matters to a `FramedTransmitter`.)"""
        if self.framed:  # (here, not in an override: a second frame for every booking)
            nbits = nbits + frames * self.frame_bits
        airtime = nbits / self.rate_bps
        dc = self.duty_cycle
        hold = airtime / dc
        gaps = self._gaps
        if dc >= 1.0 and self.clock is not None:  # the common case, in two calls
            start = gaps.book_since(self.clock(), now, hold)
            stop = start + hold
            if stop > self.busy_until:
                self.busy_until = stop
            self.busy_time += airtime
            self.held_time += hold
            return start, start + airtime
        if self.clock is not None:  # `_forget`, inline: this runs for every flight
            t = self.clock()
            gaps.forget(t)
            if dc < 1.0:
                self._frontier.forget(t)
                self._forget_held(t)
        start = gaps.book(now if dc >= 1.0 else self.queued_until(now), hold)
        stop = start + hold
        if stop > self.busy_until:
            self.busy_until = stop
        self.busy_time += airtime
        self.held_time += hold
        if dc < 1.0:
            self._frontier.add(now, stop)
            insort(self._held, (stop, now))
        return start, start + airtime

    def give_back(
        self,
        start: float,
        nbits: float,
        unsent_bits: float,
        now: float,
        frames: int = 1,
        unsent_frames: int = 1,
    ) -> None:
        """Of the booking `reserve` made at `start` for `nbits` in `frames` frames, the
        last `unsent_bits` (`unsent_frames` whole frames) never went out (a cut at `now`):
        their airtime leaves `busy_time` (a frame started keeps its own overhead, as the
        energy ledger keeps it), and the medium
        is idle again from where the sent part's hold ends (a duty-cycled sender stays
        silent only after what it sent) to the booking's end; what of that lies before
        `now` is history (nobody books it). `busy_until` keeps the latest end booked."""
        if unsent_bits <= 0.0:
            return
        rate, dc, fbits = self.rate_bps, self.duty_cycle, self.frame_bits
        if fbits:
            nbits += frames * fbits
            unsent_bits += unsent_frames * fbits
        hold = nbits / rate / dc
        stop = start + hold  # `reserve`'s own arithmetic: the booked end
        unsent = unsent_bits / rate
        self.busy_time = max(0.0, self.busy_time - unsent)  # no -1e-21
        freed = hold if unsent_bits >= nbits else min(hold, unsent / dc)
        # (from durations, not `stop - cut`: at a large clock that difference carries the
        # clock's rounding, ~1e-9 s at 10^7 s, into a ledger of short holds)
        self.held_time = max(0.0, self.held_time - freed)
        cut = start if unsent_bits >= nbits else max(start, stop - unsent / dc)
        if cut < now:
            cut = now
        if cut >= stop:
            return
        self._gaps.release(cut, stop)
        if dc < 1.0:
            held = self._held
            i = bisect_left(held, (stop, -math.inf))
            if i < len(held) and held[i][0] == stop:
                ready = held.pop(i)[1]
                if cut > start:
                    insort(held, (cut, ready))
                self._frontier.rebuild((r, e) for e, r in sorted(held, key=itemgetter(1)))

    def held_after(self, t: float) -> float:
        """Seconds of the medium its bookings hold after `t` (once, at the run's end)."""
        return sum(e - max(s, t) for s, e in self._gaps.intervals() if e > t)

    def _forget_held(self, t: float) -> None:
        held = self._held
        if held and held[0][0] <= t:
            del held[: bisect_right(held, (t, math.inf))]

    def _forget(self) -> None:
        """Drop the bookings that ended before the simulation clock."""
        if self.clock is None:
            return
        t = self.clock()
        self._gaps.forget(t)
        if self.duty_cycle < 1.0:
            self._frontier.forget(t)
            self._forget_held(t)

    def queued_until(self, now: float) -> float:
        """Duty-cycled: when the frames that were ready by `now` have all been sent (or
        `now`); a frame ready at `now` waits until then (the radio's MAC queue)."""
        return self._frontier.queued_until(now)


@dataclass
class FramedTransmitter(Transmitter):
    """A radio whose every frame is on air for a fixed time beyond its bytes (Wi-Fi's
    inter-frame spaces and MAC framing, LoRa's preamble and headers: `frame_bits`). A
    subclass, so that every other transmitter's `reserve`, which every flight crosses,
    pays only a test of a class attribute for it (`Transmitter.reserve`)."""

    framed: ClassVar[bool] = True


def transmitter(
    name: str, rate_bps: float, frame_bits: float = 0.0, **kwargs: object
) -> Transmitter:
    """A `Transmitter`, or a `FramedTransmitter` when frames carry fixed airtime."""
    kind = FramedTransmitter if frame_bits else Transmitter
    return kind(name, rate_bps, frame_bits=frame_bits, **kwargs)  # type: ignore[arg-type]


@dataclass(slots=True)  # (two per link, a link per device: no __dict__ each)
class LinkCounters:
    """What crossed one direction of a link."""

    payload_bytes: int = 0
    """Application bytes (HTTP headers and bodies) carried."""
    wire_bytes: int = 0
    """Bytes on the wire: payload plus TCP/IP headers, handshakes, ACKs, retransmissions."""
    packets: int = 0
    retransmissions: int = 0
    """Of `packets`, those sent again (TCP data segments and SYNs, CoAP datagrams):
    counted on every hop the copy crosses, where its packet and its bytes are counted
    and taken back with them, so a row's `retx_bytes` are its retransmissions' bytes."""
    drops: int = 0
    """Of `packets`, those lost on this hop's wire (the loss model's): their bytes are
    `lost_bytes`."""
    refused: int = 0
    """Packets that never went out on this hop: its link down, or its drop-tail queue
    full. Not sent, so in neither `packets` nor `drops`, and carrying no bytes."""
    # The byte ledger (fedsim.record.ledger), classified where the bytes are counted:
    # data + header + control + retx == wire_bytes, model <= data + retx, lost <= wire.
    model_bytes: int = 0
    """Of payload_bytes, the model envelopes' encoded tensors that went out on this hop
    (a cut takes back those it kept off it: `fedsim.net.model_spans`); the rest is
    protocol: HTTP heads, polls, registrations, status, envelope headers."""
    data_bytes: int = 0
    """Payload carried by first transmissions of data segments on this hop."""
    header_bytes: int = 0
    """TCP/IP headers and framing of those segments."""
    control_bytes: int = 0
    """Packets without data: SYN, SYN-ACK, ACKs, FIN."""
    retx_bytes: int = 0
    """Data segments sent again, headers included."""
    lost_bytes: int = 0
    """Of wire_bytes, what was lost on this hop: the bytes of its `drops`."""
    transmitter: Transmitter | None = field(default=None, repr=False, compare=False)
    """The transmitter these frames were booked on (its link sets it): a take-back
    gives their airtime back."""
    wake: ClassVar[Callable[[float, float, int, int], None] | None] = None
    """Where a booking's (ready, last frame out, wire bytes, frames) is reported: a
    device's own link sets it (fedsim.net.metered); elsewhere nothing listens."""

    def count_frames(self, wire_bytes: int, packets: int) -> None:
        """`packets` frames of `wire_bytes` in all went on the wire (a metered subclass
        reports them in one call)."""
        self.wire_bytes += wire_bytes
        self.packets += packets


@dataclass
class Link:
    """A bidirectional link `a <-> b`. Direction 0 is a -> b, direction 1 is b -> a."""

    name: str
    a: str
    b: str
    tx: tuple[Transmitter, Transmitter]
    latency_s: float
    mtu: int = 1500
    loss: tuple[LossModel, LossModel] = (NoLoss(), NoLoss())
    jitter: Jitter | None = None
    queue_limit: int = 100
    """Drop-tail queue limit in packets. Packet fidelity counts the frames queued; flow
    fidelity applies it on duty-cycled radios only, in full-size frame holds."""
    kind: str = "wired"
    down_causes: set[str] = field(default_factory=set)
    """Why the link is unusable now (its own outage, an endpoint node down, a
    partition). The network model owns this set; the link is up iff it is empty."""
    down_log: list[list[float | None]] = field(default_factory=list)
    """[start, end] of every interval the link was down (end None while it is)."""
    down_time: float = 0.0
    """Seconds down within the run, set by `Network.finish(end)` from `down_log`."""
    counters: tuple[LinkCounters, LinkCounters] = field(
        default_factory=lambda: (LinkCounters(), LinkCounters())
    )

    def __post_init__(self) -> None:
        for counters, tx in zip(self.counters, self.tx, strict=True):
            counters.transmitter = tx

    @property
    def up(self) -> bool:
        return not self.down_causes

    def bandwidth(self, direction: int) -> float:
        return self.tx[direction].rate_bps


@dataclass(frozen=True)
class Hop:
    """One step of a path: a link crossed in a direction (0: a -> b, 1: b -> a)."""

    link: Link
    direction: int


def split_taken(total: int, parts: tuple[int, ...], frac: float) -> list[int]:
    """`parts` (summing to what was booked) scaled by `frac`, rounded so that they sum to
    `total` exactly (the rounding remainder goes to the largest part): a take-back keeps
    the wire classes summing to the wire bytes."""
    out = [round(x * frac) for x in parts]
    rest = total - sum(out)
    if rest:
        i = max(range(len(parts)), key=lambda k: parts[k])
        out[i] += rest
    return out


Booked = tuple["LinkCounters", int, int, list[int], int]
"""What a channel booked on a link direction for after some instant: (counters, wire
bytes, packets, the wire bytes by `WIRE_PARTS`, the lost bytes among them)."""

Booking = (
    tuple["LinkCounters", float, float, int, int, int, int, int, int, int, int]
    | tuple["LinkCounters", float, float, int, int, int, int, int, int, int, int, int]
)
"""One `Transmitter.reserve` a channel made, as it counted it: (the counters of the link
direction, the start `reserve` returned, when its last frame had left, wire bytes (it
booked their airtime), frames (each one's fixed airtime too, `frame_bits`), and those wire bytes
by `WIRE_PARTS` (data, header,
control, retx), the lost bytes among them, and of its frames those sent again (its
retransmissions), and, on a booking of several frames some of which were lost, how
many (one frame's booking with lost bytes lost one: `dropped_unsent`). Its frames leave
between its start and
their end; a hop after the first books a block when its first frame arrives, and sends
each frame no earlier than it arrives, so its frames may end after its airtime does.
Bytes, airtime and the booked interval of what a cut takes back all come from it
(`unsent`, `take_back`), so they cannot disagree."""


def _unsent_share(booking: Booking, t: float) -> tuple[float, int] | None:
    """(share of `booking`'s bytes not sent by t, its frames not started by t), or None
    when all of it had gone out. Its frames leave evenly between its start and end; on
    a duty-cycled radio each holds the medium for its airtime, then is silent (a frame
    sent keeps its silence): what is not sent is the frames, or the part of one, still
    to go."""
    c, start, done, wire, frames = booking[:5]
    if t <= start:
        return 1.0, frames
    if done <= t:
        return None
    tx = c.transmitter
    if tx is None or tx.duty_cycle >= 1.0 or frames <= 1:
        gone = (
            frames if frames <= 1 else min(frames, math.ceil((t - start) / (done - start) * frames))
        )
        return (done - t) / (done - start), frames - gone
    air = tx.airtime(wire, frames) / frames  # a frame's airtime
    period = (done - air - start) / (frames - 1)  # from a frame's start to the next's
    x = t - start
    k = min(frames - 1, int(x // period)) if period > 0.0 else frames - 1
    y = x - k * period
    left = (frames - k - 1) / frames + max(0.0, air - y) / (air * frames)
    return left, frames - k - (1 if y > 0.0 else 0)


def unsent(booking: Booking, t: float) -> Booked | None:
    """What of `booking` had not gone out by t (None: all of it had): its share of the
    bytes (`_unsent_share`), the classes scaled to sum to them. A frame not started by t
    is a packet not sent."""
    share = _unsent_share(booking, t)
    if share is None:
        return None
    left, n = share
    c, _start, _done, wire, _frames, data, header, control, retx, lost = booking[:10]
    taken = round(wire * left)
    parts = split_taken(taken, (data, header, control, retx), left)
    return c, taken, n, parts, min(round(lost * left), taken)


def unsent_parts(bookings: Iterable[Booking], t: float) -> Iterator[Booked]:
    """`unsent` of each booking that had not all gone out by t."""
    for booking in bookings:
        got = unsent(booking, t)
        if got is not None:
            yield got


def unsent_totals(bookings: Iterable[Booking], t: float) -> Iterator[tuple[LinkCounters, int, int]]:
    """(counters, wire bytes, packets) of `unsent_parts`, without the classes."""
    for booking in bookings:
        share = _unsent_share(booking, t)
        if share is not None:
            yield booking[0], round(booking[3] * share[0]), share[1]


def resent_unsent(booking: Booking, frames_unsent: int, retx_unsent: int) -> int:
    """Of `booking`'s retransmissions, those among its `frames_unsent` frames not sent,
    whose `retx_unsent` retx bytes are taken back. A block's copies may lie anywhere in
    it: the share of its frames, bounded so that what stays is self-consistent (no more
    retransmissions than packets; some while retx bytes stay, none once they are gone)."""
    resent = booking[10]
    if not resent:
        return 0
    retx = booking[8]
    if retx and retx_unsent >= retx:  # its copies' bytes all go: so do the copies
        return resent
    frames = booking[4]
    low = max(0, resent - (frames - frames_unsent))  # the frames that stay are enough
    high = resent - 1 if retx else resent  # retx bytes stay: one copy stays with them
    return min(high, max(low, round(resent * frames_unsent / frames)))


def dropped_unsent(booking: Booking, frames_unsent: int, lost_unsent: int) -> int:
    """Of `booking`'s drops (frames lost on its wire), those among its `frames_unsent`
    frames not sent, whose `lost_unsent` lost bytes are taken back: bounded as
    `resent_unsent` is, so that what stays reconciles (no more drops than packets; some
    while lost bytes stay, none once they are gone)."""
    lost = booking[9]
    if not lost:
        return 0
    dropped = booking[11] if len(booking) > 11 else 1
    if lost_unsent >= lost:  # its lost bytes all go: so do its drops
        return dropped
    frames = booking[4]
    low = max(0, dropped - (frames - frames_unsent))  # the frames that stay are enough
    return min(dropped - 1, max(low, round(dropped * frames_unsent / frames)))


def take_back(bookings: Iterable[Booking], now: float) -> None:
    """A path broke at `now`: what its channel had booked for after it never went out.
    Per booking, the part `unsent` leaves the counters (its retransmissions too:
    `resent_unsent`) and its airtime the transmitter (`Transmitter.give_back`). Payload
    stays (it counts what the application handed to the network)."""
    for booking in list(bookings):
        got = unsent(booking, now)
        if got is None:
            continue
        c, w, n, parts, lost = got
        tx = c.transmitter
        if tx is not None:  # the frames never went out: nor did their airtime
            tx.give_back(booking[1], booking[3] * 8.0, w * 8.0, now, booking[4], n)
        c.wire_bytes -= w
        c.packets -= n
        c.retransmissions -= resent_unsent(booking, n, parts[3])
        c.data_bytes -= parts[0]
        c.header_bytes -= parts[1]
        c.control_bytes -= parts[2]
        c.retx_bytes -= parts[3]
        c.lost_bytes -= lost
        c.drops -= dropped_unsent(booking, n, lost)
