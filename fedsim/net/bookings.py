"""Ordered indexes behind `Transmitter` bookings: no operation scans every booking.

`GapIndex` holds a medium's busy intervals (disjoint, sorted, touching ones merged)
in blocks of at most `_MAX` intervals. Each block knows its last end (to find where
a time falls, by bisection) and the longest idle gap before any of its intervals; a
max tree over the blocks finds the first block with a long enough gap in O(log n),
so a booking costs O(log n + block) however many bookings other channels made
ahead of the clock. Forgetting drops whole blocks from the front (amortised O(1)).
Releasing (a cut took a booking's unsent tail back) makes part of one interval idle
again: it only makes or widens gaps, so the rooms are raised, never recomputed.

`ReadyFrontier` answers a duty-cycled radio's MAC-queue question (the latest end
among bookings ready by t) from the bookings no earlier-ready booking outlasts,
a staircase increasing in both ready time and end: one bisection per query. A release
rebuilds it from the radio's live bookings (`Transmitter.give_back`).

Both give exactly the answers of the scans they replace (kept in
`tests/booking_reference.py` and compared in `tests/test_booking_index.py`).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable
from itertools import compress, count, repeat
from math import nextafter
from operator import ge, sub

__all__ = ["GapIndex", "ReadyFrontier"]

_MAX = 64
"""Intervals per block before it splits in two."""
_NONE = -math.inf
"""The gap before the very first interval: never searched (see `GapIndex.book`)."""
_SLACK = 1e-15
"""A hold h fits a gap [e, s) (e + h <= s in floats) only if h <= (s - e) + _SLACK *
(|s| + |e|): rounding moves each of the two results by at most 2^-53 of |s| + |e|."""


class GapIndex:
    """Busy intervals of one transmitter, with first-fit gap search."""

    __slots__ = ("_ends", "_gap", "_last", "_size", "_starts", "_tree")

    def __init__(self) -> None:
        self._starts: list[list[float]] = []
        self._ends: list[list[float]] = []
        self._last: list[float] = []
        """Last end of each block (sorted: the intervals are disjoint)."""
        self._gap: list[float] = []
        """Per block: longest gap before one of its intervals (the first one's from the
        previous block's last end)."""
        self._tree: list[float] = [_NONE, _NONE]
        self._size = 1

    def __len__(self) -> int:
        return sum(map(len, self._starts))

    def intervals(self) -> list[tuple[float, float]]:
        """All intervals in order (for tests and debugging)."""
        pairs = zip(self._starts, self._ends, strict=True)
        return [(s, e) for S, E in pairs for s, e in zip(S, E, strict=True)]

    # -- the booking ---------------------------------------------------------------------
    def book(self, start: float, hold: float) -> float:
        """Book `hold` seconds at the first gap from `start` that fits; return its start.

        The same answer, bit for bit, as walking the intervals from the first one that
        ends after `start`: a collision moves the start to that interval's end."""
        starts, ends, last = self._starts, self._ends, self._last
        b = bisect_right(last, start)
        if b == len(last):  # nothing ends after start
            if last:
                self._append(start, start + hold)
            else:
                self._insert(-1, 0, start, start + hold)
            return start
        S, E = starts[b], ends[b]
        k = bisect_right(E, start)
        if start + hold <= S[k]:
            self._insert(b, k, start, start + hold)
            return start
        if k == len(S) - 1 and b == len(last) - 1:
            # It collides with the very last interval (a queue on a busy shared link): no
            # gap after it. b's room stays as it is: a bound, tightened by a search that
            # finds no gap in b (a queue would rescan b for every booking in it).
            e = E[k]
            self._append(e, e + hold)
            return e
        # From here a booking starts at some interval's end: scan gaps after k. A gap
        # that fits (e + hold <= s) is at least `need` as computed (s - e): blocks are
        # skipped by their room, gaps by `need`, and the exact test decides.
        tol = 1e-12 * (abs(starts[0][0]) + abs(last[-1]) + abs(hold) + 1.0)
        need = hold - tol
        hit = None
        if self._gap[b] >= hold:
            hit = self._fit_in(b, k + 1, hold, need)
            if hit is None:
                self._tighten(b)
        while hit is None:
            b = self._first_block(b + 1, hold)
            if b < 0:
                e = ends[-1][-1]
                self._append(e, e + hold)
                return e
            hit = self._fit_in(b, 0, hold, need)
            if hit is None:  # no gap of b fits `hold`, so none fits more
                self._tighten(b, nextafter(hold, -math.inf))
        k, e = hit
        self._insert(b, k, e, e + hold)
        return e

    def _fit_in(self, b: int, k: int, hold: float, need: float) -> tuple[int, float] | None:
        """First interval at or after k in block b whose gap before it fits `hold`:
        (its index, the previous interval's end). Gaps shorter than `need` as computed
        cannot fit; the others are tested exactly."""
        S, E = self._starts[b], self._ends[b]
        if k == 0:  # only blocks after the first: the gap from the previous block
            prev = self._ends[b - 1][-1]
            if prev + hold <= S[0]:
                return 0, prev
            k = 1
        n = len(S)
        while k < n:
            long_enough = map(ge, map(sub, S[k:], E[k - 1 :]), repeat(need))
            k = next(compress(count(k), long_enough), n)
            if k < n:
                prev = E[k - 1]
                if prev + hold <= S[k]:
                    return k, prev
                k += 1
        return None

    def _append(self, start: float, stop: float) -> None:
        """`_insert` after the last interval (the common case: a booking later than every
        other), without its neighbour search."""
        b = len(self._starts) - 1
        S, E = self._starts[b], self._ends[b]
        k = len(S) - 1
        if E[k] == start:  # touches the last interval: extend it
            E[k] = stop
            if k:
                self._raise(b, S[k], E[k - 1])
            elif b:
                self._raise(b, S[0], self._ends[b - 1][-1])
            self._last[b] = stop
            return
        S.append(start)
        E.append(stop)
        self._raise(b, start, E[k])
        self._last[b] = stop
        if k + 1 >= _MAX:
            self._split(b)

    def _insert(self, b: int, k: int, start: float, stop: float) -> None:
        """Put [start, stop) before interval k of block b, merging touching neighbours
        as the flat list did (forgetting depends on the merged shape)."""
        starts, ends = self._starts, self._ends
        if b < 0:  # empty
            starts.append([start])
            ends.append([stop])
            self._last.append(stop)
            self._gap.append(_NONE)
            self._tree, self._size = [_NONE, _NONE], 1  # `_rebuild_tree` of one block
            return
        if k > 0:
            pb, pk = b, k - 1
        elif b > 0:
            pb, pk = b - 1, len(starts[b - 1]) - 1
        else:
            pb = pk = -1
        if k < len(starts[b]):
            nb, nk = b, k
        elif b + 1 < len(starts):
            nb, nk = b + 1, 0
        else:
            nb = nk = -1
        if pb >= 0 and ends[pb][pk] == start:
            ends[pb][pk] = stop
            if nb >= 0 and starts[nb][nk] == stop:
                ends[pb][pk] = ends[nb][nk]
                del starts[nb][nk], ends[nb][nk]
                if not starts[nb]:
                    self._drop_block(nb)
            self._changed(pb, pk)
        elif nb >= 0 and starts[nb][nk] == stop:
            starts[nb][nk] = start
            self._changed(nb, nk)
        else:
            starts[b].insert(k, start)
            ends[b].insert(k, stop)
            self._changed(b, k)
            if len(starts[b]) > _MAX:
                self._split(b)

    def book_since(self, t: float, start: float, hold: float) -> float:
        """`forget(t)`, then `book(start, hold)`. When everything booked ends by t (a
        device's own link between its exchanges) the result is one interval, set
        directly: the state `forget` and `book` leave, without emptying and refilling."""
        last = self._last
        if last and last[-1] > t:
            if self._ends[0][0] <= t:
                self.forget(t)
            if start >= last[-1]:  # `book`'s first case: after everything (a shared link)
                self._append(start, start + hold)
                return start
            return self.book(start, hold)
        if len(last) == 1 and self._size == 1:  # one block, a tree of two: reuse the lists
            S, E = self._starts[0], self._ends[0]
            if len(S) > 1:
                del S[1:], E[1:]
            S[0] = start
            E[0] = last[0] = start + hold
            self._gap[0] = self._tree[1] = _NONE
            return start
        self._starts = [[start]]
        self._ends = [[start + hold]]
        self._last = [start + hold]
        self._gap = [_NONE]
        self._tree, self._size = [_NONE, _NONE], 1
        return start

    # -- releasing -----------------------------------------------------------------------
    def release(self, start: float, stop: float) -> None:
        """Make [start, stop) idle again: the part of one booking that will not be used
        (a cut took its frames back). It lies inside one interval (bookings are disjoint,
        touching ones merged, so a release may split an interval in two). Releasing only
        makes or widens gaps: the rooms are raised, as a booking's new gaps raise them."""
        if stop <= start:
            return
        last = self._last
        b = bisect_right(last, start)
        if b == len(last):
            raise ValueError(f"release of [{start!r}, {stop!r}), which is not booked")
        S, E = self._starts[b], self._ends[b]
        k = bisect_right(E, start)
        lo, hi = S[k], E[k]
        if lo > start or hi < stop:
            raise ValueError(f"release of [{start!r}, {stop!r}), which is not booked")
        if lo < start and stop < hi:  # from inside: split in two
            E[k] = start
            S.insert(k + 1, stop)
            E.insert(k + 1, hi)
            self._raise(b, stop, start)
            if len(S) > _MAX:
                self._split(b)
        elif lo < start:  # its end
            E[k] = start
            if k + 1 < len(S):
                self._raise(b, S[k + 1], start)
            else:
                self._ended(b)
        elif stop < hi:  # its start
            S[k] = stop
            self._widened(b, k)
        else:  # all of it
            del S[k], E[k]
            if not S:
                self._drop_block(b)
                if b < len(last):
                    self._widened(b, 0)
            elif k == len(S):
                self._ended(b)
            else:
                self._widened(b, k)

    def _widened(self, b: int, k: int) -> None:
        """The gap before interval k of block b widened (its start moved, or the
        interval before it ended earlier or went)."""
        if k:
            E = self._ends[b]
            self._raise(b, self._starts[b][k], E[k - 1])
        elif b:
            self._raise(b, self._starts[b][0], self._ends[b - 1][-1])

    def _ended(self, b: int) -> None:
        """Block b's last interval now ends earlier: its last end, the next block's gap."""
        e = self._ends[b][-1]
        self._last[b] = e
        if b + 1 < len(self._last):
            self._raise(b + 1, self._starts[b + 1][0], e)

    # -- forgetting ----------------------------------------------------------------------
    def forget(self, t: float) -> None:
        """Drop the intervals that end at or before t (a prefix)."""
        last = self._last
        if not last or self._ends[0][0] > t:
            return
        d = bisect_right(last, t)
        if d == len(last):  # all of it (`_rebuild_tree` of no block)
            self._starts.clear()
            self._ends.clear()
            last.clear()
            self._gap.clear()
            self._tree, self._size = [_NONE, _NONE], 1
            return
        if d:
            del self._starts[:d], self._ends[:d], last[:d], self._gap[:d]
            self._rebuild_tree()
            if not last:
                return
        k = bisect_right(self._ends[0], t)
        if k:
            del self._starts[0][:k], self._ends[0][:k]

    # -- block bookkeeping ---------------------------------------------------------------
    # A block's `_gap` is its room: an upper bound of the holds that fit one of its
    # gaps (the computed gap plus rounding slack). A booking only splits or shortens
    # gaps and forgetting only removes them, so a bound stays one; new gaps raise it.
    # A search that finds nothing in a block tightens it, below the hold searched for
    # when it covered the whole block (gaps a hair short of a segment stop being found
    # again and again).
    def _room(self, b: int) -> float:
        S, E = self._starts[b], self._ends[b]
        g = max(map(sub, S[1:], E), default=_NONE)
        lo = S[0]
        if b:
            lo = self._ends[b - 1][-1]
            first = S[0] - lo
            if first > g:
                g = first
        return g + _SLACK * (abs(lo) + abs(E[-1]))

    def _raise(self, b: int, s: float, e: float) -> None:
        g = s - e + _SLACK * (abs(s) + abs(e))
        if g > self._gap[b]:
            self._gap[b] = g
            self._set_leaf(b)

    def _changed(self, b: int, k: int) -> None:
        """Interval k of block b is new or changed: its last end, and the gaps before it
        and before the next interval."""
        S, E = self._starts[b], self._ends[b]
        if k:
            self._raise(b, S[k], E[k - 1])
        elif b:
            self._raise(b, S[0], self._ends[b - 1][-1])
        if k + 1 < len(S):
            self._raise(b, S[k + 1], E[k])
        else:
            self._last[b] = E[k]
            if b + 1 < len(self._starts):
                self._raise(b + 1, self._starts[b + 1][0], E[k])

    def _tighten(self, b: int, below: float = math.inf) -> None:
        room = self._room(b)
        self._gap[b] = room if room < below else below
        self._set_leaf(b)

    def _split(self, b: int) -> None:
        S, E = self._starts[b], self._ends[b]
        h = len(S) // 2
        self._starts[b + 1 : b + 1] = [S[h:]]
        self._ends[b + 1 : b + 1] = [E[h:]]
        del S[h:], E[h:]
        self._last[b : b + 1] = [E[-1], self._ends[b + 1][-1]]
        self._gap[b : b + 1] = [self._room(b), _NONE]
        self._gap[b + 1] = self._room(b + 1)
        self._rebuild_tree()

    def _drop_block(self, b: int) -> None:
        del self._starts[b], self._ends[b], self._last[b], self._gap[b]
        self._rebuild_tree()

    # -- max tree over the blocks' gaps --------------------------------------------------
    def _rebuild_tree(self) -> None:
        n = len(self._gap)
        size = 1
        while size < n:
            size *= 2
        tree = [_NONE] * (2 * size)
        tree[size : size + n] = self._gap
        for i in range(size - 1, 0, -1):
            a, c = tree[2 * i], tree[2 * i + 1]
            tree[i] = a if a > c else c
        self._tree, self._size = tree, size

    def _set_leaf(self, b: int) -> None:
        tree = self._tree
        i = b + self._size
        tree[i] = self._gap[b]
        i >>= 1
        while i:
            a, c = tree[2 * i], tree[2 * i + 1]
            m = a if a > c else c
            if tree[i] == m:
                return
            tree[i] = m
            i >>= 1

    def _first_block(self, lo: int, need: float) -> int:
        """The first block at or after lo whose room is at least `need`, or -1."""
        tree, size = self._tree, self._size
        if lo >= len(self._gap):
            return -1
        i = lo + size
        while tree[i] < need:
            while i & 1:  # a right child: the next subtree starts higher up
                i >>= 1
            if i == 0:
                return -1
            i += 1
        while i < size:
            i *= 2
            if tree[i] < need:
                i += 1
        b = i - size
        return b if b < len(self._gap) else -1


class ReadyFrontier:
    """(ready time, end) of a duty-cycled radio's bookings, reduced to those no booking
    ready no later ends after: the latest end among bookings ready by t is one bisection."""

    __slots__ = ("_ends", "_ready")

    def __init__(self) -> None:
        self._ready: list[float] = []
        self._ends: list[float] = []

    def __len__(self) -> int:
        return len(self._ready)

    def add(self, ready: float, end: float) -> None:
        r, e = self._ready, self._ends
        k = bisect_right(r, ready)
        if k and e[k - 1] >= end:
            return  # an earlier-ready booking already ends as late
        j = bisect_right(e, end, k)  # later-ready bookings that end no later: dominated
        r[k:j] = [ready]
        e[k:j] = [end]

    def rebuild(self, bookings: Iterable[tuple[float, float]]) -> None:
        """Start again from (ready time, end) pairs: a released booking ends earlier
        than the staircase remembers, or not at all."""
        self._ready.clear()
        self._ends.clear()
        for ready, end in bookings:
            self.add(ready, end)

    def queued_until(self, now: float) -> float:
        """The latest end among bookings ready by `now`, or `now`."""
        k = bisect_right(self._ready, now)
        if k:
            e = self._ends[k - 1]
            if e > now:
                return e
        return now

    def forget(self, t: float) -> None:
        """Drop bookings that end at or before t (they can no longer delay a frame ready
        at or after t)."""
        j = bisect_right(self._ends, t)
        if j:
            del self._ready[:j], self._ends[:j]
