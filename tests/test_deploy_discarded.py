"""A deployment's run folder names whose uploads a round discarded, as a simulation's does.

`fedsim serve --results DIR` writes clients.csv `rounds_discarded` from the engine's
round records (the same `discarded_by_client` as a simulated run). Deployment runs are
not audited against network evidence, so the counts are checked here: against the
summary, per device, and by the `updates-reconcile` invariant on the written folder.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from engine_doubles import Score
from test_engine_failures import Exploding, N
from topo import tiny_topology

from fedsim.audit.update_counts import check
from fedsim.deployment.results import DeploymentResults
from fedsim.fl.engine import SyncRounds
from fedsim.fl.messages import ClientInfo
from fedsim.record.runs import load_run
from fedsim.scenario import parse_scenario


def test_a_round_whose_aggregation_failed_is_discarded_in_the_pilots_folder(
    tmp_path: Path,
) -> None:
    sc = parse_scenario(tiny_topology(fl__rounds=2, fl__clients_per_round=1, fl__min_available=1))
    device = sc.device_nodes[0].name
    engine = SyncRounds(Exploding(), Score(), np.ones(N, np.float32), rounds=2,
                        min_available=1, deadline_s=60, rng=np.random.default_rng(0))  # fmt: skip
    results = DeploymentResults(sc, engine, tmp_path / "pilot")
    engine.observers.append(results.round_done)

    async def pilot() -> None:
        run = asyncio.create_task(engine.run())
        engine.register(ClientInfo(device, 5))
        for _ in range(2):
            ins = await engine.poll(device, 60.0)
            assert ins is not None
            engine.submit(device, ins.server_round, ins.model_version, 5,
                          np.full(N, 0.5, np.float32), {})  # fmt: skip
        await asyncio.wait_for(run, 60)

    asyncio.run(pilot())
    run = load_run(tmp_path / "pilot")
    assert [(r.reported, r.aggregated) for r in run.rounds] == [(1, 0), (1, 1)]
    assert run.summary.discarded_updates == 1
    by_device = {c.client: c.rounds_discarded for c in run.clients}
    assert by_device[device] == 1
    assert sum(by_device.values()) == 1
    assert list(check(run)) == []
