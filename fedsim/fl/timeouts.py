"""How long the FL clients wait for a connection: what decides whether a path whose
round trip is long can ever connect (`fedsim.net.reach`, `fedsim show`, the run's
lost-device check)."""

from __future__ import annotations

__all__ = [
    "CONNECT_TIMEOUT_S",
    "REQUEST_TIMEOUT_CAUSE",
    "REQUEST_TIMEOUT_S",
    "connect_timeout",
    "is_request_timeout",
]

CONNECT_TIMEOUT_S = 30.0
"""The HTTP client (fedsim.fl.client) abandons a connect after this long."""

REQUEST_TIMEOUT_S = 120.0
"""`fl.request_timeout`'s default: the HTTP and MQTT clients abandon an exchange that
takes longer than this past their long poll (total timeout: this + `fl.poll_wait`)."""

REQUEST_TIMEOUT_CAUSE = "request_timeout"
"""The dropout cause of a selected client whose exchange ran out of that timeout."""


def connect_timeout(transport: str) -> float | None:
    """The connect timeout of `fl.transport`'s client; None: it has none of its own
    (CoAP is UDP; MQTT's connect has the whole exchange's patience)."""
    return CONNECT_TIMEOUT_S if transport == "http" else None


def is_request_timeout(exc: BaseException) -> bool:
    """`exc` is a client's total timeout running out (aiohttp raises a bare TimeoutError;
    MQTT's patience too), not a connect or socket timeout (aiohttp's ClientError kinds)."""
    import aiohttp

    return isinstance(exc, TimeoutError) and not isinstance(exc, aiohttp.ClientError)
