"""An FL device over CoAP: the HTTP client's training and encoding (fedsim.fl.client),
with registration, tasks and updates moved by CoAP (fedsim.transports.coap_api).

Per round a device observes the task resource (one small confirmable exchange),
waits silently for the notification that carries the envelope's first block,
fetches the rest with Block2, trains, and posts the update with Block1. Every
exchange is confirmable (RFC 7252 retransmission); a failed one (no ACK after
MAX_RETRANSMIT, a broken path, no link) leads to the same backoff as over HTTP,
and the next attempt starts over: a fresh observation, a fresh upload from
block 0, so an update never straddles an outage.
"""

from __future__ import annotations

import asyncio
import errno
import json
from collections.abc import Hashable
from typing import Any

import numpy as np

from fedsim.coap.blockwise import fetch_rest, post_blocks, szx_of
from fedsim.coap.endpoint import CoapError, DatagramSocket, Endpoint, Params
from fedsim.coap.message import (
    BLOCK2,
    CHANGED,
    CONTENT,
    GET,
    OBSERVE,
    URI_PATH,
    Message,
    block_value,
    uint,
)
from fedsim.fl.client import FLClient, _Finished, _Unknown
from fedsim.fl.codec import EnvelopeError, decode
from fedsim.transports.coap_api import FINISHED, NOT_FOUND, REGISTER, TASK, UPDATE

__all__ = ["CoapFLClient"]

Address = Hashable


class CoapFLClient(FLClient):
    """`FLClient` whose exchanges are CoAP over a datagram socket (module docstring)."""

    def __init__(
        self,
        client_id: str,
        socket: DatagramSocket,
        server: Address,
        *args: Any,
        block_size: int = 1024,
        coap: Params | None = None,
        coap_rng: np.random.Generator | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(client_id, f"coap://{server}", None, *args, **kwargs)  # type: ignore[arg-type]
        self.server = server
        self.endpoint = Endpoint(socket, coap_rng if coap_rng is not None else self.rng, coap)
        self.block_size = block_size
        self.szx = szx_of(block_size)
        self._breaks = 0
        self._broken = asyncio.Event()
        endpoint_error = socket.on_error

        def on_error(exc: OSError) -> None:
            self._breaks += 1
            self._broken.set()
            if endpoint_error is not None:
                endpoint_error(exc)

        socket.on_error = on_error

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set or the server says it is finished."""
        registered = False
        while not stop.is_set():
            try:
                if not registered:
                    await self._register_coap()
                    registered = True
                task = await self._next_task(stop)
                if task is None:
                    self._failures = 0
                    continue
                server_round = task[0]
                body = await self._update_for(*task)  # its upload broke off: the same bytes
                await self._upload_coap(body, server_round)
                self._unanswered = None
                self._failures = 0
            except _Unknown:
                registered = False
            except _Finished:
                break
            except (CoapError, TimeoutError, OSError, EnvelopeError) as exc:
                self._error(exc)
                self._state("idle")
                if self.link_up is not None and getattr(exc, "errno", None) == errno.ENETUNREACH:
                    await self._await_link(stop)
                await self._backoff()
        self._state("done")

    # -- exchanges ------------------------------------------------------------------------------
    async def _post(self, path: bytes, body: bytes, query: tuple[bytes, ...] = ()) -> Message:
        """POST with Block1; raises ConnectionResetError if the path broke meanwhile
        (the transfer starts over from block 0)."""
        breaks = self._breaks

        def unbroken() -> None:
            if self._breaks != breaks:
                raise ConnectionResetError(errno.ECONNRESET, "path broke during the transfer")

        return await post_blocks(
            self.endpoint, self.server, path, body, self.block_size, query, unbroken
        )

    async def _register_coap(self) -> None:
        payload = {
            "client_id": self.client_id,
            "num_examples": int(self.learner.num_examples),
            "device": self.device.name,
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        response = await self._post(REGISTER, body)
        if response.code != CHANGED:
            raise CoapError(f"registration answered {_fmt(response.code)}")

    async def _next_task(
        self, stop: asyncio.Event
    ) -> tuple[int, int, dict[str, Any], np.ndarray] | None:
        """Observe the task resource until a task arrives (None: re-register)."""
        self._state("idle")
        self._broken.clear()
        loop = asyncio.get_running_loop()
        note: asyncio.Future[Message] = loop.create_future()
        token = self.endpoint.new_token()

        def notified(msg: Message) -> None:
            if not note.done():
                note.set_result(msg)

        self.endpoint.observe(token, notified)
        try:
            options = [
                (OBSERVE, b""),
                (URI_PATH, TASK),
                (BLOCK2, uint(block_value(0, False, self.szx))),
            ]
            answer = await self.endpoint.request(self.server, GET, options, token=token)
            _raise_for(answer.code)
            if answer.code != CONTENT:
                raise CoapError(f"observe answered {_fmt(answer.code)}")
            halt = loop.create_task(stop.wait())
            broken = loop.create_task(self._broken.wait())
            await asyncio.wait(
                (note, halt, broken),
                timeout=self.poll_wait_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for waiter in (halt, broken):
                waiter.cancel()
            if not note.done():
                if self._broken.is_set():
                    raise ConnectionResetError(errno.ECONNRESET, "path broke while observing")
                return None
        finally:
            self.endpoint.forget(token)
        first = note.result()
        _raise_for(first.code)
        if first.code != CONTENT:
            return None
        self._state("downloading")
        envelope = await fetch_rest(
            self.endpoint, self.server, TASK, first, lambda m: _raise_for(m.code)
        )
        dec = decode(envelope)
        meta = dec.meta
        return int(meta["round"]), int(meta["version"]), dict(meta.get("config", {})), dec.values

    async def _upload_coap(self, body: bytes, server_round: int) -> None:
        self._state("uploading")
        response = await self._post(UPDATE, body, (f"r={server_round}".encode(),))
        if response.code == NOT_FOUND:
            raise _Unknown
        accepted = response.code == CHANGED
        self._answered(accepted)  # (a refused top-k update's entries back to the residual)
        if accepted:
            self._count_accepted(server_round, body)
        else:
            self._count_refused(late=False)  # (CoAP's 4.xx cannot say late)
        self._state("idle")


def _raise_for(code: int) -> None:
    if code == NOT_FOUND:
        raise _Unknown
    if code == FINISHED:
        raise _Finished


def _fmt(code: int) -> str:
    return f"{code >> 5}.{code & 31:02d}"
