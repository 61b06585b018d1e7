"""An async run's end settles each selection by what happened to it (finding 4 of the
session-13 review): a task that failed after the last aggregation, or was out on a device
gone for good, is a dropout with its cause; a stored update or a task that might yet
report is surplus. Every count still reconciles: summary.json `dropouts` = rounds.csv
`failed_causes` + `dropouts_after_rounds`, and the auditor checks a battery death during
a task against the evidence (`async-end-settled`)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from engine_doubles import Score

from fedsim.audit import audit
from fedsim.fl.async_engine import BufferedAsync
from fedsim.fl.messages import ClientInfo
from fedsim.run import simulate
from fedsim.scenario import load_scenario

N = 4
HERE = Path(__file__).parent


async def test_failures_after_the_last_aggregation_are_dropouts_with_their_cause() -> None:
    gone = {"dead": "battery"}
    engine = BufferedAsync(
        Score(),
        np.ones(N, np.float32),
        rounds=5,
        buffer_size=2,
        explain=lambda cid, start, end: gone.get(cid),
    )
    engine.gone = gone.get
    for cid in ("a", "b", "dead", "live", "poller"):
        engine.register(ClientInfo(cid, 5))
    run = asyncio.create_task(engine.run())
    tasks = {cid: await engine.poll(cid, 60.0) for cid in ("a", "b", "dead", "live", "poller")}
    for cid in ("a", "b"):  # one aggregation: round 1
        ins = tasks[cid]
        assert ins is not None
        engine.submit(cid, ins.server_round, ins.model_version, 5, np.zeros(N, np.float32), {})
    ins = await engine.poll("a", 60.0)  # a's second task: stored, then the run ends
    assert ins is not None
    engine.submit("a", ins.server_round, ins.model_version, 5, np.zeros(N, np.float32), {})
    poll_again = asyncio.create_task(engine.poll("poller", 60.0))  # its task was lost
    await asyncio.sleep(1.0)
    engine.stop("devices_lost", "test")
    await run
    poll_again.cancel()
    c = engine.clients
    assert c["dead"].dropouts == {"battery": 1}, "a task out on a dead device is no surplus"
    assert c["dead"].rounds_surplus == 0
    assert c["poller"].dropouts == {"lost": 1}, "a failure after the last round keeps its cause"
    assert (c["a"].rounds_reported, c["a"].rounds_surplus) == (1, 1)  # stored, not aggregated
    assert c["live"].rounds_surplus == 1
    assert not c["live"].dropouts
    assert engine.dropouts_after_rounds == {"battery": 1, "lost": 1}
    for info in c.values():
        assert info.rounds_selected == (
            info.rounds_reported + sum(info.dropouts.values()) + info.rounds_surplus
        )


def _battery_run() -> Any:
    """The review's t3 (async FedBuff, LoRa tags on 3 J batteries) at the size that
    reproduced it: tag-2 and tag-3 die during an upload after the last aggregation."""
    sc = load_scenario(HERE / "scenarios" / "async_battery_end.yaml")
    return simulate(sc)


def test_a_battery_death_during_a_task_after_the_last_round_is_a_battery_dropout() -> None:
    result = _battery_run()
    s, rows = result.summary, {c.client: c for c in result.clients}
    assert s.end_reason == "devices_lost"
    assert rows["tag-2"].dropouts_battery == 1
    assert rows["tag-2"].rounds_surplus == 0
    assert rows["tag-3"].dropouts_battery == 1
    assert s.dropouts_after_rounds == {"battery": 3}
    assert s.dropouts == {"battery": 7, "stale": 1}
    # The old settlement (surplus), recorded as such: the auditor names it.
    broken = dataclasses.replace(
        result,
        clients=[
            dataclasses.replace(
                c, rounds_surplus=c.rounds_surplus + c.dropouts_battery, dropouts=0,
                dropouts_battery=0,
            ) if c.client.startswith("tag") else c
            for c in result.clients
        ],
    )  # fmt: skip
    names = {v.invariant for v in audit(broken)}
    assert "async-end-settled" in names
    # A summary that leaves out the dropouts after the rounds disagrees with rounds.csv.
    short = dataclasses.replace(result, summary=dataclasses.replace(s, dropouts_after_rounds={}))
    assert "dropouts-reconcile" in {v.invariant for v in audit(short)}
