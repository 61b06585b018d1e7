"""The one hook into amqtt: its QoS 1/2 flows wait a hard-coded 5 s for PUBACK
(PUBREC, PUBCOMP) and retried deliveries 10 s, then raise and drop the in-flight
message (`amqtt.mqtt.protocol.handler.ProtocolHandler._handle_qos1_message_flow`,
`_retry_deliveries`). On NB-IoT in deep coverage or LoRa a round trip alone takes
longer, so every model and update would be dropped. `install` makes those waits last
as long as the connection does (a closed connection still cancels them), as MQTT's
"at least once" asks. `tests/test_transport_mqtt.py` fails loudly if amqtt changes
the code this relies on (docs/transports.md)."""

from __future__ import annotations

import asyncio
import types
from typing import Any

__all__ = ["HARD_CODED_WAITS_S", "install"]

HARD_CODED_WAITS_S = (5, 10)
"""amqtt 0.12's acknowledgement waits (the keep-alive read timeout is the session's
keep-alive, which fedsim never sets to these values)."""


class _PatientAsyncio(types.ModuleType):
    """`asyncio` as amqtt's handler module sees it: `wait_for` without the hard-coded
    acknowledgement timeouts, everything else the real module."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    def wait_for(fut: Any, timeout: float | None = None) -> Any:
        return asyncio.wait_for(fut, None if timeout in HARD_CODED_WAITS_S else timeout)


def install() -> None:
    """Patch amqtt's protocol handler module (idempotent)."""
    from amqtt.mqtt.protocol import handler

    if not isinstance(handler.asyncio, _PatientAsyncio):
        handler.asyncio = _PatientAsyncio("asyncio")
