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

__all__ = ["ledger_html"]

_COLUMNS = (
    ("model", ("model_bytes",)),
    ("protocol (HTTP)", ("protocol_bytes",)),
    ("TCP/IP headers", ("header_bytes",)),
    ("handshakes, ACKs, FIN", ("control_bytes",)),
    ("retransmitted", ("retx_bytes",)),
    ("wire", ("wire_bytes",)),
    ("lost", ("lost_bytes",)),
)


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
    wire = row.wire_bytes
    out = []
    for _, fields in _COLUMNS:
        n = sum(int(row[f]) for f in fields)
        share = f" ({100 * n / wire:.0f}%)" if wire and fields[0] != "wire_bytes" else ""
        out.append(human_bytes(n) + share)
    return out


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
    headers = ["scope", "direction", "links", *(name for name, _ in _COLUMNS)]
    note = (
        "Payload is model + protocol; wire is payload carried + TCP/IP headers + handshakes, "
        "ACKs and FIN + retransmissions (lost bytes are part of wire). Percentages are of "
        "the row's wire bytes. ledger.csv has these and every round."
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
