"""Which bytes of a TCP channel's stream are model, so a cut takes back the model among
what never went out.

The byte ledger's `model_bytes` on a link direction are the model bytes (encoded
tensors of envelopes) that went out on that link. The transport tells a channel, per
write, how many of its bytes are model (`Channel.count_model`), and the channel counts
them on every hop at once, as it counts the payload; a cut then takes back, per hop,
the bytes its channel had booked or queued there but never sent (`fedsim.net.link.
take_back`). Before, it took back their wire bytes but kept their model bytes: a task
download cut half-way counted a whole model on a link that carried half of one, and
`overhead_share` = 1 - model / wire went negative (outside review 3).

A channel's stream per direction is the concatenation of its writes; what a cut leaves
unsent on a hop is the stream's last bytes (TCP sends in order: the first copy of a
later byte never leaves before that of an earlier one). Within a write, the model bytes
are taken to be its last ones: an HTTP message is its head, the envelope's own header,
then the tensors; an MQTT PUBLISH its fixed header, topic, packet id, envelope header,
then the tensors. That is exact for those; a chunked HTTP body ends with a few bytes of
chunk framing after its tensors, which the cut may misplace by those few bytes. The
model a cut keeps on a hop is thus the model among the bytes that went out, so it never
exceeds them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence

from fedsim.net.link import Booking, LinkCounters, unsent

__all__ = ["ModelSpans", "model_unsent", "unsent_payload"]


_NONE: list[int] = []
"""Shared by every `ModelSpans` without a span yet (never appended to)."""


class ModelSpans:
    """One direction of one channel: the stream's length and where its model bytes lie."""

    __slots__ = ("_before", "_ends", "_starts", "sent")

    def __init__(self) -> None:
        self.sent = 0
        """Bytes handed to the channel in this direction (its payload; the channel adds
        each write's)."""
        self._starts: list[int] = _NONE  # (lists at the first span: most channels
        self._ends: list[int] = _NONE  # carry no model, two per live connection)
        self._before: list[int] = _NONE
        """Per span, the model bytes of the spans before it."""

    def mark(self, nbytes: int) -> None:
        """Of the write just handed over, the last `nbytes` are model."""
        end = self.sent
        start = max(end - nbytes, self._ends[-1] if self._ends else 0)
        if start >= end:
            return
        if self._starts is _NONE:
            self._starts, self._ends, self._before = [], [], []
        self._before.append(self.total)
        self._starts.append(start)
        self._ends.append(end)

    @property
    def total(self) -> int:
        """Model bytes handed over."""
        if not self._ends:
            return 0
        return self._before[-1] + self._ends[-1] - self._starts[-1]

    def within(self, k: int) -> int:
        """Model bytes among the stream's first `k` bytes."""
        i = bisect_right(self._starts, k) - 1
        if i < 0:
            return 0
        return self._before[i] + min(k, self._ends[i]) - self._starts[i]

    def after(self, k: int) -> int:
        """Model bytes from the stream's byte `k` on (those a cut at `k` leaves unsent)."""
        return self.total - self.within(max(0, k))


def unsent_payload(bookings: Iterable[Booking], t: float) -> dict[int, int]:
    """Per counters (by id), the data bytes (first transmissions) of `bookings` not sent
    by `t`: the stream bytes a cut at `t` keeps off that hop. A copy sent again that the
    cut keeps off carries bytes whose first copy went out there already (or, past a hop
    that lost it, never reached it: those stay counted, as their payload does)."""
    out: dict[int, int] = {}
    for booking in bookings:
        got = unsent(booking, t)
        if got is not None and got[3][0]:
            key = id(got[0])
            out[key] = out.get(key, 0) + got[3][0]
    return out


def model_unsent(
    spans: ModelSpans, counters: Sequence[LinkCounters], unsent_by_hop: Sequence[int]
) -> Iterator[tuple[LinkCounters, int]]:
    """On each hop of one direction (its `counters`), the model among the stream's last
    `unsent_by_hop[i]` bytes, which had not gone out there: what a cut then takes back,
    and what a round ending then leaves to a later one (`fedsim.record.ledger`)."""
    if not spans.total:
        return
    for c, u in zip(counters, unsent_by_hop, strict=True):
        if u > 0:
            model = spans.after(spans.sent - u)
            if model:
                yield c, model
