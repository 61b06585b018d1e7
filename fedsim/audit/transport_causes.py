"""An abandoned exchange is named by the rule that abandoned it.

The HTTP and MQTT clients abandon an exchange after `fl.request_timeout` +
`fl.poll_wait` (cause `request_timeout`); the CoAP client has no request timeout: it
gives an exchange up after `fl.coap.max_retransmit` retransmissions without an ACK
(cause `coap_gave_up`). Once the CoAP give-up was a `TimeoutError` and was counted as a
request timeout, with advice to raise a setting CoAP does not read (review of session
13, finding 5); every table agreed. A count under the wrong transport is that mistake.

Both the counts and the causes are the clients' own (`client_requests`): a simulation's
clients run in its process; a deployment's are remote, its server counts no abandoned
exchange and names no dropout by one, so there this check would pass on nothing and
does not apply.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant

NAME = "causes-fit-transport"

_ONLY = {
    "coap": ("coap_gave_up", "requests_gave_up"),
    "http": ("request_timeout", "requests_timed_out"),
    "mqtt": ("request_timeout", "requests_timed_out"),
}
"""{transport: (the dropout cause, the clients.csv count) of its abandoned exchanges}."""


@invariant(
    NAME,
    "abandoned exchanges carry the transport's own cause: CoAP has no request timeout "
    "(no request_timeout dropout, requests_timed_out 0; its give-ups are coap_gave_up, "
    "requests_gave_up), HTTP and MQTT no CoAP give-up",
    needs=("summary", "client_requests", "scenario"),
)
def check(result: Any) -> Iterator[Violation]:
    transport = result.scenario.fl.transport
    if transport not in _ONLY:
        return
    own = _ONLY[transport]
    counted = result.client_requests
    for cause, count in sorted(set(_ONLY.values()) - {own}):
        if result.summary.dropouts.get(cause, 0):
            yield Violation(
                NAME,
                f"summary.json dropouts {cause}: {result.summary.dropouts[cause]} under "
                f"fl.transport {transport}, whose clients give up with cause {own[0]}",
            )
        for client, counts in counted.items():
            if counts.get(count, 0):
                yield Violation(
                    NAME,
                    f"clients.csv {client}: {count} {counts[count]} under fl.transport "
                    f"{transport} (its abandoned exchanges are {own[1]})",
                )
