"""Where a radio's activity ends once a take-back removed placed time from its end.

Why: a cut takes back what a device's link had not sent (the airtime of its bookings,
their waits, the quiet gap charged ahead of a booking), and the energy ledger moved its
accounted time and its last activity's end back by that many seconds. That is right
inside one span of activity (a window partly sent ends where what went out ends), but
not across the quiet gap before it: a booking on a radio at rest, taken back whole, left
the radio's activity ending where the booking began, so a full tail was charged from
there for frames that never left (a device cut from t = 0 paid an LTE tail of 11.576 s
at 1060 mW, an NB-IoT connected tail and T3324, a Wi-Fi tail, without one frame sent).

So the ledger remembers each span of activity that began after a quiet gap (`Run`: when
it began, where the activity before it had ended, and the promotion the gap's charge
ended with). A take-back that reaches back to a span's start removes the span: the
activity ends where it ended before it, as if it had never been booked, and the
promotion it paid is given back for the quiet time it replaced. A take-back that stops
inside a span leaves the activity ending there (what went out ends there).
"""

from __future__ import annotations

import math
from typing import NamedTuple

__all__ = ["SLACK_ULPS", "Run", "Runs", "begin", "rewind"]

SLACK_ULPS = 64
"""A take-back that lands within this many units in the last place (of the larger of the
two times) after a span's start took all of it: its seconds were added and subtracted in
floating point, which leaves a few ulps. A wider slack (it was 1e-9 x t) swallowed a whole
frame late in a run (a 40 B LTE frame at 20 Mbit/s, 18.4 us, after t = 18,400 s): the
frame that went out lost its tail and its promotion."""


class Run(NamedTuple):
    """A span of activity that began after a quiet gap."""

    start: float
    before: float
    """Where the activity before it had ended (the radio's rest before the span)."""
    promotion_s: float
    """The promotion charged at the end of the gap before it (LTE RRC_IDLE ->
    CONNECTED); 0 where none was, or where a take-back refunds it as a wait ahead."""


Runs = list[Run]
"""A list, not a deque: it holds one or two spans, and an empty deque is ~760 B per
device (7.6 MB at 10,000 devices) where an empty list is 56."""


def begin(runs: Runs, run: Run, now: float) -> None:
    """Remember `run`; forget the spans no take-back can reach: a cut at or after `now`
    takes back only what was placed after it, so all but the last span begun by `now`."""
    runs.append(run)
    while len(runs) > 1 and runs[1].start <= now:
        del runs[0]


def rewind(runs: Runs, activity_end: float, accounted: float) -> tuple[int, float]:
    """(how many of the last spans a take-back that left `accounted` removed, the
    activity's end then). Nothing is changed."""
    end = activity_end
    gone = 0
    for run in reversed(runs):
        if run.start < accounted - SLACK_ULPS * math.ulp(max(1.0, abs(run.start), abs(accounted))):
            break
        end = run.before
        gone += 1
    return gone, (end if end < accounted else accounted)
