"""A battery runs dry when what its device had SPENT by then reaches what it held: inside
the frame or training that empties it, not when a future frame is booked.

An outside audit's finding: the ledger charges a booked window's or a duty-cycle
queue's airtime at booking, and a battery ran dry at the charge: a 10.9 J LoRa sensor
died at 681.56 s where, by its own ledger, it reached 10.9 J at about 798 s, and the
frames its death took back were never refunded (clients.csv 72.63 s TX airtime against
64.31 s on air). Now a charge past the level foresees the death (fedsim.net.spent_by,
the ledger as a cut then would leave it), the device leaves at that instant, and the
cut refunds what had not gone out."""

from __future__ import annotations

import pytest
from test_round_energy_spent import _lora

from fedsim.audit import audit
from fedsim.run import RunResult, simulate
from fedsim.scenario import parse_scenario

CAPACITY_J = 10.9


def _batteries(capacity_j: float = CAPACITY_J, **fl: object) -> dict[str, object]:
    sc = _lora(rounds=8, **fl)
    sc["devices"] = {"m4b": {"like": "cortex-m4", "battery": f"{capacity_j}J"}}
    for node in sc["nodes"]:  # type: ignore[attr-defined]
        if node["name"] == "mid":
            node["device"] = "m4b"
    return sc


def _spent(result: RunResult, device: str) -> float:
    row = next(c for c in result.clients if c.client == device)
    return row.energy_compute_j + row.energy_radio_j


def _died(result: RunResult) -> dict[str, float]:
    assert result.evidence is not None
    return {d: e.empty_at for d, e in result.evidence.energy.items() if e.empty_at is not None}


@pytest.fixture(scope="module", params=["flow", "packet"])
def run(request: pytest.FixtureRequest) -> tuple[str, RunResult]:
    return request.param, simulate(parse_scenario({**_batteries(), "fidelity": request.param}))


def test_a_dead_device_spent_its_charge_and_was_charged_only_what_went_on_air(
    run: tuple[str, RunResult],
) -> None:
    _fidelity, result = run
    died = _died(result)
    assert died, "no battery ran dry: the scenario no longer tests a death"
    assert audit(result) == []  # busy-matches-radio and the energy checks cover the dead
    end = result.summary.sim_time_s
    busy = {(r.a, r.direction): r.busy_fraction * end for r in result.links}
    for device in died:
        assert _spent(result, device) == pytest.approx(CAPACITY_J, rel=1e-9)
        row = next(c for c in result.clients if c.client == device)
        assert row.airtime_tx_s == pytest.approx(busy[(device, "up")], rel=1e-6)
        assert row.airtime_rx_s == pytest.approx(busy[(device, "down")], rel=1e-6)


def test_it_dies_when_what_it_spent_reaches_its_charge(run: tuple[str, RunResult]) -> None:
    """Its twin with a battery it cannot empty had spent that charge by then (to 1 %:
    the twin's drain timers order same-instant events differently)."""
    fidelity, result = run
    device, at = min(_died(result).items(), key=lambda kv: kv[1])
    big = {**_batteries(1000.0, time_limit=f"{at!r}s"), "fidelity": fidelity}
    twin = simulate(parse_scenario(big))
    assert not _died(twin)
    assert _spent(twin, device) == pytest.approx(CAPACITY_J, rel=1e-2)
    before = {**_batteries(time_limit=f"{at - 1.0!r}s"), "fidelity": fidelity}
    assert device not in _died(simulate(parse_scenario(before)))  # a second before: alive
