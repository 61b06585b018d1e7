"""Deployment mode: the same FL server and clients over real TCP, in real time.

The second composition root beside run.py. The server and the clients are the
ones the emulator runs (same validation, same signed requests); this adds what a
real network needs: TLS, a fleet key instead of seed-derived keys, durable state,
bounded connections, progress lines and a results folder. The topology file
supplies the task, the FL settings and, for a client, which device it is (its data
shard is derived from the seed exactly as in emulation). Device compute time is
not charged: real hardware takes its own. See docs/deploy.md.

    fedsim enroll topologies/default.yaml --out keys/
    fedsim serve topologies/default.yaml --keys keys/fleet.key --state state/
    fedsim client topologies/default.yaml --device sensor-01 --key keys/devices/sensor-01.key \
        --server http://10.0.0.5:8080
"""

from __future__ import annotations

import asyncio
import json
import secrets
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import yarl
from aiohttp import web

from fedsim.deployment.results import DeploymentResults, check_results_folder
from fedsim.deployment.site import GuardedSite, ServerLimits
from fedsim.deployment.socket_bytes import counted_protocol
from fedsim.deployment.watch import waiting_line
from fedsim.errors import FedsimError
from fedsim.fl.auth import Keyring, device_auth
from fedsim.fl.client import FLClient
from fedsim.fl.engine import RoundRecord, SyncRounds
from fedsim.fl.server import make_app, told_finished
from fedsim.rng import Streams
from fedsim.run import build_engine
from fedsim.scenario import Scenario
from fedsim.tasks.registry import build_task

__all__ = [
    "check_server_url",
    "drive_client",
    "enroll_fleet",
    "make_client",
    "run_client",
    "serve",
]

NONCE_WINDOW_S = 300.0
"""Deployment: a signed request more than this far from the server's clock is refused."""
WAIT_LINE_EVERY_S = 5.0
DEFAULT_LIMITS = ServerLimits()


def _check_results_continue(
    store: Any, done: int, state_dir: str | Path, results_dir: str | Path | None
) -> None:
    """A restart keeps `--results` as the federation began: its rows are stored with
    each round's close only when a results folder is written, so a round closed without
    one has no row, and a folder resumed over it would lack that round for good."""
    saved = store.get_json("results")
    rows = len(saved["rows"]) if saved else 0
    if results_dir is not None and rows != done:
        raise FedsimError(
            f"--state {state_dir} holds {done} closed rounds but results rows for {rows}: "
            f"{done - rows} closed without a row (the server ran without --results, or an "
            "older fedsim crashed between a round's close and its row's save), so a "
            "results folder cannot hold every round; serve this state without --results, "
            "or start a new federation (an empty --state folder) to have one"
        )
    if results_dir is None and rows:
        raise FedsimError(
            f"--state {state_dir} was served with --results ({rows} rounds have rows): "
            "give --results again, so that every round has its row"
        )


async def serve(
    sc: Scenario,
    host: str,
    port: int,
    *,
    on_ready: Callable[[int], None] | None = None,
    on_round: Callable[[RoundRecord], None] | None = None,
    on_wait: Callable[[str], None] | None = None,
    on_engine: Callable[[Any], None] | None = None,
    grace_s: float = 60.0,
    keyring: Keyring | None = None,
    ssl_context: ssl.SSLContext | None = None,
    state_dir: str | Path | None = None,
    results_dir: str | Path | None = None,
    limits: ServerLimits = DEFAULT_LIMITS,
) -> list[RoundRecord]:
    """Serve the federation on `host:port` until its rounds are done; return them."""
    if results_dir is not None:  # before anything starts: a refusal is one line
        check_results_folder(results_dir, state_dir)
    streams = Streams(sc.seed)
    names = [n.name for n in sc.device_nodes]
    task = build_task(sc.task, len(names), streams)
    engine = build_engine(sc, task, streams)
    store = None
    if isinstance(engine, SyncRounds):
        engine.evaluate_in_thread = True
        engine.aggregate_in_client_order = True
    if state_dir is not None:
        if not isinstance(engine, SyncRounds):
            raise FedsimError("--state: durable state supports the sync engine only (fl.engine)")
        from fedsim.deployment.state import StateStore

        fingerprint = f"{sc.name} seed {sc.seed} model {engine.params.size}"
        store = StateStore(state_dir, fingerprint)
        try:
            done = store.restore(engine)
            _check_results_continue(store, done, state_dir, results_dir)
        except BaseException:
            store.close()
            raise
        engine.journal = store
    results = DeploymentResults(sc, engine, results_dir, store) if results_dir else None
    if on_round is not None:
        engine.observers.append(on_round)
    if results is not None:
        engine.observers.append(results.round_done)
    keys = keyring if keyring is not None else Keyring.from_seed(sc.seed, names)
    counting = [results.count_bytes] if results is not None else []
    app = make_app(
        engine,
        poll_wait_s=sc.fl.poll_wait_s,
        max_clients=limits.max_clients or len(names),
        middlewares=[device_auth(keys, time.time, NONCE_WINDOW_S), *counting],
    )
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=limits.idle_timeout_s)
    await runner.setup()
    site = GuardedSite(
        runner,
        host,
        port,
        max_connections=limits.max_connections,
        ssl_context=ssl_context,
        wrap=(lambda inner: counted_protocol(inner, results.book)) if results else None,
    )
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise FedsimError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    if results is not None:  # a server that never listened leaves the previous folder
        try:
            results.start()
        except BaseException:
            await runner.cleanup()
            if store is not None:
                store.close()
            raise
    if on_engine is not None:
        on_engine(engine)
    if on_ready is not None:
        on_ready(site.port)
    watcher = asyncio.create_task(_watch(engine, on_wait)) if on_wait is not None else None
    try:
        records = await engine.run()
        if results is not None:
            results.write()
        # Stay up until every client has been told the run is over (410 Gone), so
        # devices stop instead of retrying a closed port; a device that never
        # comes back does not hold the server beyond the grace period.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        while set(engine.clients) - told_finished(app) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if results is not None:
            results.write()  # with the bytes after the last round (the 410 answers)
        return records
    finally:
        if watcher is not None:
            watcher.cancel()
        await runner.cleanup()
        if store is not None:
            store.close()


async def _watch(engine: Any, say: Callable[[str], None]) -> None:
    """Say what the server waits for, every few seconds, while it waits."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(WAIT_LINE_EVERY_S)
        line = waiting_line(engine, loop.time())
        if line is not None:
            say(line)


def make_client(
    sc: Scenario,
    device: str,
    server_url: str,
    *,
    key: bytes | None = None,
    ssl_context: ssl.SSLContext | None = None,
    backoff_s: tuple[float, float] = (2.0, 120.0),
) -> FLClient:
    """Device `device` of the topology, signing with `key` (default: development key)."""
    names = [n.name for n in sc.device_nodes]
    if device not in names:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        raise FedsimError(f"no device named {device!r} in {sc.name} (devices: {shown})")
    index = names.index(device)
    node = sc.device_nodes[index]
    assert node.device is not None
    streams = Streams(sc.seed)
    task = build_task(sc.task, len(names), streams)
    device_key = key if key is not None else Keyring.from_seed(sc.seed).device_key(device)
    from fedsim.fl.auth import Signer

    return FLClient(
        device,
        server_url,
        aiohttp.TCPConnector(limit=4, ssl=ssl_context if ssl_context is not None else True),
        task.learner(index),
        sc.devices[node.device],
        streams.get("client", device),
        codec=sc.fl.codec,
        poll_wait_s=sc.fl.poll_wait_s,
        request_timeout_s=sc.fl.request_timeout_s,
        task_on_answer=sc.fl.task_on_answer,
        charge_compute=False,
        backoff_s=backoff_s,
        signer=Signer(device, device_key, time.time),
        instance=secrets.token_hex(8),
        jitter_rng=streams.get("client-backoff", device),
        codec_rng=streams.get("codec", device),
    )


async def drive_client(client: FLClient, retry_for_s: float | None = None) -> FLClient:
    """Run `client` until the server says the run is finished; give up with a one-line
    error after `retry_for_s` without a successful exchange with the server."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    started = loop.time()
    job = asyncio.create_task(client.run(stop))
    try:
        while not job.done():
            await asyncio.wait({job}, timeout=0.25)
            last = client.last_contact if client.last_contact is not None else started
            if retry_for_s is not None and not job.done() and loop.time() - last > retry_for_s:
                job.cancel()
                await asyncio.gather(job, return_exceptions=True)
                raise FedsimError(
                    f"{client.client_id}: no answer from {client.url} for {retry_for_s:g} s "
                    f"({_describe(client.last_error)}); giving up"
                )
        job.result()
    finally:
        if not job.done():
            job.cancel()
            await asyncio.gather(job, return_exceptions=True)
        await client.connector.close()
    return client


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "no reply"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"HTTP {exc.status}: {str(exc.message)[:160]}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {str(exc)[:160]}"


async def run_client(
    sc: Scenario,
    device: str,
    server_url: str,
    *,
    key: bytes | None = None,
    ssl_context: ssl.SSLContext | None = None,
    retry_for_s: float | None = None,
    backoff_s: tuple[float, float] = (2.0, 120.0),
) -> FLClient:
    """Be device `device` of the topology until the server says the run is finished."""
    client = make_client(
        sc, device, server_url, key=key, ssl_context=ssl_context, backoff_s=backoff_s
    )
    return await drive_client(client, retry_for_s)


def check_server_url(url: str) -> str:
    """The URL, or a one-line error saying what is wrong with it."""
    try:
        parsed = yarl.URL(url)
    except (ValueError, TypeError):
        raise FedsimError(f"--server {url!r} is not a URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FedsimError(
            f"--server {url!r}: give a URL with http:// or https:// and a host, "
            "e.g. http://10.0.0.5:8080"
        )
    return url


def enroll_fleet(sc: Scenario, out: str | Path) -> Path:
    """Provision a fleet in `out`: fleet.key for the server (kept if it exists, so
    enrolling again re-issues the same device keys), one key file per device in
    devices/, and the operator token; every file readable by its owner only."""
    folder = Path(out)
    (folder / "devices").mkdir(parents=True, exist_ok=True)
    fleet = folder / "fleet.key"
    if fleet.exists():
        keyring = Keyring.from_file(fleet)
    else:
        keyring = Keyring(secrets.token_bytes(32))
        fleet.write_text(keyring.to_json())
        fleet.chmod(0o600)
    for name in (n.name for n in sc.device_nodes):
        path = folder / "devices" / f"{name}.key"
        path.write_text(json.dumps({"device": name, "key": keyring.device_key(name).hex()}))
        path.chmod(0o600)
    token = folder / "operator.token"
    token.write_text(keyring.operator_token() + "\n")
    token.chmod(0o600)
    return folder
