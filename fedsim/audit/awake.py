"""What a booking placed in a device's radio time, its counters charged.

Every booking on a device's own link tells the energy ledger when its frames were ready
and when the last had gone out, with the wire bytes and frames it carries
(fedsim.net.awake); the ledger places their airtime there, and the link's counters
charge that airtime's energy right after, counting the same frames. A booking reported
but never counted (or counted for fewer frames than it reported) would leave radio time
without its energy: the ledger records what was left (`uncharged_s`), and it must be
nothing, up to rounding.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant

__all__ = ["booked_airtime_charged"]

NAME = "booked-airtime-charged"
_REL = 1e-9


@invariant(
    NAME,
    "every airtime a booking on a device's own link placed in its radio's time was charged "
    "by the link's counters (no radio time without its energy)",
    needs=("evidence",),
)
def booked_airtime_charged(result: Any) -> Iterator[Violation]:
    ev = getattr(result, "evidence", None)
    if ev is None:
        return
    for device, ledger in sorted(ev.energy.items()):
        r = ledger.radio
        if not r:
            continue
        left = float(r.get("uncharged_s", 0.0))
        if left > _REL * (1.0 + r["tx_s"] + r["rx_s"]):
            yield Violation(
                NAME,
                f"device {device}: bookings on its link placed {left:.9g} s of airtime "
                "that its counters never charged",
            )
