"""The byte ledger: where a run's bytes went, per run, round, device group and link class.

Why: a study of communication cost must say which part of the wire is model, which is
protocol (HTTP heads, long polls, registrations, status) and which is transport
(TCP/IP headers, handshakes, ACKs) or retransmission, and it must add up. The network
classifies bytes where it counts them (`fedsim.net.link.LinkCounters`: the transport
tells model from protocol, the fidelities tell data, header, control and retransmitted
segments), links.csv carries those counters, and every ledger row is a sum of them, so
the ledger reconciles with links.csv exactly (the auditor checks it,
`fedsim.audit.ledger`). Round rows are the first hops' counters at each round's end,
less what the network had booked past it (as rounds.csv's wire bytes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import attrgetter
from typing import Any

from fedsim.record.schema import ClientRow, LedgerRow, LinkRow, RoundRow

__all__ = [
    "CLASSES",
    "RoundLedger",
    "discarded_by_client",
    "ledger_rows",
    "ledger_summary",
    "link_cells",
    "run_totals",
    "update_counts",
]

CLASSES = ("model", "protocol", "data", "header", "control", "retx", "lost")
"""The ledger's byte classes; `model + protocol` is payload, `data + header + control +
retx` is wire, `lost` is a part of wire."""
_WIRE = ("data", "header", "control", "retx")
_DIRECTIONS = ((0, "up"), (1, "down"))

Totals = dict[str, dict[str, int]]
"""direction -> class -> bytes."""
_MODEL, _PAYLOAD, _DATA, _HEADER, _CONTROL, _RETX, _LOST = (
    attrgetter(f"{k}_bytes") for k in ("model", "payload", *_WIRE, "lost")
)
_WIRE_GETTERS = tuple(zip((*_WIRE, "lost"), (_DATA, _HEADER, _CONTROL, _RETX, _LOST), strict=True))


def link_cells(counters: Any) -> dict[str, int]:
    """links.csv's ledger columns of one link direction (`LinkCounters`)."""
    return {
        "model_bytes": counters.model_bytes,
        "data_bytes": counters.data_bytes,
        "header_bytes": counters.header_bytes,
        "control_bytes": counters.control_bytes,
        "retx_bytes": counters.retx_bytes,
        "lost_bytes": counters.lost_bytes,
    }


def _empty() -> Totals:
    return {label: dict.fromkeys(CLASSES, 0) for _, label in _DIRECTIONS}


def _link_totals(rows: Sequence[LinkRow]) -> dict[str, int]:
    """The classes of some links.csv rows, summed column by column."""
    model = sum(map(_MODEL, rows))
    return {
        "model": model,
        "protocol": sum(map(_PAYLOAD, rows)) - model,
        "data": sum(map(_DATA, rows)),
        "header": sum(map(_HEADER, rows)),
        "control": sum(map(_CONTROL, rows)),
        "retx": sum(map(_RETX, rows)),
        "lost": sum(map(_LOST, rows)),
    }


class RoundLedger:
    """In a run: the first hops' classes at each round's end (what crossed by then).

    `access` are the devices' first hops (`Link`s), `channels()` the live channels (what
    they booked past an instant is not yet crossed), `energy(at, unsent)` what every
    device had spent by `at`, given the (counters, wire bytes, packets) the channels
    had not sent by then (`Batteries.spent_by`; `at` None: what the ledgers charged)."""

    def __init__(
        self,
        access: Sequence[Any],
        channels: Callable[[], Iterable[Any]],
        energy: Callable[[float | None, list[tuple[Any, int, int]]], float],
    ) -> None:
        self._access = list(access)
        self._counters = [[link.counters[d] for link in self._access] for d, _ in _DIRECTIONS]
        self._times = [Counter(map(id, cs)) for cs in self._counters]
        """Per direction: id(counters) -> how often the access links list them."""
        self._channels = channels
        self._energy = energy
        self._last = _empty()
        self._last_energy = 0.0
        self.rows: list[LedgerRow] = []

    def _now(self, crossed_by: float | None, unsent: list[tuple[Any, int, int]]) -> Totals:
        """Every class summed over the access links (C-level sums: 10,000 devices at
        every round's end), less what the channels booked past `crossed_by` (added to
        `unsent`). A link listed twice counts twice, as the rows of links.csv it stands
        for do."""
        out = _empty()
        for d, label in _DIRECTIONS:
            cs = self._counters[d]
            tot = out[label]
            model = sum(map(_MODEL, cs))
            tot["model"] = model
            tot["protocol"] = sum(map(_PAYLOAD, cs)) - model
            for cls, get in _WIRE_GETTERS:
                tot[cls] = sum(map(get, cs))
        if crossed_by is not None:
            self._less_ahead(out, crossed_by, unsent)
        return out

    def _less_ahead(
        self, out: Totals, crossed_by: float, unsent: list[tuple[Any, int, int]]
    ) -> None:
        """Subtract what live channels booked on access links for after `crossed_by`,
        and the model among it (a round's model bytes are those that went out by its
        end, as its wire bytes are); list those bookings' unsent parts in `unsent` (a
        device's radio is its access link: the energy ledger's, too)."""
        for channel in self._channels():
            parts_after = getattr(channel, "booked_parts_after", None)
            if parts_after is None:
                continue
            for c, w, n, parts, lost in parts_after(crossed_by):
                for d, label in _DIRECTIONS:
                    times = self._times[d].get(id(c))
                    if times:
                        unsent.append((c, w, n))
                        tot = out[label]
                        for cls, x in zip(_WIRE, parts, strict=True):
                            tot[cls] -= times * x
                        tot["lost"] -= times * lost
            model_after = getattr(channel, "model_booked_after", None)
            if model_after is None:
                continue
            for c, model in model_after(crossed_by):  # it stays payload handed over
                for d, label in _DIRECTIONS:
                    times = self._times[d].get(id(c))
                    if times:
                        out[label]["model"] -= times * model
                        out[label]["protocol"] += times * model

    def close(self, key: str, crossed_by: float | None) -> None:
        """A ledger row per direction for what crossed since the last close."""
        unsent: list[tuple[Any, int, int]] = []
        now = self._now(crossed_by, unsent)
        energy = self._energy(crossed_by, unsent)
        for _, label in _DIRECTIONS:
            delta = {k: now[label][k] - self._last[label][k] for k in CLASSES}
            first = label == "up"
            self.rows.append(
                _row("round", key, label, len(self._access), delta,
                     energy - self._last_energy if first else None)
            )  # fmt: skip
        self._last = now
        self._last_energy = energy


def _row(
    scope: str, key: str, direction: str, links: int, tot: dict[str, int], energy: float | None
) -> LedgerRow:
    return LedgerRow(
        scope=scope,
        key=key,
        direction=direction,
        links=links,
        model_bytes=tot["model"],
        protocol_bytes=tot["protocol"],
        payload_bytes=tot["model"] + tot["protocol"],
        data_bytes=tot["data"],
        header_bytes=tot["header"],
        control_bytes=tot["control"],
        retx_bytes=tot["retx"],
        wire_bytes=sum(tot[k] for k in _WIRE),
        lost_bytes=tot["lost"],
        energy_j=energy,
    )


def _grouped(
    scope: str,
    rows: Iterable[LinkRow],
    key_of: Callable[[LinkRow], str | None],
    energy: dict[str, float] | None,
) -> Iterator[LedgerRow]:
    groups: dict[tuple[str, str], list[LinkRow]] = {}
    for row in rows:
        key = key_of(row)
        if key is not None:
            groups.setdefault((key, row.direction), []).append(row)
    for key, direction in sorted(groups, key=lambda kd: (kd[0], kd[1] != "up")):
        j = energy.get(key) if energy is not None and direction == "up" else None
        mine = groups[(key, direction)]
        yield _row(scope, key, direction, len(mine), _link_totals(mine), j)


def ledger_rows(
    links: Sequence[LinkRow], clients: Sequence[ClientRow], rounds: Sequence[LedgerRow]
) -> list[LedgerRow]:
    """ledger.csv: run, round (as recorded in the run), group and link-class rows.
    A scope's energy is on its `up` row (energy has no direction)."""
    profile = {c.client: c.device for c in clients}
    spent = {c.client: c.energy_compute_j + c.energy_radio_j for c in clients}
    by_group: dict[str, float] = {}
    for c in clients:
        by_group[c.device] = by_group.get(c.device, 0.0) + spent[c.client]
    first_hops = [r for r in links if r.a in profile]
    out = list(_grouped("run", first_hops, lambda _r: "", {"": sum(spent.values())}))
    out += rounds
    out += _grouped("group", first_hops, lambda r: profile[r.a], by_group)
    out += _grouped("link_class", links, lambda r: r.kind, None)
    return out


def run_totals(rows: Iterable[LedgerRow]) -> dict[str, int]:
    """{class_direction: bytes} of the `run` rows: summary.json's `ledger`."""
    out: dict[str, int] = {}
    for row in rows:
        if row.scope == "run":
            for cls in CLASSES:
                out[f"{cls}_{row.direction}"] = int(row[f"{cls}_bytes"])
    return out


def update_counts(rounds: Sequence[RoundRow]) -> dict[str, int]:
    """summary.json's `accepted_updates` (aggregated into a candidate model) and
    `discarded_updates` (stored, then dropped with a round that aggregated nothing)."""
    stored = sum(r.reported for r in rounds)
    aggregated = sum(r.reported if r.aggregated is None else r.aggregated for r in rounds)
    return {"accepted_updates": aggregated, "discarded_updates": stored - aggregated}


def discarded_by_client(records: Iterable[Any]) -> Counter[str]:
    """Each client's uploads stored and then discarded with a round that aggregated none
    of them (clients.csv `rounds_discarded`), from the engine's round records: the
    reporters of every round whose `aggregated` is 0. A sync round aggregates all its
    uploads or none, and an async aggregation its whole buffer; the `updates-reconcile`
    invariant checks the sum against rounds.csv and, per client, against the server's
    own record of the updates it accepted."""
    return Counter(
        cid for rec in records if rec.reported and not rec.aggregated for cid in rec.reporters
    )


def ledger_summary(
    rows: Sequence[LedgerRow],
    rounds: Sequence[RoundRow],
    target_round: int | None,
) -> dict[str, Any]:
    """summary.json's ledger fields: the run's classes and the figures a study quotes."""
    totals = run_totals(rows)
    counts = update_counts(rounds)
    accepted = counts["accepted_updates"]
    wire_rounds = sum(r.wire_bytes_up + r.wire_bytes_down for r in rounds)
    wire = sum(totals.get(f"{k}_{d}", 0) for k in _WIRE for d in ("up", "down"))
    model = totals.get("model_up", 0) + totals.get("model_down", 0)
    to_target_wire = to_target_energy = None
    if target_round is not None:
        done = [r for r in rounds if r.round <= target_round]
        to_target_wire = sum(r.wire_bytes_up + r.wire_bytes_down for r in done)
        keys = {str(r.round) for r in done}
        to_target_energy = sum(
            r.energy_j or 0.0 for r in rows if r.scope == "round" and r.key in keys
        )
    return {
        "ledger": totals,
        **counts,
        "wire_bytes_per_update": wire_rounds / accepted if accepted else None,
        "overhead_share": 1.0 - model / wire if wire else None,
        "wire_bytes_to_target": to_target_wire,
        "energy_to_target_j": to_target_energy,
    }
