"""Retransmissions: a links.csv row's count and its bytes have one meaning.

`retransmissions` counts, of the row's `packets`, those sent again (TCP data segments
and SYNs, CoAP datagrams), on every hop a copy crosses, where its packet and its
`retx_bytes` are counted (a SYN's bytes are `control_bytes`). A cut takes them back
together. So on every row a copy's bytes come with its count, no row has more copies
than packets, and a row whose copies are all SYNs (no retransmitted data bytes) had a
SYN timer expire inside the run (an outside audit found flow fidelity counting SYNs
that were due past the run's end, 3 on a 0.11 s run, and data segments counted on the
sender's first hop only while their bytes counted on every hop).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.audit.rows import link_row, number
from fedsim.net.tcp import TcpParams

__all__ = ["retransmissions_consistent"]

NAME = "retransmissions-consistent"
SYN_TIMER_S = TcpParams().syn_retry
"""The first SYN timer (3 s): no SYN is sent again earlier in a run."""


@invariant(
    NAME,
    "every links.csv row counts at most `packets` retransmissions, some whenever "
    "`retx_bytes` > 0 (both per hop), and SYN-only retransmissions (no `retx_bytes`) "
    "only when the run lasted the first SYN timer (3 s)",
    needs=("links", "summary"),
)
def retransmissions_consistent(result: Any) -> Iterator[Violation]:
    end = float(result.summary["sim_time_s"])
    for row in result.links:
        where = link_row(row)
        retx = int(number(row, "retransmissions"))
        packets = int(number(row, "packets"))
        retx_bytes = int(number(row, "retx_bytes"))
        if retx > packets:
            yield Violation(NAME, f"{where}: retransmissions {retx} > packets {packets}")
        if retx_bytes > 0 and retx == 0:
            yield Violation(
                NAME, f"{where}: retx_bytes {retx_bytes} but retransmissions 0 on the same row"
            )
        if retx > 0 and retx_bytes == 0 and end < SYN_TIMER_S:
            yield Violation(
                NAME,
                f"{where}: {retx} SYN retransmissions in a {end:g} s run (the SYN timer "
                f"first expires at {SYN_TIMER_S:g} s)",
            )
