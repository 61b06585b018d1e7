"""An engine failure never ends or wedges the server: a strategy that raises
rejects its round (sync) or drops its buffer (async); the next round goes on."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from engine_doubles import Score

from fedsim.fl.async_engine import BufferedAsync
from fedsim.fl.engine import SyncRounds
from fedsim.fl.messages import ClientInfo
from fedsim.fl.strategies.fedavg import FedAvg

N = 8


class Exploding(FedAvg):
    """FedAvg whose first aggregation raises, as a numeric bug would."""

    def __init__(self) -> None:
        super().__init__(clients_per_round=1)
        self.calls = 0

    def aggregate(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise OverflowError("int too large to convert to float")
        return super().aggregate(*args, **kwargs)


async def _serve_one_client(engine: Any, rounds: int) -> None:
    engine.register(ClientInfo("a", 5))
    for _ in range(rounds):
        ins = await engine.poll("a", 60.0)
        assert ins is not None
        engine.submit("a", ins.server_round, ins.model_version, 5,
                      np.full(N, 0.5, np.float32), {})  # fmt: skip


async def test_a_failing_aggregation_rejects_the_round_and_the_next_goes_on() -> None:
    engine = SyncRounds(Exploding(), Score(), np.ones(N, np.float32), rounds=2,
                        min_available=1, deadline_s=60, rng=np.random.default_rng(0))  # fmt: skip
    run = asyncio.create_task(engine.run())
    await _serve_one_client(engine, 2)
    records = await asyncio.wait_for(run, 60)
    assert [r.accepted for r in records] == [False, True]
    assert engine.version == 1
    np.testing.assert_array_equal(engine.params, np.full(N, 0.5, np.float32))


async def test_a_failing_async_aggregation_discards_the_buffer_not_the_server() -> None:
    """The first aggregation's step fails: that window is a round that aggregated none
    (its update discarded, as a sync round's), the model stays, the next one deploys."""
    engine = BufferedAsync(Score(), np.ones(N, np.float32), rounds=2, buffer_size=1)
    calls = {"n": 0}
    real = engine._candidate

    def explode_once(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise IndexError("buffer full")
        return real(*args)

    engine._candidate = explode_once  # type: ignore[method-assign]
    run = asyncio.create_task(engine.run())
    await _serve_one_client(engine, 2)
    records = await asyncio.wait_for(run, 60)
    assert [(r.reported, r.aggregated, r.accepted) for r in records] == [
        (1, 0, False),
        (1, 1, True),
    ]
    assert engine.version == 1
