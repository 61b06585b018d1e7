"""A run's numbers cover its window, [0, end], and nothing after.

When a run ends (its rounds, its target, its time limit, or no progress left), the
network closes: every connection is reset and what had not gone out by then is taken
back, as a cut takes it back, and no device sends again (`Network.end_run`); the
energy ledgers close at the same instant (`Batteries.finish`). The clients then shut
down in simulated time, and none of it may count. So everything the results are made
of is taken twice, when the window closes and when recording stops, and must not
have moved (`nothing-after-end`). And a transmitter's holds of the medium (airtime over
its duty cycle) never overlap, so those within the run fit in it; past its end lies at
most the hold of the one frame then on air or just sent (a duty-cycled radio is silent
after it), so a duty cycle's share of the run is exceeded by at most one frame's airtime
(`held-within-run`). Anything booked ahead and not taken back at the end (bytes counted
for frames that would go out after it) shows as more.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.net.counts import moved_counts

__all__ = ["held_within_run", "nothing_after_end"]

AFTER = "nothing-after-end"


@invariant(
    AFTER,
    "every count the results are made of (link bytes and packets, transmitters' busy and "
    "held time, devices' energy by use) is the same when recording stops as when the "
    "run's window closed: nothing is counted after the run's end",
    needs=("evidence", "summary"),
)
def nothing_after_end(result: Any) -> Iterator[Violation]:
    ev = getattr(result, "evidence", None)
    at_end = getattr(ev, "counted_at_end", None)
    at_close = getattr(ev, "counted_at_close", None)
    if not at_end or not at_close:
        return
    end = float(result.summary["sim_time_s"])
    closed = float(getattr(ev, "closed_s", end))
    for key, before, after in moved_counts(at_end, at_close):
        yield Violation(
            AFTER,
            f"{key}: {_shown(before)} at the run's end (t={end:g} s), {_shown(after)} when "
            f"recording stopped (t={closed:g} s): counted after the run ended",
        )


def _shown(value: float | None) -> object:
    """A count as it was counted: bytes and packets are whole (kept as doubles)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


HELD = "held-within-run"


@invariant(
    HELD,
    "every transmitter's holds of the medium (airtime over its duty cycle) fit in the run: "
    "those within it sum to at most its length, and past its end lies at most the hold of "
    "one largest frame (on air or just sent then); so busy time is at most the duty "
    "cycle's share of the run plus one frame's airtime",
    needs=("transmitters", "summary"),
)
def held_within_run(result: Any) -> Iterator[Violation]:
    uses = getattr(result, "transmitters", None) or ()
    end = float(result.summary["sim_time_s"])
    for use in uses:
        past = use.held_past_end_s
        if past > use.frame_hold_s * (1.0 + 1e-9) + 1e-9:
            yield Violation(
                HELD,
                f"transmitter {use.name}: its bookings hold {past:.6g} s of the medium past "
                f"the run's end (t={end:g} s), more than one largest frame's "
                f"{use.frame_hold_s:.6g} s: something booked ahead was never taken back "
                "when the run ended, and was counted",
            )
        within = use.held_s - past
        if within > end * (1.0 + 1e-9) + 1e-9:
            yield Violation(
                HELD,
                f"transmitter {use.name}: its bookings hold {within:.9g} s of a run of "
                f"{end:g} s (busy {use.busy_s:.6g} s at duty cycle {use.duty_cycle:g}): "
                "holds overlap, or were counted and never booked",
            )
