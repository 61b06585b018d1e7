"""Two outages on one element: it is down while any of them holds it (redteam6).

Before, two sources of outages on one element (two failures, a group's failure and a
member's, a gateway's markov or trace schedule and a scheduled failure) shared one
cause, so the first one's end brought the element back up while the other still held
it: down time was short and updates crossed the down link, and the audit passed. The
expectations here are computed by hand from the topologies.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import simpy
import yaml

from fedsim.audit import audit
from fedsim.net.evidence import Accepted, Down
from fedsim.net.network import Network
from fedsim.rng import Streams
from fedsim.run import RunResult, simulate
from fedsim.scenario import load_scenario, parse_scenario


def _topology(failures: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """One device `d` on Ethernet straight to the server; a round every ~5 s."""
    topo: dict[str, Any] = {
        "name": "overlap",
        "seed": 1,
        "task": {"kind": "digits", "partition": "iid", "model": "softmax"},
        "fl": {
            "rounds": 1000, "clients_per_round": 1, "deadline": "20s",
            "round_interval": "5s", "time_limit": "80s",
            "local": {"epochs": 1, "batch_size": 16, "lr": 0.05},
        },
        "links": {"eth": {"kind": "ethernet", "bandwidth": "1Mbps", "latency": "10ms"}},
        "nodes": [
            {"name": "server", "kind": "server"},
            {"name": "d", "kind": "device", "device": "rpi4",
             "uplink": {"to": "server", "link": "eth"}},
        ],
        "failures": failures,
    }  # fmt: skip
    topo.update(extra)
    return topo


def _gateway_topology(connectivity: dict[str, Any], failure: dict[str, Any]) -> dict[str, Any]:
    """A device behind a gateway whose own connectivity is `connectivity`."""
    topo = _topology([failure], seed=2)
    topo["fl"]["time_limit"] = "200s"
    topo["links"]["bh"] = {"kind": "backhaul", "bandwidth": "10Mbps", "latency": "10ms"}
    topo["nodes"] = [
        {"name": "server", "kind": "server"},
        {"name": "gw", "kind": "gateway", "uplink": {"to": "server", "link": "bh"},
         "connectivity": connectivity},
        {"name": "d", "kind": "device", "device": "rpi4", "uplink": {"to": "gw", "link": "eth"}},
    ]  # fmt: skip
    return topo


def _down_time(result: RunResult, link: str) -> float:
    times = {float(r["down_time_s"]) for r in result.links if r["link"] == link}
    assert len(times) == 1, times  # both directions of a link are down together
    return times.pop()


def _offline(result: RunResult, client: str) -> list[tuple[float, float]]:
    """The client's offline intervals, touching ones joined."""
    out: list[tuple[float, float]] = []
    for row in result.timeline:
        if row.client == client and row.state == "offline":
            if out and row.start_s <= out[-1][1]:
                out[-1] = (out[-1][0], row.end_s)
            else:
                out.append((row.start_s, row.end_s))
    return out


def _accepted_inside(result: RunResult, client: str, start: float, end: float) -> list[Any]:
    assert result.evidence is not None
    return [a for a in result.evidence.accepted
            if a.client == client and a.start < end and a.accepted > start]  # fmt: skip


def _accepted(result: RunResult, client: str) -> int:
    assert result.evidence is not None
    return sum(a.client == client for a in result.evidence.accepted)


@pytest.mark.parametrize("target", ["link", "node"])
def test_two_failures_of_one_element_hold_it_down_for_their_union(target: str) -> None:
    """10-30 s and 20-60 s: down 10-60 s (50 s); before, 20 s and six uploads at 33-58 s."""
    result = simulate(parse_scenario(_topology([
        {target: "d", "at": "10s", "duration": "20s"},
        {target: "d", "at": "20s", "duration": "40s"},
    ])))  # fmt: skip
    assert _down_time(result, "d-server") == 50.0
    assert _offline(result, "d") == [(10.0, 60.0)]
    assert _accepted_inside(result, "d", 10.0, 60.0) == []
    assert _accepted(result, "d") >= 4  # it trains before and after


def test_a_members_failure_outlasts_its_groups() -> None:
    """Group `d` (d-1, d-2) down 10-30 s, d-1 alone 20-60 s: d-1 is down 10-60 s (50 s),
    d-2 10-30 s (20 s). Before, d-1 uploaded at 36.8, 41.8 and 46.8 s."""
    topo = _topology([
        {"node": "d", "at": "10s", "duration": "20s"},
        {"node": "d-1", "at": "20s", "duration": "40s"},
    ])  # fmt: skip
    topo["fl"].update(clients_per_round=2, min_available=2)
    topo["nodes"][1]["count"] = 2
    result = simulate(parse_scenario(topo))
    assert _down_time(result, "d-1-server") == 50.0
    assert _down_time(result, "d-2-server") == 20.0
    assert _offline(result, "d-1") == [(10.0, 60.0)]
    assert _offline(result, "d-2") == [(10.0, 30.0)]
    assert _accepted_inside(result, "d-1", 10.0, 60.0) == []
    assert _accepted_inside(result, "d-2", 10.0, 30.0) == []


def test_a_gateways_trace_and_a_failure_hold_it_down_for_their_union(tmp_path: Path) -> None:
    """Trace down 50-150 s, failure 30-70 s: down 30-150 s (120 s). Before, 40 s and 16
    uploads at 70-150 s; the trace alone gives 100 s."""
    (tmp_path / "gw.csv").write_text("start,end\n50,150\n")
    trace = {"kind": "trace", "file": "gw.csv"}
    both = _gateway_topology(trace, {"node": "gw", "at": "30s", "duration": "40s"})
    alone = _gateway_topology(trace, {"link": "d", "at": "190s", "duration": "1s"})
    runs = {}
    for name, topo in (("both", both), ("alone", alone)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(topo))
        runs[name] = simulate(load_scenario(path))
    assert _down_time(runs["both"], "gw-server") == 120.0
    assert _down_time(runs["both"], "d-gw") == 120.0  # a gateway down cuts its children
    assert _offline(runs["both"], "d") == [(30.0, 150.0)]
    assert _accepted_inside(runs["both"], "d", 30.0, 150.0) == []
    assert _down_time(runs["alone"], "gw-server") == 100.0


def test_a_gateways_markov_schedule_does_not_end_a_scheduled_failure() -> None:
    """Markov gateway (mean up 20 s, down 5 s) failed 50-150 s: whatever the markov
    process does meanwhile, the gateway is down all of 50-150 s. Before, it came back
    at 99.1 s and five uploads crossed the failure."""
    result = simulate(parse_scenario(_gateway_topology(
        {"kind": "markov", "mean_up": "20s", "mean_down": "5s"},
        {"node": "gw", "at": "50s", "duration": "100s"},
    )))  # fmt: skip
    assert any(s <= 50.0 and e >= 150.0 for s, e in _offline(result, "d"))
    assert _down_time(result, "gw-server") >= 100.0
    assert _accepted_inside(result, "d", 50.0, 150.0) == []
    assert _accepted(result, "d") > 0


# ------------------------------------------------------------------- the network's holds
def _network(topo: dict[str, Any]) -> tuple[simpy.Environment, Network, list[tuple]]:
    env = simpy.Environment()
    net = Network(env, parse_scenario(topo), Streams(1))
    seen: list[tuple] = []
    net.observers.append(lambda dev, up, t, cause: seen.append((dev, up, t, cause)))
    net.start()
    return env, net, seen


def test_every_source_holds_its_own_cause_and_a_cause_cannot_hold_twice() -> None:
    _env, net, _ = _network(_topology([]))
    first, second = net.cause_for("link", "d"), net.cause_for("link", "d")
    assert (first, second) == ("link_down:d", "link_down:d#2")
    net.set_down("link", "d", first)
    net.set_down("link", "d", second)
    net.set_up("link", "d", first)
    assert not net.is_path_up("d")  # the second still holds it
    with pytest.raises(RuntimeError, match="already holding"):
        net.set_down("link", "d", second)
    net.set_up("link", "d", second)
    assert net.is_path_up("d")
    with pytest.raises(RuntimeError, match="not holding"):
        net.set_up("link", "d", second)


def test_the_label_is_the_earliest_cause_still_holding() -> None:
    """A link failure 10-40 s and a node failure 20-60 s on the same device: offline
    from 10 s with the first's cause (the second beginning does not relabel it, though
    its name sorts first); when the first ends, the second, still holding, labels it
    until 60 s."""
    topo = _topology([
        {"link": "d", "at": "10s", "duration": "30s"},
        {"node": "d", "at": "20s", "duration": "40s"},
    ])  # fmt: skip
    env, net, seen = _network(topo)
    env.run(until=100)
    assert seen == [
        ("d", False, 10.0, "link_down:d"),
        ("d", False, 40.0, "device_failure:d"),
        ("d", True, 60.0, "device_failure:d"),
    ]
    assert net.links["d-server"].down_log == [[10.0, 60.0]]


# --------------------------------------------------------------------------- the auditor
@pytest.fixture(scope="module")
def union_run() -> RunResult:
    return simulate(parse_scenario(_topology([
        {"link": "d", "at": "10s", "duration": "20s"},
        {"link": "d", "at": "20s", "duration": "40s"},
    ])))  # fmt: skip


def _with(row: Any, **cells: Any) -> Any:
    if dataclasses.is_dataclass(row):
        return dataclasses.replace(row, **cells)  # type: ignore[type-var]
    return {**row, **cells}


def test_the_audit_does_not_trust_a_record_that_lost_an_outage(union_run: RunResult) -> None:
    """What the old network recorded for the two link failures, self-consistent: down
    10-30 s, down_time_s 20 and an update accepted at 33 s. The record agrees with
    itself (down-time-matches-evidence passes); the scenario says 10-60 s."""
    ev = union_run.evidence
    assert ev is not None
    lost = [dataclasses.replace(d, end=30.0) if d.start == 10.0 else d for d in ev.link_down]
    assert lost != ev.link_down
    paths = [dataclasses.replace(d, end=30.0) if d.start == 10.0 else d for d in ev.path_down]
    bad = dataclasses.replace(
        union_run,
        links=[_with(r, down_time_s=20.0) if r["link"] == "d-server" else r
               for r in union_run.links],
        evidence=dataclasses.replace(
            ev, link_down=lost, path_down=paths, node_down=[],
            accepted=[*ev.accepted, Accepted("d", 99, 33.1, 33.2)],
        ),
    )  # fmt: skip
    found = {v.invariant for v in audit(bad)}
    assert {
        "down-time-matches-scenario",
        "down-intervals-match-scenario",
        "update-over-down-path",
    } <= found
    assert "down-time-matches-evidence" not in found  # the record alone looks fine
    assert audit(union_run) == []


def test_an_outage_the_scenario_never_asked_for_is_caught(union_run: RunResult) -> None:
    ev = union_run.evidence
    assert ev is not None
    extra = Down("d-server", 70.0, 75.0, "link_down:d")
    bad = dataclasses.replace(union_run, evidence=dataclasses.replace(
        ev, link_down=[*ev.link_down, extra]))  # fmt: skip
    details = [v.detail for v in audit(bad) if v.invariant == "down-intervals-match-scenario"]
    assert details
    assert "70.000 s-75.000 s" in details[0]
