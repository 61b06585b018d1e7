"""Bounds on what one request may cost the server: body size, read time, identities.

A request body is read through `read_bounded` only: at most `max_bytes`, within
`timeout_s` (a half-sent body cannot hold a handler), and checked against the
SHA-256 that an authenticated request signed (`BODY_DIGEST`), so an edited body
fails even when the headers are intact.
"""

from __future__ import annotations

import asyncio
import hashlib
from binascii import b2a_base64
from collections.abc import Callable

from aiohttp import web

__all__ = [
    "BODY_DIGEST",
    "REGISTER_MAX_BYTES",
    "Identities",
    "b64url",
    "body_digest",
    "read_bounded",
]

REGISTER_MAX_BYTES = 4096
BODY_READ_TIMEOUT_S = 30.0
BODY_DIGEST = web.RequestKey("fedsim.body_digest", str)
"""Request key: the body digest the request's signature covers (set by authentication)."""


def body_digest(body: bytes) -> str:
    """SHA-256 of a body truncated to 128 bits, unpadded base64url (what a signature
    covers; finding another body with the same value still takes ~2^128 work)."""
    return b64url(hashlib.sha256(body).digest()[:16])


def b64url(raw: bytes) -> str:
    """Unpadded base64url: `base64.urlsafe_b64encode(raw).rstrip(b"=")` as text, without
    its two Python frames (every request computes two or three)."""
    return b2a_base64(raw, newline=False).rstrip(b"=").translate(_URLSAFE).decode()


_URLSAFE = bytes.maketrans(b"+/", b"-_")


async def read_bounded(
    request: web.Request, max_bytes: int, timeout_s: float = BODY_READ_TIMEOUT_S
) -> bytes:
    """The body, or a 413 (too large), 408 (too slow) or 401 (not the signed body)."""
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise web.HTTPRequestEntityTooLarge(max_size=max_bytes, actual_size=declared)
    if request.content.is_eof():  # all of it has arrived: no timer, no task to read it
        body = await _read_at_most(request, max_bytes + 1)
    else:
        try:
            body = await asyncio.wait_for(_read_at_most(request, max_bytes + 1), timeout_s)
        except TimeoutError:
            reason = f"body not received within {timeout_s:g} s"
            raise web.HTTPRequestTimeout(reason=reason) from None
    if len(body) > max_bytes:
        raise web.HTTPRequestEntityTooLarge(max_size=max_bytes, actual_size=len(body))
    if declared is not None and len(body) != declared:
        raise web.HTTPBadRequest(reason="body shorter than its Content-Length")
    signed = request.get(BODY_DIGEST)
    if signed is not None and body_digest(body) != signed:
        raise web.HTTPUnauthorized(reason="the body is not the one the signature covers")
    return body


async def _read_at_most(request: web.Request, limit: int) -> bytes:
    buf = bytearray()
    while len(buf) < limit:
        chunk = await request.content.read(limit - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


class Identities:
    """One live process per identity: a second process registering as a device that
    was active within `quiet_s` is refused (409); a restarted device takes over once
    its old process has been quiet that long."""

    def __init__(self, quiet_s: float, clock: Callable[[], float] = _loop_time) -> None:
        self.quiet_s = quiet_s
        self.clock = clock
        self._owner: dict[str, tuple[str, float]] = {}

    def claim(self, client_id: str, instance: str) -> str | None:
        """Why `instance` may not be `client_id` now, or None (and it is, from now)."""
        now = self.clock()
        held = self._owner.get(client_id)
        other = held is not None and bool(instance) and held[0] not in ("", instance)
        if other and held is not None and now - held[1] < self.quiet_s:
            return (
                f"device {client_id!r} is already active from another process "
                f"(duplicate identity); retry after {self.quiet_s:g} s of quiet"
            )
        self._owner[client_id] = (instance, now)
        return None

    def seen(self, client_id: str) -> None:
        held = self._owner.get(client_id)
        if held is not None:
            self._owner[client_id] = (held[0], self.clock())
