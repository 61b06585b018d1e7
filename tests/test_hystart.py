"""HyStart (ns-3 3.44's TcpCubic hybrid slow start) in the shared sender.

The mechanism in isolation (ACK train, delay increase, their thresholds), then both
fidelities against ns-3 on an Ethernet-like link with HyStart on and off
(tests/data/ns3_ethernet_hystart.csv, made by ns-3 itself), then the topology key.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import simpy

from fedsim.net.calculator import run_once
from fedsim.net.network import Network
from fedsim.net.tcp import Cubic, TcpParams
from fedsim.rng import Streams
from fedsim.scenario import parse_scenario

CSV = Path(__file__).resolve().parent / "data" / "ns3_ethernet_hystart.csv"


def _rows() -> list[dict[str, str]]:
    with CSV.open() as f:
        return list(csv.DictReader(f))


ROWS = _rows()


def _cubic(**kw) -> Cubic:
    return Cubic(TcpParams(**kw))


def test_ack_train_ends_slow_start_once_it_spans_the_minimum_delay() -> None:
    cc = _cubic()
    cc.new_round(1, 40, now=0.0)
    ss = float("inf")
    # ACKs 0.5 ms apart (a train), minimum RTT 10 ms: nothing until the train spans it
    for k in range(20):
        ss = cc.pkts_acked(20.0, ss, 0.010, k * 0.0005)
        assert ss == float("inf")
    ss = cc.pkts_acked(20.0, ss, 0.010, 0.0105)
    assert ss == 20.0
    assert cc.hs is not None
    assert cc.hs.found


def test_sparse_acks_are_no_train() -> None:
    cc = _cubic()
    cc.new_round(1, 40, now=0.0)
    ss = float("inf")
    for k in range(1, 40):  # 3 ms apart: more than hystart_ack_delta (2 ms)
        ss = cc.pkts_acked(20.0, ss, 0.010, k * 0.003)
    assert ss == float("inf")


def test_delay_increase_needs_min_samples_and_the_clamped_threshold() -> None:
    cc = _cubic()
    cc.new_round(1, 40, now=0.0)
    ss = cc.pkts_acked(20.0, float("inf"), 0.010, 0.0)  # minimum delay 10 ms
    cc.new_round(41, 80, now=0.5)  # a new round: its own samples
    t = 1.0
    for _ in range(8):  # the round's first 8 samples: 20.5 ms > 10 + 10 ms
        t += 0.01
        ss = cc.pkts_acked(20.0, ss, 0.0205, t)
    assert ss == float("inf"), "decided only after hystart_min_samples samples"
    ss = cc.pkts_acked(22.0, ss, 0.0205, t + 0.01)
    assert ss == 22.0
    # 19.5 ms is below the threshold (10 ms + 10 ms): slow start goes on
    cc = _cubic()
    cc.new_round(1, 40, now=0.0)
    ss = cc.pkts_acked(20.0, float("inf"), 0.010, 0.0)
    cc.new_round(41, 80, now=0.5)
    for k in range(20):
        ss = cc.pkts_acked(20.0, ss, 0.0195, 1.0 + 0.01 * k)
    assert ss == float("inf")


def test_small_minimum_delay_is_clamped_to_4_ms() -> None:
    cc = _cubic()
    cc.new_round(1, 40, now=0.0)
    ss = cc.pkts_acked(20.0, float("inf"), 0.001, 0.0)  # 1 ms: threshold 1 + 4 ms
    cc.new_round(41, 80, now=0.5)
    for k in range(12):
        ss = cc.pkts_acked(20.0, ss, 0.0045, 1.0 + 0.01 * k)
    assert ss == float("inf")
    cc.new_round(81, 120, now=1.5)
    for k in range(9):
        ss = cc.pkts_acked(20.0, ss, 0.0055, 2.0 + 0.01 * k)
    assert ss == 20.0


def test_below_the_low_window_and_when_off_nothing_happens() -> None:
    cc = _cubic()
    cc.new_round(1, 40, now=0.0)
    ss = float("inf")
    for k in range(40):
        ss = cc.pkts_acked(15.0, ss, 0.010, k * 0.0005)  # cwnd < hystart_low_window
    assert ss == float("inf")
    off = _cubic(hystart=False)
    ss = float("inf")
    for k in range(40):
        ss = off.pkts_acked(20.0, ss, 0.010, k * 0.0005)
    assert ss == float("inf")
    assert off.hs is None


def test_a_timeout_clears_found() -> None:
    cc = _cubic()
    cc.new_round(1, 40, now=0.0)
    for k in range(30):
        cc.pkts_acked(20.0, float("inf"), 0.010, k * 0.0005)
    assert cc.hs is not None
    assert cc.hs.found
    cc.loss_state(1.0, 50)
    assert not cc.hs.found
    assert cc.hs.end == 50


@pytest.mark.parametrize("fidelity", ["packet", "flow"])
@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['msg_bytes']}-hystart{r['hystart']}")
def test_ethernet_like_on_and_off_against_ns3(row: dict[str, str], fidelity: str) -> None:
    """Within the loss-free rule (10 %) of ns-3 with HyStart as ns-3 had it."""
    params = TcpParams(hystart=row["hystart"] == "1")
    t = run_once(float(row["bandwidth_bps"]), float(row["delay_s"]), int(row["msg_bytes"]),
                 rng=np.random.default_rng(0), fidelity=fidelity, params=params)[0]  # fmt: skip
    assert t == pytest.approx(float(row["mean_s"]), rel=0.10)


def test_the_ethernet_table_shows_hystart_matters() -> None:
    """The rows are what they claim: HyStart costs ns-3 time on this link."""
    by = {(r["msg_bytes"], r["hystart"]): float(r["mean_s"]) for r in ROWS}
    assert len(by) == 4
    assert by[("1000000", "1")] > 1.5 * by[("1000000", "0")]
    assert by[("100000", "1")] > 1.1 * by[("100000", "0")]


def _network(tcp: dict | None) -> Network:
    doc = {
        "task": {"kind": "digits"},
        "links": {"eth": {"bandwidth": "1Gbps", "latency": "0.5ms"}},
        "nodes": [
            {"name": "server", "kind": "server"},
            {"name": "d", "kind": "device", "device": "rpi4", "count": 2,
             "uplink": {"to": "server", "link": "eth"}},
        ],
    }  # fmt: skip
    if tcp is not None:
        doc["tcp"] = tcp
    sc = parse_scenario(doc)
    return Network(simpy.Environment(), sc, Streams(sc.seed))


def test_the_topology_key_reaches_every_channel() -> None:
    assert _network(None).tcp.hystart is True
    off = _network({"hystart": False})
    assert off.tcp.hystart is False
    channel, _ = off.open_channel(off.scenario.device_nodes[0].name, "server")
    assert channel.params.hystart is False
