"""A round closed before its deadline names what closed it, never `deadline`.

An outside tester's finding: a round closed by `fl.time_limit` (the run ends at the limit
exactly) labelled the clients that had not reported yet `deadline`, a deadline that never
came. They are `time_limit` dropouts now, and `run_stopped` when `stop` (a stall) closed
the round; results and the auditor's reconciliation carry the causes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from engine_doubles import Score
from topo import tiny_topology

from fedsim.audit.dropouts import check as dropouts_reconcile
from fedsim.fl.engine import SyncRounds
from fedsim.fl.messages import ClientInfo
from fedsim.fl.strategies.fedavg import FedAvg
from fedsim.record.runs import load_run
from fedsim.run import run_scenario

N = 8


def _slow_round_topology() -> dict[str, Any]:
    """Rounds far longer than the time limit leaves: the round open at 300 s is cut."""
    topo = tiny_topology(fl__rounds=3, fl__deadline="40min", fl__time_limit="300s")
    topo["devices"] = {"slow": {"like": "rpi4", "compute": "2kFLOPS"}}
    topo["nodes"][2]["device"] = "slow"
    return topo


def test_a_round_the_time_limit_closes_names_time_limit(tmp_path: Path) -> None:
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(_slow_round_topology()), "utf-8")
    run = load_run(run_scenario(path, out_root=tmp_path / "results"))  # audited
    assert run.summary["end_reason"] == "time_limit"
    last = run.rounds[-1]
    assert last.sim_time_s == 300.0
    assert last.failed > 0
    assert last.failed_causes == {"time_limit": last.failed}
    assert run.summary["dropouts"].get("time_limit") == last.failed
    assert "deadline" not in run.summary["dropouts"]
    assert sum(c.dropouts_time_limit for c in run.clients) == last.failed
    assert all(c.dropouts_deadline == 0 for c in run.clients)
    assert run.audit.passed
    assert not list(dropouts_reconcile(run))  # the folder as read back reconciles too


async def test_a_round_a_stop_closes_names_run_stopped() -> None:
    engine = SyncRounds(FedAvg(clients_per_round=2), Score(), np.ones(N, np.float32),
                        rounds=3, min_available=2, deadline_s=600, quorum=0.5,
                        rng=np.random.default_rng(0))  # fmt: skip
    run = asyncio.create_task(engine.run())
    for cid in ("a", "b"):
        engine.register(ClientInfo(cid, 5))
    tasks = await asyncio.gather(engine.poll("a", 60.0), engine.poll("b", 60.0))
    ins = tasks[0]
    assert ins is not None
    engine.submit("a", ins.server_round, ins.model_version, 5, np.zeros(N, np.float32), {})
    engine.stop("stall_limit", "stalled")
    (record,) = await asyncio.wait_for(run, 60)
    assert record.failed_causes == {"run_stopped": 1}
    assert engine.clients["b"].dropouts == {"run_stopped": 1}
    assert engine.ended is not None
    assert engine.ended.reason == "stall_limit"
