"""The report's byte-ledger section: where a run's bytes went, read without a CSV.

Why its own module: the report page is assembled elsewhere (fedsim.record.report); this
renders ledger.csv (fedsim.record.ledger) as three small tables (the devices' first hops
by class, every link class, every device group) and the figures a study quotes, with one
call from the page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from fedsim.record.compare import format_value, human_bytes
from fedsim.record.runs import RunData
from fedsim.record.schema import LedgerRow
from fedsim.record.transport_words import TransportWords, run_transport, words_for

__all__ = ["ledger_html", "ledger_shares", "not_carried_bytes", "whole_bytes"]

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


def whole_bytes(row: LedgerRow) -> int:
    """Payload handed over + headers + control + retransmissions: the wire bytes plus any
    payload handed over that never reached the wire (a transfer cut short, a link down)."""
    return sum(int(row[f]) for f in _PARTS)


def not_carried_bytes(row: LedgerRow) -> int:
    """Payload handed over that no first transmission carried."""
    return int(row.payload_bytes) - int(row.data_bytes)


def ledger_shares(row: LedgerRow) -> dict[str, int]:
    """Each part's whole percentage of the row's whole, rounded so that they add up to
    exactly 100 (largest remainder; empty for a row without bytes): five parts each
    rounded alone could show 98 % or 102 %."""
    whole = whole_bytes(row)
    if not whole:
        return {}
    exact = {f: 100 * int(row[f]) / whole for f in _PARTS}
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


def _cells(row: LedgerRow) -> list[str]:
    whole = whole_bytes(row)
    shares = ledger_shares(row)

    def cell(n: int) -> str:
        return human_bytes(n) + (f" ({100 * n / whole:.0f}%)" if whole else "")

    return [
        *(human_bytes(int(row[f])) + (f" ({shares[f]}%)" if shares else "") for f in _PARTS),
        human_bytes(row.wire_bytes),
        cell(not_carried_bytes(row)),
        cell(int(row.lost_bytes)),
    ]


def _scope_rows(rows: list[LedgerRow], scope: str) -> list[list[str]]:
    return [
        [row.key or "all devices", row.direction, str(row.links), *_cells(row)]
        for row in rows
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
        "protocol, lost is part of wire. ledger.csv has these and every round."
    )
    return "\n".join(
        [
            f"<{heading}>Where the bytes went</{heading}>" if heading else "",
            f'<p class="sub">{escape(note)}</p>',
            _figures(run),
            _table(headers, _scope_rows(run.ledger, "run")),
            "<details open><summary>by link class</summary>"
            + _table(headers, _scope_rows(run.ledger, "link_class"))
            + "</details>",
            "<details><summary>by device profile</summary>"
            + _table(headers, _scope_rows(run.ledger, "group"))
            + "</details>",
        ]
    )
