"""Durable state (`fedsim serve --state DIR`): what the server acknowledged survives a
restart, the open round resumes with its selection, and the results folder is the
simulation's format."""

from __future__ import annotations

import csv
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from live_server import Device, LiveServer
from topo import tiny_topology

from fedsim.errors import FedsimError
from fedsim.fl.auth import Keyring
from fedsim.scenario import parse_scenario

NAMES = ("dev-1", "dev-2", "dev-3")


def _scenario(name: str = "tiny") -> object:
    return parse_scenario(tiny_topology(
        name=name, fl__rounds=2, fl__clients_per_round=3, fl__min_available=3,
        fl__poll_wait="10s", fl__deadline="3600s", nodes__2__count=3,
    ))  # fmt: skip


def _keyring(sc: object) -> Keyring:
    return Keyring.from_seed(sc.seed, NAMES)  # type: ignore[attr-defined]


def _open_round(server: LiveServer) -> dict[str, Device]:
    devs = {n: Device(server, n) for n in NAMES}
    for d in devs.values():
        assert d.register().status_code == 200

    def task(name: str) -> None:
        for _ in range(20):
            if devs[name].poll(wait=10).status_code == 200:
                return
        raise AssertionError(f"{name}: no task")

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(task, NAMES))
    return devs


def _update(server: LiveServer, dev: Device, i: int) -> bytes:
    base = np.frombuffer(server.model(), dtype=np.float32)
    return dev.envelope(base + np.float32(0.01 * (i + 1)), 1, 0)


def test_acknowledged_updates_survive_a_restart(tmp_path: Path) -> None:
    sc = _scenario()
    state, results = tmp_path / "state", tmp_path / "results"
    with LiveServer(sc, _keyring(sc), state_dir=state, results_dir=results) as server:
        devs = _open_round(server)
        bodies = {n: _update(server, devs[n], i) for i, n in enumerate(NAMES)}
        assert devs["dev-1"].upload(bodies["dev-1"], 1).status_code == 200
    # A new process over the same state: round 1 is open with dev-1's update in it.
    with LiveServer(sc, _keyring(sc), state_dir=state, results_dir=results) as server:
        status = server.status()
        assert (status["round"], status["open"], status["reported"]) == (1, True, 1)
        devs = {n: Device(server, n) for n in NAMES}
        for d in devs.values():
            assert d.register().status_code == 200
        # Its answer lost in the crash, dev-1 sends the same bytes again: acknowledged
        # as the first was (the digest is journaled with the update), stored once.
        again = devs["dev-1"].upload(bodies["dev-1"], 1)
        assert again.status_code == 200
        assert again.json() == {"accepted": True, "round": 1}
        assert server.status()["reported"] == 1
        other = devs["dev-1"].upload(_update(server, devs["dev-1"], 5), 1)
        assert other.status_code == 409
        assert "already reported" in other.json()["error"]
        for n in ("dev-2", "dev-3"):
            assert devs[n].upload(bodies[n], 1).status_code == 200
        server.wait_for(lambda s: s["version"] == 1)
        resumed = server.model()
    # The same three updates to a server that never stopped: the same model.
    with LiveServer(sc, _keyring(sc), state_dir=tmp_path / "fresh") as server:
        devs = _open_round(server)
        for n in NAMES:
            assert devs[n].upload(bodies[n], 1).status_code == 200
        server.wait_for(lambda s: s["version"] == 1)
        assert server.model() == resumed
    with (results / "rounds.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["round"], r["reported"], r["accepted"]) for r in rows] == [("1", "3", "1")]
    summary = json.loads((results / "summary.json").read_text())
    assert summary["fidelity"] == "deployment"
    assert summary["rounds"] == 1
    assert (results / "clients.csv").exists()
    from fedsim.cli import main

    assert main(["compare", str(results), str(results)]) == 0  # a pilot compares like a run


def test_state_of_another_federation_is_refused(tmp_path: Path) -> None:
    from fedsim.deployment.state import StateStore

    StateStore(tmp_path, "tiny seed 3 model 650").close()
    with pytest.raises(FedsimError, match="holds another federation"):
        StateStore(tmp_path, "other seed 3 model 650")


def test_a_request_captured_before_a_restart_does_not_replay_after_it(tmp_path: Path) -> None:
    import requests

    sc = _scenario()
    with LiveServer(sc, _keyring(sc), state_dir=tmp_path) as server:
        dev = Device(server, "dev-1")
        assert dev.register().status_code == 200
        body = json.dumps({"client_id": "dev-1", "num_examples": 7}).encode()
        captured = dev.signer.sign("POST", "/v1/register", None, {}, body)
    with LiveServer(sc, _keyring(sc), state_dir=tmp_path) as server:
        replay = requests.post(f"{server.url}/v1/register", data=body, timeout=10,
                               headers={"Authorization": captured})  # fmt: skip
        assert replay.status_code == 401
        assert "nonce" in replay.json()["error"]
        assert Device(server, "dev-1").register().status_code == 200  # fresh ones pass
