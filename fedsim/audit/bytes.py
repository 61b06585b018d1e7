"""Bytes reconcile: per-round = per-client = per-link (each client's first hop),
payload and wire separately; and each client's bytes lie between the payload of its
delivered messages and of all the messages it sent (a message cut on the way crossed
its first hop in part: the network takes back what was booked past the cut).

Bytes counted after the last round's row (final polls, the 410 Gone answers,
connection closes) are in no round; the evidence records them explicitly
(`Evidence.bytes_after_rounds`, written to audit.json), and registration bytes
belong to round 1. Nothing is tolerated silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from fedsim.audit import Violation, invariant
from fedsim.audit.rows import cell, link_row, number

__all__ = ["bytes_match_links", "bytes_nonnegative", "bytes_reconcile", "link_counts_nonnegative"]

NAME = "bytes-reconcile"
_PAIRS = (
    ("bytes_up", "up", "payload_bytes"),
    ("bytes_down", "down", "payload_bytes"),
    ("wire_bytes_up", "up", "wire_bytes"),
    ("wire_bytes_down", "down", "wire_bytes"),
)


def _first_hops(result: Any) -> dict[tuple[str, str], Any]:
    """(client, direction) -> the links.csv row of the client's access link."""
    clients = {str(cell(r, "client")) for r in result.clients}
    return {
        (str(cell(r, "a")), str(cell(r, "direction"))): r
        for r in result.links
        if str(cell(r, "a")) in clients
    }


@invariant(
    NAME,
    "per-round totals (+ bytes after the last round) = summary = per-client totals, payload "
    "and wire; summary.json's bytes after the last round = those counted apart",
    needs=("summary", "rounds", "clients", "bytes_after_rounds"),
)
def bytes_reconcile(result: Any) -> Iterator[Violation]:
    after = result.bytes_after_rounds or {}
    for column, _, link_col in _PAIRS:
        rounds = int(sum(number(r, column) for r in result.rounds))
        tail = int(after.get(_tail_key(column), 0))
        summary = result.summary.get(column)
        if summary is not None and int(summary) != rounds:
            yield Violation(NAME, f"{column}: summary.json {int(summary)} != rounds.csv {rounds}")
        tail_key = column.replace("bytes_", "bytes_after_rounds_", 1)
        written = result.summary.get(tail_key)
        if written is not None and int(written) != tail:
            yield Violation(
                NAME, f"{tail_key}: summary.json {int(written)} != {tail} counted {_COUNTED}"
            )
        if link_col == "payload_bytes":
            clients = int(sum(number(r, column) for r in result.clients))
            if rounds + tail != clients:
                yield Violation(
                    NAME,
                    f"{column}: rounds.csv {rounds} + {tail} after the last round = "
                    f"{rounds + tail} != clients.csv {clients}",
                )


_COUNTED = "apart from the tables"


def _tail_key(column: str) -> str:
    """`bytes_up` -> `up`, `wire_bytes_down` -> `wire_down`: the keys of the count."""
    return {"bytes_up": "up", "bytes_down": "down"}.get(column, column.replace("_bytes", ""))


LINKS = "bytes-match-links"


@invariant(
    LINKS,
    "per-round totals (+ bytes after the last round) = per-link totals on each client's "
    "first hop, and each client's = its first hop's, payload and wire; per client, between "
    "its delivered and its sent messages' payload",
    needs=("rounds", "clients", "links", "evidence", "bytes_after_rounds"),
)
def bytes_match_links(result: Any) -> Iterator[Violation]:
    ev = result.evidence
    after = result.bytes_after_rounds or {}
    hops = _first_hops(result)
    for column, direction, link_col in _PAIRS:
        rounds = int(sum(number(r, column) for r in result.rounds))
        tail = int(after.get(_tail_key(column), 0))
        links = int(sum(number(r, link_col) for (_, d), r in hops.items() if d == direction))
        if rounds + tail != links:
            yield Violation(
                LINKS,
                f"{column}: rounds.csv {rounds} + {tail} after the last round = {rounds + tail} "
                f"!= {links} {link_col} on the clients' first hops ({direction})",
            )
    yield from _per_client(result, hops, ev)


def _per_client(result: Any, hops: dict[tuple[str, str], Any], ev: Any) -> Iterator[Violation]:
    """Each client's bytes = its access link's; and between the payload of its messages
    that were delivered (they crossed every hop) and of all it sent (a message cut on
    the way crossed the first hop in part, at most whole)."""
    sent: dict[tuple[str, int], tuple[int, int]] = {}
    if ev is not None and len(ev.messages):
        m = ev.messages
        ok = m.device >= 0
        keys = m.device[ok].astype(np.int64) * 2 + m.direction[ok]
        every = np.bincount(keys, weights=m.payload[ok])
        done = np.bincount(keys, weights=np.where(np.isfinite(m.delivered[ok]), m.payload[ok], 0))
        for k in np.flatnonzero(every):
            sent[(ev.devices[int(k) // 2], int(k) % 2)] = (int(done[k]), int(every[k]))
    for row in result.clients:
        client = str(cell(row, "client"))
        for d, direction in enumerate(("up", "down")):
            have = int(number(row, f"bytes_{direction}"))
            link = hops.get((client, direction))
            if link is not None and int(number(link, "payload_bytes")) != have:
                yield Violation(
                    LINKS,
                    f"client {client} bytes_{direction} {have} != link {cell(link, 'link')} "
                    f"{direction} payload_bytes {int(number(link, 'payload_bytes'))}",
                )
            if ev is None:
                continue
            lo, hi = sent.get((client, d), (0, 0))
            if not lo <= have <= hi:
                yield Violation(
                    LINKS,
                    f"client {client} bytes_{direction} {have} is outside [{lo}, {hi}]: the "
                    f"payload of its delivered messages and of all it sent",
                )


NONNEGATIVE = "bytes-nonnegative"
_ROUND_COLUMNS = ("bytes_up", "bytes_down", "wire_bytes_up", "wire_bytes_down")
_LINK_COLUMNS = ("payload_bytes", "wire_bytes", "packets", "retransmissions", "drops", "refused")


@invariant(
    NONNEGATIVE,
    "no byte count is negative: rounds.csv (a round counts the wire bytes that crossed by "
    "its end), clients.csv, summary.json and the bytes after the last round",
    needs=("summary", "rounds", "clients", "bytes_after_rounds"),
)
def bytes_nonnegative(result: Any) -> Iterator[Violation]:
    for row in result.rounds:
        for column in _ROUND_COLUMNS:
            if number(row, column) < 0:
                yield Violation(
                    NONNEGATIVE,
                    f"rounds.csv round {cell(row, 'round')}: {column} {int(number(row, column))}",
                )
    for row in result.clients:
        for column in ("bytes_up", "bytes_down"):
            if number(row, column) < 0:
                yield Violation(
                    NONNEGATIVE,
                    f"clients.csv {cell(row, 'client')}: {column} {int(number(row, column))}",
                )
    for key in sorted(result.summary.keys()):
        value = result.summary.get(key)
        if "bytes" in key and isinstance(value, int | float) and value < 0:
            yield Violation(NONNEGATIVE, f"summary.json {key} {value}")
    for key, value in sorted((result.bytes_after_rounds or {}).items()):
        if value < 0:
            yield Violation(NONNEGATIVE, f"bytes after the last round ({key}) {value}")


LINK_COUNTS = "link-counts-nonnegative"


@invariant(
    LINK_COUNTS,
    "no byte or packet count of links.csv is negative",
    needs=("links",),
)
def link_counts_nonnegative(result: Any) -> Iterator[Violation]:
    for row in result.links:
        for column in _LINK_COLUMNS:
            if number(row, column) < 0:
                yield Violation(
                    LINK_COUNTS,
                    f"{link_row(row)}: {column} {int(number(row, column))}",
                )
