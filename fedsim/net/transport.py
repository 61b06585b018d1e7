"""The only place SimPy and aiohttp meet: byte streams carried by the network model.

Clients use `EmulatedConnector` (a `BaseConnector` that implements
`_create_connection`, as aiohttp's `UnixConnector` does, and keeps idle connections
alive on the simulated clock, not aiohttp's wall clock); the server listens with
`EmulatedSite` (a `BaseSite` that hands `runner.server`, a protocol factory, to
the wire). Between them, each TCP connection is a pair of `EmulatedTransport`s
over one `Channel` from the network model. A write becomes one `channel.send`;
its SimPy event is bridged to asyncio once, when the receiver has the last byte.

Failures look real: a refused or unreachable connect is `ClientConnectorError`;
a path that breaks gives both protocols `connection_lost(ConnectionResetError)`,
which aiohttp turns into `ClientOSError`, `ServerDisconnectedError` or
`ClientPayloadError` on the client and an aborted request on the server.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

import aiohttp
import simpy
from aiohttp import web
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ConnectionKey

from fedsim.clock import VirtualTimeLoop, sim_event_to_future
from fedsim.net.channel import DOWN, UP, Channel
from fedsim.net.http_bytes import ModelBytes

__all__ = [
    "EmulatedConnection",
    "EmulatedConnector",
    "EmulatedSite",
    "EmulatedTransport",
    "ModelMeter",
    "Wire",
]

ProtocolFactory = Callable[[], asyncio.Protocol]
ChannelOpener = Callable[[str, str], tuple[Channel, float]]
"""(client node, server node) -> (a new channel, one-way path latency in s)."""

_HIGH_WATER = 64 * 1024


class MessageTap(Protocol):
    """What a recorder of every message on the wire implements (fedsim.net.evidence)."""

    def mark(self, node: str, direction: int) -> int: ...

    def sent(self, node: str, direction: int, nbytes: int, mark: int, event: Any) -> None: ...


class ModelMeter(Protocol):
    """Counts the model bytes (encoded tensors) in each write of one direction."""

    def count(self, chunk: bytes) -> int: ...


class EmulatedTransport(asyncio.Transport):
    """One end of an emulated TCP connection."""

    __slots__ = (
        "_closing",
        "_conn",
        "_flush_scheduled",
        "_held",
        "_held_eof",
        "_lost",
        "_paused_reading",
        "_protocol",
        "_side",
        "_wbuf",
        "_wbuf_size",
        "_writing_paused",
    )  # two per live connection, one per device kept alive: no __dict__ each

    def __init__(self, conn: EmulatedConnection, side: int, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self._conn = conn
        self._side = side  # the direction this end sends in: UP (client) or DOWN (server)
        self._protocol = protocol
        self._closing = False
        self._lost = False
        self._paused_reading = False
        self._held: list[bytes] = []  # arrived while reading was paused (a list: ~60 bytes
        # empty where a deque takes ~700, per transport of every device; rarely more than one)
        self._held_eof = False
        self._writing_paused = False
        self._wbuf: list[bytes] = []
        self._wbuf_size = 0
        self._flush_scheduled = False

    # -- asyncio.Transport ------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self._lost or not data:
            return
        # Writes of one loop turn (aiohttp's headers, then body) leave as one message,
        # like a corked socket: one network transfer, one bridge back to asyncio.
        self._wbuf.append(bytes(data))
        self._wbuf_size += len(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._conn.loop.call_soon(self._flush)
        if (
            not self._writing_paused
            and self._conn.in_flight[self._side] + self._wbuf_size > _HIGH_WATER
        ):  # (`get_write_buffer_size`, inline: every write asks)
            self._writing_paused = True
            self._protocol.pause_writing()

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._wbuf or self._lost:
            return
        chunk = self._wbuf[0] if len(self._wbuf) == 1 else b"".join(self._wbuf)
        self._wbuf.clear()
        self._wbuf_size = 0
        self._conn.send(self._side, chunk)

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        if not self._closing:
            self._flush()
            self._conn.send_eof(self._side)

    def is_closing(self) -> bool:
        return self._closing or self._lost

    def close(self) -> None:
        if self._closing or self._lost:
            return
        self._flush()
        self._closing = True
        self._conn.send_eof(self._side)
        self._conn.loop.call_soon(self._connection_lost, None)

    def abort(self) -> None:
        if self._lost:
            return
        self._wbuf.clear()
        self._closing = True
        self._conn.reset_from(self._side)
        self._conn.loop.call_soon(self._connection_lost, None)

    def pause_reading(self) -> None:
        self._paused_reading = True

    def resume_reading(self) -> None:
        if not self._paused_reading:
            return
        self._paused_reading = False
        while self._held and not self._paused_reading and not self._lost:
            self._protocol.data_received(self._held.pop(0))
        if self._held_eof and not self._held and not self._paused_reading:
            self._held_eof = False
            self._eof_received()

    def is_reading(self) -> bool:
        return not self._paused_reading

    def get_write_buffer_size(self) -> int:
        return self._conn.in_flight[self._side] + self._wbuf_size

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return _HIGH_WATER // 4, _HIGH_WATER

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass  # fixed limits; the network model paces the sender

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return self._conn.peer_address(self._side)
        if name == "sockname":
            return self._conn.own_address(self._side)
        return default  # no socket, no TLS

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol  # type: ignore[assignment]

    # -- called by the connection, on the loop -----------------------------------
    def _data_received(self, data: bytes) -> None:
        if self._lost:
            return
        if self._paused_reading:
            self._held.append(data)
        else:
            self._protocol.data_received(data)

    def _eof_received(self) -> None:
        if self._lost:
            return
        if self._paused_reading and self._held:
            self._held_eof = True
            return
        keep_open = self._protocol.eof_received()
        if not keep_open:
            # As asyncio's socket transports do: close, and report the loss next turn.
            self._closing = True
            self._conn.loop.call_soon(self._connection_lost, None)

    def _drained(self) -> None:
        if self._writing_paused and self.get_write_buffer_size() <= _HIGH_WATER // 4:
            self._writing_paused = False
            self._protocol.resume_writing()

    def _connection_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._closing = True
        self._conn.end_lost(self._side)
        self._protocol.connection_lost(exc)


class EmulatedConnection:
    """A client/server transport pair over one network channel."""

    __slots__ = (
        "_count_model",
        "_eof_after",
        "_head_given",
        "_head_of",
        "_model",
        "_open_ends",
        "_pending",
        "broken",
        "channel",
        "client_node",
        "client_port",
        "ends",
        "in_flight",
        "latency_s",
        "loop",
        "server",
        "wire",
    )

    def __init__(
        self,
        wire: Wire,
        loop: VirtualTimeLoop,
        channel: Channel,
        client_node: str,
        server: tuple[str, int],
        latency_s: float,
        client_port: int,
    ) -> None:
        self.wire = wire
        self.loop = loop
        self.channel = channel
        self.client_node = client_node
        self.server = server
        self.latency_s = latency_s
        self.client_port = client_port
        self.ends: list[EmulatedTransport] = []
        self.in_flight = [0, 0]
        self._pending: tuple[list[bytes], list[bytes]] = ([], [])
        """Per direction, the messages on their way (lists: a few at a time, and an empty
        deque takes ~700 bytes, two per connection of every device)."""
        self._eof_after = [False, False]
        self._head_given = [0, 0]
        """Bytes of the first pending message already handed over with its head."""
        self._model = (wire.model_meter(), wire.model_meter())
        """Per direction: which written bytes are model (the byte ledger)."""
        self.broken = False
        self._open_ends = 2
        # The channel's optional methods, looked up once (test doubles lack them)
        self._count_model = getattr(channel, "count_model", None)
        self._head_of = getattr(channel, "head", None)

    def attach(self, client_proto: asyncio.Protocol, server_proto: asyncio.Protocol) -> None:
        self.ends = [
            EmulatedTransport(self, UP, client_proto),
            EmulatedTransport(self, DOWN, server_proto),
        ]

    def peer_address(self, side: int) -> tuple[str, int]:
        return self.server if side == UP else (self.client_node, self.client_port)

    def own_address(self, side: int) -> tuple[str, int]:
        return (self.client_node, self.client_port) if side == UP else self.server

    def _receiver(self, direction: int) -> EmulatedTransport:
        return self.ends[1 - direction]

    # -- sending ------------------------------------------------------------------
    def send(self, direction: int, chunk: bytes) -> None:
        if self.broken:
            return
        n = len(chunk)
        self.in_flight[direction] += n
        self._pending[direction].append(chunk)
        wire = self.wire
        wire.count(self.client_node, direction, n)
        tap = wire.tap
        mark = tap.mark(self.client_node, direction) if tap is not None else 0
        event = self.channel.send(direction, n)
        model = self._model[direction].count(chunk)
        if model and self._count_model is not None and not (event.triggered and not event.ok):
            self._count_model(direction, model)  # (a failed event: the channel took none)
        if tap is not None:
            tap.sent(self.client_node, direction, n, mark, event)
        event.callbacks.append(partial(self._delivered, direction))
        if direction != DOWN or self._head_of is None:
            return
        head = self._head_of(event)
        if head is not None:
            head_ev, nbytes = head
            head_ev.callbacks.append(partial(self._head_arrived, direction, chunk, nbytes))

    def _head_arrived(self, direction: int, chunk: bytes, nbytes: int, _ev: simpy.Event) -> None:
        self.loop.sim_call_soon(self._hand_over_head, direction, chunk, nbytes)

    def _hand_over_head(self, direction: int, chunk: bytes, nbytes: int) -> None:
        """A response's first segment arrived: the client reads its headers (and knows
        it is downloading) before the rest of the body is there."""
        pending = self._pending[direction]
        if self.broken or not pending or pending[0] is not chunk or self._head_given[direction]:
            return
        self._head_given[direction] = nbytes
        self._receiver(direction)._data_received(chunk[:nbytes])

    def _delivered(self, direction: int, event: simpy.Event) -> None:
        if not event._ok:  # (`event.ok`: this runs for every message)
            event.defused = True
            self.loop.sim_call_soon(self.fail, str(event.value))
            return
        if self.broken:
            return
        chunk = self._pending[direction].pop(0)
        self.loop.sim_call_soon(self._hand_over, direction, chunk)

    def _hand_over(self, direction: int, chunk: bytes) -> None:
        if self.broken:
            return
        self.in_flight[direction] -= len(chunk)
        ends = self.ends
        if ends[direction]._writing_paused:  # (`_drained` would do nothing else)
            ends[direction]._drained()
        given, self._head_given[direction] = self._head_given[direction], 0
        ends[1 - direction]._data_received(chunk[given:] if given else chunk)  # `_receiver`
        if self._eof_after[direction] and not self._pending[direction]:
            self._eof_after[direction] = False
            self.loop.call_soon(self._receiver(direction)._eof_received)

    def send_eof(self, direction: int) -> None:
        """FIN: after the data already queued in `direction`, the peer sees EOF."""
        if self.broken:
            return
        if self._pending[direction]:
            self._eof_after[direction] = True
        else:
            self.loop.call_later(self.latency_s, self._late_eof, direction)

    def _late_eof(self, direction: int) -> None:
        if not self.broken and self.ends:  # (no ends: both are closed, see `end_lost`)
            self._receiver(direction)._eof_received()

    def reset_from(self, direction: int) -> None:
        """RST sent by one end: the peer learns after the path latency."""
        if self.broken:
            return
        self.broken = True
        self.channel.close()
        peer = self._receiver(direction)
        self.loop.call_later(
            self.latency_s, peer._connection_lost, ConnectionResetError(errno.ECONNRESET, "reset")
        )

    def fail(self, cause: str) -> None:
        """The network broke the path: both ends see a reset.

        It is seen on the next loop turn, after callbacks already queued: a server
        task woken by data that just arrived must run before it learns of the reset.
        Called from inside SimPy (a path going down), it wakes the loop, so both ends
        see the reset at the cut instant, not at the next unrelated event.
        """
        if self.broken:
            return
        self.broken = True
        self.channel.break_(cause)
        for end in self.ends:
            exc = ConnectionResetError(errno.ECONNRESET, f"connection reset: {cause}")
            self.loop.sim_call_soon(end._connection_lost, exc)

    def end_lost(self, side: int) -> None:
        self._open_ends -= 1
        if self._open_ends == 0:
            if not self.broken:
                if self.in_flight[UP] or self.in_flight[DOWN]:
                    # Both ends closed with data still on its way: nobody reads it, and a
                    # closed socket answers data with RST, which stops the sender. What
                    # had not gone out never does (the channel takes it back, airtime too).
                    self.broken = True
                    self.channel.break_("reset: data for a closed connection")
                else:
                    self.channel.close()
            self.wire.forget(self)
            # Both ends are gone: let go of them, so the connection, its transports and
            # their protocols (aiohttp's request and response state) are freed now by
            # reference count, not kept in a cycle until a collection (none in a run).
            self.ends = []


class Wire:
    """Listeners, live connections and per-node byte counts of one emulated network.

    `opener(client_node, server_node)` asks the network model for a channel; the
    network calls `break_node`/`break_link` style hooks through `connections_where`.
    """

    def __init__(self, loop: VirtualTimeLoop, opener: ChannelOpener) -> None:
        self.loop = loop
        self.opener = opener
        self.listeners: dict[tuple[str, int], tuple[str, ProtocolFactory]] = {}
        self.hosts: dict[str, str] = {}
        self.connections: set[EmulatedConnection] = set()
        self.node_bytes: dict[str, list[int]] = {}
        self.byte_observers: list[Callable[[str, int, int], None]] = []
        """Called with (node, direction, nbytes) for every message (e.g. battery drain)."""
        self.tap: MessageTap | None = None
        """Sees every message handed to a channel (the run's evidence, fedsim.net.evidence)."""
        self.model_meter: Callable[[], ModelMeter] = ModelBytes
        """Makes, per connection direction, what tells model bytes in a write (the byte
        ledger): HTTP framing by default; another application protocol brings its own."""
        self.device_receivers: dict[str, Callable[[bytes], None]] = {}
        """Per device: told of every chunk its stream connections receive (`hook_streams`:
        an MQTT client learns a task has begun arriving, as HTTP learns from the head)."""
        self._next_port = 40000

    def listen(self, host: str, port: int, node: str, factory: ProtocolFactory) -> None:
        self.listeners[(host, port)] = (node, factory)
        self.hosts[host] = node

    def unlisten(self, host: str, port: int) -> None:
        self.listeners.pop((host, port), None)

    def count(self, node: str, direction: int, nbytes: int) -> None:
        counts = self.node_bytes.get(node)
        if counts is None:
            counts = self.node_bytes[node] = [0, 0]
        counts[direction] += nbytes
        if self.byte_observers:
            for observe in self.byte_observers:
                observe(node, direction, nbytes)

    async def connect(
        self, client_node: str, host: str, port: int, client_factory: ProtocolFactory
    ) -> asyncio.Protocol:
        listener = self.listeners.get((host, port))
        if listener is None:
            raise ConnectionRefusedError(errno.ECONNREFUSED, f"nothing listens on {host}:{port}")
        server_node, server_factory = listener
        channel, latency = self.opener(client_node, server_node)
        try:
            await sim_event_to_future(self.loop, channel.connect())
        except BaseException:
            channel.close()  # an abandoned connect (timeout, cancel) stops retrying SYNs
            raise
        if getattr(channel, "finished", False):  # broken the instant it connected
            raise ConnectionResetError(errno.ECONNRESET, "connection reset during connect")
        if (host, port) not in self.listeners:
            channel.close()
            raise ConnectionRefusedError(errno.ECONNREFUSED, f"{host}:{port} stopped listening")
        self._next_port += 1
        conn = EmulatedConnection(
            self, self.loop, channel, client_node, (host, port), latency, self._next_port
        )
        client_proto = client_factory()
        server_proto = server_factory()
        conn.attach(client_proto, server_proto)
        self.connections.add(conn)
        server_proto.connection_made(conn.ends[1])
        client_proto.connection_made(conn.ends[0])
        return client_proto

    def forget(self, conn: EmulatedConnection) -> None:
        self.connections.discard(conn)

    def break_where(self, predicate: Callable[[EmulatedConnection], bool], cause: str) -> int:
        """Reset every live connection for which `predicate` holds; return how many."""
        doomed = sorted((c for c in self.connections if predicate(c)), key=lambda c: c.client_port)
        for conn in doomed:
            conn.fail(cause)
        return len(doomed)


class EmulatedConnector(aiohttp.BaseConnector):
    """A client connector whose connections cross the emulated network from `node`.

    Keep-alive runs on the loop's clock. aiohttp stamps pooled connections with the
    wall clock (`time.monotonic`) and drops those idle for `keepalive_timeout` real
    seconds, so a host stall would change which requests reuse a connection. We give
    aiohttp `keepalive_timeout=None` (its documented "never expire from idling") and
    close a pooled connection ourselves once it has been idle `keepalive_timeout`
    simulated seconds (aiohttp's default, 15 s, as a deployed client has).
    """

    def __init__(
        self, wire: Wire, node: str, *, keepalive_timeout: float | None = 15.0, **kwargs: Any
    ) -> None:
        kwargs.setdefault("force_close", False)
        super().__init__(keepalive_timeout=None, **kwargs)
        self._wire = wire
        self._node = node
        self.idle_timeout_s = None if kwargs["force_close"] else keepalive_timeout
        self._idle: dict[ResponseHandler, asyncio.TimerHandle] = {}
        """The pending expiry of each pooled connection: a reuse cancels it (a fired
        timer costs a loop turn; a cancelled one is purged in bulk)."""

    async def _create_connection(
        self, req: aiohttp.ClientRequest, traces: Any, timeout: aiohttp.ClientTimeout
    ) -> ResponseHandler:
        try:
            proto = await self._wire.connect(self._node, req.host, req.port or 80, self._factory)
        except OSError as exc:
            raise aiohttp.ClientConnectorError(req.connection_key, exc) from exc
        assert isinstance(proto, ResponseHandler)
        return proto

    def _release(
        self, key: ConnectionKey, protocol: ResponseHandler, *, should_close: bool = False
    ) -> None:
        super()._release(key, protocol, should_close=should_close)
        pool = self._conns.get(key)
        if self.idle_timeout_s is None or not pool or pool[-1][0] is not protocol:
            return  # closed instead of pooled
        now = self._wire.loop.time()
        entry = pool[-1] = (protocol, now)  # simulated, not aiohttp's wall-clock stamp
        old = self._idle.pop(protocol, None)
        if old is not None:
            old.cancel()  # pooled again since: that expiry would find nothing to do
        self._idle[protocol] = self._wire.loop.call_at(  # `call_later`, from `now`
            now + self.idle_timeout_s, self._expire, key, entry
        )

    def _expire(self, key: ConnectionKey, entry: tuple[ResponseHandler, float]) -> None:
        """Close a pooled connection still idle since the release that pooled it."""
        self._idle.pop(entry[0], None)  # this is its latest expiry: earlier ones were cancelled
        pool = self._conns.get(key)
        where = [i for i, e in enumerate(pool or ()) if e is entry]
        if pool is None or not where:
            return  # reused (or the connector closed) since then
        del pool[where[0]]
        if not pool:
            del self._conns[key]
        entry[0].close()


class EmulatedSite(web.BaseSite):
    """Serve a `web.AppRunner` on the emulated network as `host:port` at `node`."""

    def __init__(self, runner: web.BaseRunner, wire: Wire, node: str, host: str, port: int) -> None:
        super().__init__(runner)
        self._wire = wire
        self._node = node
        self._host = host
        self._port = port

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self._wire.listen(self._host, self._port, self._node, server)

    async def stop(self) -> None:
        self._wire.unlisten(self._host, self._port)
        await super().stop()
