"""Client keep-alive runs on the simulated clock, never on the host's wall clock."""

from __future__ import annotations

import asyncio
import inspect
from collections import deque

import aiohttp
import aiohttp.connector
import pytest
from aiohttp import web
from aiohttp.client_proto import ResponseHandler
from topo import InstantChannel

from fedsim.clock import VirtualTimeLoop
from fedsim.net.transport import EmulatedConnector, EmulatedSite, Wire


def test_pool_hooks_are_still_there() -> None:
    """We extend aiohttp's underscore `_release` and read its `_conns` pool; fail
    loudly if either changes shape (aiohttp is pinned <4)."""
    sig = inspect.signature(aiohttp.BaseConnector._release)
    assert list(sig.parameters) == ["self", "key", "protocol", "should_close"]
    assert sig.parameters["should_close"].kind is inspect.Parameter.KEYWORD_ONLY


async def _wire() -> tuple[Wire, web.AppRunner]:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    wire = Wire(loop, lambda _c, _s: (InstantChannel(loop.env), 0.001))

    async def hello(_request: web.Request) -> web.Response:
        return web.Response(body=b"ok")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await EmulatedSite(runner, wire, "server", "srv", 80).start()
    return wire, runner


class Connections:
    """Counts new and reused connections through aiohttp's public tracing."""

    def __init__(self) -> None:
        self.created = 0
        self.reused = 0
        self.config = aiohttp.TraceConfig()
        self.config.on_connection_create_end.append(self._created)
        self.config.on_connection_reuseconn.append(self._reused)

    async def _created(self, *_args: object) -> None:
        self.created += 1

    async def _reused(self, *_args: object) -> None:
        self.reused += 1


async def _get(session: aiohttp.ClientSession) -> None:
    async with session.get("http://srv/") as resp:
        assert await resp.read() == b"ok"


async def test_the_pool_holds_protocols_stamped_with_simulated_time() -> None:
    wire, runner = await _wire()
    connector = EmulatedConnector(wire, "dev")
    async with aiohttp.ClientSession(connector=connector, connector_owner=False) as s:
        await asyncio.sleep(500.0)
        await _get(s)
        (pool,) = connector._conns.values()
        assert isinstance(pool, deque)
        ((proto, stamp),) = pool
        assert isinstance(proto, ResponseHandler)
        assert stamp == asyncio.get_running_loop().time()
    await connector.close()
    await runner.cleanup()


async def test_an_idle_connection_lives_keepalive_simulated_seconds() -> None:
    wire, runner = await _wire()
    seen = Connections()
    connector = EmulatedConnector(wire, "dev", keepalive_timeout=15.0)
    async with aiohttp.ClientSession(connector=connector, trace_configs=[seen.config]) as s:
        await _get(s)
        await asyncio.sleep(14.9)
        await _get(s)
        assert (seen.created, seen.reused) == (1, 1)
        await asyncio.sleep(15.1)
        assert not connector._conns  # closed while idle, as a deployed client does
        await _get(s)
        assert (seen.created, seen.reused) == (2, 1)
    await runner.cleanup()


async def test_the_wall_clock_does_not_expire_a_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Minutes of host stall between two requests are no idle time in the simulation."""
    wire, runner = await _wire()
    seen = Connections()
    connector = EmulatedConnector(wire, "dev")
    real = aiohttp.connector.monotonic
    async with aiohttp.ClientSession(connector=connector, trace_configs=[seen.config]) as s:
        await _get(s)
        monkeypatch.setattr(aiohttp.connector, "monotonic", lambda: real() + 600.0)
        await asyncio.sleep(1.0)
        await _get(s)
        assert (seen.created, seen.reused) == (1, 1)
    await runner.cleanup()


async def test_force_close_never_pools() -> None:
    wire, runner = await _wire()
    seen = Connections()
    connector = EmulatedConnector(wire, "dev", force_close=True)
    async with aiohttp.ClientSession(connector=connector, trace_configs=[seen.config]) as s:
        await _get(s)
        await _get(s)
        assert (seen.created, seen.reused) == (2, 0)
        assert not connector._conns
    await runner.cleanup()
