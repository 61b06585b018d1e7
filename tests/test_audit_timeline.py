"""The timeline invariants answer a vectorised question first and read rows only when
it says a row may break them: on any timeline (in any order, with gaps, overlaps,
intervals past the end, missing clients, odd rows) they report exactly what the
row-by-row checks report."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fedsim.audit import MEMO
from fedsim.audit.timeline import (
    covers_rows,
    inside_rows,
    overlap_rows,
    timeline_covers_run,
    timeline_inside_run,
    timeline_no_overlap,
)
from fedsim.record.recorder import Interval, Recorder

CHECKS = (
    (timeline_inside_run, inside_rows),
    (timeline_no_overlap, overlap_rows),
    (timeline_covers_run, covers_rows),
)
TIMES = st.sampled_from([-1.0, -1e-10, 0.0, 1e-10, 0.5, 1.0, 1.0 + 1e-10, 2.0, 3.0, 4.0, 5.0])


def _run(timeline: list[Any], clients: list[str], end: float) -> Any:
    rec = Recorder(clock=lambda: 0.0)
    rec.timeline = timeline
    return SimpleNamespace(
        recorder=rec, summary={"sim_time_s": end}, clients=[{"client": c} for c in clients]
    )


def _same(result: Any) -> None:
    for fast, rows in CHECKS:
        MEMO.clear()
        want = [v.line() for v in rows(result)]
        MEMO.clear()
        assert [v.line() for v in fast(result)] == want


@st.composite
def _tiled(draw: st.DrawFn) -> tuple[list[Interval], list[str], float]:
    """Clients whose intervals tile [0, end], then perturbed and shuffled."""
    clients = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, unique=True))
    end = draw(st.sampled_from([0.0, 4.0, 5.0]))
    out = []
    for c in clients:
        cuts = sorted(draw(st.lists(st.sampled_from([1.0, 2.0, 3.0]), unique=True)))
        edges = [0.0, *[t for t in cuts if t < end], end]
        for s, e in itertools.pairwise(edges):
            if e > s:
                out.append(Interval(c, draw(st.sampled_from(["idle", "training"])), s, e))
    for _ in range(draw(st.integers(0, 3))):  # doctored rows
        i = draw(st.integers(0, max(len(out) - 1, 0)))
        if out and draw(st.booleans()):
            out[i] = Interval(out[i].client, out[i].state, draw(TIMES), draw(TIMES))
        elif out and draw(st.booleans()):
            del out[i]
        else:
            out.append(
                Interval(draw(st.sampled_from(["a", "e"])), "idle", draw(TIMES), draw(TIMES))
            )
    if draw(st.booleans()):
        out = draw(st.permutations(out))
    listed = clients + draw(st.lists(st.sampled_from(["e", "f"]), max_size=1))
    return out, listed, end


@settings(max_examples=300, deadline=None)
@given(_tiled())
def test_the_fast_checks_report_what_the_row_checks_report(case: Any) -> None:
    timeline, clients, end = case
    _same(_run(timeline, clients, end))


def test_rows_that_are_not_plain_are_read_row_by_row() -> None:
    base = [Interval("a", "idle", 0.0, 2.0), Interval("a", "training", 2.0, 4.0)]
    odd: list[list[Any]] = [
        [{"client": "a", "state": "idle", "start_s": 0.0, "end_s": 4.0}],
        [Interval("a", "idle", 0.0, float("nan")), *base[1:]],
        [Interval("a", "idle", None, 2.0), *base[1:]],  # type: ignore[arg-type]
        [Interval("a", "idle", "", 2.0), *base[1:]],  # type: ignore[arg-type]
        [Interval(7, "idle", 0.0, 4.0)],  # type: ignore[arg-type]
        [SimpleNamespace(client="a", state="idle", start_s=0.0), *base[1:]],
        [],
    ]
    for timeline in odd:
        _same(_run(timeline, ["a", "7"], 4.0))
    _same(_run(base, ["a"], 4.0))
    assert not list(timeline_covers_run(_run(base, ["a"], 4.0)))
