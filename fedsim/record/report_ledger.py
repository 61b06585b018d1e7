"""The report's byte-ledger section: where a run's bytes went, read without a CSV.

Why its own module: the report page is assembled elsewhere (fedsim.record.report); this
renders ledger.csv (fedsim.record.ledger) as three small tables (the devices' first hops
by class, every link class, every device group) and the figures a study quotes, with one
call from the page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from fedsim.record.compare import format_value, human_bytes
from fedsim.record.runs import RunData
from fedsim.record.schema import LedgerRow, LinkRow
from fedsim.record.transport_words import TransportWords, run_transport, words_for

__all__ = [
    "Carriage",
    "carriage",
    "ledger_html",
    "ledger_shares",
    "not_carried_bytes",
    "whole_bytes",
]

_PARTS = ("model_bytes", "protocol_bytes", "header_bytes", "control_bytes", "retx_bytes")
"""The row's whole, part by part: payload handed over (model + protocol) and what the
transport added. They add up to `whole_bytes`, so their percentages add up to 100 %."""


def _headers(words: TransportWords) -> list[str]:
    return [
        "model",
        words.protocol_label,
        words.headers_label,
        words.control,
        "retransmitted",
        "wire",
        "of payload: not carried",
        "of wire: lost",
    ]


@dataclass(frozen=True)
class Carriage:
    """How a row's payload crossed its links, hop by hop (the ledger's classes alone
    cannot say it past a path's first hop).

    On a first hop (a device's link upward, a link out of the server downward) every
    byte a copy carried went out first as data: payload - data is what the sender never
    sent (a transfer cut short). Past the first hop, a segment whose first copy an
    earlier hop lost crosses only as a retransmission (in `retx`, not `data`), so there
    payload - data also holds bytes that did cross. What no copy carried across a later
    hop is what its traffic's first hops never sent (`upstream_gap`), at most its own
    payload - data; bytes a broken connection stranded between two hops are not told
    apart (they read as carried)."""

    first_gap: int
    """payload - data of the row's first hops."""
    later_gap: int = 0
    """payload - data of its later hops."""
    upstream_gap: int = 0
    """payload - data of the first hops the later hops' traffic left from."""

    @property
    def not_carried(self) -> int:
        """Payload handed over that no copy carried across the row's links."""
        return self.first_gap + min(self.later_gap, self.upstream_gap)

    @property
    def recovered(self) -> int:
        """Payload that crossed later hops only as retransmissions: in the row's payload
        and its `retx` alike, so counted once (as payload) in the row's whole."""
        return self.later_gap - min(self.later_gap, self.upstream_gap)


def _gap(row: Any) -> int:
    return int(row.payload_bytes) - int(row.data_bytes)


class _Paths:
    """Where each link direction of links.csv sits on the devices' paths."""

    def __init__(self, links: Sequence[LinkRow]) -> None:
        self.near = {r.b for r in links}
        """Nodes some link leads up to (gateways, the server)."""
        self.far = {r.a for r in links}
        """Nodes some link leads up from (devices, gateways)."""
        self.up_into: dict[str, list[LinkRow]] = {}
        self.down_from: dict[str, LinkRow] = {}
        for r in links:
            if r.direction == "up":
                self.up_into.setdefault(r.b, []).append(r)
            else:
                self.down_from[r.a] = r

    def first(self, r: LinkRow) -> bool:
        """`r` is its traffic's first hop."""
        return r.a not in self.near if r.direction == "up" else r.b not in self.far

    def sources(self, r: LinkRow) -> list[LinkRow]:
        """The first hops `r`'s traffic left from: upward the devices' links below it,
        downward the server's link above it."""
        if r.direction == "down":
            top = r
            while not self.first(top) and top.b in self.down_from:
                top = self.down_from[top.b]
            return [top]
        out, todo = [], [r.a]
        while todo:
            for below in self.up_into.get(todo.pop(), ()):
                (out.append(below) if self.first(below) else todo.append(below.a))
        return out


def _row_links(row: LedgerRow, links: Sequence[LinkRow], clients: Sequence[Any]) -> list[LinkRow]:
    """The links.csv rows a ledger row sums (its scope's: fedsim.record.ledger)."""
    if row.scope == "link_class":
        return [r for r in links if r.kind == row.key and r.direction == row.direction]
    profile = {c.client: c.device for c in clients}
    return [
        r
        for r in links
        if r.a in profile
        and r.direction == row.direction
        and (row.scope != "group" or profile[r.a] == row.key)
    ]


def carriage(
    row: LedgerRow, links: Sequence[LinkRow] = (), clients: Sequence[Any] = ()
) -> Carriage:
    """`row`'s `Carriage`, from the links.csv rows it sums (`links`, `clients` for the
    devices' links); without them (a round row, a ledger read alone), as a first hop's.
    Upward the later hops' sources are their own (every byte a device sends crosses its
    gateways' uplinks); downward several later hops share one source, so the row's
    figure is the least of its later gap and their sources' gap: exact for a row that
    holds every link below those sources (the run's, a link class's), at most that for
    a part of them (a device group)."""
    mine = _row_links(row, links, clients) if row.scope in ("run", "group", "link_class") else []
    if not mine:
        return Carriage(_gap(row))
    paths = _Paths(links)
    first = [r for r in mine if paths.first(r)]
    later = [r for r in mine if not paths.first(r)]
    if not later:
        return Carriage(_gap(row))
    gap = _gap(row) - sum(map(_gap, first))  # (the row's own sums: equal to its links')
    if row.direction == "up":  # each later hop carries all its sources' bytes
        upstream = sum(min(_gap(r), sum(map(_gap, paths.sources(r)))) for r in later)
        return Carriage(_gap(row) - gap, gap, min(gap, upstream))
    sources = {s.link: s for r in later for s in paths.sources(r)}
    return Carriage(_gap(row) - gap, gap, sum(map(_gap, sources.values())))


def whole_bytes(row: LedgerRow, carried: Carriage | None = None) -> int:
    """The row's wire bytes plus the payload handed over that no copy carried (a
    transfer cut short, a link down): what its parts add up to."""
    carried = carried or carriage(row)
    return int(row.wire_bytes) + carried.not_carried


def not_carried_bytes(row: LedgerRow, carried: Carriage | None = None) -> int:
    """Payload handed over that no copy carried across the row's links (`Carriage`)."""
    return (carried or carriage(row)).not_carried


def _parts(row: LedgerRow, carried: Carriage) -> dict[str, int]:
    """The row's whole, part by part: payload handed over (model + protocol) and what the
    transport added, less, from the retransmitted bytes, the payload later hops saw only
    as retransmissions (already counted as payload): they add up to `whole_bytes`."""
    parts = {f: int(row[f]) for f in _PARTS}
    parts["retx_bytes"] -= carried.recovered
    return parts


def ledger_shares(row: LedgerRow, carried: Carriage | None = None) -> dict[str, int]:
    """Each part's whole percentage of the row's whole, rounded so that they add up to
    exactly 100 (largest remainder; empty for a row without bytes): five parts each
    rounded alone could show 98 % or 102 %."""
    carried = carried or carriage(row)
    parts = _parts(row, carried)
    whole = sum(parts.values())
    if not whole:
        return {}
    exact = {f: 100 * parts[f] / whole for f in _PARTS}
    shares = {f: int(v) for f, v in exact.items()}
    short = 100 - sum(shares.values())
    for f in sorted(_PARTS, key=lambda f: (shares[f] - exact[f], _PARTS.index(f)))[:short]:
        shares[f] += 1
    return shares


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return (
        f'<div class="scroll"><table class="ledger"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _cells(row: LedgerRow, run: RunData) -> list[str]:
    carried = carriage(row, run.links, run.clients)
    whole = whole_bytes(row, carried)
    shares = ledger_shares(row, carried)

    def cell(n: int) -> str:
        return human_bytes(n) + (f" ({100 * n / whole:.0f}%)" if whole else "")

    return [
        *(human_bytes(int(row[f])) + (f" ({shares[f]}%)" if shares else "") for f in _PARTS),
        human_bytes(row.wire_bytes),
        cell(carried.not_carried),
        cell(int(row.lost_bytes)),
    ]


def _scope_rows(run: RunData, scope: str) -> list[list[str]]:
    return [
        [row.key or "all devices", row.direction, str(row.links), *_cells(row, run)]
        for row in run.ledger
        if row.scope == scope
    ]


def _figures(run: RunData) -> str:
    s = run.summary
    share = s.get("overhead_share")
    items = [
        ("wire bytes per accepted update", format_value("bytes", s.get("wire_bytes_per_update"))),
        ("share of wire that is not model", "—" if share is None else f"{100 * share:.1f}%"),
        ("wire bytes to target", format_value("bytes", s.get("wire_bytes_to_target"))),
        ("energy to target, all devices", format_value("energy_j", s.get("energy_to_target_j"))),
    ]
    cards = "".join(
        f'<div class="card"><b>{escape(v)}</b><span>{escape(k)}</span></div>' for k, v in items
    )
    return f'<div class="cards">{cards}</div>'


def ledger_html(run: RunData, heading: str | None = "h2") -> str:
    """The ledger section of a run's report ('' for a run without ledger.csv); without
    `heading` the caller writes the section's title."""
    if not run.ledger:
        return ""
    words = words_for(run_transport(run.config))
    headers = ["scope", "direction", "links", *_headers(words)]
    note = (
        f"Payload is model + protocol ({words.protocol}); wire is payload carried + "
        f"{words.below} headers + {words.control} + retransmissions. Percentages are of "
        "the row's payload handed over plus its headers, control packets and "
        "retransmissions (its wire bytes, plus any payload handed over that no packet "
        "carried: `not carried`, a transfer cut short), so model, protocol, headers, "
        "control and retransmitted add up to 100 %; not carried is part of model + "
        "protocol, lost is part of wire. Past a path's first hop (a device's link "
        "downward, a gateway's uplink upward) payload whose first copy an earlier hop "
        "lost crosses as a retransmission: there it counts once, as payload, not again "
        "as retransmitted, and not carried is what the path's first hop never sent (for "
        "a device group downward, at most that). ledger.csv has these and every round."
    )
    return "\n".join(
        [
            f"<{heading}>Where the bytes went</{heading}>" if heading else "",
            f'<p class="sub">{escape(note)}</p>',
            _figures(run),
            _table(headers, _scope_rows(run, "run")),
            "<details open><summary>by link class</summary>"
            + _table(headers, _scope_rows(run, "link_class"))
            + "</details>",
            "<details><summary>by device profile</summary>"
            + _table(headers, _scope_rows(run, "group"))
            + "</details>",
        ]
    )
