"""A battery that spent all it held ran dry then, and one that ran dry spent all it held.

A battery's death is noticed by a drain timer (its radio quiet) or by the charge that
empties it (fedsim.net.battery). A timer set from the periodic wakes' average power
fired after the wake that emptied it: a run ending in between settled a ledger that had
spent all it held (2.5 J of 2.5 J) with no death (no time of death, no `battery` row
in timeline.csv, the device alive to the end), and one ending later dated the death 13.7 s
after that wake. Nothing caught it: `energy-within-battery` checks only that a battery
spends at most what it held, and `silent-radio-at-rest` leaves out a ledger that spent
it all.

So, per battery device: spent all it held (to `DRY_REL` of it) if and only if its
battery ran dry (`empty_at` set); and one that ran dry before the run's end is offline
from that instant to the end, for its battery (a device that churned out first stays
offline for churn: it left for good before, and its path's cause stays the first).
The tolerance: a ledger that ran dry is settled to exactly its charge (its parts' sum
rounds to ~1e-15 of it), and the ledger counts a battery left with under a billionth of
its charge at the end as dry (`Batteries.finish`; printed to 9 digits it is empty), so
both sides of `DRY_REL` are told apart by far more than rounding. A death at the run's
end itself has no timeline row (an interval of zero length): only its ledger shows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.audit.intervals import fmt
from fedsim.audit.rows import cell, number
from fedsim.net.drain import DRY_REL
from fedsim.net.radio_table import class_radio

__all__ = ["spent_all_ran_dry"]

NAME = "spent-all-ran-dry"
_TOL_S = 1e-9
_FOR_GOOD = ("battery", "churn")
"""Timeline causes of a device offline for good (a churned device's battery can still
run dry: its retirement keeps the first cause)."""


@invariant(
    NAME,
    "a battery device that spent all it held (to 1e-9 of it) ran dry (its energy ledger "
    "has a time of death), one that ran dry spent all it held, and one that ran dry "
    "before the run's end is offline from that instant to the end, for its battery (or "
    "a churn before); a device whose radio carried no frame and that computed nothing "
    "ran dry when its radio's at-rest draw (periodic wakes at their instants) reached "
    "its charge",
    needs=("evidence", "timeline", "scenario"),
)
def spent_all_ran_dry(result: Any) -> Iterator[Violation]:
    ev = getattr(result, "evidence", None)
    if ev is None:
        return
    sc = result.scenario
    nodes = {n.name: n for n in sc.nodes}
    spans: dict[str, list[tuple[float, float, str, str]]] = {}
    for iv in result.recorder.timeline:
        spans.setdefault(str(cell(iv, "client")), []).append(
            (number(iv, "start_s"), number(iv, "end_s"), str(cell(iv, "state")),
             str(cell(iv, "cause") or ""))
        )  # fmt: skip
    for device, ledger in sorted(ev.energy.items()):
        held = ledger.initial_j
        if held is None:
            continue
        spent = ledger.compute_j + ledger.radio_j
        dry = spent >= held - DRY_REL * held
        died = ledger.empty_at
        if dry and died is None:
            yield Violation(
                NAME,
                f"device {device}: its battery spent {spent:.9g} J of the {held:.9g} J it "
                f"held, yet it never ran dry (no time of death: the device counted alive)",
            )
        elif died is not None and not dry:
            yield Violation(
                NAME,
                f"device {device}: its battery ran dry at {fmt(died)} having spent "
                f"{spent:.9g} J of the {held:.9g} J it held",
            )
        elif died is not None and died < ev.end_s - _TOL_S:
            yield from _offline_after(device, died, ev.end_s, spans.get(device, []))
        spec = nodes.get(device)
        if died is None or spec is None or spec.link_class is None or not _silent(ledger):
            continue
        yield from _died_at_rest(device, class_radio(sc.links[spec.link_class]), held, died)


def _silent(ledger: Any) -> bool:
    """Its radio carried no frame and waited for none, and it computed nothing: all it
    spent is its radio's at-rest draw (`silent-radio-at-rest`)."""
    r = ledger.radio
    keys = ("tx_bytes", "rx_bytes", "tx_frames", "rx_frames")
    if not r or any(k not in r for k in keys) or any(r[k] for k in keys):
        return False
    return not r.get("waited_s", 0.0) and not ledger.compute_j


def _died_at_rest(device: str, radio: Any, held: float, died: float) -> Iterator[Violation]:
    """A radio at rest from t = 0 (where every run starts it) draws what `gap_parts`
    charges: by `died` that reaches `held`, and a clock tick before it does not (the
    ledger finds a death to 1e-9 of its time)."""
    rest = radio.rest_s

    def drawn(t: float) -> float:
        _, idle_j, _, sleep_j, _ = radio.gap_parts(rest, rest + t)
        return idle_j + sleep_j

    before = died - _TOL_S * max(1.0, died)
    if died > 0.0 and drawn(before) >= held:
        yield Violation(
            NAME,
            f"device {device}: its radio carried no frame, and at rest it had drawn the "
            f"{held:.9g} J its battery held before {before!r} s, yet it ran dry only at "
            f"{died!r} s (noticed late: a drain timer past a periodic wake?)",
        )
    elif drawn(died) < held - DRY_REL * held:
        yield Violation(
            NAME,
            f"device {device}: its radio carried no frame, and at rest it had drawn "
            f"{drawn(died):.9g} J of the {held:.9g} J its battery held by {fmt(died)}, "
            f"when it ran dry",
        )


def _offline_after(
    device: str, died: float, end: float, spans: list[tuple[float, float, str, str]]
) -> Iterator[Violation]:
    """Its timeline from `died` to `end`: offline for good, the battery's part from
    `died` on."""
    after = sorted(s for s in spans if s[1] > died + _TOL_S and s[0] < end)
    if not after:
        yield Violation(NAME, f"device {device}: ran dry at {fmt(died)}; no timeline after")
        return
    for start, stop, state, cause in after:
        if state != "offline" or cause not in _FOR_GOOD:
            yield Violation(
                NAME,
                f"device {device}: its battery ran dry at {fmt(died)}, yet timeline.csv "
                f"shows it {state}{f' ({cause})' if cause else ''} {fmt(start)}-{fmt(stop)}",
            )
            return
    first = next((s for s in after if s[3] == "battery"), None)
    if first is None:
        return  # it churned out before: offline for churn to the end
    if abs(first[0] - died) > _TOL_S:
        yield Violation(
            NAME,
            f"device {device}: its battery ran dry at {fmt(died)}, but timeline.csv "
            f"shows it offline for its battery from {fmt(first[0])}",
        )
