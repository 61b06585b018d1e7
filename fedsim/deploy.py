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

import argparse
import asyncio
import json
import secrets
import ssl
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import yarl
from aiohttp import web

from fedsim.deployment.results import DeploymentResults
from fedsim.deployment.site import GuardedSite, ServerLimits
from fedsim.deployment.watch import waiting_line
from fedsim.errors import FedsimError, print_warning
from fedsim.fl.auth import Keyring, device_auth, load_device_key
from fedsim.fl.client import FLClient
from fedsim.fl.engine import RoundRecord, SyncRounds
from fedsim.fl.server import make_app, told_finished
from fedsim.fl.wire_schema import openapi
from fedsim.rng import Streams
from fedsim.run import build_engine
from fedsim.scenario import Scenario, prepare_scenario
from fedsim.tasks.registry import build_task

__all__ = ["main_client", "main_enroll", "main_serve", "run_client", "serve"]

NONCE_WINDOW_S = 300.0
"""Deployment: a signed request more than this far from the server's clock is refused."""
WAIT_LINE_EVERY_S = 5.0
DEFAULT_LIMITS = ServerLimits()


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
        store.restore(engine)
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
        middlewares=[*counting, device_auth(keys, time.time, NONCE_WINDOW_S)],
    )
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=limits.idle_timeout_s)
    await runner.setup()
    site = GuardedSite(
        runner, host, port, max_connections=limits.max_connections, ssl_context=ssl_context
    )
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise FedsimError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
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
        charge_compute=False,
        backoff_s=backoff_s,
        signer=Signer(device, device_key, time.time),
        instance=secrets.token_hex(8),
        jitter_rng=streams.get("client-backoff", device),
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


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("topology")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE")


def main_serve(argv: Sequence[str]) -> int:
    if "--openapi" in argv:
        print(json.dumps(openapi(), indent=2))
        return 0
    p = argparse.ArgumentParser(prog="fedsim serve", description="FL server over real TCP")
    _common(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--openapi", action="store_true", help="print the HTTP API (OpenAPI 3.1)")
    p.add_argument("--keys", help="fleet key file from `fedsim enroll` (default: seed-derived "
                   "development keys, which anyone with the topology file can derive)")  # fmt: skip
    p.add_argument("--state", help="directory of the durable state (SQLite); restart resumes")
    p.add_argument("--results", help="write rounds.csv, clients.csv, summary.json here")
    p.add_argument("--cert", help="TLS certificate (PEM); with --key serves https")
    p.add_argument("--key", help="TLS private key (PEM)")
    p.add_argument("--client-ca", help="require device certificates issued by this CA")
    p.add_argument("--max-connections", type=int, default=ServerLimits.max_connections)
    args = p.parse_args(list(argv))
    sc = prepare_scenario(args.topology, args.set, args.seed, warn=print_warning)
    names = [n.name for n in sc.device_nodes]
    if args.keys:
        keyring = Keyring.from_file(args.keys, names)
    else:
        keyring = Keyring.from_seed(sc.seed, names)
        print_warning("no --keys: development keys derived from the seed (run `fedsim enroll`)")
    ctx = None
    if args.cert or args.key:
        if not (args.cert and args.key):
            raise FedsimError("--cert and --key go together")
        from fedsim.deployment.tls import server_context

        ctx = server_context(args.cert, args.key, args.client_ca)
    scheme = "https" if ctx else "http"

    def ready(port: int) -> None:
        hint = f"fedsim client {args.topology} --device NAME --server URL"
        print(f"serving {sc.name} on {scheme}://{args.host}:{port} (clients: {hint})", flush=True)

    def show(r: RoundRecord) -> None:
        verdict = "accepted" if r.accepted else "rejected"
        print(f"round {r.round}: {r.reported}/{r.selected} reported, {verdict}, "
              f"metric {r.metric:.4f}", flush=True)  # fmt: skip

    records: list[Any] = asyncio.run(
        serve(
            sc, args.host, args.port, on_ready=ready, on_round=show,
            on_wait=lambda line: print(line, flush=True), keyring=keyring, ssl_context=ctx,
            state_dir=args.state, results_dir=args.results,
            limits=ServerLimits(max_connections=args.max_connections),
        )
    )  # fmt: skip
    print(f"done: {len(records)} rounds")
    return 0


def main_client(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="fedsim client", description="one FL device over real TCP")
    _common(p)
    p.add_argument("--device", required=True, help="a device node name from the topology")
    p.add_argument("--server", default="http://127.0.0.1:8080")
    p.add_argument("--key", help="this device's key file from `fedsim enroll`")
    p.add_argument("--ca", help="trust only this CA for https (pinning)")
    p.add_argument("--cert", help="this device's TLS certificate (when the server asks)")
    p.add_argument("--cert-key", help="the private key of --cert")
    p.add_argument("--retry-for", type=float, default=120.0, metavar="S",
                   help="give up after S seconds without an answer (default 120)")  # fmt: skip
    p.add_argument("--backoff", type=float, nargs=2, default=(2.0, 120.0), metavar=("MIN", "MAX"),
                   help="retry backoff bounds in seconds (default 2 120)")  # fmt: skip
    args = p.parse_args(list(argv))
    url = check_server_url(args.server)
    sc = prepare_scenario(args.topology, args.set, args.seed, warn=print_warning)
    key = None
    if args.key:
        owner, key = load_device_key(args.key)
        if owner != args.device:
            raise FedsimError(f"--key {args.key} is {owner!r}'s key, not {args.device!r}'s")
    ctx = None
    if args.ca:
        from fedsim.deployment.tls import client_context

        ctx = client_context(args.ca, args.cert, args.cert_key)
    made: list[FLClient] = []

    async def device() -> None:
        client = make_client(sc, args.device, url, key=key, ssl_context=ctx,
                             backoff_s=(args.backoff[0], args.backoff[1]))  # fmt: skip
        made.append(client)
        await drive_client(client, args.retry_for)

    code = 0
    try:
        asyncio.run(device())
    except KeyboardInterrupt:
        code = 130
    except FedsimError as exc:
        if not made:
            raise
        print(f"fedsim: error: {exc}", file=sys.stderr)
        code = 1
    if not made:
        return code
    client = made[0]
    s = client.stats
    end = {0: "finished", 1: "gave up", 130: "interrupted"}[code]
    print(f"{args.device}: {end}; trained {s.rounds_trained} rounds, "
          f"{s.uploads_accepted} uploads accepted, {s.uploads_rejected} rejected, "
          f"errors {s.errors or 'none'}", flush=True)  # fmt: skip
    return code


def main_enroll(argv: Sequence[str]) -> int:
    """Provision a fleet: a fleet key for the server, one key file per device."""
    p = argparse.ArgumentParser(prog="fedsim enroll", description="make device credentials")
    _common(p)
    p.add_argument("--out", required=True, help="directory for fleet.key and devices/*.key")
    args = p.parse_args(list(argv))
    sc = prepare_scenario(args.topology, args.set, args.seed, warn=print_warning)
    out = Path(args.out)
    (out / "devices").mkdir(parents=True, exist_ok=True)
    fleet = out / "fleet.key"
    if fleet.exists():
        keyring = Keyring.from_file(fleet)
    else:
        keyring = Keyring(secrets.token_bytes(32))
        fleet.write_text(keyring.to_json())
        fleet.chmod(0o600)
    names = [n.name for n in sc.device_nodes]
    for name in names:
        path = out / "devices" / f"{name}.key"
        path.write_text(json.dumps({"device": name, "key": keyring.device_key(name).hex()}))
        path.chmod(0o600)
    token = out / "operator.token"
    token.write_text(keyring.operator_token() + "\n")
    token.chmod(0o600)
    print(f"{out}: fleet.key (server: --keys), operator.token (GET /v1/status), "
          f"{len(names)} device keys in devices/ (client: --key)")  # fmt: skip
    return 0


def main_certs(argv: Sequence[str]) -> int:
    """A development CA, a server certificate and device certificates for a pilot."""
    p = argparse.ArgumentParser(prog="fedsim certs", description="make development TLS material")
    p.add_argument("out", help="directory for ca.pem, server.pem, devices/*.pem")
    p.add_argument("--host", action="append", default=[],
                   help="a name or address of the server (repeat; default localhost)")  # fmt: skip
    p.add_argument("--topology", help="also make a client certificate for each device")
    args = p.parse_args(list(argv))
    from fedsim.deployment.tls import make_dev_pki

    hosts = args.host or ["localhost", "127.0.0.1"]
    names = []
    if args.topology:
        names = [n.name for n in prepare_scenario(args.topology).device_nodes]
    root = make_dev_pki(args.out, hosts, names)
    print(f"{root}: ca.pem (clients: --ca), server.pem + server-key.pem (serve: --cert --key), "
          f"{len(names)} device certificates; keep ca-key.pem offline")  # fmt: skip
    return 0
