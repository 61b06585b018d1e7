"""How long the FL clients wait for a connection: what decides whether a path whose
round trip is long can ever connect (`fedsim.net.reach`, `fedsim show`, the run's
lost-device check)."""

from __future__ import annotations

__all__ = [
    "COAP_GAVE_UP_CAUSE",
    "CONNECT_TIMEOUT_S",
    "REQUEST_TIMEOUT_CAUSE",
    "REQUEST_TIMEOUT_S",
    "connect_timeout",
    "gave_up_cause",
    "is_request_timeout",
]

CONNECT_TIMEOUT_S = 30.0
"""The HTTP client (fedsim.fl.client) abandons a connect after this long."""

REQUEST_TIMEOUT_S = 120.0
"""`fl.request_timeout`'s default: the HTTP and MQTT clients abandon an exchange that
takes longer than this past their long poll (total timeout: this + `fl.poll_wait`)."""

REQUEST_TIMEOUT_CAUSE = "request_timeout"
"""The dropout cause of a selected client whose exchange ran out of that timeout."""


COAP_GAVE_UP_CAUSE = "coap_gave_up"
"""The dropout cause of a selected client whose CoAP exchange got no ACK after
`fl.coap.max_retransmit` retransmissions (fedsim.coap.endpoint.CoapTimeoutError): not a
request timeout (CoAP has none), and `fl.request_timeout` cannot change it."""


def connect_timeout(transport: str) -> float | None:
    """The connect timeout of `fl.transport`'s client; None: it has none of its own
    (CoAP is UDP; MQTT's connect has the whole exchange's patience)."""
    return CONNECT_TIMEOUT_S if transport == "http" else None


def is_request_timeout(exc: BaseException) -> bool:
    """`exc` is a client's total timeout running out (aiohttp raises a bare TimeoutError;
    MQTT's patience too), not a connect or socket timeout (aiohttp's ClientError kinds)."""
    import aiohttp

    return isinstance(exc, TimeoutError) and not isinstance(exc, aiohttp.ClientError)


def gave_up_cause(exc: BaseException) -> str | None:
    """The cause an exchange that gave up on its own rules names (a CoAP exchange out of
    retransmissions: `coap_gave_up`, its exception's `dropout_cause`), None for any
    other error (a request timeout is `is_request_timeout`'s)."""
    cause = getattr(exc, "dropout_cause", None)
    return cause if isinstance(cause, str) else None
