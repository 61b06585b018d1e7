"""A device's radio airtime is what its link's transmitter held the medium for.

The network books, and the energy ledger charges, one airtime per frame (a frame's wire
bytes at the link rate plus its kind's per-frame part: Wi-Fi's inter-frame spaces, PLCP
and MAC ACK, Ethernet's preamble and gap, LoRa's Semtech time on air;
fedsim.net.radio.RadioProfile.airtime, which the transmitters book as `frame_bits`).
Two checks hold the two together from the run's tables:

- `device-airtime-matches-link`: each device's charged TX (RX) airtime in clients.csv is
  what its own link's transmitter is on air for the frames links.csv counts up (down)
  that link: (8 x wire bytes + packets x frame_bits) / rate. A ledger that adds a
  per-frame part the transmitter does not (or the reverse) breaks it, on any medium.
- `busy-matches-radio`: on every transmitter, the devices' charged airtime on the link
  directions it serves adds up to at most its busy time, and to exactly it when it
  serves only devices' own links (a shared half-duplex Wi-Fi cell: its stations' TX
  and RX together). Devices cannot have been on air longer than the medium was busy.

Tolerance: clients.csv writes airtime rounded to 1e-9 s (`round(v, 9)`: 5e-10 per
cell), so a sum over n cells may be off by n x 5e-10 s; the ledger and the transmitter
add the same terms in different orders (bytes then frames per charge, refunds at
once), a relative rounding of about (number of bookings) x 2^-53, under 1e-9 for
any run of fewer than ~10^7 bookings. Anything larger is airtime one side counts and the
other does not: one Wi-Fi frame's per-frame part is 164 us at 20 Mbit/s.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.audit.rows import cell, number

__all__ = ["busy_matches_radio", "device_airtime_matches_link"]

RADIO = "busy-matches-radio"
DEVICE = "device-airtime-matches-link"
_REL = 1e-9
_CELL = 5e-10
"""Half the last digit clients.csv keeps of an airtime (`round(v, 9)`)."""
_COLUMN = {"up": "airtime_tx_s", "down": "airtime_rx_s"}


def _device_links(result: Any) -> dict[str, str]:
    """Link name -> the device whose own (first-hop) link it is, for devices in
    clients.csv."""
    clients = {str(cell(r, "client")) for r in result.clients}
    return {f"{n.name}-{n.parent}": n.name for n in result.scenario.nodes
            if n.kind == "device" and n.parent is not None and n.name in clients}  # fmt: skip


def _tolerance(want: float, cells: int) -> float:
    return _REL * abs(want) + _CELL * cells + 1e-12


@invariant(
    DEVICE,
    "each device's charged airtime (clients.csv airtime_tx_s, airtime_rx_s) is what its own "
    "link's transmitter is on air for the frames links.csv counts up (down) that link: "
    "(8 x wire bytes + packets x frame_bits) / rate, one per-frame airtime for both",
    needs=("transmitters", "scenario", "clients", "links"),
)
def device_airtime_matches_link(result: Any) -> Iterator[Violation]:
    uses = getattr(result, "transmitters", None) or ()
    if not uses or getattr(result, "scenario", None) is None:
        return
    owner = _device_links(result)
    if not owner:
        return
    clients = {str(cell(r, "client")): r for r in result.clients}
    rows = {(str(cell(r, "link")), str(cell(r, "direction"))): r for r in result.links}
    for use in uses:
        for link, label in use.serves:
            device = owner.get(link)
            row = rows.get((link, label))
            if device is None or row is None:
                continue
            wire, frames = number(row, "wire_bytes"), number(row, "packets")
            want = (wire * 8.0 + frames * use.frame_bits) / use.rate_bps
            got = number(clients[device], _COLUMN[label])
            if abs(got - want) > _tolerance(want, 1):
                yield Violation(
                    DEVICE,
                    f"device {device}: {_COLUMN[label]} {got:.9g} s, but transmitter "
                    f"{use.name} is on air {want:.9g} s for the {frames:.0f} frames of "
                    f"{wire:.0f} wire bytes links.csv counts {link} {label} "
                    f"({got - want:+.6g} s, {(got - want) / frames if frames else 0.0:+.3g} s "
                    "a frame: the energy ledger and the network disagree on a frame's airtime)",
                )


@invariant(
    RADIO,
    "on every transmitter the devices' charged airtime on the link directions it serves "
    "(clients.csv airtime_tx_s up, airtime_rx_s down) adds up to at most its busy time, "
    "and to exactly it when it serves only devices' own links (a shared half-duplex cell: "
    "its stations' TX + RX): no device is on air longer than the medium was busy",
    needs=("transmitters", "scenario", "clients"),
)
def busy_matches_radio(result: Any) -> Iterator[Violation]:
    uses = getattr(result, "transmitters", None) or ()
    if not uses or getattr(result, "scenario", None) is None:
        return
    owner = _device_links(result)
    if not owner:
        return
    clients = {str(cell(r, "client")): r for r in result.clients}
    for use in uses:
        mine = [(owner[link], label) for link, label in use.serves if link in owner]
        if not mine:
            continue
        want = math.fsum(number(clients[d], _COLUMN[label]) for d, label in mine)
        only = len(mine) == len(use.serves)
        slack = _tolerance(use.busy_s, len(mine))
        if want > use.busy_s + slack or (only and use.busy_s > want + slack):
            names = ", ".join(sorted({d for d, _ in mine}))
            if len(names) > 200:
                names = f"{len({d for d, _ in mine})} devices"
            yield Violation(
                RADIO,
                f"transmitter {use.name}: busy {use.busy_s:.9g} s, but the energy ledger of "
                f"{names} charged {want:.9g} s of airtime on it ({use.busy_s - want:+.6g} s: "
                "the network and the radio disagree on a frame's time on air)",
            )
