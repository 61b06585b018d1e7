"""FedBuff through the real HTTP API: buffering, staleness weights, 409s, gate, determinism."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from topo import InstantChannel

from fedsim.clock import VirtualTimeLoop
from fedsim.devices import DeviceProfile
from fedsim.fl.async_engine import BufferedAsync, polynomial_staleness
from fedsim.fl.client import FLClient
from fedsim.fl.codec import decode, encode
from fedsim.fl.gate import DeploymentGate
from fedsim.fl.server import CLIENT_HEADER, ROUND_HEADER, make_app
from fedsim.net.transport import EmulatedConnector, EmulatedSite, Wire

N = 20
URL = "http://fl"


@dataclass
class DistanceEval:
    """score = -mean |params - goal|: higher is better, 0 at the goal."""

    goal: float = 2.0
    metric_name: str = "score"
    higher_is_better: bool = True

    def evaluate(self, params: np.ndarray) -> dict[str, float]:
        return {"score": float(-np.abs(params - self.goal).mean())}


def _engine(**kw: Any) -> BufferedAsync:
    base: dict[str, Any] = {"rounds": 50, "buffer_size": 2, "max_staleness": 2}
    base.update(kw)
    return BufferedAsync(DistanceEval(), np.zeros(N, dtype=np.float32), **base)


@contextlib.asynccontextmanager
async def served(
    engine: BufferedAsync, clients: dict[str, int]
) -> AsyncIterator[tuple[Wire, aiohttp.ClientSession, asyncio.Task[Any]]]:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    wire = Wire(loop, lambda c, s: (InstantChannel(loop.env), 0.001))
    runner = web.AppRunner(make_app(engine, poll_wait_s=60), access_log=None)
    await runner.setup()
    await EmulatedSite(runner, wire, "srv", "fl", 80).start()
    session = aiohttp.ClientSession(connector=EmulatedConnector(wire, "dev"))
    for cid, n in clients.items():
        async with session.post(
            f"{URL}/v1/register", json={"client_id": cid, "num_examples": n}
        ) as r:
            assert r.status == 200
    run = asyncio.create_task(engine.run())
    try:
        yield wire, session, run
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        await session.close()
        await runner.cleanup()


async def _task(
    session: aiohttp.ClientSession, cid: str, wait: float = 30
) -> dict[str, Any] | None:
    async with session.get(f"{URL}/v1/task", params={"client_id": cid, "wait": str(wait)}) as r:
        if r.status == 204:
            return None
        assert r.status == 200, await r.text()
        dec = decode(await r.read())
        return {**dec.meta, "params": dec.values}


async def _post(
    session: aiohttp.ClientSession,
    cid: str,
    task: dict[str, Any],
    value: float,
    *,
    n: int = 5,
    delta: bool = False,
) -> tuple[int, dict[str, Any]]:
    meta = {"client_id": cid, "round": task["round"], "version": task["version"], "num_examples": n}
    body = encode(np.full(N, value, dtype=np.float32), meta, delta=delta).body
    headers = {CLIENT_HEADER: cid, ROUND_HEADER: str(task["round"])}
    async with session.post(f"{URL}/v1/update", data=body, headers=headers) as r:
        return r.status, await r.json()


async def test_buffers_k_updates_and_weights_them_by_staleness() -> None:
    engine = _engine(buffer_size=2)
    async with served(engine, {"a": 5, "b": 5, "c": 10}) as (_wire, s, _run):
        ta, tb, tc = [await _task(s, cid) for cid in "abc"]
        assert ta
        assert tb
        assert tc
        assert (ta["round"], ta["version"]) == (1, 0)
        # First update: buffered, nothing deployed.
        assert (await _post(s, "a", ta, 1.0))[0] == 200
        assert engine.version == 0
        assert engine.status()["buffered"] == 1
        np.testing.assert_array_equal(engine.params, 0.0)
        assert engine.records == []
        # K-th update: aggregate (both fresh: the plain mean of deltas) and deploy.
        assert (await _post(s, "b", tb, 3.0))[0] == 200
        assert engine.version == 1
        np.testing.assert_allclose(engine.params, 2.0)
        rec = engine.records[0]
        assert (rec.round, rec.selected, rec.reported, rec.failed) == (1, 3, 2, 0)
        assert rec.accepted
        assert rec.deployed_version == 1
        assert rec.metric == pytest.approx(0.0)
        assert rec.candidate_metric == pytest.approx(0.0)
        assert rec.metrics["staleness_max"] == 0.0
        # c trained on version 0 (one version stale) and uploads a delta against it.
        assert (await _post(s, "c", tc, 4.0, n=10, delta=True))[0] == 200
        ta2 = await _task(s, "a")
        assert ta2
        assert (ta2["round"], ta2["version"]) == (2, 1)
        np.testing.assert_allclose(ta2["params"], 2.0)
        assert (await _post(s, "a", ta2, 2.5))[0] == 200
        # delta = (10 s(1) * 4 + 5 s(0) * 0.5) / (10 + 5), s(t) = 1/sqrt(1+t)
        w_c, w_a = 10 / math.sqrt(2), 5.0
        step = (w_c * 4.0 + w_a * 0.5) / 15.0
        np.testing.assert_allclose(engine.params, 2.0 + step, rtol=1e-6)
        rec = engine.records[1]
        assert (rec.round, rec.selected, rec.reported) == (2, 1, 2)
        assert rec.metrics["staleness_max"] == 1.0
        assert rec.metrics["staleness_discount"] == pytest.approx((w_c + w_a) / 15.0)
        assert engine.clients["a"].rounds_reported == 2


async def test_server_lr_scales_the_buffered_step() -> None:
    engine = _engine(buffer_size=1, server_lr=0.5)
    async with served(engine, {"a": 5}) as (_wire, s, _run):
        t = await _task(s, "a")
        assert t is not None
        assert (await _post(s, "a", t, 3.0))[0] == 200
        np.testing.assert_allclose(engine.params, 1.5)


async def test_too_stale_updates_are_rejected_with_409_and_counted() -> None:
    engine = _engine(buffer_size=1, max_staleness=1)
    async with served(engine, {"a": 5, "b": 5}) as (_wire, s, _run):
        tb = await _task(s, "b")
        assert tb is not None
        assert tb["version"] == 0
        for value in (1.0, 2.0):  # a moves the model twice: b's base is 2 versions old
            ta = await _task(s, "a")
            assert ta is not None
            assert (await _post(s, "a", ta, value))[0] == 200
        assert engine.version == 2
        assert engine.base_params(0) is None  # only max_staleness + 1 versions are kept
        before = engine.params.copy()
        status, payload = await _post(s, "b", tb, 100.0)
        assert status == 409
        assert "stale" in payload["error"]
        np.testing.assert_array_equal(engine.params, before)
        # The task is over: a second try is a 409 too, and the window counts a failure.
        status, payload = await _post(s, "b", tb, 100.0)
        assert status == 409
        assert "no task out" in payload["error"]
        ta = await _task(s, "a")
        assert ta is not None
        assert (await _post(s, "a", ta, 2.0))[0] == 200
        assert engine.records[-1].failed_causes == {"stale": 1}


async def test_concurrency_limit_and_task_deadline() -> None:
    engine = _engine(buffer_size=1, concurrency=1, deadline_s=100.0)
    loop = asyncio.get_running_loop()
    async with served(engine, {"a": 5, "b": 5}) as (_wire, s, _run):
        ta = await _task(s, "a")
        assert ta is not None
        t0 = loop.time()
        assert await _task(s, "b", wait=30) is None  # the only slot is taken
        assert loop.time() - t0 == pytest.approx(30.0, abs=0.1)
        await asyncio.sleep(60.0)
        tb = await _task(s, "b", wait=30)  # a's task expires at 100 s: b gets the slot
        assert tb is not None
        assert loop.time() == pytest.approx(100.0, abs=0.1)
        status, payload = await _post(s, "a", ta, 1.0)  # a is too late
        assert status == 409
        assert "no task out" in payload["error"]
        assert (await _post(s, "b", tb, 1.0))[0] == 200
        rec = engine.records[0]
        assert (rec.selected, rec.reported, rec.failed) == (2, 1, 1)
        assert rec.failed_causes == {"deadline": 1}


async def test_gate_rejects_a_poisoned_aggregate_and_keeps_the_model() -> None:
    engine = _engine(buffer_size=1, gate=DeploymentGate(tolerance=0.05))
    async with served(engine, {"a": 5, "evil": 5}) as (_wire, s, _run):
        ta = await _task(s, "a")
        assert ta is not None
        assert (await _post(s, "a", ta, 1.9))[0] == 200
        assert engine.version == 1
        deployed = engine.params.copy()
        te = await _task(s, "evil")
        assert te is not None
        assert (await _post(s, "evil", te, -50.0))[0] == 200  # accepted upload, bad model
        rec = engine.records[-1]
        assert not rec.accepted
        assert rec.candidate_metric is not None
        assert rec.candidate_metric < -40
        assert rec.deployed_version == 1
        assert engine.version == 1
        np.testing.assert_array_equal(engine.params, deployed)
        assert rec.metric == pytest.approx(-0.1)
        # New tasks still go out on the deployed version.
        tn = await _task(s, "a")
        assert tn is not None
        assert tn["version"] == 1
        np.testing.assert_array_equal(tn["params"], deployed)


async def test_stops_after_rounds_and_answers_finished() -> None:
    engine = _engine(buffer_size=1, rounds=2)
    async with served(engine, {"a": 5}) as (_wire, s, run):
        for _ in range(2):
            t = await _task(s, "a")
            assert t is not None
            assert (await _post(s, "a", t, 1.0))[0] == 200
        records = await run
        assert len(records) == 2
        assert engine.finished
        # A finished federation says so (410 Gone), and clients stop polling.
        async with s.get(f"{URL}/v1/task", params={"client_id": "a", "wait": "5"}) as r:
            assert r.status == 410
            assert "finished" in (await r.json())["error"]


def test_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="buffer_size"):
        _engine(buffer_size=0)
    with pytest.raises(ValueError, match="concurrency"):
        _engine(concurrency=0)
    with pytest.raises(ValueError, match="server_lr"):
        _engine(server_lr=0.0)
    with pytest.raises(ValueError, match="exponent"):
        polynomial_staleness(-1.0)
    assert polynomial_staleness(0.5)(3) == pytest.approx(0.5)


# -- whole federations with the real client ------------------------------------------
@dataclass
class PullLearner:
    """Moves params halfway to its own optimum, plus a little seeded noise."""

    optimum: float
    num_examples: int = 10

    def work(self, config: dict[str, Any]) -> float:
        return 1000.0

    def train(
        self, params: np.ndarray, config: dict[str, Any], rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, float]]:
        new = params + 0.5 * (self.optimum - params) + 0.01 * rng.standard_normal(params.size)
        return new.astype(np.float32), {"loss": float(np.abs(new - self.optimum).mean())}


async def _federation(speeds: list[float]) -> tuple[BufferedAsync, list[FLClient], float]:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    t0 = loop.time()
    engine = _engine(buffer_size=3, concurrency=4, max_staleness=3, rounds=8)
    wire = Wire(loop, lambda c, s: (InstantChannel(loop.env), 0.001))
    runner = web.AppRunner(make_app(engine, poll_wait_s=30), access_log=None)
    await runner.setup()
    await EmulatedSite(runner, wire, "srv", "fl", 80).start()
    clients = [
        FLClient(
            f"d{i}",
            URL,
            EmulatedConnector(wire, f"d{i}"),
            PullLearner(optimum=float(i % 3) + 1.0),
            DeviceProfile(f"speed{i}", flops, 1e9, 0.0),
            np.random.default_rng(i),
            poll_wait_s=30,
        )
        for i, flops in enumerate(speeds)
    ]
    stop = asyncio.Event()
    jobs = [asyncio.create_task(c.run(stop)) for c in clients]
    await engine.run()
    stop.set()
    await asyncio.wait(jobs, timeout=600)
    for c in clients:
        await c.connector.close()
    await runner.cleanup()
    return engine, clients, t0


def _timeline(engine: BufferedAsync, t0: float) -> list[dict[str, Any]]:
    out = []
    for r in engine.records:
        row = vars(r).copy()
        row["start_s"] = round(row["start_s"] - t0, 9)
        row["end_s"] = round(row["end_s"] - t0, 9)
        out.append(row)
    return out


async def test_federation_with_real_clients_is_deterministic_and_discounts_stragglers() -> None:
    speeds = [1000.0, 800.0, 500.0, 100.0, 50.0, 20.0]  # 1 s ... 50 s of training
    a, ca, ta = await _federation(speeds)  # two federations, one after the other
    b, _cb, tb = await _federation(speeds)
    assert len(a.records) == 8
    assert _timeline(a, ta) == _timeline(b, tb)
    np.testing.assert_array_equal(a.params, b.params)
    assert max(r.metrics["staleness_max"] for r in a.records) >= 1  # slow devices lag
    assert all(r.reported == 3 for r in a.records)
    # Fast devices contribute more often than the slowest one.
    assert a.clients["d0"].rounds_reported > a.clients["d5"].rounds_reported
    assert sum(c.stats.uploads_accepted for c in ca) == 8 * 3
    # The model approaches the example-weighted mean of the optima (2.0).
    assert abs(float(a.params.mean()) - 2.0) < 0.5


@pytest.mark.parametrize("delta", [True, False])
async def test_a_refused_upload_is_a_rejected_dropout_not_a_lost_task(delta: bool) -> None:
    """Finding 8: a delta on a base the server does not hold (or a wrong version) got a
    409 without telling the engine, so the task later counted as `lost`."""
    engine = _engine(buffer_size=1)
    async with served(engine, {"a": 5, "b": 5}) as (_wire, s, _run):
        tb = await _task(s, "b")
        assert tb is not None
        status, _ = await _post(s, "b", {**tb, "version": 7}, 1.0, delta=delta)
        assert status == 409
        assert "b" not in engine._tasks  # the task ended with the refusal
        ta = await _task(s, "a")
        assert ta is not None
        assert (await _post(s, "a", ta, 1.0))[0] == 200
        assert engine.records[-1].failed_causes == {"rejected": 1}
        assert engine.clients["b"].dropouts == {"rejected": 1}
