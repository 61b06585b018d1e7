"""Bytes on the wire: nothing crosses an element while it is down.

Two views of the same rule. Messages: a message the network delivered must not
have been in transit while any link or node of its path was down (the connection
must have broken). Counters: a link direction whose link, or whose transmitting
node, is down gains no payload, wire bytes or packets (a radio transmitting into a
dead next hop counts a drop, not a delivery).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from fedsim.audit import Violation, invariant
from fedsim.audit.intervals import fmt, overlapping
from fedsim.audit.paths import path_spans

__all__ = ["carried_while_down", "delivered_over_down_element"]

DELIVERED = "delivered-over-down-element"
CARRIED = "carried-while-down"
DIRECTION = ("up", "down")


@invariant(
    DELIVERED,
    "no message is delivered whose transit (sent..delivered) overlaps a down interval "
    "of a link or node of its path",
    needs=("evidence", "scenario", "summary"),
)
def delivered_over_down_element(result: Any) -> Iterator[Violation]:
    ev = getattr(result, "evidence", None)
    if ev is None or len(ev.messages) == 0:
        return
    m = ev.messages
    spans = path_spans(ev, result=result)
    ever_down = [i for i, dev in enumerate(ev.devices) if spans.get(dev)]  # else none overlaps
    ok = np.isfinite(m.delivered) & (m.device >= 0) & np.isin(m.device, ever_down)
    idx = np.flatnonzero(ok)
    order = idx[np.argsort(m.device[idx], kind="stable")]
    devs = m.device[order]
    bounds = np.flatnonzero(np.diff(devs)) + 1
    for group in np.split(order, bounds):
        if group.size == 0:
            continue
        dev = ev.devices[int(m.device[group[0]])]
        dev_spans = spans.get(dev, [])
        hit = overlapping(dev_spans, m.sent[group], m.delivered[group])
        for k in np.flatnonzero(hit >= 0):
            i = int(group[k])
            s, e, why = dev_spans[int(hit[k])]
            yield Violation(
                DELIVERED,
                f"client {dev}, message {DIRECTION[int(m.direction[i])]} of {int(m.payload[i])} "
                f"bytes sent {fmt(float(m.sent[i]))}, delivered {fmt(float(m.delivered[i]))} "
                f"while down {fmt(s)}-{fmt(e)}: {why}",
            )


@invariant(
    CARRIED,
    "no link direction gains payload, wire bytes or packets while the link, or the node "
    "that transmits on it, is down (only drops)",
    needs=("evidence",),
)
def carried_while_down(result: Any) -> Iterator[Violation]:
    ev = getattr(result, "evidence", None)
    if ev is None:
        return
    for c in ev.carrier_down:
        payload, wire, packets = c.carried
        if payload > 0 or wire > 0 or packets > 0:  # a taken-back booking may be negative
            yield Violation(
                CARRIED,
                f"link {c.link} {DIRECTION[c.direction]}, down {fmt(c.start)}-{fmt(c.end)} "
                f"({c.cause}): carried {payload} payload bytes, {wire} wire bytes, "
                f"{packets} packets",
            )
