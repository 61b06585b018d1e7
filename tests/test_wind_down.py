"""A run whose network runs on long after its end says so (open issue, an outside
tester's finding): the clients' wind-down is counted in bytes, airtime and energy, so a
duty-cycled sensor's share of a time-limited run can exceed its duty cycle."""

from __future__ import annotations

from typing import Any

from fedsim.run import simulate
from fedsim.scenario import parse_scenario


def _lora_pair(time_limit: str) -> dict[str, Any]:
    link = {"kind": "lora", "latency": "1s", "mtu": 68, "duty_cycle": "10%"}
    return {
        "name": "lora2",
        "seed": 3,
        "task": {"kind": "digits", "partition": "iid", "model": "softmax",
                 "test_fraction": 0.2},
        "fl": {"strategy": "fedavg", "rounds": 2, "clients_per_round": 2,
               "min_available": 2, "deadline": "80min", "codec": "int8",
               "poll_wait": "2h", "time_limit": time_limit, "local": {"epochs": 1},
               "server_keepalive": "3h"},
        "links": {"sf7": {**link, "bandwidth": "5.47kbps", "radio": {"sf": 7}},
                  "sf12": {**link, "bandwidth": "250bps", "radio": {"sf": 12}}},
        "nodes": [
            {"name": "server", "kind": "server"},
            {"name": "a", "kind": "device", "count": 1, "device": "cortex-m4",
             "uplink": {"to": "server", "link": "sf7"}},
            {"name": "b", "kind": "device", "count": 1, "device": "cortex-m4",
             "uplink": {"to": "server", "link": "sf12"}},
        ],
    }  # fmt: skip


def test_a_long_wind_down_after_a_time_limit_is_warned_about() -> None:
    said: list[str] = []
    result = simulate(parse_scenario(_lora_pair("10000s")), audit=False, warn=said.append)
    assert result.summary.end_reason == "time_limit"
    lines = [w for w in said if "after the run's end" in w]
    assert len(lines) == 1, said
    assert lines[0].startswith("the network ran on for ")
    assert "t=10000 s" in lines[0]


def test_a_short_wind_down_is_not() -> None:
    from pathlib import Path

    from fedsim.scenario import prepare_scenario

    root = Path(__file__).resolve().parents[1]
    said: list[str] = []
    simulate(prepare_scenario(root / "topologies" / "wifi_home.yaml"), audit=False,
             warn=said.append)  # fmt: skip
    assert not [w for w in said if "after the run's end" in w], said
