"""asyncio streams over the emulated wire, for libraries that open their own sockets.

aiohttp takes a connector; other asyncio libraries (amqtt, for MQTT) call
`asyncio.start_server` and `asyncio.open_connection`, which go through the loop's
public `create_server` and `create_connection`. `hook_streams` replaces those two on
one loop instance: a server listens on the `Wire` at its node, and a connection is
opened from the node named by `CONNECTING_NODE` (a context variable each device's
task sets, since the loop cannot know whose task connects). The server node's own
connections (the FL server's client of an in-process broker) take a loopback channel:
no network, no bytes counted.
"""

from __future__ import annotations

import contextvars
from typing import Any

import simpy

from fedsim.clock import VirtualTimeLoop
from fedsim.net.transport import Wire

__all__ = ["CONNECTING_NODE", "EmulatedServer", "LoopbackChannel", "hook_streams"]

CONNECTING_NODE: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "connecting_node", default=None
)
"""The node whose task opens a connection; None: the server node itself (loopback)."""


class LoopbackChannel:
    """A channel inside one host: everything arrives at once (the `Channel` protocol)."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self._closed = False

    def connect(self) -> simpy.Event:
        return self.env.timeout(0)

    def send(self, direction: int, nbytes: int) -> simpy.Event:
        return self.env.timeout(0)

    def break_(self, cause: str) -> None:
        pass

    def close(self) -> None:
        self._closed = True

    def head(self, event: simpy.Event) -> None:
        return None

    @property
    def finished(self) -> bool:
        """Closed (nothing is ever in flight); never broken: no link can cut it."""
        return self._closed


class EmulatedServer:
    """What `asyncio.start_server` returns, for a listener on the emulated wire."""

    sockets = ()

    def __init__(self, wires: tuple[Wire, ...], host: str, port: int) -> None:
        self.wires, self.host, self.port = wires, host, port

    def close(self) -> None:
        for wire in self.wires:
            wire.unlisten(self.host, self.port)

    async def wait_closed(self) -> None:
        pass

    def is_serving(self) -> bool:
        return True

    async def start_serving(self) -> None:
        pass

    async def serve_forever(self) -> None:
        raise NotImplementedError("an emulated server serves as long as it listens")


def hook_streams(loop: VirtualTimeLoop, wire: Wire, server_node: str) -> None:
    """Route the loop's `create_server` / `create_connection` onto `wire`."""
    loopback = Wire(loop, lambda _client, _server: (LoopbackChannel(loop.env), 0.0))

    async def create_server(factory: Any, host: str, port: int, **_kw: Any) -> EmulatedServer:
        for w in (wire, loopback):
            w.listen(host, port, server_node, factory)
        return EmulatedServer((wire, loopback), host, port)

    async def create_connection(factory: Any, host: str, port: int, **_kw: Any) -> Any:
        made: list[Any] = []

        node = CONNECTING_NODE.get()

        def recording() -> Any:
            proto = factory()
            connection_made = proto.connection_made

            def made_with(transport: Any) -> None:
                made.append(transport)
                connection_made(transport)

            proto.connection_made = made_with
            see = wire.device_receivers.get(node) if node is not None else None
            if see is not None:
                received = proto.data_received

                def data_received(data: bytes) -> None:
                    see(data)
                    received(data)

                proto.data_received = data_received
            return proto

        via = loopback if node is None else wire
        proto = await via.connect(node or server_node, host, port, recording)
        return made[0], proto

    loop.create_server = create_server  # type: ignore[method-assign]
    loop.create_connection = create_connection  # type: ignore[method-assign]
