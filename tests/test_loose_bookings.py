"""Frames no pending exchange waits for are still taken back by a cut.

A connection's FIN/ACKs at its close, the SYNs of a connect that failed and a finished
exchange's last ACKs are booked and counted when they are made; on a busy duty-cycled
radio they queue long after that. They were recorded nowhere a cut could find them
(and a closed channel was forgotten once nothing the application waited for was
pending), so a cut, or the run's end, left them booked: LoRa runs counted frames that
would go out after the end (`topologies/lora_farm.yaml` seed 5: its edge radios held the
medium up to 3,000 s past the run's end, 0.1053 of the run at a 10 % duty cycle in flow
fidelity and 0.1339 in packet fidelity).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import simpy

from fedsim.net.flow import FlowChannel
from fedsim.net.link import Hop, Link, Transmitter
from fedsim.net.packet import PacketChannel
from fedsim.run import simulate
from fedsim.scenario import prepare_scenario

ROOT = Path(__file__).resolve().parent.parent
RATE = 5_000.0  # bit/s
MTU = 242
DUTY = 0.1


def _path(env: simpy.Environment) -> tuple[Hop, ...]:
    """A 10 % duty-cycled radio to a gateway, then a backhaul to the server."""
    clock = lambda: env.now  # noqa: E731
    radio = Link("radio", "s", "gw", (
        Transmitter("up", RATE, duty_cycle=DUTY, clock=clock),
        Transmitter("down", RATE, clock=clock),
    ), 0.05, mtu=MTU)  # fmt: skip
    backhaul = Link("backhaul", "gw", "server", (
        Transmitter("bh-up", 1e8, clock=clock), Transmitter("bh-down", 1e8, clock=clock),
    ), 0.001, mtu=1500)  # fmt: skip
    return (Hop(radio, 0), Hop(backhaul, 0))


def _busy_then(kind: type, then: str) -> tuple[simpy.Environment, Link, object]:
    """A channel on a 10 % radio whose queue another channel filled well ahead (flow: its
    transfer; packet: its first window), then `then`: "close" (its FIN/ACKs queue behind)
    or "failed connect" (its SYN queues behind, and dies at a backhaul that is down)."""
    env = simpy.Environment()
    path = _path(env)
    hog = kind(env, path, np.random.default_rng(1))
    mine = kind(env, path, np.random.default_rng(2))

    def story():
        yield hog.connect()
        if then == "close":
            yield mine.connect()
        sent = hog.send(0, 8_000)  # ~13 s of airtime: ~130 s of the medium
        sent.defused = True
        yield env.timeout(1.0)
        if then == "close":
            mine.close()
        else:
            path[1].link.down_causes.add("link_down:backhaul")  # (no channel is told)
            ev = mine.connect()
            ev.defused = True

    env.process(story())
    env.run(until=5.0)
    return env, path[0].link, mine


@pytest.mark.parametrize("kind", [FlowChannel, PacketChannel])
@pytest.mark.parametrize("then", ["close", "failed connect"])
def test_a_cut_takes_back_frames_queued_behind_a_busy_radio(kind: type, then: str) -> None:
    env, link, mine = _busy_then(kind, then)
    tx, counted = link.tx[0], link.counters[0]
    before = counted.wire_bytes, tx.busy_time
    queued = tx.held_after(env.now)
    assert queued > 30.0  # its frames wait behind the other channel's (packet: its window)
    if then == "close":
        assert not mine.finished  # its FIN/ACKs have not gone out: not forgotten yet
    mine.break_("cut")
    assert counted.wire_bytes < before[0]  # its queued frames never went out ...
    assert tx.busy_time < before[1]  # ... nor their airtime
    assert tx.busy_time == pytest.approx(counted.wire_bytes * 8.0 / RATE, rel=1e-12)
    assert tx.held_time == pytest.approx(tx.busy_time / DUTY, rel=1e-9)


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_lora_farm_holds_nothing_past_its_end_but_one_frame(fidelity: str) -> None:
    """The outside finding's run: every radio's share of the run is within its duty
    cycle plus one frame, and what it holds past the end is at most one frame's hold."""
    sc = prepare_scenario(ROOT / "topologies/lora_farm.yaml", ["seed=5", f"fidelity={fidelity}"])
    run = simulate(sc)  # audited: held-within-run
    end = run.summary["sim_time_s"]
    for use in run.transmitters:
        assert use.held_past_end_s <= use.frame_hold_s + 1e-9, use.name
        frame = use.frame_hold_s * use.duty_cycle
        assert use.busy_s <= use.duty_cycle * end + frame + 1e-9, use.name
