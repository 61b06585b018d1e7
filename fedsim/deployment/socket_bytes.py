"""The bytes a deployed server's connections carry, counted where they cross the socket.

The emulator counts payload as the HTTP bytes the application writes (request and
status lines, headers, bodies, chunk framing). A deployed server sees the same bytes
at its transport: what its protocol receives and what it writes. Counting there,
rather than per request and response object, counts a streamed answer's body (an
upload's or a registration's chunked answer carrying the next task, fl.task_on_answer)
when it is written, and a request when it arrives, not when its answer ends.

Bytes belong to a device once a request on the connection has authenticated as it
(`ConnectionBytes.claim`): what arrived before that (the request's own head and body)
is booked then, what follows is booked as it crosses. Writes belong to the device of
the request being answered (aiohttp answers one request of a connection at a time).
Bytes of connections no device authenticated on (strangers, the operator's status
polls) are not booked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["ConnectionBytes", "connection_bytes", "counted_protocol"]

Book = Callable[[str, int, int], None]
"""book(device, bytes up, bytes down)."""


class ConnectionBytes:
    """One connection's bytes and the device they belong to."""

    __slots__ = ("_book", "_pending_down", "_pending_up", "device", "reading")

    def __init__(self, book: Book) -> None:
        self._book = book
        self._pending_up = 0
        self._pending_down = 0
        self.device: str | None = None
        """The device whose request is (or was last) answered on this connection."""
        self.reading = False
        """A request of `device` is being handled: bytes arriving are its own."""

    def received(self, n: int) -> None:
        if self.reading and self.device is not None:
            self._book(self.device, n, 0)
        else:
            self._pending_up += n

    def written(self, n: int) -> None:
        if self.device is not None:
            self._book(self.device, 0, n)
        else:
            self._pending_down += n

    def claim(self, device: str) -> None:
        """A request authenticated as `device` arrived: what the connection carried
        since the last request is its (its head, what of its body has arrived)."""
        self.device, self.reading = device, True
        up, down = self._pending_up, self._pending_down
        self._pending_up = self._pending_down = 0
        if up or down:
            self._book(device, up, down)

    def handled(self) -> None:
        """The request's handler returned: bytes arriving now belong to the next one."""
        self.reading = False


class _CountingTransport:
    """The transport the HTTP protocol writes to: counts, then passes on."""

    def __init__(self, inner: asyncio.Transport, tally: ConnectionBytes) -> None:
        self._inner = inner
        self.fedsim_bytes = tally

    def write(self, data: Any) -> None:
        self.fedsim_bytes.written(len(data))
        self._inner.write(data)

    def writelines(self, chunks: Iterable[Any]) -> None:
        chunks = list(chunks)
        self.fedsim_bytes.written(sum(len(c) for c in chunks))
        self._inner.writelines(chunks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _CountingProtocol(asyncio.Protocol):
    """Sits between the socket and aiohttp's protocol: counts what arrives."""

    def __init__(self, inner: asyncio.Protocol, book: Book) -> None:
        self._inner = inner
        self._tally = ConnectionBytes(book)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._inner.connection_made(_CountingTransport(transport, self._tally))  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self._tally.received(len(data))
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


def counted_protocol(inner: asyncio.Protocol, book: Book) -> asyncio.Protocol:
    """`inner` (aiohttp's request handler) with its connection's bytes counted."""
    return _CountingProtocol(inner, book)


def connection_bytes(transport: Any) -> ConnectionBytes | None:
    """The tally of a request's connection (None: not a counted connection)."""
    return getattr(transport, "fedsim_bytes", None)
