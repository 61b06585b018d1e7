"""Drops: a links.csv row's lost packets are among its sent packets, with their bytes.

`drops` counts the packets sent on a link direction (in `packets`, their bytes in
`wire_bytes`) and lost on its wire by the loss model; `lost_bytes` are their bytes.
A packet that never went out on the hop (its link down, its drop-tail queue full) is
`refused`: not sent, so in neither `packets` nor `drops`, and carrying no bytes. A cut
takes back lost frames that had not gone out with their bytes. So on every row drops
<= packets, and lost bytes exist exactly when drops do (an outside audit found a LoRa
uplink with 4892 drops of 413 packets and 1856 lost bytes, and a backhaul with 18878
drops and no lost byte: refusals at a full queue or a down hop counted as drops).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.audit.rows import link_row, number

__all__ = ["drops_reconcile"]

NAME = "drops-reconcile"


@invariant(
    NAME,
    "every links.csv row drops at most its `packets` (a drop is a packet sent on the link "
    "and lost on its wire; one never sent is `refused`), and has `lost_bytes` > 0 exactly "
    "when it has drops",
    needs=("links",),
)
def drops_reconcile(result: Any) -> Iterator[Violation]:
    for row in result.links:
        where = link_row(row)
        drops = int(number(row, "drops"))
        packets = int(number(row, "packets"))
        lost = int(number(row, "lost_bytes"))
        if drops > packets:
            yield Violation(NAME, f"{where}: drops {drops} > packets {packets}")
        if (drops > 0) != (lost > 0):
            yield Violation(NAME, f"{where}: drops {drops} but lost_bytes {lost}")
