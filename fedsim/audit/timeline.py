"""The per-client timeline: inside the run, no overlaps, no gaps, every client."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from fedsim.audit import MEMO, Violation, invariant
from fedsim.audit.intervals import fmt
from fedsim.audit.rows import cell, number

__all__ = ["timeline_covers_run", "timeline_inside_run", "timeline_no_overlap"]

INSIDE = "timeline-inside-run"
OVERLAP = "timeline-no-overlap"
COVERS = "timeline-covers-run"
_TOL = 1e-9


def _by_client(result: Any) -> dict[str, list[tuple[float, float, str]]]:
    """Each client's intervals, sorted; grouped once per run (three invariants read it)."""
    memo = MEMO.get(_MEMO_KEY)
    if memo is not None and memo[0] is result:
        return memo[1]
    out: dict[str, list[tuple[float, float, str]]] = {}
    for iv in result.recorder.timeline:
        out.setdefault(str(cell(iv, "client")), []).append(
            (number(iv, "start_s"), number(iv, "end_s"), str(cell(iv, "state")))
        )
    for spans in out.values():
        spans.sort()
    MEMO[_MEMO_KEY] = (result, out)
    return out


_MEMO_KEY = "timeline-by-client"


def _row(client: str, span: tuple[float, float, str]) -> str:
    return f"client {client}, {span[2]} {fmt(span[0])}-{fmt(span[1])}"


@invariant(INSIDE, "every timeline interval has 0 <= start < end <= sim_time_s")
def timeline_inside_run(result: Any) -> Iterator[Violation]:
    end = float(result.summary["sim_time_s"])
    for client, spans in sorted(_by_client(result).items()):
        for span in spans:
            s, e, _ = span
            if s < -_TOL or e > end + _TOL or e <= s:
                yield Violation(INSIDE, f"{_row(client, span)} is outside [0, {fmt(end)}]")


@invariant(OVERLAP, "a client's timeline intervals do not overlap")
def timeline_no_overlap(result: Any) -> Iterator[Violation]:
    for client, spans in sorted(_by_client(result).items()):
        for prev, cur in itertools.pairwise(spans):
            if cur[0] < prev[1] - _TOL:
                yield Violation(OVERLAP, f"{_row(client, cur)} overlaps {prev[2]} "
                                         f"{fmt(prev[0])}-{fmt(prev[1])}")  # fmt: skip


@invariant(COVERS, "every client's timeline covers [0, sim_time_s] without gaps")
def timeline_covers_run(result: Any) -> Iterator[Violation]:
    end = float(result.summary["sim_time_s"])
    timeline = _by_client(result)
    for row in result.clients:
        client = str(cell(row, "client"))
        spans = timeline.get(client, [])
        if not spans:
            if end > 0:
                yield Violation(COVERS, f"client {client} has no timeline in a {fmt(end)} run")
            continue
        at = 0.0
        for span in spans:
            if span[0] > at + _TOL:
                yield Violation(
                    COVERS, f"client {client}: nothing recorded {fmt(at)}-{fmt(span[0])}"
                )
                break
            at = max(at, span[1])
        else:
            if at < end - _TOL:
                yield Violation(COVERS, f"client {client}: nothing recorded {fmt(at)}-{fmt(end)}")
