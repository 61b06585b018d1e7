"""An async run's end counts a task out on a device that can never report again as a
dropout, for every cause that makes it so, and the auditor agrees on what those causes
are: a link cut `forever` or past fl.time_limit (not only a battery or churn), and a
device stranded (its battery runs dry before its path returns), which the engine's
prospects already counted lost when it ended the run devices_lost."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from fedsim.audit import audit
from fedsim.run import simulate
from fedsim.scenario import load_scenario

HERE = Path(__file__).parent


def _run(name: str) -> Any:
    return simulate(load_scenario(HERE / "scenarios" / f"{name}.yaml"))


def _as_surplus(result: Any, clients: set[str]) -> Any:
    """The result as an engine that counted those clients' end dropouts as surplus."""
    rows = [
        dataclasses.replace(
            c, rounds_surplus=c.rounds_surplus + c.dropouts, dropouts=0, dropouts_link_down=0
        ) if c.client in clients else c
        for c in result.clients
    ]  # fmt: skip
    return dataclasses.replace(result, clients=rows)


def test_a_link_cut_for_good_is_a_dropout_and_the_auditor_knows_it() -> None:
    result = _run("async_cut_for_good")
    s, rows = result.summary, {c.client: c for c in result.clients}
    assert s.end_reason == "time_limit"
    for dev in ("dev-1", "dev-2"):  # forever, and past the time limit
        assert (rows[dev].dropouts_link_down, rows[dev].rounds_surplus) == (1, 0), dev
    assert s.dropouts_after_rounds == {"link_down": 2}
    assert not audit(result)
    broken = audit(_as_surplus(result, {"dev-1", "dev-2"}))
    lines = [v.detail for v in broken if v.invariant == "async-end-settled"]
    assert len(lines) == 2, broken
    assert "went down for good at t=300" in lines[0]


def test_a_stranded_device_s_task_at_a_devices_lost_end_is_a_dropout() -> None:
    result = _run("async_stranded_end")
    s, rows = result.summary, {c.client: c for c in result.clients}
    assert s.end_reason == "devices_lost"
    assert rows["dev-2"].rounds_surplus == 0, "a stranded device's task is no surplus"
    assert rows["dev-2"].dropouts_link_down == 1
    assert s.dropouts_after_rounds == {"link_down": 2}
    assert not audit(result)
    broken = audit(_as_surplus(result, {"dev-2"}))
    assert any(
        v.invariant == "async-end-settled" and "ended devices_lost" in v.detail for v in broken
    ), broken
