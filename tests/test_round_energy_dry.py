"""A battery that ran dry runs dry then, and a round counts a battery device at most
what it held, as its ledger does.

The fuzzer's finding (tests/fuzz/regressions/round_energy_dry_late.yaml): a satellite
device's drain timer charged its quiet time and left a rounding residue of its charge;
the timer then waited a second before looking again, the device worked on, and its
quiet time up to the round's end was charged 0.1017 J past what it held. The run's end
took that off its ledger (`Batteries._settle_empty`), the round had counted it: round
1 showed 0.874831012 J against the run's 0.773178462 J, `after` -0.10165255 J."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_radio_energy import _ledger, _one_device

from fedsim.audit import audit
from fedsim.run import simulate
from fedsim.scenario import parse_scenario

REGRESSION = Path(__file__).parent / "fuzz" / "regressions" / "round_energy_dry_late.yaml"


def test_a_rounding_residue_left_by_the_drain_timer_runs_the_battery_dry_at_once() -> None:
    sc = _one_device("lte", {"promotion": 0}, battery="20J")
    env, net, bat = _ledger(sc)
    c = net.uplink["dev"].counters[0]
    c.wire_bytes += 100
    c.packets += 1
    env.run(until=5.0)
    b = bat.ledgers["dev"]
    bat._quiet_until(b, 5.0)
    b.spent["idle"] += b.level_j  # as if the quiet time had spent all but a residue,
    b.level_j = 1e-18  # one its quiet power spends in less than the clock tells apart
    bat._on_watch(b, b.watch_gen)
    env.run(until=5.5)  # (the old timer looked again a second later)
    assert b.empty_at is not None
    assert b.empty_at - 5.0 < 1e-6
    assert net.retired == {"dev": "battery:dev"}


def test_a_round_counts_a_battery_device_at_most_what_it_held() -> None:
    """A charge past the level paying for nothing ahead: the device dies after a
    zero-delay event, and its ledger keeps what it held; a round closing before that
    counts the same."""
    sc = _one_device("lte", {"promotion": 0}, battery="20J")
    env, _net, bat = _ledger(sc)
    env.run(until=1.0)
    bat.charge("dev", 25.0)
    spent = bat.spent_by(["dev"], env.now, [])
    assert spent == pytest.approx(20.0, rel=1e-12)
    env.run(until=1.5)
    b = bat.ledgers["dev"]
    assert b.empty_at == 1.0
    assert sum(b.spent.values()) == pytest.approx(spent, rel=1e-12)


def test_the_fuzzers_round_adds_up_to_the_run() -> None:
    result = simulate(parse_scenario(yaml.safe_load(REGRESSION.read_text())))
    assert audit(result) == []
    assert result.evidence is not None
    died = result.evidence.energy["dev1-1"].empty_at
    assert died is not None
    assert died < 3.7  # dry before its update's answer (4.29 s)
    rows = {r.key: r.energy_j for r in result.ledger if r.scope == "round" and r.direction == "up"}
    run = next(r.energy_j for r in result.ledger if r.scope == "run" and r.direction == "up")
    assert rows["1"] == pytest.approx(run, abs=1e-9)
    assert rows["after"] == pytest.approx(0.0, abs=1e-9)
