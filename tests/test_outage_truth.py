"""Outages are the truth (issue 10, findings 1, 2 and 8): nothing crosses a path that
was down, a node that is gone carries nothing, down time fits in the run, and the
timeline says when a client downloads and why it is offline."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import simpy

from fedsim.net.channel import DOWN, UP
from fedsim.net.network import Network
from fedsim.net.transport import EmulatedConnection
from fedsim.rng import Streams
from fedsim.run import RunResult, simulate
from fedsim.scenario import load_scenario, parse_scenario

SCENARIOS = Path(__file__).parent / "scenarios"


class _Evidence:
    """What a run did: its network, and every message handed to a receiver
    (client node, direction, send time, delivery time)."""

    def __init__(self) -> None:
        self.net: Network | None = None
        self.delivered: list[tuple[str, int, float, float]] = []
        self.at_retire: dict[str, list[tuple[int, int]]] = {}


def _observed(path: Path) -> tuple[_Evidence, RunResult]:
    """Run a topology with the evidence hooks in place."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        ev = _hooks(monkeypatch)
        return ev, simulate(load_scenario(path))


@pytest.fixture(scope="module")
def cut_run() -> tuple[_Evidence, RunResult]:
    return _observed(SCENARIOS / "cut_backhaul_nbiot.yaml")


def _hooks(monkeypatch: pytest.MonkeyPatch) -> _Evidence:
    ev = _Evidence()
    start, send, hand_over = Network.start, EmulatedConnection.send, EmulatedConnection._hand_over
    retire = Network.retire

    def net_start(self: Network) -> None:
        ev.net = self
        start(self)

    sent_at: dict[EmulatedConnection, dict[int, list[float]]] = {}
    """Per connection (slotted: no room for test attributes), send times per direction."""

    def conn_send(self: EmulatedConnection, direction: int, chunk: bytes) -> None:
        sent_at.setdefault(self, {UP: [], DOWN: []})[direction].append(self.loop.time())
        send(self, direction, chunk)

    def conn_hand_over(self: EmulatedConnection, direction: int, chunk: bytes) -> None:
        if not self.broken:
            sent = sent_at[self][direction].pop(0)
            ev.delivered.append((self.client_node, direction, sent, self.loop.time()))
        hand_over(self, direction, chunk)

    def net_retire(self: Network, node: str, cause: str) -> None:
        retire(self, node, cause)
        if node in self.uplink:
            ev.at_retire[node] = [(c.packets, c.wire_bytes) for c in self.uplink[node].counters]

    monkeypatch.setattr(Network, "start", net_start)
    monkeypatch.setattr(EmulatedConnection, "send", conn_send)
    monkeypatch.setattr(EmulatedConnection, "_hand_over", conn_hand_over)
    monkeypatch.setattr(Network, "retire", net_retire)
    return ev


def _crossed_down_paths(ev: _Evidence) -> list[str]:
    """Messages delivered although their path was down at some instant between their
    send and their delivery (an outage touching either end instant is allowed)."""
    assert ev.net is not None
    return [
        f"{dev} dir {d} sent {sent:.3f} delivered {got:.3f} across {o}"
        for dev, d, sent, got in ev.delivered
        for o in ev.net.outages[dev]
        if o.start < got and (o.end is None or o.end > sent)
    ]


def _down_time_fits(res: RunResult) -> None:
    end = res.summary["sim_time_s"]
    for row in res.links:
        assert 0.0 <= row["down_time_s"] <= end + 1e-9, (row["link"], row["down_time_s"], end)
    _timeline_tiles_the_run(res)
    _payload_matches_what_clients_wrote(res)


def _payload_matches_what_clients_wrote(res: RunResult) -> None:
    """A cut takes wire bytes back, never payload: each client's first hop carries the
    payload its node wrote, both ways."""
    first_hop = {(r["a"], r["direction"]): r["payload_bytes"] for r in res.links}
    for c in res.clients:
        assert first_hop[(c["client"], "up")] == c["bytes_up"], c["client"]
        assert first_hop[(c["client"], "down")] == c["bytes_down"], c["client"]


def _timeline_tiles_the_run(res: RunResult) -> None:
    """Each client's intervals follow each other without gap or overlap over [0, end]."""
    end = res.summary["sim_time_s"]
    by_client: dict[str, list[Any]] = {}
    for iv in res.recorder.timeline:
        by_client.setdefault(iv.client, []).append(iv)
    assert len(by_client) == len(res.clients)
    for client, ivs in by_client.items():
        assert ivs[0].start_s == 0.0, client
        for a, b in pairwise(ivs):
            assert a.end_s == b.start_s, (client, a, b)
        assert ivs[-1].end_s == end, (client, ivs[-1], end)


# ------------------------------------------------------------------- regression topologies
def test_cut_backhaul_nbiot_no_message_crosses_the_cut(
    cut_run: tuple[_Evidence, RunResult],
) -> None:
    evidence, res = cut_run
    assert len(evidence.delivered) > 100
    assert _crossed_down_paths(evidence) == []
    inside = [r for r in res.recorder.rounds if 10800 + 300 < r.sim_time_s < 18000]
    assert inside, "the run must reach rounds inside the cut"
    assert all(r.reported == 0 for r in inside)
    _down_time_fits(res)
    cut = next(r for r in res.links if r["link"] == "cell-cloud")
    assert cut["down_time_s"] == pytest.approx(res.summary["sim_time_s"] - 10800)


def test_cut_backhaul_nbiot_timeline_downloads_and_offline_causes(
    cut_run: tuple[_Evidence, RunResult],
) -> None:
    _, res = cut_run
    timeline = res.recorder.timeline
    assert any(iv.state == "downloading" and iv.end_s > iv.start_s for iv in timeline)
    causes = {iv.cause for iv in timeline if iv.state == "offline"}
    assert {"device_offline", "link_down"} <= causes, causes
    assert all(iv.cause == "" for iv in timeline if iv.state != "offline")
    # A meter asleep when the cut begins is offline because of the cut once it wakes.
    during = [iv for iv in timeline if iv.state == "offline" and iv.start_s >= 10800]
    assert any(iv.cause == "link_down" for iv in during)


def test_churned_gateway_carries_nothing_after_it_left() -> None:
    evidence, res = _observed(SCENARIOS / "churn_gateway.yaml")
    assert set(evidence.at_retire) == {"gw"}
    final = next(r for r in res.links if r["link"] == "gw-server" and r["direction"] == "up")
    final_down = next(r for r in res.links if r["link"] == "gw-server" and r["direction"] == "down")
    (up_pkts, up_wire), (down_pkts, down_wire) = evidence.at_retire["gw"]
    assert (final["packets"], final["wire_bytes"]) == (up_pkts, up_wire)
    assert (final_down["packets"], final_down["wire_bytes"]) == (down_pkts, down_wire)
    assert _crossed_down_paths(evidence) == []
    _down_time_fits(res)
    assert final["down_time_s"] == pytest.approx(res.summary["sim_time_s"] - 60.0)
    churned = [iv for iv in res.recorder.timeline if iv.client.startswith("dev-")]
    assert {iv.cause for iv in churned if iv.start_s >= 60.0} == {"churn"}


# ------------------------------------------------------------------- the network API
def _one_link_net(fidelity: str, *, latency: str = "2s") -> tuple[simpy.Environment, Network]:
    topo = {
        "name": "cut", "seed": 1,
        "task": {"kind": "digits", "partition": "iid"},
        "fl": {"strategy": "fedavg", "rounds": 1, "clients_per_round": 1, "min_available": 1},
        "links": {
            "radio": {"kind": "nbiot", "bandwidth": "40kbps", "latency": latency},
            "core": {"kind": "backhaul", "bandwidth": "100Mbps", "latency": "30ms"},
        },
        "nodes": [
            {"name": "cloud", "kind": "server"},
            {"name": "cell", "kind": "gateway", "uplink": {"to": "cloud", "link": "core"}},
            {"name": "m", "kind": "device", "device": "esp32",
             "uplink": {"to": "cell", "link": "radio"}},
        ],
        "fidelity": fidelity,
    }  # fmt: skip
    sc = parse_scenario(topo)
    env = simpy.Environment()
    net = Network(env, sc, Streams(1))
    net.start()
    return env, net


def _watch(env: simpy.Environment, ev: simpy.Event, log: list[Any], tag: str) -> None:
    def done(e: simpy.Event) -> None:
        e.defused = True
        log.append((tag, env.now, e.ok))

    ev.callbacks.append(done)


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_handshake_in_flight_at_the_cut_fails_at_the_cut(fidelity: str) -> None:
    env, net = _one_link_net(fidelity)
    ch, _ = net.open_channel("m", "cloud")
    log: list[Any] = []
    _watch(env, ch.connect(), log, "connect")
    env.run(until=1.0)  # the SYN is on the 2 s radio link
    net.set_down("link", "cell", "link_down:cell")
    env.run(until=60.0)
    assert log == [("connect", 1.0, False)]
    send = ch.send(UP, 1000)
    _watch(env, send, log, "send")
    env.run(until=120.0)
    assert log[-1] == ("send", 60.0, False)


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_transfer_cut_mid_flight_fails_and_carries_no_bytes_after_the_cut(fidelity: str) -> None:
    env, net = _one_link_net(fidelity, latency="100ms")
    ch, _ = net.open_channel("m", "cloud")
    log: list[Any] = []
    _watch(env, ch.connect(), log, "connect")
    env.run(until=5.0)
    assert log == [("connect", pytest.approx(log[0][1]), True)]
    t0 = env.now
    _watch(env, ch.send(UP, 200_000), log, "send")  # 40 s at 40 kbit/s
    cut = t0 + 10.0
    env.run(until=cut)
    net.set_down("node", "cell", "gateway_down:cell")
    env.run(until=cut + 100.0)
    assert log[-1] == ("send", cut, False)
    radio = net.uplink["m"].counters[UP]
    # what the radio put on the air fits in the time it had before the cut
    assert radio.wire_bytes * 8 <= 40_000 * (cut - t0 + 0.5)
    assert radio.payload_bytes == 200_000  # what the application handed over
    core = net.uplink["cell"].counters
    assert core[UP].wire_bytes * 8 <= 40_000 * (cut - t0 + 0.5)
    before = [(c.packets, c.wire_bytes) for c in (*net.uplink["m"].counters, *core)]
    ch.close()
    env.run(until=cut + 200.0)
    assert [(c.packets, c.wire_bytes) for c in (*net.uplink["m"].counters, *core)] == before


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_failed_connects_put_nothing_on_a_dead_gateways_links(fidelity: str) -> None:
    env, net = _one_link_net(fidelity, latency="100ms")
    net.retire("cell", "churn:cell")
    for _ in range(5):
        ch, _ = net.open_channel("m", "cloud")
        log: list[Any] = []
        _watch(env, ch.connect(), log, "connect")
        env.run(until=env.now + 100.0)
        assert log
        assert log[0][2] is False
        ch.close()
    for link in (net.uplink["m"], net.uplink["cell"]):
        assert [(c.packets, c.wire_bytes) for c in link.counters] == [(0, 0), (0, 0)]


def test_down_time_is_clipped_to_the_run_and_counted_once() -> None:
    env, net = _one_link_net("flow")
    env.run(until=10.0)
    net.retire("cell", "churn:cell")
    env.run(until=50.0)
    net.set_down("link", "cell", "link_down:cell")
    env.run(until=70.0)
    net.set_up("link", "cell", "link_down:cell")
    env.run(until=400.0)  # clean-up after the run's end at 300 s
    net.finish(300.0)
    net.finish(300.0)
    assert net.uplink["cell"].down_time == pytest.approx(290.0)
    assert net.uplink["m"].down_time == pytest.approx(290.0)


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_a_syn_into_a_cut_backhaul_is_refused_there_not_carried(fidelity: str) -> None:
    env, net = _one_link_net(fidelity, latency="100ms")
    net.set_down("link", "cell", "link_down:cell")
    ch, _ = net.open_channel("m", "cloud")
    log: list[Any] = []
    _watch(env, ch.connect(), log, "connect")
    env.run(until=10.0)
    radio, core = net.uplink["m"].counters[UP], net.uplink["cell"].counters[UP]
    assert radio.packets >= 1
    assert core.refused >= 1  # turned away at the cut hop: never sent, so no drop
    assert (core.packets, core.wire_bytes, core.drops) == (0, 0, 0)
    assert [(c.packets, c.wire_bytes) for c in (net.uplink["m"].counters[DOWN],)] == [(0, 0)]


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_a_longer_message_announces_its_first_segment_before_its_last(fidelity: str) -> None:
    """What lets a client show `downloading`: the response's head arrives first."""
    env, net = _one_link_net(fidelity, latency="100ms")
    ch, _ = net.open_channel("m", "cloud")
    log: list[Any] = []
    _watch(env, ch.connect(), log, "connect")
    env.run(until=5.0)
    small = ch.send(DOWN, 200)
    assert ch.head(small) is None
    env.run(until=10.0)
    big = ch.send(DOWN, 20_000)
    head = ch.head(big)
    assert head is not None
    head_ev, nbytes = head
    assert 0 < nbytes < 20_000
    _watch(env, head_ev, log, "head")
    _watch(env, big, log, "body")
    env.run(until=60.0)
    (_, t_head, ok_head), (_, t_body, ok_body) = log[-2:]
    assert ok_head
    assert ok_body
    assert [tag for tag, *_ in log[-2:]] == ["head", "body"]
    assert 10.1 < t_head < t_body - 2.0  # 20 kB at 40 kbit/s take seconds after the head
