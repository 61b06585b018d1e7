"""A run's numbers cover [0, end] and nothing after (docs/results.md, "The run's window").

An outside tester's finding: a LoRa run cut by `fl.time_limit` went on counting its
clients' shutdown (an SF12 sensor retrying for an hour), so the sensor's uplink showed
13.6 % airtime under a 10 % duty cycle, and bytes and energy included it, silently.
Now the network closes at the end (what had not gone out is taken back, nothing is sent
after), the energy ledgers close then, and the auditor checks that no count moved."""

from __future__ import annotations

import dataclasses
import errno
import gc
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simpy
from topo import tiny_topology

from fedsim.audit import audit
from fedsim.net.battery import Batteries
from fedsim.net.network import Network
from fedsim.rng import Streams
from fedsim.run import RunResult, simulate
from fedsim.scenario import load_scenario, parse_scenario

DUTY = 0.1
SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def _two_sensors(**fl: Any) -> dict[str, Any]:
    """Two cortex-m4 LoRa sensors, SF7 and SF12, MTU 68, 10 % duty cycle (the tester's)."""
    lora = {"kind": "lora", "latency": "1s", "mtu": 68, "duty_cycle": "10%"}
    return {
        "name": "lora-window",
        "seed": 3,
        "task": {"kind": "digits", "partition": "iid", "model": "softmax", "test_fraction": 0.2},
        "fl": {
            "strategy": "fedavg",
            "rounds": 2,
            "clients_per_round": 2,
            "min_available": 2,
            "deadline": "80min",
            "codec": "int8",
            "poll_wait": "2h",
            "local": {"epochs": 1},
            "server_keepalive": "3h",
            **fl,
        },
        "links": {
            "sf7": {**lora, "bandwidth": "5.47kbps", "radio": {"sf": 7}},
            "sf12": {**lora, "bandwidth": "250bps", "radio": {"sf": 12}},
        },
        "nodes": [
            {"name": "server", "kind": "server"},
            {
                "name": "a",
                "kind": "device",
                "device": "cortex-m4",
                "uplink": {"to": "server", "link": "sf7"},
            },
            {
                "name": "b",
                "kind": "device",
                "device": "cortex-m4",
                "uplink": {"to": "server", "link": "sf12"},
            },
        ],
    }


@pytest.fixture(scope="module")
def time_limited() -> RunResult:
    return simulate(parse_scenario(_two_sensors(time_limit="10000s")))  # audited


def _link(result: RunResult, name: str, direction: str) -> dict[str, Any]:
    return next(r for r in result.links if r["link"] == name and r["direction"] == direction)


def test_a_time_limited_lora_run_keeps_its_duty_cycle(time_limited: RunResult) -> None:
    """Before: busy_fraction 0.1361 (the shutdown's hour counted). Now at most the duty
    cycle plus the one burst on air before the end, whose silence lies past it."""
    s = time_limited.summary
    assert s["end_reason"] == "time_limit"
    assert s["sim_time_s"] == 10_000.0
    use = next(u for u in time_limited.transmitters if u.name == "b-server/up")
    assert use.held_past_end_s > 0.0  # the sensor's last burst: its silence runs past the end
    share = float(_link(time_limited, "b-server", "up")["busy_fraction"])
    assert share == pytest.approx(use.busy_s / 10_000.0)
    assert share <= DUTY + DUTY * use.held_past_end_s / 10_000.0 + 1e-9
    assert share < 0.11


def test_nothing_is_counted_after_the_end(time_limited: RunResult) -> None:
    ev = time_limited.evidence
    assert ev is not None
    assert ev.counted_at_end
    assert ev.counted_at_end == ev.counted_at_close
    assert ev.bytes_after_rounds == {"up": 0, "down": 0, "wire_up": 0, "wire_down": 0}
    s = time_limited.summary
    for key in ("bytes_after_rounds_up", "bytes_after_rounds_down"):
        assert s[key] == 0


def test_a_count_that_moved_after_the_end_is_caught(time_limited: RunResult) -> None:
    ev = time_limited.evidence
    assert ev is not None
    key = "link b-server b->server wire_bytes"
    assert key in ev.counted_at_close
    moved = {**ev.counted_at_close, key: ev.counted_at_close[key] + 70}
    bad = dataclasses.replace(time_limited)
    bad.evidence = dataclasses.replace(ev, counted_at_close=moved)
    found = [v.detail for v in audit(bad) if v.invariant == "nothing-after-end"]
    assert len(found) == 1
    assert found[0].startswith(f"{key}: ")
    assert "counted after the run ended" in found[0]


@pytest.mark.parametrize("change", ["nan", "missing", "added", "reordered"])
def test_counts_compared_key_by_key_whatever_their_shape(
    time_limited: RunResult, change: str
) -> None:
    """Whatever shortcut compares the two snapshots (they are large: ~30,000 counts at
    1,000 devices), it finds what the key-by-key comparison finds: a NaN count (unequal to
    itself, even as the same object in both, which dict equality would miss), a count
    present only once, and nothing for the same counts in another order."""
    ev = time_limited.evidence
    assert ev is not None
    key = "link b-server b->server wire_bytes"
    at_end, at_close = dict(ev.counted_at_end), dict(ev.counted_at_close)
    if change == "nan":
        at_end[key] = at_close[key] = float("nan")
    elif change == "missing":
        del at_close[key]
    elif change == "added":
        at_close["energy b extra_j"] = 1.0
    else:
        at_close = dict(reversed(list(at_close.items())))
    bad = dataclasses.replace(time_limited)
    bad.evidence = dataclasses.replace(ev, counted_at_end=at_end, counted_at_close=at_close)
    found = [v.detail for v in audit(bad) if v.invariant == "nothing-after-end"]
    expected = {"nan": key, "missing": key, "added": "energy b extra_j", "reordered": None}
    if expected[change] is None:
        assert found == []
    else:
        assert len(found) == 1
        assert found[0].startswith(f"{expected[change]}: ")


def test_holds_that_do_not_fit_in_the_run_are_caught(time_limited: RunResult) -> None:
    """A transmitter whose holds within the run exceed it (overlapping holds, or busy time
    counted and never booked) breaks `held-within-run`."""
    assert "held-within-run" not in {v.invariant for v in audit(time_limited)}
    uses = [
        dataclasses.replace(u, held_s=u.held_s + 600.0, busy_s=u.busy_s + 60.0)
        if u.name == "b-server/up"
        else u
        for u in time_limited.transmitters
    ]
    bad = dataclasses.replace(time_limited)
    bad.transmitters = uses
    found = [v.detail for v in audit(bad) if v.invariant == "held-within-run"]
    assert len(found) == 1
    assert found[0].startswith("transmitter b-server/up: its bookings hold")


@pytest.mark.parametrize("transport", ["http", "coap", "mqtt"])
def test_every_transport_counts_nothing_after_the_end(transport: str) -> None:
    """Runs that end with uploads and answers in flight (three rounds, a 20 s interval)."""
    result = simulate(parse_scenario(tiny_topology(fl__rounds=2, fl__transport=transport)))
    ev = result.evidence
    assert ev is not None
    assert ev.counted_at_end == ev.counted_at_close
    assert sum(ev.bytes_after_rounds.values()) == 0


def _network(fidelity: str = "flow") -> tuple[simpy.Environment, Network]:
    sc = parse_scenario(tiny_topology(fidelity=fidelity))
    env = simpy.Environment()
    return env, Network(env, sc, Streams(sc.seed))


def test_after_the_end_a_device_cannot_send() -> None:
    _env, net = _network()
    dev = net.scenario.device_nodes[0].name
    path = net.datagram_path(dev, lambda _d, _n: None)
    net.end_run()
    with pytest.raises(OSError, match="the run ended") as connect:
        net.open_route(dev, net.scenario.server.name)
    assert connect.value.errno == errno.ENETDOWN
    with pytest.raises(OSError, match="the run ended") as send:
        path.send(0, 100)
    assert send.value.errno == errno.ENETDOWN
    late = net.datagram_path(dev, lambda _d, _n: None)  # made after the end: closed too
    with pytest.raises(OSError, match="the run ended"):
        late.send(0, 100)


def test_a_training_under_way_at_the_end_is_charged_up_to_it() -> None:
    """Charged at its start (a battery pays for it then), refunded past the run's end."""
    env, net = _network()
    batteries = Batteries(net)
    dev = net.scenario.device_nodes[0].name
    env.run(until=10.0)
    batteries.compute(dev, 1e9, seconds=4.0)  # 10 s to 14 s
    whole = batteries.ledgers[dev].spent["compute"]
    assert whole > 0
    batteries.finish(11.0)
    assert batteries.ledgers[dev].spent["compute"] == pytest.approx(whole / 4.0)
    batteries.compute(dev, 1e9, seconds=1.0)  # after the end: nothing is charged
    assert batteries.ledgers[dev].spent["compute"] == pytest.approx(whole / 4.0)


def test_answers_in_flight_at_the_end_never_arrive() -> None:
    """The last round closes when its last update is accepted: the answers still on their
    way then are cut with the window, and each device counts at most one
    acknowledgement fewer than the server accepted, never more."""
    result = simulate(parse_scenario(tiny_topology(fl__rounds=2)))
    ev = result.evidence
    assert ev is not None
    assert ev.acknowledged is not None
    lost = ~np.isfinite(ev.messages.delivered)
    assert (ev.messages.sent[lost] <= ev.end_s).all()
    for dev in ev.devices:
        accepted = sum(1 for a in ev.accepted if a.client == dev)
        assert accepted - 1 <= ev.acknowledged[dev] <= accepted


def test_a_coap_run_cut_by_its_time_limit_leaves_no_unread_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An outside finding: the exchanges the run's end broke failed futures nobody read
    (their clients had stopped), and asyncio printed `Future exception was never
    retrieved` on stderr, under --quiet too (five LoRa sensors behind a gateway, CoAP,
    cut at 300 s)."""
    lora = {"kind": "lora", "latency": "1s", "mtu": 242, "duty_cycle": "10%"}
    topo = {
        "name": "lora-coap", "seed": 3,
        "task": {"kind": "digits", "partition": "dirichlet", "alpha": 1.0, "model": "softmax"},
        "fl": {"rounds": 6, "clients_per_round": 4, "min_available": 4, "deadline": "40min",
               "quorum": "50%", "codec": "int8", "poll_wait": "2h", "time_limit": "300s",
               "transport": "coap", "local": {"epochs": 2}},
        "links": {
            "sf7": {**lora, "bandwidth": "5.47kbps", "loss": "2%", "radio": {"sf": 7}},
            "sf9": {**lora, "bandwidth": "1.76kbps", "loss": "5%", "radio": {"sf": 9}},
            "cell": {"kind": "lte", "bandwidth_up": "5Mbps", "bandwidth_down": "20Mbps",
                     "latency": "60ms"},
        },
        "nodes": [
            {"name": "server", "kind": "server"},
            {"name": "gw", "kind": "gateway", "uplink": {"to": "server", "link": "cell"}},
            {"name": "near", "kind": "device", "count": 3, "device": "cortex-m4",
             "uplink": {"to": "gw", "link": "sf7"}},
            {"name": "mid", "kind": "device", "count": 2, "device": "cortex-m4",
             "uplink": {"to": "gw", "link": "sf9"}},
        ],
    }  # fmt: skip
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        simulate(parse_scenario(topo))
        gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


def test_an_async_run_closes_its_window_before_anyone_acts_at_its_end() -> None:
    """The fuzzer's case (tests/scenarios/async_end_promotion.yaml, as generated): the
    async engine aggregated its last update inside a server handler, and before the run's
    own task resumed, a device handed a task at that same instant woke its LTE radio (a
    promotion, placed before the frame) for a transfer the end then took back: the
    promotion stayed charged, and the rounds no longer added up to the run
    (`round-energy-spent`). The window now closes inside the engine's end."""
    run = simulate(load_scenario(SCENARIOS / "async_end_promotion.yaml"))  # audited
    after = [r for r in run.ledger if r.scope == "round" and r.key == "after"]
    assert after
    assert all(abs(r.energy_j or 0.0) < 1e-9 for r in after)
