"""`fedsim show` per transport (outside audit redteam6, finding 10: a CoAP and an MQTT
topology were shown HTTP heads and TCP times). MQTT: PUBLISH heads over TCP; CoAP:
the envelopes in blocks, stop-and-wait over UDP, which a run's timeline confirms."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from fedsim.run import run_scenario
from fedsim.scenario import Scenario, load_scenario
from fedsim.show import describe, group_costs, model_sizes, upload_warnings

COAP = Path(__file__).resolve().parent / "redteam6" / "lora_coap.yaml"
"""Three sensors on LoRa SF7 at 10 % (full duplex: the gateway's downlink is free),
fl.transport coap, 242-byte MTU: 128-byte blocks."""


def _text(sc: Scenario) -> str:
    console = Console(width=400, record=True, file=io.StringIO())
    console.print(describe(sc))
    return console.export_text()


def test_coap_sizes_are_the_envelopes_cut_into_blocks() -> None:
    sc = load_scenario(COAP)
    sizes = model_sizes(sc)
    assert (sizes.upload, sizes.download) == (sizes.upload_body, sizes.download_body)
    (g,) = group_costs(sc, sizes)
    assert g.up.blocks == -(-sizes.upload_body // 128)
    assert g.down.blocks == -(-sizes.download_body // 128)
    assert g.up.ack_gap_s == 0.0  # no TCP: no retransmission-timer warning
    text = _text(sc)
    assert "HTTP" not in text
    assert "CoAP over UDP: blockwise" in text
    assert f"{sizes.download_body} B download ({g.down.blocks} CoAP blocks) ≈" in text


def test_coap_estimates_match_what_a_run_takes(tmp_path: Path) -> None:
    sc = load_scenario(COAP)
    (g,) = group_costs(sc)
    folder = run_scenario(COAP, out_root=tmp_path, progress=False, plots=False)
    with (folder / "timeline.csv").open() as f:
        took = {"downloading": [], "uploading": []}  # type: dict[str, list[float]]
        for row in csv.DictReader(f):
            if row["state"] in took:
                took[row["state"]].append(float(row["end_s"]) - float(row["start_s"]))
    assert took["downloading"]
    assert took["uploading"]
    # An idle lossless path's estimate: the run's transfers are that or a little more
    # (1 % loss, three sensors); the TCP model said 5.9 s for this download.
    assert 0.9 * g.down.time_s <= min(took["downloading"]) <= 1.25 * g.down.time_s
    assert 0.9 * g.up.time_s <= min(took["uploading"]) <= 1.25 * g.up.time_s


def test_mqtt_sizes_add_publish_heads_not_http_heads() -> None:
    sc = load_scenario(COAP, ["fl.transport=mqtt"])
    sizes = model_sizes(sc)
    longest = max((d.name for d in sc.device_nodes), key=len)
    up_topic, down_topic = f"fl/u/{longest}/{sc.fl.rounds}", f"fl/t/{longest}"
    # fixed header byte, a 2-byte Remaining Length (128..16383), topic length, topic, packet id
    assert sizes.upload == sizes.upload_body + 1 + 2 + 2 + len(up_topic) + 2
    assert sizes.download == sizes.download_body + 1 + 2 + 2 + len(down_topic) + 2
    text = _text(sc)
    assert "HTTP" not in text
    assert "MQTT PUBLISH head" in text
    assert "MQTT over TCP (QoS 1): lossless TCP estimates" in text


def test_http_is_shown_as_before() -> None:
    sc = load_scenario(COAP, ["fl.transport=http"])
    text = _text(sc)
    assert "+ HTTP head)" in text
    assert "HTTP over TCP: lossless TCP estimates" in text
    assert all("CoAP" not in w for w in upload_warnings(sc))


THREE_BLOCKS = Path(__file__).resolve().parent / "redteam8" / "coap_three_blocks.yaml"


def test_a_coap_download_is_one_way_then_a_round_trip_per_further_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The estimate is the time from the round's start (the notification leaves) to the
    last block's arrival, as a run takes it; 3 round trips were 18 % too long."""
    import fedsim.run

    starts: list[float] = []
    build = fedsim.run.build_engine

    def watched(*args: Any, **kwargs: Any) -> Any:
        engine = build(*args, **kwargs)
        engine.observers.append(lambda rec: starts.append(rec.start_s))
        return engine

    monkeypatch.setattr(fedsim.run, "build_engine", watched)
    sc = load_scenario(THREE_BLOCKS)
    (g,) = group_costs(sc)
    assert g.down.blocks == 3
    folder = run_scenario(THREE_BLOCKS, out_root=tmp_path, progress=False, plots=False)
    with (folder / "timeline.csv").open() as f:
        ends = [float(r["end_s"]) for r in csv.DictReader(f) if r["state"] == "downloading"]
    took = [min(e for e in ends if e > s) - s for s in starts]
    assert len(took) == sc.fl.rounds
    for t in took:
        assert abs(t - g.down.time_s) <= 0.03 * g.down.time_s, (t, g.down.time_s)
    assert g.up.time_s > g.down.time_s  # an upload's 3 blocks are 3 round trips


LONG_RTT = """
name: longrtt
seed: 1
task: {kind: digits, partition: iid, model: mlp, hidden: [32]}
fl: {rounds: 3, clients_per_round: 2, deadline: 1800s, request_timeout: 3600s,
     transport: coap, local: {epochs: 1, batch_size: 32, lr: 0.05}}
links:
  sat: {kind: satellite, bandwidth: 20kbps, latency: 2.5s, loss: 5%}
nodes:
  - {name: server, kind: server}
  - {name: d, kind: device, count: 2, device: rpi4, uplink: {to: server, link: sat}}
"""


def test_coap_warns_when_a_block_round_trip_outlasts_the_ack_timeout(tmp_path: Path) -> None:
    """Outside audit redteam9, finding 6: on a 2.5 s satellite link CoAP sent 48 of 94
    uplink packets again (wire 2.2x payload) and `fedsim show` said nothing."""
    path = tmp_path / "longrtt.yaml"
    path.write_text(LONG_RTT, encoding="utf-8")
    (line,) = [w for w in upload_warnings(load_scenario(path)) if "ACK timeout" in w]
    assert line.startswith("d × 2 under server: a CoAP block and its answer take ≈ 5.4 s")
    assert "links.sat.latency 2.5 s each way" in line
    assert "every block's first timeout expires" in line
    assert "--set fl.coap.ack_timeout=6s" in line
    assert "⚠ a CoAP block and its answer" in _text(load_scenario(path))
    # between ACK_TIMEOUT and ACK_TIMEOUT x ACK_RANDOM_FACTOR: some blocks
    (some,) = [
        w
        for w in upload_warnings(load_scenario(path, ["fl.coap.ack_timeout=4s"]))
        if "ACK timeout" in w
    ]
    assert "a block whose timeout is drawn below 5.4 s times out" in some
    assert not [
        w
        for w in upload_warnings(load_scenario(path, ["fl.coap.ack_timeout=6s"]))
        if "ACK timeout" in w
    ]
    assert not [
        w for w in upload_warnings(load_scenario(path, ["fl.transport=http"])) if "ACK timeout" in w
    ]


def test_a_short_round_trip_has_no_ack_timeout_warning() -> None:
    assert not [w for w in upload_warnings(load_scenario(COAP)) if "ACK timeout" in w]
