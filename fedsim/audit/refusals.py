"""Refused uploads over MQTT: each device was told.

A broker's PUBACK says only that the broker has an update, so over MQTT a device
learns that the server refused one (a closed round, or wrong) from the server's notice
on its task topic alone; a device that never hears of it counts the upload as accepted,
and a top-k device never puts the entries it carried back into its error-feedback
residual (fedsim.transports.mqtt_server). HTTP's and CoAP's refusals are their answers:
nothing to check there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant

__all__ = ["refusals_told"]

NAME = "refusals-told"


@invariant(
    NAME,
    "over MQTT, every update the server refused was told to its device: a device read "
    "no more refusal notices than the server refused of its updates, and missed no more "
    "than its failed exchanges (a closing connection drops the message in flight) plus "
    "the one the run's end may cut",
    needs=("evidence",),
)
def refusals_told(result: Any) -> Iterator[Violation]:
    ev = getattr(result, "evidence", None)
    refusals = getattr(ev, "refusals", None)
    if refusals is None:
        return
    for client, (refused, heard, failures) in sorted(refusals.items()):
        if heard > refused:
            yield Violation(
                NAME,
                f"client {client}: read {heard} refusal notices, the server refused "
                f"{refused} of its updates",
            )
        elif refused - heard > failures + 1:
            yield Violation(
                NAME,
                f"client {client}: the server refused {refused} of its updates, it read "
                f"{heard} refusal notices ({failures} failed exchanges)",
            )
