"""Packets dropped on the wire and packets refused, summed from links.csv: what
`fedsim compare` and report.html show of a run's failed packets.

Why its own module: links.csv counts two different failures per link direction
(`fedsim.record.schema.PACKET_FATES`): a drop was sent and lost on the wire (the loss
model; its bytes are `lost_bytes`), a refusal never went out (the link down, a full
drop-tail queue; no bytes). A lossy radio shows as drops, a cut link as refusals; one
number for both would hide which. Compare's rows, the report's table and docs/results.md
take their names and definitions from the schema through here, and every figure is a
plain sum of links.csv's rows, so it can be checked against the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from typing import Any

from fedsim.record.html import html_table
from fedsim.record.schema import PACKET_FATES, LinkRow
from fedsim.record.transport_words import run_transport

__all__ = [
    "DROPPED",
    "REFUSED",
    "SENT",
    "PacketTotals",
    "definition",
    "packet_totals",
    "packets_html",
    "refused_recorded",
    "run_packets",
]

DROPPED = PACKET_FATES["drops"][0]
"""`dropped on the wire`: links.csv `drops`."""
REFUSED = PACKET_FATES["refused"][0]
"""`refused, never sent`: links.csv `refused`."""
SENT = "sent"
"""links.csv `packets`: what went out on a link direction (drops among them)."""


@dataclass(frozen=True)
class PacketTotals:
    """Sums of links.csv rows: link directions, packets sent, dropped, lost bytes, refused."""

    links: int
    packets: int
    drops: int
    lost_bytes: int
    refused: int


def packet_totals(rows: Iterable[LinkRow]) -> PacketTotals | None:
    """The sums over `rows` (every link direction given); None without a row (no
    links.csv, or a deployment run's empty one: its network is not observed)."""
    rows = list(rows)
    if not rows:
        return None
    return PacketTotals(
        links=len(rows),
        packets=sum(int(r.packets) for r in rows),
        drops=sum(int(r.drops) for r in rows),
        lost_bytes=sum(int(r.lost_bytes) for r in rows),
        refused=sum(int(r.refused) for r in rows),
    )


def refused_recorded(run: Any) -> bool:
    """Whether the run's links.csv has a `refused` column. An older fedsim wrote none and
    counted refusals among `drops` (docs/results.md, `drops-reconcile`), so neither of
    its counts means what these rows say. A run held only in memory counts as recorded."""
    path = run.path / "links.csv"
    if not path.is_file():
        return True
    with path.open(encoding="utf-8") as fh:
        header = fh.readline()
    return "refused" in header.strip().split(",")


def run_packets(run: Any) -> PacketTotals | None:
    """`packet_totals` of every links.csv row of `run`; None where it has none, or where
    its links.csv predates `refused` (its drops then hold refusals)."""
    if not run.links or not refused_recorded(run):
        return None
    return packet_totals(run.links)


def definition(transports: Iterable[str] = ("http", "mqtt", "coap")) -> str:
    """Which is which, in one paragraph: the schema's definitions, what is summed, and
    where refusals come from for the runs' `transports` (fl.transport) only: a CoAP
    run's report names neither HTTP nor TCP."""
    drops, refused = PACKET_FATES["drops"], PACKET_FATES["refused"]
    text = (
        "Link packets are sums over every links.csv row (each link, each direction; a "
        "packet counts on every hop it crosses or is turned away at). "
        f"{drops[0].capitalize()} (`drops`): {drops[1]}. "
        f"{refused[0].capitalize()} (`refused`): {refused[1]}."
    )
    given = set(transports)
    waiting = [name for name in ("http", "mqtt") if name in given]
    if waiting:
        text += (
            f" Over {' and '.join(n.upper() for n in waiting)} a device whose own link is "
            "down knows it and waits, sending nothing: a gateway or first-hop outage shows "
            "as links.csv `down_time_s` and dropouts, and refusals come from a hop farther "
            "on (a cut backhaul) or a full queue."
        )
    if "coap" in given:
        text += (
            " Over CoAP the server still sends its datagrams toward a device or gateway it "
            "cannot reach, and they are refused on the way down; a cut farther on or a full "
            "queue refuses too."
        )
    return text


def _cells(name: str, t: PacketTotals) -> list[Any]:
    return [name, t.links, t.packets, t.drops, t.lost_bytes, t.refused]


def packets_html(run: Any) -> str:
    """The report's section: every link's totals, then per link class (links.csv `kind`),
    with the definitions; '' for a run without links.csv rows."""
    if not run.links:
        return ""
    total = run_packets(run)
    if total is None:
        return (
            '<p class="sub">This run\'s links.csv has no `refused` column: the fedsim that '
            "wrote it counted packets refused at a down link or a full queue among "
            "`drops`, so neither count is shown.</p>"
        )
    kinds = sorted({r.kind for r in run.links})
    rows = [_cells("all links", total)]
    for kind in kinds:
        t = packet_totals(r for r in run.links if r.kind == kind)
        if t is not None:
            rows.append(_cells(kind, t))
    headers = [
        "link class",
        "link directions",
        f"packets {SENT}",
        DROPPED,
        "lost bytes (of dropped)",
        REFUSED,
    ]
    cards = "".join(
        f'<div class="card"><b>{n}</b><span>{escape(label)}</span></div>'
        for label, n in (
            (f"packets {DROPPED}", total.drops),
            (f"packets {REFUSED}", total.refused),
        )
    )
    return "\n".join(
        [
            f'<p class="sub">{escape(definition([run_transport(run.config)]))}</p>',
            f'<div class="cards">{cards}</div>',
            html_table(headers, rows, "packets"),
        ]
    )
