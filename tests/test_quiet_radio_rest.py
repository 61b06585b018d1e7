"""A booking taken back whole leaves the radio as if it had never been booked.

An outside review: a device whose link was cut from t = 0 never sent a frame, yet its
connect's SYN, booked before the cut applied and taken back by it, left the radio's
activity ending at t = 0, so a full tail was charged (LTE: 16.856 J instead of 4.818 J
of RRC_IDLE paging over a 240 s run; NB-IoT 0.8165 J instead of 0.0035 J of PSM; Wi-Fi a
238 ms tail), and the audit passed. The ledger now remembers where the activity before
each span of activity ended (fedsim.net.rest); the auditor's `silent-radio-at-rest`
checks that a radio that carried no frame was charged its rest and nothing else.
"""

from __future__ import annotations

from typing import Any

import pytest
import simpy

from fedsim.audit import AuditError
from fedsim.net import battery as battery_mod
from fedsim.net import spent_by as spent_by_mod
from fedsim.net.battery import Batteries
from fedsim.net.network import Network
from fedsim.rng import Streams
from fedsim.run import audit_run, simulate
from fedsim.scenario import Scenario, parse_scenario

RATES = {"lora": "5.47kbps", "ble": "1Mbps", "nbiot": "60kbps"}


def _quiet_radio(kind: str, **fl: Any) -> dict[str, Any]:
    """The review's t8_quiet_radio: `iso`'s link is cut from t = 0 for good."""
    return {
        "name": "t8_quiet_radio",
        "seed": 1,
        "task": {"kind": "digits", "partition": "iid", "model": "softmax"},
        "fl": {
            "rounds": 3, "clients_per_round": 1, "min_available": 1, "deadline": "1min",
            "round_interval": "1min", "local": {"epochs": 1, "batch_size": 16, "lr": 0.05},
            **fl,
        },
        "links": {"up": {"kind": kind, "bandwidth": RATES.get(kind, "5Mbps"), "latency": "40ms"}},
        "nodes": [
            {"name": "server", "kind": "server"},
            *({"name": n, "kind": "device", "device": "rpi4", "uplink": {"to": "server",
               "link": "up"}} for n in ("ok", "iso")),
        ],
        "failures": [{"link": "iso", "at": "0s", "duration": "forever"}],
    }  # fmt: skip


def _at_rest_j(radio: Any, seconds: float) -> float:
    """A radio at rest from t = 0 (as every run starts) for `seconds`."""
    rest = radio.rest_s
    _, idle_j, _, sleep_j, _ = radio.gap_parts(rest, rest + seconds)
    return idle_j + sleep_j


@pytest.mark.parametrize("kind", ["lte", "nbiot", "wifi", "lora", "ble", "ethernet", "wired"])
def test_a_device_cut_from_the_start_is_charged_its_rest_and_nothing_else(kind: str) -> None:
    result = simulate(parse_scenario(_quiet_radio(kind)))
    assert audit_run(result) == []
    ledger = result.evidence.energy["iso"]
    r = ledger.radio
    assert r["tx_frames"] == r["rx_frames"] == r["tx_bytes"] == r["rx_bytes"] == 0
    assert r["tx_s"] + r["rx_s"] < 1e-15
    radio = result.scenario.links["up"].radio
    assert r["accounted_s"] == pytest.approx(result.summary["sim_time_s"], rel=1e-12)
    assert ledger.radio_j == pytest.approx(_at_rest_j(radio, r["accounted_s"]), rel=1e-9)


@pytest.mark.parametrize(
    "changes", [{"fidelity": "packet"}, {"fl": {"transport": "coap"}}], ids=["packet", "coap"]
)
def test_cut_from_the_start_in_packet_fidelity_and_coap(changes: dict[str, Any]) -> None:
    topo = _quiet_radio("nbiot")
    for key, value in changes.items():
        topo[key] = {**topo[key], **value} if isinstance(value, dict) else value
    result = simulate(parse_scenario(topo))
    assert audit_run(result) == []
    r = result.evidence.energy["iso"].radio
    radio = result.scenario.links["up"].radio
    assert r["idle_j"] + r["sleep_j"] == pytest.approx(_at_rest_j(radio, r["accounted_s"]))
    assert r["idle_j"] == 0.0  # PSM all run: no connected tail, no T3324


def test_the_audit_fires_on_the_old_take_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """The old rule (the activity's end moved back by what was taken back, never to
    where the activity before had ended) charged iso a whole LTE tail from t = 0."""

    def old(runs: Any, activity_end: float, accounted: float) -> tuple[int, float]:
        return 0, min(activity_end, accounted)

    monkeypatch.setattr(battery_mod, "rewind", old)
    monkeypatch.setattr(spent_by_mod, "rewind", old)
    with pytest.raises(AuditError) as caught:
        simulate(parse_scenario(_quiet_radio("lte")))
    result = caught.value.result
    lines = [v.line() for v in audit_run(result)]
    assert len(lines) == 1, lines
    assert lines[0].startswith("silent-radio-at-rest: device iso: its radio carried no frame")
    radio = result.scenario.links["up"].radio
    r = result.evidence.energy["iso"].radio
    excess = r["idle_j"] - _at_rest_j(radio, r["accounted_s"])
    assert excess == pytest.approx(radio.tail_s * (radio.tail_w - radio.idle_w), rel=1e-9)


# ------------------------------------------------------------- take-backs in mid-run
def _one_device(kind: str) -> Scenario:
    topo = _quiet_radio(kind)
    topo["nodes"] = topo["nodes"][:2]
    topo["failures"] = []
    return parse_scenario(topo)


def _ledger(kind: str) -> tuple[simpy.Environment, Batteries, Any]:
    sc = _one_device(kind)
    env = simpy.Environment()
    net = Network(env, sc, Streams(sc.seed))
    net.breaker = lambda _pred, _cause: 0
    bat = Batteries(net)
    return env, bat, net.uplink["ok"].counters[0]


def _book(c: Any, bat: Batteries, ready: float, nbytes: int, frames: int, wait: float) -> None:
    radio = bat.ledgers["ok"].radio
    assert radio is not None
    if c.wake is not None:
        c.wake(ready, ready + radio.airtime(0, nbytes, frames) + wait, nbytes, frames)
    c.wire_bytes += nbytes
    c.packets += frames


def _state(bat: Batteries) -> tuple[Any, ...]:
    b = bat.ledgers["ok"]
    return b.activity_end, b.accounted_until, dict(b.spent), dict(b.seconds)


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> None:
    assert a[0] == pytest.approx(b[0], rel=1e-12, abs=1e-12)
    assert a[1] == pytest.approx(b[1], rel=1e-12, abs=1e-12)
    for k in a[2]:
        assert a[2][k] == pytest.approx(b[2][k], rel=1e-9, abs=1e-15), k
    for k in a[3]:
        assert a[3][k] == pytest.approx(b[3][k], rel=1e-9, abs=1e-12), k


KINDS = ["lte", "nbiot", "wifi", "lora", "ble", "ethernet"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ready", [0.0, 30.0], ids=["now", "ahead"])
@pytest.mark.parametrize("wait", [0.0, 2.0], ids=["no-wait", "wait"])
def test_a_booking_taken_back_whole_after_a_long_idle_restores_the_radio(
    kind: str, ready: float, wait: float
) -> None:
    """One frame at t = 0, then at t = 500 (its tail long over: LTE idle, NB-IoT in PSM)
    a booking of two frames, ready now or 30 s ahead, refused whole by a cut at once:
    the ledger is where it was without it (no tail, no promotion, no wait), then and at
    the end of the run."""
    ends = []
    for booked in (True, False):
        env, bat, c = _ledger(kind)
        _book(c, bat, 0.0, 300, 1, 0.0)
        env.run(until=500.0)
        if booked:
            _book(c, bat, 500.0 + ready, 3000, 2, wait)
            c.wire_bytes -= 3000  # the cut at 500 s: nothing of it left
            c.packets -= 2
            bat.ledgers["ok"].waits and bat._refund_waits(bat.ledgers["ok"], 500.0)
        state = _state(bat)
        env.run(until=900.0)
        bat.finish(900.0)
        ends.append((state, _state(bat)))
    (cut, cut_end), (never, never_end) = ends
    assert cut[0] == pytest.approx(never[0])  # the activity ends where the first frame did
    _same(cut_end, never_end)


@pytest.mark.parametrize("kind", KINDS)
def test_a_partial_take_back_leaves_what_went_out(kind: str) -> None:
    """Two frames booked after a long idle, the second taken back: as if one was booked."""
    ends = []
    for frames in (2, 1):
        env, bat, c = _ledger(kind)
        env.run(until=500.0)
        _book(c, bat, 500.0, 1500 * frames, frames, 0.0)
        if frames == 2:
            c.wire_bytes -= 1500
            c.packets -= 1
        env.run(until=900.0)
        bat.finish(900.0)
        ends.append(_state(bat))
    _same(*ends)


def test_spent_by_agrees_with_the_take_back() -> None:
    """A round's energy counts what a cut at its end would leave: a booking ahead taken
    back whole is left out with its promotion and tail (fedsim.net.spent_by)."""
    env, bat, c = _ledger("lte")
    env.run(until=500.0)
    _book(c, bat, 500.0, 3000, 2, 0.0)
    b = bat.ledgers["ok"]
    unsent = [(c, 3000, 2)]
    before = bat.spent_by(["ok"], 500.0, unsent)
    c.wire_bytes -= 3000
    c.packets -= 2
    assert bat.total_j(["ok"], 500.0) == pytest.approx(before, rel=1e-12)
    radio = b.radio
    assert radio is not None
    assert before == pytest.approx(_at_rest_j(radio, 500.0), rel=1e-12)


@pytest.mark.parametrize("late", [2_000.0, 200_000.0])
def test_a_frame_that_went_out_late_in_a_run_keeps_its_tail(late: float) -> None:
    """Found by review: a take-back slack of 1e-9 x t swallowed a whole 40 B LTE frame
    (18.4 us at 20 Mbit/s) after t = 18,400 s, so a frame that went out lost its tail and
    its promotion (12.35 J at t = 200,000 s). With its rest taken back, the span ends
    where that frame does, as with the frame booked alone."""
    ends = []
    for rest_booked in (True, False):
        env, bat, c = _ledger("lte")
        _book(c, bat, 0.0, 300, 1, 0.0)
        env.run(until=late)
        _book(c, bat, late, 40, 1, 0.0)  # one small frame goes out at `late`
        if rest_booked:
            _book(c, bat, late + 7.4e-5, 3000, 2, 0.0)  # the rest of the span, cut
            c.wire_bytes -= 3000
            c.packets -= 2
        env.run(until=late + 100.0)
        bat.finish(late + 100.0)
        ends.append(_state(bat))
    assert ends[0][0] > late  # the activity ends after the frame that went out
    _same(*ends)


def test_a_battery_spent_to_its_charge_is_not_called_a_tail_without_a_frame() -> None:
    """Found by review: a quiet radio with a 1 J TAU wake every 100 s on a 2.5 J battery
    ran dry at the 300 s wake, but its death was noticed later (the drain timer predicted
    from the wakes' average power); a run that ends at 310 s settled the charge without a
    time of death. `silent-radio-at-rest` then fired ("a tail, wait or promotion without
    a frame"), the wrong reason: a ledger that spent all its battery held is left out.
    (It now dies at that wake, tests/test_battery_wake_death.py, and the audit's
    `spent-all-ran-dry` checks that a battery that spent all it held ran dry.)"""
    topo = _quiet_radio("nbiot", rounds=10, time_limit="310s")
    topo["devices"] = {"tiny": {"like": "rpi4", "battery": "2.5J"}}
    topo["links"]["up"]["radio"] = {"wake_period": "100s", "wake_energy": "1J",
                                    "sleep_power": "1mW"}  # fmt: skip
    topo["nodes"][2]["device"] = "tiny"
    result = simulate(parse_scenario(topo), audit=False)
    iso = result.evidence.energy["iso"]
    assert iso.compute_j + iso.radio_j == pytest.approx(2.5, rel=1e-9)  # all it held
    assert [v for v in audit_run(result) if v.invariant == "silent-radio-at-rest"] == []
