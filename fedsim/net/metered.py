"""Link counters that report every change of wire bytes and packets to a meter.

Why: both fidelities already count, on each hop, every frame they put on the wire
(data segments, headers, SYNs, ACKs, FINs, retransmissions, frames lost on that hop)
as `wire_bytes` and `packets`, and take back what a cut prevented from leaving. A
device's first hop is its radio; metering its counters charges the radio for exactly
what crossed it, in both fidelities, without a hook in either model. The network
gives device uplinks these counters; the energy ledger (fedsim.net.battery) sets
`meter`, and `wake`, where a booking reports when its frames were ready and when the
last had gone out (flow fidelity: every booking; packet fidelity and datagrams: a frame
that waits for the medium; fedsim.net.awake).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter

from fedsim.net.link import LinkCounters

__all__ = ["Meter", "MeteredCounters", "Wake"]

Meter = Callable[[int, int, int], None]
"""(direction, change in wire bytes, change in packets); negative when taken back. A
call with both changes charges as two calls would, the bytes first (`count_frames`)."""

Wake = Callable[[float, float, int, int], None]
"""(ready, out, wire bytes, frames): a booking's frames were ready at `ready` and the
last had gone out by `out`; the radio is awake in between (a shared medium's wait
included). The counters count the same frames right after."""


class MeteredCounters(LinkCounters):
    """`LinkCounters` whose `wire_bytes` and `packets` report their changes."""

    __slots__ = ("_packets", "_wire", "direction", "meter", "wake")

    def __init__(self, direction: int) -> None:
        self.direction = direction
        self.meter: Meter | None = None
        self.wake: Wake | None = None
        self._wire = 0
        self._packets = 0
        super().__init__()

    def _set_wire(self, value: int) -> None:
        change, self._wire = value - self._wire, value
        if change and self.meter is not None:
            self.meter(self.direction, change, 0)

    def _set_packets(self, value: int) -> None:
        change, self._packets = value - self._packets, value
        if change and self.meter is not None:
            self.meter(self.direction, 0, change)

    # Read through C getters (`attrgetter`): the flow model reads every counter twice a send.
    wire_bytes = property(attrgetter("_wire"), _set_wire)  # type: ignore[assignment]
    packets = property(attrgetter("_packets"), _set_packets)  # type: ignore[assignment]

    def count_frames(self, wire_bytes: int, packets: int) -> None:
        """Add frames to both counts with one meter call (a flight at a time)."""
        self._wire += wire_bytes
        self._packets += packets
        if self.meter is not None:
            self.meter(self.direction, wire_bytes, packets)
