"""The gap index gives exactly the scanning transmitter's answers: random bookings,
forgetting by a moving clock and MAC-queue queries, against tests/booking_reference.py."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedsim.net import bookings
from fedsim.net.link import Transmitter
from tests.booking_reference import ScanningTransmitter

# Times on a coarse grid make touching and exactly fitting bookings common (the merge
# and `<=` edge cases); the fine ones exercise float rounding in the gap test.
_time = st.one_of(
    st.integers(0, 400).map(lambda k: k * 0.25),
    st.floats(0.0, 100.0, allow_nan=False, allow_infinity=False),
)
_bits = st.one_of(st.integers(0, 64).map(float), st.floats(0.0, 200.0, allow_nan=False))
_step = st.tuples(st.sampled_from(["reserve", "reserve", "reserve", "tick", "query"]), _time, _bits)
_op = st.sampled_from(["reserve", "reserve", "reserve", "tick", "query", "give_back", "forget"])
_step_with_cuts = st.tuples(_op, _time, _bits)


def _drive(duty: float, steps: list[tuple[str, float, float]], with_clock: bool) -> None:
    clock = [0.0]
    now = (lambda: clock[0]) if with_clock else None
    new = Transmitter("t", 8.0, duty_cycle=duty, clock=now)
    old = ScanningTransmitter("t", 8.0, duty_cycle=duty, clock=now)
    live: list[tuple[float, float]] = []  # (start, bits) of bookings not given back
    for op, t, bits in steps:
        at = clock[0] + t  # callers book at or after the clock
        if op == "tick":
            clock[0] += t / 8
        elif op == "forget":
            new._forget()
            old._forget()
        elif op == "query":
            assert new.queued_until(at) == old.queued_until(at)
        elif op == "give_back":  # a cut: some booking still on the books, part of it unsent
            live = [b for b in live if b[0] + b[1] / 8.0 / duty > clock[0]]
            if live:
                start, nbits = live.pop(int(t * 7) % len(live))
                unsent = nbits * (int(bits) % 5) / 4
                new.give_back(start, nbits, unsent, clock[0])
                old.give_back(start, nbits, unsent, clock[0])
                assert new.busy_time == old.busy_time
        else:
            got = new.reserve(at, bits)
            assert got == old.reserve(at, bits)
            live.append((got[0], bits))
            later = at + bits / 16
            assert new.queued_until(later) == old.queued_until(later)
            assert new.busy_until == old.busy_until
            assert new.busy_time == old.busy_time
    if not with_clock:
        return
    old._forget()
    new._forget()
    assert new._gaps.intervals() == list(zip(old._starts, old._ends, strict=True))


@settings(max_examples=300, deadline=None)
@given(st.lists(_step, max_size=300), st.booleans())
def test_gap_filling_matches_the_scan(steps, with_clock) -> None:
    _drive(1.0, steps, with_clock)


@settings(max_examples=200, deadline=None)
@given(st.lists(_step, max_size=200), st.sampled_from([0.01, 0.1, 0.5]), st.booleans())
def test_duty_cycled_mac_queue_matches_the_scan(steps, duty, with_clock) -> None:
    _drive(duty, steps, with_clock)


@settings(max_examples=300, deadline=None)
@given(st.lists(_step_with_cuts, max_size=300), st.sampled_from([1.0, 0.01, 0.1, 0.5]),
       st.booleans())  # fmt: skip
def test_giving_back_matches_the_scan(steps, duty, with_clock) -> None:
    """Bookings, releases of their unsent tails (a cut) and forgetting, interleaved: the
    index and the MAC queue answer as the scan does, bit for bit."""
    _drive(duty, steps, with_clock)


@settings(max_examples=60, deadline=None)
@given(st.lists(_step_with_cuts, min_size=200, max_size=600), st.sampled_from([1.0, 0.1]))
def test_giving_back_across_blocks_matches_the_scan(steps, duty) -> None:
    """Enough bookings to split blocks (small ones for the test): a release may empty a
    block, end one earlier or widen the gap before the next."""
    block = bookings._MAX
    bookings._MAX = 4
    try:
        _drive(duty, steps, with_clock=False)
        _drive(duty, steps, with_clock=True)
    finally:
        bookings._MAX = block


def test_a_release_splits_a_merged_interval_and_its_gap_is_found() -> None:
    gaps = bookings.GapIndex()
    for k in range(3):
        gaps.book(float(k), 1.0)  # touching: merged into [0, 3)
    assert gaps.intervals() == [(0.0, 3.0)]
    gaps.release(1.0, 2.0)
    assert gaps.intervals() == [(0.0, 1.0), (2.0, 3.0)]
    assert gaps.book(0.0, 1.0) == 1.0  # the released second is the first gap that fits
    with pytest.raises(ValueError, match="not booked"):
        gaps.release(5.0, 6.0)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(_time, _bits), min_size=200, max_size=600))
def test_many_blocks_match_the_scan(bookings_ahead) -> None:
    """Enough bookings to split blocks and search the tree (small blocks for the test)."""
    block = bookings._MAX
    bookings._MAX = 4
    try:
        steps = [("reserve", t, b) for t, b in bookings_ahead]
        _drive(1.0, steps, with_clock=False)
        clocked = [s for step in steps for s in (step, ("tick", 1.0, 0.0))]
        _drive(1.0, clocked, with_clock=True)
    finally:
        bookings._MAX = block


_SEGMENT = 1502 * 8.0  # bits; 8 bit/s transmitters: holds of 1502 s


@settings(max_examples=40, deadline=None)
@given(
    st.floats(0.0, 1e6, allow_nan=False),
    st.lists(st.tuples(st.integers(0, 300), st.integers(1, 4)), min_size=100, max_size=400),
)
def test_segment_sized_gaps_match_the_scan(base, windows) -> None:
    """Windows of whole segments at segment offsets from a large base time leave gaps
    that are one segment up to rounding: a hair short or exactly fitting."""
    block = bookings._MAX
    bookings._MAX = 4
    try:
        steps = [("reserve", base + k * 1502.0, n * _SEGMENT) for k, n in windows]
        _drive(1.0, steps, with_clock=False)
    finally:
        bookings._MAX = block


def test_a_booking_far_ahead_leaves_every_gap_before_it_searchable() -> None:
    tx = Transmitter("t", 8.0)
    for k in range(1000):  # 1 s bookings with 1 s gaps
        tx.reserve(2.0 * k, 8)
    assert tx.reserve(0.0, 8) == (1.0, 2.0)
    assert tx.reserve(0.0, 16) == (1999.0, 2001.0)  # no 2 s gap before the end
    assert len(tx._gaps) == 999


def _state(gaps: bookings.GapIndex) -> tuple:
    return (gaps._starts, gaps._ends, gaps._last, gaps._gap, gaps._tree, gaps._size)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_time, _time, _bits), max_size=120))
def test_booking_since_a_clock_is_forgetting_then_booking(steps) -> None:
    """`book_since` (a transmitter's every booking) leaves the very state, and gives the
    very start, of `forget` then `book`, also when it skips them (all forgotten)."""
    block = bookings._MAX
    bookings._MAX = 4
    try:
        fused, plain = bookings.GapIndex(), bookings.GapIndex()
        clock = 0.0
        for tick, ahead, bits in steps:
            clock += tick / 4
            start = clock + ahead
            plain.forget(clock)
            assert fused.book_since(clock, start, bits) == plain.book(start, bits)
            assert _state(fused) == _state(plain)
    finally:
        bookings._MAX = block


def _state(g: bookings.GapIndex) -> tuple:
    return g._starts, g._ends, g._last, g._gap, g._tree, g._size


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_time, _time, _bits), max_size=200))
def test_book_since_leaves_the_state_of_forget_then_book(steps) -> None:
    """`book_since`'s shortcuts (a booking after everything; everything ended: one
    interval set in place, reusing the lists) leave the index exactly as `forget` and
    `book` do, down to the blocks' rooms and the tree, so later searches agree."""
    fast, slow = bookings.GapIndex(), bookings.GapIndex()
    clock = 0.0
    for tick, ahead, bits in steps:
        clock += tick / 8
        start = clock + ahead
        hold = bits / 8
        slow.forget(clock)
        assert fast.book_since(clock, start, hold) == slow.book(start, hold)
        assert _state(fast) == _state(slow)
