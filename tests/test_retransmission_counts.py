"""Retransmissions are counted when they happen, on every hop a copy crosses, and taken
back with their packets and bytes when what was booked ahead is cancelled (a cut, the
run's end, a connect the application gives up on). An outside audit found flow fidelity
counting SYNs resent past the run's end (3 on a 0.11 s satellite run, where the SYN
timer is 3 s; packet fidelity: 0) and links.csv rows with `retx_bytes` but no
`retransmissions` (the count was on the sender's first hop only, the bytes on every
hop). The topologies below are the audit's, copied."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import simpy

from fedsim.audit import audit
from fedsim.net.flow import FlowChannel
from fedsim.net.link import Hop, Link, LinkCounters, NoLoss, Transmitter, take_back
from fedsim.net.loss import Bernoulli
from fedsim.net.packet import PacketChannel
from fedsim.run import RunResult, simulate
from fedsim.scenario import parse_scenario

CHANNELS = {"flow": FlowChannel, "packet": PacketChannel}
COUNTS = ("wire_bytes", "packets", "retransmissions", "control_bytes", "retx_bytes")


def _far(name: str, **fl: Any) -> dict[str, Any]:
    """The audit's satellite topology (far2/far3/farm): two phones 16 s away."""
    return {
        "name": name,
        "seed": 5,
        "task": {"kind": "digits", "partition": "iid", "model": "softmax"},
        "fl": {
            "clients_per_round": 2,
            "min_available": 2,
            "local": {"epochs": 1, "batch_size": 16, "lr": 0.05},
            **fl,
        },
        "links": {
            "eth": {"kind": "ethernet", "bandwidth": "1Mbps", "latency": "10ms"},
            "sat": {"kind": "satellite", "bandwidth": "100kbps", "latency": "16s"},
        },
        "nodes": [
            {"name": "server", "kind": "server"},
            {"name": "d", "kind": "device", "count": 2, "device": "rpi4",
             "uplink": {"to": "server", "link": "eth"}},
            {"name": "far", "kind": "device", "count": 2, "device": "phone",
             "uplink": {"to": "server", "link": "sat"}},
        ],
    }  # fmt: skip


FAR3 = _far("far3", rounds=1, deadline="60s")  # ends at 0.11 s: the near devices answer
FAR2 = _far("far2", rounds=3, deadline="60s", round_interval="20s")  # ends at ~40 s
FARM = _far("farm", rounds=3, deadline="200s", transport="mqtt")


def _far_rows(topo: dict[str, Any], fidelity: str) -> tuple[float, dict[tuple[str, str], Any]]:
    result = simulate(parse_scenario({**topo, "fidelity": fidelity}))  # audited
    rows = {
        (str(r["link"]), str(r["direction"])): {k: int(r[k]) for k in COUNTS}
        for r in result.links
        if str(r["link"]).startswith("far")
    }
    return float(result.summary["sim_time_s"]), rows


@pytest.mark.parametrize("topo", [FAR3, FARM], ids=["http", "mqtt"])
def test_no_syn_is_resent_in_a_run_shorter_than_the_syn_timer(topo: dict[str, Any]) -> None:
    for fidelity in ("flow", "packet"):
        end, rows = _far_rows(topo, fidelity)
        assert end < 3.0
        for (link, direction), row in rows.items():
            assert row["retransmissions"] == 0, (fidelity, link, direction)
            if direction == "up":
                assert row["packets"] == 1  # the first SYN, still on its way


def test_far2_counts_the_syns_its_timers_sent_in_both_fidelities() -> None:
    """By hand: a connect at 0 sends SYNs at 0, 3, 9 and 21 s (the timer doubles from
    3 s), its first SYN-ACK due at ~32 s; the client gives up at 30 s (its connect
    timeout), reconnects at ~32.6 s and sends again at ~35.6 s; the next, ~41.6 s, lies
    past the run's end (~40.1 s). 4 retransmissions per far device, 6 SYNs up, 4
    SYN-ACKs down (those of SYNs sent by 30 s - 16 s, and of the one at 32.6 s)."""
    runs = {f: _far_rows(FAR2, f) for f in ("flow", "packet")}
    (end, flow), (_, packet) = runs["flow"], runs["packet"]
    assert 40.0 < end < 41.6
    assert flow == packet
    for dev in ("far-1", "far-2"):
        up, down = flow[(f"{dev}-server", "up")], flow[(f"{dev}-server", "down")]
        assert up["retransmissions"] == 4
        assert up["packets"] == 6
        assert up["control_bytes"] == 6 * 58
        assert down["packets"] == 4
        assert down["retransmissions"] == 0  # SYN-ACKs are none


def _satellite() -> Link:
    return Link(
        "sat", "a", "b", (Transmitter("sat>", 1e5), Transmitter("sat<", 1e5)), 16.0,
    )  # fmt: skip


@pytest.mark.parametrize(("cut_at", "resent"), [(0.11, 0), (3.5, 1), (10.0, 2), (25.0, 3)])
def test_a_cut_takes_back_the_syns_due_after_it(cut_at: float, resent: int) -> None:
    """A 32 s round trip: SYNs again at 3, 9 and 21 s. Flow books them when the first
    SYN is sent; a cut (the run's end breaks every channel so) takes back those due
    after it, as packet fidelity never sends them."""
    got = {}
    for name, kind in CHANNELS.items():
        env = simpy.Environment()
        link = _satellite()
        ch = kind(env, (Hop(link, 0),), np.random.default_rng(0))
        ch.connect().defused = True
        env.run(until=cut_at)
        ch.break_("run_end")
        got[name] = [dataclasses.astuple(c)[:5] for c in link.counters]
        assert link.counters[0].retransmissions == resent
        assert link.counters[0].packets == 1 + resent
    assert got["flow"] == got["packet"]


def test_a_connect_given_up_takes_back_what_flow_booked_after_it() -> None:
    """The application closes the connect at 22 s: the SYNs at 3, 9 and 21 s went out
    (and their SYN-ACKs will), no further SYN and no final ACK do."""
    got = {}
    for name, kind in CHANNELS.items():
        env = simpy.Environment()
        link = _satellite()
        ch = kind(env, (Hop(link, 0),), np.random.default_rng(0))
        ch.connect().defused = True
        env.run(until=22.0)
        ch.close()
        env.run(until=100.0)
        got[name] = [dataclasses.astuple(c)[:5] for c in link.counters]
        assert link.counters[0].retransmissions == 3
        assert link.counters[0].packets == 4  # no final ACK
    assert got["flow"] == got["packet"]


def _consistent(c: LinkCounters) -> bool:
    return (
        0 <= c.retransmissions <= c.packets
        and (c.retx_bytes == 0 or c.retransmissions > 0)
        and min(c.packets, c.wire_bytes, c.retx_bytes) >= 0
    )


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_every_hop_counts_the_copies_it_carries(fidelity: str) -> None:
    """Data segments lost on the access hop are sent again across both hops: each hop
    counts the copies it carried with their bytes, also when a cut lands mid-transfer
    (flow takes back a share of a flight's copies with its frames)."""
    seen = 0
    for seed in range(6):
        for cut_at in (0.05, 0.12, 0.3, None):
            env = simpy.Environment()
            access = Link("acc", "d", "g", (Transmitter("acc>", 2e6), Transmitter("acc<", 2e6)),
                          0.01, loss=(Bernoulli(0.1), NoLoss()))  # fmt: skip
            backhaul = Link("bh", "g", "s", (Transmitter("bh>", 5e6), Transmitter("bh<", 5e6)),
                            0.005)  # fmt: skip
            ch = CHANNELS[fidelity](
                env, (Hop(access, 0), Hop(backhaul, 0)), np.random.default_rng(seed)
            )

            def client(ch: Any = ch) -> Any:
                yield ch.connect()
                yield ch.send(0, 60_000)

            env.process(client()).defused = True
            env.run(until=cut_at if cut_at is not None else 30.0)
            if cut_at is not None:
                ch.break_("run_end")
            for link in (access, backhaul):
                for c in link.counters:
                    assert _consistent(c), (seed, cut_at, link.name, c)
            if cut_at is None:  # lossless past the access hop: the same copies cross both
                seen += access.counters[0].retransmissions
                assert backhaul.counters[0].retransmissions <= access.counters[0].retransmissions
                assert (backhaul.counters[0].retransmissions > 0) == (
                    backhaul.counters[0].retx_bytes > 0
                )
    assert seen > 0  # the test saw retransmissions


@pytest.mark.parametrize(("frames", "resent"), [(10, 3), (10, 10), (3, 1), (1, 1)])
def test_a_cut_through_a_flight_leaves_its_copies_with_their_bytes(
    frames: int, resent: int
) -> None:
    """A flight of `frames` segments, `resent` of them copies, cut anywhere: what stays
    has no more copies than packets, and copies exactly when it has retx bytes."""
    first = frames - resent
    for k in range(0, 41):
        c = LinkCounters()
        wire, retx = frames * 1500, resent * 1500
        c.wire_bytes, c.packets, c.retransmissions = wire, frames, resent
        c.data_bytes, c.header_bytes, c.retx_bytes = first * 1446, first * 54, retx
        booking = (c, 0.0, 1.0, wire, frames, first * 1446, first * 54, 0, retx, 0, resent)
        take_back([booking], k / 40)
        assert 0 <= c.retransmissions <= c.packets, (k, c)
        assert (c.retransmissions > 0) == (c.retx_bytes > 0), (k, c)


# -- the auditor -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def far2() -> RunResult:
    return simulate(parse_scenario({**FAR2, "fidelity": "flow"}))


def _changed(row: Any, **cells: Any) -> Any:
    """`row` with some cells changed, whatever its type (a dict, a row dataclass)."""
    if dataclasses.is_dataclass(row):
        return dataclasses.replace(row, **cells)  # type: ignore[type-var]
    return {**row, **cells}


def _doctored(result: RunResult, link: str, direction: str, **cells: int) -> RunResult:
    rows = [
        _changed(r, **cells) if (str(r["link"]), str(r["direction"])) == (link, direction) else r
        for r in result.links
    ]
    return dataclasses.replace(result, links=rows)


def _found(result: RunResult) -> list[str]:
    return [v.detail for v in audit(result) if v.invariant == "retransmissions-consistent"]


def test_the_audit_passes_far2_and_catches_inconsistent_rows(far2: RunResult) -> None:
    assert _found(far2) == []
    more = _found(_doctored(far2, "far-1-server", "up", retransmissions=7))
    assert more == ["links.csv far-1-server up: retransmissions 7 > packets 6"]
    unmatched = _found(_doctored(far2, "d-1-server", "up", retx_bytes=1500))
    assert unmatched == ["links.csv d-1-server up: retx_bytes 1500 but retransmissions 0 on "
                         "the same row"]  # fmt: skip
    short = dataclasses.replace(far2, summary=_changed(far2.summary, sim_time_s=0.11))
    assert _found(short) == [
        f"links.csv far-{i}-server up: 4 SYN retransmissions in a 0.11 s run (the SYN timer "
        "first expires at 3 s)"
        for i in (1, 2)
    ]
