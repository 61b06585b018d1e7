"""When a quiet radio empties a battery: the instant, as the ledger charges it.

Why: a radio asleep with periodic wakes (NB-IoT's TAU, any `wake_period`) is not
drained at an average power: each wake takes its joules at one instant
(`RadioProfile.gap_parts` counts the wakes whose instant a quiet gap covers). A drain
timer set from their average power fired after the wake that emptied the
battery (2.5 J, a 1 J wake every 100 s: dry at the 300 s wake, found dry at 313.72 s),
and a run ending in between closed a ledger that had spent all it held with no death
at all. This finds the first instant at which what the quiet gap charges reaches what
is left: inside the tail or the idle span at their powers, asleep either between
wakes at the sleep power or at the wake that cannot be paid, the instant moved to the
first float at which `gap_parts` counts that wake (so a charge there empties it).
"""

from __future__ import annotations

import math

from fedsim.net.radio import RadioProfile

__all__ = ["DRY_REL", "quiet_empty_at"]

DRY_REL = 1e-9
"""A battery left with less than this fraction of what it held when the run ends has
spent it all: it runs dry then (`Batteries.finish`), and the auditor's
`spent-all-ran-dry` reads a ledger within it of its charge as spent."""

_NUDGES = 64
"""Floats stepped past a wake's instant, at most, until `gap_parts` counts it (one or
two suffice: the ledger's `floor((t - base - awake) / period)` rounds)."""


def quiet_empty_at(radio: RadioProfile, base: float, start: float, left: float) -> float | None:
    """The first instant from `start` at which a radio quiet since `base` (its last
    activity ended then; its time is charged up to `start`) has drawn `left` more
    joules. None: never (a state it stays in for good draws nothing)."""
    if left <= 0.0:
        return start
    t = start
    since = t - base
    for edge, power in ((radio.tail_s, radio.tail_w), (radio.awake_s, radio.idle_w)):
        if since >= edge:
            continue
        span = edge - since
        if power > 0.0 and left <= power * span:
            return t + left / power
        if not math.isfinite(span):
            return None
        left -= power * span
        t += span
        since = edge
    return _asleep_empty_at(radio, base, max(since - radio.awake_s, 0.0), left)


def _asleep_empty_at(radio: RadioProfile, base: float, x0: float, left: float) -> float | None:
    """`quiet_empty_at` for a radio asleep `x0` seconds (its sleep began at `base` +
    `awake_s`): sleep power all along, and `wake_j` at every multiple of the wake period
    after the sleep began (where `gap_parts` places the wakes)."""
    awake, sleep_w = radio.awake_s, radio.sleep_w
    origin = base + awake
    period, wake_j = radio.wake_period_s, radio.wake_j
    if not (math.isfinite(period) and period > 0.0 and wake_j > 0.0):
        return origin + x0 + left / sleep_w if sleep_w > 0.0 else None
    k0 = math.floor(x0 / period)  # the wakes up to x0 are charged

    def by_wake(j: int) -> float:
        """What the gap draws from x0 up to and including the j-th wake ahead."""
        return sleep_w * ((k0 + j) * period - x0) + j * wake_j

    per = sleep_w * period + wake_j
    j = max(1, math.ceil((left + sleep_w * (x0 - k0 * period)) / per))
    while j > 1 and by_wake(j - 1) >= left:  # (the estimate, rounded either way)
        j -= 1
    while by_wake(j) < left:
        j += 1
    if sleep_w > 0.0:  # sleep alone may empty it before that wake
        x = x0 + (left - (j - 1) * wake_j) / sleep_w
        if x < (k0 + j) * period:
            return origin + x
    at = origin + (k0 + j) * period
    for _ in range(_NUDGES):
        if math.floor(((at - base) - awake) / period) >= k0 + j:
            break
        at = math.nextafter(at, math.inf)
    return at
