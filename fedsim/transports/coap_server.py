"""The FL server over CoAP (fedsim.transports.coap_api): the same round engine and
the same validation (fedsim.fl.service) as the HTTP server, behind CoAP resources.

Instead of long polls, a client observes the task resource (RFC 7641): the server
polls the engine on the client's behalf while it is registered as an observer, and
when the engine hands it a task, sends a confirmable notification carrying the
envelope's first block (RFC 7959 section 2.6); the client fetches the rest with
Block2. An idle client costs nothing on the air. Updates arrive with Block1 and are
submitted when their last block is in.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from fedsim.coap.endpoint import DatagramSocket, Endpoint, Params, Reply
from fedsim.coap.message import (
    BLOCK1,
    BLOCK2,
    CHANGED,
    CONTENT,
    CONTINUE,
    GET,
    OBSERVE,
    POST,
    URI_QUERY,
    CoapFormatError,
    Message,
    block_value,
    code,
    parse_block,
    uint,
)
from fedsim.fl.engine import Engine
from fedsim.fl.service import accept_update, register_client, task_envelope
from fedsim.transports.coap_api import (
    BAD_REQUEST,
    CODE_FOR_STATUS,
    FINISHED,
    GONE_BLOCKS,
    NOT_FOUND,
    REGISTER,
    TASK,
    UPDATE,
)

__all__ = ["CoapFLServer"]

log = logging.getLogger(__name__)
Address = Hashable
TOO_LARGE = code(4, 13)


@dataclass
class _Body:
    """A request body arriving block by block (Block1)."""

    szx: int
    parts: list[bytes] = field(default_factory=list)
    size: int = 0
    query: dict[str, str] = field(default_factory=dict)


@dataclass
class _Observer:
    peer: Address
    token: bytes
    szx: int
    expires: float
    """A registration lasts one poll_wait, as a long poll does: a client that went
    silent (asleep, out of range) stops counting as available; one still there
    registers again (RFC 7641 section 3.3.1: re-registration when Max-Age ends)."""


class CoapFLServer:
    """CoAP resources around a round engine; `start` nothing: requests drive it."""

    def __init__(
        self,
        engine: Engine,
        socket: DatagramSocket,
        rng: np.random.Generator,
        *,
        params: Params | None = None,
        poll_wait_s: float = 30.0,
        codec_down: str = "float32",
        max_body_bytes: int | None = None,
    ) -> None:
        self.engine = engine
        self.endpoint = Endpoint(socket, rng, params, handler=self.handle)
        self.poll_wait_s = poll_wait_s
        self.codec_down = codec_down
        self.max_body = (
            max_body_bytes if max_body_bytes is not None else 8 * engine.params.nbytes + 65536
        )
        self.clients: dict[Address, str] = {}
        """Source address -> client id, bound at registration."""
        self.observers: dict[str, _Observer] = {}
        self.tasks: dict[str, bytes] = {}
        """Client -> the task envelope it is being served (Block2 reads from it)."""
        self.told_finished: set[str] = set()
        self._bodies: dict[tuple[Address, bytes], _Body] = {}
        self._serving: dict[str, asyncio.Task[None]] = {}
        self._sequence = 0

    # -- requests --------------------------------------------------------------------------
    def handle(self, msg: Message, peer: Address) -> Reply:
        path = msg.path.encode()
        try:
            if msg.code == POST and path in (REGISTER, UPDATE):
                body = self._collect(msg, peer)
                if isinstance(body, tuple):
                    return body  # 2.31 Continue, or an error
                if path == REGISTER:
                    return self._register(body, peer, msg)
                return self._update(body, peer, msg)
            if msg.code == GET and path == TASK:
                return self._task(msg, peer)
        except CoapFormatError:
            return BAD_REQUEST, (), b""
        return NOT_FOUND, (), b""

    def _collect(self, msg: Message, peer: Address) -> _Body | Reply:
        """Block1 (RFC 7959 section 2.5): the whole body, or what to answer this block."""
        block = msg.uint_option(BLOCK1)
        key = (peer, msg.path.encode())
        if block is None:
            return _Body(6, [msg.payload], len(msg.payload), _query(msg))
        num, more, szx = parse_block(block)
        if num == 0:
            self._bodies[key] = _Body(szx, query=_query(msg))
        body_ = self._bodies.get(key)
        if body_ is None or len(body_.parts) != num or body_.szx != szx:
            self._bodies.pop(key, None)
            return GONE_BLOCKS, (), b""
        if more and len(msg.payload) != 1 << (szx + 4):
            return BAD_REQUEST, (), b""
        body_.parts.append(msg.payload)
        body_.size += len(msg.payload)
        if body_.size > self.max_body:
            self._bodies.pop(key, None)
            return TOO_LARGE, (), b""
        echo = ((BLOCK1, uint(block_value(num, more, szx))),)
        if more:
            return CONTINUE, echo, b""
        del self._bodies[key]
        return body_

    def _register(self, body: _Body, peer: Address, msg: Message) -> Reply:
        try:
            data = json.loads(b"".join(body.parts))
        except ValueError:
            return BAD_REQUEST, (), b""
        outcome, cid = register_client(self.engine, data)
        if not outcome.ok or cid is None:
            return CODE_FOR_STATUS.get(outcome.status, BAD_REQUEST), (), b""
        self.clients[peer] = cid
        return CHANGED, _echo(msg), b""

    def _update(self, body: _Body, peer: Address, msg: Message) -> Reply:
        cid = self.clients.get(peer)
        if cid is None:
            return NOT_FOUND, (), b""
        try:
            server_round = int(body.query.get("r", ""))
        except ValueError:
            return BAD_REQUEST, (), b""
        stale = self.engine.precheck(cid, server_round)
        if stale is not None:
            return CODE_FOR_STATUS[409], (), b""
        outcome = accept_update(self.engine, cid, server_round, b"".join(body.parts))
        if not outcome.ok:
            return CODE_FOR_STATUS.get(outcome.status, code(5, 0)), (), b""
        return CHANGED, _echo(msg), b""

    def _task(self, msg: Message, peer: Address) -> Reply:
        cid = self.clients.get(peer)
        if cid is None:
            return NOT_FOUND, (), b""
        block = msg.uint_option(BLOCK2)
        num, _more, szx = parse_block(block) if block is not None else (0, False, 6)
        if msg.option(OBSERVE) is None:
            return self._block(cid, num, szx)
        if self.engine.finished:
            self.told_finished.add(cid)
            return FINISHED, (), b""
        loop = asyncio.get_running_loop()
        self.observers[cid] = _Observer(peer, msg.token, szx, loop.time() + self.poll_wait_s)
        if cid not in self._serving:
            self._serving[cid] = loop.create_task(self._serve(cid))
        return CONTENT, ((OBSERVE, uint(self._sequence)),), b""

    def _block(self, cid: str, num: int, szx: int) -> Reply:
        """One block of the task envelope the client was notified of (Block2)."""
        envelope = self.tasks.get(cid)
        size = 1 << (szx + 4)
        if envelope is None or num * size >= len(envelope):
            return NOT_FOUND, (), b""
        more = (num + 1) * size < len(envelope)
        chunk = envelope[num * size : (num + 1) * size]
        return CONTENT, ((BLOCK2, uint(block_value(num, more, szx))),), chunk

    # -- observation: the long poll on the server's side -------------------------------------
    async def _serve(self, cid: str) -> None:
        """Poll the engine for `cid` while it observes; notify the task when it comes."""
        engine = self.engine
        loop = asyncio.get_running_loop()
        try:
            while not engine.finished:
                left = self.observers[cid].expires - loop.time()
                if left <= 0:
                    return
                ins = await engine.poll(cid, left)
                if ins is None or engine.finished:
                    continue
                envelope = task_envelope(engine, ins, self.codec_down)
                if envelope is None:
                    continue
                self.tasks[cid] = envelope
                target = self.observers[cid]
                if await self._notify(target, envelope):
                    return
                if self.observers.get(cid) is target:
                    return  # lost: the client re-registers, and the engine sends it again
        finally:
            self._serving.pop(cid, None)

    async def _notify(self, target: _Observer, envelope: bytes) -> bool:
        self._sequence = (self._sequence + 1) & 0xFFFFFF
        size = 1 << (target.szx + 4)
        more = len(envelope) > size
        options = (
            (OBSERVE, uint(self._sequence)),
            (BLOCK2, uint(block_value(0, more, target.szx))),
        )
        return await self.endpoint.notify(
            target.peer, target.token, CONTENT, options, envelope[:size]
        )

    def close(self) -> None:
        for job in list(self._serving.values()):
            job.cancel()


def _query(msg: Message) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in msg.values(URI_QUERY):
        key, _, val = value.decode(errors="replace").partition("=")
        out[key] = val
    return out


def _echo(msg: Message) -> tuple[tuple[int, bytes], ...]:
    """The last Block1 option, echoed on the final response (RFC 7959 section 2.3)."""
    block = msg.option(BLOCK1)
    return () if block is None else ((BLOCK1, block),)
