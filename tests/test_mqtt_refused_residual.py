"""Over MQTT a refused top-k update gives its entries back to the residual, as over HTTP.

A broker's PUBACK says only that the broker has an update. Before the server told a
device of a refusal (`late <round>` / `refused <round>` on its task topic), a top-k
device over MQTT lost the entries of every update the server refused (over-selection's
surplus, a closed round) from its error-feedback residual for good, and counted the
upload as accepted."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from topo import tiny_topology

from fedsim.audit import audit
from fedsim.fl.client import FLClient
from fedsim.run import RunResult, simulate
from fedsim.scenario import parse_scenario
from fedsim.transports import mqtt_server
from fedsim.transports.mqtt_client import MqttFLClient
from fedsim.transports.mqtt_server import MqttFLServer

pytest.importorskip("amqtt")


def _over_selected(transport: str) -> dict[str, Any]:
    """4 devices, 2 reports a round, all 4 selected: 2 late uploads a round."""
    return tiny_topology(
        fl__transport=transport,
        fl__rounds=4,
        fl__codec="topk",
        fl__clients_per_round=2,
        fl__min_available=4,
        fl__over_selection="100%",
    )


@dataclasses.dataclass
class _Seen:
    sent: dict[tuple[str, int], np.ndarray] = dataclasses.field(default_factory=dict)
    """(device, round) -> the indices its update for the round carried."""
    restored: dict[str, list[np.ndarray]] = dataclasses.field(default_factory=dict)
    """device -> the indices of each refused update it put back into its residual."""
    refused: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    """device -> the rounds whose update the MQTT server refused."""
    result: RunResult | None = None


@pytest.fixture(scope="module")
def mqtt_run() -> _Seen:
    seen = _Seen()
    mp = pytest.MonkeyPatch()
    train = FLClient._train_and_encode
    answered = FLClient._answered
    handle = MqttFLServer._handle

    async def train_and_encode(self: FLClient, server_round: int, *args: Any) -> bytes:
        body = await train(self, server_round, *args)
        assert self._sent is not None  # top-k
        seen.sent[(self.client_id, server_round)] = self._sent[0].copy()
        return body

    def settled(self: FLClient, accepted: bool) -> None:
        if not accepted and self._sent is not None:
            seen.restored.setdefault(self.client_id, []).append(self._sent[0].copy())
        answered(self, accepted)

    def handled(self: MqttFLServer, topic: list[str], data: bytes) -> None:
        before = sum(self.discarded_uploads.values())
        handle(self, topic, data)
        if sum(self.discarded_uploads.values()) > before:
            seen.refused.setdefault(topic[2], []).append(int(topic[3]))

    mp.setattr(FLClient, "_train_and_encode", train_and_encode)
    mp.setattr(FLClient, "_answered", settled)
    mp.setattr(MqttFLServer, "_handle", handled)
    try:
        seen.result = simulate(parse_scenario(_over_selected("mqtt")))
    finally:
        mp.undo()
    return seen


def test_a_refused_topk_update_gives_its_entries_back_over_mqtt(mqtt_run: _Seen) -> None:
    """Each refused update's entries go back into its device's residual, once, and they
    are that update's entries (not a newer one's)."""
    assert sum(len(r) for r in mqtt_run.refused.values()) >= 4  # the run has refusals
    for device, rounds in sorted(mqtt_run.refused.items()):
        restored = mqtt_run.restored.get(device, [])
        assert len(restored) == len(rounds), device  # main: 0 of them
        for rnd, indices in zip(rounds, restored, strict=True):
            np.testing.assert_array_equal(indices, mqtt_run.sent[(device, rnd)])
    assert set(mqtt_run.restored) == set(mqtt_run.refused)  # and no accepted one's


def test_http_gives_back_as_many_in_the_same_situation(mqtt_run: _Seen) -> None:
    restored: list[str] = []
    answered = FLClient._answered

    def settled(self: FLClient, accepted: bool) -> None:
        if not accepted and self._sent is not None:
            restored.append(self.client_id)
        answered(self, accepted)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(FLClient, "_answered", settled)
        http = simulate(parse_scenario(_over_selected("http")))
    assert all(r.reported == 2 for r in http.rounds)  # 2 of the 4 selected are late
    # every round's 2 late uploads but the last round's, whose answers the run's end cut
    assert len(restored) == 2 * (len(http.rounds) - 1)
    assert len(restored) == sum(len(r) for r in mqtt_run.restored.values())


def _client() -> MqttFLClient:
    client = MqttFLClient("dev-1", "mqtt://dev-1@server:1883", None, None, np.random.default_rng(0))
    client._residual = np.zeros(8, dtype=np.float32)
    return client


def _upload(client: MqttFLClient, server_round: int, index: int, value: float) -> None:
    """What `_round` leaves after the broker acknowledged a trained update."""
    client._sent = (np.array([index]), np.array([value], dtype=np.float32))
    client._verdict = server_round
    client._unanswered = None
    client.stats.uploads_accepted += 1


def test_a_notice_settles_the_last_upload_once() -> None:
    client = _client()
    _upload(client, 5, 2, 0.5)
    assert not client._refused(4, True)  # another round's: nothing
    assert client._residual[2] == 0.0
    assert client._refused(5, True)
    assert client._residual[2] == 0.5
    assert (client.stats.uploads_accepted, client.stats.uploads_late) == (0, 1)
    assert not client._refused(5, True)  # a duplicate notice: nothing more
    assert client._residual[2] == 0.5
    assert (client.stats.uploads_accepted, client.stats.uploads_late) == (0, 1)
    assert client.refusals_heard == 3


def test_a_notice_for_an_older_round_leaves_a_newer_update_alone() -> None:
    client = _client()
    _upload(client, 5, 2, 0.5)
    _upload(client, 6, 3, 0.25)  # trained and sent again before the notice came
    assert not client._refused(5, True)
    assert not client._residual.any()
    assert client._refused(6, False)  # refused as wrong: counted rejected
    assert client._residual[3] == 0.25
    assert (client.stats.uploads_accepted, client.stats.uploads_rejected) == (1, 1)


def test_a_notice_is_tiny_and_no_task() -> None:
    from fedsim.transports.mqtt_client import _task_starts
    from fedsim.transports.mqtt_server import refusal

    assert refusal(mqtt_server.LATE + b"12") == (12, True)
    assert refusal(mqtt_server.REFUSED + b"3") == (3, False)
    assert refusal(b"late ") is None
    assert refusal(mqtt_server.FINISHED) is None
    assert len(mqtt_server.LATE + b"12") == 7  # the payload on a LoRa link

    def publish(topic: bytes, payload: bytes) -> bytes:  # QoS 1, packet id 1
        body = len(topic).to_bytes(2, "big") + topic + b"\x00\x01" + payload
        return bytes([0x32, len(body)]) + body

    notice = publish(b"fl/t/dev-1", b"late 12")
    assert not _task_starts(notice)
    assert _task_starts(notice + b"\x32\x8f")  # a task's PUBLISH right behind it
    assert _task_starts(publish(b"fl/t/dev-1", mqtt_server.FINISHED))  # as before
    assert not _task_starts(b"\x40\x02\x00\x01")  # a PUBACK


def test_refusals_told_fires_on_a_device_never_told(mqtt_run: _Seen) -> None:
    result = mqtt_run.result
    assert result is not None
    assert result.evidence is not None
    told = result.evidence.refusals
    assert told is not None
    assert {d: r for d, (r, _h, _f) in told.items() if r} == {
        d: len(r) for d, r in mqtt_run.refused.items()
    }
    assert "refusals-told" not in {v.invariant for v in audit(result)}
    device, (refused, _heard, _failed) = next((d, t) for d, t in told.items() if t[0] >= 2)
    for bad, says in (
        ((refused, 0, 0), f"the server refused {refused} of its updates, it read 0"),
        ((refused, refused + 1, 0), f"read {refused + 1} refusal notices, the server"),
    ):
        ev = dataclasses.replace(result.evidence, refusals={**told, device: bad})
        found = [
            v.detail
            for v in audit(dataclasses.replace(result, evidence=ev))
            if v.invariant == "refusals-told"
        ]
        assert len(found) == 1
        assert says in found[0]
        assert device in found[0]
    # one notice missed per failed exchange, and one the run's end cut, are allowed
    ev = dataclasses.replace(result.evidence, refusals={**told, device: (refused, 0, refused - 1)})
    assert "refusals-told" not in {
        v.invariant for v in audit(dataclasses.replace(result, evidence=ev))
    }
