"""busy-matches-bytes: a transmitter is busy only with frames some link counted.

Found by the invariant itself when it was added: flow fidelity booked segments lost on
an access link on every later hop too, counted FIN/ACKs (both fidelities) and SYNs lost
on the way without booking them, and a cut gave back the bytes it took back but not
their airtime. These runs hit each of those paths; on the old code each one failed."""

from __future__ import annotations

import dataclasses

import pytest
from topo import tiny_topology

from fedsim.audit import audit
from fedsim.run import RunResult, simulate
from fedsim.scenario import parse_scenario

NAME = "busy-matches-bytes"


def lossy_cut(fidelity: str) -> RunResult:
    """Lossy Wi-Fi behind a gateway whose backhaul is cut mid-round (transfers and SYNs
    die on the way, connections close with FINs)."""
    topo = tiny_topology(fidelity=fidelity, fl__rounds=3, fl__round_interval="5s")
    topo["links"]["wifi"]["loss"] = "8%"
    topo["failures"] = [{"link": "gw", "at": "1.5s", "duration": "4s"}]
    return simulate(parse_scenario(topo), audit=False)


@pytest.fixture(scope="module", params=["flow", "packet"])
def run(request: pytest.FixtureRequest) -> RunResult:
    return lossy_cut(request.param)


def test_every_transmitter_reconciles(run: RunResult) -> None:
    assert run.transmitters, "the run reports its transmitters"
    assert [v.line() for v in audit(run) if v.invariant == NAME] == []
    # the scenario does exercise the paths the invariant is about
    backhaul = [r for r in run.links if r.link == "gw-server"]
    assert sum(r.lost_bytes for r in run.links if r.link.startswith("dev")) > 0
    assert any(r.down_time_s > 0 for r in backhaul)
    assert sum(u.busy_s for u in run.transmitters) > 0


def test_airtime_nobody_counted_is_a_violation(run: RunResult) -> None:
    use = run.transmitters[0]
    extra = dataclasses.replace(use, busy_s=use.busy_s + 100 * 8 / use.rate_bps)
    doctored = dataclasses.replace(run, transmitters=[extra, *run.transmitters[1:]])
    found = [v.detail for v in audit(doctored) if v.invariant == NAME]
    assert found
    assert f"transmitter {use.name}" in found[0]
    assert "+100.0 bytes of airtime nobody counted" in found[0]


def test_a_row_busy_fraction_must_match_its_transmitter(run: RunResult) -> None:
    row = run.links[0]
    doctored = dataclasses.replace(
        run,
        links=[dataclasses.replace(row, busy_fraction=row.busy_fraction + 0.01), *run.links[1:]],
    )
    found = [v.detail for v in audit(doctored) if v.invariant == NAME]
    assert any(f"links.csv {row.link} {row.direction}: busy_fraction" in f for f in found)


def test_a_shared_medium_is_one_transmitter() -> None:
    topo = tiny_topology(fl__rounds=1)
    topo["links"]["wifi"]["shared"] = True
    run = simulate(parse_scenario(topo), audit=False)
    shared = {u.name: u.serves for u in run.transmitters if len(u.serves) > 1}
    assert shared == {
        "wifi@gw/up": tuple((f"dev-{i}-gw", "up") for i in range(1, 5)),
        "wifi@gw/down": tuple((f"dev-{i}-gw", "down") for i in range(1, 5)),
    }
    assert [v.line() for v in audit(run) if v.invariant == NAME] == []


HELD = "held-matches-busy"


def test_every_transmitter_holds_what_it_was_busy_with(run: RunResult) -> None:
    assert [v.line() for v in audit(run) if v.invariant == HELD] == []
    assert sum(u.held_s for u in run.transmitters) > 0


def test_a_hold_a_cut_kept_is_a_violation(run: RunResult) -> None:
    """What the cut of the old code left: airtime given back, its hold still booked."""
    use = run.transmitters[0]
    kept = dataclasses.replace(use, held_s=use.held_s + 2.5)
    doctored = dataclasses.replace(run, transmitters=[kept, *run.transmitters[1:]])
    found = [v.detail for v in audit(doctored) if v.invariant == HELD]
    assert found
    assert f"transmitter {use.name}" in found[0]
    assert "+2.5 s booked for frames that never went out" in found[0]
