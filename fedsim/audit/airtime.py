"""A transmitter's busy time is the airtime of the frames its links counted, and what
its bookings hold of the medium is that airtime over its duty cycle.

Every booking on a transmitter is a frame that some link direction counts in links.csv
(data, headers, control, retransmissions and lost frames alike), and a frame a cut takes
back gives its airtime back too. So per transmitter, busy time x rate equals the wire
bits of the link directions it serves plus each frame's fixed airtime (`frame_bits` per
packet: Wi-Fi's inter-frame spaces, PLCP, MAC ACK and framing, Ethernet's, LoRa's
preamble and headers), and each of their links.csv rows shows that busy time as its
busy_fraction. A booking nobody counted, or a count nobody booked, breaks it.
That time is also what the devices' energy ledgers charged (fedsim.audit.radio_airtime:
one per-frame airtime for the network and the radio), so a duty cycle enforced on one
airtime cannot be exceeded on the other.
A cut gives back the airtime of what it takes back and releases the hold that airtime
(and its duty-cycle silence) had booked: a radio stays booked only for what it sent.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.audit.rows import cell, number

__all__ = ["busy_matches_bytes", "held_matches_busy"]

NAME = "busy-matches-bytes"
_REL = 1e-9


@invariant(
    NAME,
    "every transmitter's busy time equals the airtime ((wire bytes x 8 + packets x its "
    "per-frame bits) / rate; per-frame bits: the link kind's fixed airtime per frame) of "
    "the link directions it serves in links.csv, and their busy_fraction is that busy time "
    "over the run",
    needs=("transmitters", "links", "summary"),
)
def busy_matches_bytes(result: Any) -> Iterator[Violation]:
    uses = getattr(result, "transmitters", None)
    if not uses:
        return
    rows = {(str(cell(r, "link")), str(cell(r, "direction"))): r for r in result.links}
    end = float(result.summary["sim_time_s"])
    for use in uses:
        counted = sum(number(rows[k], "wire_bytes") for k in use.serves if k in rows)
        frames = sum(number(rows[k], "packets") for k in use.serves if k in rows)
        want = (counted * 8.0 + frames * use.frame_bits) / use.rate_bps
        if not math.isclose(use.busy_s, want, rel_tol=_REL, abs_tol=1e-12):
            extra = (use.busy_s - want) * use.rate_bps / 8.0
            per_frame = f" + {frames:.0f} frames" if use.frame_bits else ""
            yield Violation(
                NAME,
                f"transmitter {use.name}: busy {use.busy_s:.9g} s, but its links counted "
                f"{counted:.0f} wire bytes{per_frame} = {want:.9g} s at {use.rate_bps:.6g} "
                f"bit/s ({extra:+.1f} bytes of airtime nobody counted)",
            )
        share = min(1.0, use.busy_s / end) if end > 0 else 0.0
        for key in use.serves:
            row = rows.get(key)
            if row is None:
                yield Violation(NAME, f"transmitter {use.name}: links.csv has no row {key}")
            elif not math.isclose(number(row, "busy_fraction"), share, rel_tol=1e-6, abs_tol=1e-9):
                yield Violation(
                    NAME,
                    f"links.csv {key[0]} {key[1]}: busy_fraction "
                    f"{number(row, 'busy_fraction'):.9g} != {share:.9g} of its transmitter",
                )


HELD = "held-matches-busy"


@invariant(
    HELD,
    "every transmitter holds the medium for exactly the airtime it was busy with, over its "
    "duty cycle: a cut that gives back airtime releases the booking that held it",
    needs=("transmitters",),
)
def held_matches_busy(result: Any) -> Iterator[Violation]:
    for use in getattr(result, "transmitters", None) or ():
        want = use.busy_s / use.duty_cycle
        if not math.isclose(use.held_s, want, rel_tol=_REL, abs_tol=1e-9):
            yield Violation(
                HELD,
                f"transmitter {use.name}: its bookings hold {use.held_s:.9g} s of the medium, "
                f"but busy {use.busy_s:.9g} s at duty cycle {use.duty_cycle:.6g} holds "
                f"{want:.9g} s ({use.held_s - want:+.6g} s booked for frames that never went out)",
            )
