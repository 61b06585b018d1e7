"""Runs that did different numbers of rounds, side by side.

A whole-run total (bytes, packets, dropouts, mean device energy, simulated time) grows
with the rounds a run did, so between a 3-round and a 2-round run its ratio is mostly
the round count, not the setting compared (outside review 3: float32 for 3 rounds against
int8 for 2 read "payload bytes up x0.289", where int8 saved 55-61 % per shared round).
As with different device counts (fedsim.record.compare), such totals lose their ratio
across round counts and the main ones gain a `per round` row that has one; the `to
target` rows already compare like with like.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from fedsim.record.compare_network import _who

__all__ = ["ROUND_TOTALS", "per_round", "round_counts", "rounds_warning"]

ROUND_TOTALS = frozenset({
    "bytes_up", "bytes_down", "wire_bytes_up", "wire_bytes_down", "ledger_model_bytes",
    "ledger_protocol_bytes", "ledger_transport_bytes", "ledger_retx_bytes",
    "ledger_lost_bytes", "link_packets_sent", "link_packets_dropped",
    "link_packets_refused", "dropouts_total", "rounds_surplus", "energy_j_mean",
    "energy_compute_j_mean", "energy_radio_j_mean", "sim_time_s",
})  # fmt: skip
"""Rows summed (or spent) over the whole run: they grow with the rounds it did."""

_PER_ROUND = ("bytes_up", "bytes_down", "wire_bytes_up", "wire_bytes_down",
              "ledger_model_bytes", "energy_j_mean", "sim_time_s")  # fmt: skip
"""Whole-run totals that get a `per round` row when the round counts differ."""


def round_counts(runs: Sequence[Any]) -> list[Any]:
    """Each run's completed rounds (summary.json `rounds`; None if it has none)."""
    return [r.summary.get("rounds") for r in runs]


def _grows_with_rounds(key: str) -> bool:
    base = key.removesuffix("_per_device")
    return base in ROUND_TOTALS or base.startswith("dropouts.")


def per_round(quantities: list[Any], runs: Sequence[Any]) -> list[Any]:
    """Where the round counts differ: whole-run totals (and their per-device rows) lose
    their ratio across counts, and the main ones gain a `per round` row."""
    counts = round_counts(runs)
    if len(set(map(repr, counts))) < 2:
        return quantities
    out = []
    for q in quantities:
        if _grows_with_rounds(q.key):
            q = replace(q, rounds=counts)
        out.append(q)
        if q.key in _PER_ROUND:
            values = [
                v / n
                if isinstance(v, int | float) and not isinstance(v, bool) and isinstance(n, int)
                and n > 0 else None
                for v, n in zip(q.values, counts, strict=True)
            ]  # fmt: skip
            out.append(
                replace(
                    q,
                    key=f"{q.key}_per_round",
                    label="  per round",
                    values=values,
                    texts=None,
                    rounds=None,
                )
            )
    return out


def rounds_warning(runs: Sequence[Any], labels: Sequence[str]) -> str | None:
    """One line when the runs did different numbers of rounds."""
    groups: dict[str, list[str]] = {}
    for n, label in zip(round_counts(runs), labels, strict=True):
        groups.setdefault(str(n), []).append(label)
    if len(groups) < 2:
        return None
    parts = " vs ".join(f"{n} ({_who(names)})" for n, names in groups.items())
    return (
        f"runs did different numbers of rounds: {parts}; whole-run totals (bytes, packets, "
        "dropouts, energy, simulated time) grow with the rounds, so they get no ratio "
        "across round counts: `per round` rows and the `to target` rows compare them"
    )
