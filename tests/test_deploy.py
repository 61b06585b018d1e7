"""Deployment mode: the unchanged FL server and clients over real loopback TCP.

This runs on a standard asyncio loop (real time, real sockets), not the virtual
clock, with generous deadlines: two devices, two rounds, a fraction of a second.
"""

from __future__ import annotations

import asyncio
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
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


def test_bad_server_url_is_one_line() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "fedsim", "client", "topologies/default.yaml",
         "--device", "sensor-01", "--server", "10.0.0.5:8080"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert res.returncode == 2
    assert "http:// or https://" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_unreachable_server_gives_up_with_one_line_and_a_summary() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = subprocess.run(
        [sys.executable, "-m", "fedsim", "client", "topologies/default.yaml",
         "--device", "sensor-01", "--server", f"http://127.0.0.1:{port}",
         "--retry-for", "0.5", "--backoff", "0.05", "0.1"],
        capture_output=True, text=True, cwd=ROOT, check=False, timeout=120,
    )  # fmt: skip
    assert res.returncode == 1
    errors = [line for line in res.stderr.splitlines() if "error" in line]
    assert len(errors) == 1
    assert f"no answer from http://127.0.0.1:{port}" in errors[0]
    assert "cannot connect" in errors[0]
    assert "sensor-01: gave up; trained 0 rounds" in res.stdout


def test_a_client_refuses_bad_tasks_without_crashing() -> None:
    """A hostile server asks for `epochs: "abc"`, then `lr: NaN`: refused, not trained."""
    from aiohttp import web

    from fedsim.deploy import make_client
    from fedsim.fl.codec import encode

    sc = parse_scenario(tiny_topology(fl__poll_wait="1s"))
    size = 650
    bad = [{"epochs": "abc"}, {"lr": float("nan")}, {"epochs": 10**9}, {"lr": -1.0}]
    served: list[int] = []

    async def register(_: web.Request) -> web.Response:
        return web.json_response({"client_id": "dev-1", "poll_wait": 1.0})

    async def task(_: web.Request) -> web.Response:
        if len(served) >= len(bad):
            return web.json_response({"error": "finished", "status": 410}, status=410)
        config = bad[len(served)]
        served.append(1)
        env = encode(np.zeros(size, np.float32), {"round": 1, "version": 0, "config": config})
        return web.Response(body=env.body, content_type="application/octet-stream")

    async def main() -> object:
        app = web.Application()
        app.router.add_post("/v1/register", register)
        app.router.add_get("/v1/task", task)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            client = make_client(sc, "dev-1", f"http://127.0.0.1:{site.port}",
                                 backoff_s=(0.01, 0.02))  # fmt: skip
            await asyncio.wait_for(client.run(asyncio.Event()), 60)
            await client.connector.close()
            return client
        finally:
            await runner.cleanup()

    client = asyncio.run(main())
    assert client.stats.rounds_trained == 0  # type: ignore[attr-defined]
    assert client.stats.errors == {"EnvelopeError": len(bad)}  # type: ignore[attr-defined]
    assert "refused a bad task" in str(client.last_error)  # type: ignore[attr-defined]


def test_tls_federation_with_pinned_ca_and_fleet_keys(tmp_path: Path) -> None:
    import os

    from fedsim.deployment.tls import client_context, make_dev_pki, server_context
    from fedsim.fl.auth import Keyring

    topo = tiny_topology(fl__rounds=2, fl__clients_per_round=2, fl__min_available=2,
                         fl__poll_wait="5s", fl__deadline="30s", nodes__2__count=2)  # fmt: skip
    sc = parse_scenario(topo)
    pki = make_dev_pki(tmp_path, ["localhost"], ["dev-1", "dev-2"])
    keyring = Keyring(os.urandom(32), ["dev-1", "dev-2"])
    sctx = server_context(pki / "server.pem", pki / "server-key.pem", pki / "ca.pem")

    def device(name: str) -> object:
        return client_context(pki / "ca.pem", pki / "devices" / f"{name}.pem",
                              pki / "devices" / f"{name}-key.pem")  # fmt: skip

    async def main() -> tuple[list, list]:
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        server = asyncio.create_task(serve(sc, "127.0.0.1", 0, on_ready=ready.set_result,
                                           keyring=keyring, ssl_context=sctx,
                                           results_dir=tmp_path / "results"))  # fmt: skip
        port = await asyncio.wait_for(ready, 10)
        url = f"https://localhost:{port}"
        clients = await asyncio.wait_for(asyncio.gather(*(
            run_client(sc, n, url, key=keyring.device_key(n), ssl_context=device(n))
            for n in ("dev-1", "dev-2")
        )), 60)  # fmt: skip
        return await asyncio.wait_for(server, 10), list(clients)

    records, clients = asyncio.run(main())
    assert [r.reported for r in records] == [2, 2]
    assert [c.stats.uploads_accepted for c in clients] == [2, 2]
    # Over TLS the results count the HTTP bytes inside it: two models each way a round.
    with (tmp_path / "results" / "rounds.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    model = 4 * 650  # digits softmax, float32
    assert all(int(r["bytes_up"]) > 2 * model and int(r["bytes_down"]) > 2 * model for r in rows)


def test_the_server_says_what_it_waits_for() -> None:
    from types import SimpleNamespace

    from fedsim.deployment.watch import waiting_line

    engine = SimpleNamespace(finished=False, clients={"a": 1, "b": 2, "c": 3}, polls=[1, 2, 3],
                             current=None, min_available=6, deadline_s=120.0)  # fmt: skip
    assert waiting_line(engine, 0.0) == "waiting for 6 devices, 3 registered, 3 polling"
    engine.current = SimpleNamespace(open=True, start=10.0, number=4, want=3, results=[1])
    line = waiting_line(engine, 40.0)
    assert line is not None
    assert line.startswith("round 4: waiting for 2 of 3 updates (90 s to the deadline")
    engine.finished = True
    assert waiting_line(engine, 50.0) is None


def test_ctrl_c_prints_the_summary_line() -> None:
    """SIGINT once the client is talking to a (silent) server: exit 130, one summary."""
    import signal
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(120)
        port = listener.getsockname()[1]
        proc = subprocess.Popen(
            [sys.executable, "-m", "fedsim", "client", "topologies/default.yaml",
             "--device", "sensor-01", "--server", f"http://127.0.0.1:{port}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        conn, _ = listener.accept()  # the client is inside its event loop now
        with conn:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert out.strip().splitlines() == [
        "sensor-01: interrupted; trained 0 rounds, 0 uploads accepted, 0 late, 0 rejected, "
        "errors none"
    ]
    assert "Traceback" not in err
