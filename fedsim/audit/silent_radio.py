"""A radio that carried no frame all run was at rest all run.

Every radio starts the run at rest (asleep, or idle where it never sleeps) and only a
frame wakes it: its airtime, the wait before it, a promotion, and the tail after it all
follow a frame (docs/energy.md, "Between frames"). So a device whose ledger charged no
wire byte and no frame either way, and no airtime, was in the radio's at-rest state for
all the time its ledger accounted: its idle and sleep seconds and joules are exactly
that state's (`RadioProfile.gap_parts` from the rest it starts in), TAU wakes included.
A tail, a wait or a promotion charged without a frame is energy the radio never spent:
a booking taken back whole (a connect on a link cut from t = 0) used to leave its tail
charged (an LTE tail of 11.576 s at 1060 mW; NB-IoT's connected tail and T3324).

Left out: a device whose battery ran dry (its ledger stopped at its charge, so its
parts were cut to it; `energy-within-battery` checks that, and `spent-all-ran-dry` that
one which spent all it held did run dry), and one
whose bookings waited with frames queued (`waited_s`: a busy or duty-cycled medium; the
radio was awake for them even if none left before a cut or the end, as a fuzz campaign
found: an LTE SYN queued behind a 1 % duty cycle all of a 33 ms run).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.net.radio_table import class_radio

__all__ = ["silent_radio_at_rest"]

NAME = "silent-radio-at-rest"
_REL = 1e-9
_CARRIED = ("tx_bytes", "rx_bytes", "tx_frames", "rx_frames")
"""(Not the airtime: frames charged and taken back can leave 1e-21 s of it, rounding.)"""
_KEYS = (*_CARRIED, "idle_s", "idle_j", "sleep_s", "sleep_j", "accounted_s")


@invariant(
    NAME,
    "a device whose radio carried no frame all run (no wire byte or frame either way) "
    "was charged exactly its radio's at-rest idle and sleep (seconds and joules) "
    "over the time its ledger accounted: no tail, wait or promotion without a frame",
    needs=("evidence", "scenario"),
)
def silent_radio_at_rest(result: Any) -> Iterator[Violation]:
    ev = getattr(result, "evidence", None)
    if ev is None:
        return
    sc = result.scenario
    nodes = {n.name: n for n in sc.nodes}
    for device, ledger in sorted(ev.energy.items()):
        r = ledger.radio
        spec = nodes.get(device)
        if not r or ledger.empty_at is not None or spec is None or spec.link_class is None:
            continue
        if r.get("waited_s", 0.0) > 0.0:
            continue
        if any(k not in r for k in _KEYS) or any(r[k] for k in _CARRIED):
            continue
        yield from _at_rest(device, class_radio(sc.links[spec.link_class]), r)


def _at_rest(device: str, radio: Any, r: dict[str, float]) -> Iterator[Violation]:
    rest = radio.rest_s
    span = float(r["accounted_s"])
    idle_s, idle_j, sleep_s, sleep_j, _ = radio.gap_parts(rest, rest + span)
    want = {"idle_s": idle_s, "idle_j": idle_j, "sleep_s": sleep_s, "sleep_j": sleep_j}
    for key, value in want.items():
        have = float(r[key])
        if not math.isclose(have, value, rel_tol=_REL, abs_tol=1e-12):
            unit = "J" if key.endswith("_j") else "s"
            yield Violation(
                NAME,
                f"device {device}: its radio carried no frame, yet its ledger charged "
                f"{key[:-2]} {have:.9g} {unit} over its {span:.9g} s; at rest all that time "
                f"it is {value:.9g} {unit} (a tail, wait or promotion without a frame)",
            )
            return
