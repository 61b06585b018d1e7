"""Deployment mode: the same FL server and clients over real TCP, in real time.

The second composition root beside run.py. Nothing in `fl/` changes: the server is
served by an ordinary `web.TCPSite` and each client uses an ordinary
`aiohttp.TCPConnector`. The topology file supplies the task, the FL settings and,
for a client, which device it is (its data shard is derived from the seed exactly
as in emulation). Device compute time is not charged: real hardware takes its own.

    fedsim serve topologies/default.yaml --host 0.0.0.0 --port 8080
    fedsim client topologies/default.yaml --device sensor-01 --server http://10.0.0.5:8080
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
from aiohttp import web

from fedsim.errors import FedsimError
from fedsim.fl.client import FLClient
from fedsim.fl.engine import RoundRecord
from fedsim.fl.server import make_app, told_finished
from fedsim.rng import Streams
from fedsim.run import build_engine
from fedsim.scenario import Scenario
from fedsim.tasks.registry import build_task

__all__ = ["run_client", "serve"]


async def serve(
    sc: Scenario,
    host: str,
    port: int,
    *,
    on_ready: Callable[[int], None] | None = None,
    on_round: Callable[[RoundRecord], None] | None = None,
    grace_s: float = 60.0,
) -> list[RoundRecord]:
    """Serve the federation on `host:port` until its rounds are done; return them."""
    streams = Streams(sc.seed)
    task = build_task(sc.task, len(sc.device_nodes), streams)
    engine = build_engine(sc, task, streams)
    if on_round is not None:
        engine.observers.append(on_round)
    app = make_app(engine, poll_wait_s=sc.fl.poll_wait_s)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise FedsimError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    if on_ready is not None:
        addresses = runner.addresses
        on_ready(int(addresses[0][1]) if addresses else port)
    try:
        records = await engine.run()
        # Stay up until every client has been told the run is over (410 Gone), so
        # devices stop instead of retrying a closed port; a device that never
        # comes back does not hold the server beyond the grace period.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        while set(engine.clients) - told_finished(app) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        return records
    finally:
        await runner.cleanup()


async def run_client(sc: Scenario, device: str, server_url: str) -> FLClient:
    """Be device `device` of the topology until the server says the run is finished."""
    names = [n.name for n in sc.device_nodes]
    if device not in names:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        raise FedsimError(f"no device named {device!r} in {sc.name} (devices: {shown})")
    index = names.index(device)
    node = sc.device_nodes[index]
    assert node.device is not None
    streams = Streams(sc.seed)
    task = build_task(sc.task, len(names), streams)
    client = FLClient(
        device,
        server_url,
        aiohttp.TCPConnector(limit=4),
        task.learner(index),
        sc.devices[node.device],
        streams.get("client", device),
        codec=sc.fl.codec,
        poll_wait_s=sc.fl.poll_wait_s,
        charge_compute=False,
    )
    try:
        await client.run(asyncio.Event())
    finally:
        await client.connector.close()
    return client
