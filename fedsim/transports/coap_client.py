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

from fedsim.coap.endpoint import CoapError, DatagramSocket, Endpoint, Params
from fedsim.coap.message import (
    BLOCK1,
    BLOCK2,
    CHANGED,
    CONTENT,
    CONTINUE,
    GET,
    OBSERVE,
    POST,
    URI_PATH,
    URI_QUERY,
    Message,
    block_value,
    parse_block,
    uint,
)
from fedsim.fl.client import FLClient, _Finished, _Unknown
from fedsim.fl.codec import EnvelopeError, decode
from fedsim.transports.coap_api import FINISHED, NOT_FOUND, REGISTER, TASK, UPDATE, szx_of

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
                body = await self._train_and_encode(*task)
                await self._upload_coap(body, server_round)
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
        """POST `body` with Block1 (RFC 7959), block by block; the final response.
        Raises ConnectionResetError if the path broke meanwhile (start over)."""
        size = self.block_size
        count = max(1, -(-len(body) // size))
        breaks = self._breaks
        response: Message | None = None
        for num in range(count):
            more = num < count - 1
            options = [(URI_PATH, path), (BLOCK1, uint(block_value(num, more, self.szx)))]
            if num == 0:
                options.extend((URI_QUERY, q) for q in query)
            response = await self.endpoint.request(
                self.server, POST, options, body[num * size : (num + 1) * size]
            )
            if self._breaks != breaks:
                raise ConnectionResetError(errno.ECONNRESET, "path broke during the upload")
            if more and response.code != CONTINUE:
                return response
        assert response is not None
        return response

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
        envelope = await self._rest_of(first)
        dec = decode(envelope)
        meta = dec.meta
        return int(meta["round"]), int(meta["version"]), dict(meta.get("config", {})), dec.values

    async def _rest_of(self, first: Message) -> bytes:
        """The notified envelope: its first block, then Block2 GETs for the rest."""
        parts = [first.payload]
        block = first.uint_option(BLOCK2)
        num, more, szx = parse_block(block) if block is not None else (0, False, self.szx)
        while more:
            num += 1
            options = [(URI_PATH, TASK), (BLOCK2, uint(block_value(num, False, szx)))]
            answer = await self.endpoint.request(self.server, GET, options)
            _raise_for(answer.code)
            got = answer.uint_option(BLOCK2)
            if answer.code != CONTENT or got is None or parse_block(got)[0] != num:
                raise CoapError(f"block {num} answered {_fmt(answer.code)}")
            parts.append(answer.payload)
            more = parse_block(got)[1]
        return b"".join(parts)

    async def _upload_coap(self, body: bytes, server_round: int) -> None:
        self._state("uploading")
        response = await self._post(UPDATE, body, (f"r={server_round}".encode(),))
        if response.code == NOT_FOUND:
            raise _Unknown
        if response.code == CHANGED:
            self.stats.uploads_accepted += 1
        else:
            self.stats.uploads_rejected += 1
        self._state("idle")


def _raise_for(code: int) -> None:
    if code == NOT_FOUND:
        raise _Unknown
    if code == FINISHED:
        raise _Finished


def _fmt(code: int) -> str:
    return f"{code >> 5}.{code & 31:02d}"
