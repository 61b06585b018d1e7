"""Which CoAP payload bytes are model, for the byte ledger: per message, never per byte.

A model envelope (`fedsim.fl.codec`) travels whole in one message or block by block
(RFC 7959). A block's offset is NUM x its size; block 0 starts with the envelope's own
header, whose length it names, and everything after that header is model (the header
and every non-envelope payload are protocol), as `fedsim.net.http_bytes` counts HTTP.
"""

from __future__ import annotations

import struct

from fedsim.coap.message import BLOCK1, BLOCK2, CoapFormatError, decode, parse_block
from fedsim.fl.codec import MAGIC

__all__ = ["CoapModelBytes"]

_ENVELOPE_HEAD = struct.Struct("<4sI")


class CoapModelBytes:
    """The model bytes of each datagram a device or the server sends. NSTART = 1: one
    transfer at a time per device and direction, so that is the key."""

    def __init__(self) -> None:
        self._header_end: dict[tuple[str, int], int | None] = {}

    def count(self, device: str, direction: int, data: bytes) -> int:
        try:
            msg = decode(data)
        except CoapFormatError:
            return 0
        payload = msg.payload
        if not payload:
            return 0
        block = msg.uint_option(BLOCK1 if msg.is_request else BLOCK2)
        offset = 0
        if block is not None:
            try:
                num, _more, szx = parse_block(block)
            except CoapFormatError:
                return 0
            offset = num << (szx + 4)
        key = (device, direction)
        if offset == 0:
            envelope = payload.startswith(MAGIC) and len(payload) >= _ENVELOPE_HEAD.size
            self._header_end[key] = (
                _ENVELOPE_HEAD.size + _ENVELOPE_HEAD.unpack_from(payload)[1] if envelope else None
            )
        end = self._header_end.get(key)
        if end is None:
            return 0
        return max(0, offset + len(payload) - max(offset, end))
