"""What a run's byte classes are called, by the transport that carried them.

Why: the ledger's columns are the same for every transport (docs/transports.md), but
what they hold is not: `protocol` is HTTP heads over HTTP and CoAP options over CoAP,
`header` is TCP/IP over HTTP and MQTT and IPv4/UDP over CoAP, and CoAP has no handshakes,
ACK segments or FIN. A figure or a table that says "TCP/IP" for a UDP run is a wrong
label on a right number; every label of these classes is read from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["TransportWords", "run_transport", "shared_words", "words_for"]


@dataclass(frozen=True)
class TransportWords:
    """The names of one transport's byte classes."""

    transport: str
    """`fl.transport` as the run read it: http, coap, mqtt."""
    protocol: str
    """The application protocol: HTTP, CoAP, MQTT."""
    below: str
    """What carries it: TCP/IP or UDP/IP."""
    control: str
    """The ledger's `control_bytes`: packets without data."""

    @property
    def stack(self) -> str:
        """`HTTP over TCP/IP`, for a page's header."""
        return f"{self.protocol} over {self.below}"

    @property
    def protocol_label(self) -> str:
        return f"protocol ({self.protocol})"

    @property
    def headers_label(self) -> str:
        return f"{self.below} headers"

    @property
    def payload_label(self) -> str:
        return f"payload ({self.protocol})"

    @property
    def wire_label(self) -> str:
        return f"on the wire ({self.below}, retransmissions)"


_TCP_CONTROL = "handshakes, ACKs, FIN"
_WORDS = {
    "http": TransportWords("http", "HTTP", "TCP/IP", _TCP_CONTROL),
    "mqtt": TransportWords("mqtt", "MQTT", "TCP/IP", _TCP_CONTROL),
    # CoAP's ACKs are CoAP messages (payload); UDP sends no packet without data
    "coap": TransportWords("coap", "CoAP", "UDP/IP", "control (none over UDP)"),
}
DEFAULT_TRANSPORT = "http"
"""What a run whose config.yaml names no `fl.transport` used (fedsim.config.fl)."""


def run_transport(config: dict[str, Any]) -> str:
    """`fl.transport` of a run's config.yaml, the default where it names none."""
    fl = config.get("fl")
    value = fl.get("transport") if isinstance(fl, dict) else None
    return DEFAULT_TRANSPORT if value is None else str(value).lower()


def words_for(transport: str) -> TransportWords:
    """The words of `transport`; for one this module does not know, words that name it
    and claim nothing about what carried it."""
    known = _WORDS.get(transport)
    if known is not None:
        return known
    name = transport.upper()
    return TransportWords(transport, name, f"{name}'s transport", "packets without data")


def shared_words(transports: Sequence[str]) -> TransportWords:
    """The words of runs side by side: their transport's if they share one, otherwise
    words that say each run's class holds its own transport's bytes."""
    distinct = sorted(set(transports))
    if len(distinct) == 1:
        return words_for(distinct[0])
    mixed = " / ".join(words_for(t).protocol for t in distinct)
    below = " / ".join(sorted({words_for(t).below for t in distinct}))
    return TransportWords("mixed", mixed, below, "packets without data")
