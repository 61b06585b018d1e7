"""The network fidelity a run actually uses, which `fidelity` alone does not say.

Why: `fidelity` (and a link class's) picks how a TCP connection is modelled, flow or
packet (fedsim.net.network.open_channel). CoAP carries every message as datagrams over
`fedsim.net.datagram`, which models each datagram whatever `fidelity` says: two CoAP
runs that differ only in it are the same run, byte for byte. So summary.json records
`datagram` for them, compare does not call them flow and packet, and `fedsim show`
does not advise switching a fidelity that changes nothing.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DATAGRAM", "fidelity_used", "uses_tcp"]

DATAGRAM = "datagram"
"""summary.json `fidelity` of a run whose messages are all datagrams (CoAP)."""


def uses_tcp(scenario: Any) -> bool:
    """Whether the run's messages ride the emulated TCP (HTTP, MQTT), which `fidelity`
    models; CoAP's ride datagrams only."""
    return scenario.fl.transport != "coap"


def fidelity_used(scenario: Any) -> str:
    """summary.json `fidelity`: the scenario's `fidelity` when TCP carries the messages,
    else `datagram`."""
    return str(scenario.fidelity) if uses_tcp(scenario) else DATAGRAM
