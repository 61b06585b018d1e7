"""links.csv `drops` are packets sent on a link and lost on its wire: at most its
`packets`, their bytes `lost_bytes`. A packet a down link or a full drop-tail queue
turns away was never sent there: it is `refused`, in neither. An outside audit found
`topologies/lora_farm.yaml` seed 5 at a 1 % duty cycle over HTTP (packet fidelity)
with 4892 drops of 413 packets and 1856 lost bytes on the north gateway's uplink, and a
city backhaul with 18878 drops and no lost byte: refusals were counted as drops."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from fedsim.audit import audit
from fedsim.net.link import LinkCounters, take_back
from fedsim.run import RunResult, simulate
from fedsim.scenario import prepare_scenario

ROOT = Path(__file__).resolve().parent.parent
DUTY_1 = [f"links.{k}.duty_cycle=1%" for k in ("sf7", "sf9", "sf12")]


def _lora_farm(fidelity: str) -> RunResult:
    sets = ["seed=5", *DUTY_1, "fl.transport=http", f"fidelity={fidelity}"]
    return simulate(prepare_scenario(ROOT / "topologies/lora_farm.yaml", sets))  # audited


def _found(result: RunResult) -> list[str]:
    return [v.detail for v in audit(result) if v.invariant == "drops-reconcile"]


@pytest.fixture(scope="module", params=["packet", "flow"])
def lora_farm(request: pytest.FixtureRequest) -> RunResult:
    return _lora_farm(request.param)


def _cells(row: Any, *keys: str) -> list[int]:
    return [int(row[k]) for k in keys]


def test_lora_farm_drops_are_packets_lost_on_the_wire(lora_farm: RunResult) -> None:
    """The finding's run: every row's drops are among its packets, with their bytes,
    and the full queues' refusals are counted apart (the gateway's radio refuses many)."""
    assert _found(lora_farm) == []
    for row in lora_farm.links:
        packets, drops, lost, wire = _cells(row, "packets", "drops", "lost_bytes", "wire_bytes")
        assert 0 <= drops <= packets, row
        assert (drops > 0) == (lost > 0), row
        assert lost <= wire, row
    gw = next(
        r for r in lora_farm.links if (r["link"], r["direction"]) == ("north-edge-gw-north", "up")
    )
    packets, drops, refused = _cells(gw, "packets", "drops", "refused")
    assert refused > packets > drops > 0


def _doctored(result: RunResult, **cells: int) -> RunResult:
    row = result.links[0]
    return dataclasses.replace(result, links=[dataclasses.replace(row, **cells)])


def test_the_audit_catches_drops_beyond_packets_or_without_bytes() -> None:
    run = _lora_farm("packet")
    row = run.links[0]
    where = f"links.csv {row['link']} {row['direction']}"
    more = _found(_doctored(run, packets=413, drops=4892, lost_bytes=1856))
    assert more == [f"{where}: drops 4892 > packets 413"]
    no_bytes = _found(_doctored(run, packets=12842, drops=18, lost_bytes=0))
    assert no_bytes == [f"{where}: drops 18 but lost_bytes 0"]
    no_drops = _found(_doctored(run, packets=10, drops=0, lost_bytes=50))
    assert no_drops == [f"{where}: drops 0 but lost_bytes 50"]


@pytest.mark.parametrize(("frames", "lost"), [(1, 1), (10, 3), (10, 10), (3, 1)])
def test_a_cut_takes_back_lost_frames_with_their_drops(frames: int, lost: int) -> None:
    """A booking of `frames` frames of which `lost` were lost, cut anywhere: what stays
    has no more drops than packets, and drops exactly when it has lost bytes."""
    for k in range(0, 41):
        c = LinkCounters()
        wire = frames * 100
        c.wire_bytes, c.packets, c.control_bytes = wire, frames, wire
        c.drops, c.lost_bytes = lost, lost * 100
        booking: tuple[Any, ...] = (c, 0.0, 1.0, wire, frames, 0, 0, wire, 0, lost * 100, 0)
        if frames > 1:
            booking = (*booking, lost)
        take_back([booking], k / 40)  # type: ignore[list-item]
        assert 0 <= c.drops <= c.packets, (k, c)
        assert (c.drops > 0) == (c.lost_bytes > 0), (k, c)
        if k == 0:
            assert (c.drops, c.packets, c.lost_bytes) == (0, 0, 0)
