"""Whether a device can ever open a TCP connection: the least time a connect takes on
its path against the client's connect timeout (the HTTP client gives up after 30 s).

Propagation is fixed per link class and jitter and queues only add to it, so a path
whose SYN and SYN-ACK alone take longer than the timeout can never connect: every
attempt is abandoned before its SYN-ACK arrives (an outside audit found a 16 s
satellite hop shown as "upload ≈ 48 s" while no device ever registered).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fedsim.net.tcp import TcpParams

if TYPE_CHECKING:
    from fedsim.net.link import Hop

__all__ = ["CONNECT_TIMEOUT_S", "connect_timeout", "min_connect_s"]

CONNECT_TIMEOUT_S = 30.0
"""The HTTP client (fedsim.fl.client) abandons a connect after this long."""


def connect_timeout(transport: str) -> float | None:
    """The connect timeout of `fl.transport`'s client; None: it has none of its own
    (CoAP is UDP; MQTT's connect has the whole exchange's patience)."""
    return CONNECT_TIMEOUT_S if transport == "http" else None


def min_connect_s(hops: Sequence[Hop], params: TcpParams | None = None) -> float:
    """Seconds from the SYN to the SYN-ACK's arrival on an idle, loss-free path: each
    hop's latency twice plus both frames' airtime (store and forward)."""
    p = params or TcpParams()
    total = 0.0
    for hop in hops:
        up, down = hop.link.tx[hop.direction], hop.link.tx[1 - hop.direction]
        total += (
            2.0 * hop.link.latency_s + up.airtime(p.syn_bytes, 1) + down.airtime(p.syn_bytes, 1)
        )
    return total
