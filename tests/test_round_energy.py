"""A round's energy includes the quiet time its radios accrued by the round's end.

The ledger charges a radio's quiet states (tail, idle, sleep) lazily, at its next
activity; the round ledger (ledger.csv's round rows, summary.json's energy_to_target_j)
asks `Batteries.total_j(nodes, at=round_end)`, which adds what is pending without
charging it. These tests check that what it adds is exactly what charging would add."""

from __future__ import annotations

import copy

import pytest
from test_radio_energy import _ledger, _one_device


@pytest.mark.parametrize("kind", ["nbiot", "lte", "wifi", "lora"])
@pytest.mark.parametrize("quiet_s", [0.5, 7.0, 60.0, 5000.0, 200_000.0])
def test_pending_quiet_energy_is_what_charging_it_would_add(kind: str, quiet_s: float) -> None:
    sc = _one_device(kind, {})
    env, net, bat = _ledger(sc)
    up = net.uplink["dev"].counters[0]
    up.wire_bytes += 300  # one frame sent at t = 0
    up.packets += 1
    env.run(until=quiet_s)
    before = copy.deepcopy(bat.ledgers["dev"].spent)
    pending = bat.total_j(["dev"], at=quiet_s)
    assert bat.ledgers["dev"].spent == before  # asked, not charged
    assert bat.total_j(["dev"], at=quiet_s) == pending
    bat.finish(quiet_s)  # now charge it
    assert pending == pytest.approx(bat.total_j(["dev"]), rel=1e-12)
    assert pending >= sum(before.values())  # (a LoRa radio charged its windows already)


def test_without_an_instant_only_what_was_charged_counts() -> None:
    sc = _one_device("wifi", {})
    env, net, bat = _ledger(sc)
    up = net.uplink["dev"].counters[0]
    up.wire_bytes += 300
    up.packets += 1
    charged = bat.total_j(["dev"])
    env.run(until=600.0)
    assert bat.total_j(["dev"]) == charged
    assert bat.total_j(["dev"], at=600.0) > charged  # ten minutes of tail and idle


def test_a_battery_cannot_owe_more_than_it_holds() -> None:
    sc = _one_device("lte", {}, battery="1J")
    _, _, bat = _ledger(sc)
    b = bat.ledgers["dev"]
    assert b.capacity_j is not None
    far = 1e9  # a quiet radio would have drained it long before
    assert bat.total_j(["dev"], at=far) == pytest.approx(b.capacity_j)
    assert bat.total_j(["dev"], at=far) <= b.capacity_j + 1e-12
