"""A device behind a dead gateway costs the simulator almost nothing per attempt.

Counted, not timed: channels built and SimPy events scheduled per failed connect, and
how many times each client retries through a 10-hour outage.
"""

from __future__ import annotations

import asyncio
import errno

import aiohttp
from topo import tiny_topology

from fedsim.clock import VirtualTimeLoop
from fedsim.fl.client import FLClient
from fedsim.net.network import Network
from fedsim.net.transport import EmulatedConnector, Wire
from fedsim.rng import Streams
from fedsim.run import simulate
from fedsim.scenario import parse_scenario

ATTEMPTS = 50


async def test_a_connect_without_a_link_builds_no_channel_and_books_nothing() -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    sc = parse_scenario(tiny_topology())
    net = Network(loop.env, sc, Streams(sc.seed))
    channels: list[str] = []

    def counting_open(client: str, server: str):  # type: ignore[no-untyped-def]
        channels.append(client)
        return Network.open_channel(net, client, server)

    net.open_channel = counting_open  # type: ignore[method-assign]
    wire = Wire(loop, net.open_route)
    wire.listen("srv", 80, "server", lambda: asyncio.Protocol())
    net.set_down("node", "gw", "gateway_down:gw")
    scheduled = [0]
    schedule = loop.env.schedule

    def counting_schedule(*args, **kwargs):  # type: ignore[no-untyped-def]
        scheduled[0] += 1
        return schedule(*args, **kwargs)

    loop.env.schedule = counting_schedule  # type: ignore[method-assign]
    connector = EmulatedConnector(wire, "dev-1", limit=4)
    errors = []
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(ATTEMPTS):
            try:
                async with session.get("http://srv/v1/task"):
                    pass
            except aiohttp.ClientConnectorError as exc:
                errors.append(exc.os_error.errno)
    assert errors == [errno.ENETUNREACH] * ATTEMPTS  # aiohttp's ordinary connect error
    assert channels == []
    assert scheduled[0] <= 2 * ATTEMPTS  # aiohttp's own timers only: nothing per hop
    assert [(c.packets, c.wire_bytes) for c in net.uplink["dev-1"].counters] == [(0, 0)] * 2


def test_a_ten_hour_gateway_outage_costs_each_device_a_few_attempts(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    attempts: dict[str, int] = {}
    backoff = FLClient._backoff

    async def counted(self: FLClient) -> None:
        attempts[self.client_id] = attempts.get(self.client_id, 0) + 1
        await backoff(self)

    monkeypatch.setattr(FLClient, "_backoff", counted)
    topo = tiny_topology(fl__rounds=4, fl__round_interval="60s")
    topo["failures"] = [{"node": "gw", "at": "30s", "duration": "10h"}]
    result = simulate(parse_scenario(topo))
    assert result.summary.sim_time_s > 36_000  # the rounds after the outage ran
    assert result.summary.rounds == 4
    assert attempts  # the outage was met
    assert max(attempts.values()) <= 3  # was ~600 per device (a 1-120 s backoff)
