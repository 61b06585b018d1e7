"""`fedsim show`'s cost column: real model sizes under the codec, duty cycles, and
the deadline warnings that `fedsim run` repeats on stderr."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from rich.console import Console

from fedsim.cli import main
from fedsim.fl.codec import encode
from fedsim.rng import Streams
from fedsim.run import run_scenario
from fedsim.scenario import Scenario, load_scenario, parse_scenario
from fedsim.show import describe, group_costs, model_sizes, upload_warnings
from fedsim.tasks.registry import build_task

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "topologies/default.yaml"


def _text(sc: Scenario, model_bytes: int | None = None) -> str:
    console = Console(width=400, record=True, file=io.StringIO())
    console.print(describe(sc, model_bytes))
    return console.export_text()


def _lora(tmp_path: Path, duty: str = "1%", deadline: str = "20min") -> Path:
    """Two SF9 LoRa sensors (1.76 kbit/s) behind a gateway on LTE."""
    topo: dict[str, Any] = {
        "name": "slow_lora",
        "seed": 1,
        "task": {"kind": "digits", "partition": "iid"},
        "fl": {"strategy": "fedavg", "rounds": 1, "clients_per_round": 2, "min_available": 2,
               "deadline": deadline, "poll_wait": "2h", "time_limit": "1d",
               "local": {"epochs": 1, "batch_size": 16, "lr": 0.05}},
        "links": {
            "sf9": {"kind": "lora", "bandwidth": "1.76kbps", "latency": "1s", "mtu": 242,
                    "duty_cycle": duty},
            "cellular": {"kind": "lte", "bandwidth": "5Mbps", "latency": "60ms"},
        },
        "nodes": [
            {"name": "server", "kind": "server"},
            {"name": "gw", "kind": "gateway", "uplink": {"to": "server", "link": "cellular"}},
            {"name": "far", "kind": "device", "count": 2, "device": "cortex-m4",
             "uplink": {"to": "gw", "link": "sf9"}},
        ],
    }  # fmt: skip
    path = tmp_path / f"lora-{duty.replace('%', 'pct')}.yaml"
    path.write_text(yaml.safe_dump(topo))
    return path


def test_upload_size_is_the_encoded_model_under_the_codec() -> None:
    sc = load_scenario(DEFAULT)
    task = build_task(sc.task, len(sc.device_nodes), Streams(sc.seed))
    params = task.initial_params()
    sizes = model_sizes(sc)
    assert sizes.params == params.size
    env = encode(params, {}, codec=sc.fl.codec)
    assert sizes.codec == "float32"
    assert sizes.upload_payload == env.payload_bytes == 4 * params.size
    # The same envelope with the client's meta (ids, round, example count), then HTTP.
    assert len(env.body) < sizes.upload_body < len(env.body) + 200
    assert sizes.upload_body + 150 < sizes.upload < sizes.upload_body + 400
    assert sizes.download_body >= len(env.body)  # the server always sends float32
    text = _text(sc)
    assert f"{sizes.upload} B upload ≈" in text
    assert f"{sizes.download} B download ≈" in text
    assert "2600 B" not in text


@pytest.mark.parametrize("codec", ["float16", "int8", "topk"])
def test_lossy_codecs_shrink_the_upload_not_the_download(codec: str) -> None:
    base = model_sizes(load_scenario(DEFAULT))
    sc = load_scenario(DEFAULT, [f"fl.codec={codec}"])
    sizes = model_sizes(sc)
    task = build_task(sc.task, len(sc.device_nodes), Streams(sc.seed))
    params = task.initial_params()
    env = encode(params, {}, codec=codec, delta=codec != "float16", rng=np.random.default_rng(0))
    assert sizes.upload_payload == env.payload_bytes
    assert sizes.upload < base.upload
    assert sizes.download == base.download
    if codec == "int8":
        assert sizes.upload_payload == params.size  # one byte per parameter


def test_model_bytes_still_overrides_the_upload() -> None:
    text = _text(load_scenario(DEFAULT), 5000)
    assert "5000 B upload ≈" in text
    assert "5000 B (--model-bytes)" in text


def test_a_one_percent_duty_cycle_costs_about_100x(tmp_path: Path) -> None:
    slow = load_scenario(_lora(tmp_path, "1%"))
    free = load_scenario(_lora(tmp_path, "100%"))
    sizes = model_sizes(slow)
    (a,) = group_costs(slow, sizes, upload_bytes=6000)
    (b,) = group_costs(free, sizes, upload_bytes=6000)
    assert a.up.duty_limited
    assert not b.up.duty_limited
    # (a LoRa link runs at its SF's rate, SF9: 1757.8 bit/s, the radio's airtime)
    assert a.up.rate_bps == pytest.approx(17.6, rel=2e-3)
    assert b.up.rate_bps == pytest.approx(1760.0, rel=2e-3)
    assert a.up.time_s > 6000 * 8 / 17.6  # at least the payload at 1 % of 1.76 kbit/s
    assert 60 < a.up.time_s / b.up.time_s < 110
    # The downlink of an unshared LoRa link has no duty cycle in the network model.
    assert not a.down.duty_limited
    assert a.down.time_s == pytest.approx(b.down.time_s)
    assert "bottleneck 17.6 bps (duty-cycle limited: 1.76 kbps × 1 %)" in _text(slow)


def test_the_deadline_warning_names_the_group(tmp_path: Path) -> None:
    sc = load_scenario(_lora(tmp_path, "1%", deadline="20min"))
    warnings = upload_warnings(sc)
    assert any(
        w.startswith("far × 2 under gw: upload ≈")
        and "exceeds the round deadline (1200 s): these devices cannot report" in w
        for w in warnings
    ), warnings
    # Two 244-byte frames at 17.6 bit/s outlast TCP's 60 s maximum RTO.
    assert any("maximum retransmission timeout" in w for w in warnings)
    text = _text(sc)
    assert "⚠ upload ≈" in text
    assert "exceeds the round deadline (1200 s)" in text
    # With a day to spare, only the TCP timer warning remains.
    relaxed = upload_warnings(load_scenario(_lora(tmp_path, "1%", deadline="1d")))
    assert relaxed
    assert not any("deadline" in w for w in relaxed)


def test_no_warning_for_the_default_topology() -> None:
    sc = load_scenario(DEFAULT)
    assert upload_warnings(sc) == []
    assert "⚠" not in _text(sc)


def test_run_prints_the_warnings_on_stderr_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _lora(tmp_path, "1%", deadline="20min")
    out = run_scenario(path, out_root=tmp_path / "runs")
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.startswith("fedsim: warning: ")]
    # (this LoRa run's clients also wind down for long after its end: said on its own line)
    lines = [ln for ln in lines if "after the run's end" not in ln]
    assert len(lines) == len(upload_warnings(load_scenario(path)))
    assert any("exceeds the round deadline" in ln for ln in lines)
    assert "warning" not in captured.out
    for f in out.rglob("*"):
        if f.is_file() and f.suffix in (".csv", ".json", ".yaml", ".txt"):
            assert "exceeds the round deadline" not in f.read_text(), f


@pytest.mark.parametrize("path", sorted((ROOT / "topologies").glob("*.yaml")), ids=lambda p: p.name)
def test_show_every_topology(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(path)]) == 0
    assert "upload ≈" in capsys.readouterr().out


def test_flow_fidelity_on_a_shared_duty_cycled_channel_is_flagged() -> None:
    from fedsim.scenario import load_scenario
    from fedsim.show import fidelity_warnings

    path = "topologies/lora_farm.yaml"
    assert fidelity_warnings(load_scenario(path, [])) == []  # per-sensor radios
    shared = load_scenario(path, ["links.sf7.shared=true"])
    (line,) = fidelity_warnings(shared)
    assert line.startswith("links.sf7:")
    assert "fidelity=packet" in line
    assert fidelity_warnings(load_scenario(path, ["links.sf7.shared=true",
                                                  "links.sf7.fidelity=packet"])) == []  # fmt: skip


def _far(latency: str, transport: str = "http") -> Scenario:
    """Two devices behind a satellite hop of `latency` one way (the outside audit's t9)."""
    topo: dict[str, Any] = {
        "name": "far",
        "seed": 1,
        "task": {"kind": "digits", "partition": "iid", "model": "softmax"},
        "fl": {"rounds": 2, "clients_per_round": 2, "deadline": "1h", "poll_wait": "2h",
               "time_limit": "1h", "transport": transport,
               "local": {"epochs": 1, "batch_size": 16, "lr": 0.05}},
        "links": {"sat": {"kind": "satellite", "bandwidth": "1Mbps", "latency": latency}},
        "nodes": [
            {"name": "server", "kind": "server"},
            {"name": "d", "kind": "device", "count": 2, "device": "rpi4",
             "uplink": {"to": "server", "link": "sat"}},
        ],
    }  # fmt: skip
    return parse_scenario(topo)


def test_a_round_trip_longer_than_the_connect_timeout_is_warned() -> None:
    (line,) = upload_warnings(_far("16s"))
    assert line.startswith("d × 2 under server: a TCP connect takes at least 32 s")
    assert "links.sat.latency 16 s" in line
    assert "30 s connect timeout: these devices can never connect" in line
    assert "⚠ a TCP connect takes at least 32 s" in _text(_far("16s"))
    assert upload_warnings(_far("14s")) == []  # 28 s and two SYN airtimes: it connects
    assert upload_warnings(_far("16s", "mqtt")) == []  # no 30 s connect timeout there
