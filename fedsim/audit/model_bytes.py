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
    "tensors (`fedsim.fl.codec.payload_size`): a transport neither misses the model nor "
    "counts a retransmitted copy again",
)
def model_bytes_match_updates(result: Any) -> Iterator[Violation]:
    ev = getattr(result, "evidence", None)
    size = getattr(ev, "update_model_bytes", None)
    if ev is None or size is None:
        return
    accepted = Counter(a.client for a in ev.accepted)
    began = ev.uploads
    access = {
        str(cell(r, "a")): int(number(r, "model_bytes"))
        for r in result.links
        if str(cell(r, "direction")) == "up"
    }
    for row in result.clients:
        client = str(cell(row, "client"))
        have = access.get(client)
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
