"""The byte ledger reconciles: with links.csv, with itself, with rounds.csv and summary.json.

Per link direction the classes add up (`model <= payload`, `data + header + control +
retx = wire`, `lost <= wire`, none negative, `data <= payload`: a segment's first
transmission crosses a hop once at most). Every ledger row is the sum of its links.csv
rows (run and group: the clients' first hops; link_class: every link of the kind); the
round rows plus `after` equal the run rows; round wire bytes equal rounds.csv's; the
summary's `ledger` equals the run rows, and its other byte fields, each over its span,
add up to them (rounds + after = run; `overhead_share` is the run's, `wire_bytes_per_update`
the rounds'). Exact: nothing is tolerated but the 9 decimals summary.json writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.audit.rows import cell, link_row, number, numbers

__all__ = ["ledger_reconciles"]

NAME = "ledger-reconciles"
_CLASSES = ("model", "data", "header", "control", "retx", "lost")
_WIRE = ("data", "header", "control", "retx")
_SUMMED = ("payload_bytes", "model_bytes", *(f"{k}_bytes" for k in _WIRE), "lost_bytes")


def _per_link(result: Any) -> Iterator[Violation]:
    keys = (*_CLASSES, "payload", "wire")
    columns = [numbers(result.links, f"{k}_bytes") for k in keys]
    for row, *cells in zip(result.links, *columns, strict=True):
        v = dict(zip(keys, map(int, cells), strict=True))
        if any(x < 0 for x in v.values()):
            bad = next(k for k, x in v.items() if x < 0)
            yield Violation(NAME, f"{link_row(row)}: {bad}_bytes {v[bad]} is negative")
        parts = sum(v[k] for k in _WIRE)
        if parts != v["wire"]:
            yield Violation(
                NAME,
                f"{link_row(row)}: data {v['data']} + header {v['header']} + control "
                f"{v['control']} + retx {v['retx']} = {parts} != wire_bytes {v['wire']}",
            )
        if v["model"] > v["payload"] or v["data"] > v["payload"]:
            yield Violation(
                NAME,
                f"{link_row(row)}: model {v['model']} or data {v['data']} exceeds payload "
                f"{v['payload']}",
            )
        if v["lost"] > v["wire"]:
            yield Violation(NAME, f"{link_row(row)}: lost {v['lost']} > wire {v['wire']}")


def _sums(rows: list[Any]) -> dict[str, int]:
    return {k: int(sum(numbers(rows, k))) for k in _SUMMED}


def _expected(result: Any) -> dict[tuple[str, str, str], dict[str, int]]:
    """(scope, key, direction) -> the links.csv sums a ledger row must show."""
    profile = {str(cell(c, "client")): str(cell(c, "device")) for c in result.clients}
    groups: dict[tuple[str, str, str], list[Any]] = {}
    for row in result.links:
        d = str(cell(row, "direction"))
        a = str(cell(row, "a"))
        groups.setdefault(("link_class", str(cell(row, "kind")), d), []).append(row)
        if a in profile:
            groups.setdefault(("run", "", d), []).append(row)
            groups.setdefault(("group", profile[a], d), []).append(row)
    return {k: _sums(v) for k, v in groups.items()}


def _ledger_row(row: Any) -> dict[str, int]:
    return {k: int(number(row, k)) for k in _SUMMED}


@invariant(
    NAME,
    "the byte ledger: per link direction the classes add up to links.csv's payload and wire; "
    "every ledger.csv row equals its links.csv rows' sums; rounds + after = run; round wire = "
    "rounds.csv; summary.json `ledger` = the run rows; summary.json's rounds + after = the "
    "run rows (payload and wire, each way), `overhead_share` = 1 - model / wire of the run, "
    "`wire_bytes_per_update` = the rounds' wire / `accepted_updates`",
    needs=("ledger", "links", "clients", "rounds", "summary"),
)
def ledger_reconciles(result: Any) -> Iterator[Violation]:
    yield from _per_link(result)
    ledger = list(getattr(result, "ledger", []) or [])
    if not ledger:
        return
    expected = _expected(result)
    seen = set()
    for row in ledger:
        scope, key, d = str(cell(row, "scope")), str(cell(row, "key")), str(cell(row, "direction"))
        got = _ledger_row(row)
        if int(number(row, "model_bytes")) + int(number(row, "protocol_bytes")) != got[
            "payload_bytes"
        ] or sum(got[f"{k}_bytes"] for k in _WIRE) != int(number(row, "wire_bytes")):
            yield Violation(NAME, f"ledger.csv {scope} {key!r} {d}: its classes do not add up")
        if scope == "round":
            continue
        seen.add((scope, key, d))
        want = expected.get((scope, key, d))
        if want is None:
            yield Violation(NAME, f"ledger.csv {scope} {key!r} {d}: no such links in links.csv")
        elif want != got:
            diff = next(k for k in _SUMMED if want[k] != got[k])
            yield Violation(
                NAME,
                f"ledger.csv {scope} {key!r} {d}: {diff} {got[diff]} != {want[diff]} in links.csv",
            )
    for missing in sorted(set(expected) - seen):
        yield Violation(NAME, f"ledger.csv has no row {missing[0]} {missing[1]!r} {missing[2]}")
    yield from _rounds(result, ledger)


def _rounds(result: Any, ledger: list[Any]) -> Iterator[Violation]:
    run = {str(cell(r, "direction")): _ledger_row(r) for r in ledger if cell(r, "scope") == "run"}
    rounds = [r for r in ledger if cell(r, "scope") == "round"]
    for d in ("up", "down"):
        mine = _sums([r for r in rounds if cell(r, "direction") == d])
        if d in run and mine != run[d]:
            diff = next(k for k in _SUMMED if mine[k] != run[d][k])
            yield Violation(
                NAME, f"ledger.csv rounds + after, {d}: {diff} {mine[diff]} != run {run[d][diff]}"
            )
        by_round = {
            str(cell(r, "key")): int(number(r, "wire_bytes"))
            for r in rounds
            if cell(r, "direction") == d
        }
        for row in result.rounds:
            want = int(number(row, f"wire_bytes_{d}"))
            got = by_round.get(str(cell(row, "round")))
            if got != want:
                yield Violation(
                    NAME,
                    f"ledger.csv round {cell(row, 'round')} {d}: wire {got} != rounds.csv {want}",
                )
    yield from _spans(result.summary, run)
    totals = result.summary.get("ledger")
    if totals is not None:
        for d, row in run.items():
            for k in _CLASSES:
                if int(totals.get(f"{k}_{d}", 0)) != row[f"{k}_bytes"]:
                    yield Violation(
                        NAME,
                        f"summary.json ledger {k}_{d} {totals.get(f'{k}_{d}')} != ledger.csv "
                        f"run {row[f'{k}_bytes']}",
                    )


_SHARE_TOLERANCE = 1e-8
"""summary.json writes floats to 9 decimals."""


def _spans(summary: Any, run: dict[str, dict[str, int]]) -> Iterator[Violation]:
    """summary.json's spans add up: its rounds' bytes + the bytes after them = the whole
    run (ledger.csv's run rows), payload and wire each way; `overhead_share` is the run's
    and `wire_bytes_per_update` the rounds'."""
    for d, row in run.items():
        wire = sum(row[f"{k}_bytes"] for k in _WIRE)
        for what, rounds_key, after_key, whole in (
            ("payload", f"bytes_{d}", f"bytes_after_rounds_{d}", row["payload_bytes"]),
            ("wire", f"wire_bytes_{d}", f"wire_bytes_after_rounds_{d}", wire),
        ):
            in_rounds, after = summary.get(rounds_key), summary.get(after_key)
            if in_rounds is not None and after is not None and int(in_rounds) + int(after) != whole:
                yield Violation(
                    NAME,
                    f"summary.json {rounds_key} {int(in_rounds)} + {after_key} {int(after)} != "
                    f"ledger.csv run {d} {what} {whole}",
                )
    if set(run) == {"up", "down"}:
        model = run["up"]["model_bytes"] + run["down"]["model_bytes"]
        wire = sum(run[d][f"{k}_bytes"] for k in _WIRE for d in run)
        share = summary.get("overhead_share")
        want = 1.0 - model / wire if wire else None
        if (share is None) != (want is None) or (
            share is not None and want is not None and abs(float(share) - want) > _SHARE_TOLERANCE
        ):
            yield Violation(
                NAME, f"summary.json overhead_share {share} != 1 - model {model} / wire {wire}"
            )
    per_update, accepted = summary.get("wire_bytes_per_update"), summary.get("accepted_updates")
    up, down = summary.get("wire_bytes_up"), summary.get("wire_bytes_down")
    if accepted and per_update is not None and up is not None and down is not None:
        want_per = (int(up) + int(down)) / int(accepted)
        if abs(float(per_update) - want_per) > _SHARE_TOLERANCE * max(1.0, want_per):
            yield Violation(
                NAME,
                f"summary.json wire_bytes_per_update {per_update} != (wire_bytes_up {up} + "
                f"wire_bytes_down {down}) / accepted_updates {accepted}",
            )
