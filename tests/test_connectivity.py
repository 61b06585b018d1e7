"""Connectivity and failures: traces, partitions, churn, batteries, LoRa duty cycle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import simpy
import yaml
from topo import tiny_topology

from fedsim.errors import ScenarioError
from fedsim.net.battery import Batteries
from fedsim.net.connectivity import churn_plan
from fedsim.net.network import Network
from fedsim.rng import Streams
from fedsim.scenario import Scenario, load_scenario, parse_scenario


def _net(sc: Scenario, seed: int | None = None) -> tuple[simpy.Environment, Network, list]:
    """A started network whose breaker records (cause, devices whose connections broke)."""
    env = simpy.Environment()
    net = Network(env, sc, Streams(sc.seed if seed is None else seed))
    broken: list[tuple[str, list[str]]] = []
    devices = [d.name for d in sc.device_nodes]

    class _Conn:
        def __init__(self, node: str) -> None:
            self.client_node = node

    def breaker(pred: Any, cause: str) -> int:
        hit = [d for d in devices if pred(_Conn(d))]
        broken.append((cause, hit))
        return len(hit)

    net.breaker = breaker
    net.start()
    return env, net, broken


def _states(net: Network) -> dict[str, bool]:
    return {d.name: net.is_path_up(d.name) for d in net.scenario.device_nodes}


def _three_gateways(**extra: Any) -> dict[str, Any]:
    topo = tiny_topology(fl__clients_per_round=2, fl__min_available=2)
    topo["nodes"] = [
        {"name": "server", "kind": "server"},
        *[{"name": g, "kind": "gateway", "uplink": {"to": "server", "link": "backhaul"}}
          for g in ("gw1", "gw2", "gw3")],
        *[{"name": f"s{g[-1]}", "kind": "device", "count": 2, "device": "rpi4",
           "uplink": {"to": g, "link": "wifi"}} for g in ("gw1", "gw2", "gw3")],
    ]  # fmt: skip
    topo.update(extra)
    return topo


# --------------------------------------------------------------------------- trace
def _trace_topology(tmp_path: Path, csv_text: str, file: str = "trace.csv") -> Path:
    (tmp_path / "traces").mkdir(exist_ok=True)
    (tmp_path / "traces" / "trace.csv").write_text(csv_text)
    topo = tiny_topology()
    topo["nodes"][2]["connectivity"] = {"kind": "trace", "file": f"traces/{file}"}
    path = tmp_path / "topo.yaml"
    path.write_text(yaml.safe_dump(topo))
    return path


def test_trace_replays_down_intervals_relative_to_the_topology_file(tmp_path: Path) -> None:
    text = "# measured outages\nstart,end,node\n10,20,\n1min,90s,dev-2\n15s,25s,\n100, ,dev-3\n"
    sc = load_scenario(_trace_topology(tmp_path, text))  # file is relative to topo.yaml
    assert sc.device_nodes[0].connectivity.trace[0] == (10.0, 20.0, None)
    env, net, broken = _net(sc)
    seen: dict[float, dict[str, bool]] = {}
    for t in (5, 12, 22, 30, 70, 95, 150, 10_000):
        env.run(until=t)
        seen[t] = _states(net)
    everyone = {"dev-1", "dev-2", "dev-3", "dev-4"}
    assert all(seen[5].values())
    # [10, 20] and [15, 25] merge into one outage [10, 25] for every device.
    assert {d for d, up in seen[12].items() if not up} == everyone
    assert {d for d, up in seen[22].items() if not up} == everyone
    assert all(seen[30].values())
    assert {d for d, up in seen[70].items() if not up} == {"dev-2"}
    assert all(seen[95].values())
    # An empty end: down for the rest of the run.
    assert {d for d, up in seen[10_000].items() if not up} == {"dev-3"}
    o = net.outages["dev-1"][0]
    assert (o.start, o.end, o.cause) == (10.0, 25.0, "device_offline:dev-1")
    assert net.outage_cause("dev-2", 55, 65) == "device_offline"
    assert ("device_offline:dev-1", ["dev-1"]) in broken


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("start,end\n10,20\n30,abc\n", r"trace\.csv line 3: cannot read 'abc' as a duration"),
        ("start,end\n10,20\n30,5\n", r"trace\.csv line 3: end '5' is not after start '30'"),
        ("start,end\n10,20,x\n", r"trace\.csv line 2: expected 2 columns, got 3"),
        ("begin,stop\n10,20\n", r"line 1: the header must be start,end"),
        ("# nothing\n", r"the trace file is empty"),
    ],
)
def test_trace_file_errors_name_the_key_and_the_line(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ScenarioError, match=r"nodes\[2\]\.connectivity\.file") as err:
        load_scenario(_trace_topology(tmp_path, text))
    assert err.match(message)


def test_missing_trace_file_is_a_clear_error(tmp_path: Path) -> None:
    path = _trace_topology(tmp_path, "start,end\n", file="nope.csv")
    with pytest.raises(ScenarioError, match=r"nodes\[2\]\.connectivity\.file.*nope\.csv"):
        load_scenario(path)


# --------------------------------------------------------------------------- partition
def test_partition_cuts_several_gateways_at_once_with_one_cause() -> None:
    topo = _three_gateways(
        failures=[{"partition": ["gw1", "gw2"], "at": "1min", "duration": "10min", "name": "east"}]
    )
    sc = parse_scenario(topo)
    assert sc.failures[0].target == "partition"
    assert sc.failures[0].links == ("gw1", "gw2")
    env, net, broken = _net(sc)
    env.run(until=61)
    cut = {"s1-1", "s1-2", "s2-1", "s2-2"}
    assert {d for d, up in _states(net).items() if not up} == cut
    assert broken == [("partition:east", sorted(cut))]
    assert net.outage_cause("s1-1", 0, 100) == "partition"
    env.run(until=60 + 600 + 1)
    assert all(_states(net).values())
    net.finish()
    assert net.uplink["gw1"].down_time == pytest.approx(600)
    assert net.uplink["gw3"].down_time == 0


def test_links_failure_takes_link_names_and_defaults_to_its_index() -> None:
    topo = _three_gateways(
        failures=[
            {"node": "gw3", "at": "5s", "duration": "1s"},
            {"links": ["s1-1-gw1", "s2"], "at": "10s", "duration": "20s"},
        ]
    )
    sc = parse_scenario(topo)
    env, net, broken = _net(sc)
    env.run(until=11)
    assert {d for d, up in _states(net).items() if not up} == {"s1-1", "s2-1", "s2-2"}
    assert broken[-1][0] == "partition:1"


def test_partition_overlapping_a_gateway_outage_keeps_the_path_down_until_both_end() -> None:
    topo = _three_gateways(
        failures=[
            {"node": "gw1", "at": "10s", "duration": "100s"},
            {"partition": ["gw1"], "at": "50s", "duration": "100s"},
        ]
    )
    env, net, _ = _net(parse_scenario(topo))
    env.run(until=120)
    assert not net.is_path_up("s1-1")  # the gateway is back, the partition is not
    env.run(until=151)
    assert net.is_path_up("s1-1")


@pytest.mark.parametrize(
    ("failure", "where", "message"),
    [
        ({"partition": ["gw9"]}, r"failures\[0\]\.partition\[0\]", "unknown node or group 'gw9'"),
        ({"partition": ["server"]}, r"failures\[0\]\.partition\[0\]", "the server has no uplink"),
        ({"partition": []}, r"failures\[0\]\.partition", "non-empty list"),
        ({"links": ["s1-1-gw2"]}, r"failures\[0\]\.links\[0\]", "unknown node, group or link"),
        ({"node": "gw1", "links": ["gw1"]}, r"failures\[0\]", "exactly one of"),
        ({"node": "gw1", "name": "x"}, r"failures\[0\]\.name", "only a partition"),
    ],
)
def test_partition_errors(failure: dict[str, Any], where: str, message: str) -> None:
    topo = _three_gateways(failures=[{"at": "1s", "duration": "1s", **failure}])
    with pytest.raises(ScenarioError, match=where) as err:
        parse_scenario(topo)
    assert err.match(message)


# --------------------------------------------------------------------------- churn
def test_churn_kind_leaves_for_good_and_stops_other_processes() -> None:
    topo = tiny_topology()
    topo["nodes"][2]["connectivity"] = {"kind": "churn", "leave_after": "2h"}
    env, net, broken = _net(parse_scenario(topo))
    env.run(until=7199)
    assert all(_states(net).values())
    env.run(until=7201)
    assert not any(_states(net).values())
    assert net.retired == {f"dev-{i}": f"churn:dev-{i}" for i in range(1, 5)}
    assert [c for c, _ in broken] == [f"churn:dev-{i}" for i in range(1, 5)]
    assert net.outage_cause("dev-1", 7000, 8000) == "churn"
    env.run(until=100_000)
    assert not any(_states(net).values())
    assert len(net.outages["dev-1"]) == 1


def test_group_churn_takes_a_fraction_within_the_window_deterministically() -> None:
    topo = tiny_topology()
    topo["nodes"][2]["count"] = 10
    topo["nodes"][2]["connectivity"] = {"kind": "markov", "mean_up": "10min", "mean_down": "1min"}
    topo["nodes"][2]["churn"] = {"fraction": "20%", "between": ["30min", "2h"]}
    sc = parse_scenario(topo)
    spec = sc.device_nodes[0].connectivity
    assert (spec.kind, spec.churn_fraction, spec.leave_after_s) == ("markov", 0.2, (1800, 7200))
    members = [d.name for d in sc.device_nodes]
    plan = churn_plan("dev", members, spec, Streams(3))
    assert plan == churn_plan("dev", members, spec, Streams(3))
    assert len(plan) == 2
    assert all(1800 <= t <= 7200 for t, _ in plan)
    env, net, _ = _net(sc)
    env.run(until=3 * 3600)
    assert set(net.retired) == {n for _, n in plan}
    for _t, node in plan:
        assert not net.is_path_up(node)
        assert net.outages[node][-1].cause == f"churn:{node}"
        assert net.outages[node][-1].end is None


def test_churn_errors() -> None:
    topo = tiny_topology()
    topo["nodes"][2]["churn"] = {"fraction": "20%"}
    with pytest.raises(ScenarioError, match=r"nodes\[2\]\.churn.*exactly one of after or between"):
        parse_scenario(topo)
    topo["nodes"][2]["churn"] = {"fraction": "20%", "between": ["2h", "1h"]}
    with pytest.raises(ScenarioError, match=r"nodes\[2\]\.churn\.between.*low end"):
        parse_scenario(topo)
    topo["nodes"][2]["churn"] = {"fraction": "120%", "after": "1h"}
    with pytest.raises(ScenarioError, match=r"nodes\[2\]\.churn\.fraction"):
        parse_scenario(topo)


# --------------------------------------------------------------------------- battery
def _battery_topology(**node: Any) -> dict[str, Any]:
    topo = tiny_topology()
    topo["devices"] = {"cell": {"like": "esp32", "battery": "1J", "compute_energy_per_flop": "1uJ"}}
    # a byte takes 1 s of airtime; 1 mW to send, 0.5 mW to receive, nothing between
    topo["links"]["wifi"].update(bandwidth="8bps", radio={
        "tx_power": "1mW", "rx_power": "0.5mW", "tail": 0, "idle_power": 0, "frame_overhead": 0,
    })  # fmt: skip
    topo["nodes"][2]["device"] = "cell"
    topo["nodes"][2].update(node)
    mains = {"name": "mains", "kind": "device", "device": "rpi4"}
    topo["nodes"].append({**mains, "uplink": {"to": "gw", "link": "wifi"}})
    return topo


def test_battery_drains_by_radio_and_compute_then_retires_the_device() -> None:
    env, net, broken = _net(parse_scenario(_battery_topology()))
    bat = Batteries(net)
    assert set(bat.batteries) == {"dev-1", "dev-2", "dev-3", "dev-4"}  # mains has none
    env.run(until=100)
    bat.airtime(bat.ledgers["dev-1"], 0, 400, 0)  # 400 s on air at 1 mW: 0.4 J sent
    bat.airtime(bat.ledgers["dev-1"], 1, 200, 0)  # 0.1 J received
    bat.compute("dev-1", 100_000)  # 0.1 J of training
    assert bat.level("dev-1") == pytest.approx(0.4)
    bat.airtime(bat.ledgers["mains"], 0, 10**9, 0)
    assert bat.level("mains") is None
    env.run(until=200)
    assert net.is_path_up("dev-1")
    bat.charge("dev-1", 0.5)  # more than is left: empty now, at t = 200
    assert net.is_path_up("dev-1")  # retired by a zero-delay event, not inside the charge
    env.run(until=201)
    assert bat.batteries["dev-1"].empty_at == 200
    assert not net.is_path_up("dev-1")
    assert net.retired["dev-1"] == "battery:dev-1"
    assert broken[-1] == ("battery:dev-1", ["dev-1"])
    assert net.outage_cause("dev-1", 150, 250) == "battery"
    assert net.outages["dev-1"][-1].start == 200
    bat.charge("dev-1", 1.0)  # an empty battery takes no more
    report = bat.report()["dev-1"]
    assert report["level_j"] == 0
    assert report["spent_tx_j"] == pytest.approx(0.4)
    assert report["spent_compute_j"] == pytest.approx(0.1)
    assert report["empty_at_s"] == 200
    env.run(until=10_000)
    assert not net.is_path_up("dev-1")
    assert all(net.is_path_up(d) for d in ("dev-2", "dev-3", "dev-4", "mains"))


def test_initial_charge_is_drawn_per_device_and_an_empty_start_is_offline() -> None:
    sc = parse_scenario(_battery_topology(initial_charge=["20%", "80%"]))
    env, net, _ = _net(sc)
    levels = [Batteries(net).level(f"dev-{i}") for i in range(1, 5)]
    assert all(0.2 <= lv <= 0.8 for lv in levels)  # type: ignore[operator]
    assert len(set(levels)) == 4
    empty = _battery_topology(initial_charge="0%")
    empty["fl"]["min_available"] = 1  # the mains device alone can run rounds (else refused)
    env, net, _ = _net(parse_scenario(empty))
    Batteries(net)
    env.run(until=1)
    assert not any(net.is_path_up(f"dev-{i}") for i in range(1, 5))
    assert net.is_path_up("mains")


def test_initial_charge_needs_a_battery() -> None:
    topo = _battery_topology()
    topo["nodes"][3]["initial_charge"] = "50%"
    with pytest.raises(ScenarioError, match=r"nodes\[3\]\.initial_charge.*no battery"):
        parse_scenario(topo)


def test_battery_death_behind_a_sleeping_radio_is_relabelled() -> None:
    """A device asleep (periodic) when its battery dies is down for `battery` from then."""
    topo = _battery_topology()
    topo["nodes"][2]["connectivity"] = {"kind": "periodic", "period": "100s", "awake": "1s"}
    env, net, _ = _net(parse_scenario(topo))
    bat = Batteries(net)
    env.run(until=500)
    asleep = [d for d in ("dev-1", "dev-2", "dev-3", "dev-4") if not net.is_path_up(d)]
    dev = asleep[0]
    bat.charge(dev, 2.0)
    env.run(until=10_000)
    assert not net.is_path_up(dev)
    assert net.outages[dev][-1].cause == f"battery:{dev}"
    assert net.outages[dev][-1].end is None
    assert net.outage_cause(dev, 600, 9000) == "battery"


# --------------------------------------------------------------------------- duty cycle
@pytest.mark.parametrize("fidelity", ["packet", "flow"])
def test_lora_shared_channel_holds_a_one_percent_duty_cycle(fidelity: str) -> None:
    """Two devices on one 5.47 kbit/s (SF7) shared channel with a 1 % duty cycle: up
    to the end of every transmission the channel's airtime is at most 1 % of the time
    plus that transmission. The packet model books a frame at a time, the flow model a
    TCP window."""
    topo = tiny_topology(fidelity=fidelity)
    topo["links"]["lora"] = {
        "kind": "lora", "bandwidth": "5.47kbps", "latency": "50ms", "mtu": 250,
        "shared": True, "half_duplex": True, "duty_cycle": "1%",
    }  # fmt: skip
    topo["nodes"][2].update({"count": 2, "uplink": {"to": "gw", "link": "lora"}})
    topo["fl"].update({"clients_per_round": 2, "min_available": 2})
    env, net, _ = _net(parse_scenario(topo))
    tx = net.uplink["dev-1"].tx[0]
    assert tx is net.uplink["dev-2"].tx[0] is net.uplink["dev-1"].tx[1]  # one channel
    assert tx.duty_cycle == 0.01
    done: dict[str, float] = {}
    booked: list[tuple[float, float]] = []
    reserve = tx.reserve

    def logged(now: float, nbits: float, frames: int = 1) -> tuple[float, float]:
        start, end = reserve(now, nbits, frames)
        booked.append((start, end))
        return start, end

    tx.reserve = logged  # type: ignore[method-assign]

    def talk(dev: str, nbytes: int) -> Any:
        ch, _lat = net.open_channel(dev, "server")
        yield ch.connect()
        yield ch.send(0, nbytes)
        done[dev] = env.now

    for dev in ("dev-1", "dev-2"):
        env.process(talk(dev, 2600))
    env.run()
    airtime, payload = tx.busy_time, 2 * 2600 * 8 / 5470
    assert airtime >= payload  # at least the payload went over the air
    assert airtime <= 0.01 * tx.busy_until + 1e-9
    assert max(done.values()) > 0.9 * payload / 0.01  # without the duty cycle: ~1 % of that
    # Up to the end of every transmission, airtime <= 1 % of the time + that transmission.
    total = 0.0
    for start, end in sorted(booked):
        total += end - start
        assert total <= 0.01 * end + (end - start) + 1e-9
    longest = max(e - s for s, e in booked)
    if fidelity == "packet":  # one frame at a time
        assert longest <= (250 + 40) * 8 / 5470
