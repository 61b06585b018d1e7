"""The FL server's HTTP API: bad uploads get a 4xx JSON reason and change nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from topo import InstantChannel

from fedsim.clock import VirtualTimeLoop
from fedsim.fl.codec import decode, encode
from fedsim.fl.engine import SyncRounds
from fedsim.fl.gate import DeploymentGate
from fedsim.fl.server import CLIENT_HEADER, ROUND_HEADER, make_app
from fedsim.fl.strategies.fedavg import FedAvg
from fedsim.net.transport import EmulatedConnector, EmulatedSite, Wire

N = 50


@dataclass
class ZeroEval:
    metric_name: str = "score"
    higher_is_better: bool = True

    def evaluate(self, params: np.ndarray) -> dict[str, float]:
        return {"score": float(-np.abs(params).sum())}


def two_client_engine(size: int = N, rounds: int = 1, gate: object = None) -> SyncRounds:
    """A round engine that waits for two clients and takes both."""
    return SyncRounds(
        FedAvg(clients_per_round=2),
        ZeroEval(),
        np.ones(size, dtype=np.float32),
        rounds=rounds,
        min_available=2,
        deadline_s=600,
        rng=np.random.default_rng(0),
        gate=gate,
    )


@contextlib.asynccontextmanager
async def served(
    engine: SyncRounds, connections: int = 100
) -> AsyncIterator[tuple[aiohttp.ClientSession, web.Application]]:
    """The engine's HTTP API at http://fl over the emulated wire (1 ms, no loss), and a
    session to it."""
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    wire = Wire(loop, lambda c, s: (InstantChannel(loop.env), 0.001))
    app = make_app(engine, poll_wait_s=60)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await EmulatedSite(runner, wire, "srv", "fl", 80).start()
    session = aiohttp.ClientSession(connector=EmulatedConnector(wire, "dev", limit=connections))
    try:
        yield session, app
    finally:
        await session.close()
        await runner.cleanup()


@pytest.fixture(params=[None])
async def api(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[SyncRounds, aiohttp.ClientSession, asyncio.Task[object]]]:
    engine = two_client_engine(gate=request.param)
    async with served(engine) as (session, _app):
        for cid in ("a", "b"):
            async with session.post(
                "http://fl/v1/register", json={"client_id": cid, "num_examples": 5}
            ) as r:
                assert r.status == 200
        run = asyncio.create_task(engine.run())
        yield engine, session, run
        run.cancel()


async def _task(session: aiohttp.ClientSession, cid: str) -> bytes:
    async with session.get("http://fl/v1/task", params={"client_id": cid, "wait": "30"}) as r:
        assert r.status == 200
        return await r.read()


def _upload(values: np.ndarray, cid: str, rnd: int = 1, version: int = 0, n: int = 5) -> bytes:
    meta = {"client_id": cid, "round": rnd, "version": version, "num_examples": n}
    return encode(values, meta).body


async def _post(
    session: aiohttp.ClientSession, body: bytes, cid: str, rnd: int = 1
) -> tuple[int, dict]:
    headers = {CLIENT_HEADER: cid, ROUND_HEADER: str(rnd)}
    async with session.post("http://fl/v1/update", data=body, headers=headers) as r:
        return r.status, await r.json()


async def test_bad_uploads_are_rejected_and_change_nothing(api) -> None:  # type: ignore[no-untyped-def]
    engine, session, run = api
    bodies = await asyncio.gather(_task(session, "a"), _task(session, "b"))
    assert decode(bodies[0]).meta["round"] == 1
    before = engine.params.copy()
    good = np.full(N, 2.0, dtype=np.float32)
    nan = good.copy()
    nan[3] = np.nan
    cases = [
        (_upload(np.ones(N + 1, np.float32), "a"), "a", 1, 400, "wrong shape"),
        (_upload(nan, "a"), "a", 1, 400, "NaN"),
        (_upload(good, "zed"), "zed", 1, 404, "unknown client"),
        (_upload(good, "a", rnd=7), "a", 7, 409, "stale round"),
        (_upload(good, "a", version=3), "a", 1, 409, "version"),
        (_upload(good, "b"), "a", 1, 400, "does not match"),
        (b"garbage" * 10, "a", 1, 400, "magic"),
        (_upload(good, "a", n=0), "a", 1, 400, "num_examples"),
        (b"\0" * (8 * N * 4 + 70000), "a", 1, 413, ""),
    ]
    for body, cid, rnd, status, reason in cases:
        got, payload = await _post(session, body, cid, rnd)
        assert got == status, (reason, payload)
        assert reason in payload["error"]
        np.testing.assert_array_equal(engine.params, before)
        assert engine.current is not None
        assert engine.current.results == []
    # A corrupted payload byte fails the checksum.
    body = bytearray(_upload(good, "a"))
    body[-1] ^= 0xFF
    got, payload = await _post(session, bytes(body), "a")
    assert got == 400
    assert "checksum" in payload["error"]
    # Now the real uploads: both accepted, the round closes, the model moves.
    assert (await _post(session, _upload(good, "a"), "a"))[0] == 200
    assert (await _post(session, _upload(good * 3, "a"), "a"))[0] == 409  # a second update
    assert (await _post(session, _upload(good * 2, "b"), "b"))[0] == 200
    records = await run
    assert records[0].accepted
    assert records[0].reported == 2
    np.testing.assert_allclose(engine.params, 3.0)


async def test_register_validates_json(api) -> None:  # type: ignore[no-untyped-def]
    _engine, session, _run = api
    for payload, reason in (
        ({"client_id": "", "num_examples": 1}, "client_id"),
        ({"client_id": "x", "num_examples": -1}, "num_examples"),
        ({"client_id": "x", "num_examples": True}, "num_examples"),
    ):
        async with session.post("http://fl/v1/register", json=payload) as r:
            assert r.status == 400
            assert reason in (await r.json())["error"]
    async with session.post("http://fl/v1/register", data=b"{nope") as r:
        assert r.status == 400
    async with session.get("http://fl/v1/task", params={"client_id": "ghost"}) as r:
        assert r.status == 404
        assert "unknown client" in (await r.json())["error"]


@pytest.mark.parametrize("api", [DeploymentGate(tolerance=1.0)], indirect=True)
async def test_gate_rejects_a_poisoned_round(api) -> None:  # type: ignore[no-untyped-def]
    """Valid uploads whose average is far worse than the deployed model: evaluated,
    rejected by the gate, and the deployed model (and its version) stay the same."""
    engine, session, run = api
    await asyncio.gather(_task(session, "a"), _task(session, "b"))
    before = engine.params.copy()
    poison = np.full(N, 1e3, dtype=np.float32)
    assert (await _post(session, _upload(poison, "a"), "a"))[0] == 200
    assert (await _post(session, _upload(poison, "b"), "b"))[0] == 200
    records = await run
    rec = records[0]
    assert rec.reported == 2
    assert rec.candidate_metric is not None
    assert rec.candidate_metric < rec.metric
    assert not rec.accepted
    assert rec.deployed_version == 0 == engine.version
    np.testing.assert_array_equal(engine.params, before)


async def test_refused_delta_uploads_are_dropouts_caused_by_rejection(api) -> None:  # type: ignore[no-untyped-def]
    """Finding 8: a refused delta upload was recorded as `deadline` (sync) or `lost`
    (async), because only malformed envelopes told the engine. Every refusal of a read
    upload now does."""
    engine, session, run = api
    await asyncio.gather(_task(session, "a"), _task(session, "b"))
    meta = {"client_id": "a", "round": 1, "version": 5, "num_examples": 5}
    unknown_base = encode(np.ones(N, np.float32), meta, delta=True).body
    got, payload = await _post(session, unknown_base, "a")
    assert (got, "no longer holds" in payload["error"]) == (409, True)
    assert (await _post(session, _upload(np.full(N, 2.0, np.float32), "b"), "b"))[0] == 200
    records = await run
    assert records[0].failed_causes == {"rejected": 1}
    assert engine.clients["a"].dropouts == {"rejected": 1}
    assert engine.clients["b"].dropouts == {}
