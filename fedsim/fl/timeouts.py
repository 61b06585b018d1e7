"""How long the FL clients wait for a connection: what decides whether a path whose
round trip is long can ever connect (`fedsim.net.reach`, `fedsim show`, the run's
lost-device check)."""

from __future__ import annotations

__all__ = ["CONNECT_TIMEOUT_S", "connect_timeout"]

CONNECT_TIMEOUT_S = 30.0
"""The HTTP client (fedsim.fl.client) abandons a connect after this long."""


def connect_timeout(transport: str) -> float | None:
    """The connect timeout of `fl.transport`'s client; None: it has none of its own
    (CoAP is UDP; MQTT's connect has the whole exchange's patience)."""
    return CONNECT_TIMEOUT_S if transport == "http" else None
