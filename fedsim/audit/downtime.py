"""Link down time: never more than the run, and what the evidence says it was."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.audit.intervals import clipped_length, fmt
from fedsim.audit.rows import cell, number

__all__ = ["down_time_matches", "down_time_within_run"]

WITHIN = "down-time-within-run"
MATCHES = "down-time-matches-evidence"
_TOL = 1e-6


def _end(result: Any) -> float:
    return float(result.summary["sim_time_s"])


@invariant(
    WITHIN,
    "every link's down_time_s is at most the run's simulated time",
    needs=("links", "summary"),
)
def down_time_within_run(result: Any) -> Iterator[Violation]:
    end = _end(result)
    for row in result.links:
        down = number(row, "down_time_s")
        if down > end + _TOL:
            yield Violation(
                WITHIN,
                f"link {cell(row, 'link')} {cell(row, 'direction')}: down_time_s {down:.3f} "
                f"> sim_time_s {end:.3f}",
            )


@invariant(
    MATCHES,
    "every link's down_time_s equals the length of its recorded down intervals inside "
    "[0, sim_time_s]",
    needs=("links", "evidence", "summary"),
)
def down_time_matches(result: Any) -> Iterator[Violation]:
    ev = getattr(result, "evidence", None)
    if ev is None:
        return
    end = _end(result)
    spans: dict[str, list[tuple[float, float, str]]] = {}
    for d in ev.link_down:
        spans.setdefault(d.element, []).append((d.start, d.end, d.cause))
    for row in result.links:
        name = str(cell(row, "link"))
        want = clipped_length(spans.get(name, []), 0.0, end)
        got = number(row, "down_time_s")
        if abs(got - want) > _TOL * max(1.0, want):
            intervals = ", ".join(f"{fmt(s)}-{fmt(e)}" for s, e, _ in spans.get(name, [])[:3])
            yield Violation(
                MATCHES,
                f"link {name} {cell(row, 'direction')}: down_time_s {got:.3f}, but its down "
                f"intervals inside the run add up to {want:.3f} ({intervals or 'none'})",
            )
