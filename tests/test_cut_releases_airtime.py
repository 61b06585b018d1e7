"""A cut gives back the airtime it takes back: after a transfer is broken mid-way, its
radio is busy only with what it sent (and that part's duty-cycle silence), so the next
exchange on it starts then, not when the aborted transfer would have ended. Bytes, busy
time and the booked intervals agree."""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from topo import tiny_topology

from fedsim.audit import audit
from fedsim.net.flow import FlowChannel
from fedsim.net.link import Hop, Link, Transmitter, take_back
from fedsim.net.packet import PacketChannel
from fedsim.run import simulate
from fedsim.scenario import parse_scenario

RATE = 5_000.0  # bit/s
MTU = 242  # LoRa's: a frame of 242 B is 0.39 s of airtime
DUTY = 0.1
HOLD = MTU * 8.0 / RATE / DUTY  # a full frame and its silence: 3.9 s


def _radio(env: simpy.Environment, duty: float) -> Link:
    clock = lambda: env.now  # noqa: E731
    tx = (
        Transmitter("up", RATE, duty_cycle=duty, clock=clock),
        Transmitter("down", RATE, clock=clock),
    )
    return Link("radio", "s", "gw", tx, 0.05, mtu=MTU)


def _cut_then_connect(kind: type, duty: float, cut_after: float) -> tuple[float, float, Link]:
    """Connect, send 5 kB up, break the channel `cut_after` seconds into the send, then
    connect a second channel on the same radio. (cut time, second connect's time)."""
    env = simpy.Environment()
    link = _radio(env, duty)
    path = (Hop(link, 0),)
    first = kind(env, path, np.random.default_rng(1))
    marks: dict[str, float] = {}

    def upload():
        yield first.connect()
        ev = first.send(0, 5_000)
        ev.defused = True
        yield env.timeout(cut_after)
        marks["cut"] = env.now
        first.break_("keep-alive closed it")
        second = kind(env, path, np.random.default_rng(2))
        yield second.connect()
        marks["connected"] = env.now

    env.process(upload())
    env.run(until=10_000.0)
    return marks["cut"], marks["connected"], link


@pytest.mark.parametrize("kind", [FlowChannel, PacketChannel])
@pytest.mark.parametrize("duty", [1.0, DUTY])
def test_the_next_connect_waits_only_for_what_was_sent(kind: type, duty: float) -> None:
    cut, connected, link = _cut_then_connect(kind, duty, cut_after=20.0 if duty < 1 else 2.0)
    hold = HOLD if duty < 1 else MTU * 8.0 / RATE
    # the frame on the air at the cut and its silence, then a SYN and its SYN-ACK
    assert connected - cut < hold + 2.0
    tx, counted = link.tx[0], link.counters[0]
    assert tx.busy_time == pytest.approx(counted.wire_bytes * 8.0 / RATE, rel=1e-12)
    # what stays booked is what was counted: the run's bookings hold airtime / duty
    held = sum(e - s for s, e in tx._gaps.intervals())
    assert held <= tx.busy_time / duty + 1e-9


@pytest.mark.parametrize("kind", [FlowChannel, PacketChannel])
def test_a_cut_frees_the_radio_before_the_aborted_transfer_would_have_ended(kind: type) -> None:
    """Without the release the second connect queued behind the rest of the 5 kB
    transfer's airtime and silence (100 to 560 s here), none of which went out."""
    cut, connected, link = _cut_then_connect(kind, DUTY, cut_after=20.0)
    whole = 5_000 * 8.0 / RATE / DUTY
    assert connected < cut + whole / 4
    # what the radio counted, with its silence, fits before the cut's frame ended
    assert link.counters[0].wire_bytes * 8.0 / RATE / DUTY < cut + HOLD


def test_a_frame_sent_before_the_cut_keeps_its_silence() -> None:
    """The duty-cycle rule was paid for: a cut during a sent frame's silence takes nothing
    back, and the radio stays silent until that silence ends."""
    env = simpy.Environment()
    link = _radio(env, DUTY)
    tx = link.tx[0]
    start, end = tx.reserve(0.0, MTU * 8.0)
    c = link.counters[0]
    c.count_frames(MTU, 1)
    c.control_bytes += MTU
    env.run(until=end + 1.0)  # in its silence
    take_back([(c, start, end, MTU, 1, 0, 0, MTU, 0, 0)], env.now)
    assert c.wire_bytes == MTU
    assert tx.reserve(env.now, 8.0)[0] == pytest.approx(start + HOLD)


def _sensor_behind_a_gateway(fidelity: str) -> dict:
    """One LoRa sensor (5.47 kbit/s, 10 % duty cycle) behind a gateway whose link fails
    for 10 s at 40 s, while the sensor is uploading its first update (14-82 s)."""
    topo = tiny_topology(
        fl__rounds=2, fl__clients_per_round=1, fl__min_available=1, fl__deadline="30min",
        fl__poll_wait="10min", fidelity=fidelity,
    )  # fmt: skip
    topo["links"]["radio"] = {
        "kind": "lora", "bandwidth": "5.47kbps", "latency": "1s", "mtu": 242,
        "duty_cycle": "10%", "shared": False, "half_duplex": False,
    }  # fmt: skip
    topo["nodes"][2] = {"name": "s", "kind": "device", "device": "cortex-m4",
                        "uplink": {"to": "gw", "link": "radio"}}  # fmt: skip
    topo["failures"] = [{"link": "gw", "at": "40s", "duration": "10s"}]
    return topo


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_a_sensor_cut_mid_upload_is_not_held_up_by_phantom_airtime(fidelity: str) -> None:
    """From a topology's failure: the upload cut at 40 s; once the gateway is back at
    50 s the sensor's next download starts after its retry, not when the aborted upload
    would have ended (flow fidelity waited until 93.5 s for airtime nobody used). The run
    reconciles: bytes, busy time and held time (the auditor's invariants)."""
    run = simulate(parse_scenario(_sensor_behind_a_gateway(fidelity)), audit=False)
    assert [v.line() for v in audit(run)] == []
    spans = [(i.state, i.start_s, i.end_s) for i in run.recorder.timeline if i.client == "s"]
    assert ("offline", 40.0, 50.0) in spans
    uploads = [s for s in spans if s[0] == "uploading"]
    assert uploads[0][2] == 40.0  # the cut ended the first upload
    after = [s for s in spans if s[0] == "downloading" and s[1] >= 50.0]
    assert after
    assert after[0][1] < 50.0 + 15.0
