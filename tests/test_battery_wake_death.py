"""A battery emptied by a periodic wake runs dry at that wake, and the audit checks that a
battery that spent all it held ran dry.

The review's finding (tests/fuzz/regressions/wake_step_death.yaml): an NB-IoT tag cut
off from t = 0, 2.5 J, a 1 J wake every 100 s and 1 mW asleep, is emptied by the wake
at 300 s. The drain timer predicted the instant from the wakes' average power: it
found the battery dry at 313.72 s, and a run ending at 305 s closed the ledger at
2.5 J of 2.5 J with no death (no time of death, no `battery` row in timeline.csv)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_radio_energy import _ledger, _one_device

from fedsim.audit import audit
from fedsim.audit.battery_dry import spent_all_ran_dry
from fedsim.net.drain import quiet_empty_at
from fedsim.net.radio import RadioProfile
from fedsim.net.radio_table import radio_profile
from fedsim.record.recorder import Interval
from fedsim.run import RunResult, simulate
from fedsim.scenario import parse_scenario

REGRESSION = Path(__file__).parent / "fuzz" / "regressions" / "wake_step_death.yaml"


def _run(time_limit: str) -> RunResult:
    topo = yaml.safe_load(REGRESSION.read_text())
    topo["fl"]["time_limit"] = time_limit
    return simulate(parse_scenario(topo))


@pytest.fixture(scope="module")
def at_305() -> RunResult:
    return _run("305s")


def _tag_timeline(result: RunResult) -> list[tuple[float, float, str, str]]:
    return [
        (iv.start_s, iv.end_s, iv.state, iv.cause)
        for iv in result.recorder.timeline
        if iv.client == "tag"
    ]


def test_a_run_ending_between_the_wake_and_the_average_instant_sees_the_death(
    at_305: RunResult,
) -> None:
    assert at_305.evidence is not None
    ledger = at_305.evidence.energy["tag"]
    assert ledger.empty_at == 300.0
    assert _tag_timeline(at_305)[-1] == (300.0, 305.0, "offline", "battery")
    assert ledger.compute_j + ledger.radio_j == pytest.approx(2.5, rel=1e-12)
    assert audit(at_305) == []


def test_a_run_ending_after_it_dates_the_death_at_the_wake() -> None:
    result = _run("400s")  # (the old timer: 313.72 s)
    assert result.evidence is not None
    assert result.evidence.energy["tag"].empty_at == 300.0
    assert _tag_timeline(result)[-1] == (300.0, 400.0, "offline", "battery")


def test_a_battery_the_runs_end_empties_dies_then() -> None:
    result = _run("300s")
    assert result.evidence is not None
    assert result.evidence.energy["tag"].empty_at == 300.0
    assert audit(result) == []


def test_a_twin_dying_as_the_other_ends_the_run_dies_too() -> None:
    """tests/fuzz/regressions/twin_dies_at_end.yaml: two 0.2 J devices idling at 200 mW
    both run dry at 1.0 s; the first's death ends the run before the second's timer."""
    path = REGRESSION.parent / "twin_dies_at_end.yaml"
    result = simulate(parse_scenario(yaml.safe_load(path.read_text())), audit=False)
    assert result.evidence is not None
    energy = result.evidence.energy
    assert (energy["dev2-1"].empty_at, energy["dev2-2"].empty_at) == (1.0, 1.0)
    assert [v.invariant for v in audit(result)] == ["rounds-completed"]


def test_finish_runs_dry_a_battery_whose_charges_reach_its_charge_at_the_end() -> None:
    """Charged to exactly what it held at the end's instant (its death not yet foreseen):
    it dies at the end, not just a ledger cut to its charge."""
    sc = _one_device("lte", {"promotion": 0}, battery="20J")
    env, net, bat = _ledger(sc)
    env.run(until=1.0)
    b = bat.ledgers["dev"]
    bat._quiet_until(b, 1.0)
    bat.charge("dev", b.level_j)  # (its zero-delay foresight has not run)
    bat.finish(1.0)
    assert b.empty_at == 1.0
    assert net.retired == {"dev": "battery:dev"}
    assert sum(b.spent.values()) == pytest.approx(20.0, rel=1e-12)


def test_the_drain_timer_fires_at_the_wake_after_a_charge() -> None:
    """A charge mid-run moves the death a wake earlier: the timer follows."""
    sc = _one_device(
        "nbiot", {"wake_period": "100s", "wake_energy": "1J", "sleep_power": "1mW"}, "2.5J"
    )
    env, _net, bat = _ledger(sc)
    env.run(until=150.0)
    bat.charge("dev", 0.35)  # 1 J + 0.15 J spent: 0.35 J more and the 200 s wake empties it
    bat._watch(bat.ledgers["dev"])  # (as every radio and compute charge does)
    env.run(until=250.0)
    assert bat.ledgers["dev"].empty_at == 200.0


RADIOS = [
    radio_profile("nbiot", 60e3, 60e3),
    dataclasses.replace(
        radio_profile("nbiot", 60e3, 60e3), wake_period_s=100.0, wake_j=1.0, sleep_w=1e-3
    ),
    dataclasses.replace(
        radio_profile("nbiot", 60e3, 60e3), wake_period_s=0.7, wake_j=0.01, sleep_w=0.0
    ),
    dataclasses.replace(radio_profile("lora", 250.0, 250.0), wake_period_s=30.0, wake_j=0.2),
    radio_profile("lte", 1e6, 1e6),
    radio_profile("wifi", 10e6, 10e6),
    radio_profile("ble", 1e6, 1e6),
]


def _drawn(radio: RadioProfile, base: float, start: float, t: float) -> float:
    _, idle_j, _, sleep_j, _ = radio.gap_parts(start - base, t - base)
    return idle_j + sleep_j


@pytest.mark.parametrize("radio", RADIOS, ids=lambda r: f"{r.kind}-{r.wake_period_s:g}")
@pytest.mark.parametrize("left", [1e-6, 0.05, 0.999, 1.0, 2.5, 3.3, 40.0])
@pytest.mark.parametrize(("base", "start"), [(-40.0, 0.0), (10.0, 10.0), (3.3, 57.1)])
def test_the_predicted_instant_is_the_ledgers(
    radio: RadioProfile, left: float, base: float, start: float
) -> None:
    """What `gap_parts` charges from `start` reaches `left` at the predicted instant, and
    a nanosecond before it does not (a wake is a step, not an average)."""
    at = quiet_empty_at(radio, base, start, left)
    if at is None:
        assert _drawn(radio, base, start, start + 1e7) < left
        return
    tick = 1e-9 * max(1.0, at)  # (the instant to the clock: `at` itself may round short)
    assert _drawn(radio, base, start, at + tick) >= left
    assert _drawn(radio, base, start, at - tick) < left
    if (
        radio.wake_j
        and _drawn(radio, base, start, at) - _drawn(radio, base, start, at - tick) >= radio.wake_j
    ):
        assert _drawn(radio, base, start, at) >= left  # a wake: at its first counted float
    assert math.isfinite(at)
    assert at >= start


# -- the invariant on deliberately broken results -----------------------------------------


def _broken(result: RunResult, **energy: Any) -> Any:
    assert result.evidence is not None
    ledger = dataclasses.replace(result.evidence.energy["tag"], **energy)
    ev = dataclasses.replace(result.evidence, energy={**result.evidence.energy, "tag": ledger})
    return dataclasses.replace(result, evidence=ev)


def _lines(result: Any) -> list[str]:
    return [v.detail for v in spent_all_ran_dry(result)]


def test_the_invariant_fires_on_a_battery_spent_without_a_death(at_305: RunResult) -> None:
    (line,) = _lines(_broken(at_305, empty_at=None))
    assert line.startswith("device tag: its battery spent 2.5 J of the 2.5 J it held, yet")


def test_the_invariant_fires_on_a_death_noticed_late(at_305: RunResult) -> None:
    lines = _lines(_broken(at_305, empty_at=304.0))  # (the old timer said 313.72 s)
    assert any("it ran dry only at 304.0 s (noticed late" in line for line in lines)


def test_the_invariant_fires_on_a_death_with_charge_left(at_305: RunResult) -> None:
    assert at_305.evidence is not None
    radio_j = at_305.evidence.energy["tag"].radio_j
    (line,) = _lines(_broken(at_305, radio_j=radio_j - 0.1))
    assert "ran dry at 300.000 s having spent 2.4 J of the 2.5 J" in line


def test_the_invariant_fires_on_a_dead_device_online_after(at_305: RunResult) -> None:
    broken = dataclasses.replace(at_305)
    broken.recorder = dataclasses.replace(at_305.recorder)
    broken.recorder.timeline = [
        Interval(iv.client, "idle", iv.start_s, iv.end_s, "")
        if iv.client == "tag" and iv.cause == "battery"
        else iv
        for iv in at_305.recorder.timeline
    ]
    (line,) = _lines(broken)
    assert line == (
        "device tag: its battery ran dry at 300.000 s, yet timeline.csv shows it idle "
        "300.000 s-305.000 s"
    )
