"""The benchmarks' network: every device on its own fast Ethernet link behind one
gateway with a faster backhaul, so the network is never what a benchmark measures."""

from __future__ import annotations

from typing import Any


def star_network(devices: int) -> dict[str, Any]:
    """`links` and `nodes` of a topology with `devices` Raspberry-Pi-class devices."""
    return {
        "links": {
            "lan": {"kind": "ethernet", "bandwidth": "1Gbps", "latency": "0.5ms"},
            "core": {"kind": "backhaul", "bandwidth": "10Gbps", "latency": "1ms"},
        },
        "nodes": [
            {"name": "server", "kind": "server"},
            {"name": "gw", "kind": "gateway", "uplink": {"to": "server", "link": "core"}},
            {"name": "d", "kind": "device", "count": devices, "device": "rpi4",
             "uplink": {"to": "gw", "link": "lan"}},
        ],
    }  # fmt: skip
