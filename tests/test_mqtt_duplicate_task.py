"""MQTT hands a device one task per selection and the device trains it once: a poll
that runs out while the task is still arriving over a slow link (NB-IoT, 20 kbps, 1 s
one way) used to fetch a second copy, trained and uploaded for a closed round and
dropped unseen. And an MQTT exchange that outlasts `fl.request_timeout` is abandoned
as over HTTP: its dropout cause is `request_timeout`, not `deadline`."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from fedsim.audit import audit
from fedsim.run import RunResult, simulate
from fedsim.scenario import apply_overrides, parse_scenario

NAME = "model-bytes-match-updates"


def _nbiot(*changes: str) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "mqttdup",
        "seed": 1,
        "task": {"kind": "digits", "partition": "iid", "model": "mlp", "hidden": [32]},
        "fl": {
            "transport": "mqtt",
            "rounds": 5,
            "clients_per_round": 2,
            "min_available": 1,
            "deadline": "10min",
            "poll_wait": "6s",
            "request_timeout": "10min",
            "local": {"epochs": 1, "batch_size": 32, "lr": 0.05},
        },
        "links": {"nb": {"kind": "nbiot", "bandwidth": "20kbps", "latency": "1s", "loss": "5%"}},
        "nodes": [
            {"name": "server", "kind": "server"},
            {"name": "d", "kind": "device", "count": 2, "device": "rpi4",
             "uplink": {"to": "server", "link": "nb"}},
        ],
    }  # fmt: skip
    return apply_overrides(base, list(changes))


def _model_bytes(result: RunResult, direction: str) -> dict[str, int]:
    clients = {c.client for c in result.clients}
    return {r.a: r.model_bytes for r in result.links if r.a in clients and r.direction == direction}


@pytest.fixture(scope="module")
def slow_run() -> RunResult:
    return simulate(parse_scenario(_nbiot("seed=5")))  # audits: raises on any violation


def test_each_selection_is_one_task_down_one_training_one_update_up(slow_run: RunResult) -> None:
    """Seed 5 trained 9 times for 5 selections (10 tasks down, 9 updates up) before."""
    ev = slow_run.evidence
    selected = {c.client: c.rounds_selected for c in slow_run.clients}
    assert sum(selected.values()) == 5
    assert {c.client: c.rounds_reported for c in slow_run.clients} == selected
    assert ev.uploads == selected
    assert _model_bytes(slow_run, "up") == {
        c: n * ev.update_model_bytes for c, n in selected.items()
    }
    task = (
        _model_bytes(slow_run, "down")[slow_run.clients[0].client]
        // selected[slow_run.clients[0].client]
    )
    assert _model_bytes(slow_run, "down") == {c: n * task for c, n in selected.items()}
    assert ev.task_model_bytes == task
    assert ev.trainings == selected


def test_the_auditor_catches_a_task_trained_twice_or_not_downloaded(slow_run: RunResult) -> None:
    assert [v for v in audit(slow_run) if v.invariant == NAME] == []
    ev = slow_run.evidence
    twice = {c: n + 1 for c, n in ev.trainings.items()}
    doctored = dataclasses.replace(slow_run)
    doctored.evidence = dataclasses.replace(ev, trainings=twice)
    found = [v.detail for v in audit(doctored) if v.invariant == NAME]
    assert any("trained a task more than once" in d for d in found)
    assert any("model_bytes down" in d for d in found)  # one more training than tasks down


def test_an_mqtt_request_timeout_is_the_dropout_cause_as_over_http() -> None:
    """Uploads take ~7 s, the client allows 1 s + the 4 s poll: every selection drops
    out as `request_timeout` (it was `deadline`, 3 of 5, with 2 reported)."""
    topo = _nbiot(
        "fl.request_timeout=1s", "fl.poll_wait=4s", "fl.deadline=40s", "fl.time_limit=300s",
        "links.nb.loss=0%", "fl.min_available=2",
    )  # fmt: skip
    result = simulate(parse_scenario(topo))
    for row in result.clients:
        assert row.rounds_reported == 0
        assert row.dropouts_deadline == 0
        assert row.dropouts_request_timeout >= 4
        assert row.requests_timed_out >= row.dropouts_request_timeout
