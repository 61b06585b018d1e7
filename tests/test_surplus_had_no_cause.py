"""An over-selected device whose task an outage killed is a dropout, not surplus.

Outside review (session 15): when a sync round filled up (over-selection), every
selected device that had not reported was counted surplus, even one whose gateway went
down during the round: a gateway-outage study reported 0 dropouts while the outage
killed several devices' tasks. Surplus means the round filled up without a device that
was still working; a task with a cause (an outage on its path, a rejection, an abort,
the client's own give-up) failed. The auditor checks every surplus selection's window
against the scenario's outages (`surplus-had-no-cause`).

tests/scenarios/surplus_outage.yaml: 6 devices, all selected every round, 3 wanted. The
phones fill every round; the sensors are slower (surplus), and gw-slow, their gateway,
goes down inside round 2.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from engine_doubles import Score

from fedsim.audit import audit
from fedsim.fl.async_engine import BufferedAsync
from fedsim.fl.engine import SyncRounds
from fedsim.fl.messages import ClientInfo
from fedsim.fl.selection import reliability
from fedsim.fl.strategies.fedavg import FedAvg
from fedsim.net.evidence import Surplus
from fedsim.run import simulate
from fedsim.scenario import load_scenario

HERE = Path(__file__).parent
SENSORS = ("sensor-1", "sensor-2", "sensor-3")


@pytest.fixture(scope="module")
def outage_run() -> Any:
    return simulate(load_scenario(HERE / "scenarios" / "surplus_outage.yaml"))


def test_a_gateway_outage_under_over_selection_makes_gateway_down_dropouts(
    outage_run: Any,
) -> None:
    result = outage_run
    rounds = {r.round: r for r in result.rounds}
    assert [rounds[n].reported for n in (1, 2, 3)] == [3, 3, 3]  # every round filled
    assert rounds[2].failed == 3, "the outage's victims are dropouts, not surplus"
    assert rounds[2].failed_causes == {"gateway_down": 3}
    assert rounds[1].failed == rounds[3].failed == 0
    rows = {c.client: c for c in result.clients}
    for s in SENSORS:
        assert rows[s].dropouts_gateway_down == 1
        assert rows[s].rounds_surplus == 2  # rounds 1 and 3: merely slower
    assert result.summary.dropouts == {"gateway_down": 3}
    assert audit(result) == []


def test_a_merely_slow_over_selected_device_stays_surplus() -> None:
    sc = load_scenario(HERE / "scenarios" / "surplus_outage.yaml")
    result = simulate(dataclasses.replace(sc, failures=()))
    rows = {c.client: c for c in result.clients}
    for s in SENSORS:
        assert (rows[s].rounds_selected, rows[s].rounds_surplus, rows[s].dropouts) == (3, 3, 0)
    assert result.summary.dropouts == {}
    assert len(result.evidence.surplus) == 9  # each with its window, for the auditor
    assert audit(result) == []


def test_the_auditor_names_an_outage_victim_counted_surplus(outage_run: Any) -> None:
    """The old counting (the outage's victims as surplus), recorded as such."""
    result = outage_run
    round2 = next(r for r in result.rounds if r.round == 2)
    start = next(r for r in result.rounds if r.round == 1).sim_time_s
    hidden = dataclasses.replace(
        result,
        clients=[
            dataclasses.replace(
                c, rounds_surplus=c.rounds_surplus + 1, dropouts=0, dropouts_gateway_down=0
            )
            if c.client in SENSORS
            else c
            for c in result.clients
        ],
        evidence=dataclasses.replace(
            result.evidence,
            surplus=(
                *result.evidence.surplus,
                *(Surplus(s, 2, start + 59.0, round2.sim_time_s) for s in SENSORS),
            ),
        ),
    )
    found = [v for v in audit(hidden) if v.invariant == "surplus-had-no-cause"]
    assert len(found) == 3, found
    assert "sensor-1, round 2: counted surplus" in found[0].detail
    assert "gw-slow" in found[0].detail
    # Surplus in clients.csv with no window in the evidence cannot pass unchecked.
    unwindowed = dataclasses.replace(hidden, evidence=result.evidence)
    found = [v for v in audit(unwindowed) if v.invariant == "surplus-had-no-cause"]
    assert len(found) == 3, found
    assert "rounds_surplus 3" in found[0].detail


async def test_the_strategy_and_reliability_see_a_filled_rounds_outage_victim() -> None:
    """Engine level: 3 selected, 1 wanted; `b`'s path was down during the round, `c`
    was merely slower. `b` is a failure the strategy sees and `reliability` counts;
    `c` is neither."""
    seen: list[list[str]] = []

    class Watched(FedAvg):
        def aggregate(self, number: int, params: np.ndarray, updates: Any, failures: Any) -> Any:
            seen.append([f"{f.client_id}:{f.cause}" for f in failures])
            return super().aggregate(number, params, updates, failures)

    windows: list[tuple[str, int]] = []
    engine = SyncRounds(
        Watched(clients_per_round=1, over_selection=2.0),
        Score(),
        np.ones(4, np.float32),
        rounds=1,
        min_available=3,
        rng=np.random.default_rng(0),
        explain=lambda cid, start, end: "gateway_down" if cid == "b" else None,
    )
    engine.surplus_observers.append(lambda cid, rnd, start, end: windows.append((cid, rnd)))
    for cid in ("a", "b", "c"):
        engine.register(ClientInfo(cid, 5))
    run = asyncio.create_task(engine.run())
    tasks = await asyncio.gather(*(engine.poll(cid, 60.0) for cid in ("a", "b", "c")))
    assert all(t is not None for t in tasks)
    engine.submit("a", 1, 0, 5, np.zeros(4, np.float32), {})
    (record,) = await run
    assert (record.reported, record.failed, record.failed_causes) == (1, 1, {"gateway_down": 1})
    assert seen == [["b:gateway_down"]]
    b, c = engine.clients["b"], engine.clients["c"]
    assert (b.rounds_failed, b.dropouts, b.rounds_surplus) == (1, {"gateway_down": 1}, 0)
    assert (c.rounds_failed, c.rounds_surplus) == (0, 1)
    assert reliability(b) < reliability(c)
    assert windows == [("c", 1)]


async def test_an_async_task_out_at_the_end_with_a_cause_is_a_dropout() -> None:
    """The async engine's end, the same rule: `cut`'s path was down during its task
    (still out when the run ended, its device not gone for good): a dropout; `live`'s
    task, which nothing failed, is surplus."""
    windows: list[str] = []
    engine = BufferedAsync(
        Score(),
        np.ones(4, np.float32),
        rounds=5,
        buffer_size=2,
        explain=lambda cid, start, end: "link_down" if cid == "cut" else None,
    )
    engine.gone = lambda cid: None
    engine.surplus_observers.append(lambda cid, rnd, start, end: windows.append(cid))
    for cid in ("cut", "live"):
        engine.register(ClientInfo(cid, 5))
    run = asyncio.create_task(engine.run())
    for cid in ("cut", "live"):
        assert await engine.poll(cid, 60.0) is not None
    await asyncio.sleep(1.0)
    engine.stop("stall_limit", "test")
    await run
    cut, live = engine.clients["cut"], engine.clients["live"]
    assert (cut.dropouts, cut.rounds_surplus) == ({"link_down": 1}, 0)
    assert (live.dropouts, live.rounds_surplus) == ({}, 1)
    assert engine.dropouts_after_rounds == {"link_down": 1}
    assert windows == ["live"]
