"""Each client's last accepted upload, so the same upload sent again is known.

A device whose answer was lost sends the same bytes again; counting them twice (async:
aggregating one training twice) or refusing them (the device then counts rejected an
update that was stored) would both be wrong. Both engines keep this record.
"""

from __future__ import annotations

import hashlib

__all__ = ["Acknowledged", "upload_digest"]


def upload_digest(body: bytes) -> bytes:
    """What identifies an upload: a digest of its body bytes, as sent. A client whose
    answer was lost sends the same bytes again (fl.client `_update_for`); bytes are the
    exact test, need no decoding, and are the same after a restart of the server
    (journaled with the update). A retraining usually differs in its bytes (values,
    metrics, stochastic rounding), not always: full-batch training of the same task
    is deterministic and gives the same bytes again. Those are the same upload to the
    server, stored once, and so to the device (`FLClient` counts its acknowledgement
    once: `ClientStats.uploads_repeated`)."""
    return hashlib.sha256(body).digest()


class Acknowledged:
    """Client -> (round, digest of the body) of its last accepted upload, and how many
    resends of it were acknowledged again (`repeats`: in no count of updates)."""

    __slots__ = ("last", "repeats")

    def __init__(self) -> None:
        self.last: dict[str, tuple[int, bytes]] = {}
        self.repeats: dict[str, int] = {}

    def stored(self, client_id: str, server_round: int, digest: bytes) -> None:
        self.last[client_id] = (server_round, digest)

    def of_round(self, client_id: str, server_round: int) -> bool:
        """Whether its last accepted upload was for `server_round` (an upload for that
        round may be it again: only the body can tell)."""
        return self.last.get(client_id, (0,))[0] == server_round

    def again(self, client_id: str, server_round: int, digest: bytes) -> bool:
        """Whether this upload is the accepted one again; counted in `repeats` if so."""
        if not digest or self.last.get(client_id) != (server_round, digest):
            return False
        self.repeats[client_id] = self.repeats.get(client_id, 0) + 1
        return True
