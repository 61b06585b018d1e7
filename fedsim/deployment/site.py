"""The listening socket of a deployed server, with bounds on connections.

aiohttp already closes a connection that sends no complete request within its
keep-alive timeout (a half-sent header); `read_bounded` times out half-sent
bodies. What is left is the number of connections: beyond `max_connections` a
new connection gets a one-line JSON 503 and is closed, so a flood of sockets
costs the server a file descriptor for a moment, not memory for ever.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

__all__ = ["GuardedSite", "ServerLimits"]


@dataclass(frozen=True)
class ServerLimits:
    """What one deployed server will hold at once."""

    max_connections: int = 4096
    idle_timeout_s: float = 15.0
    """A connection that sends no complete request for this long is closed."""
    max_clients: int | None = None
    """Registrations held (None: the topology's device count)."""


_BUSY = json.dumps({"error": "too many connections; retry later", "status": 503}).encode()
_BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Retry-After: 5\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
) % (len(_BUSY), _BUSY)


class _Refuse(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_BUSY_RESPONSE)
        transport.close()


class GuardedSite(web.TCPSite):
    """A TCPSite that refuses connections beyond `max_connections`."""

    def __init__(
        self,
        runner: web.AppRunner,
        host: str,
        port: int,
        *,
        max_connections: int,
        ssl_context: ssl.SSLContext | None = None,
        wrap: Callable[[asyncio.Protocol], asyncio.Protocol] | None = None,
    ) -> None:
        super().__init__(runner, host, port, ssl_context=ssl_context)
        self.max_connections = max_connections
        self.wrap = wrap
        """Wraps each accepted connection's protocol (the results count its bytes)."""
        self.refused = 0

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None

        def factory() -> Any:
            if len(server.connections) >= self.max_connections:
                self.refused += 1
                return _Refuse()
            return server() if self.wrap is None else self.wrap(server())

        self._server = await loop.create_server(
            factory,
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port
