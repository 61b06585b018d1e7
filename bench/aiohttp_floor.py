"""How far fedsim's client-round is above a bare aiohttp exchange, measured in one process.

The design card asks for a real aiohttp request per client-round. So the cheapest a
client-round can be is one aiohttp exchange with nothing else: no emulated network, no
signing, no codec, no training. This bench measures that floor on this machine (plain
asyncio, real loopback sockets, every client posting a model-sized body every round and
reading a model-sized answer, all clients at once as in a round) and fedsim's
client-round on the Flower comparison job in the same process, and prints their ratio.
Between the two, the same fedsim run with a network model that costs nothing
(bench/free_network.py): what fedsim would cost if its network model were free, so the
share of a client-round the network model is, and an upper bound on what making it
faster can buy. All are wall time around an event loop (take it on a quiet machine) and
the best of `--repeats`. Absolute times move with the host; the ratios say how much of a
client-round is fedsim's own work (the network model, the FL protocol, training) rather
than the HTTP stack.

    python bench/aiohttp_floor.py [--cases 1000x5,100x20] [--body 2600] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flower_job import parse_cases, write_topology
from free_network import free_network

__all__ = ["bare_exchange_s", "bare_rounds", "fedsim_client_round_s", "main"]


async def bare_rounds(devices: int, rounds: int, body: bytes) -> tuple[float, int]:
    """Wall seconds of `rounds` rounds of `devices` concurrent keep-alive POSTs (the
    connections are opened first, untimed: fedsim's devices keep theirs alive too), and
    how many whole bodies the server received, the untimed first round included."""
    served = 0

    async def update(request: web.Request) -> web.Response:
        nonlocal served
        data = await request.read()
        served += len(data) == len(body)
        return web.Response(body=body if len(data) == len(body) else b"")

    app = web.Application()
    app.router.add_post("/v1/update", update)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/v1/update"
    sessions = [
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) for _ in range(devices)
    ]

    async def post(session: aiohttp.ClientSession) -> None:
        async with session.post(url, data=body) as resp:
            if len(await resp.read()) != len(body):
                raise RuntimeError("the answer lost bytes")

    try:
        await asyncio.gather(*(post(s) for s in sessions))  # connect outside the timing
        start = time.perf_counter()
        for _ in range(rounds):
            await asyncio.gather(*(post(s) for s in sessions))
        return time.perf_counter() - start, served
    finally:
        for s in sessions:
            await s.close()
        await runner.cleanup()


def bare_exchange_s(devices: int, rounds: int, body_bytes: int) -> float:
    """Seconds per exchange of the bare aiohttp floor."""
    wall, served = asyncio.run(bare_rounds(devices, rounds, bytes(body_bytes)))
    if served != devices * (rounds + 1):
        raise RuntimeError(
            f"the server received {served} whole bodies, not {devices * (rounds + 1)}"
        )
    return wall / (devices * rounds)


def fedsim_client_round_s(
    devices: int, rounds: int, folder: Path, *, free_net: bool = False
) -> float:
    """Event-loop seconds per client-round of `fedsim run` on the Flower comparison job
    (summary.json's wall_time_s, which the run measures around its event loop only);
    with `free_net`, inside `free_network` (unaudited: its counts are no network's)."""
    import fedsim.cli

    topology = write_topology(devices, rounds, folder)
    out = folder / f"run-{devices}x{rounds}-{time.monotonic_ns()}"
    argv = ["run", str(topology), "--quiet", "--no-plots", "--out", str(out)]
    try:
        if free_net:
            with free_network():
                fedsim.cli.main([*argv, "--no-audit"])
        else:
            fedsim.cli.main(argv)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    summary = json.loads(next(out.rglob("summary.json")).read_text())
    if summary["rounds"] != rounds:
        raise RuntimeError(f"the run completed {summary['rounds']} of {rounds} rounds")
    return float(summary["wall_time_s"]) / (devices * rounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="1000x5,100x20", help="DEVICESxROUNDS,...")
    parser.add_argument("--body", type=int, default=2600, help="bytes each way (digits' model)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many")
    parser.add_argument("--quick", action="store_true", help="only 100x5, once")
    a = parser.parse_args(argv)
    if a.quick:
        a.cases, a.repeats = "100x5", 1
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        fedsim_client_round_s(10, 1, Path(tmp))  # imports, Numba's cache, first-call costs
        for devices, rounds in parse_cases(a.cases):
            bare = min(bare_exchange_s(devices, rounds, a.body) for _ in range(a.repeats))
            fed, free = [], []  # interleaved: the host's speed drifts
            for _ in range(a.repeats):
                fed.append(fedsim_client_round_s(devices, rounds, Path(tmp)))
                free.append(fedsim_client_round_s(devices, rounds, Path(tmp), free_net=True))
            rows.append((devices, rounds, bare, min(free), min(fed)))
    print(
        "| case | bare aiohttp exchange | fedsim, network model free | fedsim client-round "
        "(loop) | fedsim / bare | network model's share |"
    )
    print("|---|---|---|---|---|---|")
    for devices, rounds, bare, free, fed in rows:
        print(
            f"| N={devices}, {rounds} rounds | {bare * 1e3:.3f} ms | {free * 1e3:.3f} ms "
            f"| {fed * 1e3:.3f} ms | {fed / bare:.2f}x | {1 - free / fed:.0%} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
