"""Model bytes are bytes that went out: within a link's data and copies, a share of the wire.

links.csv `model_bytes` are the model bytes that went out on a link direction (a cut
takes back those it kept off the link with their wire bytes, `fedsim.net.model_spans`;
a CoAP datagram that died before a hop owes its model there to a copy sent again), so
they are among the payload its data segments and copies carried there: at most
`data_bytes + retx_bytes` (a copy's headers make that a bound, not an equality; a
segment whose first copy an earlier hop lost crosses this one only as a copy, in
`retx`, so `data` alone is not a bound past a lossy hop: a CoAP task block lost on the
backhaul reaches the device only as a copy). summary.json `overhead_share` = 1 - model
/ wire of the devices' first hops then lies in [0, 1]. Before, a cut took back a
download's unsent wire bytes but kept its model bytes: an outside review found a run
whose three devices lost their gateway mid-task with 173,160 model bytes down of
139,006 data bytes, and an overhead share of -0.040, where the TCP/IP headers and
control packets alone made 6.4 % of the wire.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from fedsim.audit import Violation, invariant
from fedsim.audit.rows import cell, link_row, number

__all__ = ["model_within_data", "overhead_share_bounded"]

WITHIN = "model-within-data"
SHARE = "overhead-share-bounded"


@invariant(
    WITHIN,
    "every links.csv row's `model_bytes` are at most its `data_bytes + retx_bytes` (the "
    "payload its first transmissions and copies carried), and so is every ledger.csv "
    "row's (a round's: what went out by its end): model bytes count where they went out "
    "on the link, so a cut that keeps a message's bytes off it takes back its model bytes "
    "with its data",
    needs=("links", "ledger"),
)
def model_within_data(result: Any) -> Iterator[Violation]:
    for row in result.links:
        model, data, retx = (int(number(row, f"{k}_bytes")) for k in ("model", "data", "retx"))
        if model > data + retx:
            yield Violation(
                WITHIN,
                f"{link_row(row)}: model_bytes {model} > data_bytes {data} + retx_bytes "
                f"{retx} (model counted that never went out on the link)",
            )
    for row in result.ledger:
        model, data, retx = (int(number(row, f"{k}_bytes")) for k in ("model", "data", "retx"))
        if model > data + retx:
            where = f"ledger.csv {cell(row, 'scope')} {cell(row, 'key')} {cell(row, 'direction')}"
            yield Violation(
                WITHIN, f"{where}: model_bytes {model} > data_bytes {data} + retx_bytes {retx}"
            )


@invariant(
    SHARE,
    "summary.json `overhead_share` (the share of the devices' first-hop wire bytes that is "
    "not model) lies in [0, 1]",
    needs=("summary", "ledger"),
)
def overhead_share_bounded(result: Any) -> Iterator[Violation]:
    share = result.summary.get("overhead_share")
    if share is None:
        return
    share = float(share)
    if not (math.isfinite(share) and 0.0 <= share <= 1.0):
        yield Violation(SHARE, f"summary.json overhead_share {share} is outside [0, 1]")
