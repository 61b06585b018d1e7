"""One airtime for a LoRa frame: the network books, and holds its duty cycle on, the same
Semtech time on air that the energy ledger charges.

Found by an outside tester: the network booked wire bytes / link rate (0.354 s for a
242 B frame at SF7, 0.058 s for a 40 B ACK), the radio was charged the Semtech time on
air with preamble, header and 13 B of LoRaWAN MAC (0.3996 s, 0.103 s), so a device under
a 10 % duty cycle transmitted 12-15 % of the time by its own energy ledger, and the
auditor found nothing. On that code the booking, duty-cycle and auditor tests here fail."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import simpy
from topo import tiny_topology

from fedsim.audit import audit
from fedsim.errors import ScenarioError
from fedsim.net.lora_airtime import time_on_air
from fedsim.net.network import Network
from fedsim.rng import Streams
from fedsim.run import RunResult, simulate
from fedsim.scenario import parse_scenario

DUTY = 0.1
SF7_HALF_BLOCK = 0.5 * 5 * 128 / 125e3  # half a block of CR + 4 symbols at SF7: 2.56 ms


def _topology(fidelity: str = "flow", **link: Any) -> dict[str, Any]:
    """Three devices on their own SF7 links at a 10 % duty cycle behind one gateway (the
    tester's t9_lora_fd.yaml), three rounds of an int8 softmax."""
    topo = tiny_topology(fidelity=fidelity, fl__rounds=3, fl__clients_per_round=3,
                         fl__min_available=3)  # fmt: skip
    topo["fl"].update(deadline="40min", codec="int8", quorum="50%")
    topo["links"]["wifi"] = {"kind": "lora", "bandwidth": "5.47kbps", "latency": "50ms",
                             "mtu": 242, "duty_cycle": "10%", "loss": "2%", **link}  # fmt: skip
    topo["nodes"][2]["count"] = 3
    topo["nodes"][2]["device"] = "esp32"
    return topo


def test_a_full_sf7_frame_is_booked_for_its_semtech_time_on_air() -> None:
    sc = parse_scenario(_topology())
    env = simpy.Environment()
    net = Network(env, sc, Streams(sc.seed))
    link = net.uplink["dev-1"]
    radio = sc.links[link_class(net, "dev-1")].radio
    for direction in (0, 1):
        for wire in (242, 40):  # a full frame, an ACK
            tx = link.tx[direction]
            start, end = tx.reserve(env.now + 10.0 * (wire + direction), wire * 8.0, 1)
            semtech = time_on_air(wire + 13, 7)  # + LoRaWAN MHDR, FHDR, FPort, MIC
            assert end - start == pytest.approx(radio.airtime(direction, wire, 1), rel=1e-12)
            assert abs((end - start) - semtech) <= SF7_HALF_BLOCK
    assert time_on_air(255, 7) == pytest.approx(0.39962, abs=1e-5)  # 390.25 symbols
    # a window of 7 frames books what 7 frames one at a time book
    a, b = link.tx[0].reserve(1000.0, 7 * 242 * 8.0, 7)
    assert b - a == pytest.approx(7 * radio.airtime(0, 242, 1), rel=1e-12)


def link_class(net: Network, device: str) -> str:
    return net.link_class[net.uplink[device].name].name


@pytest.fixture(scope="module", params=["flow", "packet"])
def run(request: pytest.FixtureRequest) -> RunResult:
    return simulate(parse_scenario(_topology(request.param)), audit=False)


def test_no_device_transmits_more_than_its_duty_cycle(run: RunResult) -> None:
    """By its own energy ledger (clients.csv airtime_tx_s) over the run: what a flow
    booked ahead of the run's end, and the last frames' silence, allow a few frames."""
    end = run.summary["sim_time_s"]
    full_frame = time_on_air(255, 7)
    for row in run.clients:
        assert row.airtime_tx_s > 10 * full_frame  # the devices did send
        assert row.airtime_tx_s <= DUTY * end + 4 * full_frame, (
            f"{row.client}: {row.airtime_tx_s:.1f} s on air in {end:.0f} s "
            f"({100 * row.airtime_tx_s / end:.1f} %, duty cycle {100 * DUTY:.0f} %)"
        )


def test_busy_time_is_the_energy_ledgers_airtime(run: RunResult) -> None:
    assert [v.line() for v in audit(run)] == []
    ups = {u.name: u for u in run.transmitters if u.name.endswith("/up")}
    rows = {r.client: r for r in run.clients}
    for i in (1, 2, 3):
        use = ups[f"dev-{i}-gw/up"]
        assert use.frame_bits > 0
        assert use.busy_s == pytest.approx(rows[f"dev-{i}"].airtime_tx_s, rel=1e-9)


def test_the_auditor_catches_a_network_airtime_that_is_not_the_radios(run: RunResult) -> None:
    """The old code's books: busy time = wire bytes / rate, no per-frame airtime."""
    rows = {(r.link, r.direction): r for r in run.links}
    doctored = []
    for use in run.transmitters:
        if use.frame_bits:
            old = sum(rows[k].wire_bytes for k in use.serves) * 8.0 / use.rate_bps
            use = dataclasses.replace(use, busy_s=old, frame_bits=0.0, held_s=old / use.duty_cycle)
        doctored.append(use)
    found = [v.detail for v in audit(dataclasses.replace(run, transmitters=doctored))
             if v.invariant == "busy-matches-radio"]  # fmt: skip
    assert len(found) == 6  # each device's up and down
    assert "transmitter dev-1-gw/up" in found[0]
    assert "the network and the radio disagree" in found[0]


def test_the_auditor_catches_frames_booked_without_their_preamble(run: RunResult) -> None:
    """A booking of bytes without the frame's fixed airtime: busy-matches-bytes."""
    use = next(u for u in run.transmitters if u.frame_bits)
    short = dataclasses.replace(use, busy_s=use.busy_s - use.frame_bits / use.rate_bps)
    others = [u for u in run.transmitters if u is not use]
    found = [v.detail for v in audit(dataclasses.replace(run, transmitters=[short, *others]))
             if v.invariant == "busy-matches-bytes"]  # fmt: skip
    assert found
    assert f"transmitter {use.name}" in found[0]


def test_an_sf_that_disagrees_with_the_bandwidth_is_refused() -> None:
    with pytest.raises(ScenarioError, match=r"^links\.wifi\.radio\.sf: SF12 disagrees with"):
        parse_scenario(_topology(radio={"sf": 12}))
    with pytest.raises(ScenarioError, match=r"^links\.wifi\.bandwidth: 50000 bit/s is no LoRa"):
        parse_scenario(_topology(bandwidth="50kbps"))
    with pytest.raises(
        ScenarioError, match=r"^links\.wifi\.half_duplex: one transmitter carries both"
    ):
        parse_scenario(_topology(bandwidth=None, bandwidth_up="5.47kbps",
                                 bandwidth_down="250bps", half_duplex=True))  # fmt: skip
    ok = parse_scenario(_topology(bandwidth="250bps", radio={"sf": 12}))
    assert (
        ok.links["wifi"].radio.per_byte_s[0]
        > 20 * parse_scenario(_topology()).links["wifi"].radio.per_byte_s[0]
    )


def test_an_asymmetric_link_books_each_direction_at_its_own_sf() -> None:
    """RX1 at the uplink's data rate, a slower downlink is RX2's SF12."""
    topo = _topology(bandwidth=None, bandwidth_up="5.47kbps", bandwidth_down="250bps")
    sc = parse_scenario(topo)
    net = Network(simpy.Environment(), sc, Streams(sc.seed))
    link, radio = net.uplink["dev-1"], sc.links["wifi"].radio
    for d in (0, 1):
        s, e = link.tx[d].reserve(0.0, 100 * 8.0, 1)
        assert e - s == pytest.approx(radio.airtime(d, 100, 1), rel=1e-12)
    assert radio.per_byte_s[1] > 20 * radio.per_byte_s[0]


def test_receive_windows_cost_the_same_in_both_fidelities() -> None:
    """Class A opens RX1 and RX2 after every uplink frame: per frame, not after a burst
    (flow fidelity charged one pair per window of frames: 0.006 J against 0.156 J)."""
    runs = {f: simulate(parse_scenario(_topology(f))) for f in ("flow", "packet")}
    for f, result in runs.items():
        radio = result.scenario.links["wifi"].radio
        for dev, ledger in result.evidence.energy.items():
            frames = ledger.radio["tx_frames"]
            want = frames * radio.windows_s * radio.tail_w
            assert ledger.radio["idle_j"] == pytest.approx(want, rel=1e-9), (f, dev)
    idle = {f: sum(r.energy_idle_j for r in res.clients) for f, res in runs.items()}
    assert idle["flow"] == pytest.approx(idle["packet"], rel=0.25)
