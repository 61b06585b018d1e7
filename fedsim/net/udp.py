"""Emulated UDP sockets: where the SimPy datagram paths meet asyncio (as
`net.transport` is for TCP).

Every device has one socket and the server one; a datagram from either crosses the
device's `DatagramPath` (fedsim.net.datagram). `send` returns a future that is
done when the datagram has left the sender's radio: a CoAP endpoint starts its
retransmission timer then, as a radio driver's TX-done interrupt tells firmware
(on a duty-cycled LoRa radio the frame may wait many seconds for its slot first).
Like a real socket, `send` raises `OSError(ENETUNREACH)` while the device's own
link is down and `OSError(EMSGSIZE)` for a datagram larger than the path MTU
allows (no fragmentation). A path that breaks is reported to the device's socket
(`on_error`), as an ICMP unreachable reaches a connected UDP socket.

Bytes are counted as the TCP wire counts them (`Wire.count`: per device and
direction, the battery's radio ledger; `Wire.tap`: the run's evidence).
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Callable
from functools import partial

import simpy

from fedsim.clock import VirtualTimeLoop
from fedsim.net.datagram import DOWN, UP, DatagramPath, UdpParams
from fedsim.net.transport import Wire

__all__ = ["Address", "EmulatedUdpSocket", "UdpWire"]

Address = tuple[str, int]
PathOpener = Callable[[str, Callable[[int, int], None]], DatagramPath]
"""(device, on_access) -> that device's datagram path (Network.datagram_path)."""


class EmulatedUdpSocket:
    """A bound UDP socket on the emulated network (server or one device)."""

    def __init__(self, udp: UdpWire, address: Address, device: str | None) -> None:
        self.udp = udp
        self.address = address
        self.device = device
        """None for the server's socket."""
        self.receiver: Callable[[bytes, Address], None] | None = None
        self.on_error: Callable[[OSError], None] | None = None
        self.closed = False

    def max_payload(self, peer: Address | None = None) -> int:
        """The largest datagram this socket can send to `peer` (a device's: the server)."""
        device = self.device if self.device is not None else peer[0] if peer else None
        if device is None:
            raise ValueError("the server's socket needs a peer to know the path MTU")
        return self.udp.params.max_payload(self.udp.path(device).mtu)

    def send(
        self, data: bytes, peer: Address, *, retransmission: bool = False
    ) -> asyncio.Future[None]:
        """Send one datagram; the future is done when it has left this end's radio.
        `retransmission`: the protocol above sends it again (counted in links.csv)."""
        udp = self.udp
        if self.closed:
            raise OSError(errno.EBADF, "socket is closed")
        device = self.device if self.device is not None else peer[0]
        direction = UP if self.device is not None else DOWN
        path = udp.path(device)
        if direction == UP and not path.first_hop_up(UP):
            first = path.paths[UP][0].link.name
            raise OSError(errno.ENETUNREACH, f"network unreachable: {first} is down")
        if len(data) > udp.params.max_payload(path.mtu):
            raise OSError(errno.EMSGSIZE, f"{len(data)} bytes exceed the path MTU {path.mtu}")
        target = udp.server if direction == UP else udp.sockets.get(peer)
        tap = udp.wire.tap
        mark = tap.mark(device, direction) if tap is not None else 0
        meter = udp.model_meter
        if retransmission:  # the model of the copy's first send (CoAP sends one at a time)
            last = udp.last_model.get((device, direction))
            model = last[1] if last is not None and last[0] == data else 0
        else:
            model = meter(device, direction, data) if meter is not None else 0
            if model:
                udp.last_model[(device, direction)] = (data, model)
            else:
                udp.last_model.pop((device, direction), None)
        left, delivered = path.send(
            direction, len(data), retransmission=retransmission, model_bytes=model
        )
        if tap is not None:  # a copy sent again hands the network no new payload
            tap.sent(device, direction, 0 if retransmission else len(data), mark, delivered)
        loop = udp.loop
        fut: asyncio.Future[None] = loop.create_future()
        left.callbacks.append(lambda _ev: loop.sim_call_soon(_done, fut))
        if target is not None:
            delivered.callbacks.append(partial(_deliver, loop, target, data, self.address))
        return fut

    async def wait_for_slot(self, peer: Address) -> None:
        """Until this device's radio may start a frame: its duty cycle's silence after
        the frames it already sent (no wait on a radio without a duty cycle, or for
        the server)."""
        if self.device is None:
            return
        tx = self.udp.path(self.device).paths[UP][0]
        transmitter = tx.link.tx[tx.direction]
        if transmitter.duty_cycle >= 1.0:
            return
        loop = self.udp.loop
        wait = transmitter.queued_until(loop.time()) - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)

    def close(self) -> None:
        self.closed = True
        self.receiver = None
        self.on_error = None

    # -- on the loop ------------------------------------------------------------------
    def _receive(self, data: bytes, source: Address) -> None:
        if self.receiver is not None:
            self.receiver(data, source)

    def _error(self, exc: OSError) -> None:
        if self.on_error is not None:
            self.on_error(exc)


def _done(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _deliver(
    loop: VirtualTimeLoop,
    target: EmulatedUdpSocket,
    data: bytes,
    source: Address,
    event: simpy.Event,
) -> None:
    if event.ok:
        loop.sim_call_soon(target._receive, data, source)


class UdpWire:
    """The server's and the devices' sockets and their datagram paths."""

    def __init__(
        self,
        loop: VirtualTimeLoop,
        opener: PathOpener,
        wire: Wire,
        server_address: Address,
        params: UdpParams | None = None,
    ) -> None:
        self.loop = loop
        self.opener = opener
        self.wire = wire
        self.params = params or UdpParams()
        self.server = EmulatedUdpSocket(self, server_address, None)
        self.model_meter: Callable[[str, int, bytes], int] | None = None
        """(device, direction, datagram) -> its model bytes, for the byte ledger; set by
        the protocol above (CoAP's), which knows its framing. None: all protocol."""
        self.sockets: dict[Address, EmulatedUdpSocket] = {}
        self.last_model: dict[tuple[str, int], tuple[bytes, int]] = {}
        """Per (device, direction): the last datagram first sent with model bytes, and
        how many: a copy of it sent again carries them where its first copy never went
        (`DatagramPath` counts them once per hop)."""
        self._paths: dict[str, DatagramPath] = {}
        self._next_port = 50000

    def path(self, device: str) -> DatagramPath:
        path = self._paths.get(device)
        if path is None:
            path = self.opener(device, partial(self._count, device))
            path.on_break = partial(self._broken, device)
            self._paths[device] = path
        return path

    def socket(self, device: str) -> EmulatedUdpSocket:
        """A new socket bound on `device` (an ephemeral port)."""
        self._next_port += 1
        sock = EmulatedUdpSocket(self, (device, self._next_port), device)
        self.sockets[sock.address] = sock
        self.path(device)
        return sock

    def _count(self, device: str, direction: int, nbytes: int) -> None:
        self.wire.count(device, direction, nbytes)

    def _broken(self, device: str, cause: str) -> None:
        for sock in list(self.sockets.values()):
            if sock.device == device:
                exc = ConnectionResetError(errno.ECONNRESET, f"path broken: {cause}")
                self.loop.sim_call_soon(sock._error, exc)
