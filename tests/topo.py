"""A small valid topology for tests, as a plain dict."""

from __future__ import annotations

from typing import Any


def tiny_topology(**changes: Any) -> dict[str, Any]:
    """A small valid topology as a dict: 4 devices behind a gateway. `changes` are
    `--set`-style `key.path=value` pairs given as keyword arguments with `__` for dots."""
    from fedsim.scenario import apply_overrides

    base: dict[str, Any] = {
        "name": "tiny",
        "seed": 3,
        "task": {"kind": "digits", "partition": "iid"},
        "fl": {
            "strategy": "fedavg",
            "rounds": 3,
            "clients_per_round": 4,
            "min_available": 4,
            "deadline": "60s",
            "local": {"epochs": 1, "batch_size": 16, "lr": 0.05},
        },
        "links": {
            "wifi": {"kind": "wifi", "bandwidth": "10Mbps", "latency": "10ms"},
            "backhaul": {"kind": "backhaul", "bandwidth": "100Mbps", "latency": "5ms"},
        },
        "nodes": [
            {"name": "server", "kind": "server"},
            {"name": "gw", "kind": "gateway", "uplink": {"to": "server", "link": "backhaul"}},
            {"name": "dev", "kind": "device", "count": 4, "device": "rpi4",
             "uplink": {"to": "gw", "link": "wifi"}},
        ],
    }  # fmt: skip
    return apply_overrides(base, [f"{k.replace('__', '.')}={v}" for k, v in changes.items()])
