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

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from fedsim.audit import audit
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
