"""The byte ledger's model bytes mean the same over every transport: the encoded
tensors of the model envelopes the application handed over, once. MQTT's meter follows
MQTT framing, CoAP counts a retransmitted copy in wire bytes only, and the auditor's
`model-bytes-match-updates` holds each transport to one envelope per update."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from amqtt.mqtt.puback import PubackPacket
from amqtt.mqtt.publish import PublishPacket
from amqtt.mqtt.subscribe import SubscribePacket
from topo import tiny_topology

from fedsim.audit import audit
from fedsim.fl.codec import CODECS, encode, payload_size
from fedsim.run import RunResult, simulate
from fedsim.scenario import parse_scenario
from fedsim.transports.mqtt_meter import MqttModelBytes

NAME = "model-bytes-match-updates"


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("n", [1, 7, 100, 319, 320, 2410])
def test_payload_size_is_what_encode_makes(codec: str, n: int) -> None:
    values = np.linspace(-1.0, 1.0, n, dtype=np.float32)
    env = encode(values, {"round": 1}, codec=codec, rng=np.random.default_rng(0))
    assert payload_size(n, codec) == env.payload_bytes


def _stream() -> tuple[bytes, int]:
    """Packets as amqtt writes them, and the model bytes among them."""
    update = encode(np.arange(300, dtype=np.float32), {"round": 2}, codec="float16")
    task = encode(np.arange(50, dtype=np.float32), {"round": 3})
    packets = [
        SubscribePacket.build([("fl/t/dev-1", 1)], 1),
        PublishPacket.build("fl/r", b'{"client_id":"dev-1"}', 2, False, 1, False),
        PublishPacket.build("fl/p/dev-1", b"", 3, False, 1, False),
        PublishPacket.build("fl/u/dev-1/2", update.body, 4, False, 1, False),
        PubackPacket.build(9),
        PublishPacket.build("fl/t/dev-1", task.body, None, False, 0, False),  # QoS 0: no id
        PublishPacket.build("fl/t/dev-1", b"finished", 5, False, 1, False),
    ]
    return b"".join(p.to_bytes() for p in packets), update.payload_bytes + task.payload_bytes


def test_mqtt_meter_counts_the_envelopes_tensors_however_the_stream_is_cut() -> None:
    stream, model = _stream()
    assert MqttModelBytes().count(stream) == model
    for cut in range(1, len(stream)):  # two writes, split anywhere
        meter = MqttModelBytes()
        assert meter.count(stream[:cut]) + meter.count(stream[cut:]) == model, cut
    meter = MqttModelBytes()  # byte by byte
    assert sum(meter.count(stream[i : i + 1]) for i in range(len(stream))) == model


def test_mqtt_meter_gives_up_on_a_stream_that_is_not_mqtt() -> None:
    meter = MqttModelBytes()
    assert meter.count(b"\x30\xff\xff\xff\xff\x7f" + b"FSM1" * 10) == 0
    assert meter.count(_stream()[0]) == 0  # out of step: all protocol from then on


def _run(transport: str, **changes: str) -> RunResult:
    topo = tiny_topology(fl__transport=transport, fl__rounds=2, fl__codec="int8", **changes)
    return simulate(parse_scenario(topo))  # audits: raises on any violation


def _model_up(result: RunResult) -> dict[str, int]:
    clients = {c.client for c in result.clients}
    return {r.a: r.model_bytes for r in result.links if r.a in clients and r.direction == "up"}


@pytest.fixture(scope="module")
def mqtt_run() -> RunResult:
    return _run("mqtt")


def test_http_and_mqtt_count_the_same_model_bytes_per_update(mqtt_run: RunResult) -> None:
    """The same topology over both: one int8 envelope per accepted update on each
    device's access link, and the run ledger says so (it said 0 for MQTT)."""
    size = mqtt_run.evidence.update_model_bytes
    assert size > 0
    for result in (_run("http"), mqtt_run):
        accepted = {c.client: c.rounds_reported for c in result.clients}
        assert sum(accepted.values()) == 8
        assert _model_up(result) == {c: n * size for c, n in accepted.items()}
        assert result.summary.ledger["model_up"] == 8 * size
        assert result.summary.ledger["model_down"] % (4 * size) == 0  # float32 tasks
        assert result.summary.ledger["model_down"] >= 8 * 4 * size
        assert result.summary.overhead_share < 1.0


@pytest.mark.parametrize("transport", ["http", "coap", "mqtt"])
def test_every_transport_counts_each_envelope_once_despite_retransmissions(
    transport: str,
) -> None:
    """10 % loss on the Wi-Fi: segments and datagrams are sent again, yet the ledger
    holds one int8 envelope per update up and one float32 task per update down, the
    same over every transport (CoAP counted its retransmitted blocks again: 8.39 tasks'
    worth down for 8; MQTT counted none)."""
    result = _run(transport, links__wifi__loss="10%")
    assert sum(r.retransmissions for r in result.links) > 0
    size = result.evidence.update_model_bytes
    accepted = {c.client: c.rounds_reported for c in result.clients}
    assert result.evidence.uploads == accepted  # every upload got through: one envelope each
    assert _model_up(result) == {c: n * size for c, n in accepted.items()}
    assert result.summary.ledger["model_up"] == 8 * size
    assert result.summary.ledger["model_down"] == 8 * 4 * size


@pytest.mark.parametrize(("factor", "why"), [(0, "missed"), (2, "counted twice")])
def test_the_auditor_catches_model_bytes_that_miss_the_updates(
    mqtt_run: RunResult, factor: int, why: str
) -> None:
    assert [v for v in audit(mqtt_run) if v.invariant == NAME] == []
    clients = {c.client for c in mqtt_run.clients}
    links = [
        dataclasses.replace(r, model_bytes=r.model_bytes * factor)
        if r.a in clients and r.direction == "up"
        else r
        for r in mqtt_run.links
    ]
    doctored = dataclasses.replace(mqtt_run, links=links)
    found = [v for v in audit(doctored) if v.invariant == NAME]
    assert len(found) == len(clients), why
    assert "outside [" in found[0].detail
