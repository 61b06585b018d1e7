"""An upload that comes after its round has its reports is late, not wrong.

Outside review (session 14, finding 2): an over-selected device whose report arrived
after the round filled got the same 409 as a bad upload and backed off 1-4 s as after
an error; with `min_available` near the fleet size the next round waited for it (5
devices, 3 a round, 34 % over-selection, min_available 4: 7.66 s simulated against
0.632 s with min_available 3). Now the 409 says `"late": true` and the device asks for
its next task at once; a real refusal still backs off.

The same federation with top-k shows error feedback keeping a refused upload's entries:
they go back into the residual (nothing dropped, only delayed).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiohttp import web
from test_server import N, ZeroEval, served
from topo import InstantChannel

from fedsim.clock import VirtualTimeLoop
from fedsim.devices import DeviceProfile
from fedsim.fl import client as client_module
from fedsim.fl.client import FLClient
from fedsim.fl.codec import encode
from fedsim.fl.engine import SyncRounds
from fedsim.fl.server import CLIENT_HEADER, ROUND_HEADER, make_app
from fedsim.fl.strategies.fedavg import FedAvg
from fedsim.net.transport import EmulatedConnector, EmulatedSite, Wire


def _surplus_engine(rounds: int) -> SyncRounds:
    """Both of two devices are selected each round (100 % over-selection), one report
    fills it; the next round needs both polling (min_available 2)."""
    return SyncRounds(
        FedAvg(clients_per_round=1, over_selection=1.0),
        ZeroEval(),
        np.ones(N, dtype=np.float32),
        rounds=rounds,
        min_available=2,
        deadline_s=600,
        rng=np.random.default_rng(0),
    )


async def _post(session: Any, cid: str, values: float, version: int = 0) -> tuple[int, dict]:
    meta = {"client_id": cid, "round": 1, "version": version, "num_examples": 5}
    body = encode(np.full(N, values, np.float32), meta).body
    headers = {CLIENT_HEADER: cid, ROUND_HEADER: "1"}
    async with session.post("http://fl/v1/update", data=body, headers=headers) as r:
        return r.status, await r.json()


async def test_the_answer_tells_a_late_upload_from_a_wrong_one() -> None:
    engine = _surplus_engine(rounds=1)
    async with served(engine) as (session, _app):
        for cid in ("a", "b", "c"):
            async with session.post(
                "http://fl/v1/register", json={"client_id": cid, "num_examples": 5}
            ) as r:
                assert r.status == 200
        run = asyncio.create_task(engine.run())
        polls = [
            session.get("http://fl/v1/task", params={"client_id": cid, "wait": "30"})
            for cid in ("a", "b")
        ]
        for answer in await asyncio.gather(*polls):
            assert answer.status == 200
            answer.release()
        # Wrong: not selected (c never polled), an update on another model version.
        status, said = await _post(session, "c", 2.0)
        assert (status, said.get("late", False)) == (409, False), said
        status, said = await _post(session, "b", 2.0, version=5)
        assert (status, said.get("late", False)) == (409, False), said
        # a's report fills the round; b's comes after it: late.
        assert (await _post(session, "a", 2.0))[0] == 200
        status, said = await _post(session, "b", 3.0)
        assert status == 409
        assert said["late"] is True, said
        await run
        status, said = await _post(session, "b", 3.0)  # the round closed, the run over
        assert (status, said["late"]) == (409, True), said


@dataclass
class _Step:
    """Adds a fixed step to the model (a distinct one per device), at `work` flops."""

    step: float
    num_examples: int = 10

    def work(self, config: dict[str, Any]) -> float:
        return 1000.0

    def train(
        self, params: np.ndarray, config: dict[str, Any], rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, float]]:
        ramp = np.linspace(0.0, 1.0, params.size, dtype=np.float32)
        return (params + self.step * ramp + 0.01 * rng.standard_normal(params.size)).astype(
            np.float32
        ), {"loss": 1.0}


async def _federation(
    codec: str, monkeypatch: Any
) -> tuple[SyncRounds, list[FLClient], list[str], float]:
    """A fast device (1 s a round) and a slow one (4 s): the slow one's every upload
    comes after the fast one filled its round. Returns the engine, the clients, which
    of them backed off (in order), and the simulated time the federation took."""
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    t0 = loop.time()
    backed_off: list[str] = []
    real_backoff = FLClient._backoff

    async def backoff(self: FLClient) -> None:
        backed_off.append(self.client_id)
        await real_backoff(self)

    monkeypatch.setattr(FLClient, "_backoff", backoff)
    engine = _surplus_engine(rounds=3)
    wire = Wire(loop, lambda c, s: (InstantChannel(loop.env), 0.001))
    runner = web.AppRunner(make_app(engine, poll_wait_s=30), access_log=None)
    await runner.setup()
    await EmulatedSite(runner, wire, "srv", "fl", 80).start()
    clients = [
        FLClient(
            name,
            "http://fl",
            EmulatedConnector(wire, name),
            _Step(step=0.1 * (i + 1)),
            DeviceProfile(name, flops, 1e9, 0.0),
            np.random.default_rng(i),
            codec=codec,
            poll_wait_s=30,
        )
        for i, (name, flops) in enumerate((("fast", 1000.0), ("slow", 250.0)))
    ]
    stop = asyncio.Event()
    jobs = [asyncio.create_task(c.run(stop)) for c in clients]
    await engine.run()
    took = loop.time() - t0
    stop.set()
    await asyncio.wait(jobs, timeout=600)
    for c in clients:
        await c.connector.close()
    await runner.cleanup()
    return engine, clients, backed_off, took


async def test_a_late_device_asks_for_its_next_task_at_once(monkeypatch: Any) -> None:
    """On main the slow device backed off after each late answer: `backed_off` was
    ['slow', 'slow', 'slow'] and each next round started 1-4 s later."""
    engine, (fast, slow), backed_off, took = await _federation("float32", monkeypatch)
    assert [r.reported for r in engine.records] == [1, 1, 1]
    assert backed_off == []
    assert (slow.stats.uploads_late, slow.stats.uploads_rejected) == (3, 0)
    assert (fast.stats.uploads_accepted, fast.stats.uploads_late) == (3, 0)
    assert [c.rounds_surplus for c in (engine.clients["fast"], engine.clients["slow"])] == [0, 3]
    # Each round starts as soon as the slow device's late answer sends it polling: 4 s
    # of its training each, and no backoff between.
    assert took < 3 * 4.0 + 0.5, took


async def test_a_refused_top_k_upload_keeps_its_entries_for_the_next(monkeypatch: Any) -> None:
    """Error feedback: every entry trained is sent some time, none dropped. The slow
    device's uploads are all refused (late), so its residual at the end holds every
    update it trained, whole. On main the entries each refused upload carried were
    gone from it (cleared when sent, though never used)."""
    trained: dict[str, list[np.ndarray]] = {}
    real_encode = client_module.encode

    def spy(values: np.ndarray, meta: dict[str, Any], **kw: Any) -> Any:
        trained.setdefault(meta["client_id"], []).append(np.array(values, np.float32))
        return real_encode(values, meta, **kw)

    monkeypatch.setattr(client_module, "encode", spy)
    _engine, (_fast, slow), _backed_off, _took = await _federation("topk", monkeypatch)
    assert len(trained["slow"]) == 3
    assert slow._residual is not None
    whole = np.sum(trained["slow"], axis=0, dtype=np.float32)
    np.testing.assert_allclose(slow._residual, whole, rtol=0, atol=1e-6)
    assert slow.stats.uploads_late == 3


async def test_a_late_device_polling_before_its_round_closes_gets_no_task_again() -> None:
    """A late device polls at once now: should its poll reach the server after the round
    has its reports but before the round loop closed it, it must not be handed the same
    task again (it would train it again, only to be late again)."""
    engine = _surplus_engine(rounds=1)
    async with served(engine) as (session, _app):
        for cid in ("a", "b"):
            async with session.post(
                "http://fl/v1/register", json={"client_id": cid, "num_examples": 5}
            ) as r:
                assert r.status == 200
        run = asyncio.create_task(engine.run())
        polls = [
            session.get("http://fl/v1/task", params={"client_id": cid, "wait": "30"})
            for cid in ("a", "b")
        ]
        for answer in await asyncio.gather(*polls):
            answer.release()
        rnd = engine.current
        assert rnd is not None
        engine.submit("a", 1, 0, 5, np.full(N, 2.0, np.float32), {})  # fills the round ...
        assert rnd.open  # ... which the round loop has not closed yet
        assert await engine.poll("b", 0.0) is None
        await run
