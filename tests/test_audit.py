"""The run auditor: every invariant catches a doctored run that breaks it, and clean
runs (a tiny topology, a shipped one) break none. Runs are short, simulated time."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from topo import tiny_topology

from fedsim.audit import INVARIANTS, AuditError, Violation, audit
from fedsim.audit.intervals import first_overlap, merged, overlapping
from fedsim.cli import main
from fedsim.net.evidence import Accepted, CarrierDown, Down, Messages
from fedsim.record.recorder import Interval, Recorder
from fedsim.run import RunResult, run_scenario, simulate
from fedsim.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clean() -> RunResult:
    """A tiny run with a gateway outage between rounds (so there is down time)."""
    topo = tiny_topology(fl__rounds=3, fl__round_interval="20s")
    topo["failures"] = [{"node": "gw", "at": "1s", "duration": "5s"}]
    return simulate(parse_scenario(topo))  # audits: raises on any violation


def names(violations: list[Violation]) -> set[str]:
    return {v.invariant for v in violations}


def changed(row: Any, **cells: Any) -> Any:
    """`row` with some cells changed, whatever its type (a dict, a row dataclass)."""
    if dataclasses.is_dataclass(row):
        return dataclasses.replace(row, **cells)  # type: ignore[type-var]
    return {**row, **cells}


def doctor(result: RunResult, **evidence: Any) -> RunResult:
    """A copy of `result` whose tables can be changed without touching the original."""
    ev = result.evidence
    assert ev is not None
    rec = Recorder(clock=lambda: 0.0)
    rec.rounds = list(result.recorder.rounds)
    rec.timeline = [dataclasses.replace(iv) for iv in result.recorder.timeline]
    rec.dropouts = dict(result.recorder.dropouts)
    return dataclasses.replace(
        result,
        recorder=rec,
        links=list(result.links),
        clients=list(result.clients),
        evidence=dataclasses.replace(ev, **evidence),
    )


def change_link(bad: RunResult, link: str, direction: str, **cells: Any) -> Any:
    i = next(
        i for i, r in enumerate(bad.links) if r["link"] == link and r["direction"] == direction
    )
    bad.links[i] = changed(bad.links[i], **cells)
    return bad.links[i]


def test_a_clean_run_records_evidence_and_breaks_nothing(clean: RunResult) -> None:
    ev = clean.evidence
    assert ev is not None
    assert audit(clean) == []
    assert ev.end_s == clean.summary["sim_time_s"]
    assert len(ev.accepted) == sum(r.reported for r in clean.recorder.rounds)
    assert {d.element for d in ev.node_down} == {"gw"}
    assert any(d.start == 1.0 and d.end == 6.0 for d in ev.node_down)
    assert len(ev.messages) > 0
    lost = ~np.isfinite(ev.messages.delivered)  # the answers in flight when the run ended
    assert lost.sum() <= len(ev.devices)
    assert (ev.messages.sent[lost] > ev.end_s - 0.01).all()
    assert ev.paths["dev-4"] == ("dev-4-gw", "gw-server")


def test_every_invariant_is_named_and_documented() -> None:
    from fedsim.audit import _load

    _load()
    want = {
        "update-over-down-path", "delivered-over-down-element", "carried-while-down",
        "down-time-within-run", "down-time-matches-evidence", "timeline-inside-run",
        "timeline-no-overlap", "timeline-covers-run", "bytes-reconcile", "rounds-completed",
        "evidence-present", "energy-within-battery", "bytes-nonnegative",
        "acknowledged-was-accepted",
    }  # fmt: skip
    assert want <= set(INVARIANTS)
    assert all(inv.doc for inv in INVARIANTS.values())


def test_an_update_accepted_over_a_down_path_is_caught(clean: RunResult) -> None:
    ev = clean.evidence
    assert ev is not None
    bad = doctor(
        clean,
        accepted=[*ev.accepted, Accepted("dev-2", 7, 100.0, 110.0)],
        path_down=[*ev.path_down, Down("dev-2", 105.0, 200.0, "link_down:gw")],
    )
    found = [v for v in audit(bad) if v.invariant == "update-over-down-path"]
    assert len(found) == 1
    assert "client dev-2, round 7" in found[0].detail
    assert "105.000 s" in found[0].detail


def test_a_message_delivered_across_a_down_link_is_caught(clean: RunResult) -> None:
    ev = clean.evidence
    assert ev is not None
    m = ev.messages
    dev = ev.devices.index("dev-1")

    def grow(a: np.ndarray, v: float) -> np.ndarray:
        return np.append(a, np.asarray([v], dtype=a.dtype))

    messages = Messages(
        device=grow(m.device, dev), direction=grow(m.direction, 0), sent=grow(m.sent, 300.0),
        delivered=grow(m.delivered, 302.0), payload=grow(m.payload, 0),
        wire=grow(m.wire, 0),
    )  # fmt: skip
    bad = doctor(
        clean,
        messages=messages,
        link_down=[*ev.link_down, Down("gw-server", 301.0, 301.5, "link_down:gw")],
    )
    found = [v for v in audit(bad) if v.invariant == "delivered-over-down-element"]
    assert len(found) == 1
    assert "client dev-1" in found[0].detail
    assert "gw-server" in found[0].detail


def test_bytes_carried_by_a_dead_carrier_are_caught(clean: RunResult) -> None:
    ev = clean.evidence
    assert ev is not None
    dead = CarrierDown("gw-server", 1, 1.0, 6.0, "gateway_down:gw", (0, 108, 2))
    found = [v for v in audit(doctor(clean, carrier_down=[*ev.carrier_down, dead]))
             if v.invariant == "carried-while-down"]  # fmt: skip
    assert [v.detail for v in found] == [
        "link gw-server down, down 1.000 s-6.000 s (gateway_down:gw): carried 0 payload "
        "bytes, 108 wire bytes, 2 packets"
    ]


def test_a_clean_run_had_dead_carriers_that_carried_nothing(clean: RunResult) -> None:
    ev = clean.evidence
    assert ev is not None
    assert ev.carrier_down
    assert all(c.carried == (0, 0, 0) for c in ev.carrier_down)


def test_down_time_longer_than_the_run_is_caught(clean: RunResult) -> None:
    bad = doctor(clean)
    change_link(bad, "gw-server", "up", down_time_s=bad.summary["sim_time_s"] + 20.0)
    found = names(audit(bad))
    assert {"down-time-within-run", "down-time-matches-evidence"} <= found


def test_down_time_that_disagrees_with_the_intervals_is_caught(clean: RunResult) -> None:
    bad = doctor(clean)
    row = change_link(bad, "dev-4-gw", "up")
    assert row["down_time_s"] == pytest.approx(5.0)  # the gateway's outage cuts its links
    change_link(bad, "dev-4-gw", "up", down_time_s=7.5)
    found = [v for v in audit(bad) if v.invariant == "down-time-matches-evidence"]
    assert len(found) == 1
    assert "dev-4-gw up" in found[0].detail


def _timeline(bad: RunResult, client: str) -> list[Interval]:
    return [iv for iv in bad.recorder.timeline if iv.client == client]


def test_a_timeline_interval_past_the_end_is_caught(clean: RunResult) -> None:
    bad = doctor(clean)
    _timeline(bad, "dev-4")[-1].end_s += 3.0
    assert "timeline-inside-run" in names(audit(bad))


def test_overlapping_timeline_intervals_are_caught(clean: RunResult) -> None:
    bad = doctor(clean)
    first = _timeline(bad, "dev-1")[0]
    bad.recorder.timeline.append(Interval("dev-1", "training", first.start_s, first.end_s))
    assert "timeline-no-overlap" in names(audit(bad))


def test_a_timeline_gap_or_a_missing_client_is_caught(clean: RunResult) -> None:
    bad = doctor(clean)
    gone = _timeline(bad, "dev-2")[0]
    bad.recorder.timeline.remove(gone)
    bad.recorder.timeline[:] = [iv for iv in bad.recorder.timeline if iv.client != "dev-3"]
    found = [v.detail for v in audit(bad) if v.invariant == "timeline-covers-run"]
    assert any(d.startswith("client dev-2: nothing recorded 0.000 s") for d in found)
    assert any(d.startswith("client dev-3 has no timeline") for d in found)


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        ("client", "client dev-1 bytes_up"),
        ("round_wire", "wire_bytes_down: rounds.csv"),
        ("tail", "after the last round"),
        ("summary", "bytes_up: summary.json"),
    ],
)
def test_bytes_that_do_not_reconcile_are_caught(clean: RunResult, change: str, expect: str) -> None:
    ev = clean.evidence
    assert ev is not None
    bad = doctor(clean)
    if change == "client":
        bad.clients[0] = changed(bad.clients[0], bytes_up=bad.clients[0]["bytes_up"] + 1)
    elif change == "round_wire":
        first = bad.recorder.rounds[0]
        bad.recorder.rounds[0] = changed(first, wire_bytes_down=first.wire_bytes_down + 40)
    elif change == "tail":
        bad = doctor(clean, bytes_after_rounds={**ev.bytes_after_rounds, "up": 5})
    else:
        bad = dataclasses.replace(
            bad, summary=changed(bad.summary, bytes_up=bad.summary["bytes_up"] + 1)
        )
    found = [
        v.detail for v in audit(bad) if v.invariant in ("bytes-reconcile", "bytes-match-links")
    ]
    assert any(expect in d for d in found), found


def test_client_bytes_beyond_what_its_messages_carried_are_caught(clean: RunResult) -> None:
    ev = clean.evidence
    assert ev is not None
    m = ev.messages
    mine = np.flatnonzero((m.device == ev.devices.index("dev-2")) & (m.direction == 0))
    payload = m.payload.copy()
    payload[mine[0]] -= 10  # the client wrote 10 bytes fewer than clients.csv says
    bad = doctor(clean, messages=dataclasses.replace(m, payload=payload))
    found = [v.detail for v in audit(bad) if v.invariant == "bytes-match-links"]
    assert len(found) == 1
    assert found[0].startswith("client dev-2 bytes_up")
    assert "is outside" in found[0]


def test_bytes_after_the_last_round_are_named_in_the_evidence(clean: RunResult) -> None:
    ev = clean.evidence
    assert ev is not None
    assert set(ev.bytes_after_rounds) == {"up", "down", "wire_up", "wire_down"}


def test_a_run_without_evidence_fails(clean: RunResult) -> None:
    assert "evidence-present" in names(audit(dataclasses.replace(clean, evidence=None)))


def test_a_run_that_completes_no_round_fails_naming_why() -> None:
    sc = parse_scenario(tiny_topology(fl__time_limit="1ms"))
    with pytest.raises(AuditError) as caught:
        simulate(sc)
    lines = [v.line() for v in caught.value.violations]
    assert lines == [
        "rounds-completed: 0 rounds completed: fl.time_limit (0.001 s) ran out at 0.001 s "
        "before round 1 could start (it needs fl.min_available=4 clients polling)"
    ]
    assert caught.value.result is not None
    assert simulate(sc, audit=False).summary["rounds"] == 0


def test_fedsim_run_fails_in_one_line_and_writes_audit_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(tiny_topology(fl__time_limit="1ms")))
    code = main(["run", str(path), "--quiet", "--no-plots", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [  # the early end is a warning, then the audit fails in one line
        "fedsim: warning: the run ended early at t=0.001 s after 0 of 3 rounds (time_limit): "
        "fl.time_limit (0.001 s) ran out after 0 of 3 rounds",
        # the devices' warning prints although the audit failed (redteam8, finding 1)
        "fedsim: warning: 4 of 4 devices never had an update accepted: 4 never connected (no "
        "byte of a registration got out): dev-1, dev-2, dev-3 and 1 more (clients.csv: "
        "rounds_selected, bytes_up, bytes_down, rounds_surplus, dropouts_*)",
        "fedsim: error: audit failed: rounds-completed: 0 rounds completed: fl.time_limit "
        "(0.001 s) ran out at 0.001 s before round 1 could start (it needs "
        "fl.min_available=4 clients polling)",
    ]
    folder = tmp_path / "r" / "tiny-seed3"
    record = json.loads((folder / "audit.json").read_text())
    assert [v["invariant"] for v in record["violations"]] == ["rounds-completed"]
    assert (folder / "summary.json").exists()  # the results are there to look at
    assert main(["run", str(path), "--quiet", "--no-plots", "--no-audit",
                 "--out", str(tmp_path / "r")]) == 0  # fmt: skip
    assert not (folder / "audit.json").exists()  # no stale audit vouches for it


def test_a_clean_shipped_topology_has_an_empty_audit(tmp_path: Path) -> None:
    out = run_scenario(
        ROOT / "topologies/factory.yaml", overrides=["fl.rounds=3"], out_root=tmp_path
    )
    record = json.loads((out / "audit.json").read_text())
    assert record["violations"] == []
    assert set(record["invariants"]) == set(INVARIANTS)


def test_a_sweep_fails_a_grid_point_whose_audit_fails(tmp_path: Path) -> None:
    from fedsim.sweep import SweepRun, _execute, run_scenario_runner

    path = tmp_path / "base.yaml"
    path.write_text(yaml.safe_dump(tiny_topology(fl__time_limit="1ms")))
    run = SweepRun(point=(), seed=1, overrides=(), point_label="", run_name="p")
    name, error = _execute(run_scenario_runner, path, run, tmp_path)
    assert name == "p"
    assert error is not None
    assert "audit failed: rounds-completed" in error
    assert not (tmp_path / "p" / "summary.json").exists()  # not counted as finished


def test_interval_helpers() -> None:
    spans = merged([(5.0, 6.0, "b"), (1.0, 2.0, "a"), (2.0, 3.0, "c"), (8.0, 8.0, "blip")])
    assert spans == [(1.0, 3.0, "a+c"), (5.0, 6.0, "b"), (8.0, 8.0, "blip")]
    assert first_overlap(spans, 3.0, 5.0) is None  # touching is not overlapping
    assert first_overlap(spans, 7.0, 9.0) == (8.0, 8.0, "blip")  # a blip breaks a transfer
    hit = overlapping(
        spans, np.array([0.0, 3.0, 5.5, 7.0, 9.0]), np.array([1.5, 5.0, 5.6, 9.0, 10.0])
    )
    assert hit.tolist() == [0, -1, 1, 2, -1]
    assert math.isclose(sum(e - s for s, e, _ in spans), 3.0)


def test_evidence_follows_overlapping_causes_and_dead_transmitters() -> None:
    """A link down for two overlapping causes is one interval; a node down makes the
    directions it transmits on dead carriers; counters gained meanwhile are kept."""
    import simpy

    from fedsim.net.evidence import EvidenceRecorder
    from fedsim.net.network import Network
    from fedsim.rng import Streams

    env = simpy.Environment()
    net = Network(env, parse_scenario(tiny_topology()), Streams(1))
    ev = EvidenceRecorder(net)

    def at(t: float, fn: Any, *args: Any) -> None:
        env.timeout(t).callbacks.append(lambda _e: fn(*args))

    at(1.0, net.set_down, "link", "gw", "link_down:gw")
    at(2.0, net.set_down, "node", "gw", "gateway_down:gw")
    at(2.5, lambda: setattr(net.links["gw-server"].counters[0], "drops", 9))
    at(2.5, lambda: setattr(net.links["gw-server"].counters[1], "wire_bytes", 54))
    at(3.0, net.set_up, "link", "gw", "link_down:gw")
    at(4.0, net.set_up, "node", "gw", "gateway_down:gw")
    env.run(until=5.0)
    proof = ev.finish(5.0, {})
    link = [(d.start, d.end, d.cause) for d in proof.link_down if d.element == "gw-server"]
    assert link == [(1.0, 4.0, "link_down:gw")]
    assert [(d.element, d.start, d.end) for d in proof.node_down] == [("gw", 2.0, 4.0)]
    dead = {(c.link, c.direction): (c.start, c.end, c.carried) for c in proof.carrier_down}
    assert dead[("gw-server", 0)] == (1.0, 4.0, (0, 0, 0))  # drops are not carrying
    assert dead[("gw-server", 1)] == (1.0, 4.0, (0, 54, 0))
    assert dead[("dev-1-gw", 1)] == (2.0, 4.0, (0, 0, 0))  # the gateway transmits down
    assert ("dev-1-gw", 0) in dead  # its children's uplinks are cut with it
    assert [(d.element, d.start, d.end) for d in proof.path_down if d.element == "dev-1"] == [
        ("dev-1", 1.0, 4.0)
    ]


def test_every_device_has_an_energy_ledger_that_clients_csv_writes(clean: RunResult) -> None:
    ev = clean.evidence
    assert ev is not None
    assert set(ev.energy) == {c.client for c in clean.clients}
    for c in clean.clients:
        assert (c.energy_compute_j, c.energy_radio_j) == (
            ev.energy[c.client].compute_j,
            ev.energy[c.client].radio_j,
        )
        assert c.energy_radio_j > 0


def test_energy_that_disagrees_with_the_ledger_or_overspends_a_battery_is_caught(
    clean: RunResult,
) -> None:
    ev = clean.evidence
    assert ev is not None
    bad = doctor(clean)
    bad.clients[0] = changed(bad.clients[0], energy_radio_j=bad.clients[0].energy_radio_j * 1.5)
    found = [v.detail for v in audit(bad) if v.invariant == "energy-within-battery"]
    assert len(found) == 1
    assert "energy_radio_j" in found[0]
    dev = clean.clients[0].client
    mine = ev.energy[dev]
    spent = mine.compute_j + mine.radio_j
    overspent = dataclasses.replace(mine, initial_j=spent / 2)
    bad = doctor(clean, energy={**ev.energy, dev: overspent})
    found = [v.detail for v in audit(bad) if v.invariant == "energy-within-battery"]
    assert found == [f"device {dev}: spent {spent:.9g} J, its battery held {spent / 2:.9g} J"]


def test_a_message_sent_after_the_battery_ran_dry_is_caught(clean: RunResult) -> None:
    ev = clean.evidence
    assert ev is not None
    dev = clean.clients[0].client
    k = ev.devices.index(dev)
    sent_up = ev.messages.sent[(ev.messages.device == k) & (ev.messages.direction == 0)]
    empty_at = float(sent_up[-2])  # the battery "ran dry" before its last message
    mine = ev.energy[dev]
    total = mine.compute_j + mine.radio_j
    dead = dataclasses.replace(mine, initial_j=total, empty_at=empty_at)
    bad = doctor(clean, energy={**ev.energy, dev: dead})
    found = [v.detail for v in audit(bad) if v.invariant == "energy-within-battery"]
    assert len(found) == 1
    assert f"battery empty at {empty_at:.3f} s" in found[0]
    assert "sent 1 message(s)" in found[0]


def test_a_negative_byte_count_is_caught(clean: RunResult) -> None:
    assert not [v for v in audit(clean) if v.invariant == "bytes-nonnegative"]
    bad = doctor(clean, bytes_after_rounds={**clean.evidence.bytes_after_rounds, "wire_down": -5})  # type: ignore[union-attr]
    row = bad.recorder.rounds[1]
    bad.recorder.rounds[1] = changed(row, wire_bytes_down=-398)
    found = [v.detail for v in audit(bad) if v.invariant == "bytes-nonnegative"]
    assert found == [
        f"rounds.csv round {row.round}: wire_bytes_down -398",
        "bytes after the last round (wire_down) -5",
    ]


def _upload_evidence(post_at: float, cut: tuple[float, float]) -> Any:
    """dev-1 begins uploading at 1000 s, sends its POST (two messages) from `post_at`, and
    the server accepts it 1 s later; gw's link is down during `cut` (all after the clean
    run's own gateway outage)."""
    import simpy

    from fedsim.net.evidence import EvidenceRecorder
    from fedsim.net.network import Network
    from fedsim.rng import Streams

    env = simpy.Environment()
    net = Network(env, parse_scenario(tiny_topology()), Streams(1))
    ev = EvidenceRecorder(net)

    def at(t: float, fn: Any, *args: Any) -> None:
        env.timeout(t).callbacks.append(lambda _e: fn(*args))

    at(1000.0, ev.client_state, "dev-1", "uploading")
    at(cut[0], net.set_down, "link", "gw", "link_down:gw")
    at(cut[1], net.set_up, "link", "gw", "link_down:gw")
    for t in (post_at, post_at + 0.5):
        at(t, lambda: ev.sent("dev-1", 0, 500, 0, env.event()))
    at(post_at + 1.0, ev.accepted_update, "dev-1", 1)
    end = max(post_at, cut[1]) + 2.0
    env.run(until=end)
    return ev.finish(end, {})


def test_an_upload_exchange_starts_at_its_posts_first_message(clean: RunResult) -> None:
    """A connect retried across a cut carried no byte of the update: its exchange (the
    POST, sent once the path is back) is clean (regression upload_connect_retried_across_cut)."""
    proof = _upload_evidence(post_at=1004.0, cut=(1000.5, 1003.0))
    assert proof.accepted == [Accepted("dev-1", 1, 1004.0, 1005.0)]
    bad = doctor(clean, accepted=proof.accepted, path_down=proof.path_down)
    assert "update-over-down-path" not in names(audit(bad))


@pytest.mark.parametrize(
    ("post_at", "cut"),
    [(1000.2, (1000.5, 1003.0)), (1001.0, (1000.5, 1003.0))],
    ids=["in-flight-at-the-cut", "sent-over-the-cut-path"],
)
def test_an_upload_in_flight_at_a_cut_or_sent_over_it_is_caught(
    clean: RunResult, post_at: float, cut: tuple[float, float]
) -> None:
    """Issue 10 finding 1 (tests/scenarios/cut_backhaul_nbiot.yaml, seed 11, on the network
    before its fix): a POST whose exchange overlaps the cut is accepted after it."""
    proof = _upload_evidence(post_at=post_at, cut=cut)
    assert proof.accepted == [Accepted("dev-1", 1, post_at, post_at + 1.0)]
    bad = doctor(clean, accepted=proof.accepted, path_down=proof.path_down)
    found = [v.detail for v in audit(bad) if v.invariant == "update-over-down-path"]
    assert len(found) == 1
    assert f"(upload started {post_at:.3f} s) while down 1000.500 s-1003.000 s" in found[0]


def test_an_acknowledgement_the_server_never_gave_is_caught(clean: RunResult) -> None:
    """A device that counts an upload as stored which the server never accepted (an
    answer that said 200 for a refused update) breaks "nothing acknowledged is lost"."""
    ev = clean.evidence
    assert ev is not None
    assert ev.acknowledged is not None
    accepted = sum(1 for a in ev.accepted if a.client == "dev-2")
    # the clean run: every ack was an accept, but for the last upload's answer, in flight
    # when the run ended (the network closes then: docs/results.md, "The run's window")
    assert accepted - 1 <= ev.acknowledged["dev-2"] <= accepted
    assert "acknowledged-was-accepted" not in names(audit(clean))
    bad = doctor(clean, acknowledged={**ev.acknowledged, "dev-2": accepted + 1})
    found = [v.detail for v in audit(bad) if v.invariant == "acknowledged-was-accepted"]
    assert found == [
        f"client dev-2: {accepted + 1} uploads acknowledged to the device, "
        f"{accepted} accepted by the server"
    ]
