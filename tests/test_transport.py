"""The emulated wire: real aiohttp over the SimPy network model."""

from __future__ import annotations

import asyncio
import inspect

import aiohttp
import pytest
from aiohttp import web
from topo import tiny_topology

from fedsim.clock import VirtualTimeLoop
from fedsim.net.flow import lossless_transfer_time
from fedsim.net.network import Network
from fedsim.net.transport import EmulatedConnector, EmulatedSite, Wire
from fedsim.rng import Streams
from fedsim.scenario import parse_scenario


def test_connector_hook_is_still_there() -> None:
    """We implement aiohttp's underscore hook `_create_connection`; fail loudly if it moves."""
    sig = inspect.signature(aiohttp.BaseConnector._create_connection)
    assert list(sig.parameters) == ["self", "req", "traces", "timeout"]


async def _serve(
    loop: VirtualTimeLoop, topo: dict
) -> tuple[Network, Wire, web.AppRunner, dict[str, int]]:
    sc = parse_scenario(topo)
    net = Network(loop.env, sc, Streams(sc.seed))
    wire = Wire(loop, net.open_channel)
    net.breaker = wire.break_where
    seen = {"body": 0}

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        seen["body"] += len(body)
        return web.Response(body=b"ok")

    async def blob(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * int(request.query["n"]))

    async def hang_up(request: web.Request) -> web.Response:
        """Close the connection on the request's headers, its body unread."""
        seen["hung_up"] = seen.get("hung_up", 0) + 1
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    app = web.Application(client_max_size=1 << 24)
    app.router.add_post("/up", echo)
    app.router.add_get("/down", blob)
    app.router.add_post("/hang-up", hang_up)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await EmulatedSite(runner, wire, "server", "srv", 80).start()
    return net, wire, runner, seen


async def test_lossless_transfer_takes_the_time_the_model_states() -> None:
    """One link (B, L): connect + request completes when the flow model says."""
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    topo = tiny_topology()
    topo["nodes"] = [
        {"name": "server", "kind": "server"},
        {
            "name": "d",
            "kind": "device",
            "device": "rpi4",
            "uplink": {"to": "server", "link": "wifi"},
        },
    ]
    topo["fl"]["clients_per_round"] = 1
    topo["fl"]["min_available"] = 1
    net, wire, runner, _ = await _serve(loop, topo)
    sent: list[int] = []

    async def on_chunk(
        _s: object, _ctx: object, params: aiohttp.TraceRequestChunkSentParams
    ) -> None:
        sent.append(len(params.chunk))

    trace = aiohttp.TraceConfig()
    trace.on_request_chunk_sent.append(on_chunk)
    async with aiohttp.ClientSession(
        connector=EmulatedConnector(wire, "d"), trace_configs=[trace]
    ) as s:
        t0 = loop.time()
        async with s.post("http://srv/up", data=b"u" * 100_000) as r:
            assert r.status == 200
            await r.read()
        elapsed = loop.time() - t0
    up_bytes = wire.node_bytes["d"][0]
    down_bytes = wire.node_bytes["d"][1]
    link = net.links["d-server"]
    # Bytes the link carried are exactly the bytes aiohttp wrote, headers included.
    assert link.counters[0].payload_bytes == up_bytes
    assert link.counters[1].payload_bytes == down_bytes
    assert up_bytes > 100_000  # the body plus the request line and headers
    # Timing: handshake + upload (one message) + the response (one message back), each
    # frame on air for its bytes and the Wi-Fi link's per-frame airtime (150 us + 36 B).
    fbits = link.tx[0].frame_bits
    assert fbits == pytest.approx(150e-6 * 10e6 + 36 * 8)
    expect_up = lossless_transfer_time(up_bytes, 10e6, 0.010, 1500, True, frame_bits=fbits)
    assert elapsed > expect_up
    expect_down = lossless_transfer_time(down_bytes, 10e6, 0.010, 1500, False, frame_bits=fbits)
    assert elapsed == pytest.approx(expect_up + expect_down, rel=0.02)
    await runner.cleanup()


async def test_path_down_mid_upload_is_an_aiohttp_connection_error() -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    net, wire, runner, seen = await _serve(loop, tiny_topology())

    async def kill_gateway() -> None:
        await asyncio.sleep(0.2)
        net.set_down("node", "gw", "gateway_down:gw")

    killer = asyncio.create_task(kill_gateway())
    async with aiohttp.ClientSession(connector=EmulatedConnector(wire, "dev-1")) as s:
        with pytest.raises(aiohttp.ClientOSError):
            await s.post("http://srv/up", data=b"u" * 900_000)
        assert seen["body"] == 0  # the server never got a complete body
        # While the gateway is down, new connections cannot get through: SYNs are lost.
        with pytest.raises((aiohttp.ClientConnectorError, TimeoutError)):
            await s.get("http://srv/down?n=10", timeout=aiohttp.ClientTimeout(total=5))
    await killer
    assert net.outage_cause("dev-1", 0.0, loop.time()) == "gateway_down"
    await runner.cleanup()


async def test_own_radio_down_fails_connect_at_once() -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    net, wire, runner, _ = await _serve(loop, tiny_topology())
    net.set_down("node", "dev-2", "device_offline:dev-2")
    t0 = loop.time()
    async with aiohttp.ClientSession(connector=EmulatedConnector(wire, "dev-2")) as s:
        with pytest.raises(aiohttp.ClientConnectorError):
            await s.get("http://srv/down?n=10")
    assert loop.time() == t0
    await runner.cleanup()


async def test_a_channel_broken_the_instant_it_connects_is_a_reset_not_a_connection() -> None:
    """A battery that empties on the SYN-ACK retires the device in the same instant the
    connect succeeds: nothing may be counted or sent over the dead channel."""
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    _net, wire, runner, _ = await _serve(loop, tiny_topology())
    opener = wire.opener

    def dying(client: str, server: str) -> tuple:
        channel, latency = opener(client, server)
        connect = channel.connect

        def connect_then_break() -> object:
            ev = connect()
            ev.callbacks.append(lambda _ev: channel.break_("battery:dev-1"))
            return ev

        channel.connect = connect_then_break
        return channel, latency

    wire.opener = dying
    async with aiohttp.ClientSession(connector=EmulatedConnector(wire, "dev-1")) as s:
        with pytest.raises(aiohttp.ClientConnectorError, match="reset during connect"):
            await s.get("http://srv/down?n=10")
    assert wire.node_bytes.get("dev-1", [0, 0]) == [0, 0]
    await runner.cleanup()


async def test_a_server_that_hangs_up_on_an_upload_stops_it() -> None:
    """The server hangs up on a 600 kB upload over a 50 kbit/s radio (96 s) once it has
    its headers, without reading the body. Once both ends have closed, the rest of the
    upload is reset (a closed socket answers data with RST), not carried on: the radio
    is free for the next request at once and counted only what had time to go out.
    Before, the unread body held the radio until it would have ended."""
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    topo = tiny_topology()
    topo["links"]["wifi"]["bandwidth"] = "50kbps"
    net, wire, runner, seen = await _serve(loop, topo)
    async with aiohttp.ClientSession(connector=EmulatedConnector(wire, "dev-1")) as s:
        t0 = loop.time()

        async def body():  # streamed: the headers go first
            for _ in range(10):
                yield b"u" * 60_000

        with pytest.raises(aiohttp.ClientError):
            await s.post("http://srv/hang-up", data=body())
        failed = loop.time()
        assert seen["hung_up"] == 1
        assert failed - t0 < 48.0  # the headers came first; the body takes 96 s
        async with s.get("http://srv/down?n=10") as r:
            assert r.status == 200
        assert loop.time() - failed < 2.0
    radio = net.links["dev-1-gw"].counters[0]
    assert radio.wire_bytes * 8 / 50e3 < loop.time() - t0  # no more than had time to go out
    await runner.cleanup()
