"""Accepted updates: none may have crossed a path that was down.

The exchange is the upload request on the connection that carried it: from the first
byte of the POST leaving the device (its first upstream message once it began
uploading, fedsim.net.evidence) to the server's acceptance. A connect before it whose
SYNs were lost at a down hop and retried once the path was back carried no byte of
the update; a POST in flight when the path goes down is caught."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.audit.intervals import first_overlap, fmt
from fedsim.audit.paths import path_spans

__all__ = ["acknowledged_was_accepted", "update_over_down_path"]

NAME = "update-over-down-path"
ACKNOWLEDGED = "acknowledged-was-accepted"


@invariant(
    NAME,
    "no update is accepted from a device whose path to the server was down at any "
    "instant of its upload exchange: from the first byte of its POST leaving the device "
    "to the server's acceptance",
    needs=("evidence", "scenario", "summary"),
)
def update_over_down_path(result: Any) -> Iterator[Violation]:
    ev = getattr(result, "evidence", None)
    if ev is None:
        return
    spans = path_spans(ev, result=result)
    ever_down = {dev for dev, down in spans.items() if down}
    if not ever_down:
        return  # no path was ever down: no exchange overlaps a down span
    for a in ev.accepted:
        if a.client not in ever_down:
            continue  # a path never down overlaps nothing
        hit = first_overlap(spans.get(a.client, []), a.start, a.accepted)
        if hit is None and a.start == a.accepted:
            hit = next((s for s in spans.get(a.client, []) if s[0] <= a.start < s[1]), None)
        if hit is not None:
            yield Violation(
                NAME,
                f"client {a.client}, round {a.round}: update accepted at {fmt(a.accepted)} "
                f"(upload started {fmt(a.start)}) while down {fmt(hit[0])}-{fmt(hit[1])}: {hit[2]}",
            )


@invariant(
    ACKNOWLEDGED,
    "no device saw more of its uploads acknowledged than the server accepted from it "
    "(an answer that says stored was stored; HTTP and CoAP, whose acknowledgement is the "
    "server's own)",
    needs=("evidence",),
)
def acknowledged_was_accepted(result: Any) -> Iterator[Violation]:
    ev = getattr(result, "evidence", None)
    acked = getattr(ev, "acknowledged", None)
    if acked is None:
        return
    accepted = Counter(a.client for a in ev.accepted)
    for client, n in sorted(acked.items()):
        if n > accepted.get(client, 0):
            yield Violation(
                ACKNOWLEDGED,
                f"client {client}: {n} uploads acknowledged to the device, "
                f"{accepted.get(client, 0)} accepted by the server",
            )
