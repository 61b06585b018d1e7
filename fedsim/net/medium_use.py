"""What each transmitter was busy with: its busy time and the link directions it serves.

The auditor reconciles the two (fedsim.audit.airtime): a transmitter is busy only with
frames some link counted, so busy time x rate must equal their wire bits plus
`frame_bits` per frame, its link kind's fixed airtime per frame (`Transmitter.airtime`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fedsim.net.tcp import TcpParams

__all__ = ["MediumUse", "medium_uses"]

_FRAMING = TcpParams().framing_bytes
"""Bytes of link framing beyond an MTU-sized IP packet (a TCP segment or a datagram)."""


@dataclass(frozen=True, slots=True)
class MediumUse:
    name: str
    rate_bps: float
    busy_s: float
    serves: tuple[tuple[str, str], ...]
    """(link name, up|down) of every link direction that books this transmitter."""
    held_s: float = 0.0
    """Seconds its bookings hold the medium (airtime / duty cycle), less what cuts released."""
    duty_cycle: float = 1.0
    frame_bits: float = 0.0
    """A frame's airtime beyond its bytes, as bits at rate_bps (0 on point-to-point links)."""
    held_past_end_s: float = 0.0
    """Of held_s, what lies past the run's end: the rest of the hold of a transmission
    on air or just sent then (`Transmitter.held_past_end`)."""
    frame_hold_s: float = 0.0
    """The hold of the largest frame it carries (an MTU-sized packet with its framing):
    airtime over duty cycle. What lies past the run's end is at most this."""


def medium_uses(links: Iterable[Any]) -> list[MediumUse]:
    """One entry per transmitter of `links` (a shared medium or a half-duplex radio is
    one transmitter serving several link directions), in first-seen order."""
    serves: dict[int, list[tuple[str, str]]] = {}
    txs: dict[int, Any] = {}
    mtu: dict[int, int] = {}
    for link in links:
        for d, label in ((0, "up"), (1, "down")):
            tx = link.tx[d]
            txs.setdefault(id(tx), tx)
            serves.setdefault(id(tx), []).append((link.name, label))
            mtu[id(tx)] = max(mtu.get(id(tx), 0), int(link.mtu))
    return [
        MediumUse(
            tx.name,
            float(tx.rate_bps),
            float(tx.busy_time),
            tuple(serves[key]),
            float(tx.held_time),
            float(tx.duty_cycle),
            float(tx.frame_bits),
            float(tx.held_past_end),
            tx.airtime(mtu[key] + _FRAMING, 1) / float(tx.duty_cycle),
        )
        for key, tx in txs.items()
    ]
