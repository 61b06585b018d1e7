"""Deployment mode: the unchanged FL server and clients over real loopback TCP.

This runs on a standard asyncio loop (real time, real sockets), not the virtual
clock, with generous deadlines: two devices, two rounds, a fraction of a second.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from topo import tiny_topology

from fedsim.deploy import run_client, serve
from fedsim.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[1]


def test_real_tcp_federation_completes() -> None:
    topo = tiny_topology(fl__rounds=2, fl__clients_per_round=2, fl__min_available=2,
                         fl__poll_wait="5s", fl__deadline="30s", nodes__2__count=2)  # fmt: skip
    sc = parse_scenario(topo)

    async def main() -> tuple[list, list]:
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        server = asyncio.create_task(serve(sc, "127.0.0.1", 0, on_ready=ready.set_result))
        port = await asyncio.wait_for(ready, 10)
        url = f"http://127.0.0.1:{port}"
        clients = await asyncio.wait_for(
            asyncio.gather(run_client(sc, "dev-1", url), run_client(sc, "dev-2", url)), 60
        )
        return await asyncio.wait_for(server, 10), list(clients)

    records, clients = asyncio.run(main())
    assert [r.round for r in records] == [1, 2]
    assert all(r.accepted and r.reported == 2 for r in records)
    assert records[-1].metric > records[0].metric * 0.5  # a real model came back
    # Clients stop by themselves once the server answers 410 Gone.
    assert [c.stats.uploads_accepted for c in clients] == [2, 2]


def test_client_names_a_missing_device() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "fedsim", "client", "topologies/default.yaml",
         "--device", "toaster-9", "--server", "http://127.0.0.1:9"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert res.returncode == 2
    assert "no device named 'toaster-9'" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
