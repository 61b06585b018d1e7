"""Energy: one source of truth, and a battery cannot pay for more than it held.

A device's energy is what its ledger (fedsim.net.battery) charged; clients.csv
writes it. A battery device's ledger stops at its charge and the device leaves the
network when it runs dry, so it never spends more than it started with and sends
no message after that instant.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from fedsim.audit import Violation, invariant
from fedsim.audit.intervals import fmt
from fedsim.audit.rows import cell, number

__all__ = ["energy_within_battery"]

NAME = "energy-within-battery"
_REL = 1e-9


@invariant(
    NAME,
    "clients.csv energy (compute, radio) equals each device's energy ledger; a battery "
    "device spends at most its initial charge and sends nothing after its battery ran dry",
)
def energy_within_battery(result: Any) -> Iterator[Violation]:
    ev = getattr(result, "evidence", None)
    if ev is None:
        return
    for row in result.clients:
        client = str(cell(row, "client"))
        ledger = ev.energy.get(client)
        if ledger is None:
            yield Violation(NAME, f"client {client}: no energy ledger in the evidence")
            continue
        for column, want in (
            ("energy_compute_j", ledger.compute_j),
            ("energy_radio_j", ledger.radio_j),
        ):
            have = float(number(row, column))
            if not math.isclose(have, want, rel_tol=_REL, abs_tol=1e-15):
                yield Violation(
                    NAME, f"client {client}: clients.csv {column} {have:.9g} != ledger {want:.9g}"
                )
    for device, ledger in sorted(ev.energy.items()):
        if ledger.initial_j is None:
            continue
        spent = ledger.compute_j + ledger.radio_j
        if spent > ledger.initial_j * (1 + _REL) + 1e-15:
            yield Violation(
                NAME,
                f"device {device}: spent {spent:.9g} J, its battery held {ledger.initial_j:.9g} J",
            )
        if ledger.empty_at is not None:
            yield from _sent_after_empty(ev, device, ledger.empty_at)


def _sent_after_empty(ev: Any, device: str, empty_at: float) -> Iterator[Violation]:
    m = ev.messages
    if not len(m) or device not in ev.devices:
        return
    mine = (m.device == ev.devices.index(device)) & (m.direction == 0) & (m.sent > empty_at)
    late = np.flatnonzero(mine)
    if late.size:
        i = int(late[0])
        yield Violation(
            NAME,
            f"device {device}: battery empty at {fmt(empty_at)}, yet it sent {late.size} "
            f"message(s), the first at {fmt(float(m.sent[i]))} ({int(m.payload[i])} bytes)",
        )
