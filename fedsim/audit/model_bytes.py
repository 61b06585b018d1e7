"""Model bytes reconcile with the updates, for every transport.

The byte ledger's `model_bytes` are counted by each transport's own meter of its
framing (HTTP heads, CoAP blocks, MQTT packets); a transport whose meter misses the
envelopes (model 0) or counts a retransmitted copy again (model inflated) would
otherwise go unnoticed, since the ledger still adds up. Here the count is checked
against what the FL side knows without any meter: one update envelope carries
`fedsim.fl.codec.payload_size(n, codec)` model bytes, every accepted update crossed
its device's access link once as model payload, and a device hands its transport at
most one envelope per upload it began (a broken path hands over part of one). So per
device, on its access link upward:

    accepted updates x size  <=  model_bytes  <=  uploads begun x size

Downward, every training began on a whole task envelope, so

    trainings x task size  <=  model_bytes

(no upper bound from the device's side: the sender's meter counts an envelope that a
reset cut before its first byte reached the device, which began no download), and a
device trains each task it was handed at most once: trainings <= the selections
in clients.csv (an MQTT device that trained a second copy of its task, and uploaded it
for a closed round, passed the upward check before this one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.audit.rows import cell, number

__all__ = ["model_bytes_match_updates"]

NAME = "model-bytes-match-updates"


@invariant(
    NAME,
    "per device, the model bytes up its access link (links.csv `model_bytes`) lie between its "
    "accepted updates and the uploads it began, each times one update envelope's encoded "
    "tensors (`fedsim.fl.codec.payload_size`), the model bytes down at least its trainings "
    "times one task envelope's, and it trained no more often than it was selected: a "
    "transport neither misses the model nor counts a retransmitted copy again, nor trains a "
    "duplicate task",
    needs=("evidence", "links", "clients"),
)
def model_bytes_match_updates(result: Any) -> Iterator[Violation]:
    ev = getattr(result, "evidence", None)
    size = getattr(ev, "update_model_bytes", None)
    if ev is None or size is None:
        return
    accepted = Counter(a.client for a in ev.accepted)
    began = ev.uploads
    access = {
        (str(cell(r, "a")), str(cell(r, "direction"))): int(number(r, "model_bytes"))
        for r in result.links
    }
    for row in result.clients:
        client = str(cell(row, "client"))
        yield from _downward(ev, row, client, access.get((client, "down")))
        have = access.get((client, "up"))
        if have is None:
            continue
        lo, hi = accepted[client] * size, began.get(client, 0) * size
        if not lo <= have <= hi:
            yield Violation(
                NAME,
                f"client {client}: model_bytes up {have} outside [{lo}, {hi}]: "
                f"{accepted[client]} accepted and {began.get(client, 0)} begun uploads "
                f"of {size} model bytes each",
            )


def _downward(ev: Any, row: Any, client: str, have: int | None) -> Iterator[Violation]:
    """The downlink's model bytes against the trainings, and the trainings against the
    selections (module docstring)."""
    trained = ev.trainings.get(client, 0)
    selected = int(number(row, "rounds_selected"))
    if trained > selected:
        yield Violation(
            NAME,
            f"client {client}: trained {trained} times but was selected {selected} times: "
            "it trained a task more than once (a duplicate copy of a task)",
        )
    size = ev.task_model_bytes
    if size is None or have is None:
        return
    if have < trained * size:
        yield Violation(
            NAME,
            f"client {client}: model_bytes down {have} below {trained * size}: "
            f"{trained} trainings, each on a task of {size} model bytes",
        )
