"""Energy: one source of truth, parts that add up, airtime that matches the bytes, and a
battery cannot pay for more than it held.

A device's energy is what its ledger (fedsim.net.battery) charged; clients.csv writes
it. The radio's part is TX + RX airtime + idle + sleep, and its airtime is what the
link's radio (fedsim.net.radio) gives for the wire bytes and frames the ledger
charged, which are those its own link counted (links.csv), a dead device's too (its
death's cut refunded what had not gone out). The radio's states cover its time without
gaps or overlaps. A battery device's ledger stops at its charge and the device leaves
the network when it runs dry, so it never spends more than it started with and sends
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
_AIRTIME_REL = 1e-6
_PARTS = ("tx", "rx", "idle", "sleep")


@invariant(
    NAME,
    "clients.csv energy (compute, radio, and radio's tx/rx/idle/sleep) equals each device's "
    "energy ledger and its parts sum to its radio total; the ledger's airtime is the link "
    "radio's airtime for the wire bytes and frames it charged, those its own link carried; "
    "a battery device "
    "spends at most its initial charge and sends nothing after its battery ran dry",
    needs=("evidence", "clients", "links", "scenario"),
)
def energy_within_battery(result: Any) -> Iterator[Violation]:
    ev = getattr(result, "evidence", None)
    if ev is None:
        return
    for row in result.clients:
        yield from _row_matches_ledger(row, ev)
    wires = _link_wire_bytes(result)
    nodes = {n.name: n for n in result.scenario.nodes}
    for device, ledger in sorted(ev.energy.items()):
        if ledger.radio:
            yield from _radio_consistent(result, nodes.get(device), device, ledger, wires)
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


def _close(a: float, b: float, rel: float = _REL) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def _row_matches_ledger(row: Any, ev: Any) -> Iterator[Violation]:
    client = str(cell(row, "client"))
    ledger = ev.energy.get(client)
    if ledger is None:
        yield Violation(NAME, f"client {client}: no energy ledger in the evidence")
        return
    want = {"energy_compute_j": ledger.compute_j, "energy_radio_j": ledger.radio_j}
    for part in _PARTS:
        if f"{part}_j" in ledger.radio:
            want[f"energy_{part}_j"] = ledger.radio[f"{part}_j"]
    for column, value in want.items():
        if cell(row, column) in (None, "") and column not in ("energy_compute_j", "energy_radio_j"):
            continue
        have = float(number(row, column))
        if not math.isclose(have, value, rel_tol=_REL, abs_tol=1e-15):
            yield Violation(
                NAME, f"client {client}: clients.csv {column} {have:.9g} != ledger {value:.9g}"
            )
    if all(f"{p}_j" in ledger.radio for p in _PARTS):
        parts = sum(ledger.radio[f"{p}_j"] for p in _PARTS)
        if not _close(parts, ledger.radio_j):
            yield Violation(
                NAME,
                f"client {client}: its ledger's tx + rx + idle + sleep = {parts:.9g} J "
                f"!= its radio total {ledger.radio_j:.9g} J",
            )


def _link_wire_bytes(result: Any) -> dict[tuple[str, str], float]:
    """(link name, up|down) -> wire bytes in links.csv."""
    return {
        (str(cell(r, "link")), str(cell(r, "direction"))): float(number(r, "wire_bytes"))
        for r in result.links
    }


def _radio_consistent(
    result: Any, spec: Any, device: str, ledger: Any, wires: dict[tuple[str, str], float]
) -> Iterator[Violation]:
    sc = result.scenario
    if spec is None or spec.link_class is None:
        return
    radio = sc.links[spec.link_class].radio
    r = ledger.radio
    link = f"{device}-{spec.parent}"
    for d, label, what in ((0, "up", "tx"), (1, "down", "rx")):
        nbytes, frames = r[f"{what}_bytes"], r[f"{what}_frames"]
        if radio is not None:
            want = radio.airtime(d, nbytes, frames)
            if not _close(r[f"{what}_s"], want, _AIRTIME_REL):
                yield Violation(
                    NAME,
                    f"device {device}: {what} airtime {r[f'{what}_s']:.9g} s != its radio's "
                    f"airtime {want:.9g} s for {nbytes:.0f} wire bytes in {frames:.0f} frames",
                )
        counted = wires.get((link, label))
        if counted is None:
            continue
        if nbytes != counted:
            yield Violation(
                NAME,
                f"device {device}: its ledger charged {nbytes:.0f} {what} wire bytes, "
                f"links.csv {link} {label} carried {counted:.0f}",
            )
    states = sum(r[f"{p}_s"] for p in _PARTS)
    if not _close(states, r["accounted_s"], _AIRTIME_REL):
        yield Violation(
            NAME,
            f"device {device}: its radio's states add up to {states:.9g} s, "
            f"not the {r['accounted_s']:.9g} s accounted",
        )


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
