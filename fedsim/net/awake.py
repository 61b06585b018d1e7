"""When a radio is awake for its frames: from the moment they are ready until the last
has gone out, waiting for a shared medium included.

Why: flow fidelity books a whole window at once, at the time it is ready, and the
energy ledger charged its airtime at that instant with the tail right after it. On a
contended medium the frames go out later (after other devices' bookings), and a real
radio waits for them awake: Wi-Fi listening before it may send, LTE and NB-IoT
connected. Every booking on a device's own link is reported as an interval [ready,
last frame out] (`Batteries.wake`; packet fidelity and datagrams report a frame that
waits in its transmitter's queue). The ledger keeps those it has not charged yet,
sorted and merged (`Spans`), and charges them as the radio's time: the airtime already
charged fills them first (the credit: charged, not yet placed in time), the rest is
waiting in the state the radio enters right after activity (`RadioProfile.wait_parts`),
and its tail starts when the interval ends. Between intervals the quiet gap (tail,
idle, sleep) is charged as before.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from operator import itemgetter

from fedsim.net.radio import RadioProfile

__all__ = ["Spans", "Walk", "add_span", "cut_spans", "walk"]

Spans = list[list[float]]
"""[start, end] of the awake intervals not yet charged to their end: sorted, disjoint."""

Walk = tuple[float, float, float, float, float, float, int, float]
"""What charging [pos, until] adds: (idle_s, idle_j, sleep_s, sleep_j, the position
reached, the activity's end after it, intervals wholly charged, credit left)."""

_END = itemgetter(1)
_START = itemgetter(0)


def add_span(spans: Spans, start: float, end: float) -> None:
    """Merge [start, end] into `spans`."""
    if not spans or start > spans[-1][1]:  # the common case: after everything
        spans.append([start, end])
        return
    last = spans[-1]
    if start >= last[0]:  # overlaps or touches the last interval
        if end > last[1]:
            last[1] = end
        return
    i = bisect_left(spans, start, key=_END)  # the first that ends at or after start
    j = bisect_right(spans, end, key=_START)  # past the last that starts by end
    if i == j:
        spans.insert(i, [start, end])
        return
    lo = spans[i][0] if spans[i][0] < start else start
    hi = spans[j - 1][1] if spans[j - 1][1] > end else end
    spans[i:j] = [[lo, hi]]


def cut_spans(spans: Spans, t: float) -> None:
    """A cut at t took back what its bookings had not sent: nothing waits after t."""
    while spans and spans[-1][0] >= t:
        spans.pop()
    if spans and spans[-1][1] > t:
        spans[-1][1] = t


def walk(
    radio: RadioProfile,
    spans: Spans,
    credit: float,
    pos: float,
    until: float,
    base: float,
    activity: bool,
) -> Walk:
    """Charge the radio's time from `pos` (what is accounted) to `until`, the last
    activity having ended at `base`: inside an interval the credit first, then waiting;
    outside, the quiet gap after the latest activity (a radio past its tail first pays
    the promotion back to active at the end of the gap before an interval, and before
    `until` with `activity`: airtime starts there). With no interval left, the credit
    left is placed right after the last one (activity back to back, as the ledger places
    airtime without an interval). Changes nothing."""
    idle_s = idle_j = sleep_s = sleep_j = 0.0
    n = len(spans)
    done = 0
    tail_s = radio.tail_s
    while done < n:
        s, e = spans[done]
        if e <= pos:  # charged already (as quiet time, or placed activity)
            done += 1
            continue
        if s > until:
            break
        if s > pos:  # the quiet gap before it; a promotion at its end
            promo = 0.0
            if radio.promotion_s > 0 and s - base > tail_s:
                promo = min(radio.promotion_s, s - pos)
            gi, gj, ss, sj, _ = radio.gap_parts(pos - base, s - promo - base)
            idle_s += gi + promo
            idle_j += gj + promo * radio.promotion_w
            sleep_s += ss
            sleep_j += sj
            pos = s
        hi = e if e < until else until
        span = hi - pos
        if span > 0.0:
            if credit >= span:  # all of it on air (no wait: the common case)
                credit -= span
            else:
                wi, wj, ws, wsj = radio.wait_parts(span - credit)
                credit = 0.0
                idle_s += wi
                idle_j += wj
                sleep_s += ws
                sleep_j += wsj
            pos = hi
        if pos > base:
            base = pos
        if e > until:
            break
        done += 1
    if done == n and credit > 0.0:  # nothing left to hold it: activity after the last
        start = pos if pos > base else base
        pos = base = start + credit
        credit = 0.0
    if pos < until:
        promo = 0.0
        if activity and radio.promotion_s > 0 and until - base > tail_s:
            promo = min(radio.promotion_s, until - pos)
        gi, gj, ss, sj, _ = radio.gap_parts(pos - base, until - promo - base)
        idle_s += gi + promo
        idle_j += gj + promo * radio.promotion_w
        sleep_s += ss
        sleep_j += sj
        pos = until
    return idle_s, idle_j, sleep_s, sleep_j, pos, base, done, credit
