"""When a radio is awake for its frames: from the moment they are ready until the last
has gone out, waiting for a shared medium included.

Why: flow fidelity books a whole window at once, at the time it is ready, and the
energy ledger charged its airtime at that instant with the tail right after it. On a
contended medium the frames go out later (after other devices' bookings), and a real
radio waits for them awake: Wi-Fi listening before it may send, LTE and NB-IoT
connected. So every booking on a device's own link reports its interval, [ready, last
frame out], with the wire bytes and frames it carries (`Batteries.wake`; packet
fidelity and datagrams report a frame that waits in its transmitter's queue), and the
ledger places it in the radio's time there and then: the quiet gap up to `ready`, the
booking's airtime, the rest of the interval waiting in the state the radio enters right
after activity (`RadioProfile.wait_parts`); its tail starts when the frames are out.
The airtime's energy comes with the counters a moment later (`Batteries.airtime`),
without placing that time again (`Battery.placed`). An interval that starts inside
time already accounted (another booking's) is placed after it, back to back, as
airtime always was.

A cut takes back what its bookings had not sent, their airtime through the counters;
the waits charged for after the cut go with them (`WaitsAhead`).
"""

from __future__ import annotations

from collections import deque

__all__ = ["WaitsAhead"]


class WaitsAhead:
    """The waits a ledger charged for time after the clock, so a cut can refund them:
    (start, end, its state's kind, its power), by end."""

    __slots__ = ("_waits",)

    def __init__(self) -> None:
        self._waits: deque[tuple[float, float, str, float]] = deque()

    def add(self, start: float, end: float, kind: str, power: float, now: float) -> None:
        """A wait over [start, end] charged at `power` as `kind` (idle or sleep); those
        that ended by `now` are forgotten (a cut at or after `now` keeps them)."""
        waits = self._waits
        while waits and waits[0][1] <= now:
            waits.popleft()
        if end > now:
            waits.append((start, end, kind, power))

    def pending_after(self, t: float) -> list[tuple[float, str, float]]:
        """(seconds, kind, power) of every wait after t: what a cut at t would refund
        (a round's energy leaves it out, fedsim.net.spent_by)."""
        return [
            (end - (start if start > t else t), kind, power)
            for start, end, kind, power in self._waits
            if end > t
        ]

    def after(self, t: float) -> list[tuple[float, str, float]]:
        """`pending_after(t)`, forgotten: a cut at t ended them."""
        out = self.pending_after(t)
        self._waits.clear()
        return out
