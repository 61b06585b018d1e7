"""What the devices had spent by an instant: their ledgers less what was charged ahead.

Why: the ledger charges some energy before the time it pays for. Flow fidelity books
a whole window at once and a duty-cycled radio's queue holds frames for long, and
their airtime is charged at booking (`Batteries.airtime`); a booking's wait for the
medium is charged with it (`Batteries.wake`, `WaitsAhead`); a training is charged at
its start (`Batteries.compute`). A cut takes back what had not gone out by then, and
the run's end refunds the rest of a training (`Batteries.finish`), so the run's
totals cover [0, end]; a round's energy must cover [0, round end] the same way, or a
round counts energy a later round, or no round at all, spends (rounds + `after` =
run, with `after` negative). So the energy a round closes with is the ledger as a
cut at its end would leave it: less the airtime (and LoRa receive windows) of what
the channels booked for after it (the records a round's bytes use,
`booked_parts_after`), less the waits charged for after it, less the part of a
training past it, plus the quiet time the radio accrued by then. A time-limited run
that ends at that instant closes its ledgers to the same total (the auditor's
`round-energy-spent`).

A device whose battery ran dry is counted in full: its ledger stopped, and a cut
refunds nothing to it (docs/energy.md, "A battery runs dry"). A battery device is
never counted past what it held, as its ledger never spends it (`Batteries.
_settle_empty`, at its death or the run's end): a charge past its level that pays for
nothing after `at` (its quiet time, charged lazily up to the instant it ran dry; its
death comes after a zero-delay event) leaves the ledger once it
dies or the run ends, so a round closing before that counts what it held.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fedsim.net.rest import Run, rewind

__all__ = ["Unsent", "spent_by"]

Unsent = tuple[Any, int, int]
"""(link counters, wire bytes, packets) a channel booked and had not sent by then."""


def _airtime_ahead(
    metered: Mapping[int, tuple[Any, int]], unsent: Iterable[Unsent]
) -> dict[str, list[float]]:
    """node -> [radio seconds, joules] of the unsent frames on its own link, as a cut
    takes them back (`Batteries.airtime` and `_windows` with negative changes)."""
    out: dict[str, list[float]] = {}
    for counters, wire, packets in unsent:
        hit = metered.get(id(counters))
        if hit is None:
            continue
        battery, d = hit
        radio = battery.radio
        if radio is None or battery.empty_at is not None:
            continue
        dt = packets * radio.per_frame_s[d] + wire * radio.per_byte_s[d]
        joules = dt * (radio.rx_w if d else radio.tx_w)
        if packets and not d and radio.windows_s:  # LoRa Class A: RX1 + RX2 per frame
            windows = packets * radio.windows_s
            dt += windows
            joules += windows * radio.tail_w
        acc = out.get(battery.node)
        if acc is None:
            out[battery.node] = [dt, joules]
        else:
            acc[0] += dt
            acc[1] += joules
    return out


def _unpromoted_j(radio: Any, run: Run) -> float:
    """What giving back the promotion of a span taken back whole changes (the quiet time
    it replaced, less the promotion: `Batteries._unpromote`)."""
    promo = run.promotion_s
    if promo <= 0.0:
        return 0.0
    _, idle_j, _, sleep_j, _ = radio.unpromoted_gap(run.start, run.before, promo)
    return idle_j + sleep_j - promo * radio.promotion_w


def spent_by(
    ledgers: Mapping[str, Any],
    metered: Mapping[int, tuple[Any, int]],
    nodes: Iterable[str],
    at: float,
    unsent: Iterable[Unsent],
    cap: bool = True,
) -> float:
    """Joules `nodes` had spent by `at` (the clock, or before it since the last charge):
    their ledgers (`Battery`) less what was charged for after `at`, plus the quiet time
    accrued by `at` and not yet charged. `metered` maps id(counters) of a device's own
    link to (its ledger, direction); `unsent` is what the live channels had not sent by
    `at`. Nothing is charged. With `cap`, a battery's quiet time is counted up to what
    it held (its lazy drain timer retires it then)."""
    airtime = _airtime_ahead(metered, unsent)
    total = 0.0
    for node in nodes:  # (every device at every round's end: kept to plain steps)
        b = ledgers.get(node)
        if b is None:
            continue
        s = b.spent
        total += (s["compute"] + s["other"]) + (s["tx"] + s["rx"] + s["idle"] + s["sleep"])
        if b.empty_at is not None:
            continue
        shift = back = 0.0
        air = airtime.get(node)
        if air is not None:
            shift, back = air
        if b.waits is not None:
            for dt, _kind, power in b.waits.pending_after(at):
                shift += dt
                back += dt * power
        back += b.compute_after(at)
        accounted = b.accounted_until - shift
        base = b.activity_end
        if shift > 0.0 and b.radio is not None:  # as the ledger's take-back (`_rewind`)
            gone, base = rewind(b.runs, base, accounted)
            for run in list(b.runs)[len(b.runs) - gone :]:
                back -= _unpromoted_j(b.radio, run)
        total -= back
        left = b.level_j + back  # what it held at `at` by its ledger
        if at > accounted and b.radio is not None:
            _, idle_j, _, sleep_j, _ = b.radio.gap_parts(accounted - base, at - base)
            pending = idle_j + sleep_j
            if cap and b.capacity_j is not None and pending > left:
                pending = max(left, 0.0)
            total += pending
        if cap and b.capacity_j is not None and left < 0.0:
            total += left  # charged past what it held by `at`: its ledger keeps what it held
    return total
