"""The server's side of an exchange, whatever carries it (HTTP, CoAP, ...).

A transport front end (`fl.server` for HTTP, `fedsim.transports.coap_server`) parses
its own framing and calls these: register a client, the model envelope for a task,
accept an update. They decide what the engine sees and answer an HTTP-style status
with a reason, which each front end maps onto its own codes, so every transport
validates the same way and changes the engine the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fedsim.fl.acknowledged import upload_digest
from fedsim.fl.codec import EnvelopeError, decode, encode
from fedsim.fl.engine import Engine, TrainIns, UploadRejected
from fedsim.fl.messages import ClientInfo
from fedsim.fl.wire_schema import (
    RegisterRequest,
    WireError,
    check,
    check_upload_meta,
    config_key,
)

__all__ = ["Outcome", "accept_update", "register_client", "task_envelope", "upload_digest"]


@dataclass(frozen=True)
class Outcome:
    """An HTTP-style status (200 accepted) and why not; `late`: a refusal because the
    upload came too late to count (fedsim.fl.engine.UploadRejected), not because it
    was wrong."""

    status: int
    reason: str = ""
    late: bool = False

    @property
    def ok(self) -> bool:
        return self.status == 200


ACCEPTED = Outcome(200)
"""Every acceptance (an `Outcome` is frozen: one serves them all)."""


def register_client(engine: Engine, body: Any) -> tuple[Outcome, str | None]:
    """Register from a decoded JSON body; (outcome, the client id when accepted)."""
    try:
        req = check(RegisterRequest, body, "register")
    except WireError as exc:
        return Outcome(400, str(exc)), None
    engine.register(ClientInfo(req.client_id, req.num_examples, req.device))
    return ACCEPTED, req.client_id


def task_envelope(engine: Engine, ins: TrainIns, codec_down: str) -> bytes | None:
    """The model envelope for `ins` (None: the task expired meanwhile)."""
    current = engine.task_params(ins)
    if current is None:
        return None
    params, version = current
    key = config_key(ins.config)
    last = _LAST_TASK
    if (
        key is not None
        and last is not None
        and last[0] is params
        and last[1] == (version, ins.server_round, codec_down, key)
    ):
        return last[2]
    meta = {"round": ins.server_round, "version": version, "config": ins.config}
    body = encode(params, meta, codec=codec_down).body
    _remember_task((params, (version, ins.server_round, codec_down, key), body))
    return body


_LAST_TASK: tuple[np.ndarray, tuple[Any, ...], bytes] | None = None
"""The last task envelope made: (model, (version, round, codec, config's exact identity),
envelope). Every client of a round gets the same task, so it is encoded once a round,
not once a client. The model array is held, so its identity is not reused; engines
replace a deployed model, never change it in place (the version changes with it)."""


def _remember_task(entry: tuple[np.ndarray, tuple[Any, ...], bytes] | None) -> None:
    global _LAST_TASK
    _LAST_TASK = entry


def accept_update(engine: Engine, cid: str, server_round: int, body: bytes) -> Outcome:
    """Decode, check and submit one update that `cid` sent for `server_round`.
    Every refusal leaves the engine as it was, apart from recording the rejection.
    The very upload the engine already accepted from `cid` for `server_round` (its
    answer was lost, and it came again) is acknowledged as the first was, and changes
    nothing (`Engine.repeat`)."""
    digest = upload_digest(body)
    if engine.repeat(cid, server_round, digest):
        return ACCEPTED
    try:
        dec = decode(body, engine.params.size)
        # Every field bounded before arithmetic.
        meta_cid, meta_round, version, n, metrics = check_upload_meta(dec.meta)
        if meta_cid != cid or meta_round != server_round:
            raise EnvelopeError("envelope meta does not match the request headers")
    except (EnvelopeError, WireError) as exc:
        engine.note_rejected(cid, server_round, str(exc))
        return Outcome(400, str(exc))
    values = dec.values
    if dec.delta:
        base = engine.base_params(version)
        if base is None:
            moved_on = engine.precheck(cid, server_round)  # while the body came: too late
            if moved_on is not None:
                return Outcome(409, moved_on, late=True)
            reason = f"update is based on version {version}, which the server no longer holds"
            engine.note_rejected(cid, server_round, reason)
            return Outcome(409, reason)
        values = values + base
        if not np.isfinite(values).all():
            engine.note_rejected(cid, server_round, "model plus delta is not finite")
            return Outcome(400, "model plus delta is not finite")
    try:
        engine.submit(
            cid,
            server_round,
            version,
            n,
            values,
            {str(k): float(v) for k, v in metrics.items()},
            digest=digest,
        )
    except UploadRejected as exc:
        return Outcome(exc.status, exc.reason, exc.late)
    return ACCEPTED
