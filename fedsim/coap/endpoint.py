"""A CoAP endpoint: the message layer of RFC 7252 over any datagram socket.

* Confirmable requests are retransmitted with RFC 7252 section 4.2's timing: the
  first timeout is drawn uniformly from [ACK_TIMEOUT, ACK_TIMEOUT x
  ACK_RANDOM_FACTOR], doubled after each of at most MAX_RETRANSMIT retransmissions,
  and the exchange fails after the last timeout (MAX_TRANSMIT_WAIT in all). A
  timer starts when the socket says the datagram has left. A socket with
  `wait_for_slot` (a duty-cycled radio, fedsim.net.udp) is waited on before every
  transmission, and a retransmission whose ACK arrived during that wait is not sent,
  as a LoRaWAN stack refuses a frame until its duty cycle allows one.
* NSTART = 1: one outstanding interaction per peer at a time (section 4.7).
* Responses are piggybacked on the ACK; separate responses and notifications
  (RFC 7641) arrive as confirmable messages and are acknowledged with an empty ACK,
  or RST when their token is unknown.
* Duplicate confirmable messages (a lost ACK) are answered with the same reply,
  for EXCHANGE_LIFETIME (section 4.5).

Time is `loop.time()` and randomness a seeded numpy generator: under the
virtual-time loop everything here is simulated and deterministic. The endpoint
never reads the wall clock and opens no socket of its own.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from fedsim.coap.message import ACK, CON, EMPTY, NON, RST, CoapFormatError, Message, decode, encode

__all__ = [
    "CoapError",
    "CoapResetError",
    "CoapTimeoutError",
    "DatagramSocket",
    "Endpoint",
    "Params",
]

Address = Hashable
Options = Sequence[tuple[int, bytes]]
Reply = tuple[int, Options, bytes]
"""(code, options, payload) of a response; the endpoint adds type, message id, token."""
Handler = Callable[[Message, Address], Reply]


class DatagramSocket(Protocol):
    """What the endpoint needs of a socket (fedsim.net.udp, or a real UDP transport)."""

    receiver: Callable[[bytes, Address], None] | None
    on_error: Callable[[OSError], None] | None

    def send(self, data: bytes, peer: Address, *, retransmission: bool = False) -> Awaitable[None]:
        """Send one datagram; done when it has left (raises OSError when it cannot).
        `retransmission` marks a copy sent again (for the socket's counters)."""
        ...


@dataclass(frozen=True)
class Params:
    """RFC 7252 section 4.8 transmission parameters (defaults as in the RFC)."""

    ack_timeout: float = 2.0
    ack_random_factor: float = 1.5
    max_retransmit: int = 4
    nstart: int = 1
    max_latency: float = 100.0

    @property
    def max_transmit_span(self) -> float:
        return self.ack_timeout * (2**self.max_retransmit - 1) * self.ack_random_factor

    @property
    def max_transmit_wait(self) -> float:
        return self.ack_timeout * (2 ** (self.max_retransmit + 1) - 1) * self.ack_random_factor

    @property
    def exchange_lifetime(self) -> float:
        """MAX_TRANSMIT_SPAN + 2 MAX_LATENCY + PROCESSING_DELAY (= ACK_TIMEOUT): 247 s."""
        return self.max_transmit_span + 2 * self.max_latency + self.ack_timeout


class CoapError(Exception):
    """A CoAP exchange that did not give a usable response."""


class CoapTimeoutError(CoapError):
    """No ACK after MAX_RETRANSMIT retransmissions: the exchange gave up (RFC 7252
    4.2). Not a `TimeoutError`: no request timeout ran out (the CoAP client has none;
    `fl.request_timeout` is not used), so the run counts it apart, cause `coap_gave_up`
    (fedsim.fl.timeouts), with advice about loss and the retransmission settings."""

    dropout_cause = "coap_gave_up"


class CoapResetError(CoapError):
    """The peer answered RST: it does not know the message."""


class Endpoint:
    """One CoAP endpoint on one socket (module docstring). `handler` answers requests."""

    def __init__(
        self,
        socket: DatagramSocket,
        rng: np.random.Generator,
        params: Params | None = None,
        handler: Handler | None = None,
    ) -> None:
        self.socket = socket
        self.rng = rng
        self.params = params or Params()
        self.handler = handler
        socket.receiver = self.datagram_received
        socket.on_error = self.error_received
        self._mid = int(rng.integers(0, 65536))
        self._token = int(rng.integers(0, 65536))
        self._acks: dict[tuple[Address, int], asyncio.Future[Message]] = {}
        self._waiting: dict[tuple[Address, bytes], asyncio.Future[Message]] = {}
        self._observations: dict[bytes, Callable[[Message], None]] = {}
        self._seen: OrderedDict[tuple[Address, int], tuple[float, bytes | None]] = OrderedDict()
        self._locks: dict[Address, asyncio.Semaphore] = {}
        self.retransmissions = 0
        self.timeouts = 0

    # -- identifiers --------------------------------------------------------------------
    def new_mid(self) -> int:
        self._mid = (self._mid + 1) & 0xFFFF
        return self._mid

    def new_token(self) -> bytes:
        """Two bytes, always (so every message's size is known in advance)."""
        self._token = (self._token + 1) & 0xFFFF
        return self._token.to_bytes(2, "big")

    # -- client side --------------------------------------------------------------------
    async def request(
        self, peer: Address, code: int, options: Options, payload: bytes = b"", token: bytes = b""
    ) -> Message:
        """A confirmable request; its response (piggybacked, or separate)."""
        token = token or self.new_token()
        async with self._lock(peer):
            msg = Message(CON, code, self.new_mid(), token, tuple(options), payload)
            ack = await self.confirm(peer, msg)
            if ack.code != EMPTY:
                return ack
            fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
            self._waiting[(peer, token)] = fut
            try:
                return await asyncio.wait_for(fut, self.params.exchange_lifetime)
            finally:
                self._waiting.pop((peer, token), None)

    def observe(self, token: bytes, callback: Callable[[Message], None]) -> None:
        """Deliver notifications carrying `token` to `callback` (RFC 7641)."""
        self._observations[token] = callback

    def forget(self, token: bytes) -> None:
        """Stop observing: a later notification with `token` is answered RST."""
        self._observations.pop(token, None)

    # -- server side ----------------------------------------------------------------------
    async def notify(
        self, peer: Address, token: bytes, code: int, options: Options, payload: bytes = b""
    ) -> bool:
        """A confirmable notification or separate response; True once acknowledged."""
        async with self._lock(peer):
            msg = Message(CON, code, self.new_mid(), token, tuple(options), payload)
            try:
                await self.confirm(peer, msg)
            except (CoapError, TimeoutError, OSError):
                return False
            return True

    # -- reliability ----------------------------------------------------------------------
    def _lock(self, peer: Address) -> asyncio.Semaphore:
        lock = self._locks.get(peer)
        if lock is None:
            lock = self._locks[peer] = asyncio.Semaphore(self.params.nstart)
        return lock

    async def confirm(self, peer: Address, msg: Message) -> Message:
        """Send a confirmable message until it is acknowledged (section 4.2)."""
        p = self.params
        data = encode(msg)
        key = (peer, msg.mid)
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._acks[key] = fut
        timeout = float(self.rng.uniform(p.ack_timeout, p.ack_timeout * p.ack_random_factor))
        slot = getattr(self.socket, "wait_for_slot", None)
        try:
            for attempt in range(p.max_retransmit + 1):
                if slot is not None:
                    await slot(peer)  # a duty-cycled radio takes the frame when it may send
                if not fut.done():
                    if attempt:
                        self.retransmissions += 1
                    await self.socket.send(data, peer, retransmission=attempt > 0)
                    try:
                        await asyncio.wait_for(asyncio.shield(fut), timeout)
                    except TimeoutError:
                        timeout *= 2
                        continue
                reply = fut.result()
                if reply.mtype == RST:
                    raise CoapResetError(f"{peer} reset message {msg.mid}")
                return reply
            self.timeouts += 1
            raise CoapTimeoutError(
                f"no ACK for message {msg.mid} after {p.max_retransmit} retransmissions"
            )
        finally:
            self._acks.pop(key, None)
            if not fut.done():
                fut.cancel()

    def error_received(self, exc: OSError) -> None:
        """The network reported the path broken: every exchange in progress fails. (Each
        failure is marked seen: an exchange whose task was stopped, e.g. at the run's end,
        has nobody left to read it, and asyncio would print it as never retrieved; a task
        still waiting gets it all the same.)"""
        for fut in list(self._acks.values()) + list(self._waiting.values()):
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()

    # -- receiving ----------------------------------------------------------------------------
    def datagram_received(self, data: bytes, peer: Address) -> None:
        try:
            msg = decode(data)
        except CoapFormatError:
            return  # silently ignored (section 4.2 allows it for malformed messages)
        if msg.mtype in (ACK, RST):
            fut = self._acks.get((peer, msg.mid))
            if fut is not None and not fut.done():
                fut.set_result(msg)
            return
        key = (peer, msg.mid)
        seen = self._seen.get(key)
        if seen is not None:  # a duplicate: the same reply again (a retransmission)
            if seen[1] is not None:
                self._send_quietly(seen[1], peer, retransmission=True)
            return
        if msg.is_request:
            self._answer(msg, peer, key)
            return
        if msg.code == EMPTY:
            return
        waiter = self._waiting.get((peer, msg.token))
        observer = self._observations.get(msg.token)
        known = waiter is not None or observer is not None
        if msg.mtype == CON:
            reply = encode(Message(ACK if known else RST, EMPTY, msg.mid))
            self._remember(key, reply)
            self._send_quietly(reply, peer)
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(msg)
        elif observer is not None:
            observer(msg)

    def _answer(self, msg: Message, peer: Address, key: tuple[Address, int]) -> None:
        if self.handler is None:
            if msg.mtype == CON:
                self._send_quietly(encode(Message(RST, EMPTY, msg.mid)), peer)
            return
        code, options, payload = self.handler(msg, peer)
        if msg.mtype == CON:
            reply = Message(ACK, code, msg.mid, msg.token, tuple(options), payload)
        else:
            reply = Message(NON, code, self.new_mid(), msg.token, tuple(options), payload)
        data = encode(reply)
        self._remember(key, data)
        self._send_quietly(data, peer)

    def _remember(self, key: tuple[Address, int], reply: bytes | None) -> None:
        now = asyncio.get_running_loop().time()
        seen = self._seen
        while seen:
            first = next(iter(seen.values()))
            if first[0] > now:
                break
            seen.popitem(last=False)
        seen[key] = (now + self.params.exchange_lifetime, reply)

    def _send_quietly(self, data: bytes, peer: Address, *, retransmission: bool = False) -> None:
        """An ACK or RST: sent once, never retransmitted, errors ignored (`retransmission`:
        the reply to a duplicate, sent again)."""
        try:
            sent = self.socket.send(data, peer, retransmission=retransmission)
        except OSError:
            return
        if isinstance(sent, asyncio.Future):
            sent.add_done_callback(_consume)


def _consume(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled():
        fut.exception()
