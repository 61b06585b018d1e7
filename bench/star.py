"""The benchmarks' job shape: every device on its own fast Ethernet link behind one
gateway with a faster backhaul, every device in every round, so neither the network
nor failures are what a benchmark measures."""

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


def every_device_fedavg(devices: int, rounds: int, *, batch_size: int, lr: float) -> dict[str, Any]:
    """`fl`: FedAvg with every device in every round, one local epoch, nothing waiting
    on a deadline (the benchmarks time the federation, not its failures)."""
    return {
        "strategy": "fedavg",
        "rounds": rounds,
        "clients_per_round": devices,
        "min_available": devices,
        "quorum": 1.0,
        "deadline": "10min",
        "poll_wait": "10min",
        "local": {"epochs": 1, "batch_size": batch_size, "lr": lr},
    }
