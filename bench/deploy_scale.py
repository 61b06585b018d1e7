"""Deployment at scale on loopback: N authenticated clients over TLS against a real
`fedsim serve` process, R rounds; prints round times and the server's peak memory.

    python bench/deploy_scale.py --devices 1000 --rounds 10 [--plain]

The server is a separate process (`fedsim serve --keys --cert --key --results`);
the N clients are FLClient coroutines in this process, each with its own
connector (its own TLS connection), signing with its enrolled key. `--plain` runs
the same without TLS and with seed-derived keys, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fedsim.deployment.tls import client_context, make_dev_pki  # noqa: E402
from fedsim.fl.auth import Keyring, Signer  # noqa: E402
from fedsim.fl.client import FLClient  # noqa: E402
from fedsim.rng import Streams  # noqa: E402
from fedsim.scenario import parse_scenario  # noqa: E402
from fedsim.tasks.registry import build_task  # noqa: E402


def topology(devices: int, rounds: int) -> dict:
    return {
        "name": f"deploy-scale-{devices}",
        "seed": 1,
        "task": {"kind": "digits", "partition": "iid"},
        "fl": {
            "strategy": "fedavg", "rounds": rounds, "clients_per_round": devices,
            "min_available": devices, "deadline": "600s", "poll_wait": "30s",
            "local": {"epochs": 1, "batch_size": 16, "lr": 0.05},
        },
        "links": {"wifi": {"kind": "wifi", "bandwidth": "10Mbps", "latency": "10ms"}},
        "nodes": [
            {"name": "server", "kind": "server"},
            {"name": "dev", "kind": "device", "count": devices, "device": "rpi4",
             "uplink": {"to": "server", "link": "wifi"}},
        ],
    }  # fmt: skip


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def clients(sc, url: str, keyring: Keyring, ca: Path | None, pki: Path | None) -> list:
    names = [n.name for n in sc.device_nodes]
    streams = Streams(sc.seed)
    task = build_task(sc.task, len(names), streams)
    out = []
    for i, node in enumerate(sc.device_nodes):
        ctx = None
        if ca is not None and pki is not None:
            ctx = client_context(ca)
        out.append(FLClient(
            node.name, url, aiohttp.TCPConnector(limit=2, ssl=ctx if ctx else False),
            task.learner(i), sc.devices[node.device], streams.get("client", node.name),
            poll_wait_s=sc.fl.poll_wait_s, charge_compute=False, backoff_s=(0.5, 5.0),
            signer=Signer(node.name, keyring.device_key(node.name), time.time),
            instance=secrets.token_hex(4),
        ))  # fmt: skip
    stop = asyncio.Event()
    await asyncio.gather(*(c.run(stop) for c in out))
    for c in out:
        await c.connector.close()
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--devices", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--port", type=int, default=18777)
    p.add_argument("--plain", action="store_true", help="no TLS, seed-derived keys")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fedsim-deploy-scale-"))
    topo = topology(args.devices, args.rounds)
    (work / "t.yaml").write_text(yaml.safe_dump(topo))
    sc = parse_scenario(topo)
    names = [n.name for n in sc.device_nodes]
    cmd = [sys.executable, "-m", "fedsim", "serve", "t.yaml", "--port", str(args.port),
           "--results", "results", "--max-connections", str(4 * args.devices + 100)]  # fmt: skip
    if args.plain:
        keyring = Keyring.from_seed(sc.seed, names)
        url, ca, pki = f"http://127.0.0.1:{args.port}", None, None
    else:
        keyring = Keyring(os.urandom(32), names)
        (work / "fleet.key").write_text(keyring.to_json())
        pki = make_dev_pki(work / "pki", ["localhost", "127.0.0.1"], [])
        ca = pki / "ca.pem"
        cmd += ["--keys", "fleet.key", "--cert", "pki/server.pem", "--key", "pki/server-key.pem"]
        url = f"https://127.0.0.1:{args.port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    log = (work / "server.log").open("wb")
    server = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    peak = 0.0
    try:
        time.sleep(3.0)  # the server's start-up; clients retry anyway
        t0 = time.perf_counter()

        async def run() -> list:
            job = asyncio.create_task(clients(sc, url, keyring, ca, pki))
            nonlocal peak
            while not job.done():
                peak = max(peak, peak_rss_mb(server.pid))
                await asyncio.sleep(0.5)
            return job.result()

        done = asyncio.run(run())
        wall = time.perf_counter() - t0
        server.wait(120)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(30)
    with (work / "results" / "rounds.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    times = [float(r["sim_time_s"]) for r in rows]
    per_round = [b - a for a, b in itertools.pairwise(times)]
    errors = sum(sum(c.stats.errors.values()) for c in done)
    rejected = sum(c.stats.uploads_rejected for c in done)
    accepted = sum(c.stats.uploads_accepted for c in done)
    mode = "plain http, seed keys" if args.plain else "TLS + fleet keys"
    print(f"{args.devices} clients, {len(rows)} rounds ({mode}): "
          f"{accepted} uploads accepted, {rejected} rejected, {errors} client errors; "
          f"round time (rounds 2..) mean {sum(per_round) / max(1, len(per_round)):.2f} s, "
          f"max {max(per_round, default=float('nan')):.2f} s; first round ends at "
          f"{times[0]:.1f} s; server peak RSS {peak:.0f} MB; wall {wall:.1f} s; "
          f"reported per round {[int(r['reported']) for r in rows]}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
