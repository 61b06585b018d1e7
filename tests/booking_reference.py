"""The scanning `Transmitter` bookings that `fedsim.net.bookings` replaced, kept as the
reference the gap index must agree with bit for bit (tests/test_booking_index.py) and
as the baseline of bench/bench_net.py."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["ScanningTransmitter"]


@dataclass
class ScanningTransmitter:
    """`Transmitter` as it was before the gap index: every booking walks the intervals
    from the first that ends after its start; `queued_until` walks the ready list."""

    name: str
    rate_bps: float
    busy_until: float = 0.0
    busy_time: float = 0.0
    duty_cycle: float = 1.0
    clock: Callable[[], float] | None = field(default=None, repr=False)
    _starts: list[float] = field(default_factory=list, repr=False)
    _ends: list[float] = field(default_factory=list, repr=False)
    _ready: list[tuple[float, float]] = field(default_factory=list, repr=False)
    _ready_kept: int = field(default=64, repr=False)

    def reserve(self, now: float, nbits: float) -> tuple[float, float]:
        airtime = nbits / self.rate_bps
        hold = airtime / self.duty_cycle
        self._forget()
        starts, ends = self._starts, self._ends
        start = now if self.duty_cycle >= 1.0 else self.queued_until(now)
        i = bisect.bisect_right(ends, start)
        n = len(starts)
        stop = start + hold
        while i < n and stop > starts[i]:
            e = ends[i]
            if e > start:
                start = e
                stop = start + hold
            i += 1
        if i > 0 and ends[i - 1] == start:
            ends[i - 1] = stop
            if i < len(starts) and starts[i] == stop:
                ends[i - 1] = ends[i]
                del starts[i], ends[i]
        elif i < len(starts) and starts[i] == stop:
            starts[i] = start
        else:
            starts.insert(i, start)
            ends.insert(i, stop)
        self.busy_until = max(self.busy_until, stop)
        self.busy_time += airtime
        if self.duty_cycle < 1.0:
            bisect.insort(self._ready, (now, stop))
        return start, start + airtime

    def give_back(self, start: float, nbits: float, unsent_bits: float, now: float) -> None:
        """`Transmitter.give_back` by scanning: the interval holding the released span is
        cut in two (or shortened, or dropped); the booking's MAC-queue entry now ends
        where its hold does."""
        if unsent_bits <= 0.0:
            return
        dc = self.duty_cycle
        stop = start + nbits / self.rate_bps / dc
        unsent = unsent_bits / self.rate_bps
        self.busy_time = max(0.0, self.busy_time - unsent)
        cut = start if unsent_bits >= nbits else max(start, stop - unsent / dc)
        cut = max(cut, now)
        if cut >= stop:
            return
        i = next(
            i for i, (s, e) in enumerate(zip(self._starts, self._ends, strict=True)) if s <= cut < e
        )
        s, e = self._starts[i], self._ends[i]
        assert stop <= e, "a release within one interval"
        pieces = [p for p in ((s, cut), (stop, e)) if p[0] < p[1]]
        self._starts[i : i + 1] = [p[0] for p in pieces]
        self._ends[i : i + 1] = [p[1] for p in pieces]
        if dc < 1.0:
            j = next(j for j, (_, end) in enumerate(self._ready) if end == stop)
            ready, _ = self._ready.pop(j)
            if cut > start:
                bisect.insort(self._ready, (ready, cut))

    def _forget(self) -> None:
        if self.clock is None:
            return
        t = self.clock()
        done = bisect.bisect_right(self._ends, t)
        if done:
            del self._starts[:done], self._ends[:done]
        q = self._ready
        if len(q) > 2 * self._ready_kept:
            q[:] = [b for b in q if b[1] > t]
            self._ready_kept = max(64, len(q))

    def queued_until(self, now: float) -> float:
        q = self._ready
        k = bisect.bisect_right(q, (now, math.inf))
        end = now
        for _, e in q[:k]:
            if e > end:
                end = e
        return end
