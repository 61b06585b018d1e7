"""The per-client timeline: inside the run, no overlaps, no gaps, every client.

A run of 10,000 devices x 20 rounds records ~10^6 intervals, so each invariant first
asks a vectorised question over the timeline as columns (`_columns`): could any row
break it? Only if one could, the row-by-row check below runs and names the rows. The
question errs one way only: whatever the row-by-row check would report, it flags.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from fedsim.audit import MEMO, Violation, invariant
from fedsim.audit.intervals import fmt
from fedsim.audit.rows import cell, number

__all__ = [
    "covers_rows", "inside_rows", "overlap_rows",
    "timeline_covers_run", "timeline_inside_run", "timeline_no_overlap",
]  # fmt: skip

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


@dataclass(frozen=True)
class _Columns:
    """The timeline sorted by client, then start, then end, as arrays."""

    names: frozenset[str]
    """The clients that have intervals."""

    start: np.ndarray
    end: np.ndarray
    first: np.ndarray
    """True where a client's intervals begin."""
    heads: np.ndarray
    """The index of each client's first interval."""

    def pairs_within(self) -> np.ndarray:
        """For consecutive rows i, i+1: True where both are the same client's."""
        return ~self.first[1:]


def _columns(result: Any) -> _Columns | None:
    """The timeline as columns, or None when a row is not plain (a mapping row, a
    client or state that is not a string, a blank or non-numeric time, NaN): the
    row-by-row checks then read it as `_by_client` does. (A state's order among
    intervals of equal start and end changes no check's answer, so it is left out.)"""
    memo = MEMO.get(_COLUMNS_KEY)
    if memo is not None and memo[0] is result:
        return memo[1]
    cols = _plain_columns(result.recorder.timeline)
    MEMO[_COLUMNS_KEY] = (result, cols)
    return cols


_COLUMNS_KEY = "timeline-columns"


def _plain_columns(timeline: list[Any]) -> _Columns | None:
    if not timeline:
        return None
    try:
        clients = [iv.client for iv in timeline]
        start = np.array([iv.start_s for iv in timeline], dtype=np.float64)
        end = np.array([iv.end_s for iv in timeline], dtype=np.float64)
    except (AttributeError, TypeError, ValueError, OverflowError):
        return None
    if set(map(type, clients)) != {str}:
        return None
    if np.isnan(start).any() or np.isnan(end).any():
        return None
    who = np.array(clients, dtype=object)
    if not _grouped_in_order(who, start, end):
        names = sorted(set(clients))
        rank = dict(zip(names, range(len(names)), strict=True))
        order = np.lexsort((end, start, np.fromiter(map(rank.__getitem__, clients), np.int64)))
        who, start, end = who[order], start[order], end[order]
    first = np.ones(who.size, dtype=bool)
    first[1:] = who[1:] != who[:-1]
    heads = np.flatnonzero(first)
    return _Columns(frozenset(who[heads]), start, end, first, heads)


def _grouped_in_order(who: np.ndarray, start: np.ndarray, end: np.ndarray) -> bool:
    """Whether the rows already are by client (each client's rows together, clients in
    order), then start, then end: as the recorder leaves them."""
    same = who[1:] == who[:-1]
    heads = who[np.flatnonzero(np.concatenate(([True], ~same)))]
    if heads.size > 1 and not (heads[:-1] < heads[1:]).all():
        return False
    s0, s1, e0, e1 = start[:-1], start[1:], end[:-1], end[1:]
    in_order = (s0 < s1) | ((s0 == s1) & (e0 <= e1))
    return bool((in_order | ~same).all())


def _run_end(result: Any) -> float:
    return float(result.summary["sim_time_s"])


def _may_break_inside(result: Any) -> bool:
    cols = _columns(result)
    if cols is None:
        return True
    end = _run_end(result)
    bad = (cols.start < -_TOL) | (cols.end > end + _TOL) | (cols.end <= cols.start)
    return bool(bad.any())


def _may_overlap(result: Any) -> bool:
    cols = _columns(result)
    if cols is None:
        return True
    bad = cols.pairs_within() & (cols.start[1:] < cols.end[:-1] - _TOL)
    return bool(bad.any())


def _may_leave_gaps(result: Any) -> bool:
    """A gap after a client's running end is a gap after its previous interval's end
    (the running end is at least that), so checking the latter flags every gap."""
    cols = _columns(result)
    if cols is None:
        return True
    end = _run_end(result)
    if (cols.start[cols.heads] > _TOL).any():
        return True
    if (cols.pairs_within() & (cols.start[1:] > cols.end[:-1] + _TOL)).any():
        return True
    if (np.maximum.reduceat(cols.end, cols.heads) < end - _TOL).any():
        return True
    return any(str(cell(row, "client")) not in cols.names for row in result.clients)


@invariant(
    INSIDE,
    "every timeline interval has 0 <= start < end <= sim_time_s",
    needs=("timeline", "summary"),
)
def timeline_inside_run(result: Any) -> Iterator[Violation]:
    if _may_break_inside(result):
        yield from inside_rows(result)


def inside_rows(result: Any) -> Iterator[Violation]:
    """`timeline-inside-run`, row by row."""
    end = _run_end(result)
    for client, spans in sorted(_by_client(result).items()):
        for span in spans:
            s, e, _ = span
            if s < -_TOL or e > end + _TOL or e <= s:
                yield Violation(INSIDE, f"{_row(client, span)} is outside [0, {fmt(end)}]")


@invariant(OVERLAP, "a client's timeline intervals do not overlap", needs=("timeline",))
def timeline_no_overlap(result: Any) -> Iterator[Violation]:
    if _may_overlap(result):
        yield from overlap_rows(result)


def overlap_rows(result: Any) -> Iterator[Violation]:
    """`timeline-no-overlap`, row by row."""
    for client, spans in sorted(_by_client(result).items()):
        for prev, cur in itertools.pairwise(spans):
            if cur[0] < prev[1] - _TOL:
                yield Violation(OVERLAP, f"{_row(client, cur)} overlaps {prev[2]} "
                                         f"{fmt(prev[0])}-{fmt(prev[1])}")  # fmt: skip


@invariant(
    COVERS,
    "every client's timeline covers [0, sim_time_s] without gaps",
    needs=("timeline", "summary", "clients"),
)
def timeline_covers_run(result: Any) -> Iterator[Violation]:
    if _may_leave_gaps(result):
        yield from covers_rows(result)


def covers_rows(result: Any) -> Iterator[Violation]:
    """`timeline-covers-run`, row by row."""
    end = _run_end(result)
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
