"""Datagrams over a device's path: one datagram is one packet through the same links.

UDP has no connection, no retransmission and no congestion control: what a CoAP
endpoint sends is serialized at each hop's `Transmitter` (so shared media contend
and duty-cycled radios queue it behind their silence, exactly as packet fidelity's
TCP segments are), waits in the hop's drop-tail queue, propagates for latency plus
jitter, and may be lost by the hop's loss model or because the link is down. Its
payload (and model bytes) count once, when first sent, on every hop it can reach, as
TCP counts a message; a copy the application sends again counts in wire and `retx`
bytes only. A datagram lost on a hop's wire is counted as a drop there (links.csv `drops`,
its bytes `lost_bytes`); one a down link or a full queue refuses is `refused` there (never
sent on that hop). Neither is delivered; retransmitting is the application's business.

A `DatagramPath` belongs to one device. The network tracks it among the device's
channels, so a path element going down `break_`s it the way it breaks TCP
channels: what was in flight is lost at the cut instant (nothing arrives over a
path that was down in between), the wire bytes booked past the cut are taken back,
and `on_break` tells the device's socket (an ICMP unreachable, in effect). The
path stays usable afterwards: the next datagram simply tries again.
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import simpy

from fedsim.net.link import Booking, Hop, LinkCounters, take_back, unsent, unsent_parts
from fedsim.net.tcp import reverse_path

__all__ = ["DOWN", "UP", "DatagramPath", "UdpParams"]

UP, DOWN = 0, 1


@dataclass(frozen=True)
class UdpParams:
    header_bytes: int = 28
    """IPv4 (20) + UDP (8) per datagram."""
    framing_bytes: int = 2
    """Link-layer framing per packet, as the TCP model counts it (fedsim.net.tcp)."""

    def max_payload(self, mtu: int) -> int:
        """The largest datagram payload that crosses a link of `mtu` unfragmented."""
        return int(mtu) - self.header_bytes


class _Datagram:
    __slots__ = (
        "alive",
        "booking",
        "d",
        "delivered",
        "doom",
        "hop",
        "left",
        "lost_on",
        "model",
        "parts",
        "payload",
        "resent",
        "wire",
    )

    def __init__(self, payload: int, wire: int, env: simpy.Environment) -> None:
        self.payload = payload
        self.wire = wire
        self.lost_on: LinkCounters | None = None
        self.model = 0
        """Of `payload`, the model's bytes (the ledger's `model_bytes`)."""
        self.parts = (payload, wire - payload, 0, 0)
        """The ledger's classes of `wire` (`fedsim.net.link.WIRE_PARTS`): data and
        headers, or all of it retransmitted (a CoAP resend)."""
        self.resent = 0
        """1 for a copy sent again: each hop it crosses counts a retransmission."""
        self.left = env.event()
        self.delivered = env.event()
        self.alive = True
        self.doom = -1
        """The hop that was down when it was sent: it dies there, whatever that hop's
        state when it arrives (nothing crosses a path that was down meanwhile)."""
        self.d = 0
        self.hop = -1
        """The last hop it went out on (a cut keeps it off those after)."""
        self.booking: Booking | None = None
        """Its frame on that hop while it may not have left yet (a cut takes back the
        part not sent)."""


class DatagramPath:
    """One device's datagrams to (UP) and from (DOWN) the server (module docstring)."""

    def __init__(
        self,
        env: simpy.Environment,
        path: tuple[Hop, ...],
        rng: np.random.Generator,
        params: UdpParams | None = None,
        *,
        track: Callable[[DatagramPath], None] | None = None,
        on_access: Callable[[int, int], None] | None = None,
    ) -> None:
        if not path:
            raise ValueError("a datagram path needs at least one hop")
        self.env = env
        self.rng = rng
        self.params = params or UdpParams()
        self.paths = (tuple(path), reverse_path(tuple(path)))
        self.track = track
        """Called before every send: the network keeps the path among the device's
        live channels (a break forgets them)."""
        self.on_access = on_access
        """(direction, payload bytes) when a datagram is first sent over a path that
        reaches the device's own link: the device's byte count (retransmissions add
        none, as the links' payload)."""
        self.on_break: Callable[[str], None] | None = None
        self._in_flight: dict[_Datagram, None] = {}
        """In sending order (a dict: deterministic iteration, unlike a set)."""
        self._last_arrival = [[0.0] * len(path) for _ in (UP, DOWN)]
        self._on_air: deque[tuple[float, Booking]] = deque()
        """(end of its airtime, booking) of datagrams that may not have left yet."""
        self._owed = ([0] * len(path), [0] * len(path))
        """Per direction and hop: model bytes counted there when sent whose datagram
        never went out there (it died before, or a cut kept it off), not yet carried
        by a copy sent again: the next copies that go out there carry them."""
        self.tracked = False
        self.ended_at: float | None = None
        """Set when the run's window closed (`Network.end_run`): nothing is sent after."""

    @property
    def mtu(self) -> int:
        return min(h.link.mtu for h in self.paths[UP])

    def first_hop_up(self, direction: int) -> bool:
        return self.paths[direction][0].link.up

    def send(
        self, direction: int, nbytes: int, *, retransmission: bool = False, model_bytes: int = 0
    ) -> tuple[simpy.Event, simpy.Event]:
        """Send one datagram of `nbytes` (UDP payload): (left, delivered). `left`
        succeeds when its last bit has left the sender's radio (or it was dropped
        there); `delivered` succeeds when the far end has it, fails with
        ConnectionResetError if a break caught it in flight, never triggers if it
        was lost. `retransmission`: the application is sending this again (links.csv
        counts it on every hop it crosses, as its packet and its `retx` bytes)."""
        if self.ended_at is not None:
            raise OSError(errno.ENETDOWN, f"network down: the run ended at t={self.ended_at:g} s")
        if not self.tracked and self.track is not None:
            self.track(self)
            self.tracked = True
        wire = int(nbytes) + self.params.header_bytes + self.params.framing_bytes
        dg = _Datagram(int(nbytes), wire, self.env)
        dg.model = int(model_bytes)
        dg.d = direction
        if retransmission:
            dg.parts = (0, 0, 0, wire)
            dg.resent = 1
        path = self.paths[direction]
        dg.doom = next((i for i, h in enumerate(path) if not h.link.up), -1)
        if not retransmission:
            self._count_payload(direction, dg)
        self._in_flight[dg] = None
        self._hop(direction, 0, dg)
        return dg.left, dg.delivered

    def _count_payload(self, d: int, dg: _Datagram) -> None:
        """Payload is what the application handed over, once: counted when it is first
        sent, on every hop of its path up to the first one that is down (as TCP counts
        a message on its path when it is written); a retransmission adds wire bytes only
        (`retx`), never payload or model again."""
        path = self.paths[d]
        reach = len(path) if dg.doom < 0 else dg.doom
        for hop in path[:reach]:
            c = hop.link.counters[hop.direction]
            c.payload_bytes += dg.payload
            c.model_bytes += dg.model
        access = 0 if d == UP else len(path) - 1
        if access < reach and self.on_access is not None:
            self.on_access(d, dg.payload)

    def _lose(self, dg: _Datagram, counters: LinkCounters, i: int, refused: bool = False) -> None:
        """`dg` dies at hop `i`: lost on its wire (a drop), or `refused` (its link down,
        its queue full: never sent there). Its model never goes out past it."""
        if refused:
            counters.refused += 1
        else:
            counters.drops += 1
        self._owe(dg, i if refused else i + 1)
        self._in_flight.pop(dg, None)
        if not dg.left.triggered:
            dg.left.succeed()

    def _hop(self, d: int, i: int, dg: _Datagram) -> None:
        if not dg.alive:
            return
        path = self.paths[d]
        hop = path[i]
        link = hop.link
        c = link.counters[hop.direction]
        if not link.up or i == dg.doom:
            self._lose(dg, c, i, refused=True)
            return
        tx = link.tx[hop.direction]
        now = self.env.now
        q = _queue(tx)
        while q and q[0] <= now:
            q.popleft()
        if len(q) > link.queue_limit:
            self._lose(dg, c, i, refused=True)
            return
        start, end = tx.reserve(now, dg.wire * 8.0)
        q.append(end)
        if start > now and c.wake is not None:  # a device's radio waits for the medium, awake
            c.wake(now, end, dg.wire, 1)
        c.wire_bytes += dg.wire
        c.packets += 1
        c.retransmissions += dg.resent
        data, header, control, retx = dg.parts
        c.data_bytes += data
        c.header_bytes += header
        c.control_bytes += control
        c.retx_bytes += retx
        air = self._on_air
        while air and air[0][0] <= now:
            air.popleft()
        if i == 0:
            left = self.env.timeout(end - now)
            left.callbacks.append(lambda _e: dg.left.succeed() if not dg.left.triggered else None)
        if dg.resent and dg.model:  # a copy carries model a first copy never brought here
            owed = self._owed[d]
            paid = min(dg.model, owed[i])
            if paid:
                owed[i] -= paid
                c.model_bytes += paid
        dropped = link.loss[hop.direction].drop(self.rng)
        dg.hop, dg.booking = i, None
        if end > now:
            dg.booking = (
                c,
                start,
                end,
                dg.wire,
                1,
                *dg.parts,
                dg.wire if dropped else 0,
                dg.resent,
            )
            air.append((end, dg.booking))
        if dropped:
            c.lost_bytes += dg.wire
            dg.lost_on = c
            if i == 0:  # it still left the radio at `end`
                c.drops += 1
                self._in_flight.pop(dg, None)
                dg.alive = False
                self._owe(dg, 1)
                return
            self._lose(dg, c, i)
            return
        jitter = 0.0 if link.jitter is None else link.jitter.sample(self.rng)
        arrive = max(end + link.latency_s + jitter, self._last_arrival[d][i])
        self._last_arrival[d][i] = arrive
        to = self.env.timeout(arrive - now)
        if i + 1 < len(path):
            to.callbacks.append(lambda _e: self._hop(d, i + 1, dg))
        else:
            to.callbacks.append(lambda _e: self._arrive(dg))

    def _arrive(self, dg: _Datagram) -> None:
        if not dg.alive:
            return
        self._in_flight.pop(dg, None)
        dg.delivered.succeed(dg.payload)

    # -- what the network calls (the Channel protocol's break and accounting) ---------
    def break_(self, cause: str) -> None:
        """A path element went down: everything in flight is lost now (its senders'
        `left` still fires), the wire bytes booked past now are taken back."""
        self.tracked = False
        now = self.env.now
        cut = [(end, b) for end, b in self._on_air if end > now]
        for d, j, c, model in list(self._model_after(now)):
            c.model_bytes -= model
            self._owed[d][j] += model
        take_back((b for _, b in cut), now)
        for end, b in cut:  # nor do they wait in their transmitter's queue
            tx = b[0].transmitter
            q = _queue(tx) if tx is not None else ()
            if end in q:
                q.remove(end)
        self._on_air.clear()
        for dg in list(self._in_flight):
            dg.alive = False
            if not dg.left.triggered:
                dg.left.succeed()
            dg.delivered.fail(ConnectionResetError(cause))
            dg.delivered.defused = True
        self._in_flight.clear()
        if self.on_break is not None:
            self.on_break(cause)

    def _owe(self, dg: _Datagram, first: int) -> None:
        """A first copy's model, counted on every hop it was to reach, never goes out on
        hops from `first` on: taken back there, owed to a copy sent again."""
        if not dg.model or dg.resent:
            return
        path = self.paths[dg.d]
        reach = len(path) if dg.doom < 0 else dg.doom
        owed = self._owed[dg.d]
        for j in range(first, reach):
            hop = path[j]
            hop.link.counters[hop.direction].model_bytes -= dg.model
            owed[j] += dg.model

    def model_booked_after(self, t: float) -> Iterator[tuple[LinkCounters, int]]:
        """(counters, model bytes) of the datagrams in flight, counted on hops they had
        not gone out on by `t` (counted there when sent: `_count_payload`), and, on the
        hop whose frame had not all left, the model among its bytes not sent (a block's
        model bytes are its last ones: `fedsim.net.model_spans`). A cut takes them back;
        a round ending then leaves them to a later one (`fedsim.record.ledger`)."""
        for _d, _j, c, model in self._model_after(t):
            yield c, model

    def _model_after(self, t: float) -> Iterator[tuple[int, int, LinkCounters, int]]:
        """(direction, hop, its counters, model bytes) of `model_booked_after`."""
        for dg in self._in_flight:
            if not dg.model or dg.resent:
                continue  # a copy sent again counted no model when sent
            path = self.paths[dg.d]
            reach = len(path) if dg.doom < 0 else dg.doom
            for j in range(dg.hop + 1, reach):
                hop = path[j]
                yield dg.d, j, hop.link.counters[hop.direction], dg.model
            got = unsent(dg.booking, t) if dg.booking is not None else None
            if got is not None and got[3][0]:
                yield dg.d, dg.hop, got[0], min(dg.model, got[3][0])

    def close(self) -> None:
        pass

    @property
    def finished(self) -> bool:
        return False  # never done: a break untracks it, the next send tracks it again

    def booked_after(self, t: float) -> Iterator[tuple[LinkCounters, int, int]]:
        """(counters, wire bytes, packets) booked on a transmitter for after `t`."""
        for c, w, n, _parts, _lost in self.booked_parts_after(t):
            yield c, w, n

    def booked_parts_after(
        self, t: float
    ) -> Iterator[tuple[LinkCounters, int, int, list[int], int]]:
        """As `booked_after`, with the wire bytes split by the ledger's classes and the
        lost bytes among them."""
        return unsent_parts((b for end, b in self._on_air if end > t), t)


def _queue(tx: object) -> deque[float]:
    """Departure times of the packets booked on a transmitter (its drop-tail queue),
    shared with packet fidelity's TCP segments on the same transmitter."""
    q = tx.__dict__.get("_pkt_queue")
    if q is None:
        q = tx.__dict__["_pkt_queue"] = deque()
    return q
