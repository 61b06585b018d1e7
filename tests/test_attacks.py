"""Attacks on the deployed server's identity layer (fedsim.fl.auth): unenrolled,
impersonating, replaying, edited and wrong-key requests are all refused, and the
global model's bytes do not change until the selected devices upload themselves."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
from live_server import Device, LiveServer, is_json_error
from topo import tiny_topology

from fedsim.fl.auth import Keyring
from fedsim.scenario import parse_scenario


class Open:
    """Round 1 open: dev-1 and dev-2 selected, dev-3 registered but not selected."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.dev = {n: Device(server, n) for n in ("dev-1", "dev-2", "dev-3")}
        for d in self.dev.values():
            assert d.register().status_code == 200
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(self._task, ("dev-1", "dev-2")))
        self.model = server.model()
        self.base = np.frombuffer(self.model, dtype=np.float32)

    def _task(self, name: str) -> None:
        for _ in range(20):
            if self.dev[name].poll(wait=10).status_code == 200:
                return
        raise AssertionError(f"{name} got no task")

    def evil_update(self, name: str = "dev-1") -> bytes:
        return self.dev[name].envelope(self.base + np.float32(1000.0), 1, 0)


@pytest.fixture
def fed() -> Iterator[Open]:
    sc = parse_scenario(tiny_topology(
        fl__rounds=2, fl__clients_per_round=2, fl__min_available=2, fl__poll_wait="10s",
        fl__deadline="3600s", nodes__2__count=3,
    ))  # fmt: skip
    keyring = Keyring(os.urandom(32), [n.name for n in sc.device_nodes])
    with LiveServer(sc, keyring) as server:
        yield Open(server)


def refused(r: requests.Response, status: int = 401) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    assert is_json_error(r)


def test_unenrolled_device_is_refused_everywhere(fed: Open) -> None:
    mallory = Device(fed.server, "mallory", key=os.urandom(32))
    refused(mallory.register())
    refused(mallory.poll(wait=0))
    refused(mallory.upload(fed.evil_update(), 1))
    # The same answer as for a wrong key: the API is no oracle of which names exist.
    assert (
        mallory.register().json()["error"]
        == Device(fed.server, "dev-1", key=os.urandom(32)).register().json()["error"]
    )
    assert fed.server.model() == fed.model


def test_wrong_key_and_impersonation_are_refused(fed: Open) -> None:
    forger = Device(fed.server, "dev-1", key=os.urandom(32))
    refused(forger.upload(fed.evil_update(), 1))
    refused(forger.poll(wait=0))  # no model download without the device's key
    # dev-3 signs with its own key but speaks for dev-1 (header, query, envelope).
    dev3 = fed.dev["dev-3"]
    speak_for_dev1 = {"X-Fedsim-Client": "dev-1", "X-Fedsim-Round": "1"}
    r = dev3.send("POST", "/v1/update", body=fed.evil_update("dev-1"), headers=speak_for_dev1)
    refused(r, 403)
    refused(dev3.send("GET", "/v1/task", query={"client_id": "dev-1", "wait": "0"}), 403)
    body = json.dumps({"client_id": "dev-1", "num_examples": 10**6}).encode()
    refused(dev3.send("POST", "/v1/register", body=body), 403)
    # dev-3's own, well-signed upload of a model: not selected, so nothing changes.
    refused(dev3.upload(fed.evil_update("dev-3"), 1), 409)
    assert fed.server.model() == fed.model


def test_unsigned_requests_and_status_need_credentials(fed: Open) -> None:
    url = fed.server.url
    refused(requests.get(f"{url}/v1/task", params={"client_id": "dev-1", "wait": "0"}, timeout=10))
    refused(requests.post(f"{url}/v1/update", data=fed.evil_update(), timeout=10,
                          headers={"X-Fedsim-Client": "dev-1", "X-Fedsim-Round": "1"}))  # fmt: skip
    refused(requests.get(f"{url}/v1/status", timeout=10))
    refused(requests.get(f"{url}/v1/status", headers={"Authorization": "Bearer nope"}, timeout=10))
    device_auth = fed.dev["dev-1"].signer.sign("GET", "/v1/status")
    refused(requests.get(f"{url}/v1/status", headers={"Authorization": device_auth}, timeout=10))
    assert fed.server.status()["round"] == 1  # the operator token works
    assert requests.get(f"{url}/v1/openapi.json", timeout=10).json()["openapi"].startswith("3.")
    assert fed.server.model() == fed.model


def _signed_upload(dev: Device, body: bytes, server_round: int) -> dict[str, str]:
    headers = {"X-Fedsim-Client": dev.name, "X-Fedsim-Round": str(server_round),
               "Content-Type": "application/octet-stream"}  # fmt: skip
    headers["Authorization"] = dev.signer.sign("POST", "/v1/update", None, headers, body)
    return headers


def test_edited_headers_and_bodies_are_refused(fed: Open) -> None:
    dev1 = fed.dev["dev-1"]
    url = f"{fed.server.url}/v1/update"
    body = dev1.envelope(fed.base, 1, 0)
    # A proxy edits the round header of a signed request.
    headers = _signed_upload(dev1, body, 1)
    refused(requests.post(url, data=body, headers={**headers, "X-Fedsim-Round": "2"}, timeout=10))
    # ... or the envelope: another version in the header, the payload scaled.
    headers = _signed_upload(dev1, body, 1)
    edited = body.replace(b'"version":0', b'"version":1')
    assert edited != body
    refused(requests.post(url, data=edited, headers=headers, timeout=10))
    headers = _signed_upload(dev1, body, 1)
    evil = fed.evil_update()
    refused(requests.post(url, data=evil, headers=headers, timeout=10))
    assert fed.server.model() == fed.model


def test_replays_are_refused(fed: Open) -> None:
    dev1, dev2 = fed.dev["dev-1"], fed.dev["dev-2"]
    url = f"{fed.server.url}/v1/update"
    body = dev1.envelope(fed.base + np.float32(0.01), 1, 0)
    headers = _signed_upload(dev1, body, 1)
    ok = requests.post(url, data=body, headers=headers, timeout=10)
    assert ok.status_code == 200, ok.text
    refused(requests.post(url, data=body, headers=headers, timeout=10))  # exact replay
    # A captured poll replayed later: refused too (no second model download).
    query = {"client_id": "dev-3", "wait": "0"}
    poll_auth = fed.dev["dev-3"].signer.sign("GET", "/v1/task", query)
    first = requests.get(f"{fed.server.url}/v1/task", params=query, timeout=10,
                         headers={"Authorization": poll_auth})  # fmt: skip
    assert first.status_code in (200, 204)
    refused(requests.get(f"{fed.server.url}/v1/task", params=query, timeout=10,
                         headers={"Authorization": poll_auth}))  # fmt: skip
    assert fed.server.model() == fed.model  # the round still waits for dev-2
    assert dev2.upload(dev2.envelope(fed.base + np.float32(0.01), 1, 0), 1).status_code == 200
    fed.server.wait_for(lambda s: s["version"] == 1)
    after = fed.server.model()
    # Round 1's upload replayed into round 2 with round and version edited: refused.
    edited = body.replace(b'"round":1', b'"round":2').replace(b'"version":0', b'"version":1')
    refused(requests.post(url, data=edited, timeout=10,
                          headers={**headers, "X-Fedsim-Round": "2"}))  # fmt: skip
    assert fed.server.model() == after


def test_a_second_process_with_the_same_identity_is_refused(fed: Open) -> None:
    dev3 = fed.dev["dev-3"]
    first = json.dumps({"client_id": "dev-3", "num_examples": 5, "instance": "a"}).encode()
    second = json.dumps({"client_id": "dev-3", "num_examples": 5, "instance": "b"}).encode()
    assert dev3.send("POST", "/v1/register", body=first).status_code == 200
    refused(dev3.send("POST", "/v1/register", body=second), 409)
    assert dev3.send("POST", "/v1/register", body=first).status_code == 200
